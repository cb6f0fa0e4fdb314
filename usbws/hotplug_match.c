/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hotplug_match.h"

#include <stdio.h>
#include <string.h>

#include "base/numarg.h"
#include "base/usbws_err.h"

#define ID_MAX_DIGITS 4
#define MATCH_EXAMPLE "expected VID:PID in hex, e.g. 0525:a4a5"

static int parse_id(const char *s, size_t len, const char *what, uint16_t *out, char *why, size_t why_cap)
{
	unsigned int v = 0;
	size_t i;

	if (len == 0)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "the %s ID is missing; " MATCH_EXAMPLE, what);
	if (len > ID_MAX_DIGITS)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL,
				 "the %s ID \"%.*s\" is longer than %d hex digits; " MATCH_EXAMPLE, what, (int)len, s,
				 ID_MAX_DIGITS);
	for (i = 0; i < len; i++) {
		int d = numarg_hex_digit(s[i]);

		if (d < 0)
			return usbws_why(why, why_cap, USBWS_ERR_INVAL,
					 "the %s ID \"%.*s\" is not hexadecimal; " MATCH_EXAMPLE, what, (int)len, s);
		v = v << 4 | (unsigned int)d;
	}
	*out = (uint16_t)v;
	return 0;
}

int hotplug_parse_match(const char *text, struct hotplug_match *m, char *why, size_t why_cap)
{
	const char *colon = strchr(text, ':');
	struct hotplug_match parsed;
	int rc;

	if (!colon)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "no colon between vendor and product; " MATCH_EXAMPLE);
	if (strchr(colon + 1, ':'))
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "more than one colon; " MATCH_EXAMPLE);
	rc = parse_id(text, (size_t)(colon - text), "vendor", &parsed.vendor, why, why_cap);
	if (rc == 0)
		rc = parse_id(colon + 1, strlen(colon + 1), "product", &parsed.product, why, why_cap);
	if (rc == 0)
		*m = parsed;
	return rc;
}

int hotplug_matches(const struct hotplug_filter *f, uint16_t vendor, uint16_t product)
{
	size_t i;

	if (f->all)
		return 1;
	for (i = 0; i < f->n_matches; i++)
		if (f->matches[i].vendor == vendor && f->matches[i].product == product)
			return 1;
	return 0;
}
