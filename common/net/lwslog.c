/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "net/lwslog.h"

#include <libwebsockets.h>
#include <string.h>

#include "base/log.h"

static void emit(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
		n--;
	/* lws's libev plugin says so at every socket it starts or stops
	 * watching: a line per write at -v */
	if (level == LLL_NOTICE && strncmp(line, "elops_", 6) == 0)
		return;
	log_msg(level & LLL_ERR            ? LOG_LEVEL_ERR
			: level & LLL_WARN ? LOG_LEVEL_WARN
					   : LOG_LEVEL_DEBUG,
		"lws: %.*s", (int)n, line);
}

void lwslog_init(int verbose, unsigned int threads)
{
	/* lws 4.1 formats each line in one static buffer: with several
	 * threads only its rare errors and warnings are worth the chance of a
	 * garbled line */
	lws_set_log_level(LLL_ERR | LLL_WARN | (verbose && threads < 2 ? LLL_NOTICE | LLL_INFO : 0), emit);
}
