/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "base/log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum log_sink { LOG_SINK_PLAIN, LOG_SINK_TERMINAL, LOG_SINK_JOURNAL };

/* the longest line written; longer messages are cut */
#define LOG_LINE_MAX 4096

static const char *log_program = "usbws";
static enum log_level log_threshold = LOG_LEVEL_INFO;
static enum log_sink log_sink = LOG_SINK_PLAIN;

static const struct {
	const char *name, *alias;
	int syslog_priority;
} log_levels[] = {
	[LOG_LEVEL_ERR] = { "error", "err", 3 },
	[LOG_LEVEL_WARN] = { "warning", "warn", 4 },
	[LOG_LEVEL_INFO] = { "info", "info", 6 },
	[LOG_LEVEL_DEBUG] = { "debug", "debug", 7 },
};

int log_journal_stream_is(const char *value, dev_t dev, ino_t ino)
{
	uintmax_t d, i;
	char *end;

	if (!value || !*value)
		return 0;
	d = strtoumax(value, &end, 10);
	if (end == value || *end != ':')
		return 0;
	value = end + 1;
	i = strtoumax(value, &end, 10);
	if (end == value || *end)
		return 0;
	return d == (uintmax_t)dev && i == (uintmax_t)ino;
}

static enum log_sink find_sink(void)
{
	struct stat st;

	if (fstat(STDERR_FILENO, &st) < 0)
		return LOG_SINK_PLAIN;
	/* a child whose stderr went elsewhere inherits the variable: only the
	 * very stream systemd connected counts */
	if (log_journal_stream_is(getenv("JOURNAL_STREAM"), st.st_dev, st.st_ino))
		return LOG_SINK_JOURNAL;
	return isatty(STDERR_FILENO) ? LOG_SINK_TERMINAL : LOG_SINK_PLAIN;
}

void log_init(const char *program, enum log_level level)
{
	log_program = program;
	log_threshold = level;
	log_sink = find_sink();
}

void log_set_level(enum log_level level)
{
	log_threshold = level;
}

enum log_level log_get_level(void)
{
	return log_threshold;
}

int log_parse_level(const char *name, enum log_level *level)
{
	size_t i;

	for (i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (strcmp(name, log_levels[i].name) == 0 || strcmp(name, log_levels[i].alias) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	return -1;
}

/* The local time, to the millisecond, and a blank. */
static size_t format_time(char *out, size_t cap)
{
	struct timespec now;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &now);
	localtime_r(&now.tv_sec, &tm);
	n = strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
	return n + (size_t)snprintf(out + n, cap - n, ".%03ld ", now.tv_nsec / 1000000);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	size_t n = 0;
	va_list ap;
	int m;

	if (level > log_threshold)
		return;
	if (log_sink == LOG_SINK_JOURNAL) {
		/* the journal knows the program and the time; a hotplug child's
		 * name (usbws[1-1]) still says whose line it is */
		n = (size_t)snprintf(line, sizeof(line), "<%d>", log_levels[level].syslog_priority);
		if (strchr(log_program, '['))
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%s: ", log_program);
	} else {
		if (log_sink == LOG_SINK_TERMINAL)
			n = format_time(line, sizeof(line));
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s: %s: ", log_program, log_levels[level].name);
	}
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	/* a longer line is cut, never split */
	n = m < 0 ? n : n + (size_t)m >= sizeof(line) - 1 ? sizeof(line) - 2 : n + (size_t)m;
	line[n++] = '\n';
	/* one write a line: threads and the processes sharing the stream (a
	 * hotplug supervisor and its children) never interleave within one */
	fwrite(line, 1, n, stderr);
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
