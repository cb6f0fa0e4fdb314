/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>

static const char *log_program = "usbws";
static enum log_level log_threshold = LOG_LEVEL_INFO;

void log_init(const char *program, enum log_level level)
{
	log_program = program;
	log_threshold = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	va_list ap;

	if (level > log_threshold)
		return;
	/* one line, whole, whichever thread logs beside it */
	flockfile(stderr);
	fprintf(stderr, "%s: %s: ", log_program, names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void log_printable(char *out, size_t cap, const void *in, size_t len)
{
	const unsigned char *p = in;
	size_t i;

	if (!cap)
		return;
	for (i = 0; i < len && i + 1 < cap; i++)
		out[i] = p[i] < 0x20 || p[i] == 0x7f ? '?' : (char)p[i];
	out[i] = '\0';
}

int log_limit_allow(struct log_limit *l, int64_t now_ms)
{
	if (l->_shown + l->_hidden == 0)
		l->_since_ms = now_ms;
	if (l->_shown < LOG_LIMIT_BURST) {
		l->_shown++;
		return 1;
	}
	l->_hidden++;
	return 0;
}

unsigned int log_limit_flush(struct log_limit *l, int64_t now_ms)
{
	unsigned int hidden = l->_hidden;

	if (l->_shown + l->_hidden == 0 || now_ms - l->_since_ms < LOG_LIMIT_WINDOW_MS)
		return 0;
	l->_shown = l->_hidden = 0;
	return hidden;
}
