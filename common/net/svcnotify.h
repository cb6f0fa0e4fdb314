/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_SVCNOTIFY_H
#define USBWS_SVCNOTIFY_H

/*
 * systemd's service notifications (sd_notify(3), through libsystemd):
 * readiness, a one-line status and the watchdog of a Type=notify unit.
 * Outside systemd (no NOTIFY_SOCKET) each call does nothing, cheaply.
 */
#include <stdint.h>

/* Reads the environment once; a child that must not speak for its
 * parent's unit calls svcnotify_forget() instead, which clears it. */
void svcnotify_init(void);
void svcnotify_forget(void);

/* READY=1, once: later calls do nothing. */
void svcnotify_ready(void);
/* STATUS=..., sent only when it differs from the last one. */
void svcnotify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Half of WatchdogSec=, in ms, or 0 when the unit has no watchdog. */
int64_t svcnotify_watchdog_interval_ms(void);
/* WATCHDOG=1, at most once an interval: call it at every turn of a loop
 * that is alive. */
void svcnotify_watchdog(void);
/* Around a call that may block longer than the watchdog allows (a node's
 * dial: DNS, each address, a CONNECT proxy, TLS): feeds it and lengthens
 * WatchdogSec by extra_ms, then feeds it and puts it back. */
void svcnotify_watchdog_stretch(int64_t extra_ms);
void svcnotify_watchdog_restore(void);
/* STOPPING=1: the service is shutting down on purpose. */
void svcnotify_stopping(void);

#endif
