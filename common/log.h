/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_LOG_H
#define USBWS_LOG_H

/* One log line per event, to stderr (journald takes it from there). */
#include <stddef.h>

enum log_level { LOG_LEVEL_ERR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_init(const char *program, enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copies len bytes that came from a peer into out (NUL-terminated, cut to
 * cap), each control character as '?': a peer's text must not forge log
 * lines or drive a terminal. */
void log_printable(char *out, size_t cap, const void *in, size_t len);

#define log_err(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
