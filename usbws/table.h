/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_TABLE_H
#define USBWS_TABLE_H
/*
 * The readable listings of usbws (list, status, nodes, port): a line of
 * headers, then a line per row, each column as wide as its widest cell,
 * two spaces between columns, no blanks at the end of a line.  --json is
 * for scripts; this is for people.
 *
 * Cells are copied as they are added, and made printable: a node's name,
 * a product string or a busid may come from a peer, and must neither
 * drive the terminal nor forge a line, so each character that is not
 * printable UTF-8 (utf8_printable: C0, DEL, C1, the line separators, the
 * bidi controls, and any byte that is not UTF-8) shows as '?'.  A width
 * counts characters, not bytes.  An empty or NULL cell shows as '-'.
 */
#include <stddef.h>
#include <stdio.h>

enum table_align { TABLE_LEFT, TABLE_RIGHT /* numbers */ };

struct table_column {
	const char *header;
	enum table_align align;
};

struct table;

/* A table of ncols columns (the array is the caller's, and must outlive
 * the table); NULL when out of memory. */
struct table *table_new(const struct table_column *cols, size_t ncols);
void table_free(struct table *t);

/* Adds a row of ncols cells.  Returns 0 or USBWS_ERR_NOMEM. */
int table_add(struct table *t, const char *const *cells);
size_t table_rows(const struct table *t);

/* Writes the headers and the rows.  Returns 0, or USBWS_ERR_SYSTEM when
 * out could not take them (errno kept). */
int table_print(const struct table *t, FILE *out);

/* in made printable as a cell is, into out (NUL-terminated, cut at a
 * character to fit cap): for peer text printed outside a table.
 * Returns its width in characters. */
size_t table_printable(char *out, size_t cap, const char *in);

#endif
