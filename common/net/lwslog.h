/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_LWSLOG_H
#define USBWS_LWSLOG_H

/* Sends libwebsockets' own errors and warnings through our log, so a TLS
 * failure that lws detects shows up as one line like ours. */
void lwslog_init(int verbose, unsigned int threads);

#endif
