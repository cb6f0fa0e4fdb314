/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Options files: parsed, and merged with the command line (optfile.h). */
#include "base/optfile.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/usbws_err.h"
#include "base/utf8.h"

/* Longer keys are no option's name: they get no "did you mean". */
#define KEY_MAX 64

struct entry {
	int option; /* its index in spec->options */
	int source; /* the file it came from, from 0 */
	int off;    /* a flag's "= no": it replaces, and gives no token */
	unsigned int line;
	char *token; /* "--KEY=VALUE" or "--KEY" */
};

struct optfile {
	const struct optfile_spec *spec;
	int noptions;
	struct entry *entries;
	size_t n, cap;
	char **names; /* each file's name, by source */
	int nsources;
	/* optfile_argv's answer, and where each of its elements came from */
	char **argv;
	const struct entry **origin; /* [i]: argv[i]'s entry, NULL for the command line's */
	int argc;
};

/* One file being parsed. */
struct parser {
	struct optfile *f;
	const char *name;
	unsigned int line;
	size_t first; /* its first entry in f->entries */
	char *why;
	size_t why_cap;
};

static int listed(const char *const *names, const char *name)
{
	for (; names && *names; names++)
		if (strcmp(*names, name) == 0)
			return 1;
	return 0;
}

int optfile_new(const struct optfile_spec *spec, struct optfile **out)
{
	struct optfile *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (!f)
		return USBWS_ERR_NOMEM;
	f->spec = spec;
	while (spec->options[f->noptions].name)
		f->noptions++;
	*out = f;
	return 0;
}

static void drop_argv(struct optfile *f)
{
	free(f->argv);
	free(f->origin);
	f->argv = NULL;
	f->origin = NULL;
	f->argc = 0;
}

void optfile_free(struct optfile *f)
{
	size_t i;
	int s;

	if (!f)
		return;
	for (i = 0; i < f->n; i++)
		free(f->entries[i].token);
	free(f->entries);
	for (s = 0; s < f->nsources; s++)
		free(f->names[s]);
	free(f->names);
	drop_argv(f);
	free(f);
}

static int fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "NAME:LINE: reason": every refusal names the line to fix. */
static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = usbws_vwhy_at(ps->why, ps->why_cap, USBWS_ERR_OPTFILE, ps->name, ps->line, fmt, ap);
	va_end(ap);
	return rc;
}

/* A word as a message quotes it: a long one cut, on a character's
 * boundary, so the reason still fits and stays UTF-8. */
static const char *shown(char out[64], const char *s, size_t len)
{
	if (len > 40) {
		len = 40;
		while (len && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
		snprintf(out, 64, "%.*s...", (int)len, s);
	} else {
		snprintf(out, 64, "%.*s", (int)len, s);
	}
	return out;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Printable UTF-8, tabs aside: utf8_printable refuses them, so the runs
 * between them are checked one by one. */
static int printable_with_tabs(const char *s, size_t len)
{
	size_t start = 0, i;

	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '\t')
			continue;
		if (!utf8_printable(s + start, i - start))
			return 0;
		start = i + 1;
	}
	return 1;
}

/* Edit distance, for "did you mean": both at most KEY_MAX bytes. */
static size_t distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t row[KEY_MAX + 1], i, j;

	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* The option a mistyped key most likely meant: the one it abbreviates, if
 * only one, else the nearest within two edits; NULL if none. */
static const char *nearest(const struct optfile *f, const char *key, size_t len)
{
	const struct option *o = f->spec->options;
	const char *best = NULL, *prefix_of = NULL;
	size_t best_d = 3;
	int i, prefixes = 0;

	if (len > KEY_MAX)
		return NULL;
	for (i = 0; i < f->noptions; i++) {
		size_t lo = strlen(o[i].name), d;

		if (listed(f->spec->cmdline_only, o[i].name) || lo > KEY_MAX)
			continue;
		if (lo > len && strncmp(o[i].name, key, len) == 0) {
			prefixes++;
			prefix_of = o[i].name;
		}
		d = distance(key, len, o[i].name, lo);
		if (d < best_d) {
			best_d = d;
			best = o[i].name;
		}
	}
	return prefixes == 1 ? prefix_of : best;
}

static int find_option(const struct optfile *f, const char *key, size_t len)
{
	int i;

	for (i = 0; i < f->noptions; i++)
		if (strlen(f->spec->options[i].name) == len && memcmp(f->spec->options[i].name, key, len) == 0)
			return i;
	return -1;
}

static int add_entry(struct parser *ps, int option, int off, const char *value, size_t vlen)
{
	struct optfile *f = ps->f;
	const char *name = f->spec->options[option].name;
	struct entry *e;
	size_t size;

	if (f->n - ps->first == OPTFILE_MAX_VALUES)
		return fail(ps, "more than %d options in one file", OPTFILE_MAX_VALUES);
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 16;
		struct entry *grown = realloc(f->entries, cap * sizeof(*grown));

		if (!grown)
			return usbws_why(ps->why, ps->why_cap, USBWS_ERR_NOMEM, "%s: out of memory", ps->name);
		f->entries = grown;
		f->cap = cap;
	}
	e = &f->entries[f->n];
	size = 2 + strlen(name) + (value ? 1 + vlen : 0) + 1;
	e->token = malloc(size);
	if (!e->token)
		return usbws_why(ps->why, ps->why_cap, USBWS_ERR_NOMEM, "%s: out of memory", ps->name);
	if (value)
		snprintf(e->token, size, "--%s=%.*s", name, (int)vlen, value);
	else
		snprintf(e->token, size, "--%s", name);
	e->option = option;
	e->source = f->nsources;
	e->off = off;
	e->line = ps->line;
	f->n++;
	return 0;
}

/* One line: blank, a comment, or KEY [= VALUE]. */
static int parse_line(struct parser *ps, const char *s, size_t len)
{
	struct optfile *f = ps->f;
	const char *key, *value = NULL;
	size_t i = 0, klen, vlen = 0, k;
	char q[64], q2[64];
	int option, has_arg, off = 0;

	if (len > OPTFILE_MAX_LINE)
		return fail(ps, "line longer than %d bytes", OPTFILE_MAX_LINE);
	/* a file written on Windows */
	if (len && s[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0')
			return fail(ps, "a NUL byte");
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(ps, "a control character (0x%02x)", c);
	}
	if (!printable_with_tabs(s, len))
		return fail(ps, "not printable UTF-8 (a malformed sequence, a C1 control or a bidi mark)");
	for (i = 0; i < len && is_blank(s[i]); i++)
		;
	if (i == len || s[i] == '#')
		return 0;
	key = s + i;
	while (i < len && !is_blank(s[i]) && s[i] != '=')
		i++;
	klen = (size_t)(s + i - key);
	if (klen == 0)
		return fail(ps, "no option name before the '='");
	if (key[0] == '-') {
		for (k = 0; k < klen && key[k] == '-'; k++)
			;
		return fail(ps, "'%s': write the option's name without its dashes, as '%s'", shown(q, key, klen),
			    shown(q2, key + k, klen - k));
	}
	option = find_option(f, key, klen);
	if (option < 0) {
		const char *guess = nearest(f, key, klen);

		if (guess)
			return fail(ps, "unknown option '%s' (did you mean '%s'?)", shown(q, key, klen), guess);
		return fail(ps, "unknown option '%s'", shown(q, key, klen));
	}
	if (listed(f->spec->cmdline_only, f->spec->options[option].name))
		return fail(ps, "'%s' belongs on the command line, not in a file", f->spec->options[option].name);
	while (i < len && is_blank(s[i]))
		i++;
	if (i < len && s[i] != '=')
		return fail(ps, "'%s' and its value need a '=' between them", f->spec->options[option].name);
	if (i < len) {
		i++;
		while (i < len && is_blank(s[i]))
			i++;
		while (len > i && is_blank(s[len - 1]))
			len--;
		value = s + i;
		vlen = len - i;
	}
	if (value && memchr(value, '\t', vlen))
		return fail(ps, "a tab inside the value of '%s'", f->spec->options[option].name);
	has_arg = f->spec->options[option].has_arg;
	if (has_arg == no_argument) {
		if (value && vlen == 2 && memcmp(value, "no", 2) == 0)
			off = 1;
		else if (value && !(vlen == 3 && memcmp(value, "yes", 3) == 0))
			return fail(ps, "'%s' is a flag: write it alone, or '= yes' or '= no', not '= %s'",
				    f->spec->options[option].name, shown(q, value, vlen));
		value = NULL;
	} else if (value && vlen == 0) {
		value = NULL;
	}
	if (has_arg == required_argument && !value)
		return fail(ps, "'%s' needs a value: '%s = VALUE'", f->spec->options[option].name,
			    f->spec->options[option].name);
	if (!listed(f->spec->repeatable, f->spec->options[option].name))
		for (k = ps->first; k < f->n; k++)
			if (f->entries[k].option == option)
				return fail(ps, "'%s' again (first on line %u); it takes one value",
					    f->spec->options[option].name, f->entries[k].line);
	return add_entry(ps, option, off, value, vlen);
}

int optfile_parse(struct optfile *f, const char *name, const char *text, size_t len, char *why, size_t why_cap)
{
	struct parser ps = {
		.f = f, .name = name ? name : "options file", .first = f->n, .why = why, .why_cap = why_cap
	};
	char **names, *copy;
	size_t pos = 0;
	int rc = 0;

	if (len > OPTFILE_MAX_FILE)
		return usbws_why(why, why_cap, USBWS_ERR_OPTFILE,
				 "%s: larger than %d bytes (1 MiB), the most an options file may hold", ps.name,
				 OPTFILE_MAX_FILE);
	names = realloc(f->names, (size_t)(f->nsources + 1) * sizeof(*names));
	if (!names)
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM, "%s: out of memory", ps.name);
	f->names = names;
	copy = strdup(ps.name);
	if (!copy)
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM, "%s: out of memory", ps.name);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;

		ps.line++;
		rc = parse_line(&ps, text + pos, end - pos);
		if (rc < 0)
			break;
		pos = end + 1;
	}
	if (rc < 0) {
		/* whole or not at all */
		while (f->n > ps.first)
			free(f->entries[--f->n].token);
		free(copy);
		return rc;
	}
	f->names[f->nsources++] = copy;
	return 0;
}

/* Calls fn for each option of the command line, as getopt_long reads it,
 * on a copy of argv (getopt_long reorders what it is given).  Returns 0,
 * USBWS_ERR_INVAL if getopt_long refuses anything, USBWS_ERR_NOMEM. */
static int scan(const struct optfile_spec *spec, int argc, char **argv,
		void (*fn)(void *ctx, int option, const char *value), void *ctx)
{
	char **copy = malloc(((size_t)(argc > 0 ? argc : 0) + 1) * sizeof(*copy));
	int saved_opterr = opterr, rc = 0, c, index;

	if (!copy)
		return USBWS_ERR_NOMEM;
	if (argc > 0)
		memcpy(copy, argv, (size_t)argc * sizeof(*copy));
	copy[argc > 0 ? argc : 0] = NULL;
	opterr = 0;
	optind = 0;
	/* to the end even past a refusal, so getopt keeps no half-read state */
	while (argc > 0 && (index = -1, c = getopt_long(argc, copy, spec->shortopts, spec->options, &index)) != -1) {
		int i;

		if (c == '?' || c == ':') {
			rc = USBWS_ERR_INVAL;
			continue;
		}
		/* a short option: getopt_long left index alone */
		for (i = 0; index < 0 && spec->options[i].name; i++)
			if (spec->options[i].val == c)
				index = i;
		if (index >= 0 && rc == 0)
			fn(ctx, index, optarg);
	}
	opterr = saved_opterr;
	optind = 0;
	free(copy);
	return rc;
}

struct values_ctx {
	int option;
	const char **values;
	size_t cap, n;
};

static void collect(void *ctx, int option, const char *value)
{
	struct values_ctx *v = ctx;

	if (option != v->option)
		return;
	if (v->n < v->cap)
		v->values[v->n] = value;
	v->n++;
}

int optfile_scan(const struct optfile_spec *spec, int argc, char **argv, const char *name, const char **values,
		 size_t cap)
{
	struct values_ctx v = { .option = -1, .values = values, .cap = values ? cap : 0 };
	int i, rc;

	for (i = 0; spec->options[i].name; i++)
		if (strcmp(spec->options[i].name, name) == 0)
			v.option = i;
	if (v.option < 0)
		return USBWS_ERR_INVAL;
	rc = scan(spec, argc, argv, collect, &v);
	return rc < 0 ? rc : (int)v.n;
}

/* The option that stands for option's setting: the first name of
 * spec->one_setting when option is one of them, else option itself. */
static int setting_of(const struct optfile *f, int option)
{
	const char *const *one = f->spec->one_setting;
	int first;

	if (!one || !*one || !listed(one, f->spec->options[option].name))
		return option;
	first = find_option(f, one[0], strlen(one[0]));
	return first >= 0 ? first : option;
}

/* given[option]: the command line gives it */
static void mark(void *ctx, int option, const char *value)
{
	int *given = ctx;

	(void)value;
	given[option] = 1;
}

int optfile_argv(struct optfile *f, int argc, char **argv, int *out_argc, char ***out_argv)
{
	size_t i, total = (size_t)(argc > 0 ? argc : 1) + f->n + 1;
	int *last, *given, n = 0, a, rc;

	drop_argv(f);
	/* last[option]: the last file that gives it, or -1; given[option]:
	 * the command line does, and so replaces them all */
	last = malloc(((size_t)f->noptions + 1) * sizeof(*last));
	given = calloc((size_t)f->noptions + 1, sizeof(*given));
	f->argv = calloc(total, sizeof(*f->argv));
	f->origin = calloc(total, sizeof(*f->origin));
	if (!last || !given || !f->argv || !f->origin) {
		rc = USBWS_ERR_NOMEM;
		goto out;
	}
	for (a = 0; a <= f->noptions; a++)
		last[a] = -1;
	/* the entries are in the files' order */
	for (i = 0; i < f->n; i++)
		last[setting_of(f, f->entries[i].option)] = f->entries[i].source;
	rc = scan(f->spec, argc, argv, mark, given);
	if (rc == USBWS_ERR_NOMEM)
		goto out;
	/* a line getopt_long refuses replaces nothing (see optfile.h) */
	if (rc < 0)
		memset(given, 0, ((size_t)f->noptions + 1) * sizeof(*given));
	for (a = 0; a < f->noptions; a++)
		if (given[a])
			given[setting_of(f, a)] = 1;
	rc = 0;
	f->argv[n++] = argc > 0 ? argv[0] : (char *)"";
	for (i = 0; i < f->n; i++) {
		const struct entry *e = &f->entries[i];

		if (e->off || given[setting_of(f, e->option)] || last[setting_of(f, e->option)] != e->source)
			continue;
		f->origin[n] = e;
		f->argv[n++] = e->token;
	}
	for (a = 1; a < argc; a++)
		f->argv[n++] = argv[a];
	f->argv[n] = NULL;
	f->argc = n;
	*out_argc = f->argc;
	*out_argv = f->argv;
out:
	if (rc < 0)
		drop_argv(f);
	free(last);
	free(given);
	return rc;
}

int optfile_origin(const struct optfile *f, int index, const char **name, unsigned int *line)
{
	const struct entry *e;

	if (!f || !f->origin || index < 0 || index >= f->argc || !f->origin[index])
		return 0;
	e = f->origin[index];
	*name = f->names[e->source];
	*line = e->line;
	return 1;
}
