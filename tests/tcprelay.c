/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A TCP relay whose link fails on demand, for tests of what happens when
 * the network goes away:
 *   tcprelay --listen HOST:PORT --to HOST:PORT [--pidfile FILE]
 * Every connection accepted on --listen is relayed, both ways, to --to.
 * Signals change the state of the link:
 *   SIGUSR1  outage (blackhole): nothing moves in either direction and no
 *            connection is closed, so the endpoints see silence, as with a
 *            dead link.  New connections are accepted and parked, never
 *            connected onward.  (The kernel still ACKs what a peer sends
 *            until the relay's receive buffer is full.)
 *   SIGHUP   outage (cut): every connection is reset at once, and new ones
 *            are reset right after accept.
 *   SIGUSR2  end of the outage: every connection that existed before or
 *            during it is reset on both sides, as by a NAT that lost its
 *            state; new connections are relayed again.
 *   SIGTERM, SIGINT  exit 0.
 * "tcprelay: listening on HOST:PORT" is printed first, with the port
 * actually bound (so --listen 127.0.0.1:0 works), then one line per change.
 *
 * One thread, poll().  Each direction of a connection has a 64 KiB buffer,
 * and a side is read only while the buffer toward the other has room.  An
 * EOF becomes shutdown(SHUT_WR) on the other side once the buffer is
 * flushed; an error on either side resets both, so a cut stream never
 * looks like a clean end.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/netaddr.h"

#define HALF_SIZE (64u << 10)
#define ACCEPT_PAUSE_MS 100	/* after EMFILE: let connections finish first */
#define ACCEPT_BATCH 64

enum link_state { LINK_UP, LINK_BLACKHOLE, LINK_CUT };

/* Bytes read from one side that still have to be written to the other. */
struct half {
	unsigned char data[HALF_SIZE];
	size_t off, len;
	bool eof;		/* the side it is read from sent FIN */
};

/*
 * Side 0 is the accepted client, side 1 the connection to the target;
 * half[s] holds what side s sent.  A connection accepted during an outage
 * is parked: fd[1] stays -1 until the outage ends and resets it.
 */
struct conn {
	int fd[2];
	struct half half[2];
	bool shut[2];		/* FIN sent to side s */
	bool connecting;	/* fd[1] is a connect in progress */
	bool dead;		/* closed; swept from the table after this round */
	const struct addrinfo *next_ai;	/* tried if the current connect fails */
};

struct relay {
	enum link_state state;
	const char *to_spec;
	struct addrinfo *to;
	int listen_fd, sig_fd;
	struct conn **conns;
	size_t nconns, conns_cap;
	struct pollfd *pfds;
	size_t pfds_cap;
	struct timespec accept_resume;	/* accept paused until then (EMFILE) */
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("tcprelay: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("tcprelay: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static long ms_until(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
}

/* Closes fd so that the peer gets an RST, not a FIN. */
static void reset_fd(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Closes both sides, with an RST when reset is set; c is swept later. */
static void conn_close(struct conn *c, bool reset)
{
	int s;

	for (s = 0; s < 2; s++) {
		if (reset)
			reset_fd(c->fd[s]);
		else if (c->fd[s] >= 0)
			close(c->fd[s]);
		c->fd[s] = -1;
	}
	c->dead = true;
}

/* Starts a non-blocking connect to the next target address that takes
 * one.  Returns 0 (connected or in progress) or -1 with errno set. */
static int conn_connect(struct conn *c)
{
	int one = 1, err = ECONNREFUSED;

	while (c->next_ai) {
		const struct addrinfo *ai = c->next_ai;
		int fd;

		c->next_ai = ai->ai_next;
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			c->fd[1] = fd;
			return 0;
		}
		if (errno == EINPROGRESS) {
			c->fd[1] = fd;
			c->connecting = true;
			return 0;
		}
		err = errno;
		close(fd);
	}
	errno = err;
	return -1;
}

/* fd[1] became writable or failed while connecting: done, or next address. */
static void conn_connected(struct relay *r, struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0) {
		c->connecting = false;
		return;
	}
	close(c->fd[1]);
	c->fd[1] = -1;
	c->connecting = false;
	if (conn_connect(c) == 0)
		return;
	say("cannot connect to %s: %s", r->to_spec, strerror(err));
	conn_close(c, true);
}

static bool want_read(const struct conn *c, int s)
{
	return c->fd[s] >= 0 && !(s == 1 && c->connecting) && !c->half[s].eof && c->half[s].len < HALF_SIZE;
}

/* Side s has bytes waiting for it (in the other side's half). */
static bool want_write(const struct conn *c, int s)
{
	return c->fd[s] >= 0 && !(s == 1 && c->connecting) && c->half[!s].len > 0;
}

/* One recv from side s into half[s]: 0, or -1 when the connection failed. */
static int side_read(struct conn *c, int s)
{
	struct half *h = &c->half[s];
	ssize_t n;

	if (h->off + h->len == HALF_SIZE) {
		memmove(h->data, h->data + h->off, h->len);
		h->off = 0;
	}
	n = recv(c->fd[s], h->data + h->off + h->len, HALF_SIZE - h->off - h->len, 0);
	if (n > 0)
		h->len += (size_t)n;
	else if (n == 0)
		h->eof = true;
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		return -1;
	return 0;
}

/* Writes what side s is owed: 0, or -1 when the connection failed. */
static int side_write(struct conn *c, int s)
{
	struct half *h = &c->half[!s];
	ssize_t n = send(c->fd[s], h->data + h->off, h->len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	h->off += (size_t)n;
	h->len -= (size_t)n;
	if (h->len == 0)
		h->off = 0;
	return 0;
}

/* Moves what can be moved now; rev[s] are side s's poll results. */
static void conn_pump(struct relay *r, struct conn *c, const short rev[2])
{
	int s;

	if (c->connecting && rev[1]) {
		conn_connected(r, c);
		if (c->dead)
			return;
	}
	for (s = 0; s < 2; s++)
		if (rev[s] && want_read(c, s) && side_read(c, s) < 0)
			goto fail;
	for (s = 0; s < 2; s++)
		if (want_write(c, s) && side_write(c, s) < 0)
			goto fail;
	/* a flushed EOF is passed on; both passed on, the connection is done */
	for (s = 0; s < 2; s++) {
		int o = !s;

		if (!c->half[s].eof || c->half[s].len || c->shut[o] || c->fd[o] < 0 || (o == 1 && c->connecting))
			continue;
		if (shutdown(c->fd[o], SHUT_WR) < 0)
			goto fail;
		c->shut[o] = true;
	}
	if (c->shut[0] && c->shut[1])
		conn_close(c, false);
	return;
fail:
	conn_close(c, true);
}

/* Closes every connection (reset: with RSTs); returns how many there were. */
static size_t close_all(struct relay *r, bool reset)
{
	size_t i, n = 0;

	for (i = 0; i < r->nconns; i++) {
		if (r->conns[i]->dead)
			continue;
		conn_close(r->conns[i], reset);
		n++;
	}
	return n;
}

static size_t live_conns(const struct relay *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->nconns; i++)
		n += !r->conns[i]->dead;
	return n;
}

static void sweep(struct relay *r)
{
	size_t i, j = 0;

	for (i = 0; i < r->nconns; i++) {
		if (r->conns[i]->dead)
			free(r->conns[i]);
		else
			r->conns[j++] = r->conns[i];
	}
	r->nconns = j;
}

/* A new connection: relayed, parked or reset, as the link is. */
static void conn_new(struct relay *r, int fd)
{
	struct conn *c;

	if (r->state == LINK_CUT) {
		reset_fd(fd);
		return;
	}
	if (r->nconns == r->conns_cap) {
		size_t cap = r->conns_cap ? 2 * r->conns_cap : 64;
		struct conn **p = realloc(r->conns, cap * sizeof(*p));

		if (!p) {
			reset_fd(fd);
			return;
		}
		r->conns = p;
		r->conns_cap = cap;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		reset_fd(fd);
		return;
	}
	c->fd[0] = fd;
	c->fd[1] = -1;
	c->next_ai = r->to;
	r->conns[r->nconns++] = c;
	if (r->state == LINK_BLACKHOLE)
		return;		/* parked */
	if (conn_connect(c) < 0) {
		say("cannot connect to %s: %s", r->to_spec, strerror(errno));
		conn_close(c, true);
	}
}

static void accept_some(struct relay *r)
{
	int i, fd;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		fd = netaddr_accept(r->listen_fd);
		if (fd >= 0) {
			conn_new(r, fd);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			say("cannot accept: %s; pausing for %d ms", strerror(errno), ACCEPT_PAUSE_MS);
			clock_gettime(CLOCK_MONOTONIC, &r->accept_resume);
			r->accept_resume.tv_nsec += ACCEPT_PAUSE_MS * 1000000L;
			if (r->accept_resume.tv_nsec >= 1000000000L) {
				r->accept_resume.tv_sec++;
				r->accept_resume.tv_nsec -= 1000000000L;
			}
		}
		return;	/* EAGAIN, or an aborted handshake: poll again */
	}
}

static void outage_blackhole(struct relay *r)
{
	if (r->state == LINK_BLACKHOLE) {
		say("already in an outage (blackhole)");
		return;
	}
	r->state = LINK_BLACKHOLE;
	say("outage started (blackhole); %zu connections frozen", live_conns(r));
}

static void outage_cut(struct relay *r)
{
	if (r->state == LINK_CUT) {
		say("already in an outage (cut)");
		return;
	}
	r->state = LINK_CUT;
	say("outage started (cut); reset %zu connections", close_all(r, true));
}

static void outage_end(struct relay *r)
{
	if (r->state == LINK_UP) {
		say("no outage to end");
		return;
	}
	r->state = LINK_UP;
	say("outage ended; reset %zu connections", close_all(r, true));
}

/* Acts on the pending signals; returns true when asked to exit. */
static bool handle_signals(struct relay *r)
{
	struct signalfd_siginfo si;

	while (read(r->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGUSR1:
			outage_blackhole(r);
			break;
		case SIGHUP:
			outage_cut(r);
			break;
		case SIGUSR2:
			outage_end(r);
			break;
		default:
			say("stopping on signal %u", si.ssi_signo);
			return true;
		}
	}
	return false;
}

/* Fills r->pfds: the signalfd, the listener, then two per connection (fd
 * -1 for a side with nothing to do, so no POLLHUP spins and an outage
 * never touches a socket).  Returns the count. */
static size_t build_pollfds(struct relay *r, int *timeout)
{
	size_t i, n = 2 + 2 * r->nconns;
	int s;

	if (n > r->pfds_cap) {
		struct pollfd *p = realloc(r->pfds, n * sizeof(*p));

		if (!p)
			die("out of memory");
		r->pfds = p;
		r->pfds_cap = n;
	}
	r->pfds[0] = (struct pollfd){ .fd = r->sig_fd, .events = POLLIN };
	r->pfds[1] = (struct pollfd){ .fd = r->listen_fd, .events = POLLIN };
	*timeout = -1;
	if (r->accept_resume.tv_sec) {
		long ms = ms_until(&r->accept_resume);

		if (ms > 0) {
			r->pfds[1].fd = -1;
			*timeout = (int)ms;
		} else {
			r->accept_resume.tv_sec = 0;
		}
	}
	for (i = 0; i < r->nconns; i++) {
		const struct conn *c = r->conns[i];

		for (s = 0; s < 2; s++) {
			struct pollfd *p = &r->pfds[2 + 2 * i + s];
			short ev = 0;

			if (r->state == LINK_UP) {
				if (want_read(c, s))
					ev |= POLLIN;
				if (want_write(c, s) || (s == 1 && c->connecting))
					ev |= POLLOUT;
			}
			*p = (struct pollfd){ .fd = ev ? c->fd[s] : -1, .events = ev };
		}
	}
	return n;
}

static int run(struct relay *r)
{
	for (;;) {
		size_t i, n, nconns = r->nconns;
		int timeout;

		n = build_pollfds(r, &timeout);
		if (poll(r->pfds, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (r->pfds[0].revents) {
			if (handle_signals(r))
				return 0;
			sweep(r);
			continue;	/* the state changed: recompute every event */
		}
		for (i = 0; i < nconns; i++) {
			const short rev[2] = { r->pfds[2 + 2 * i].revents, r->pfds[3 + 2 * i].revents };

			if (rev[0] || rev[1])
				conn_pump(r, r->conns[i], rev);
		}
		sweep(r);
		if (r->pfds[1].revents)
			accept_some(r);
	}
}

/* "HOST:PORT" of a bound socket, IPv6 in brackets. */
static void local_name(int fd, char *out, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, size, "?");
		return;
	}
	snprintf(out, size, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

static struct addrinfo *resolve_target(const char *spec)
{
	struct addrinfo hints, *res;
	char host[256], port[16];
	int rc;

	if (netaddr_split(spec, host, sizeof(host), port, sizeof(port)) < 0)
		die("--to %s: expected HOST:PORT (an IPv6 host in brackets)", spec);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		die("--to %s: %s", spec, gai_strerror(rc));
	return res;
}

static void usage(FILE *f)
{
	fputs("usage: tcprelay --listen HOST:PORT --to HOST:PORT [--pidfile FILE]\n"
	      "  SIGUSR1 starts an outage (blackhole: silence, nothing closed),\n"
	      "  SIGHUP an abrupt one (everything reset, new connections refused),\n"
	      "  SIGUSR2 ends it (every older connection reset), SIGTERM exits.\n", f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "to", required_argument, NULL, 't' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct relay r = { .state = LINK_UP };
	const char *listen_spec = NULL, *pidfile = NULL;
	char why[128] = "";
	char name[NI_MAXHOST + NI_MAXSERV + 4];
	sigset_t set;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "l:t:p:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			listen_spec = optarg;
			break;
		case 't':
			r.to_spec = optarg;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!listen_spec || !r.to_spec || optind != argc) {
		usage(stderr);
		return 2;
	}

	/* signals first: one that arrives before the loop must wait for it */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		die("sigprocmask: %s", strerror(errno));
	r.sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (r.sig_fd < 0)
		die("signalfd: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);

	r.to = resolve_target(r.to_spec);
	r.listen_fd = netaddr_listen(listen_spec, why, sizeof(why));
	if (r.listen_fd < 0)
		die("--listen %s: %s", listen_spec, why);
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");

		if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0)
			die("--pidfile %s: %s", pidfile, strerror(errno));
	}
	local_name(r.listen_fd, name, sizeof(name));
	say("listening on %s", name);

	rc = run(&r);

	close_all(&r, false);	/* as if killed: the kernel closes them */
	sweep(&r);
	free(r.conns);
	free(r.pfds);
	freeaddrinfo(r.to);
	close(r.listen_fd);
	close(r.sig_fd);
	if (pidfile)
		unlink(pidfile);
	return rc;
}
