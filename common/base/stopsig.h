/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_STOPSIG_H
#define USBWS_STOPSIG_H
/*
 * How both programs stop: SIGINT and SIGTERM set a flag the event loops
 * poll, so a node unexports and gives its device back, and the proxy
 * detaches its vhci ports, before exiting.  SIGPIPE is ignored: a peer
 * that vanishes must be an error to handle (EPIPE), not death with a
 * device still bound to usbip-host.
 */
#include <signal.h>

/* Installs the handlers; returns the flag they set. */
volatile sig_atomic_t *stopsig_install(void);

/* The proxy's SIGHUP: sets the flag returned, which its loop polls to
 * reread what it was told to reread (--ca, --crl).  Only a program that
 * polls it installs it: elsewhere SIGHUP still ends the program. */
volatile sig_atomic_t *stopsig_install_reload(void);

#endif
