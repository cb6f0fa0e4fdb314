/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "net/svcnotify.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "base/monoclock.h"

#define SVCNOTIFY_STATUS_MAX 200

static int svcnotify_active;
static int svcnotify_readied;
static uint64_t svcnotify_watchdog_usec;
static int64_t svcnotify_fed_ms; /* the watchdog was last fed (one thread feeds it) */
static char svcnotify_last_status[sizeof("STATUS=") + SVCNOTIFY_STATUS_MAX];
/* the proxy's threads may report; one message at a time keeps "last
 * status" true */
static pthread_mutex_t svcnotify_lock = PTHREAD_MUTEX_INITIALIZER;

void svcnotify_init(void)
{
	uint64_t usec = 0;

	svcnotify_active = getenv("NOTIFY_SOCKET") != NULL;
	/* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is us */
	svcnotify_watchdog_usec = sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}

void svcnotify_forget(void)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	svcnotify_active = 0;
	svcnotify_watchdog_usec = 0;
}

static void send_state(const char *state)
{
	if (svcnotify_active)
		sd_notify(0, state);
}

void svcnotify_ready(void)
{
	pthread_mutex_lock(&svcnotify_lock);
	if (!svcnotify_readied) {
		svcnotify_readied = 1;
		send_state("READY=1");
	}
	pthread_mutex_unlock(&svcnotify_lock);
}

void svcnotify_status(const char *fmt, ...)
{
	char state[sizeof("STATUS=") + SVCNOTIFY_STATUS_MAX];
	va_list ap;

	if (!svcnotify_active)
		return;
	strcpy(state, "STATUS=");
	va_start(ap, fmt);
	vsnprintf(state + 7, SVCNOTIFY_STATUS_MAX, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&svcnotify_lock);
	if (strcmp(state, svcnotify_last_status) != 0) {
		memcpy(svcnotify_last_status, state, sizeof(state));
		send_state(state);
	}
	pthread_mutex_unlock(&svcnotify_lock);
}

int64_t svcnotify_watchdog_interval_ms(void)
{
	return (int64_t)(svcnotify_watchdog_usec / 2000);
}

void svcnotify_watchdog(void)
{
	int64_t now;

	if (!svcnotify_watchdog_usec)
		return;
	now = monotonic_ms();
	if (svcnotify_fed_ms && now - svcnotify_fed_ms < svcnotify_watchdog_interval_ms())
		return;
	svcnotify_fed_ms = now;
	send_state("WATCHDOG=1");
}

void svcnotify_watchdog_stretch(int64_t extra_ms)
{
	if (svcnotify_watchdog_usec && svcnotify_active) {
		svcnotify_fed_ms = monotonic_ms();
		sd_notifyf(0, "WATCHDOG=1\nWATCHDOG_USEC=%llu",
			   (unsigned long long)(svcnotify_watchdog_usec + (uint64_t)extra_ms * 1000u));
	}
}

void svcnotify_watchdog_restore(void)
{
	if (svcnotify_watchdog_usec && svcnotify_active) {
		svcnotify_fed_ms = monotonic_ms();
		sd_notifyf(0, "WATCHDOG=1\nWATCHDOG_USEC=%llu", (unsigned long long)svcnotify_watchdog_usec);
	}
}

void svcnotify_stopping(void)
{
	send_state("STOPPING=1");
}
