/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A userspace USB/IP client for tests and benchmarks.  It imports a device
 * from any USB/IP TCP server, enumerates it, and then:
 *   list                               the server's devices
 *   read-disk BUSID FILE               the whole disk through BOT/SCSI into FILE
 *   write-disk BUSID FILE LBA          FILE onto the disk at LBA
 *   bulk BUSID in|out BYTES            source/sink throughput, pattern checked
 *   control-rtt BUSID COUNT            GET_STATUS round trips, one in flight
 *   flood BUSID COUNT HOLD             COUNT IN URBs queued, no reply read, for HOLD s
 * Options: --port N (3240), --urb BYTES (65536), --inflight N (8).
 * Benchmark results are printed as one "key=value ..." line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/byteorder.h"
#include "net/netaddr.h"
#include "usbip/usbip_framer.h"
#include "base/usbws_err.h"

#define MAX_URB (1u << 20)

struct reply {
	uint32_t seqnum;
	int32_t status;
	uint32_t actual;
	uint8_t *data;      /* IN data, at most MAX_URB */
};

struct client {
	int fd;
	uint32_t seqnum;
	uint32_t devid;
	struct usbip_validator *val;
	struct usbip_framer from;
	uint8_t rx[256 << 10];
	size_t rx_len;
	size_t rx_pos;
	struct usbip_usb_device dev;
	uint8_t ep_in, ep_out, config_value;
};

static uint32_t opt_urb = 65536, opt_inflight = 8;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "usbip-testclient: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void send_all(struct client *c, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct timespec ts = { 0, 100000 };

			nanosleep(&ts, NULL);
			continue;
		}
		if (w <= 0)
			die("send: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

static void fill_rx(struct client *c)
{
	ssize_t r;

	if (c->rx_pos == c->rx_len)
		c->rx_pos = c->rx_len = 0;
	for (;;) {
		r = recv(c->fd, c->rx + c->rx_len, sizeof(c->rx) - c->rx_len, 0);
		if (r > 0)
			break;
		if (r == 0)
			die("the server closed the connection");
		if (errno != EAGAIN && errno != EINTR)
			die("recv: %s", strerror(errno));
		struct timespec ts = { 0, 20000 };

		nanosleep(&ts, NULL);
	}
	c->rx_len += (size_t)r;
}

/* Next framer event from the server, reading as needed. */
static void next_event(struct client *c, struct usbip_event *ev)
{
	size_t used;
	int rc;

	for (;;) {
		rc = usbip_framer_feed(&c->from, c->rx + c->rx_pos, c->rx_len - c->rx_pos, &used, ev);
		c->rx_pos += used;
		if (rc > 0)
			return;
		if (rc < 0)
			die("server broke the protocol: %s", usbws_strerror(rc));
		if (c->rx_pos == c->rx_len)
			c->rx_pos = c->rx_len = 0;
		fill_rx(c);
	}
}

static void connect_to(struct client *c, const char *host, const char *port)
{
	char spec[300], why[128];

	snprintf(spec, sizeof(spec), strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
	c->fd = netaddr_connect(spec, why, sizeof(why));
	if (c->fd < 0)
		die("connect to %s: %s", spec, why);
	c->val = usbip_validator_new(NULL);
	usbip_framer_init(&c->from, USBIP_FLOW_FROM_DEVICE, c->val);
	c->seqnum = 1;
}

static void cmd_list(struct client *c)
{
	struct usbip_event ev;
	uint8_t req[8];

	usbip_op_common_encode(req, sizeof(req), USBIP_OP_REQ_DEVLIST, 0);
	send_all(c, req, sizeof(req));
	for (;;) {
		next_event(c, &ev);
		if (ev.type == USBIP_EV_OP && ev.u.op.status != USBIP_ST_OK)
			die("device list refused with status %u", ev.u.op.status);
		if (ev.type == USBIP_EV_DEVICE)
			printf("%s %04x:%04x speed=%u interfaces=%u\n", ev.u.device.busid, ev.u.device.id_vendor,
			       ev.u.device.id_product, ev.u.device.speed, ev.u.device.b_num_interfaces);
		if (ev.type == USBIP_EV_END)
			return;
	}
}

static void import(struct client *c, const char *busid)
{
	struct usbip_event ev;
	uint8_t req[40];
	int n = usbip_encode_req_import(req, sizeof(req), busid);

	if (n < 0)
		die("busid '%s': %s", busid, usbws_strerror(n));
	send_all(c, req, (size_t)n);
	for (;;) {
		next_event(c, &ev);
		if (ev.type == USBIP_EV_OP && ev.u.op.status != USBIP_ST_OK)
			die("import of %s refused with status %u", busid, ev.u.op.status);
		if (ev.type == USBIP_EV_DEVICE)
			c->dev = ev.u.device;
		if (ev.type == USBIP_EV_END)
			break;
	}
	c->devid = c->dev.busnum << 16 | c->dev.devnum;
}

static uint32_t submit(struct client *c, uint32_t dir, uint8_t ep, const uint8_t setup[8],
		       const uint8_t *out, uint32_t len)
{
	static uint8_t buf[48 + MAX_URB];
	struct usbip_header h;
	int n, rc;

	memset(&h, 0, sizeof(h));
	h.base.command = USBIP_CMD_SUBMIT;
	h.base.seqnum = c->seqnum++;
	h.base.devid = c->devid;
	h.base.direction = dir;
	h.base.ep = ep;
	h.u.cmd_submit.transfer_buffer_length = len;
	if (setup)
		memcpy(h.u.cmd_submit.setup, setup, 8);
	rc = usbip_validator_cmd(c->val, &h);
	if (rc < 0)
		die("submit: %s", usbws_strerror(rc));
	n = usbip_encode_urb(buf, sizeof(buf), &h, 0, out, dir == USBIP_DIR_OUT ? len : 0, NULL, 0);
	if (n < 0)
		die("encode: %s", usbws_strerror(n));
	send_all(c, buf, (size_t)n);
	return h.base.seqnum;
}

static void wait_reply(struct client *c, struct reply *r)
{
	struct usbip_event ev;
	uint32_t have = 0;

	r->actual = 0;
	for (;;) {
		next_event(c, &ev);
		if (ev.type == USBIP_EV_URB) {
			r->seqnum = ev.u.urb.hdr.base.seqnum;
			r->status = ev.u.urb.hdr.u.ret_submit.status;
			r->actual = ev.u.urb.hdr.u.ret_submit.actual_length;
		} else if (ev.type == USBIP_EV_DATA) {
			if (r->data)
				memcpy(r->data + have, ev.u.data.ptr, ev.u.data.len);
			have += (uint32_t)ev.u.data.len;
		} else if (ev.type == USBIP_EV_END) {
			return;
		}
	}
}

static int32_t control_in(struct client *c, uint8_t type, uint8_t req, uint16_t value, uint16_t index,
			  uint16_t length, struct reply *r)
{
	uint8_t setup[8] = { type, req, (uint8_t)value, (uint8_t)(value >> 8), (uint8_t)index,
			     (uint8_t)(index >> 8), (uint8_t)length, (uint8_t)(length >> 8) };
	uint32_t seq = submit(c, (type & 0x80) ? USBIP_DIR_IN : USBIP_DIR_OUT, 0, setup, NULL, length);

	wait_reply(c, r);
	if (r->seqnum != seq)
		die("reply to %u where %u was expected", r->seqnum, seq);
	return r->status;
}

/* Reads the descriptors, picks the first bulk pair, configures the device. */
static void enumerate(struct client *c)
{
	static uint8_t data[4096];
	struct reply r = { .data = data };
	uint16_t total, pos;

	if (control_in(c, 0x80, 6, 0x0100, 0, 18, &r) || r.actual != 18 || data[1] != 1)
		die("GET_DESCRIPTOR(DEVICE) failed (status %d, %u bytes)", r.status, r.actual);
	if (control_in(c, 0x80, 6, 0x0200, 0, 9, &r) || r.actual != 9)
		die("GET_DESCRIPTOR(CONFIG) header failed");
	total = (uint16_t)(data[2] | data[3] << 8);
	if (control_in(c, 0x80, 6, 0x0200, 0, total, &r) || r.actual != total)
		die("GET_DESCRIPTOR(CONFIG) failed");
	c->config_value = data[5];
	for (pos = data[0]; pos + 7 <= total && data[pos] >= 2; pos = (uint16_t)(pos + data[pos])) {
		if (data[pos + 1] == 5 && (data[pos + 3] & 3) == 2) {
			if ((data[pos + 2] & 0x80) && !c->ep_in)
				c->ep_in = data[pos + 2] & 0x0f;
			else if (!(data[pos + 2] & 0x80) && !c->ep_out)
				c->ep_out = data[pos + 2] & 0x0f;
		}
	}
	if (!c->ep_in || !c->ep_out)
		die("the device has no bulk IN/OUT pair");
	if (control_in(c, 0x00, 9, c->config_value, 0, 0, &r))
		die("SET_CONFIGURATION(%u) failed with status %d", c->config_value, r.status);
}

/* --- mass storage ------------------------------------------------------ */

static uint32_t bot_tag;

/* One SCSI command: CBW, data split into URBs of opt_urb with up to
 * opt_inflight in flight, CSW.  Returns the CSW status. */
static int scsi(struct client *c, const uint8_t *cdb, uint8_t cdb_len, int dir_in, uint8_t *data,
		uint32_t length)
{
	static uint8_t csw[64];
	uint8_t cbw[31] = { 'U', 'S', 'B', 'C' };
	struct reply r = { 0 };
	uint32_t sent = 0, done = 0, inflight = 0, i;

	bot_tag++;
	for (i = 0; i < 4; i++) {
		cbw[4 + i] = (uint8_t)(bot_tag >> (8 * i));
		cbw[8 + i] = (uint8_t)(length >> (8 * i));
	}
	cbw[12] = dir_in ? 0x80 : 0;
	cbw[14] = cdb_len;
	memcpy(cbw + 15, cdb, cdb_len);
	submit(c, USBIP_DIR_OUT, c->ep_out, NULL, cbw, sizeof(cbw));
	wait_reply(c, &r);
	if (r.status)
		die("CBW refused with status %d", r.status);
	/* replies arrive in submission order from a BOT device */
	while (done < length) {
		while (sent < length && inflight < opt_inflight) {
			uint32_t n = length - sent < opt_urb ? length - sent : opt_urb;

			submit(c, dir_in ? USBIP_DIR_IN : USBIP_DIR_OUT, dir_in ? c->ep_in : c->ep_out, NULL,
			       dir_in ? NULL : data + sent, n);
			sent += n;
			inflight++;
		}
		r.data = dir_in ? data + done : NULL;
		wait_reply(c, &r);
		inflight--;
		if (r.status)
			die("data URB failed with status %d", r.status);
		if (r.actual == 0)
			die("data URB moved no data");
		done += r.actual;
	}
	r.data = csw;
	submit(c, USBIP_DIR_IN, c->ep_in, NULL, NULL, 13);
	wait_reply(c, &r);
	if (r.status || r.actual != 13 || memcmp(csw, "USBS", 4) != 0)
		die("bad CSW (status %d, %u bytes)", r.status, r.actual);
	if ((uint32_t)(csw[4] | csw[5] << 8 | csw[6] << 16 | (uint32_t)csw[7] << 24) != bot_tag)
		die("CSW tag mismatch");
	return csw[12];
}

static void disk_geometry(struct client *c, uint32_t *blocks, uint32_t *block_size)
{
	uint8_t cdb[16] = { 0x12, 0, 0, 0, 36 }, data[64];

	if (scsi(c, cdb, 6, 1, data, 36))
		die("INQUIRY failed");
	memset(cdb, 0, sizeof(cdb));
	if (scsi(c, cdb, 6, 0, NULL, 0))
		die("TEST UNIT READY failed");
	cdb[0] = 0x25;
	if (scsi(c, cdb, 10, 1, data, 8))
		die("READ CAPACITY(10) failed");
	*blocks = get_be32(data) + 1;
	*block_size = get_be32(data + 4);
	if (*block_size == 0 || *block_size > 4096)
		die("odd block size %u", *block_size);
}

static void cmd_read_disk(struct client *c, const char *path)
{
	uint32_t blocks, bs, lba = 0, per_cmd;
	uint8_t *data = malloc((size_t)opt_urb * opt_inflight);
	double t0;
	int fd;

	if (!data)
		die("out of memory");
	disk_geometry(c, &blocks, &bs);
	per_cmd = opt_urb * opt_inflight / bs;
	if (per_cmd > 0xffff)
		per_cmd = 0xffff;
	fd = strcmp(path, "-") ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : 1;
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	t0 = now_s();
	while (lba < blocks) {
		uint32_t n = blocks - lba < per_cmd ? blocks - lba : per_cmd;
		uint8_t cdb[16] = { 0x28 };

		put_be32(cdb + 2, lba);
		put_be16(cdb + 7, (uint16_t)n);
		if (scsi(c, cdb, 10, 1, data, n * bs))
			die("READ(10) at LBA %u failed", lba);
		if (write(fd, data, (size_t)n * bs) != (ssize_t)(n * bs))
			die("write %s: %s", path, strerror(errno));
		lba += n;
	}
	fprintf(stderr, "read %u blocks of %u bytes in %.3f s\n", blocks, bs, now_s() - t0);
	if (fd != 1)
		close(fd);
	free(data);
}

static void cmd_write_disk(struct client *c, const char *path, uint32_t lba)
{
	uint32_t blocks, bs;
	uint8_t *data = malloc(MAX_URB);
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || !data)
		die("%s: %s", path, strerror(errno));
	disk_geometry(c, &blocks, &bs);
	while ((n = read(fd, data, MAX_URB)) > 0) {
		uint8_t cdb[16] = { 0x2a };
		uint32_t count = (uint32_t)n / bs;

		if ((uint32_t)n % bs)
			die("%s is not a whole number of %u-byte blocks", path, bs);
		put_be32(cdb + 2, lba);
		put_be16(cdb + 7, (uint16_t)count);
		if (scsi(c, cdb, 10, 0, data, (uint32_t)n))
			die("WRITE(10) at LBA %u failed", lba);
		lba += count;
	}
	close(fd);
	free(data);
}

/* --- benchmarks --------------------------------------------------------- */

static void cmd_bulk(struct client *c, const char *dir, uint64_t total)
{
	int in = strcmp(dir, "in") == 0;
	uint8_t *buf = malloc(opt_urb);
	struct reply r = { .data = in ? buf : NULL };
	uint64_t sent = 0, done = 0, urbs = 0;
	uint32_t inflight = 0, i;
	double t0, dt;

	if (!buf || (!in && strcmp(dir, "out") != 0))
		die("bulk: direction must be in or out");
	for (i = 0; i < opt_urb; i++)
		buf[i] = (uint8_t)(i % 63);
	t0 = now_s();
	while (done < total) {
		while (sent < total && inflight < opt_inflight) {
			submit(c, in ? USBIP_DIR_IN : USBIP_DIR_OUT, in ? c->ep_in : c->ep_out, NULL, buf, opt_urb);
			sent += opt_urb;
			inflight++;
		}
		wait_reply(c, &r);
		inflight--;
		if (r.status)
			die("bulk %s URB %u failed with status %d", dir, r.seqnum, r.status);
		if (r.actual != opt_urb)
			die("bulk %s URB moved %u of %u bytes", dir, r.actual, opt_urb);
		if (in)
			for (i = 0; i < opt_urb; i++)
				if (buf[i] != i % 63)
					die("bulk in: byte %u of URB %u is %u, want %u", i, r.seqnum, buf[i], i % 63);
		done += opt_urb;
		urbs++;
	}
	dt = now_s() - t0;
	printf("bulk_%s bytes=%llu urbs=%llu seconds=%.4f mbps=%.2f urbps=%.0f\n", dir,
	       (unsigned long long)done, (unsigned long long)urbs, dt, (double)done / dt / 1e6,
	       (double)urbs / dt);
	free(buf);
}

/* A reader that never reads: queues COUNT IN URBs of --urb bytes, sending
 * for at most 5 s, then holds the connection open HOLD seconds. */
static void cmd_flood(struct client *c, unsigned int count, unsigned int hold)
{
	uint8_t hdr[48];
	unsigned int sent = 0;
	double deadline = now_s() + 5;

	while (sent < count && now_s() < deadline) {
		struct usbip_header h;
		size_t off = 0;

		memset(&h, 0, sizeof(h));
		h.base.command = USBIP_CMD_SUBMIT;
		h.base.seqnum = c->seqnum++;
		h.base.devid = c->devid;
		h.base.direction = USBIP_DIR_IN;
		h.base.ep = c->ep_in;
		h.u.cmd_submit.transfer_buffer_length = opt_urb;
		usbip_header_encode(hdr, sizeof(hdr), &h);
		while (off < sizeof(hdr) && now_s() < deadline) {
			ssize_t w = send(c->fd, hdr + off, sizeof(hdr) - off, MSG_NOSIGNAL);

			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				die("send: %s", strerror(errno));
		}
		if (off == sizeof(hdr))
			sent++;
	}
	printf("flood queued=%u\n", sent);
	fflush(stdout);
	sleep(hold);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void cmd_control_rtt(struct client *c, unsigned int count)
{
	double *rtt = calloc(count ? count : 1, sizeof(*rtt));
	uint8_t data[8];
	struct reply r = { .data = data };
	unsigned int i;

	if (!rtt || count == 0)
		die("control-rtt: COUNT must be positive");
	for (i = 0; i < count; i++) {
		double t0 = now_s();

		if (control_in(c, 0x80, 0, 0, 0, 2, &r) || r.actual != 2)
			die("GET_STATUS failed with status %d", r.status);
		rtt[i] = now_s() - t0;
	}
	qsort(rtt, count, sizeof(*rtt), cmp_double);
	printf("control_rtt count=%u p50_us=%.1f p99_us=%.1f\n", count, rtt[count / 2] * 1e6,
	       rtt[(size_t)(count * 0.99) < count ? (size_t)(count * 0.99) : count - 1] * 1e6);
	free(rtt);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: usbip-testclient [--port N] [--urb BYTES] [--inflight N] HOST COMMAND ...\n"
		"  list | read-disk BUSID FILE | write-disk BUSID FILE LBA |\n"
		"  bulk BUSID in|out BYTES | control-rtt BUSID COUNT | flood BUSID COUNT HOLD\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "urb", required_argument, NULL, 'u' },
		{ "inflight", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	static struct client c;
	const char *port = "3240", *cmd;
	int o;

	while ((o = getopt_long(argc, argv, "p:u:i:", opts, NULL)) != -1) {
		switch (o) {
		case 'p': port = optarg; break;
		case 'u': opt_urb = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'i': opt_inflight = (uint32_t)strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (opt_urb == 0 || opt_urb > MAX_URB || opt_inflight == 0 || opt_inflight > 64)
		die("--urb must be 1..%u and --inflight 1..64", MAX_URB);
	if (argc - optind < 2)
		usage();
	cmd = argv[optind + 1];
	connect_to(&c, argv[optind], port);
	if (strcmp(cmd, "list") == 0) {
		cmd_list(&c);
		return 0;
	}
	if (argc - optind < 3)
		usage();
	import(&c, argv[optind + 2]);
	enumerate(&c);
	if (strcmp(cmd, "read-disk") == 0 && argc - optind == 4)
		cmd_read_disk(&c, argv[optind + 3]);
	else if (strcmp(cmd, "write-disk") == 0 && argc - optind == 5)
		cmd_write_disk(&c, argv[optind + 3], (uint32_t)strtoul(argv[optind + 4], NULL, 0));
	else if (strcmp(cmd, "bulk") == 0 && argc - optind == 5)
		cmd_bulk(&c, argv[optind + 3], strtoull(argv[optind + 4], NULL, 0));
	else if (strcmp(cmd, "flood") == 0 && argc - optind == 5)
		cmd_flood(&c, (unsigned int)strtoul(argv[optind + 3], NULL, 0),
			  (unsigned int)strtoul(argv[optind + 4], NULL, 0));
	else if (strcmp(cmd, "control-rtt") == 0 && argc - optind == 4)
		cmd_control_rtt(&c, (unsigned int)strtoul(argv[optind + 3], NULL, 0));
	else
		usage();
	close(c.fd);
	usbip_validator_free(c.val);
	return 0;
}
