/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_OPTFILE_H
#define USBWS_OPTFILE_H
/*
 * Options files: a program's long options, one a line, read before its
 * command line (usbws-proxy(8), usbws(1): FILES).  A parser and a merge,
 * no I/O: the caller hands over each file's text (optfile_load.h reads
 * it) and then its command line, and gets one argv back for its own
 * getopt_long loop, so every option's own checks apply as if typed.
 *
 *     # a comment: a line whose first non-blank is '#'
 *     listen = 0.0.0.0:443    KEY = VALUE, KEY a long option without its
 *                             dashes; VALUE is the rest of the line, blanks
 *                             around it dropped, taken as it is ('#' and
 *                             quotes included)
 *     verbose                 a flag: its name alone, = yes, or = no
 *     crl = a.pem             an option the program takes many times may
 *     crl = b.pem             repeat; any other key given twice is refused
 *
 * Blank lines are skipped; a line may end in CRLF.  A line holds printable
 * UTF-8 (tabs aside): no NUL, control character or bidi mark.
 *
 * The merge: the last source to give an option decides it.  A key in a
 * later file replaces every value earlier files gave it (flag = no: not
 * given), and an option on the command line replaces the files' values of
 * it, a repeatable option's included.  An option's values from one source
 * keep their order.  Two names of one setting (usbws connect's --url and
 * --remote) are two keys: the program's own loop takes the last.
 */
#include <getopt.h>
#include <stddef.h>

/* The limits: a longer line, a larger file or more values is refused. */
#define OPTFILE_MAX_LINE 4096          /* bytes, the newline not counted */
#define OPTFILE_MAX_FILE (1024 * 1024) /* bytes */
#define OPTFILE_MAX_VALUES 4096        /* values in one file */

/* A program's options, as its getopt_long loop knows them. */
struct optfile_spec {
	const struct option *options;    /* its getopt_long table (no flag pointers) */
	const char *shortopts;           /* its short options, as getopt_long is given them */
	const char *const *repeatable;   /* names it takes more than once; NULL-terminated */
	const char *const *cmdline_only; /* names no file may hold (help, config, ...); NULL-terminated */
	/* names that are one setting, replaced together: a source (a later
	 * file, the command line) that gives any of them drops every one an
	 * earlier source gave (connect's device: busid, device, virtual,
	 * match, all); NULL-terminated, or NULL */
	const char *const *one_setting;
};

struct optfile; /* opaque: the files' values, and the argv made of them */

/* A set of no files yet for spec, which must outlive it.  Returns 0, or
 * USBWS_ERR_NOMEM. */
int optfile_new(const struct optfile_spec *spec, struct optfile **out);

void optfile_free(struct optfile *f);

/*
 * Adds one file's len bytes of text (need not be NUL-terminated), read
 * after the files added before; name is the file's name in messages.
 * A file is taken whole or not at all: the first line that does not parse
 * refuses it, with why "NAME:LINE: reason" (the reason quotes no control
 * character), or "NAME: reason" for the file as a whole.  Returns 0,
 * USBWS_ERR_OPTFILE or USBWS_ERR_NOMEM.
 */
int optfile_parse(struct optfile *f, const char *name, const char *text, size_t len, char *why, size_t why_cap);

/*
 * The values of the option called name on the command line argc/argv
 * (argv[0] the program), in order, as getopt_long reads them
 * (abbreviations, --name=value, a short option's letter): up to cap of
 * them into values (NULL for a flag's).  Returns how many there are, or
 * USBWS_ERR_INVAL when getopt_long would refuse the line (the program's
 * own loop then says why), USBWS_ERR_NOMEM.  Leaves argv as it was and
 * getopt ready for a new scan (optind 0).
 */
int optfile_scan(const struct optfile_spec *spec, int argc, char **argv, const char *name, const char **values,
		 size_t cap);

/*
 * The argv to parse: argv[0], then the files' values the merge keeps, one
 * "--KEY=VALUE" or "--KEY" each in the files' order, then argv[1..argc)
 * as given; NULL-terminated.  *out_argv and its strings belong to f.
 * Returns 0, or USBWS_ERR_NOMEM.  A command line getopt_long would refuse
 * replaces no file value: the program's loop refuses it anyway.
 */
int optfile_argv(struct optfile *f, int argc, char **argv, int *out_argc, char ***out_argv);

/* Where the element index of optfile_argv's argv came from: 1 with *name
 * and *line set when a file, else 0 (the command line).  After
 * getopt_long returns an option, the element that held it is optind - 1
 * when it came from a file. */
int optfile_origin(const struct optfile *f, int index, const char **name, unsigned int *line);

#endif
