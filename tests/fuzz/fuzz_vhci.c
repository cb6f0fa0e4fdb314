/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target for vhci_hcd's status text (vhci_parse_status), what the
 * proxy reads from /sys/devices/platform/vhci_hcd.0/status*.  Input: a
 * byte for the port table's size, then the file's text.  Checks that the
 * table never overflows, that a refusal says why, and that every port read
 * is in a speed half with a terminated busid; then picks a port from it.
 */
#include <string.h>

#include "base/usbws_err.h"
#include "fuzz_common.h"
#include "kernel/vhci.h"

#define MAX_TEXT (64u << 10)  /* what vhci_scan reads of one file */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vhci_port *ports;
	size_t cap, n, i, start;
	char why[200], *text;
	int rc;

	if (size < 1 || size > MAX_TEXT)
		return 0;
	/* a table that fills up part way through is a case of its own */
	cap = data[0] % 64;
	start = data[0] & 0x40 ? 1 : 0;
	/* exactly as large as the data, so that ASan sees any read past the port table */
	ports = calloc(cap ? cap : 1, sizeof(*ports));
	text = malloc(size);
	FUZZ_ASSERT(ports && text);
	/* the file's text is NUL-terminated where sysfs_read stops */
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	n = start < cap ? start : 0;
	why[0] = '\0';
	rc = vhci_parse_status(text, data[0] >> 7, ports, cap, &n, why, sizeof(why));
	FUZZ_ASSERT(rc == 0 || rc == USBWS_ERR_INVAL || rc == USBWS_ERR_NOSPACE);
	FUZZ_ASSERT(n <= cap);
	if (rc < 0)
		FUZZ_ASSERT(why[0] != '\0' && strnlen(why, sizeof(why)) < sizeof(why));
	for (i = start < cap ? start : 0; i < n; i++) {
		FUZZ_ASSERT(ports[i].controller == (unsigned int)(data[0] >> 7));
		FUZZ_ASSERT(ports[i].superspeed == 0 || ports[i].superspeed == 1);
		FUZZ_ASSERT(strnlen(ports[i].local_busid, sizeof(ports[i].local_busid)) < sizeof(ports[i].local_busid));
	}
	if (rc == 0 && n > 0) {
		const struct vhci_port *p = vhci_pick(ports, n, data[0] & 0x20 ? 5 : 3, NULL);

		FUZZ_ASSERT(!p || (p >= ports && p < ports + n && p->status == VHCI_ST_NULL));
	}
	free(text);
	free(ports);
	return 0;
}
