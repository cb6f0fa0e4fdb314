/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "kernel/usbids.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/usbws_err.h"

/* One line of the text: [*line, *line + *n), without its newline. */
static int next_line(const struct usbids *ids, size_t *pos, const char **line, size_t *n)
{
	const char *start, *nl;

	if (*pos >= ids->len)
		return 0;
	start = ids->text + *pos;
	nl = memchr(start, '\n', ids->len - *pos);
	*n = nl ? (size_t)(nl - start) : ids->len - *pos;
	*pos += *n + (nl ? 1 : 0);
	if (*n && start[*n - 1] == '\r')
		(*n)--;
	*line = start;
	return 1;
}

/* "xxxx  Name" after exactly the given number of leading tabs */
static int id_line(const char *line, size_t n, size_t tabs, unsigned int *id, const char **name, size_t *name_len)
{
	unsigned int v = 0;
	size_t i;

	for (i = 0; i < tabs; i++)
		if (i >= n || line[i] != '\t')
			return 0;
	line += tabs;
	n -= tabs;
	if (n < 6 || line[4] != ' ')
		return 0;
	for (i = 0; i < 4; i++) {
		int c = line[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F'	    ? c - 'A' + 10
						    : -1;

		if (d < 0)
			return 0;
		v = v << 4 | (unsigned int)d;
	}
	for (i = 4; i < n && line[i] == ' '; i++)
		;
	*id = v;
	*name = line + i;
	*name_len = n - i;
	return 1;
}

static int by_id(const void *a, const void *b)
{
	const struct usbids_vendor *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	/* the first of two entries for one id wins, as in a linear scan */
	return x->at < y->at ? -1 : x->at > y->at;
}

int usbids_index(struct usbids *ids, const char *text, size_t len)
{
	size_t pos = 0, cap = 0, at, n, name_len;
	const char *line, *name;
	unsigned int id;

	*ids = (struct usbids){ .text = text, .len = len };
	for (at = pos; next_line(ids, &pos, &line, &n); at = pos) {
		/* the device classes and other tables follow the vendors */
		if (n >= 2 && line[0] == 'C' && line[1] == ' ')
			break;
		if (!id_line(line, n, 0, &id, &name, &name_len))
			continue;
		if (ids->n_vendors == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			struct usbids_vendor *v = realloc(ids->vendors, ncap * sizeof(*v));

			if (!v) {
				usbids_free(ids);
				return USBWS_ERR_NOMEM;
			}
			ids->vendors = v;
			cap = ncap;
		}
		ids->vendors[ids->n_vendors++] = (struct usbids_vendor){ .id = (uint16_t)id, .at = at };
	}
	if (ids->n_vendors > 1)
		qsort(ids->vendors, ids->n_vendors, sizeof(*ids->vendors), by_id);
	return 0;
}

void usbids_free(struct usbids *ids)
{
	free(ids->vendors);
	*ids = (struct usbids){ 0 };
}

static void copy_name(char *to, size_t cap, const char *name, size_t len)
{
	snprintf(to, cap, "%.*s", (int)(len > 1024 ? 1024 : len), name);
}

void usbids_find(const struct usbids *ids, uint16_t vid, uint16_t pid, char *vendor, size_t vcap, char *product,
		 size_t pcap)
{
	size_t lo = 0, hi = ids->n_vendors, pos, n, name_len;
	const char *line, *name;
	unsigned int id;

	vendor[0] = product[0] = '\0';
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ids->vendors[mid].id < vid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == ids->n_vendors || ids->vendors[lo].id != vid)
		return;
	pos = ids->vendors[lo].at;
	next_line(ids, &pos, &line, &n);
	id_line(line, n, 0, &id, &name, &name_len);
	copy_name(vendor, vcap, name, name_len);
	while (next_line(ids, &pos, &line, &n)) {
		/* the vendor's products end at the next line that is not a comment or an interface */
		if (n && line[0] != '\t' && line[0] != '#')
			break;
		if (id_line(line, n, 1, &id, &name, &name_len) && id == pid) {
			copy_name(product, pcap, name, name_len);
			return;
		}
	}
}

static const char *ids_path(void)
{
	static const char *const candidates[] = { "/usr/share/hwdata/usb.ids", "/usr/share/misc/usb.ids" };
	const char *env = getenv("USBWS_USB_IDS");
	size_t i;

	if (env && *env)
		return env;
	for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (access(candidates[i], R_OK) == 0)
			return candidates[i];
	return NULL;
}

/* Maps and indexes the system's file; stays for the life of the process. */
static const struct usbids *system_ids(void)
{
	static struct usbids ids;
	static int tried;
	const char *path;
	struct stat st;
	void *text;
	int fd;

	if (tried)
		return &ids;
	tried = 1;
	if (!(path = ids_path()) || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return &ids;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		text = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (text != MAP_FAILED && usbids_index(&ids, text, (size_t)st.st_size) < 0)
			munmap(text, (size_t)st.st_size);
	}
	close(fd);
	return &ids;
}

void usbids_lookup(uint16_t vid, uint16_t pid, char *vendor, size_t vcap, char *product, size_t pcap)
{
	usbids_find(system_ids(), vid, pid, vendor, vcap, product, pcap);
}
