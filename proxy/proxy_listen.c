/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The proxy's listening sockets.  libwebsockets 4.1 would bind an IPv4
 * literal on an IPv6 socket ([::], every address) and accept without
 * limit, spinning when it runs out of descriptors; so the proxy binds
 * exactly what was asked (netaddr.c), accepts itself, and hands each
 * admitted connection to the vhost that serves it.  What a peer costs
 * before it authenticates is bounded by admit.h: per source, in all, and
 * in time.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "admit.h"
#include "balancer.h"
#include "base/log.h"
#include "base/monoclock.h"
#include "net/netaddr.h"
#include "proxy.h"
#include "proxy_int.h"
#include "base/usbws_err.h"

/* how long accepting stops when the descriptors run out */
#define PAUSE_MS 250
/* accepts per readiness: one busy listener must not starve the loop */
#define ACCEPT_BATCH 64

static int listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

static const struct lws_protocols listen_protocol = {
	.name = "usbws-listen",
	.callback = listen_callback,
};

static void pause_listener(struct proxy_listener *l, int on);

static void resume_accepting(lws_sorted_usec_list_t *sul)
{
	struct proxy_listener *l = (struct proxy_listener *)((char *)sul - offsetof(struct proxy_listener, pause));

	pause_listener(l, 0);
}

/* Out of descriptors: accepting again at once would fail again at once
 * (the connection stays in the backlog), so wait for some to close. */
static void pause_listener(struct proxy_listener *l, int on)
{
	struct rlimit rl;
	size_t i;

	for (i = 0; i < l->nfds; i++)
		lws_rx_flow_control(l->wsi[i], !on);
	l->paused = on;
	if (!on)
		return;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (log_limit_allow(&l->fd_log, monotonic_ms()))
		log_warn("%s %s: out of file descriptors (limit %llu, %s); not accepting for %d ms", l->option,
			 l->spec, (unsigned long long)rl.rlim_cur, strerror(errno), PAUSE_MS);
	lws_sul_schedule(l->px->threads[0].ctx, 0, &l->pause, resume_accepting, PAUSE_MS * LWS_US_PER_MS);
}

static void refuse(struct proxy_listener *l, int fd, const struct sockaddr *sa, socklen_t len, int why)
{
	char addr[NETADDR_STRLEN];

	close(fd);
	l->refused++;
	if (!log_limit_allow(&l->refusal_log, monotonic_ms()))
		return;
	netaddr_format(sa, len, addr, sizeof(addr));
	if (why == USBWS_ERR_UNTRUSTED_PEER)
		log_warn("%s %s: refused a connection from %s: %s", l->option, l->spec, addr, usbws_strerror(why));
	else
		log_warn("%s %s: refused a connection from %s: %s (%s)", l->option, l->spec, addr,
			 usbws_strerror(why), why == USBWS_ERR_ADMIT_SOURCE ? l->source_flag : l->full_flag);
}

/* An admitted connection is gone or has authenticated: it no longer
 * weighs on its thread (placement), nor on the listener's caps. */
static void entry_done(struct proxy_listener *l, struct admit_entry *e)
{
	l->px->threads[e->group].load--;
	admit_done(l->admit, e);
}

/* The thread with the least to do: connections still being admitted
 * (their handshakes are most of a storm's work) and tunnels. */
static struct proxy_thread *least_loaded(struct proxy *px)
{
	struct proxy_thread *best = &px->threads[0];
	unsigned int i;

	for (i = 1; i < px->nthreads; i++)
		if (px->threads[i].load < best->load)
			best = &px->threads[i];
	return best;
}

/* Hands fd to th's vhost for l; a failed adoption closes fd, and may or
 * may not have told proxy_listen_closed: the entry is freed here either
 * way.  Under px->lock. */
static void adopt(struct proxy_thread *th, struct proxy_listener *l, int fd, struct admit_entry *e)
{
	lws_adopt_desc_t desc;
	struct lws *wsi;

	memset(&desc, 0, sizeof(desc));
	desc.vh = th->vh[l->slot];
	desc.type = l->adopt_type;
	desc.fd.sockfd = fd;
	desc.vh_prot_name = l->protocol;
	desc.opaque = e;
	l->adopting = e;
	wsi = lws_adopt_descriptor_vhost_via_info(&desc);
	l->adopting = NULL;
	if (!wsi) {
		entry_done(l, e);
		return;
	}
	e->owner = wsi;
}

void proxy_listen_adopt(struct proxy_thread *th, struct proxy_msg *m)
{
	adopt(th, m->l, m->fd, m->e);
	m->fd = -1;
	m->e = NULL;
}

void proxy_listen_dropped(struct proxy_listener *l, struct admit_entry *e)
{
	entry_done(l, e);
}

/* Each admitted connection goes to the thread with the least to do. */
static void admit_one(struct proxy_listener *l, int fd, const struct sockaddr *sa, socklen_t len)
{
	struct proxy *px = l->px;
	struct proxy_thread *th;
	struct admit_entry *e;
	struct proxy_msg *m;
	int rc, one = 1;

	/* before it costs anything: only the balancer may speak for nodes */
	if (l->trusted && !balancer_trusted(l->trusted, l->ntrusted, sa, len)) {
		refuse(l, fd, sa, len, USBWS_ERR_UNTRUSTED_PEER);
		return;
	}
	rc = admit_try(l->admit, sa, len, arc4random(), monotonic_ms(), &e);
	if (rc < 0) {
		refuse(l, fd, sa, len, rc);
		return;
	}
	e->owner_ctx = l;
	e->accepted_ms = monotonic_ms();
	/* USB/IP is request and reply: Nagle would hold each small URB back */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	th = least_loaded(px);
	e->group = th->index;
	th->load++;
	if (th == proxy_self) {
		adopt(th, l, fd, e);
		return;
	}
	m = proxy_thread_msg_new(PROXY_MSG_ADOPT);
	if (!m) {
		close(fd);
		entry_done(l, e);
		return;
	}
	m->fd = fd;
	m->l = l;
	m->e = e;
	proxy_thread_post(th, m);
}

static void accept_ready(struct proxy_listener *l, int listen_fd)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, n;

	for (n = 0; n < ACCEPT_BATCH && !l->paused; n++) {
		len = sizeof(ss);
		fd = accept4(listen_fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				pause_listener(l, 1);
			/* EAGAIN: done; ECONNABORTED and the like: that peer left */
			else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("%s %s: accept: %s", l->option, l->spec, strerror(errno));
			if (errno != ECONNABORTED && errno != EINTR)
				return;
			continue;
		}
		admit_one(l, fd, (struct sockaddr *)&ss, len);
	}
}

static int listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct proxy_listener *l = lws_get_opaque_user_data(wsi);

	(void)user;
	(void)in;
	(void)len;
	if (reason == LWS_CALLBACK_RAW_RX_FILE && l) {
		proxy_thread_lock(l->px);
		accept_ready(l, lws_get_socket_fd(wsi));
		proxy_thread_unlock(l->px);
	}
	return 0;
}

static int listen_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return USBWS_ERR_SYSTEM;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
}

int proxy_listen_open(struct proxy *px, struct proxy_listener *l, char *why, size_t why_cap)
{
	struct lws_context_creation_info info;
	char listen_why[160];
	size_t i;
	int n;

	l->px = px;
	l->admit = admit_new(&l->policy);
	if (!l->admit)
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM, "%s %s: out of memory", l->option, l->spec);
	if (!px->listen_vh) {
		static struct lws_protocols protocols[2];

		protocols[0] = listen_protocol;
		memset(&info, 0, sizeof(info));
		info.vhost_name = "listen";
		info.port = CONTEXT_PORT_NO_LISTEN;
		info.protocols = protocols;
		info.user = &px->threads[0];
		info.retry_and_idle_policy = &proxy_no_validity;
		px->listen_vh = lws_create_vhost(px->threads[0].ctx, &info);
		if (!px->listen_vh)
			return usbws_why(why, why_cap, USBWS_ERR_LWS, "cannot create the listening vhost");
	}
	n = netaddr_listen_all(l->spec, l->fds, sizeof(l->fds) / sizeof(l->fds[0]), listen_why, sizeof(listen_why));
	if (n < 0 && errno == EADDRINUSE)
		return usbws_why(why, why_cap, n,
				 "cannot listen on %s (%s): %s (is another usbws-proxy running? "
				 "stop it, or give %s another port)",
				 l->spec, l->option, listen_why, l->option);
	if (n < 0)
		return usbws_why(why, why_cap, n, "cannot listen on %s (%s): %s", l->spec, l->option, listen_why);
	l->nfds = (size_t)n;
	for (i = 0; i < l->nfds; i++) {
		lws_adopt_desc_t desc;

		memset(&desc, 0, sizeof(desc));
		desc.vh = px->listen_vh;
		desc.type = LWS_ADOPT_RAW_FILE_DESC;
		desc.fd.filefd = l->fds[i];
		desc.vh_prot_name = listen_protocol.name;
		desc.opaque = l;
		l->wsi[i] = lws_adopt_descriptor_vhost_via_info(&desc);
		if (!l->wsi[i])
			return usbws_why(why, why_cap, USBWS_ERR_LWS, "%s %s: cannot watch the listening socket",
					 l->option, l->spec);
	}
	l->port = listen_port(l->fds[0]);
	return 0;
}

void proxy_listen_close(struct proxy_listener *l)
{
	admit_free(l->admit);
	l->admit = NULL;
}

static struct admit_entry *entry_of(struct lws *wsi)
{
	return wsi ? lws_get_opaque_user_data(wsi) : NULL;
}

/* The admission tables are the listeners', which every thread's
 * connections share: each of these takes px->lock. */
void proxy_listen_settled(struct lws *wsi)
{
	struct admit_entry *e = entry_of(wsi);
	struct proxy_listener *l;

	if (!e)
		return;
	l = e->owner_ctx;
	proxy_thread_lock(l->px);
	admit_settle(l->admit, e);
	proxy_thread_unlock(l->px);
}

void proxy_listen_authenticated(struct lws *wsi)
{
	struct admit_entry *e = entry_of(wsi);
	struct proxy_listener *l;

	if (!e)
		return;
	l = e->owner_ctx;
	lws_set_opaque_user_data(wsi, NULL);
	proxy_metrics_handshake(l->px, monotonic_ms() - e->accepted_ms);
	proxy_thread_lock(l->px);
	entry_done(l, e);
	proxy_thread_unlock(l->px);
}

void proxy_listen_closed(struct lws *wsi)
{
	struct admit_entry *e = entry_of(wsi);
	struct proxy_listener *l;

	if (!e)
		return;
	l = e->owner_ctx;
	lws_set_opaque_user_data(wsi, NULL);
	proxy_thread_lock(l->px);
	/* adopt() frees what a failed adoption leaves */
	if (e != l->adopting)
		entry_done(l, e);
	proxy_thread_unlock(l->px);
}

void proxy_listen_tick(struct proxy_listener *l, struct proxy_thread *th)
{
	int64_t now = monotonic_ms();
	struct admit_entry *e;
	unsigned int hidden;

	if (!l->admit)
		return;
	while ((e = admit_expired(l->admit, now, th->index))) {
		char addr[NETADDR_STRLEN];

		/* on its way to a thread (adopted, or an importer moving to
		 * its device's) for longer than its timeout: nothing to close
		 * here, and it will have been answered or closed by the time
		 * it could be found again */
		if (!e->owner)
			continue;
		l->expired++;
		if (log_limit_allow(&l->expiry_log, now)) {
			netaddr_peer(lws_get_socket_fd(e->owner), addr, sizeof(addr));
			log_warn("%s %s: closing the connection from %s: %s within %d s", l->option, l->spec, addr,
				 l->expiry_what, (int)(l->policy.timeout_ms / 1000));
		}
		lws_set_timeout(e->owner, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
	/* the sums are the listener's, said once */
	if (th->index != 0)
		return;
	if ((hidden = log_limit_flush(&l->refusal_log, now)))
		log_warn("%s %s: refused %u more connections in the last %d s (%lu refused in all)", l->option,
			 l->spec, hidden, LOG_LIMIT_WINDOW_MS / 1000, l->refused);
	if ((hidden = log_limit_flush(&l->expiry_log, now)))
		log_warn("%s %s: closed %u more connections for the same reason in the last %d s", l->option,
			 l->spec, hidden, LOG_LIMIT_WINDOW_MS / 1000);
	if ((hidden = log_limit_flush(&l->fd_log, now)))
		log_warn("%s %s: out of file descriptors %u more times in the last %d s", l->option, l->spec, hidden,
			 LOG_LIMIT_WINDOW_MS / 1000);
}

void proxy_listen_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_warn("cannot raise the file descriptor limit to %llu: %s", (unsigned long long)rl.rlim_max,
			 strerror(errno));
}
