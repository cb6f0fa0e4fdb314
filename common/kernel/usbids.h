/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_USBIDS_H
#define USBWS_USBIDS_H
/*
 * Vendor and product names from hwdata's usb.ids, as lsusb and usbip show
 * them.  usbids_lookup() maps the file once ($USBWS_USB_IDS, then
 * /usr/share/hwdata/usb.ids, then /usr/share/misc/usb.ids) and indexes its
 * vendors: a node's hello and the proxy's port listing name every device,
 * and rescanning 700 KB per device cost seconds on a slow gateway (and
 * stalled the proxy's event loop).  Without the file names are "".
 *
 * The index and the search work on any text in memory (the unit tests give
 * them their own), apart from where the text comes from.
 */
#include <stddef.h>
#include <stdint.h>

struct usbids_vendor {
	uint16_t id;
	size_t at; /* offset of the vendor's line in the text */
};

struct usbids {
	const char *text; /* not NUL-terminated */
	size_t len;
	struct usbids_vendor *vendors; /* sorted by id */
	size_t n_vendors;
};

/* Indexes text[0..len); 0, or USBWS_ERR_NOMEM.  text must outlive ids. */
int usbids_index(struct usbids *ids, const char *text, size_t len);
void usbids_free(struct usbids *ids);
/* Fills vendor and product from an index (either may be "" when unknown). */
void usbids_find(const struct usbids *ids, uint16_t vid, uint16_t pid, char *vendor, size_t vcap, char *product,
		 size_t pcap);

/* The same from the system's usb.ids, mapped and indexed on first use. */
void usbids_lookup(uint16_t vid, uint16_t pid, char *vendor, size_t vcap, char *product, size_t pcap);

#endif
