/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The proxy's event loop.  lws's own loop calls poll() over every socket on
 * every wakeup, so with 10,000 idle tunnels each PONG costs a walk over
 * 10,000 descriptors.  libev on epoll costs by the sockets that are ready,
 * not by those that are open.  lws reaches libev through a plugin of its
 * own (Debian's libwebsockets-evlib-ev), loaded when the context is made;
 * the loop is ours ("foreign"), so that the proxy's stop and reload flags
 * are checked between rounds as they were with lws_service().  Without the
 * plugin the proxy runs on lws's poll() loop, as it did before, and says so.
 */
#include <ev.h>
#include <libwebsockets.h>
#include <string.h>

#include "base/log.h"
#include "base/usbws_err.h"
#include "proxy.h"
#include "proxy_int.h"

#define EVLIB_PACKAGE "libwebsockets-evlib-ev"

static struct lws_context *create_on_libev(struct proxy_thread *th, struct lws_context_creation_info *info)
{
	struct lws_context *ctx;

	/* the proxy catches its signals itself (base/stopsig.c): libev must
	 * leave the signal mask alone */
	th->evloop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOSIGMASK);
	if (!th->evloop) {
		log_warn("libev cannot make an epoll loop; running on poll()");
		return NULL;
	}
	th->foreign_loops[0] = th->evloop;
	info->foreign_loops = th->foreign_loops;
	info->options |= LWS_SERVER_OPTION_LIBEV;
	ctx = lws_create_context(info);
	info->options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
	info->foreign_loops = NULL;
	if (!ctx) {
		log_warn("libwebsockets could not load its libev plugin (Debian package " EVLIB_PACKAGE
			 "); running on poll(), whose every wakeup walks all connections");
		ev_loop_destroy(th->evloop);
		th->evloop = NULL;
	}
	return ctx;
}

int proxy_loop_create(struct proxy_thread *th, struct lws_context_creation_info *info)
{
	if (th->px->cfg->event_loop != PROXY_LOOP_POLL)
		th->ctx = create_on_libev(th, info);
	if (!th->ctx)
		th->ctx = lws_create_context(info);
	if (!th->ctx)
		return USBWS_ERR_LWS;
	log_debug("event loop: %s", th->evloop ? "libev (epoll)" : "poll()");
	return 0;
}

int proxy_loop_run_once(struct proxy_thread *th)
{
	/* one round: it waits for the next socket event or timer (the tick
	 * comes every second), and a signal cuts the wait short */
	if (th->evloop) {
		ev_run(th->evloop, EVRUN_ONCE);
		return 0;
	}
	return lws_service(th->ctx, 0) < 0 ? USBWS_ERR_LWS : 0;
}

void proxy_loop_timers_changed(struct proxy_thread *th)
{
	/* lws arms libev's timer for its own timers (lws_sul, lws_set_timeout)
	 * only from inside its callbacks; one scheduled from outside them
	 * would wait for the next socket event.  A wakeup of lws's own pipe
	 * is such an event. */
	if (th->evloop)
		lws_cancel_service(th->ctx);
}

void proxy_loop_free(struct proxy_thread *th)
{
	/* after lws_context_destroy, which has stopped all of lws's watchers */
	if (th->evloop)
		ev_loop_destroy(th->evloop);
	th->evloop = NULL;
}
