/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_BALANCER_H
#define USBWS_BALANCER_H
/*
 * A load balancer in front of the proxy (doc/fleet.md): it ends the nodes'
 * TLS, checks their certificates, and forwards each upgrade in plain HTTP
 * with the verified certificate in a header.  That header is believed only
 * from the addresses of --trusted-balancer; what is here is pure (no
 * sockets, no lws): the address lists, and the header's decoding.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/x509.h>

/* The header the balancer sets: the node's certificate, DER in base64 (as
 * HAProxy's %[ssl_c_der,base64] writes it), and, for hashing only, its
 * identity.  lws keeps header names lower case, with their colon. */
#define BALANCER_CERT_HEADER "x-usbws-client-cert:"
#define BALANCER_IDENTITY_HEADER "x-usbws-identity:"
/* The largest header value taken: a certificate with a 4096-bit RSA key
 * and a few extensions is under 2 KiB of DER. */
#define BALANCER_CERT_MAX 6144

/* An address and how many of its leading bits must match. */
struct balancer_net {
	int family;          /* AF_INET or AF_INET6 */
	uint8_t addr[16];    /* 4 bytes for AF_INET */
	unsigned int prefix; /* 0..32 or 0..128 */
};

/* ADDR or ADDR/PREFIX, a numeric IPv4 or IPv6 address (no name: a lookup
 * could change whom the proxy believes).  Bits past the prefix must be 0.
 * Returns 0, or USBWS_ERR_INVAL with why filled. */
int balancer_parse_net(const char *spec, struct balancer_net *out, char *why, size_t why_cap);

/* 1 when sa falls in one of the n nets (an IPv4 address mapped into IPv6,
 * ::ffff:a.b.c.d, counts as IPv4), else 0. */
int balancer_trusted(const struct balancer_net *nets, size_t n, const struct sockaddr *sa, socklen_t len);

/* The certificate in a header value: base64 of one DER certificate,
 * spaces around it ignored, nothing after it.  Returns 0 with *out set (the
 * caller frees it), or USBWS_ERR_CERT_HEADER with why filled. */
int balancer_cert_decode(const char *value, size_t len, X509 **out, char *why, size_t why_cap);

/* The client's address from an X-Forwarded-For value: its last entry, the
 * one the balancer added, when that is a numeric IPv4 or IPv6 address.
 * Returns 0 with out filled, or USBWS_ERR_INVAL (out is then ""). */
int balancer_forwarded_for(const char *value, char *out, size_t cap);

#endif
