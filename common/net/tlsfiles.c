/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "net/tlsfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/usbws_err.h"

/* What each file is, for the sentences. */
static const char CERT_WHAT[] = "certificate", KEY_WHAT[] = "private key", CA_WHAT[] = "CA certificate";

/* OpenSSL's own word for what it disliked, e.g. "no start line": the
 * first error queued is the cause, the later ones the calls it failed. */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	return r ? r : "no reason given";
}

/* OpenSSL reports a file it cannot open as "system lib": look first, and
 * say errno's text. */
static int readable(const char *what, const char *option, const char *path, char *why, size_t why_cap)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		int dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);

		close(fd);
		if (!dir)
			return 0;
		errno = EISDIR;
	}
	return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "cannot read the %s %s (%s): %s%s", what, path, option,
			 strerror(errno), errno == EACCES ? " (run as a user that may read it)" : "");
}

/* A key that wants a passphrase fails instead of asking on the terminal:
 * the programs run unattended. */
static int no_passphrase(char *buf, int size, int rwflag, void *user)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)user;
	return 0;
}

/* Whether the last failure was the key not matching the certificate:
 * OpenSSL checks that as it takes the key, or in SSL_CTX_check_private_key. */
static int key_mismatch(void)
{
	unsigned long e = ERR_peek_last_error();

	return ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH;
}

int tlsfiles_load(struct ssl_ctx_st *ctx, const struct tlsfiles *f, char *why, size_t why_cap)
{
	int rc, key_ok;

	if ((rc = readable(CERT_WHAT, "--cert", f->cert, why, why_cap)) < 0 ||
	    (rc = readable(KEY_WHAT, "--key", f->key, why, why_cap)) < 0 ||
	    (rc = readable(CA_WHAT, "--ca", f->ca, why, why_cap)) < 0)
		return rc;
	ERR_clear_error();
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	if (SSL_CTX_use_certificate_chain_file(ctx, f->cert) != 1) {
		rc = usbws_why(why, why_cap, USBWS_ERR_PEM,
			       "the %s %s (--cert) is not a PEM certificate (%s): give the file that begins with "
			       "-----BEGIN CERTIFICATE-----",
			       CERT_WHAT, f->cert, ssl_reason());
		goto out;
	}
	key_ok = SSL_CTX_use_PrivateKey_file(ctx, f->key, SSL_FILETYPE_PEM) == 1;
	if (key_mismatch() || (key_ok && SSL_CTX_check_private_key(ctx) != 1)) {
		rc = usbws_why(why, why_cap, USBWS_ERR_KEY_MISMATCH,
			       "the %s %s (--key) does not belong to the certificate %s (--cert): give the key the "
			       "certificate was made for",
			       KEY_WHAT, f->key, f->cert);
		goto out;
	}
	if (!key_ok) {
		rc = usbws_why(why, why_cap, USBWS_ERR_PEM,
			       "the %s %s (--key) is not an unencrypted PEM private key (%s): give the file that "
			       "begins with -----BEGIN PRIVATE KEY----- (no passphrase is asked for)",
			       KEY_WHAT, f->key, ssl_reason());
		goto out;
	}
	if (SSL_CTX_load_verify_locations(ctx, f->ca, NULL) != 1)
		rc = usbws_why(why, why_cap, USBWS_ERR_PEM,
			       "the %s %s (--ca) holds no PEM certificate (%s): give the CA's certificate, the file "
			       "that begins with -----BEGIN CERTIFICATE-----",
			       CA_WHAT, f->ca, ssl_reason());
out:
	ERR_clear_error();
	return rc;
}

int tlsfiles_check(const struct tlsfiles *f, char *why, size_t why_cap)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	int rc;

	if (!ctx)
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM,
				 "cannot make a TLS context to check --cert, --key "
				 "and --ca: %s",
				 ssl_reason());
	rc = tlsfiles_load(ctx, f, why, why_cap);
	SSL_CTX_free(ctx);
	return rc;
}
