/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "base/stopsig.h"

#include <string.h>

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_reload_signal(int sig)
{
	(void)sig;
	reload_requested = 1;
}

static void catch_signal(int sig, void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigaction(sig, &sa, NULL);
}

volatile sig_atomic_t *stopsig_install(void)
{
	catch_signal(SIGINT, on_stop_signal);
	catch_signal(SIGTERM, on_stop_signal);
	signal(SIGPIPE, SIG_IGN);
	return &stop_requested;
}

volatile sig_atomic_t *stopsig_install_reload(void)
{
	catch_signal(SIGHUP, on_reload_signal);
	return &reload_requested;
}
