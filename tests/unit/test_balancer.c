/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the proxy believes from a load balancer (proxy/balancer.c): whose
 * addresses are trusted, and the certificate header's decoding.  The
 * certificate is made here, in memory: only its encoding matters. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/balancer.h"

static void test_parse_net(void **state)
{
	static const struct {
		const char *name, *spec;
		int want, family;
		unsigned int prefix;
		const char *why;
	} rows[] = {
		{ "IPv4 alone is /32", "127.0.0.1", 0, AF_INET, 32, "" },
		{ "IPv4 prefix", "10.0.0.0/8", 0, AF_INET, 8, "" },
		{ "IPv4 /0", "0.0.0.0/0", 0, AF_INET, 0, "" },
		{ "IPv6 alone is /128", "::1", 0, AF_INET6, 128, "" },
		{ "IPv6 prefix", "fd00::/8", 0, AF_INET6, 8, "" },
		{ "a name", "localhost", USBWS_ERR_INVAL, 0, 0,
		  "'localhost' is not a numeric IPv4 or IPv6 address" },
		{ "empty", "", USBWS_ERR_INVAL, 0, 0, "'' is not an address, or ADDRESS/PREFIX" },
		{ "empty address", "/8", USBWS_ERR_INVAL, 0, 0, "'/8' is not an address" },
		{ "IPv4 prefix too long", "10.0.0.0/33", USBWS_ERR_INVAL, 0, 0,
		  "the prefix length must be 0 to 32" },
		{ "IPv6 prefix too long", "::/129", USBWS_ERR_INVAL, 0, 0, "the prefix length must be 0 to 128" },
		{ "no prefix after the slash", "10.0.0.0/", USBWS_ERR_INVAL, 0, 0, "is not a number" },
		{ "a signed prefix", "10.0.0.0/+8", USBWS_ERR_INVAL, 0, 0, "is not a number" },
		{ "junk after the prefix", "10.0.0.0/8x", USBWS_ERR_INVAL, 0, 0, "must be 0 to 32" },
		{ "host bits set", "10.1.2.3/8", USBWS_ERR_INVAL, 0, 0, "has bits set past the /8 prefix" },
		{ "IPv6 host bits set", "fd00::1/64", USBWS_ERR_INVAL, 0, 0, "has bits set past the /64 prefix" },
		{ "IPv4-mapped IPv6", "::ffff:10.0.0.5", USBWS_ERR_INVAL, 0, 0,
		  "'::ffff:10.0.0.5' is an IPv4 address written as IPv6: give it as 10.0.0.5" },
		{ "port given", "127.0.0.1:80", USBWS_ERR_INVAL, 0, 0, "is not a numeric IPv4 or IPv6 address" },
		/* found by fuzz_balancer: a refusal quoted control characters */
		{ "control characters", "10.0.0.0\x1b[2J/8", USBWS_ERR_INVAL, 0, 0,
		  "'10.0.0.0?[2J' is not a numeric IPv4 or IPv6 address" },
		{ "control characters in the prefix", "10.0.0.0/8\n", USBWS_ERR_INVAL, 0, 0,
		  "'10.0.0.0/8?': the prefix length must be 0 to 32" },
	};
	struct balancer_net net;
	char why[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("%s\n", rows[i].name);
		why[0] = 0;
		assert_usbws_err(balancer_parse_net(rows[i].spec, &net, why, sizeof(why)), rows[i].want);
		assert_non_null(strstr(why, rows[i].why));
		if (rows[i].want == 0) {
			assert_int_equal(net.family, rows[i].family);
			assert_int_equal(net.prefix, rows[i].prefix);
		}
	}
}

static socklen_t make_addr(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		return sizeof(*in);
	}
	assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
	in6->sin6_family = AF_INET6;
	return sizeof(*in6);
}

static void test_trusted(void **state)
{
	static const char *const specs[] = { "127.0.0.1", "10.20.0.0/14", "fd00:1:2::/48", "192.0.2.128/25" };
	static const struct {
		const char *name, *addr;
		int want;
	} rows[] = {
		{ "the address itself", "127.0.0.1", 1 },
		{ "another loopback address", "127.0.0.2", 0 },
		{ "inside a /14", "10.23.255.255", 1 },
		{ "just outside the /14", "10.24.0.0", 0 },
		{ "just below the /14", "10.19.255.255", 0 },
		{ "inside a /25", "192.0.2.200", 1 },
		{ "the other half of the /24", "192.0.2.100", 0 },
		{ "IPv6 inside the /48", "fd00:1:2:ffff::9", 1 },
		{ "IPv6 outside the /48", "fd00:1:3::9", 0 },
		{ "IPv4-mapped counts as IPv4", "::ffff:127.0.0.1", 1 },
		{ "IPv4-mapped outside", "::ffff:127.0.0.2", 0 },
		{ "IPv6 loopback is not IPv4's", "::1", 0 },
	};
	struct balancer_net nets[4];
	struct sockaddr_storage ss;
	socklen_t len;
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_usbws_err(balancer_parse_net(specs[i], &nets[i], NULL, 0), 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("%s\n", rows[i].name);
		len = make_addr(rows[i].addr, &ss);
		assert_int_equal(balancer_trusted(nets, 4, (struct sockaddr *)&ss, len), rows[i].want);
	}
	/* nothing trusted: nothing is; a short length is no address */
	len = make_addr("127.0.0.1", &ss);
	assert_int_equal(balancer_trusted(nets, 0, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(balancer_trusted(nets, 4, (struct sockaddr *)&ss, 4), 0);
}

/* A self-made certificate with CN "node-7", as DER and as base64. */
static char *cert_base64(size_t *der_len)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	unsigned char *der = NULL;
	char *b64;
	int n;

	assert_non_null(x);
	assert_non_null(key);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"node-7",
				   -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	EVP_PKEY_free(key);
	n = i2d_X509(x, &der);
	assert_true(n > 0);
	b64 = malloc((size_t)n / 3 * 4 + 8);
	assert_non_null(b64);
	EVP_EncodeBlock((unsigned char *)b64, der, n);
	*der_len = (size_t)n;
	OPENSSL_free(der);
	X509_free(x);
	return b64;
}

static void test_cert_decode(void **state)
{
	static const struct {
		const char *name, *value, *why;
	} rows[] = {
		{ "empty", "", "the certificate header is empty" },
		{ "spaces only", "   ", "the certificate header is empty" },
		{ "not a multiple of 4", "QUJD=", "is 5 characters: not base64" },
		{ "a byte outside base64", "QU*D", "not base64 (a byte 0x2a at 2)" },
		{ "padding in the middle", "QU=DQUJD", "not base64 (a byte 0x3d at 2)" },
		{ "base64 of no certificate", "QUJD", "base64, but not of one DER certificate" },
		{ "PEM armour", "-----BEGIN CERTIFICATE-----", "characters: not base64" },
	};
	size_t der_len, i;
	char *b64 = cert_base64(&der_len);
	char spaced[4096], bad[BALANCER_CERT_MAX + 8], why[200], cn[64];
	size_t len = strlen(b64);
	X509 *cert;

	(void)state;
	assert_usbws_err(balancer_cert_decode(b64, len, &cert, why, sizeof(why)), 0);
	X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
	assert_string_equal(cn, "node-7");
	X509_free(cert);

	snprintf(spaced, sizeof(spaced), " \t%s  ", b64);
	assert_usbws_err(balancer_cert_decode(spaced, strlen(spaced), &cert, why, sizeof(why)), 0);
	X509_free(cert);

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("%s\n", rows[i].name);
		cert = (X509 *)1;
		assert_usbws_err(balancer_cert_decode(rows[i].value, strlen(rows[i].value), &cert, why,
						      sizeof(why)),
				 USBWS_ERR_CERT_HEADER);
		assert_null(cert);
		assert_non_null(strstr(why, rows[i].why));
	}

	/* a certificate cut short, or with bytes after it */
	print_message("cut short\n");
	memcpy(bad, b64, len - 8);
	assert_usbws_err(balancer_cert_decode(bad, len - 8, &cert, why, sizeof(why)), USBWS_ERR_CERT_HEADER);
	assert_non_null(strstr(why, "not of one DER certificate"));
	print_message("trailing bytes\n");
	snprintf(bad, sizeof(bad), "%.*sQUJD", (int)len, b64);
	/* only when the base64 had no padding can more follow it */
	if (b64[len - 1] != '=') {
		assert_usbws_err(balancer_cert_decode(bad, strlen(bad), &cert, why, sizeof(why)),
				 USBWS_ERR_CERT_HEADER);
		assert_non_null(strstr(why, "not of one DER certificate"));
	} else {
		assert_usbws_err(balancer_cert_decode(bad, strlen(bad), &cert, why, sizeof(why)),
				 USBWS_ERR_CERT_HEADER);
		assert_non_null(strstr(why, "not base64"));
	}
	print_message("too long\n");
	memset(bad, 'A', BALANCER_CERT_MAX + 4);
	assert_usbws_err(balancer_cert_decode(bad, BALANCER_CERT_MAX + 4, &cert, why, sizeof(why)),
			 USBWS_ERR_CERT_HEADER);
	free(b64);
}

static void test_forwarded_for(void **state)
{
	static const struct {
		const char *name, *value;
		int want;
		const char *out;
	} rows[] = {
		{ "one address", "192.0.2.7", 0, "192.0.2.7" },
		{ "the last one is the balancer's", "10.9.9.9, 192.0.2.7", 0, "192.0.2.7" },
		{ "IPv6", "2001:db8::7", 0, "2001:db8::7" },
		{ "spaces", "  192.0.2.7 ", 0, "192.0.2.7" },
		{ "empty", "", USBWS_ERR_INVAL, "" },
		{ "a name", "evil.example", USBWS_ERR_INVAL, "" },
		{ "an address with a port", "192.0.2.7:80", USBWS_ERR_INVAL, "" },
		{ "a forged one last", "192.0.2.7, \x1b[2J", USBWS_ERR_INVAL, "" },
	};
	char out[56];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("%s\n", rows[i].name);
		assert_usbws_err(balancer_forwarded_for(rows[i].value, out, sizeof(out)), rows[i].want);
		assert_string_equal(out, rows[i].out);
	}
	/* too small a buffer: refused, not cut */
	assert_usbws_err(balancer_forwarded_for("192.0.2.7", out, 5), USBWS_ERR_INVAL);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_net),
		cmocka_unit_test(test_trusted),
		cmocka_unit_test(test_cert_decode),
		cmocka_unit_test(test_forwarded_for),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
