/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usbws's readable listings (usbws/table.c): columns as wide as their
 * widest cell, headers, alignment, and peer text made printable. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "usbws/table.h"

/* What t prints, in a string to free. */
static char *printed(const struct table *t)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_usbws_err(table_print(t, f), 0);
	fclose(f);
	return text;
}

static void test_layout(void **state)
{
	static const struct table_column cols[] = {
		{ "BUSID", TABLE_LEFT },
		{ "URBS", TABLE_RIGHT },
		{ "STATE", TABLE_LEFT },
		{ "NAME", TABLE_LEFT },
	};
	static const struct {
		const char *name;
		const char *cells[3][4];
		size_t nrows;
		const char *want;
	} rows[] = {
		{ "headers alone", { { NULL } }, 0, "BUSID  URBS  STATE  NAME\n" },
		{ "cells narrower than the headers",
		  { { "1-1", "7", "up", "x" } },
		  1,
		  "BUSID  URBS  STATE  NAME\n"
		  "1-1       7  up     x\n" },
		{ "the widest cell sets the width; numbers to the right; the last column unpadded",
		  { { "node-1-6b20bfb1c6dadd98", "12345", "exported", "Netchip : Gadget" },
		    { "1-2", "3", "available", "a" },
		    { "2-10", "100000", "held", "" } },
		  3,
		  "BUSID                      URBS  STATE      NAME\n"
		  "node-1-6b20bfb1c6dadd98   12345  exported   Netchip : Gadget\n"
		  "1-2                           3  available  a\n"
		  "2-10                     100000  held       -\n" },
		{ "an empty or missing cell is a dash",
		  { { "", NULL, "", "" } },
		  1,
		  "BUSID  URBS  STATE  NAME\n"
		  "-         -  -      -\n" },
		{ "a width counts characters, not bytes",
		  { { "Müller", "1", "größer", "日本" }, { "abcdefg", "1", "x", "y" } },
		  2,
		  "BUSID    URBS  STATE   NAME\n"
		  "Müller      1  größer  日本\n"
		  "abcdefg     1  x       y\n" },
	};
	size_t i, r;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct table *t = table_new(cols, 4);
		char *text;

		print_message("%s\n", rows[i].name);
		assert_non_null(t);
		for (r = 0; r < rows[i].nrows; r++)
			assert_usbws_err(table_add(t, rows[i].cells[r]), 0);
		assert_int_equal(table_rows(t), rows[i].nrows);
		text = printed(t);
		assert_string_equal(text, rows[i].want);
		free(text);
		table_free(t);
	}
}

static void test_printable(void **state)
{
	static const struct {
		const char *name, *in, *want;
		size_t width;
	} rows[] = {
		{ "plain", "node-1", "node-1", 6 },
		{ "empty", "", "", 0 },
		{ "a newline forges no line", "gw-1\nusbws: error: fake", "gw-1?usbws: error: fake", 23 },
		{ "an escape sequence drives no terminal", "\x1b[2J\x1b]0;title\x07x", "?[2J?]0;title?x", 15 },
		{ "tab, carriage return, DEL", "a\tb\rc\x7f", "a?b?c?", 6 },
		{ "C1 CSI (U+009B) is one character",
		  "a\xc2\x9b"
		  "31mb",
		  "a?31mb", 6 },
		{ "a lone C1 byte is not UTF-8",
		  "a\x9b"
		  "31mb",
		  "a?31mb", 6 },
		{ "the bidi override (U+202E)",
		  "abc\xe2\x80\xae"
		  "cba",
		  "abc?cba", 7 },
		{ "the line separator (U+2028)",
		  "a\xe2\x80\xa8"
		  "b",
		  "a?b", 3 },
		{ "an overlong slash is one character",
		  "a\xc0\xaf"
		  "b",
		  "a?b", 3 },
		{ "a surrogate",
		  "a\xed\xa0\x80"
		  "b",
		  "a?b", 3 },
		{ "a sequence cut short", "ab\xe6\x97", "ab??", 4 },
		{ "UTF-8 text is kept",
		  "Linux-USB Gadget \xe2\x80\x94 Gr\xc3\xb6\xc3\x9f"
		  "e",
		  "Linux-USB Gadget \xe2\x80\x94 Gr\xc3\xb6\xc3\x9f"
		  "e",
		  24 },
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("%s\n", rows[i].name);
		assert_int_equal(table_printable(out, sizeof(out), rows[i].in), rows[i].width);
		assert_string_equal(out, rows[i].want);
	}
	/* cut to the room there is, at a character: never half of one */
	assert_int_equal(table_printable(out, 5, "ab\xc3\xb6\xc3\xb6"), 3);
	assert_string_equal(out, "ab\xc3\xb6");
	assert_int_equal(table_printable(out, 1, "abc"), 0);
	assert_string_equal(out, "");
	assert_int_equal(table_printable(out, sizeof(out), NULL), 0);
	assert_string_equal(out, "");
}

static void test_peer_text_in_cells(void **state)
{
	static const struct table_column cols[] = { { "NODE", TABLE_LEFT }, { "PRODUCT", TABLE_LEFT } };
	const char *evil[] = { "gw\x1b[1A\r\x1b[2Kroot", "disk\nusbws: error: forged" };
	struct table *t = table_new(cols, 2);
	char *text;

	(void)state;
	assert_usbws_err(table_add(t, evil), 0);
	text = printed(t);
	/* one header line, one row: no control character reached the output */
	assert_string_equal(text,
			    "NODE             PRODUCT\n"
			    "gw?[1A??[2Kroot  disk?usbws: error: forged\n");
	free(text);
	table_free(t);
}

static void test_many_rows(void **state)
{
	static const struct table_column cols[] = { { "N", TABLE_RIGHT } };
	struct table *t = table_new(cols, 1);
	char cell[16], *text, *line;
	const char *row[1] = { cell };
	int i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		snprintf(cell, sizeof(cell), "%d", i);
		assert_usbws_err(table_add(t, row), 0);
	}
	assert_int_equal(table_rows(t), 1000);
	text = printed(t);
	/* right-aligned to the widest, 999 */
	assert_memory_equal(text, "  N\n  0\n  1\n", 12);
	line = strstr(text, "\n999\n");
	assert_non_null(line);
	assert_string_equal(line, "\n999\n");
	free(text);
	table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_printable),
		cmocka_unit_test(test_peer_text_in_cells),
		cmocka_unit_test(test_many_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
