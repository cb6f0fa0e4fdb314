/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Virtual devices driven through vdev_stream by a simulated host: standard
 * requests, Bulk-Only Transport with SCSI against a real image file,
 * source/sink patterns, unlink, and back-pressure. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/byteorder.h"
#include "vdev/vdev_stream.h"

#define IMAGE_BLOCKS 128

struct host {
	struct vdev *dev;
	struct vdev_stream vs;
	struct usbip_validator *val;  /* the host's own view of the stream */
	struct usbip_framer to, from;
	uint32_t seqnum;
	char image[64];
};

struct reply {
	int32_t status;
	uint32_t actual;
	uint8_t data[65536];
};

static void image_pattern(uint8_t *p, size_t n, size_t start)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)((start + i) * 2654435761u >> 13);
}

static int host_open(void **state, const char *kind)
{
	struct host *h = calloc(1, sizeof(*h));
	char spec[96], why[128];
	int rc;

	assert_non_null(h);
	if (strcmp(kind, "storage") == 0) {
		static uint8_t img[IMAGE_BLOCKS * 512];
		int fd;

		snprintf(h->image, sizeof(h->image), "/tmp/usbws-test-image-XXXXXX");
		fd = mkstemp(h->image);
		assert_true(fd >= 0);
		image_pattern(img, sizeof(img), 0);
		assert_int_equal(write(fd, img, sizeof(img)), (ssize_t)sizeof(img));
		close(fd);
		snprintf(spec, sizeof(spec), "storage:%s", h->image);
	} else {
		snprintf(spec, sizeof(spec), "%s", kind);
	}
	rc = vdev_open(spec, "7-1", &h->dev, why, sizeof(why));
	assert_usbws_err(rc, 0);
	assert_usbws_err(vdev_stream_init(&h->vs, h->dev, 1 << 20, 256 << 10, 16), 0);
	h->val = usbip_validator_new(NULL);
	usbip_framer_init(&h->to, USBIP_FLOW_TO_DEVICE, h->val);
	usbip_framer_init(&h->from, USBIP_FLOW_FROM_DEVICE, h->val);
	usbip_framer_start_urb_phase(&h->to);
	usbip_framer_start_urb_phase(&h->from);
	h->seqnum = 1;
	*state = h;
	return 0;
}

static int open_storage(void **state) { return host_open(state, "storage"); }
static int open_sourcesink(void **state) { return host_open(state, "sourcesink"); }

static int host_close(void **state)
{
	struct host *h = *state;

	vdev_stream_free(&h->vs);
	vdev_close(h->dev);
	usbip_validator_free(h->val);
	if (h->image[0])
		unlink(h->image);
	free(h);
	return 0;
}

/* Sends bytes to the device, which must take them all. */
static void host_send(struct host *h, const uint8_t *p, size_t n)
{
	size_t used;

	assert_usbws_err(selftest_frame_all(&h->to, p, n, 0, NULL), 0);
	assert_usbws_err(vdev_stream_feed(&h->vs, p, n, &used), 0);
	assert_int_equal(used, n);
}

/* Reads exactly one reply from the device's tx ring, span by span. */
static void host_receive(struct host *h, struct usbip_header *hdr, struct reply *r)
{
	struct ring *tx = vdev_stream_tx(&h->vs);
	struct usbip_event ev;
	size_t used, pos = 0, run;
	const uint8_t *span;
	int rc;

	r->actual = 0;
	for (;;) {
		span = ring_peek(tx, pos, &run);
		rc = usbip_framer_feed(&h->from, span, run, &used, &ev);
		pos += used;
		/* the reply goes on past the ring's end */
		if (rc == 0 && run && used == run)
			continue;
		assert_true(rc > 0);
		if (ev.type == USBIP_EV_URB) {
			*hdr = ev.u.urb.hdr;
			if (hdr->base.command == USBIP_RET_SUBMIT)
				r->status = hdr->u.ret_submit.status;
		} else if (ev.type == USBIP_EV_DATA) {
			memcpy(r->data + r->actual, ev.u.data.ptr, ev.u.data.len);
			r->actual += (uint32_t)ev.u.data.len;
		} else if (ev.type == USBIP_EV_END) {
			break;
		}
	}
	ring_consume(tx, pos);
	if (hdr->base.command == USBIP_RET_SUBMIT)
		r->actual = hdr->u.ret_submit.actual_length;
}

static int32_t xfer(struct host *h, uint32_t dir, uint32_t ep, const uint8_t setup[8],
		    const void *out, uint32_t len, struct reply *r)
{
	static uint8_t buf[48 + 65536];
	struct usbip_header cmd = make_cmd_submit(h->seqnum++, dir, ep, len, 0), ret;
	int n;

	if (setup)
		memcpy(cmd.u.cmd_submit.setup, setup, 8);
	n = usbip_encode_urb(buf, sizeof(buf), &cmd, 0, out, dir == USBIP_DIR_OUT ? len : 0, NULL, 0);
	assert_true(n > 0);
	host_send(h, buf, (size_t)n);
	host_receive(h, &ret, r);
	assert_int_equal(ret.base.seqnum, cmd.base.seqnum);
	assert_int_equal(ring_len(vdev_stream_tx(&h->vs)), 0);
	return r->status;
}

static int32_t control(struct host *h, uint8_t type, uint8_t req, uint16_t value, uint16_t index,
		       uint16_t length, struct reply *r)
{
	uint8_t setup[8] = { type, req, (uint8_t)value, (uint8_t)(value >> 8),
			     (uint8_t)index, (uint8_t)(index >> 8), (uint8_t)length, (uint8_t)(length >> 8) };

	return xfer(h, (type & 0x80) ? USBIP_DIR_IN : USBIP_DIR_OUT, 0, setup, NULL, length, r);
}

static struct reply r;

static void test_storage_enumeration(void **state)
{
	struct host *h = *state;

	assert_int_equal(control(h, 0x80, 6, 0x0100, 0, 64, &r), 0);
	assert_int_equal(r.actual, 18);
	assert_int_equal(r.data[0], 18);
	assert_int_equal(r.data[8] | r.data[9] << 8, 0x0525);
	assert_int_equal(r.data[10] | r.data[11] << 8, 0xa4a5);
	/* configuration header first, then the whole thing */
	assert_int_equal(control(h, 0x80, 6, 0x0200, 0, 9, &r), 0);
	assert_int_equal(r.actual, 9);
	assert_int_equal(r.data[2] | r.data[3] << 8, 32);
	assert_int_equal(control(h, 0x80, 6, 0x0200, 0, 255, &r), 0);
	assert_int_equal(r.actual, 32);
	assert_int_equal(r.data[9 + 5], 0x08);   /* interface class: mass storage */
	assert_int_equal(r.data[18 + 2], 0x81);  /* bulk IN */
	/* product string, UTF-16LE */
	assert_int_equal(control(h, 0x80, 6, 0x0302, 0x0409, 255, &r), 0);
	assert_int_equal(r.actual, 2 + 2 * strlen("usbws virtual storage"));
	assert_int_equal(r.data[2], 'u');
	assert_int_equal(r.data[3], 0);
	/* the serial is 12 hex digits */
	assert_int_equal(control(h, 0x80, 6, 0x0303, 0x0409, 255, &r), 0);
	assert_int_equal(r.actual, 26);
	assert_int_equal(control(h, 0x80, 6, 0x0307, 0x0409, 255, &r), -EPIPE);
	/* bulk before configuration stalls */
	assert_int_equal(xfer(h, USBIP_DIR_IN, 1, NULL, NULL, 13, &r), -EPIPE);
	assert_int_equal(control(h, 0x00, 9, 2, 0, 0, &r), -EPIPE);
	assert_int_equal(control(h, 0x00, 9, 1, 0, 0, &r), 0);
	assert_int_equal(control(h, 0x80, 8, 0, 0, 1, &r), 0);
	assert_int_equal(r.data[0], 1);
	assert_int_equal(control(h, 0x01, 11, 0, 0, 0, &r), 0);
	assert_int_equal(control(h, 0x01, 11, 1, 0, 0, &r), -EPIPE);
	assert_int_equal(control(h, 0xa1, 0xfe, 0, 0, 1, &r), 0);     /* Get Max LUN */
	assert_int_equal(r.data[0], 0);
	assert_int_equal(control(h, 0xc0, 0x33, 0, 0, 4, &r), -EPIPE); /* vendor: unknown */
	/* what a USB/IP listing shows */
	assert_string_equal(h->dev->info.busid, "7-1");
	assert_int_equal(h->dev->info.id_vendor, 0x0525);
	assert_int_equal(h->dev->info.b_num_interfaces, 1);
	assert_int_equal(h->dev->interfaces[0].b_interface_class, 0x08);
	assert_int_equal(h->dev->interfaces[0].b_interface_subclass, 0x06);
	assert_int_equal(h->dev->interfaces[0].b_interface_protocol, 0x50);
}

/* One SCSI command through BOT: CBW, data phase, CSW.  Returns the CSW status. */
static int scsi(struct host *h, const uint8_t *cdb, uint8_t cdb_len, int dir_in, uint32_t length,
		const uint8_t *out, uint8_t *in, uint32_t chunk, uint32_t *residue)
{
	static uint32_t tag = 0x1000;
	uint8_t cbw[31] = { 'U', 'S', 'B', 'C' };
	uint32_t done = 0;

	tag++;
	memcpy(cbw + 4, &tag, 4);            /* little-endian host */
	memcpy(cbw + 8, &length, 4);
	cbw[12] = dir_in ? 0x80 : 0;
	cbw[14] = cdb_len;
	memcpy(cbw + 15, cdb, cdb_len);
	assert_int_equal(xfer(h, USBIP_DIR_OUT, 2, NULL, cbw, 31, &r), 0);
	while (done < length) {
		uint32_t n = length - done < chunk ? length - done : chunk;

		if (dir_in) {
			assert_int_equal(xfer(h, USBIP_DIR_IN, 1, NULL, NULL, n, &r), 0);
			memcpy(in + done, r.data, r.actual);
			done += r.actual;
			if (r.actual < n)
				break;
		} else {
			assert_int_equal(xfer(h, USBIP_DIR_OUT, 2, NULL, out + done, n, &r), 0);
			done += n;
		}
	}
	assert_int_equal(xfer(h, USBIP_DIR_IN, 1, NULL, NULL, 13, &r), 0);
	assert_int_equal(r.actual, 13);
	assert_memory_equal(r.data, "USBS", 4);
	assert_memory_equal(r.data + 4, &tag, 4);
	memcpy(residue, r.data + 8, 4);
	return r.data[12];
}

static void test_storage_scsi(void **state)
{
	struct host *h = *state;
	static uint8_t in[65536], want[65536], out[4 * 512];
	uint8_t cdb[16];
	uint32_t residue;
	int fd;

	assert_int_equal(control(h, 0x00, 9, 1, 0, 0, &r), 0);
	memset(cdb, 0, sizeof(cdb));
	/* TEST UNIT READY */
	assert_int_equal(scsi(h, cdb, 6, 0, 0, NULL, NULL, 512, &residue), 0);
	/* INQUIRY */
	cdb[0] = 0x12; cdb[4] = 36;
	assert_int_equal(scsi(h, cdb, 6, 1, 36, NULL, in, 512, &residue), 0);
	assert_int_equal(residue, 0);
	assert_memory_equal(in + 8, "usbws   virtual disk    ", 24);
	/* READ CAPACITY(10): last block and block size */
	memset(cdb, 0, sizeof(cdb)); cdb[0] = 0x25;
	assert_int_equal(scsi(h, cdb, 10, 1, 8, NULL, in, 512, &residue), 0);
	assert_int_equal(get_be32(in), IMAGE_BLOCKS - 1);
	assert_int_equal(get_be32(in + 4), 512);
	/* READ(10): 16 blocks from LBA 8, in 4 KiB URBs */
	memset(cdb, 0, sizeof(cdb)); cdb[0] = 0x28; put_be32(cdb + 2, 8); put_be16(cdb + 7, 16);
	assert_int_equal(scsi(h, cdb, 10, 1, 16 * 512, NULL, in, 4096, &residue), 0);
	image_pattern(want, 16 * 512, 8 * 512);
	assert_memory_equal(in, want, 16 * 512);
	assert_int_equal(residue, 0);
	/* WRITE(10): 4 blocks at LBA 100 land in the file */
	image_pattern(out, sizeof(out), 999);
	memset(cdb, 0, sizeof(cdb)); cdb[0] = 0x2a; put_be32(cdb + 2, 100); put_be16(cdb + 7, 4);
	assert_int_equal(scsi(h, cdb, 10, 0, sizeof(out), out, NULL, 1024, &residue), 0);
	fd = open(h->image, O_RDONLY);
	assert_int_equal(pread(fd, in, sizeof(out), 100 * 512), (ssize_t)sizeof(out));
	close(fd);
	assert_memory_equal(in, out, sizeof(out));
	/* and read back through the device */
	memset(cdb, 0, sizeof(cdb)); cdb[0] = 0x28; put_be32(cdb + 2, 100); put_be16(cdb + 7, 4);
	assert_int_equal(scsi(h, cdb, 10, 1, sizeof(out), NULL, in, 65536, &residue), 0);
	assert_memory_equal(in, out, sizeof(out));
	/* READ past the end fails with LBA OUT OF RANGE in the sense data */
	memset(cdb, 0, sizeof(cdb)); cdb[0] = 0x28; put_be32(cdb + 2, IMAGE_BLOCKS - 1); put_be16(cdb + 7, 2);
	assert_int_equal(scsi(h, cdb, 10, 1, 1024, NULL, in, 1024, &residue), 1);
	assert_int_equal(residue, 1024);
	memset(cdb, 0, sizeof(cdb)); cdb[0] = 0x03; cdb[4] = 18;
	assert_int_equal(scsi(h, cdb, 6, 1, 18, NULL, in, 512, &residue), 0);
	assert_int_equal(in[2], 0x05);
	assert_int_equal(in[12], 0x21);
	/* an unknown opcode: INVALID COMMAND OPERATION CODE */
	memset(cdb, 0, sizeof(cdb)); cdb[0] = 0xa0;
	assert_int_equal(scsi(h, cdb, 12, 0, 0, NULL, NULL, 512, &residue), 1);
	memset(cdb, 0, sizeof(cdb)); cdb[0] = 0x03; cdb[4] = 18;
	assert_int_equal(scsi(h, cdb, 6, 1, 18, NULL, in, 512, &residue), 0);
	assert_int_equal(in[12], 0x20);
	/* MODE SENSE(6): a 4-byte header, not write-protected */
	memset(cdb, 0, sizeof(cdb)); cdb[0] = 0x1a; cdb[2] = 0x3f; cdb[4] = 192;
	assert_int_equal(scsi(h, cdb, 6, 1, 192, NULL, in, 512, &residue), 0);
	assert_int_equal(residue, 188);
	assert_int_equal(in[0], 3);
	assert_int_equal(in[2], 0);
}

static void test_storage_invalid_cbw_stalls_until_reset(void **state)
{
	struct host *h = *state;
	uint8_t bad[31] = { 'U', 'S', 'B', 'X' };

	assert_int_equal(control(h, 0x00, 9, 1, 0, 0, &r), 0);
	assert_int_equal(xfer(h, USBIP_DIR_OUT, 2, NULL, bad, 31, &r), -EPIPE);
	assert_int_equal(xfer(h, USBIP_DIR_IN, 1, NULL, NULL, 13, &r), -EPIPE);
	/* GET_STATUS on the IN endpoint shows the halt */
	assert_int_equal(control(h, 0x82, 0, 0, 0x81, 2, &r), 0);
	assert_int_equal(r.data[0], 1);
	/* reset recovery: class reset, then clear both halts */
	assert_int_equal(control(h, 0x21, 0xff, 0, 0, 0, &r), 0);
	assert_int_equal(control(h, 0x02, 1, 0, 0x81, 0, &r), 0);
	assert_int_equal(control(h, 0x02, 1, 0, 0x02, 0, &r), 0);
	assert_int_equal(control(h, 0x82, 0, 0, 0x81, 2, &r), 0);
	assert_int_equal(r.data[0], 0);
	uint8_t cdb[16] = {0};
	uint32_t residue;

	assert_int_equal(scsi(h, cdb, 6, 0, 0, NULL, NULL, 512, &residue), 0);
}

static void test_storage_open_errors(void **state)
{
	char path[] = "/tmp/usbws-test-odd-XXXXXX";
	struct vdev *d;
	char why[128];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	close(fd);
	assert_usbws_err(vdev_open("storage:/nonexistent/usbws.img", "1-1", &d, why, sizeof(why)), USBWS_ERR_SYSTEM);
	assert_string_equal(why, "cannot open the image file");
	assert_usbws_err(vdev_open(path + 0, "1-1", &d, why, sizeof(why)), USBWS_ERR_INVAL);
	assert_string_equal(why, "unknown virtual device (use storage:PATH or sourcesink)");
	char spec[64];

	snprintf(spec, sizeof(spec), "storage:%s", path);
	assert_usbws_err(vdev_open(spec, "1-1", &d, why, sizeof(why)), USBWS_ERR_INVAL);
	assert_string_equal(why, "the image must be a regular, non-empty file whose size is a multiple of 512 bytes");
	unlink(path);
}

static void test_sourcesink_pattern(void **state)
{
	struct host *h = *state;
	static uint8_t out[65536];
	uint32_t i;

	assert_int_equal(control(h, 0x00, 9, 1, 0, 0, &r), 0);
	assert_int_equal(xfer(h, USBIP_DIR_IN, 1, NULL, NULL, 65536, &r), 0);
	assert_int_equal(r.actual, 65536);
	for (i = 0; i < 65536; i++)
		assert_int_equal(r.data[i], i % 63);
	for (i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i % 63);
	assert_int_equal(xfer(h, USBIP_DIR_OUT, 2, NULL, out, sizeof(out), &r), 0);
	assert_int_equal(r.actual, sizeof(out));
	out[40000] ^= 1;
	assert_int_equal(xfer(h, USBIP_DIR_OUT, 2, NULL, out, sizeof(out), &r), -EILSEQ);
	assert_int_equal(xfer(h, USBIP_DIR_IN, 3, NULL, NULL, 64, &r), -EPIPE);
}

static void test_unlink_and_iso(void **state)
{
	struct host *h = *state;
	struct usbip_iso_packet_descriptor iso[2] = { { 0, 64, 0, 0 }, { 64, 64, 0, 0 } };
	struct usbip_header cmd, ret;
	uint8_t buf[256];
	int n;

	cmd = make_cmd_unlink(h->seqnum++, 1);
	n = usbip_encode_urb(buf, sizeof(buf), &cmd, 0, NULL, 0, NULL, 0);
	host_send(h, buf, (size_t)n);
	host_receive(h, &ret, &r);
	assert_int_equal(ret.base.command, USBIP_RET_UNLINK);
	assert_int_equal(ret.u.ret_unlink.status, 0);
	/* an ISO URB: no such endpoint, answered with its descriptors */
	cmd = make_cmd_submit(h->seqnum++, USBIP_DIR_IN, 3, 128, 2);
	n = usbip_encode_urb(buf, sizeof(buf), &cmd, 0, NULL, 0, iso, 2);
	host_send(h, buf, (size_t)n);
	host_receive(h, &ret, &r);
	assert_int_equal(ret.u.ret_submit.status, -EPIPE);
	assert_int_equal(ret.u.ret_submit.number_of_packets, 2);
	assert_int_equal(usbip_validator_inflight(h->val), 0);
}

/* A host that queues far more than it reads: the device takes input only
 * while its reply buffer is under the high-water mark. */
static void test_back_pressure(void **state)
{
	struct host *h = *state;
	static uint8_t stream[20 * 48];
	struct ring *tx = vdev_stream_tx(&h->vs);
	struct usbip_header ret;
	size_t used, pos = 0, peak = 0;
	unsigned int i, got = 0;

	assert_int_equal(control(h, 0x00, 9, 1, 0, 0, &r), 0);
	for (i = 0; i < 20; i++) {
		struct usbip_header cmd = make_cmd_submit(h->seqnum++, USBIP_DIR_IN, 1, 65536, 0);

		usbip_header_encode(stream + i * 48, 48, &cmd);
	}
	assert_usbws_err(selftest_frame_all(&h->to, stream, sizeof(stream), 0, NULL), 0);
	while (got < 20) {
		assert_usbws_err(vdev_stream_feed(&h->vs, stream + pos, sizeof(stream) - pos, &used), 0);
		pos += used;
		if (ring_len(tx) > peak)
			peak = ring_len(tx);
		/* 256 KiB high water: never more than that plus one reply */
		assert_true(ring_len(tx) <= (256u << 10) + 48 + 65536);
		assert_true(pos < sizeof(stream) || got >= 14);
		host_receive(h, &ret, &r);
		assert_int_equal(r.actual, 65536);
		got++;
	}
	assert_int_equal(pos, sizeof(stream));
	assert_true(peak >= (256u << 10));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_storage_enumeration, open_storage, host_close),
		cmocka_unit_test_setup_teardown(test_storage_scsi, open_storage, host_close),
		cmocka_unit_test_setup_teardown(test_storage_invalid_cbw_stalls_until_reset, open_storage, host_close),
		cmocka_unit_test(test_storage_open_errors),
		cmocka_unit_test_setup_teardown(test_sourcesink_pattern, open_sourcesink, host_close),
		cmocka_unit_test_setup_teardown(test_unlink_and_iso, open_sourcesink, host_close),
		cmocka_unit_test_setup_teardown(test_back_pressure, open_sourcesink, host_close),
	};

	return cmocka_run_group_tests_name("vdev", tests, NULL, NULL);
}
