/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A node's identity from its certificate's fields (proxy/certid.c).  The
 * certificates are made here, in memory: certid only reads fields, so
 * they need no signature. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proxy/certid.h"
#include "testutil.h"
#include "base/usbws_err.h"

struct attr {
	int nid;          /* 0 ends the list */
	int type;         /* V_ASN1_UTF8STRING, V_ASN1_BMPSTRING...: the bytes go in as they are */
	const char *bytes;
	int len;          /* -1: strlen */
};

struct san {
	int type;         /* GEN_DNS or GEN_URI; 0 ends the list */
	const char *bytes;
};

struct row {
	const char *name;
	struct attr subject[4];
	struct san san[3];
	enum certid_source src;
	int want;         /* length, or a negative code */
	const char *want_name;
};

#define CN(s) { NID_commonName, V_ASN1_UTF8STRING, (s), -1 }
#define OU(s) { NID_organizationalUnitName, V_ASN1_UTF8STRING, (s), -1 }

/* 65 bytes: one more than an identity may have */
#define A65 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static char a64[65], a65[66], a128x[129], a128y[129], a300[301], e32[65], e33[67];

static X509 *make_cert(const struct row *r)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);
	const struct attr *a;
	const struct san *s;

	assert_non_null(x);
	for (a = r->subject; a->nid; a++)
		assert_int_equal(X509_NAME_add_entry_by_NID(name, a->nid, a->type, (const unsigned char *)a->bytes,
							    a->len, -1, 0), 1);
	if (r->san[0].type) {
		GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();

		for (s = r->san; s->type; s++) {
			GENERAL_NAME *gn = GENERAL_NAME_new();
			ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

			assert_int_equal(ASN1_STRING_set(ia5, s->bytes, (int)strlen(s->bytes)), 1);
			GENERAL_NAME_set0_value(gn, s->type, ia5);
			sk_GENERAL_NAME_push(gens, gn);
		}
		assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0), 1);
		GENERAL_NAMES_free(gens);
	}
	return x;
}

static void test_identity_is_one_field_exactly(void **state)
{
	static const struct row rows[] = {
		{ "a CN is the name", { CN("node-1") }, { { 0 } }, CERTID_CN, 6, "node-1" },
		{ "an OU that reads like a CN is no CN", { OU("y/CN=node-1") }, { { 0 } }, CERTID_CN,
		  USBWS_ERR_ID_MISSING, "" },
		{ "the CN wins over an OU that reads like one", { OU("y/CN=node-1"), CN("node-2") }, { { 0 } },
		  CERTID_CN, 6, "node-2" },
		{ "no subject at all", { { 0 } }, { { 0 } }, CERTID_CN, USBWS_ERR_ID_MISSING, "" },
		{ "an empty CN", { CN("") }, { { 0 } }, CERTID_CN, USBWS_ERR_ID_MISSING, "" },
		{ "two CNs", { CN("node-1"), CN("node-2") }, { { 0 } }, CERTID_CN, USBWS_ERR_ID_AMBIGUOUS, "" },
		{ "64 bytes, kept whole", { CN(a64) }, { { 0 } }, CERTID_CN, 64, a64 },
		{ "65 bytes", { CN(a65) }, { { 0 } }, CERTID_CN, USBWS_ERR_ID_TOO_LONG, "" },
		{ "128 bytes", { CN(a128x) }, { { 0 } }, CERTID_CN, USBWS_ERR_ID_TOO_LONG, "" },
		{ "another 128 bytes, the same but for the last", { CN(a128y) }, { { 0 } }, CERTID_CN,
		  USBWS_ERR_ID_TOO_LONG, "" },
		{ "300 bytes", { CN(a300) }, { { 0 } }, CERTID_CN, USBWS_ERR_ID_TOO_LONG, "" },
		{ "32 two-byte characters are 64 bytes", { CN(e32) }, { { 0 } }, CERTID_CN, 64, e32 },
		{ "33 two-byte characters are 66 bytes", { CN(e33) }, { { 0 } }, CERTID_CN, USBWS_ERR_ID_TOO_LONG, "" },
		{ "UTF-8 beyond ASCII", { CN("n\xc5\x93ud-1") }, { { 0 } }, CERTID_CN, 7, "n\xc5\x93ud-1" },
		{ "a newline", { CN("node-1\nusbws-proxy: info: forged") }, { { 0 } }, CERTID_CN,
		  USBWS_ERR_ID_ENCODING, "" },
		{ "a NUL inside", { { NID_commonName, V_ASN1_UTF8STRING, "node-1\0x", 8 } }, { { 0 } }, CERTID_CN,
		  USBWS_ERR_ID_ENCODING, "" },
		{ "an escape", { CN("node-\x1b[2J") }, { { 0 } }, CERTID_CN, USBWS_ERR_ID_ENCODING, "" },
		{ "DEL", { CN("node-1\x7f") }, { { 0 } }, CERTID_CN, USBWS_ERR_ID_ENCODING, "" },
		{ "a C1 control (U+0085)", { CN("node-\xc2\x85") }, { { 0 } }, CERTID_CN, USBWS_ERR_ID_ENCODING, "" },
		{ "a bidi override (U+202E)", { CN("node-\xe2\x80\xae" "1") }, { { 0 } }, CERTID_CN,
		  USBWS_ERR_ID_ENCODING, "" },
		{ "a byte that is no UTF-8", { CN("node-\xff") }, { { 0 } }, CERTID_CN, USBWS_ERR_ID_ENCODING, "" },
		{ "an overlong '/'", { CN("node\xc0\xaf" "1") }, { { 0 } }, CERTID_CN, USBWS_ERR_ID_ENCODING, "" },
		{ "a surrogate", { CN("node-\xed\xa0\x80") }, { { 0 } }, CERTID_CN, USBWS_ERR_ID_ENCODING, "" },
		{ "a sequence cut short", { CN("node-\xe2\x80") }, { { 0 } }, CERTID_CN, USBWS_ERR_ID_ENCODING, "" },
		{ "a BMPString becomes UTF-8", { { NID_commonName, V_ASN1_BMPSTRING, "\0n\0o\0d\0e\0-\0" "1", 12 } },
		  { { 0 } }, CERTID_CN, 6, "node-1" },
		{ "san-dns: the one dNSName, not the CN", { CN("node-1") }, { { GEN_DNS, "node-9.fleet.example" } },
		  CERTID_SAN_DNS, 20, "node-9.fleet.example" },
		{ "san-dns: a CN alone is not enough", { CN("node-1") }, { { 0 } }, CERTID_SAN_DNS,
		  USBWS_ERR_ID_MISSING, "" },
		{ "san-dns: only a URI", { CN("node-1") }, { { GEN_URI, "urn:x:node-1" } }, CERTID_SAN_DNS,
		  USBWS_ERR_ID_MISSING, "" },
		{ "san-dns: two", { { 0 } }, { { GEN_DNS, "a.example" }, { GEN_DNS, "b.example" } }, CERTID_SAN_DNS,
		  USBWS_ERR_ID_AMBIGUOUS, "" },
		{ "san-dns: a control character", { { 0 } }, { { GEN_DNS, "a\rb.example" } }, CERTID_SAN_DNS,
		  USBWS_ERR_ID_ENCODING, "" },
		{ "san-dns: a high byte in an IA5String", { { 0 } }, { { GEN_DNS, "n\xc5\x93ud.example" } },
		  CERTID_SAN_DNS, USBWS_ERR_ID_ENCODING, "" },
		{ "san-dns: 65 bytes", { { 0 } }, { { GEN_DNS, a65 } }, CERTID_SAN_DNS, USBWS_ERR_ID_TOO_LONG, "" },
		{ "san-uri: the one URI", { CN("node-1") },
		  { { GEN_DNS, "node-1.example" }, { GEN_URI, "urn:usbws:node-7" } }, CERTID_SAN_URI, 16,
		  "urn:usbws:node-7" },
	};
	size_t i;

	(void)state;
	memset(a64, 'a', 64);
	memset(a65, 'a', 65);
	memset(a128x, 'n', 128);
	memset(a128y, 'n', 128);
	a128x[127] = 'x';
	a128y[127] = 'y';
	memset(a300, 'n', 300);
	for (i = 0; i < 33; i++)
		memcpy(e33 + 2 * i, "\xc3\xa9", 2);
	memcpy(e32, e33, 64);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char out[CERTID_MAX + 1];
		X509 *x = make_cert(&rows[i]);
		int rc;

		memset(out, 'Z', sizeof(out));
		rc = certid_get(x, rows[i].src, out);
		if (rc != rows[i].want || strcmp(out, rows[i].want_name) != 0)
			fail_msg("%s: got %d (%s) '%s', want %d (%s) '%s'", rows[i].name, rc,
				 rc < 0 ? usbws_strerror(rc) : "ok", out, rows[i].want,
				 rows[i].want < 0 ? usbws_strerror(rows[i].want) : "ok", rows[i].want_name);
		X509_free(x);
	}
}

/* What the proxy logs about a certificate it refuses. */
static void test_subject_and_serial_are_logged_unambiguously(void **state)
{
	static const struct row spoof = { "", { OU("y/CN=node-1") }, { { 0 } }, CERTID_CN, 0, "" };
	static const struct row ctrl = { "", { CN("a\nb") }, { { 0 } }, CERTID_CN, 0, "" };
	char text[128];
	X509 *x;

	(void)state;
	x = make_cert(&spoof);
	certid_subject(x, text, sizeof(text));
	assert_string_equal(text, "OU=y/CN=node-1");
	ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1001);
	certid_serial(x, text, sizeof(text));
	assert_string_equal(text, "1001");
	X509_free(x);
	x = make_cert(&ctrl);
	certid_subject(x, text, sizeof(text));
	assert_string_equal(text, "CN=a\\0Ab");
	X509_free(x);
	certid_subject(NULL, text, sizeof(text));
	assert_string_equal(text, "?");
}

/* A certificate from '|'-separated names, in order: "CN=...", "OU=...",
 * "O=...", "OU/bmp=..." (the ASCII text as a BMPString), "DNS:...",
 * "URI:..." and "email:...". */
static X509 *cert_from(const char *spec)
{
	static const struct {
		const char *prefix;
		int nid, gen;
	} kinds[] = {
		{ "CN=", NID_commonName, 0 },
		{ "OU=", NID_organizationalUnitName, 0 },
		{ "O=", NID_organizationName, 0 },
		{ "OU/bmp=", -NID_organizationalUnitName, 0 },
		{ "DNS:", 0, GEN_DNS },
		{ "URI:", 0, GEN_URI },
		{ "email:", 0, GEN_EMAIL },
	};
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);
	char buf[1024], *one, *rest = buf;

	assert_non_null(x);
	assert_true(strlen(spec) < sizeof(buf));
	strcpy(buf, spec);
	while (*spec && (one = strsep(&rest, "|"))) {
		const char *v;
		size_t k, n;

		for (k = 0; strncmp(one, kinds[k].prefix, strlen(kinds[k].prefix)) != 0; k++)
			assert_true(k + 1 < sizeof(kinds) / sizeof(kinds[0]));
		v = one + strlen(kinds[k].prefix);
		if (kinds[k].nid > 0) {
			assert_int_equal(X509_NAME_add_entry_by_NID(name, kinds[k].nid, V_ASN1_UTF8STRING,
								    (const unsigned char *)v, -1, -1, 0),
					 1);
		} else if (kinds[k].nid < 0) {
			unsigned char bmp[2 * CERTID_MAX] = { 0 };

			for (n = 0; v[n]; n++)
				bmp[2 * n + 1] = (unsigned char)v[n];
			assert_int_equal(X509_NAME_add_entry_by_NID(name, -kinds[k].nid, V_ASN1_BMPSTRING, bmp,
								    (int)(2 * n), -1, 0),
					 1);
		} else {
			GENERAL_NAME *gn = GENERAL_NAME_new();
			ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

			assert_int_equal(ASN1_STRING_set(ia5, v, (int)strlen(v)), 1);
			GENERAL_NAME_set0_value(gn, kinds[k].gen, ia5);
			sk_GENERAL_NAME_push(gens, gn);
		}
	}
	if (sk_GENERAL_NAME_num(gens) > 0)
		assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0), 1);
	GENERAL_NAMES_free(gens);
	return x;
}

/* Values of one field, joined with '|', to compare with a row's. */
static void joined(char (*vals)[CERTID_MAX + 1], size_t n, char *out, size_t cap)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < n; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? "|" : "", vals[i]);
	assert_true(used < cap);
}

/* What the policy's operator lines are matched against: every value of
 * each field, each one checked as an identity is. */
static void test_fields_for_the_operator_role(void **state)
{
	/* each field's values joined with '|' */
	static const struct {
		const char *name, *spec;
		int want;
		const char *cn, *ou, *dns, *uri;
	} rows[] = {
		{ "one of each, and names of other kinds",
		  "CN=ops-alice|OU=Engineering|OU=Fleet Operators|O=Example|DNS:alice.ops.example.com|"
		  "email:alice@example.com|URI:spiffe://example.com/ops/alice|DNS:alice.example.com",
		  6, "ops-alice", "Engineering|Fleet Operators", "alice.ops.example.com|alice.example.com",
		  "spiffe://example.com/ops/alice" },
		{ "two CNs name nobody; the OUs still count", "CN=ops-a|CN=ops-b|OU=Fleet Operators", 1, "",
		  "Fleet Operators", "", "" },
		{ "unusable values are skipped, the rest kept",
		  "OU=a\nb|OU=|OU=" A65 "|OU/bmp=Ops|OU=node-\xe2\x80\xaez|DNS:n\xc5\x93ud.example|DNS:ok.example|"
		  "URI:urn:a\tb",
		  2, "", "Ops", "ok.example", "" },
		{ "eight of one field, no more", "OU=1|OU=2|OU=3|OU=4|OU=5|OU=6|OU=7|OU=8|OU=9|URI:u1|DNS:d", 10,
		  "", "1|2|3|4|5|6|7|8", "d", "u1" },
		{ "nine URIs", "URI:1|URI:2|URI:3|URI:4|URI:5|URI:6|URI:7|URI:8|URI:9", 8, "", "", "",
		  "1|2|3|4|5|6|7|8" },
		{ "nothing at all", "", 0, "", "", "", "" },
	};
	struct certid_fields f;
	char got[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		X509 *x = cert_from(rows[i].spec);

		print_message("%s\n", rows[i].name);
		memset(&f, 'Z', sizeof(f));
		assert_int_equal(certid_fields(x, &f), rows[i].want);
		assert_string_equal(f.cn, rows[i].cn);
		joined(f.ou, f.nou, got, sizeof(got));
		assert_string_equal(got, rows[i].ou);
		joined(f.san_dns, f.nsan_dns, got, sizeof(got));
		assert_string_equal(got, rows[i].dns);
		joined(f.san_uri, f.nsan_uri, got, sizeof(got));
		assert_string_equal(got, rows[i].uri);
		X509_free(x);
	}
	memset(&f, 'Z', sizeof(f));
	assert_usbws_err(certid_fields(NULL, &f), USBWS_ERR_INVAL);
	assert_string_equal(f.cn, "");
	assert_int_equal(f.nou + f.nsan_dns + f.nsan_uri, 0);
}

static void test_identity_option(void **state)
{
	static const struct {
		const char *arg;
		int want;
		enum certid_source src;
	} rows[] = {
		{ "cn", 0, CERTID_CN },
		{ "san-dns", 0, CERTID_SAN_DNS },
		{ "san-uri", 0, CERTID_SAN_URI },
		{ "CN", USBWS_ERR_INVAL, CERTID_CN },
		{ "san", USBWS_ERR_INVAL, CERTID_CN },
		{ "", USBWS_ERR_INVAL, CERTID_CN },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum certid_source src = CERTID_CN;

		assert_usbws_err(certid_parse_source(rows[i].arg, &src), rows[i].want);
		assert_int_equal(src, rows[i].src);
		if (rows[i].want == 0)
			assert_string_equal(certid_source_name(src), rows[i].arg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_is_one_field_exactly),
		cmocka_unit_test(test_subject_and_serial_are_logged_unambiguously),
		cmocka_unit_test(test_fields_for_the_operator_role),
		cmocka_unit_test(test_identity_option),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
