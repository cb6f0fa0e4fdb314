/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target for the usb.ids index and search (usbids_index, usbids_find),
 * differential: every lookup through the index must give what a plain
 * linear scan of the text gives (the first vendor entry of an id wins, its
 * products end at the next line that is not a comment or indented).
 * Input: 2 bytes of product id, then the file's text (not NUL-terminated).
 */
#include <string.h>

#include "fuzz_common.h"
#include "kernel/usbids.h"

#define MAX_LOOKUPS 64

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The reference: an entry "XXXX  Name" after exactly `tabs` tabs; fills *id and name. */
static int ref_entry(const char *l, size_t n, size_t tabs, unsigned int *id, char *name, size_t cap)
{
	size_t i;

	for (i = 0; i < tabs; i++)
		if (i >= n || l[i] != '\t')
			return 0;
	l += tabs;
	n -= tabs;
	if (n < 6 || l[4] != ' ')
		return 0;
	*id = 0;
	for (i = 0; i < 4; i++) {
		if (hexval((unsigned char)l[i]) < 0)
			return 0;
		*id = *id << 4 | (unsigned int)hexval((unsigned char)l[i]);
	}
	while (i < n && l[i] == ' ')
		i++;
	snprintf(name, cap, "%.*s", (int)(n - i > 1024 ? 1024 : n - i), l + i);
	return 1;
}

/* what snprintf "%s" does, without the truncation warning */
static void ref_copy(char *out, size_t cap, const char *name)
{
	size_t k = strlen(name);

	if (k >= cap)
		k = cap - 1;
	memcpy(out, name, k);
	out[k] = '\0';
}

static void ref_find(const char *text, size_t len, unsigned int vid, unsigned int pid, char *vendor, size_t vcap,
		     char *product, size_t pcap)
{
	size_t pos = 0;
	int in_vendor = 0;

	vendor[0] = product[0] = '\0';
	while (pos < len) {
		const char *l = text + pos, *nl = memchr(l, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - l) : len - pos;
		unsigned int id;
		char name[1100];

		pos += n + (nl ? 1 : 0);
		if (n && l[n - 1] == '\r')
			n--;
		if (in_vendor) {
			if (n && l[0] != '\t' && l[0] != '#')
				return;
			if (ref_entry(l, n, 1, &id, name, sizeof(name)) && id == pid) {
				ref_copy(product, pcap, name);
				return;
			}
			continue;
		}
		if (n >= 2 && l[0] == 'C' && l[1] == ' ')
			return;
		if (ref_entry(l, n, 0, &id, name, sizeof(name)) && id == vid) {
			ref_copy(vendor, vcap, name);
			in_vendor = 1;
		}
	}
}

static void check(const struct usbids *ids, const char *text, size_t len, unsigned int vid, unsigned int pid,
		  size_t cap)
{
	char v[300], p[300], rv[300], rp[300];

	usbids_find(ids, (uint16_t)vid, (uint16_t)pid, v, cap, p, cap);
	ref_find(text, len, vid, pid, rv, cap, rp, cap);
	FUZZ_ASSERT(strnlen(v, cap) < cap && strnlen(p, cap) < cap);
	FUZZ_ASSERT(strcmp(v, rv) == 0);
	FUZZ_ASSERT(strcmp(p, rp) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct usbids ids;
	const char *text;
	size_t len, i, cap;
	unsigned int pid;
	char *copy;

	if (size < 2)
		return 0;
	pid = (unsigned int)data[0] << 8 | data[1];
	len = size - 2;
	/* a copy of exactly the text's size, so that ASan sees any read past it */
	copy = malloc(len ? len : 1);
	FUZZ_ASSERT(copy);
	memcpy(copy, data + 2, len);
	text = copy;
	if (usbids_index(&ids, text, len) < 0) {
		free(copy);
		return 0;
	}
	/* short output buffers cut names; both sides must cut them alike */
	cap = 1 + data[0] % 200;
	for (i = 0; i < ids.n_vendors; i++) {
		FUZZ_ASSERT(ids.vendors[i].at < len);
		FUZZ_ASSERT(i == 0 || ids.vendors[i - 1].id < ids.vendors[i].id ||
			    (ids.vendors[i - 1].id == ids.vendors[i].id && ids.vendors[i - 1].at < ids.vendors[i].at));
		if (i < MAX_LOOKUPS)
			check(&ids, text, len, ids.vendors[i].id, pid, cap);
	}
	/* and ids the index may not have */
	check(&ids, text, len, pid, pid, cap);
	check(&ids, text, len, 0xffff - pid, 0, 300);
	usbids_free(&ids);
	free(copy);
	return 0;
}
