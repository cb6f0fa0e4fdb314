/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "stopsig.h"

#include <string.h>

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

volatile sig_atomic_t *stopsig_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return &stop_requested;
}

static void on_reload_signal(int sig)
{
	(void)sig;
	reload_requested = 1;
}

volatile sig_atomic_t *stopsig_install_reload(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_reload_signal;
	sigaction(SIGHUP, &sa, NULL);
	return &reload_requested;
}
