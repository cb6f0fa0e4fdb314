/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "testutil.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

size_t hex_decode(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *hex; hex++) {
		int v;

		if (isspace((unsigned char)*hex))
			continue;
		assert_true(isxdigit((unsigned char)*hex));
		v = isdigit((unsigned char)*hex) ? *hex - '0' : (tolower((unsigned char)*hex) - 'a' + 10);
		if (hi < 0) {
			hi = v;
		} else {
			assert_true(n < cap);
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	assert_int_equal(hi, -1);
	return n;
}

struct usbip_header make_cmd_submit(uint32_t seqnum, uint32_t dir, uint32_t ep, uint32_t len,
				    uint32_t npackets)
{
	struct usbip_header h;

	memset(&h, 0, sizeof(h));
	h.base.command = USBIP_CMD_SUBMIT;
	h.base.seqnum = seqnum;
	h.base.devid = 0x00010002;
	h.base.direction = dir;
	h.base.ep = ep;
	h.u.cmd_submit.transfer_buffer_length = len;
	h.u.cmd_submit.number_of_packets = npackets;
	return h;
}

struct usbip_header make_ret_submit(uint32_t seqnum, uint32_t actual, uint32_t npackets)
{
	struct usbip_header h;

	memset(&h, 0, sizeof(h));
	h.base.command = USBIP_RET_SUBMIT;
	h.base.seqnum = seqnum;
	h.u.ret_submit.actual_length = actual;
	h.u.ret_submit.number_of_packets = npackets;
	return h;
}

struct usbip_header make_cmd_unlink(uint32_t seqnum, uint32_t target)
{
	struct usbip_header h;

	memset(&h, 0, sizeof(h));
	h.base.command = USBIP_CMD_UNLINK;
	h.base.seqnum = seqnum;
	h.base.devid = 0x00010002;
	h.u.cmd_unlink.unlink_seqnum = target;
	return h;
}

struct usbip_header make_ret_unlink(uint32_t seqnum, int32_t status)
{
	struct usbip_header h;

	memset(&h, 0, sizeof(h));
	h.base.command = USBIP_RET_UNLINK;
	h.base.seqnum = seqnum;
	h.u.ret_unlink.status = status;
	return h;
}

struct usbip_exported_device make_device(uint32_t seed, uint8_t n_interfaces)
{
	struct usbip_exported_device d;
	uint8_t i;

	memset(&d, 0, sizeof(d));
	snprintf(d.udev.path, sizeof(d.udev.path), "/sys/devices/pci0000:00/0000:00:1d.%u/usb3/3-%u",
		 seed, seed);
	snprintf(d.udev.busid, sizeof(d.udev.busid), "3-%u", seed);
	d.udev.busnum = 3;
	d.udev.devnum = 10 + seed;
	d.udev.speed = USBIP_SPEED_HIGH;
	d.udev.id_vendor = (uint16_t)(0x1000 + seed);
	d.udev.id_product = (uint16_t)(0x2000 + seed);
	d.udev.bcd_device = 0x0100;
	d.udev.b_device_class = 0xef;
	d.udev.b_device_subclass = 0x02;
	d.udev.b_device_protocol = 0x01;
	d.udev.b_configuration_value = 1;
	d.udev.b_num_configurations = 1;
	d.udev.b_num_interfaces = n_interfaces;
	for (i = 0; i < n_interfaces; i++)
		d.interfaces[i] = (struct usbip_usb_interface){ (uint8_t)(0x08 + i), (uint8_t)(0x06 + i), 0x50 };
	return d;
}

void _assert_usbws_err(int rc, int want, const char *file, int line)
{
	if (rc == want)
		return;
	print_error("got %d (%s), want %d (%s)\n", rc, rc <= 0 ? usbws_strerror(rc) : "a byte count",
		    want, want <= 0 ? usbws_strerror(want) : "a byte count");
	_fail(file, line);
}
