/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target for what a balancer's upgrade carries (balancer.h): the
 * node's certificate header, X-Forwarded-For, and the --trusted-balancer
 * nets the operator gives.  Input: a selector byte, then the text.
 * Checks that a header is taken whole or refused with a reason that says
 * so in printable text, that a forwarded address is a numeric address or
 * nothing, and that a net that parses contains its own address, IPv4 ones
 * also as ::ffff:a.b.c.d.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/x509.h>
#include <string.h>

#include "base/usbws_err.h"
#include "fuzz_common.h"
#include "proxy/balancer.h"

static void check_why(const char *why, size_t cap)
{
	size_t i;

	FUZZ_ASSERT(why[0] != '\0');
	FUZZ_ASSERT(strnlen(why, cap) < cap);
	for (i = 0; why[i]; i++)
		FUZZ_ASSERT((unsigned char)why[i] >= 0x20 && why[i] != 0x7f);
}

static void cert_header(const char *value, size_t len)
{
	unsigned char *der = NULL;
	X509 *cert = (X509 *)1;
	char why[256];
	int rc, n;

	rc = balancer_cert_decode(value, len, &cert, why, sizeof(why));
	if (rc < 0) {
		FUZZ_ASSERT(rc == USBWS_ERR_CERT_HEADER || rc == USBWS_ERR_NOMEM);
		FUZZ_ASSERT(cert == NULL);
		check_why(why, sizeof(why));
		return;
	}
	FUZZ_ASSERT(rc == 0 && cert != NULL);
	/* one whole certificate, which OpenSSL writes back as it came */
	n = i2d_X509(cert, &der);
	FUZZ_ASSERT(n > 0 && (size_t)n <= len / 4 * 3);
	OPENSSL_free(der);
	X509_free(cert);
}

static void forwarded_for(const char *value)
{
	char out[INET6_ADDRSTRLEN + 1];
	uint8_t bin[16];
	int rc;

	memset(out, 'x', sizeof(out));
	rc = balancer_forwarded_for(value, out, sizeof(out));
	if (rc < 0) {
		FUZZ_ASSERT(rc == USBWS_ERR_INVAL);
		FUZZ_ASSERT(out[0] == '\0');
		return;
	}
	FUZZ_ASSERT(rc == 0);
	FUZZ_ASSERT(inet_pton(AF_INET, out, bin) == 1 || inet_pton(AF_INET6, out, bin) == 1);
	FUZZ_ASSERT(strstr(value, out) != NULL);
}

static void trusted_net(const char *spec)
{
	struct balancer_net net;
	struct sockaddr_in6 six = { .sin6_family = AF_INET6 };
	struct sockaddr_in four = { .sin_family = AF_INET };
	char why[512];
	int rc;

	rc = balancer_parse_net(spec, &net, why, sizeof(why));
	if (rc < 0) {
		FUZZ_ASSERT(rc == USBWS_ERR_INVAL);
		check_why(why, sizeof(why));
		return;
	}
	FUZZ_ASSERT(rc == 0);
	if (net.family == AF_INET) {
		FUZZ_ASSERT(net.prefix <= 32);
		memcpy(&four.sin_addr, net.addr, 4);
		FUZZ_ASSERT(balancer_trusted(&net, 1, (struct sockaddr *)&four, sizeof(four)) == 1);
		six.sin6_addr.s6_addr[10] = six.sin6_addr.s6_addr[11] = 0xff;
		memcpy(six.sin6_addr.s6_addr + 12, net.addr, 4);
	} else {
		FUZZ_ASSERT(net.family == AF_INET6 && net.prefix <= 128);
		memcpy(six.sin6_addr.s6_addr, net.addr, 16);
		/* an IPv6 net never matches an IPv4 peer */
		FUZZ_ASSERT(balancer_trusted(&net, 1, (struct sockaddr *)&four, sizeof(four)) == 0);
	}
	FUZZ_ASSERT(balancer_trusted(&net, 1, (struct sockaddr *)&six, sizeof(six)) == 1);
	/* a short sockaddr is nobody */
	FUZZ_ASSERT(balancer_trusted(&net, 1, (struct sockaddr *)&six, sizeof(four)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1)
		return 0;
	/* the header value as lws hands it: bytes and a length; the others
	 * as the strings the proxy passes */
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0: cert_header(text, size - 1); break;
	case 1: forwarded_for(text); break;
	default: trusted_net(text); break;
	}
	free(text);
	return 0;
}
