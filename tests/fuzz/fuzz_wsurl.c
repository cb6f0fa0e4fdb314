/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target for the proxy URL parser (wsurl_parse), which reads --url and
 * --remote, from the command line or an options file.  Invariants: no
 * crash; a refusal says why in one printable line and is USBWS_ERR_URL; an
 * accepted URL gives a host of the allowed characters, a decimal port from
 * 1 to 65535, and a path from '/', all NUL-terminated in their fields.
 * Input: the URL's bytes (cut at the first NUL, as argv would).
 */
#include <stdlib.h>
#include <string.h>

#include "base/usbws_err.h"
#include "fuzz_common.h"
#include "tunnel/wsurl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = malloc(size + 1), why[256];
	struct wsurl out;
	size_t i;
	long port;
	int rc;

	if (!url)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	memset(why, 0, sizeof(why));
	rc = wsurl_parse(url, &out, why, sizeof(why));
	if (rc < 0) {
		FUZZ_ASSERT(rc == USBWS_ERR_URL);
		FUZZ_ASSERT(why[0] != '\0' && memchr(why, '\0', sizeof(why)));
		for (i = 0; why[i]; i++)
			FUZZ_ASSERT(why[i] != '\n');
	} else {
		FUZZ_ASSERT(rc == 0);
		FUZZ_ASSERT(memchr(out.host, '\0', sizeof(out.host)) && out.host[0]);
		FUZZ_ASSERT(strspn(out.host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:") ==
			    strlen(out.host));
		FUZZ_ASSERT(memchr(out.port, '\0', sizeof(out.port)) && out.port[0]);
		FUZZ_ASSERT(strspn(out.port, "0123456789") == strlen(out.port));
		port = strtol(out.port, NULL, 10);
		FUZZ_ASSERT(port >= 1 && port <= 65535);
		FUZZ_ASSERT(memchr(out.path, '\0', sizeof(out.path)) && out.path[0] == '/');
	}
	free(url);
	return 0;
}
