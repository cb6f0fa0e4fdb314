/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_NUMARG_H
#define USBWS_NUMARG_H

/* Command-line numbers, for both front ends. */

/* A decimal count from min to max; with sizes set, a K, M or G suffix
 * multiplies it by 2^10, 2^20 or 2^30.  Returns 0, or USBWS_ERR_INVAL when s is not one. */
int numarg_parse(const char *s, unsigned long long min, unsigned long long max, int sizes,
		unsigned long long *out);

/* A hex digit's value (either case), or USBWS_ERR_INVAL for any other
 * character. */
int numarg_hex_digit(char c);

#endif
