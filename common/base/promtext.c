/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "base/promtext.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/usbws_err.h"

const uint64_t promtext_urb_bounds_ns[PROMTEXT_URB_BOUNDS] = {
	100000,   250000,    500000,    1000000,   2500000,    5000000,    10000000,   25000000,
	50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000,
};
const uint64_t promtext_handshake_bounds_ns[PROMTEXT_HANDSHAKE_BOUNDS] = {
	5000000,   10000000,   25000000,   50000000,   100000000,   250000000,
	500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};

static void appendf(struct promtext *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void appendf(struct promtext *p, const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int n;

	if (p->rc)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		p->rc = USBWS_ERR_NOSPACE;
	else
		p->rc = buf_append(p->out, line, (size_t)n);
}

static void append(struct promtext *p, const char *s, size_t len)
{
	if (!p->rc)
		p->rc = buf_append(p->out, s, len);
}

/* A label value as the format quotes it: \\, \" and \n escaped, every
 * other byte as it is (the values are printable UTF-8 already). */
static void append_value(struct promtext *p, const char *v)
{
	size_t run;

	while (*v && !p->rc) {
		run = strcspn(v, "\\\"\n");
		append(p, v, run);
		v += run;
		if (*v) {
			append(p, *v == '\n' ? "\\n" : *v == '"' ? "\\\"" : "\\\\", 2);
			v++;
		}
	}
}

static void append_labels(struct promtext *p, const struct promtext_label *labels, size_t n, const char *le)
{
	size_t i;

	if (!n && !le)
		return;
	append(p, "{", 1);
	for (i = 0; i < n; i++) {
		appendf(p, "%s%s=\"", i ? "," : "", labels[i].name);
		append_value(p, labels[i].value);
		append(p, "\"", 1);
	}
	if (le)
		appendf(p, "%sle=\"%s\"", n ? "," : "", le);
	append(p, "}", 1);
}

void promtext_family(struct promtext *p, const char *name, enum promtext_type type, const char *help)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };

	appendf(p, "# HELP %s ", name);
	/* HELP escapes only backslash and newline; ours are constants without */
	append(p, help, strlen(help));
	appendf(p, "\n# TYPE %s %s\n", name, types[type]);
}

static void sample_start(struct promtext *p, const char *name, const char *suffix,
			 const struct promtext_label *labels, size_t n, const char *le)
{
	appendf(p, "%s%s", name, suffix);
	append_labels(p, labels, n, le);
}

void promtext_sample(struct promtext *p, const char *name, const struct promtext_label *labels, size_t nlabels,
		     uint64_t value)
{
	sample_start(p, name, "", labels, nlabels, NULL);
	appendf(p, " %llu\n", (unsigned long long)value);
}

/* ns as seconds, exactly: 9 decimals, trailing zeros dropped */
static void seconds(char *out, size_t cap, uint64_t ns)
{
	size_t n = (size_t)snprintf(out, cap, "%llu.%09llu", (unsigned long long)(ns / 1000000000u),
				    (unsigned long long)(ns % 1000000000u));

	while (n > 1 && out[n - 1] == '0')
		out[--n] = '\0';
	if (out[n - 1] == '.')
		out[n - 1] = '\0';
}

void promtext_histogram(struct promtext *p, const char *name, const struct promtext_label *labels, size_t nlabels,
			const struct promtext_histogram *h)
{
	uint64_t cumulative = 0;
	char le[32];
	size_t i;

	for (i = 0; i <= h->nbounds; i++) {
		cumulative += h->counts[i];
		if (i < h->nbounds)
			seconds(le, sizeof(le), h->bounds_ns[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		sample_start(p, name, "_bucket", labels, nlabels, le);
		appendf(p, " %llu\n", (unsigned long long)cumulative);
	}
	seconds(le, sizeof(le), h->sum_ns);
	sample_start(p, name, "_sum", labels, nlabels, NULL);
	appendf(p, " %s\n", le);
	sample_start(p, name, "_count", labels, nlabels, NULL);
	appendf(p, " %llu\n", (unsigned long long)cumulative);
}
