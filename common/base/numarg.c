/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "base/numarg.h"

#include <errno.h>
#include <stdlib.h>

#include "base/usbws_err.h"

int numarg_parse(const char *s, unsigned long long min, unsigned long long max, int sizes,
		unsigned long long *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-' || *s == '+' || *s == ' ')
		return USBWS_ERR_INVAL;
	if (sizes && *end) {
		int shift = *end == 'K' || *end == 'k' ? 10 : *end == 'M' || *end == 'm' ? 20 :
			    *end == 'G' || *end == 'g' ? 30 : -1;

		if (shift < 0 || end[1] || v > (max >> shift))
			return USBWS_ERR_INVAL;
		v <<= shift;
		end++;
	}
	if (*end || v < min || v > max)
		return USBWS_ERR_INVAL;
	*out = v;
	return 0;
}

int numarg_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return USBWS_ERR_INVAL;
}
