/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_LOG_H
#define USBWS_LOG_H

/*
 * One log line per event, to stderr, in the form where it goes:
 *  - the journal (JOURNAL_STREAM names stderr's device and inode, as
 *    sd-daemon(3) says): "<3>message", the syslog priority as a prefix, so
 *    journalctl -p filters it and the journal adds the time and the name;
 *  - a terminal: "2026-11-29 04:05:06.123 usbws-proxy: error: message";
 *  - anything else (a file, a pipe): "usbws-proxy: error: message".
 */
#include <stddef.h>
#include <sys/types.h>

enum log_level { LOG_LEVEL_ERR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Names the program and looks once at where stderr goes. */
void log_init(const char *program, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "error", "warning", "info" or "debug" (also "err", "warn"): 0, or -1 */
int log_parse_level(const char *name, enum log_level *level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether JOURNAL_STREAM's value ("DEVICE:INODE", decimal) names this
 * device and inode: 1 or 0. */
int log_journal_stream_is(const char *value, dev_t dev, ino_t ino);

/* Copies len bytes that came from a peer into out (NUL-terminated, cut to
 * cap), each control character as '?': a peer's text must not forge log
 * lines or drive a terminal. */
void log_printable(char *out, size_t cap, const void *in, size_t len);

/*
 * Events a peer can cause at will (a refused connection, a failed
 * handshake) are logged a few at a time: the first LOG_LIMIT_BURST of each
 * kind in a LOG_LIMIT_WINDOW_MS window get their own line, the rest are
 * counted and summed up in one line when the window ends.  Zero-filled is
 * a fresh limit.
 */
#include <stdint.h>

#define LOG_LIMIT_BURST 5
#define LOG_LIMIT_WINDOW_MS 10000

struct log_limit {
	int64_t _since_ms;
	unsigned int _shown, _hidden;
};

/* Returns 1 when this event gets its own line, 0 when it is only counted. */
int log_limit_allow(struct log_limit *l, int64_t now_ms);
/* Once the window has ended: returns how many events were only counted
 * (the caller logs that sum, with what they were) and starts afresh. */
unsigned int log_limit_flush(struct log_limit *l, int64_t now_ms);

#define log_err(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
