/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * USB mass storage, Bulk-Only Transport, with the SCSI commands Linux's
 * sd and usb-storage drivers send.  Backed by an image file, 512-byte
 * blocks, read-write when the file is writable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/byteorder.h"
#include "base/usbws_err.h"
#include "vdev/vdev.h"

#define BLOCK_SIZE 512u
#define CBW_SIZE 31u
#define CSW_SIZE 13u
#define EP_IN 1
#define EP_OUT 2

enum bot_state { BOT_CBW, BOT_DATA_IN, BOT_DATA_OUT, BOT_CSW };
enum csw_status { CSW_GOOD = 0, CSW_FAILED = 1, CSW_PHASE_ERROR = 2 };

/* SCSI sense keys and additional sense codes used here */
enum {
	SK_NO_SENSE = 0x0, SK_MEDIUM_ERROR = 0x3, SK_ILLEGAL_REQUEST = 0x5, SK_DATA_PROTECT = 0x7,
	ASC_INVALID_OPCODE = 0x20, ASC_LBA_OUT_OF_RANGE = 0x21, ASC_INVALID_FIELD_IN_CDB = 0x24,
	ASC_WRITE_PROTECTED = 0x27, ASC_UNRECOVERED_READ = 0x11, ASC_WRITE_ERROR = 0x0c,
};

struct storage {
	struct vdev dev;
	int fd;
	int read_only;
	uint64_t blocks;

	enum bot_state state;
	uint32_t tag;
	uint32_t host_length;     /* dCBWDataTransferLength */
	uint32_t transferred;     /* bytes moved in the data phase so far */
	uint8_t status;

	/* the data phase: either a small reply buffer or a span of the image */
	int to_image;
	uint64_t image_offset;
	uint32_t data_length;     /* bytes the device means to move */
	uint8_t reply[96];

	uint8_t sense_key, asc, ascq;
	char serial[13];
	const char *strings[3];
};

static const uint8_t storage_device_desc[18] = {
	18, 1, 0x00, 0x02, 0, 0, 0, 64,
	0x25, 0x05, 0xa5, 0xa4,   /* 0525:a4a5, the kernel's file-backed storage gadget */
	0x00, 0x01, 1, 2, 3, 1,
};

static const uint8_t storage_config_desc[32] = {
	9, 2, 32, 0, 1, 1, 0, 0x80, 50,
	9, 4, 0, 0, 2, 0x08, 0x06, 0x50, 0,           /* mass storage, SCSI, bulk-only */
	7, 5, 0x80 | EP_IN, 2, 0x00, 0x02, 0,         /* bulk IN, 512 */
	7, 5, EP_OUT, 2, 0x00, 0x02, 0,               /* bulk OUT, 512 */
};

static void set_sense(struct storage *s, uint8_t key, uint8_t asc, uint8_t ascq)
{
	s->sense_key = key;
	s->asc = asc;
	s->ascq = ascq;
}

static void fail(struct storage *s, uint8_t key, uint8_t asc)
{
	set_sense(s, key, asc, 0);
	s->status = CSW_FAILED;
	s->data_length = 0;
}

static void reply_bytes(struct storage *s, const uint8_t *cdb_alloc_len_field, size_t alloc_size,
			uint32_t len)
{
	uint32_t alloc = alloc_size == 1 ? cdb_alloc_len_field[0] : get_be16(cdb_alloc_len_field);

	s->to_image = 0;
	s->data_length = len < alloc ? len : alloc;
}

static void scsi_inquiry(struct storage *s, const uint8_t *cdb)
{
	if (cdb[1] & 0x01) {   /* EVPD: only the supported-pages page and the serial */
		memset(s->reply, 0, sizeof(s->reply));
		if (cdb[2] == 0x00) {
			s->reply[3] = 2;
			s->reply[4] = 0x00;
			s->reply[5] = 0x80;
			reply_bytes(s, cdb + 3, 2, 6);
		} else if (cdb[2] == 0x80) {
			s->reply[1] = 0x80;
			s->reply[3] = 12;
			memcpy(s->reply + 4, s->serial, 12);
			reply_bytes(s, cdb + 3, 2, 16);
		} else {
			fail(s, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		}
		return;
	}
	memset(s->reply, 0, 36);
	s->reply[0] = 0x00;         /* direct-access block device */
	s->reply[1] = 0x80;         /* removable */
	s->reply[2] = 0x04;         /* SPC-2 */
	s->reply[3] = 0x02;         /* response data format */
	s->reply[4] = 31;           /* additional length */
	memcpy(s->reply + 8, "usbws   ", 8);
	memcpy(s->reply + 16, "virtual disk    ", 16);
	memcpy(s->reply + 32, "0.1 ", 4);
	reply_bytes(s, cdb + 3, 2, 36);
}

static void scsi_request_sense(struct storage *s, const uint8_t *cdb)
{
	memset(s->reply, 0, 18);
	s->reply[0] = 0x70;         /* current error, fixed format */
	s->reply[2] = s->sense_key;
	s->reply[7] = 10;
	s->reply[12] = s->asc;
	s->reply[13] = s->ascq;
	reply_bytes(s, cdb + 4, 1, 18);
	set_sense(s, SK_NO_SENSE, 0, 0);
}

static void scsi_rw10(struct storage *s, const uint8_t *cdb, int write)
{
	uint64_t lba = get_be32(cdb + 2);
	uint32_t count = get_be16(cdb + 7);

	if (lba + count > s->blocks) {
		fail(s, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return;
	}
	if (write && s->read_only) {
		fail(s, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
		return;
	}
	s->to_image = 1;
	s->image_offset = lba * BLOCK_SIZE;
	s->data_length = count * BLOCK_SIZE;
}

/* Runs the command in the CBW; sets up the data phase and the status. */
static void scsi_execute(struct storage *s, const uint8_t *cdb, uint8_t cdb_len)
{
	s->status = CSW_GOOD;
	s->to_image = 0;
	s->data_length = 0;
	if (cdb[0] != 0x03)   /* REQUEST SENSE reports the previous command's sense */
		set_sense(s, SK_NO_SENSE, 0, 0);

	switch (cdb[0]) {
	case 0x00:   /* TEST UNIT READY */
	case 0x1b:   /* START STOP UNIT */
	case 0x1e:   /* PREVENT ALLOW MEDIUM REMOVAL */
	case 0x2f:   /* VERIFY(10) */
		break;
	case 0x35:   /* SYNCHRONIZE CACHE(10) */
		if (!s->read_only && fsync(s->fd) < 0)
			fail(s, SK_MEDIUM_ERROR, ASC_WRITE_ERROR);
		break;
	case 0x03:
		scsi_request_sense(s, cdb);
		break;
	case 0x12:
		scsi_inquiry(s, cdb);
		break;
	case 0x1a:   /* MODE SENSE(6): header only, no pages; WP bit if read-only */
		memset(s->reply, 0, 4);
		s->reply[0] = 3;
		s->reply[2] = s->read_only ? 0x80 : 0x00;
		reply_bytes(s, cdb + 4, 1, 4);
		break;
	case 0x25: { /* READ CAPACITY(10) */
		uint64_t last = s->blocks - 1;

		put_be32(s->reply, last > 0xffffffffu ? 0xffffffffu : (uint32_t)last);
		put_be32(s->reply + 4, BLOCK_SIZE);
		s->to_image = 0;
		s->data_length = 8;
		break;
	}
	case 0x28:
		scsi_rw10(s, cdb, 0);
		break;
	case 0x2a:
		scsi_rw10(s, cdb, 1);
		break;
	default:
		fail(s, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		break;
	}
	(void)cdb_len;
}

static void to_csw_state(struct storage *s)
{
	s->state = BOT_CSW;
}

static void handle_cbw(struct storage *s, struct vdev_urb *u)
{
	const uint8_t *c = u->out;
	uint8_t flags, cb_len;

	/* An invalid CBW stalls both pipes until the host's reset recovery
	 * (BOT 6.6.1). */
	if (u->length != CBW_SIZE || get_be32(c) != 0x55534243u /* "USBC" */ ||
	    (cb_len = c[14]) == 0 || cb_len > 16 || c[13] != 0) {
		s->dev.halted_in |= 1u << EP_IN;
		s->dev.halted_out |= 1u << EP_OUT;
		u->status = -EPIPE;
		return;
	}
	s->tag = (uint32_t)c[4] | (uint32_t)c[5] << 8 | (uint32_t)c[6] << 16 | (uint32_t)c[7] << 24;
	s->host_length = (uint32_t)c[8] | (uint32_t)c[9] << 8 | (uint32_t)c[10] << 16 | (uint32_t)c[11] << 24;
	flags = c[12];
	s->transferred = 0;
	scsi_execute(s, c + 15, cb_len);
	u->actual = CBW_SIZE;

	if (s->host_length == 0) {
		/* the host expects no data: a command that wanted some is a
		 * phase error (BOT case 2/3) */
		if (s->data_length)
			s->status = CSW_PHASE_ERROR;
		to_csw_state(s);
	} else if (flags & 0x80) {
		s->state = BOT_DATA_IN;
	} else {
		/* host sends data: only WRITE takes it */
		if (!s->to_image && s->status == CSW_GOOD)
			s->status = CSW_PHASE_ERROR;
		s->state = BOT_DATA_OUT;
	}
}

static void data_in(struct storage *s, struct vdev_urb *u)
{
	uint32_t want = s->data_length < s->host_length ? s->data_length : s->host_length;
	uint32_t left = want - s->transferred;
	uint32_t n = u->length < left ? u->length : left;

	if (n) {
		if (s->to_image) {
			ssize_t r = pread(s->fd, u->in, n, (off_t)(s->image_offset + s->transferred));

			if (r != (ssize_t)n) {
				memset(u->in, 0, n);
				set_sense(s, SK_MEDIUM_ERROR, ASC_UNRECOVERED_READ, 0);
				s->status = CSW_FAILED;
			}
		} else {
			memcpy(u->in, s->reply + s->transferred, n);
		}
	}
	s->transferred += n;
	u->actual = n;
	/* done when our data is out, or when this packet was short */
	if (s->transferred == want || n < u->length)
		to_csw_state(s);
}

static void data_out(struct storage *s, struct vdev_urb *u)
{
	uint32_t left = s->host_length - s->transferred;
	uint32_t n = u->length < left ? u->length : left;
	uint32_t device_left = s->data_length > s->transferred ? s->data_length - s->transferred : 0;
	uint32_t w = n < device_left ? n : device_left;

	if (w && s->to_image && s->status == CSW_GOOD) {
		ssize_t r = pwrite(s->fd, u->out, w, (off_t)(s->image_offset + s->transferred));

		if (r != (ssize_t)w) {
			set_sense(s, SK_MEDIUM_ERROR, ASC_WRITE_ERROR, 0);
			s->status = CSW_FAILED;
		}
	}
	s->transferred += n;
	u->actual = n;
	if (s->transferred >= s->host_length)
		to_csw_state(s);
}

static void send_csw(struct storage *s, struct vdev_urb *u)
{
	uint32_t moved = s->transferred;
	uint32_t residue = s->host_length - moved;
	uint8_t csw[CSW_SIZE];

	if (u->length < CSW_SIZE) {
		u->status = -EOVERFLOW;
		return;
	}
	/* the device moved less than it meant to: report the shortfall */
	if (s->status == CSW_GOOD && s->data_length > s->host_length)
		s->status = CSW_PHASE_ERROR;
	put_be32(csw, 0x55534253u); /* "USBS" */
	csw[4] = (uint8_t)s->tag;
	csw[5] = (uint8_t)(s->tag >> 8);
	csw[6] = (uint8_t)(s->tag >> 16);
	csw[7] = (uint8_t)(s->tag >> 24);
	csw[8] = (uint8_t)residue;
	csw[9] = (uint8_t)(residue >> 8);
	csw[10] = (uint8_t)(residue >> 16);
	csw[11] = (uint8_t)(residue >> 24);
	csw[12] = s->status;
	memcpy(u->in, csw, CSW_SIZE);
	u->actual = CSW_SIZE;
	s->state = BOT_CBW;
}

static void storage_bulk(struct vdev *d, struct vdev_urb *u)
{
	struct storage *s = d->priv;

	if (u->direction == USBIP_DIR_OUT && u->ep == EP_OUT) {
		if (s->state == BOT_CBW)
			handle_cbw(s, u);
		else if (s->state == BOT_DATA_OUT)
			data_out(s, u);
		else
			u->status = -EPIPE;
	} else if (u->direction == USBIP_DIR_IN && u->ep == EP_IN) {
		if (s->state == BOT_DATA_IN)
			data_in(s, u);
		else if (s->state == BOT_CSW)
			send_csw(s, u);
		else
			u->status = -EPIPE;
	} else {
		u->status = -EPIPE;
	}
}

static int storage_control(struct vdev *d, struct vdev_urb *u)
{
	struct storage *s = d->priv;
	static const uint8_t max_lun = 0;

	if (u->setup[0] == 0x21 && u->setup[1] == 0xff) {         /* Bulk-Only Mass Storage Reset */
		s->state = BOT_CBW;
		return 0;
	}
	if (u->setup[0] == 0xa1 && u->setup[1] == 0xfe) {         /* Get Max LUN */
		if (u->length < 1)
			return -EPIPE;
		memcpy(u->in, &max_lun, 1);
		u->actual = 1;
		return 0;
	}
	return -EPIPE;
}

static void storage_reset(struct vdev *d)
{
	struct storage *s = d->priv;

	s->state = BOT_CBW;
	set_sense(s, SK_NO_SENSE, 0, 0);
}

static void storage_destroy(struct vdev *d)
{
	struct storage *s = d->priv;

	close(s->fd);
	free(s);
}

static const struct vdev_ops storage_ops = {
	.kind = "storage",
	.control = storage_control,
	.bulk = storage_bulk,
	.reset = storage_reset,
	.destroy = storage_destroy,
};

int vdev_storage_open(const char *path, const char *busid, struct vdev **out, char *why, size_t why_cap)
{
	struct vdev_descriptors desc = { storage_device_desc, storage_config_desc, NULL, 3 };
	struct storage *s;
	struct stat st;
	int fd, ro = 0;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EROFS)) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		ro = 1;
	}
	if (fd < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "cannot open the image file");
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0 ||
	    st.st_size % BLOCK_SIZE != 0) {
		close(fd);
		return usbws_why(why, why_cap, USBWS_ERR_INVAL,
				 "the image must be a regular, non-empty file whose size is a multiple of 512 bytes");
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM, "out of memory");
	}
	s->fd = fd;
	s->read_only = ro;
	s->blocks = (uint64_t)st.st_size / BLOCK_SIZE;
	/* a 12-digit serial, as usb-storage expects, stable per image */
	snprintf(s->serial, sizeof(s->serial), "%012llX",
		 (unsigned long long)((uint64_t)st.st_ino ^ ((uint64_t)st.st_dev << 24)) & 0xffffffffffffull);
	s->strings[0] = "usbws";
	s->strings[1] = "usbws virtual storage";
	s->strings[2] = s->serial;
	desc.strings = s->strings;
	s->dev.priv = s;
	vdev_init_common(&s->dev, &storage_ops, &desc, busid);
	*out = &s->dev;
	return 0;
}
