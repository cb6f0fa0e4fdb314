/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Who vouches for nodes: --ca, and the CRLs of --crl.  Both go into one
 * X509_STORE, built here whole rather than added to: on SIGHUP a new store
 * replaces the TLS context's (SSL_CTX_set_cert_store), so a CRL that no
 * longer lists a serial stops refusing it, and a file that fails to load
 * changes nothing.  Handshakes take the store when they verify, on this one
 * service thread, so none is ever halfway through the swap.
 */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "certid.h"
#include "base/log.h"
#include "base/usbws_err.h"
#include "proxy.h"
#include "proxy_int.h"

static const char *ssl_error(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	return r ? r : "no reason given";
}

/* The CA in store that issued crl, checked by its signature: a CRL no CA
 * of ours signed would only make every node of that CA fail to verify. */
static int crl_issuer_ok(X509_STORE *store, X509_CRL *crl, const char *path, char *why, size_t why_cap)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
	char issuer[256] = "?";
	int i;

	for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));

		if (!ca || X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)) != 0)
			continue;
		if (X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1)
			return 0;
	}
	X509_NAME_oneline(X509_CRL_get_issuer(crl), issuer, sizeof(issuer));
	log_printable(issuer, sizeof(issuer), issuer, strlen(issuer));
	return usbws_why(why, why_cap, USBWS_ERR_CRL_ISSUER, "--crl %s: a CRL issued by %s is not signed by a CA "
			 "of --ca; give the CRL of the CA that signs node certificates", path, issuer);
}

/* Adds every CRL in a PEM file; returns how many serials they revoke, or a
 * negative enum usbws_err with why filled. */
static int add_crls(X509_STORE *store, const char *path, char *why, size_t why_cap)
{
	BIO *bio = BIO_new_file(path, "r");
	X509_CRL *crl;
	int ncrl = 0, revoked = 0, rc;

	if (!bio)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "--crl %s: cannot read it", path);
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL))) {
		const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
		STACK_OF(X509_REVOKED) *list = X509_CRL_get_REVOKED(crl);

		ncrl++;
		rc = crl_issuer_ok(store, crl, path, why, why_cap);
		if (rc == 0 && !X509_STORE_add_crl(store, crl))
			rc = usbws_why(why, why_cap, USBWS_ERR_TLS, "--crl %s: cannot add a CRL of it (%s)", path,
				       ssl_error());
		if (rc < 0) {
			X509_CRL_free(crl);
			BIO_free(bio);
			return rc;
		}
		/* OpenSSL then refuses every node of that CA: say why up front */
		if (next && X509_cmp_current_time(next) < 0)
			log_warn("--crl %s: this CRL is past its nextUpdate; every node of its CA is refused "
				 "(\"CRL has expired\") until a fresh one is loaded (SIGHUP)", path);
		revoked += list ? sk_X509_REVOKED_num(list) : 0;
		X509_CRL_free(crl);
	}
	BIO_free(bio);
	/* the end of the file reads as "no start line" */
	ERR_clear_error();
	if (ncrl == 0)
		return usbws_why(why, why_cap, USBWS_ERR_PEM, "--crl %s: no PEM CRL (-----BEGIN X509 CRL-----) in it",
				 path);
	return revoked;
}

int proxy_trust_load(const struct proxy_config *cfg, X509_STORE **out, char *why, size_t why_cap)
{
	X509_STORE *store = X509_STORE_new();
	int revoked = 0, n;
	size_t i;

	*out = NULL;
	if (!store)
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM, "out of memory for the certificate store");
	if (!X509_STORE_load_file(store, cfg->ca)) {
		n = usbws_why(why, why_cap, USBWS_ERR_PEM, "--ca %s: no PEM certificate could be read from it (%s)",
			      cfg->ca, ssl_error());
		goto fail;
	}
	ERR_clear_error();
	for (i = 0; i < cfg->ncrls; i++) {
		n = add_crls(store, cfg->crls[i], why, why_cap);
		if (n < 0)
			goto fail;
		revoked += n;
	}
	if (cfg->ncrls) {
		/* the node's own certificate; a CA's own revocation is the
		 * business of the CA above it, which --ca trusts outright */
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
		log_info("checking node certificates against %zu CRL file%s (%d revoked serial%s)", cfg->ncrls,
			 cfg->ncrls == 1 ? "" : "s", revoked, revoked == 1 ? "" : "s");
	}
	*out = store;
	return 0;
fail:
	ERR_clear_error();
	X509_STORE_free(store);
	return n;
}

/* Notes a revocation and lets verification go on: here the only question
 * is whether the certificate is revoked, not whether it would pass anew. */
static int note_revoked(int ok, X509_STORE_CTX *ctx)
{
	if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_CERT_REVOKED)
		*(int *)X509_STORE_CTX_get_app_data(ctx) = 1;
	return 1;
}

int proxy_trust_revoked(X509_STORE *store, X509 *cert, STACK_OF(X509) *chain)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int revoked = 0;

	if (!ctx || !X509_STORE_CTX_init(ctx, store, cert, chain)) {
		X509_STORE_CTX_free(ctx);
		return 0;
	}
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	X509_STORE_CTX_set_verify_cb(ctx, note_revoked);
	X509_STORE_CTX_set_app_data(ctx, &revoked);
	X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return revoked;
}

void proxy_trust_reload(struct proxy *px)
{
	X509_STORE *store;
	unsigned int cut, i;
	char why[512];

	log_info("SIGHUP: reloading --ca %s and %zu --crl file%s", px->cfg->ca, px->cfg->ncrls,
		 px->cfg->ncrls == 1 ? "" : "s");
	if (!px->store)
		return;
	if (proxy_trust_load(px->cfg, &store, why, sizeof(why)) < 0) {
		log_err("%s", why);
		log_err("reload failed; the CA and CRLs loaded before stay in force");
		return;
	}
	/* each context takes a reference and drops its old store's, on its
	 * own thread, between handshakes */
	for (i = 0; i < px->nthreads; i++) {
		struct proxy_msg *m;

		if (&px->threads[i] == proxy_self) {
			if (px->threads[i].wss_ssl)
				SSL_CTX_set1_cert_store(px->threads[i].wss_ssl, store);
			continue;
		}
		m = proxy_thread_msg_new(PROXY_MSG_STORE);
		if (!m || !X509_STORE_up_ref(store)) {
			log_err("out of memory: service thread %u keeps the CRLs loaded before", i);
			free(m);
			continue;
		}
		m->store = store;
		proxy_thread_post(&px->threads[i], m);
	}
	X509_STORE_free(px->store);
	px->store = store;
	cut = proxy_tunnel_revoke(px, store);
	log_info("reloaded: new handshakes use the new CRLs; %u tunnel%s ended as revoked", cut, cut == 1 ? "" : "s");
}
