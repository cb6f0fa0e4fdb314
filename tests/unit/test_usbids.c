/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Vendor and product names from a usb.ids text (common/kernel/usbids.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "kernel/usbids.h"

/* The shapes of hwdata's file: comments, interfaces under products, CRLF,
 * vendors out of order, a repeated id, and the class table after them. */
static const char sample[] = "# usb.ids\n"
			     "#\tcomment with a tab\n"
			     "1d6b  Linux Foundation\n"
			     "\t0002  2.0 root hub\n"
			     "# a comment among the products\n"
			     "\t0104  Multifunction Composite Gadget\n"
			     "\t\t0104  an interface line, not a product\n"
			     "0781  SanDisk Corp.\r\n"
			     "\t5567  Cruzer Blade\r\n"
			     "\n"
			     "046D  Logitech, Inc.\n"
			     "\t0825  Webcam C270\n"
			     "1d6b  a second entry for 1d6b\n"
			     "\t9999  not reached\n"
			     "C 00  (Defined at Interface level)\n"
			     "abcd  after the class table\n";

static void find(const struct usbids *ids, uint16_t vid, uint16_t pid, const char *want_vendor,
		 const char *want_product)
{
	char vendor[128] = "stale", product[128] = "stale";

	usbids_find(ids, vid, pid, vendor, sizeof(vendor), product, sizeof(product));
	assert_string_equal(vendor, want_vendor);
	assert_string_equal(product, want_product);
}

static void test_names_as_lsusb_shows_them(void **state)
{
	struct usbids ids;

	(void)state;
	assert_int_equal(usbids_index(&ids, sample, strlen(sample)), 0);
	assert_int_equal(ids.n_vendors, 4);
	find(&ids, 0x1d6b, 0x0104, "Linux Foundation", "Multifunction Composite Gadget");
	find(&ids, 0x1d6b, 0x0002, "Linux Foundation", "2.0 root hub");
	find(&ids, 0x0781, 0x5567, "SanDisk Corp.", "Cruzer Blade");
	find(&ids, 0x046d, 0x0825, "Logitech, Inc.", "Webcam C270");
	usbids_free(&ids);
}

static void test_unknown_ids_give_empty_names(void **state)
{
	struct usbids ids;

	(void)state;
	assert_int_equal(usbids_index(&ids, sample, strlen(sample)), 0);
	find(&ids, 0x1d6b, 0x1234, "Linux Foundation", "");
	find(&ids, 0x0000, 0x0000, "", "");
	find(&ids, 0xffff, 0x0001, "", "");
	/* a product of the next vendor is not this vendor's */
	find(&ids, 0x0781, 0x0825, "SanDisk Corp.", "");
	/* the first entry of a repeated id wins; the table after "C " is not vendors */
	find(&ids, 0x1d6b, 0x9999, "Linux Foundation", "");
	find(&ids, 0xabcd, 0x0000, "", "");
	usbids_free(&ids);
}

static void test_names_are_cut_to_the_buffer(void **state)
{
	struct usbids ids;
	char vendor[6], product[4];

	(void)state;
	assert_int_equal(usbids_index(&ids, sample, strlen(sample)), 0);
	usbids_find(&ids, 0x0781, 0x5567, vendor, sizeof(vendor), product, sizeof(product));
	assert_string_equal(vendor, "SanDi");
	assert_string_equal(product, "Cru");
	usbids_free(&ids);
}

/* The last line need not end in a newline, and a text may hold nothing. */
static void test_ragged_texts(void **state)
{
	static const char unterminated[] = "1234  Vendor\n\t5678  Product";
	struct usbids ids;

	(void)state;
	assert_int_equal(usbids_index(&ids, unterminated, strlen(unterminated)), 0);
	find(&ids, 0x1234, 0x5678, "Vendor", "Product");
	/* the text ends inside the name: only the bytes given count */
	usbids_free(&ids);
	assert_int_equal(usbids_index(&ids, unterminated, strlen(unterminated) - 3), 0);
	find(&ids, 0x1234, 0x5678, "Vendor", "Prod");
	usbids_free(&ids);
	assert_int_equal(usbids_index(&ids, "", 0), 0);
	find(&ids, 0x1234, 0x5678, "", "");
	usbids_free(&ids);
	assert_int_equal(usbids_index(&ids, "12x4  Not an id\n12345 Nor this\n",
					 strlen("12x4  Not an id\n12345 Nor this\n")), 0);
	assert_int_equal(ids.n_vendors, 0);
	usbids_free(&ids);
}

/* usbids_lookup maps the file $USBWS_USB_IDS names, once. */
static void test_lookup_reads_the_file_once(void **state)
{
	char path[] = "/tmp/usbids-test.XXXXXX";
	char vendor[64], product[64];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, sample, strlen(sample)), (ssize_t)strlen(sample));
	close(fd);
	setenv("USBWS_USB_IDS", path, 1);
	usbids_lookup(0x046d, 0x0825, vendor, sizeof(vendor), product, sizeof(product));
	assert_string_equal(vendor, "Logitech, Inc.");
	assert_string_equal(product, "Webcam C270");
	/* the mapping stays valid after the name is gone */
	unlink(path);
	usbids_lookup(0x0781, 0x5567, vendor, sizeof(vendor), product, sizeof(product));
	assert_string_equal(vendor, "SanDisk Corp.");
	assert_string_equal(product, "Cruzer Blade");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_as_lsusb_shows_them),
		cmocka_unit_test(test_unknown_ids_give_empty_names),
		cmocka_unit_test(test_names_are_cut_to_the_buffer),
		cmocka_unit_test(test_ragged_texts),
		cmocka_unit_test(test_lookup_reads_the_file_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
