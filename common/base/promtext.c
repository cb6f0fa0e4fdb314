/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "base/promtext.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/usbws_err.h"

static int appendf(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int appendf(struct buf *out, const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return USBWS_ERR_NOSPACE;
	return buf_append(out, line, (size_t)n);
}

static int append(struct buf *out, const char *s)
{
	return buf_append(out, s, strlen(s));
}

/* A label value as the format quotes it: \\, \" and \n escaped, every
 * other byte as it is (the values are printable UTF-8 already). */
static int append_value(struct buf *out, const char *v)
{
	size_t run;
	int rc = 0;

	while (*v && rc == 0) {
		run = strcspn(v, "\\\"\n");
		rc = buf_append(out, v, run);
		v += run;
		if (rc == 0 && *v) {
			rc = append(out, *v == '\n' ? "\\n" : *v == '"' ? "\\\"" : "\\\\");
			v++;
		}
	}
	return rc;
}

static int append_labels(struct buf *out, const struct promtext_label *labels, size_t n, const char *le)
{
	size_t i;
	int rc;

	if (!n && !le)
		return 0;
	rc = append(out, "{");
	for (i = 0; i < n && rc == 0; i++) {
		rc = appendf(out, "%s%s=\"", i ? "," : "", labels[i].name);
		if (rc == 0)
			rc = append_value(out, labels[i].value);
		if (rc == 0)
			rc = append(out, "\"");
	}
	if (rc == 0 && le)
		rc = appendf(out, "%sle=\"%s\"", n ? "," : "", le);
	return rc ? rc : append(out, "}");
}

int promtext_family(struct buf *out, const char *name, enum promtext_type type, const char *help)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	int rc = appendf(out, "# HELP %s ", name);

	/* HELP escapes only backslash and newline; ours are constants without */
	if (rc == 0)
		rc = append(out, help);
	return rc ? rc : appendf(out, "\n# TYPE %s %s\n", name, types[type]);
}

static int sample_start(struct buf *out, const char *name, const char *suffix, const struct promtext_label *labels,
			size_t n, const char *le)
{
	int rc = appendf(out, "%s%s", name, suffix);

	return rc ? rc : append_labels(out, labels, n, le);
}

int promtext_sample(struct buf *out, const char *name, const struct promtext_label *labels, size_t nlabels,
		    uint64_t value)
{
	int rc = sample_start(out, name, "", labels, nlabels, NULL);

	return rc ? rc : appendf(out, " %llu\n", (unsigned long long)value);
}

int promtext_sample_double(struct buf *out, const char *name, const struct promtext_label *labels, size_t nlabels,
			   double value)
{
	int rc = sample_start(out, name, "", labels, nlabels, NULL);

	/* %.17g gives back the same double; Go's parser reads it */
	return rc ? rc : appendf(out, " %.17g\n", value);
}

int promtext_histogram(struct buf *out, const char *name, const struct promtext_label *labels, size_t nlabels,
		       const struct promtext_histogram *h)
{
	uint64_t cumulative = 0;
	char le[32];
	size_t i;
	int rc = 0;

	for (i = 0; i <= h->nbounds && rc == 0; i++) {
		cumulative += h->counts[i];
		if (i < h->nbounds)
			snprintf(le, sizeof(le), "%g", h->bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		rc = sample_start(out, name, "_bucket", labels, nlabels, le);
		if (rc == 0)
			rc = appendf(out, " %llu\n", (unsigned long long)cumulative);
	}
	if (rc == 0)
		rc = sample_start(out, name, "_sum", labels, nlabels, NULL);
	if (rc == 0)
		rc = appendf(out, " %.17g\n", h->sum);
	if (rc == 0)
		rc = sample_start(out, name, "_count", labels, nlabels, NULL);
	return rc ? rc : appendf(out, " %llu\n", (unsigned long long)cumulative);
}
