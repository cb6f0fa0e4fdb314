/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vdev/usbip_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "net/netaddr.h"
#include "usbip/usbip_framer.h"
#include "base/usbws_err.h"
#include "vdev/vdev_stream.h"

#define MAX_CONNS 64
#define IN_LIMIT (64u << 10)
#define OP_REPLY_LIMIT (64u << 10)
#define URB_MAX_TRANSFER (1u << 20)
#define TX_HIGH_WATER (256u << 10)

/* One USB/IP client (usbip list -r, usbip attach): its OP request, then,
 * once it has imported a device, that device's URB stream. */
struct importer_conn {
	int fd;
	struct usbip_framer op;       /* until the import */
	struct usbip_request req;
	struct buf in;                /* read, not yet taken */
	struct buf reply;             /* OP replies of a connection that will close */
	int close_when_sent;
	int imported;                 /* index of the device, or -1 */
	struct vdev_stream vs;
};

struct usbip_server {
	int listen_fd;
	struct vdev **devs;
	size_t ndevs;
	int *busy;                    /* per device: imported */
	struct importer_conn *conns[MAX_CONNS];
};

int usbip_server_new(const char *spec, struct vdev **devs, size_t ndevs, struct usbip_server **out, char *why,
		     size_t why_cap)
{
	struct usbip_server *s = calloc(1, sizeof(*s));
	int fd;

	*out = NULL;
	if (!s || !(s->busy = calloc(ndevs ? ndevs : 1, sizeof(*s->busy)))) {
		free(s);
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM, "out of memory");
	}
	fd = netaddr_listen(spec, why, why_cap);
	if (fd < 0) {
		free(s->busy);
		free(s);
		return fd;
	}
	s->listen_fd = fd;
	s->devs = devs;
	s->ndevs = ndevs;
	*out = s;
	return 0;
}

/* What waits to go to the importer: its device's stream once imported, an
 * OP reply before.  The first contiguous part of it, *len bytes. */
static const uint8_t *conn_pending(struct importer_conn *c, size_t *len)
{
	if (c->imported >= 0)
		return ring_peek(vdev_stream_tx(&c->vs), 0, len);
	*len = buf_len(&c->reply);
	return buf_data(&c->reply);
}

static void conn_sent(struct importer_conn *c, size_t n)
{
	if (c->imported >= 0)
		ring_consume(vdev_stream_tx(&c->vs), n);
	else
		buf_consume(&c->reply, n);
}

/* rc and why are conn_io's: a rule the peer broke is worth a warning, the
 * end of a session is news. */
static void conn_close(struct usbip_server *s, int i, int rc, const char *why)
{
	struct importer_conn *c = s->conns[i];
	/* running out of memory or buffer is ours, not the peer's doing */
	int violation = rc < 0 && rc != USBWS_ERR_SYSTEM && rc != USBWS_ERR_NOMEM && rc != USBWS_ERR_NOSPACE;

	if (c->imported >= 0) {
		if (violation)
			log_warn("device %s released by its importer, which broke the USB/IP protocol: %s",
				 s->devs[c->imported]->info.busid, why);
		else
			log_info("device %s released by its importer (%s)", s->devs[c->imported]->info.busid, why);
		s->busy[c->imported] = 0;
		vdev_stream_free(&c->vs);
	} else if (violation) {
		log_warn("USB/IP peer broke the protocol: %s", why);
	} else {
		log_debug("connection closed: %s", why);
	}
	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->reply);
	free(c);
	s->conns[i] = NULL;
}

static int reply_devlist(struct usbip_server *s, struct importer_conn *c)
{
	size_t need = USBIP_DEVLIST_HEAD_SIZE + s->ndevs * USBIP_DEVLIST_DEVICE_MAX;
	uint8_t *p = buf_reserve(&c->reply, need);
	size_t i, pos;
	int n;

	if (!p)
		return USBWS_ERR_NOMEM;
	n = usbip_encode_devlist_head(p, need, (uint32_t)s->ndevs);
	if (n < 0)
		return n;
	pos = (size_t)n;
	for (i = 0; i < s->ndevs; i++) {
		n = usbip_encode_devlist_device(p + pos, need - pos, &s->devs[i]->info, s->devs[i]->interfaces);
		if (n < 0)
			return n;
		pos += (size_t)n;
	}
	buf_commit(&c->reply, pos);
	c->close_when_sent = 1;
	return 0;
}

static int reply_import(struct usbip_server *s, struct importer_conn *c)
{
	uint8_t rep[USBIP_REP_IMPORT_MAX];
	size_t i;
	int rc, n;

	for (i = 0; i < s->ndevs; i++)
		if (strcmp(s->devs[i]->info.busid, c->req.busid) == 0)
			break;
	if (i == s->ndevs || s->busy[i]) {
		uint32_t status = i == s->ndevs ? USBIP_ST_NODEV : USBIP_ST_DEV_BUSY;

		log_info("import of %s refused: %s", c->req.busid, i == s->ndevs ? "no such device" : "already imported");
		n = usbip_encode_rep_import(rep, sizeof(rep), status, NULL);
		c->close_when_sent = 1;
		return buf_append(&c->reply, rep, (size_t)n);
	}
	rc = vdev_stream_init(&c->vs, s->devs[i], URB_MAX_TRANSFER, TX_HIGH_WATER, 0);
	if (rc < 0)
		return rc;
	vdev_reset(s->devs[i]);
	n = usbip_encode_rep_import(rep, sizeof(rep), USBIP_ST_OK, &s->devs[i]->info);
	rc = ring_append(vdev_stream_tx(&c->vs), rep, (size_t)n);
	if (rc < 0) {
		vdev_stream_free(&c->vs);
		return rc;
	}
	s->busy[i] = 1;
	c->imported = (int)i;
	log_info("device %s imported", c->req.busid);
	return 0;
}

/* Runs the OP phase on buffered input; returns 0 or an error. */
static int op_phase(struct usbip_server *s, struct importer_conn *c)
{
	size_t used;
	int rc;

	while (c->imported < 0 && !c->close_when_sent) {
		rc = usbip_framer_feed_request(&c->op, buf_data(&c->in), buf_len(&c->in), &used, &c->req);
		buf_consume(&c->in, used);
		if (rc <= 0)
			return rc;
		rc = c->req.code == USBIP_OP_REQ_DEVLIST ? reply_devlist(s, c) : reply_import(s, c);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int conn_process(struct usbip_server *s, struct importer_conn *c)
{
	size_t used;
	int rc;

	rc = op_phase(s, c);
	if (rc < 0 || c->imported < 0)
		return rc;
	rc = vdev_stream_feed(&c->vs, buf_data(&c->in), buf_len(&c->in), &used);
	buf_consume(&c->in, used);
	return rc;
}

static void accept_all(struct usbip_server *s)
{
	int fd, i;

	while ((fd = netaddr_accept(s->listen_fd)) >= 0) {
		struct importer_conn *c = NULL;

		for (i = 0; i < MAX_CONNS && s->conns[i]; i++)
			;
		if (i < MAX_CONNS)
			c = calloc(1, sizeof(*c));
		if (!c) {
			log_warn("connection refused: %s", i == MAX_CONNS ? "too many connections" : "out of memory");
			close(fd);
			continue;
		}
		c->fd = fd;
		c->imported = -1;
		usbip_framer_init(&c->op, USBIP_FLOW_TO_DEVICE, NULL);
		buf_init(&c->in, 0, IN_LIMIT);
		buf_init(&c->reply, 0, OP_REPLY_LIMIT);
		s->conns[i] = c;
	}
}

static short conn_events(struct importer_conn *c)
{
	short ev = 0;
	size_t pending;

	conn_pending(c, &pending);
	if (pending)
		ev |= POLLOUT;
	/* read only while there is somewhere to put it: this is the flow
	 * control that keeps a fast writer from growing a slow session */
	if (!c->close_when_sent && buf_space(&c->in) &&
	    (c->imported < 0 || ring_len(vdev_stream_tx(&c->vs)) < TX_HIGH_WATER))
		ev |= POLLIN;
	return ev;
}

/* Returns 0 while healthy; else why is filled and the connection ends: 1
 * in the normal course, or a negative enum usbws_err (USBWS_ERR_SYSTEM: the
 * socket failed; another: the peer broke the protocol). */
static int conn_io(struct usbip_server *s, struct importer_conn *c, short revents, char *why, size_t why_cap)
{
	const uint8_t *p;
	size_t pending;
	ssize_t n;
	int rc;

	if (revents & POLLIN) {
		size_t room = buf_space(&c->in);
		uint8_t *in = buf_reserve(&c->in, room);

		n = in ? read(c->fd, in, room) : -1;
		if (n == 0)
			return usbws_why(why, why_cap, 1, "closed by the peer");
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "%s", strerror(errno));
		if (n > 0)
			buf_commit(&c->in, (size_t)n);
	}
	rc = conn_process(s, c);
	if (rc < 0)
		return usbws_why(why, why_cap, rc, "%s", usbws_strerror(rc));
	p = conn_pending(c, &pending);
	if (pending) {
		n = send(c->fd, p, pending, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "%s", strerror(errno));
		if (n > 0)
			conn_sent(c, (size_t)n);
		/* draining may let more commands through */
		rc = conn_process(s, c);
		if (rc < 0)
			return usbws_why(why, why_cap, rc, "%s", usbws_strerror(rc));
	}
	if (revents & (POLLERR | POLLHUP) && !(revents & POLLIN))
		return usbws_why(why, why_cap, 1, "connection lost");
	conn_pending(c, &pending);
	if (c->close_when_sent && !pending)
		return usbws_why(why, why_cap, 1, "request answered");
	return 0;
}

int usbip_server_run(struct usbip_server *s, volatile sig_atomic_t *stop)
{
	struct pollfd pfd[MAX_CONNS + 1];
	int map[MAX_CONNS + 1];
	int i, n;

	while (!*stop) {
		n = 0;
		pfd[n].fd = s->listen_fd;
		pfd[n].events = POLLIN;
		map[n++] = -1;
		for (i = 0; i < MAX_CONNS; i++) {
			if (!s->conns[i])
				continue;
			pfd[n].fd = s->conns[i]->fd;
			pfd[n].events = conn_events(s->conns[i]);
			map[n++] = i;
		}
		if (poll(pfd, (nfds_t)n, 500) < 0) {
			if (errno == EINTR)
				continue;
			return USBWS_ERR_SYSTEM;
		}
		if (pfd[0].revents & POLLIN)
			accept_all(s);
		for (i = 1; i < n; i++) {
			char why[128];
			int rc;

			if (!pfd[i].revents)
				continue;
			rc = conn_io(s, s->conns[map[i]], pfd[i].revents, why, sizeof(why));
			if (rc)
				conn_close(s, map[i], rc, why);
		}
	}
	return 0;
}

int usbip_server_port(const struct usbip_server *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(s->listen_fd, (struct sockaddr *)&ss, &len) < 0)
		return USBWS_ERR_SYSTEM;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void usbip_server_free(struct usbip_server *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < MAX_CONNS; i++)
		if (s->conns[i])
			conn_close(s, i, 0, "server stopping");
	close(s->listen_fd);
	free(s->busy);
	free(s);
}
