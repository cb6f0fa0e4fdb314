/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/usbws_err.h"
#include "base/utf8.h"

#define COLUMN_GAP "  "

struct table {
	const struct table_column *cols;
	size_t ncols;
	size_t nrows, cap; /* rows held, and room for */
	char **cells;      /* nrows * ncols, each printable and NUL-terminated */
	size_t *widths;    /* the same, in characters */
};

/* The length of the UTF-8 sequence s[0..len) starts with, or 0 when its
 * first byte starts none or the sequence is cut short. */
static size_t sequence_len(const unsigned char *s, size_t len)
{
	size_t n = s[0] < 0x80          ? 1
		: (s[0] & 0xe0) == 0xc0 ? 2
		: (s[0] & 0xf0) == 0xe0 ? 3
		: (s[0] & 0xf8) == 0xf0 ? 4
					: 0;
	size_t k;

	if (n > len)
		return 0;
	for (k = 1; k < n; k++)
		if ((s[k] & 0xc0) != 0x80)
			return 0;
	return n;
}

size_t table_printable(char *out, size_t cap, const char *in)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t len = in ? strlen(in) : 0, i = 0, o = 0, width = 0;

	if (!cap)
		return 0;
	while (i < len) {
		size_t n = sequence_len(s + i, len - i);
		int ok = n && utf8_printable(s + i, n);
		size_t put = ok ? n : 1;

		if (o + put >= cap)
			break;
		if (ok)
			memcpy(out + o, s + i, n);
		else
			out[o] = '?';
		o += put;
		/* a sequence that is whole but not printable is one '?' */
		i += n ? n : 1;
		width++;
	}
	out[o] = '\0';
	return width;
}

struct table *table_new(const struct table_column *cols, size_t ncols)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cols = cols;
	t->ncols = ncols;
	return t;
}

void table_free(struct table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->widths);
	free(t);
}

size_t table_rows(const struct table *t)
{
	return t->nrows;
}

static int grow(struct table *t)
{
	size_t cap = t->cap ? 2 * t->cap : 16;
	char **cells = realloc(t->cells, cap * t->ncols * sizeof(*cells));
	size_t *widths;

	if (!cells)
		return USBWS_ERR_NOMEM;
	t->cells = cells;
	widths = realloc(t->widths, cap * t->ncols * sizeof(*widths));
	if (!widths)
		return USBWS_ERR_NOMEM;
	t->widths = widths;
	t->cap = cap;
	return 0;
}

int table_add(struct table *t, const char *const *cells)
{
	size_t base = t->nrows * t->ncols, c;

	if (t->nrows == t->cap && grow(t) < 0)
		return USBWS_ERR_NOMEM;
	for (c = 0; c < t->ncols; c++) {
		const char *in = cells[c] && *cells[c] ? cells[c] : "-";
		/* a character becomes at most 4 bytes: '?' for one bad byte is fewer */
		size_t cap = strlen(in) + 1;

		t->cells[base + c] = malloc(cap);
		if (!t->cells[base + c]) {
			while (c-- > 0)
				free(t->cells[base + c]);
			return USBWS_ERR_NOMEM;
		}
		t->widths[base + c] = table_printable(t->cells[base + c], cap, in);
	}
	t->nrows++;
	return 0;
}

static void pad(FILE *out, size_t n)
{
	while (n--)
		fputc(' ', out);
}

/* One line: text[c] of width[c] for each column. */
static void print_line(const struct table *t, const size_t *col_width, const char *const *text,
		       const size_t *width, FILE *out)
{
	size_t c;

	for (c = 0; c < t->ncols; c++) {
		size_t room = col_width[c] - width[c];

		if (c)
			fputs(COLUMN_GAP, out);
		if (t->cols[c].align == TABLE_RIGHT)
			pad(out, room);
		fputs(text[c], out);
		/* the last column is not padded: no blanks end a line */
		if (t->cols[c].align == TABLE_LEFT && c + 1 < t->ncols)
			pad(out, room);
	}
	fputc('\n', out);
}

int table_print(const struct table *t, FILE *out)
{
	size_t *col_width = calloc(t->ncols ? t->ncols : 1, 2 * sizeof(*col_width)), *header_width;
	const char **headers = calloc(t->ncols ? t->ncols : 1, sizeof(*headers));
	size_t r, c;
	int rc = 0;

	if (!col_width || !headers) {
		free(col_width);
		free(headers);
		errno = ENOMEM;
		return USBWS_ERR_SYSTEM;
	}
	header_width = col_width + t->ncols;
	for (c = 0; c < t->ncols; c++) {
		headers[c] = t->cols[c].header;
		header_width[c] = col_width[c] = strlen(headers[c]);
	}
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++)
			if (t->widths[r * t->ncols + c] > col_width[c])
				col_width[c] = t->widths[r * t->ncols + c];
	print_line(t, col_width, headers, header_width, out);
	for (r = 0; r < t->nrows; r++)
		print_line(t, col_width, (const char *const *)t->cells + r * t->ncols, t->widths + r * t->ncols,
			   out);
	if (fflush(out) != 0 || ferror(out))
		rc = USBWS_ERR_SYSTEM;
	free(col_width);
	free(headers);
	return rc;
}
