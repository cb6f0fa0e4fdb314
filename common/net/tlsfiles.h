/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_TLSFILES_H
#define USBWS_TLSFILES_H

/*
 * The PEM files of one end of a tunnel: its certificate (chain), its
 * private key, and the CA that signs the other end's certificate.  Both
 * programs load them through here, so a file that cannot be used is named
 * with its option and what to do about it, the same way on the node and
 * on the proxy: a file that cannot be read (errno's text), one that holds
 * no certificate or key, a key of another certificate.
 */
#include <stddef.h>

struct ssl_ctx_st;

struct tlsfiles {
	const char *cert; /* --cert */
	const char *key;  /* --key: unencrypted; no passphrase is ever asked for */
	const char *ca;   /* --ca */
};

/* Loads the three into ctx (SSL_CTX_use_certificate_chain_file, ..._PrivateKey_file,
 * load_verify_locations) after checking that the key belongs to the
 * certificate.  Returns 0, or with why filled: USBWS_ERR_SYSTEM (errno
 * kept) for a file that cannot be read, USBWS_ERR_PEM for one that holds
 * no certificate or key, USBWS_ERR_KEY_MISMATCH. */
int tlsfiles_load(struct ssl_ctx_st *ctx, const struct tlsfiles *f, char *why, size_t why_cap);

/* The same checks on a context of its own, thrown away: for a program
 * whose TLS library loads the files itself (the proxy's lws), so that it
 * says what is wrong before it starts. */
int tlsfiles_check(const struct tlsfiles *f, char *why, size_t why_cap);

#endif
