/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The service threads and what crosses between them.
 *
 * Each thread has its own lws context on its own event loop; lws 4.1 as
 * Debian builds it (LWS_MAX_SMP 1) has no locks of its own, so a context,
 * and every connection in it, is touched by its thread alone.  A tunnel,
 * its node's connection, its importer and its vhci socket live on one
 * thread, so the data path takes no locks.  What the threads share (the
 * tunnel list and index, vhci claims, admission, the policy) is under
 * px->lock, taken by control events only: a hello, an export, a resume, a
 * close, a listing.
 *
 * Anything one thread needs done to another thread's tunnel or context is
 * a message in that thread's mailbox, which lws_cancel_service wakes.  A
 * message about a tunnel is always in the mailbox of the tunnel's thread:
 * it is posted under px->lock, a tunnel changes threads only under it and
 * takes its messages along, and a tunnel freed takes its messages with it
 * (proxy_thread_forget).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/usbws_err.h"
#include "proxy.h"
#include "proxy_int.h"

void proxy_thread_lock(struct proxy *px)
{
	pthread_mutex_lock(&px->lock);
}

void proxy_thread_unlock(struct proxy *px)
{
	pthread_mutex_unlock(&px->lock);
}

int proxy_thread_init_lock(struct proxy *px)
{
	pthread_mutexattr_t attr;
	int rc;

	pthread_mutex_init(&px->snap_lock, NULL);
	pthread_cond_init(&px->snap_done, NULL);
	/* a control event can end in another (a failed export closes its
	 * tunnel, whose close is a control event too) */
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	rc = pthread_mutex_init(&px->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	return rc == 0 ? 0 : USBWS_ERR_SYSTEM;
}

struct proxy_msg *proxy_thread_msg_new(enum proxy_msg_kind kind)
{
	struct proxy_msg *m = calloc(1, sizeof(*m));

	if (m) {
		m->kind = kind;
		m->fd = -1;
	}
	return m;
}

/* A message that will never be handled lets go of what it holds. */
void proxy_thread_msg_drop(struct proxy *px, struct proxy_msg *m)
{
	proxy_thread_lock(px);
	/* a port whose socket never reached its tunnel */
	if (m->kind == PROXY_MSG_VHCI && m->fd >= 0)
		proxy_vhci_abandon(px, m->port);
	/* a moving vhci importer's port, likewise */
	if (m->saved && m->fd >= 0 && m->saved->vhci_port >= 0)
		proxy_vhci_abandon(px, (unsigned int)m->saved->vhci_port);
	if (m->fd >= 0)
		close(m->fd);
	if (m->e)
		proxy_listen_dropped(m->l, m->e);
	proxy_thread_unlock(px);
	if (m->saved) {
		ring_free(&m->saved->out);
		free(m->saved);
	}
	X509_STORE_free(m->store);
	free(m);
}

void proxy_thread_post(struct proxy_thread *th, struct proxy_msg *m)
{
	struct proxy *px = th->px;

	/* the contexts are going: nothing is served any more */
	if (px->stopping) {
		proxy_thread_msg_drop(px, m);
		return;
	}
	pthread_mutex_lock(&th->mbox_lock);
	lws_dll2_add_tail(&m->list, &th->mbox);
	pthread_mutex_unlock(&th->mbox_lock);
	lws_cancel_service(th->ctx);
}

static struct proxy_msg *pop(lws_dll2_owner_t *list)
{
	struct proxy_msg *m;

	if (!list->head)
		return NULL;
	m = lws_container_of(list->head, struct proxy_msg, list);
	lws_dll2_remove(&m->list);
	return m;
}

static struct proxy_msg *next_msg(struct proxy_thread *th)
{
	struct proxy_msg *m;

	pthread_mutex_lock(&th->mbox_lock);
	m = pop(&th->mbox);
	pthread_mutex_unlock(&th->mbox_lock);
	return m;
}

/* Under px->lock, on th: the copies a listing asked for (round), unless
 * it has stopped waiting. */
static void snapshot_here(struct proxy_thread *th, unsigned int round)
{
	struct proxy *px = th->px;
	struct tunnel *t;

	for (t = px->tunnels; t; t = t->next)
		if (t->th == th)
			proxy_tunnel_stats(t, &t->stats);
	pthread_mutex_lock(&px->snap_lock);
	if (round == px->snap_round && px->snap_pending && --px->snap_pending == 0)
		pthread_cond_broadcast(&px->snap_done);
	pthread_mutex_unlock(&px->snap_lock);
}

void proxy_thread_snapshot(struct proxy *px)
{
	struct timespec until;
	unsigned int i, round, asked = 0;

	if (px->nthreads < 2)
		return;
	pthread_mutex_lock(&px->snap_lock);
	px->snap_pending = px->nthreads - 1;
	round = ++px->snap_round;
	pthread_mutex_unlock(&px->snap_lock);
	for (i = 0; i < px->nthreads; i++) {
		struct proxy_msg *m;

		if (&px->threads[i] == proxy_self)
			continue;
		m = proxy_thread_msg_new(PROXY_MSG_SNAPSHOT);
		if (m) {
			m->round = round;
			proxy_thread_post(&px->threads[i], m);
			asked++;
		}
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	pthread_mutex_lock(&px->snap_lock);
	/* a thread that could not be asked is not waited for */
	px->snap_pending -= px->nthreads - 1 - asked;
	while (px->snap_pending && pthread_cond_timedwait(&px->snap_done, &px->snap_lock, &until) == 0)
		;
	px->snap_pending = 0;
	pthread_mutex_unlock(&px->snap_lock);
}

void proxy_thread_drain(struct proxy_thread *th)
{
	struct proxy *px = th->px;
	struct proxy_msg *m;

	while ((m = next_msg(th))) {
		proxy_thread_lock(px);
		switch (m->kind) {
		case PROXY_MSG_ADOPT: proxy_listen_adopt(th, m); break;
		case PROXY_MSG_FAIL:
		case PROXY_MSG_RESUME:
		case PROXY_MSG_RESUMED: proxy_tunnel_message(th, m); break;
		case PROXY_MSG_IMPORT: proxy_usbip_message(th, m); break;
		case PROXY_MSG_VHCI: proxy_vhci_message(th, m); break;
		case PROXY_MSG_STORE:
			if (th->wss_ssl)
				SSL_CTX_set1_cert_store(th->wss_ssl, m->store);
			break;
		case PROXY_MSG_SNAPSHOT: snapshot_here(th, m->round); break;
		case PROXY_MSG_CAPTURE:
		case PROXY_MSG_CAPTURE_STOP:
		case PROXY_MSG_CAPTURED: proxy_capture_message(th, m); break;
		}
		proxy_thread_unlock(px);
		proxy_thread_msg_drop(px, m);
	}
	/* timers a handler scheduled are armed as lws returns from this
	 * callback: asking again with lws_cancel_service would come back
	 * here for ever */
}

/* Takes the messages about t out of th's mailbox, in order, into out. */
static void take_messages(struct proxy_thread *th, const struct tunnel *t, lws_dll2_owner_t *out)
{
	lws_dll2_owner_clear(out);
	pthread_mutex_lock(&th->mbox_lock);
	lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&th->mbox))
	{
		struct proxy_msg *m = lws_container_of(d, struct proxy_msg, list);

		if (m->t == t) {
			lws_dll2_remove(&m->list);
			lws_dll2_add_tail(&m->list, out);
		}
	}
	lws_end_foreach_dll_safe(d, d1);
	pthread_mutex_unlock(&th->mbox_lock);
}

void proxy_thread_move(struct tunnel *t, struct proxy_thread *to)
{
	struct proxy_thread *from = t->th;
	lws_dll2_owner_t moved;
	struct proxy_msg *m;

	from->load--;
	to->load++;
	/* a listing or a scrape before the new thread's first copy reads
	 * this one: the traffic so far, never less */
	proxy_tunnel_stats(t, &t->stats);
	t->th = to;
	take_messages(from, t, &moved);
	while ((m = pop(&moved)))
		proxy_thread_post(to, m);
}

void proxy_thread_forget(struct tunnel *t)
{
	lws_dll2_owner_t gone;
	struct proxy_msg *m;

	if (!t->th)
		return;
	take_messages(t->th, t, &gone);
	while ((m = pop(&gone))) {
		m->t = NULL;
		/* a resume that asked for t learns there is no session; the
		 * rest had nothing left to act on */
		if (m->kind == PROXY_MSG_RESUME && m->from) {
			m->kind = PROXY_MSG_RESUMED;
			proxy_thread_post(m->from, m);
			continue;
		}
		proxy_thread_msg_drop(t->px, m);
	}
}

/*
 * libev keeps its epoll descriptor to itself, and never deletes a socket
 * from it (it waits for the close to do that): a socket moved to another
 * thread would still be watched here through the duplicate, and libev
 * would rebuild its whole epoll set on the first stray event.  The loop's
 * descriptor is the eventpoll one that appeared when it was made.
 */
static int eventpoll_fds(int *out, int cap)
{
	char link[64], path[sizeof("/proc/self/fd/") + sizeof(((struct dirent *)0)->d_name)];
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	if (!dir)
		return 0;
	while ((d = readdir(dir)) && n < cap) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (strcmp(link, "anon_inode:[eventpoll]") == 0)
			out[n++] = atoi(d->d_name);
	}
	closedir(dir);
	return n;
}

void proxy_thread_epoll_before(int *fds, int *n, int cap)
{
	*n = eventpoll_fds(fds, cap);
}

int proxy_thread_epoll_after(const int *before, int nbefore)
{
	int now[64], n = eventpoll_fds(now, 64), i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < nbefore && before[j] != now[i]; j++)
			;
		if (j == nbefore)
			return now[i];
	}
	return -1;
}

int proxy_thread_take_socket(struct proxy_thread *th, struct lws *wsi)
{
	int fd = lws_get_socket_fd(wsi), copy;

	copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (copy < 0)
		return USBWS_ERR_SYSTEM;
	/* gone from this loop before its descriptor closes (see above) */
	if (th->epoll_fd >= 0)
		epoll_ctl(th->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
	return copy;
}

static void *serve(void *arg)
{
	struct proxy_thread *th = arg;
	struct proxy *px = th->px;

	proxy_self = th;
	while (!__atomic_load_n(&px->quit, __ATOMIC_ACQUIRE))
		if (proxy_loop_run_once(th) < 0) {
			log_err("service thread %u: the event loop failed: %s; stopping", th->index,
				usbws_strerror(USBWS_ERR_LWS));
			/* its connections would wait for ever: the proxy stops
			 * (the main thread takes the signal) and says so in its
			 * exit status */
			__atomic_store_n(&px->worker_failed, 1, __ATOMIC_RELEASE);
			raise(SIGTERM);
			break;
		}
	return NULL;
}

int proxy_thread_start(struct proxy *px, char *why, size_t why_cap)
{
	sigset_t all, old;
	unsigned int i;
	int rc = 0;

	/* signals are the main thread's (base/stopsig.c) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 1; i < px->nthreads && rc == 0; i++) {
		rc = pthread_create(&px->threads[i].tid, NULL, serve, &px->threads[i]);
		if (rc == 0)
			px->threads[i].started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "cannot start service thread %u: %s", i - 1,
				 strerror(rc));
	return 0;
}

void proxy_thread_stop(struct proxy *px)
{
	unsigned int i;

	__atomic_store_n(&px->quit, 1, __ATOMIC_RELEASE);
	for (i = 1; i < px->nthreads; i++)
		if (px->threads[i].started)
			lws_cancel_service(px->threads[i].ctx);
	for (i = 1; i < px->nthreads; i++)
		if (px->threads[i].started) {
			pthread_join(px->threads[i].tid, NULL);
			px->threads[i].started = 0;
		}
}

void proxy_thread_free_mailbox(struct proxy_thread *th)
{
	struct proxy_msg *m;

	while ((m = next_msg(th)))
		proxy_thread_msg_drop(th->px, m);
	pthread_mutex_destroy(&th->mbox_lock);
}

unsigned int proxy_thread_default_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > PROXY_MAX_THREADS ? PROXY_MAX_THREADS : (unsigned int)n;
}
