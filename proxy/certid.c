/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "certid.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/utf8.h"
#include "base/usbws_err.h"

static const char *const source_names[] = {
	[CERTID_CN] = "cn",
	[CERTID_SAN_DNS] = "san-dns",
	[CERTID_SAN_URI] = "san-uri",
};

int certid_parse_source(const char *s, enum certid_source *out)
{
	size_t i;

	for (i = 0; i < sizeof(source_names) / sizeof(source_names[0]); i++) {
		if (strcmp(s, source_names[i]) == 0) {
			*out = (enum certid_source)i;
			return 0;
		}
	}
	return USBWS_ERR_INVAL;
}

const char *certid_source_name(enum certid_source src)
{
	return (size_t)src < sizeof(source_names) / sizeof(source_names[0]) ? source_names[src] : "?";
}

int certid_check(const unsigned char *s, size_t len)
{
	if (len == 0)
		return USBWS_ERR_ID_MISSING;
	if (len > CERTID_MAX)
		return USBWS_ERR_ID_TOO_LONG;
	return utf8_printable(s, len) ? 0 : USBWS_ERR_ID_ENCODING;
}

/* Checks and copies an identity of len bytes. */
static int take(const unsigned char *s, size_t len, char out[CERTID_MAX + 1])
{
	int rc = certid_check(s, len);

	if (rc < 0)
		return rc;
	memcpy(out, s, len);
	out[len] = '\0';
	return (int)len;
}

static int from_cn(X509 *cert, char out[CERTID_MAX + 1])
{
	const X509_NAME *name = X509_get_subject_name(cert);
	ASN1_STRING *data;
	unsigned char *utf8 = NULL;
	int i, len, rc;

	i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (i < 0)
		return USBWS_ERR_ID_MISSING;
	/* which of two CNs is the name depends on who reads it: refuse both */
	if (X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return USBWS_ERR_ID_AMBIGUOUS;
	data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	/* BMPString, T61String and the rest all become UTF-8 here; a
	 * UTF8String that is not valid UTF-8 fails */
	len = ASN1_STRING_to_UTF8(&utf8, data);
	if (len < 0)
		return USBWS_ERR_ID_ENCODING;
	rc = take(utf8, (size_t)len, out);
	OPENSSL_free(utf8);
	return rc;
}

/* An IA5String (a DNS name or a URI) as an identity: ASCII, so a high
 * byte is no character at all. */
static int take_ia5(const ASN1_IA5STRING *ia5, char out[CERTID_MAX + 1])
{
	const unsigned char *p = ASN1_STRING_get0_data(ia5);
	int len = ASN1_STRING_length(ia5), k;
	int rc = take(p, (size_t)len, out);

	for (k = 0; rc >= 0 && k < len; k++)
		if (p[k] & 0x80)
			rc = USBWS_ERR_ID_ENCODING;
	if (rc < 0)
		out[0] = '\0';
	return rc;
}

static int from_san(X509 *cert, int type, char out[CERTID_MAX + 1])
{
	GENERAL_NAMES *names;
	const ASN1_IA5STRING *found = NULL;
	int crit = -1, i, rc, count = 0;

	names = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	if (!names)
		/* -2: the extension appears twice */
		return crit == -2 ? USBWS_ERR_ID_AMBIGUOUS : USBWS_ERR_ID_MISSING;
	for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		if (gn->type != type)
			continue;
		count++;
		found = type == GEN_DNS ? gn->d.dNSName : gn->d.uniformResourceIdentifier;
	}
	if (count == 0) {
		rc = USBWS_ERR_ID_MISSING;
	} else if (count > 1) {
		rc = USBWS_ERR_ID_AMBIGUOUS;
	} else {
		rc = take_ia5(found, out);
	}
	GENERAL_NAMES_free(names);
	return rc;
}

int certid_get(X509 *cert, enum certid_source src, char out[CERTID_MAX + 1])
{
	int rc;

	out[0] = '\0';
	if (!cert)
		return USBWS_ERR_ID_MISSING;
	switch (src) {
	case CERTID_CN:
		rc = from_cn(cert, out);
		break;
	case CERTID_SAN_DNS:
		rc = from_san(cert, GEN_DNS, out);
		break;
	case CERTID_SAN_URI:
		rc = from_san(cert, GEN_URI, out);
		break;
	default:
		rc = USBWS_ERR_INVAL;
	}
	if (rc < 0)
		out[0] = '\0';
	return rc;
}

int certid_fields(X509 *cert, struct certid_fields *out)
{
	const X509_NAME *name;
	GENERAL_NAMES *names;
	int i = -1, crit = -1, kept = 0;

	memset(out, 0, sizeof(*out));
	if (!cert)
		return USBWS_ERR_INVAL;
	/* two CNs name nobody, for the role as for the identity */
	if (certid_get(cert, CERTID_CN, out->cn) >= 0)
		kept++;
	name = X509_get_subject_name(cert);
	while ((i = X509_NAME_get_index_by_NID(name, NID_organizationalUnitName, i)) >= 0 &&
	       out->nou < CERTID_FIELDS_MAX) {
		ASN1_STRING *data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
		unsigned char *utf8 = NULL;
		int len = ASN1_STRING_to_UTF8(&utf8, data);

		if (len >= 0 && take(utf8, (size_t)len, out->ou[out->nou]) >= 0) {
			out->nou++;
			kept++;
		}
		OPENSSL_free(utf8);
	}
	/* NULL with crit -2: the extension twice, which is which is unclear */
	names = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	for (i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		if (gn->type == GEN_DNS && out->nsan_dns < CERTID_FIELDS_MAX &&
		    take_ia5(gn->d.dNSName, out->san_dns[out->nsan_dns]) >= 0) {
			out->nsan_dns++;
			kept++;
		} else if (gn->type == GEN_URI && out->nsan_uri < CERTID_FIELDS_MAX &&
			   take_ia5(gn->d.uniformResourceIdentifier, out->san_uri[out->nsan_uri]) >= 0) {
			out->nsan_uri++;
			kept++;
		}
	}
	GENERAL_NAMES_free(names);
	return kept;
}

void certid_subject(X509 *cert, char *out, size_t cap)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *text;
	long n;

	if (!cap)
		return;
	snprintf(out, cap, "?");
	if (!bio || !cert)
		goto out;
	/* RFC 2253 escapes what would make one attribute look like two,
	 * and control characters */
	if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0)
		goto out;
	n = BIO_get_mem_data(bio, &text);
	if (n > 0)
		log_printable(out, cap, text, (size_t)n);
out:
	BIO_free(bio);
}

void certid_serial(X509 *cert, char *out, size_t cap)
{
	BIGNUM *bn = cert ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL) : NULL;
	char *hex = bn ? BN_bn2hex(bn) : NULL;

	if (cap)
		snprintf(out, cap, "%s", hex ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
}

_Static_assert(CERTID_MAX == 64, "usbws_strerror(USBWS_ERR_ID_TOO_LONG) and usbws-proxy(8) say 64");
