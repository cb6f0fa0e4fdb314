/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_CERTID_H
#define USBWS_CERTID_H
/*
 * A node's identity, read from one field of its certificate: the subject's
 * CN, or one subjectAltName of a configured kind.  Never from formatted
 * text (X509_NAME_oneline would make an OU of "y/CN=node-1" look like a
 * CN), never cut short (two long names would collide), never a placeholder
 * (a certificate without the field is refused).  OpenSSL only: no lws.
 */
#include <stddef.h>

#include <openssl/x509.h>

/* The longest identity, in bytes of UTF-8: RFC 5280's ub-common-name (64).
 * A name buffer holds CERTID_MAX + 1 bytes. */
#define CERTID_MAX 64

enum certid_source {
	CERTID_CN,        /* the subject's one commonName */
	CERTID_SAN_DNS,   /* the one dNSName in subjectAltName */
	CERTID_SAN_URI,   /* the one uniformResourceIdentifier in subjectAltName */
};

/* "cn", "san-dns" or "san-uri" to a source; returns 0 or USBWS_ERR_INVAL. */
int certid_parse_source(const char *s, enum certid_source *out);
/* The option's spelling of src, for messages. */
const char *certid_source_name(enum certid_source src);

/* Writes cert's identity, NUL-terminated, to out.  Returns its length in
 * bytes, or USBWS_ERR_ID_MISSING (no such field, or empty),
 * USBWS_ERR_ID_AMBIGUOUS (more than one), USBWS_ERR_ID_TOO_LONG (over
 * CERTID_MAX bytes as UTF-8) or USBWS_ERR_ID_ENCODING (not valid UTF-8, or
 * a control or bidi-override character); out is then "". */
int certid_get(X509 *cert, enum certid_source src, char out[CERTID_MAX + 1]);

/* Checks len bytes as an identity (the rules of certid_get, the length
 * first).  Returns 0 or one of certid_get's codes. */
int certid_check(const unsigned char *s, size_t len);

/* How many values of one field certid_fields keeps. */
#define CERTID_FIELDS_MAX 8

/* The fields the proxy's policy names certificates by, for its operator
 * role (policy.h's struct policy_subject), each value checked as an
 * identity is, in the certificate's order. */
struct certid_fields {
	char cn[CERTID_MAX + 1]; /* "" unless exactly one usable CN */
	char ou[CERTID_FIELDS_MAX][CERTID_MAX + 1];
	size_t nou;
	char san_dns[CERTID_FIELDS_MAX][CERTID_MAX + 1];
	size_t nsan_dns;
	char san_uri[CERTID_FIELDS_MAX][CERTID_MAX + 1];
	size_t nsan_uri;
};

/* Fills out from cert: its one CN (as certid_get reads it), every OU of
 * its subject, every DNS and URI subjectAltName.  A value that
 * certid_check refuses is skipped, as are those past CERTID_FIELDS_MAX
 * of one field, and every subjectAltName when the extension appears
 * twice: a skipped value grants nothing.  Returns how many values it
 * kept, or USBWS_ERR_INVAL for a NULL cert; out is filled either way. */
int certid_fields(X509 *cert, struct certid_fields *out);

/* cert's subject as RFC 2253 text (escaped, one line), cut to cap, for a
 * log; "?" when it has none. */
void certid_subject(X509 *cert, char *out, size_t cap);
/* cert's serial number in hex (as openssl x509 -serial prints it). */
void certid_serial(X509 *cert, char *out, size_t cap);

#endif
