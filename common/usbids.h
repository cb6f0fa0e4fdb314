/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_USBIDS_H
#define USBWS_USBIDS_H
/*
 * Vendor and product names from hwdata's usb.ids, as lsusb and usbip show
 * them.  The file is read on first use ($USBWS_USB_IDS, then
 * /usr/share/hwdata/usb.ids, then /usr/share/misc/usb.ids); without it
 * names are empty strings.
 */
#include <stddef.h>
#include <stdint.h>

/* Fills vendor and product (either may be "" when unknown). */
void usbids_lookup(uint16_t vid, uint16_t pid, char *vendor, size_t vcap, char *product, size_t pcap);

#endif
