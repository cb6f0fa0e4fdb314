/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_TESTUTIL_H
#define USBWS_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "usbip/usbip_codec.h"
#include "usbip/usbip_framer.h"
#include "usbip/usbip_validator.h"
#include "usbip/selftest.h"
#include "base/usbws_err.h"

/* Decodes hex digits (whitespace ignored) into out; returns the byte count.
 * Fails the test on odd or invalid input. */
size_t hex_decode(const char *hex, uint8_t *out, size_t cap);

struct usbip_header make_cmd_submit(uint32_t seqnum, uint32_t dir, uint32_t ep, uint32_t len,
				    uint32_t npackets);
struct usbip_header make_ret_submit(uint32_t seqnum, uint32_t actual, uint32_t npackets);
struct usbip_header make_cmd_unlink(uint32_t seqnum, uint32_t target);
struct usbip_header make_ret_unlink(uint32_t seqnum, int32_t status);

/* A device with n interfaces and recognisable fields derived from seed. */
struct usbip_exported_device make_device(uint32_t seed, uint8_t n_interfaces);

/* Asserts rc equals want, printing both as sentences when it does not. */
#define assert_usbws_err(rc, want) \
	_assert_usbws_err((int)(rc), (int)(want), __FILE__, __LINE__)
void _assert_usbws_err(int rc, int want, const char *file, int line);

#endif
