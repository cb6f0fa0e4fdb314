/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "balancer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/usbws_err.h"

/* ::ffff:a.b.c.d, an IPv4 peer on an IPv6 socket */
static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int balancer_parse_net(const char *spec, struct balancer_net *out, char *why, size_t why_cap)
{
	char addr[INET6_ADDRSTRLEN + 1], shown[INET6_ADDRSTRLEN + 16];
	const char *slash = strchr(spec, '/');
	size_t addr_len = slash ? (size_t)(slash - spec) : strlen(spec);
	unsigned int max, bit;
	char *end;
	long prefix;

	memset(out, 0, sizeof(*out));
	/* what the refusals quote: an argument can hold any byte */
	log_printable(shown, sizeof(shown), spec, strlen(spec));
	if (addr_len == 0 || addr_len >= sizeof(addr))
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "'%s' is not an address, or ADDRESS/PREFIX", shown);
	memcpy(addr, spec, addr_len);
	addr[addr_len] = 0;
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		/* a peer at such an address is matched as the IPv4 one it is */
		if (memcmp(out->addr, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0)
			return usbws_why(why, why_cap, USBWS_ERR_INVAL,
					 "'%s' is an IPv4 address written as IPv6: give it as %u.%u.%u.%u", addr,
					 out->addr[12], out->addr[13], out->addr[14], out->addr[15]);
		out->family = AF_INET6;
		max = 128;
	} else {
		log_printable(shown, sizeof(shown), addr, addr_len);
		return usbws_why(why, why_cap, USBWS_ERR_INVAL,
				 "'%s' is not a numeric IPv4 or IPv6 address (names are not taken: a lookup could "
				 "change whom the proxy believes)",
				 shown);
	}
	out->prefix = max;
	if (!slash)
		return 0;
	if (slash[1] < '0' || slash[1] > '9')
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "'%s': the prefix length is not a number", shown);
	prefix = strtol(slash + 1, &end, 10);
	if (*end || prefix > (long)max)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "'%s': the prefix length must be 0 to %u", shown,
				 max);
	out->prefix = (unsigned int)prefix;
	/* 10.1.2.3/8 is more likely a slip than a way to say 10.0.0.0/8 */
	for (bit = out->prefix; bit < max; bit++)
		if (out->addr[bit / 8] & (0x80 >> (bit % 8)))
			return usbws_why(why, why_cap, USBWS_ERR_INVAL,
					 "'%s': the address has bits set past the /%u prefix", shown, out->prefix);
	return 0;
}

static int net_matches(const struct balancer_net *net, int family, const uint8_t *addr)
{
	unsigned int whole = net->prefix / 8, rest = net->prefix % 8;

	if (net->family != family)
		return 0;
	if (memcmp(net->addr, addr, whole) != 0)
		return 0;
	return rest == 0 || ((net->addr[whole] ^ addr[whole]) & (0xff << (8 - rest)) & 0xff) == 0;
}

int balancer_trusted(const struct balancer_net *nets, size_t n, const struct sockaddr *sa, socklen_t len)
{
	const uint8_t *addr;
	int family = sa->sa_family;
	size_t i;

	if (family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		addr = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		addr = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (memcmp(addr, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0) {
			family = AF_INET;
			addr += sizeof(v4mapped_prefix);
		}
	} else {
		return 0;
	}
	for (i = 0; i < n; i++)
		if (net_matches(&nets[i], family, addr))
			return 1;
	return 0;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

int balancer_cert_decode(const char *value, size_t len, X509 **out, char *why, size_t why_cap)
{
	const unsigned char *p;
	unsigned char *der;
	size_t pad = 0;
	int n;
	X509 *cert;

	*out = NULL;
	while (len && is_space(*value)) {
		value++;
		len--;
	}
	while (len && is_space(value[len - 1]))
		len--;
	if (len == 0)
		return usbws_why(why, why_cap, USBWS_ERR_CERT_HEADER, "the certificate header is empty");
	if (len > BALANCER_CERT_MAX || len % 4)
		return usbws_why(why, why_cap, USBWS_ERR_CERT_HEADER,
				 "the certificate header is %zu characters: not base64 of a certificate", len);
	for (n = 0; n < (int)len; n++) {
		unsigned char c = (unsigned char)value[n];

		/* EVP_DecodeBlock skips spaces and stops at nothing: check first */
		if (c == '=' && (size_t)n >= len - 2) {
			pad++;
			continue;
		}
		if (pad ||
		    !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
		      c == '/'))
			return usbws_why(why, why_cap, USBWS_ERR_CERT_HEADER,
					 "the certificate header is not base64 (a byte 0x%02x at %d)", c, n);
	}
	der = malloc(len / 4 * 3);
	if (!der)
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM, "out of memory for the certificate header");
	n = EVP_DecodeBlock(der, (const unsigned char *)value, (int)len);
	if (n < 0) {
		free(der);
		return usbws_why(why, why_cap, USBWS_ERR_CERT_HEADER, "the certificate header is not base64");
	}
	/* EVP_DecodeBlock counts the padding as bytes */
	n -= (int)pad;
	p = der;
	cert = d2i_X509(NULL, &p, n);
	if (!cert || p != der + n) {
		X509_free(cert);
		free(der);
		return usbws_why(why, why_cap, USBWS_ERR_CERT_HEADER,
				 "the certificate header is base64, but not of one DER certificate");
	}
	free(der);
	*out = cert;
	return 0;
}

int balancer_forwarded_for(const char *value, char *out, size_t cap)
{
	const char *last = strrchr(value, ',');
	char addr[INET6_ADDRSTRLEN + 1];
	uint8_t bin[16];
	size_t len;

	if (cap)
		*out = 0;
	last = last ? last + 1 : value;
	while (is_space(*last))
		last++;
	len = strlen(last);
	while (len && is_space(last[len - 1]))
		len--;
	if (len == 0 || len >= sizeof(addr))
		return USBWS_ERR_INVAL;
	memcpy(addr, last, len);
	addr[len] = 0;
	if (inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1)
		return USBWS_ERR_INVAL;
	if (len >= cap)
		return USBWS_ERR_INVAL;
	memcpy(out, addr, len + 1);
	return 0;
}
