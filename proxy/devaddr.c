/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "devaddr.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "base/usbws_err.h"

/* Each field ends in a NUL, which none may hold: no two sources hash the
 * same bytes.  Returns where the next field goes, or NULL past end. */
static char *put_field(char *at, const char *end, const char *s)
{
	size_t n = strlen(s) + 1;

	if (!at || n > (size_t)(end - at))
		return NULL;
	memcpy(at, s, n);
	return at + n;
}

int devaddr_make(const struct devaddr_source *src, char out[USBIP_BUSID_SIZE])
{
	int by_serial = src->serial && src->serial[0] && !src->ignore_serial;
	unsigned char digest[EVP_MAX_MD_SIZE];
	char input[512], vidpid[10], *at = input;
	size_t i, n;

	snprintf(vidpid, sizeof(vidpid), "%04x:%04x", src->vid, src->pid);
	/* the version tag leaves room for another mapping, never a silent change */
	at = put_field(at, input + sizeof(input), "usbws-devaddr-1");
	at = put_field(at, input + sizeof(input), src->node);
	at = put_field(at, input + sizeof(input), by_serial ? "serial" : "port");
	at = put_field(at, input + sizeof(input), vidpid);
	at = put_field(at, input + sizeof(input), by_serial ? src->serial : src->node_busid);
	if (!at || !EVP_Digest(input, (size_t)(at - input), digest, NULL, EVP_sha256(), NULL))
		return USBWS_ERR_INVAL;
	for (n = 0; src->node[n] && n < DEVADDR_PREFIX_MAX; n++) {
		char c = src->node[n];
		int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '.' || c == '_' || c == '-';

		out[n] = plain ? c : '_';
	}
	out[n++] = '-';
	for (i = 0; i < DEVADDR_HASH_HEX / 2; i++, n += 2)
		snprintf(out + n, 3, "%02x", digest[i]);
	out[n] = '\0';
	return by_serial;
}
