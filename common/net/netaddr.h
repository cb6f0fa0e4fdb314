/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_NETADDR_H
#define USBWS_NETADDR_H

/*
 * HOST:PORT parsing and TCP sockets.  HOST may be a name, an IPv4 address
 * or a bracketed IPv6 address ([::1]:3240).  Sockets come back
 * non-blocking, close-on-exec, with TCP_NODELAY: USB/IP is request/reply
 * and Nagle would hold each small URB back.
 */

#include <stddef.h>
#include <sys/socket.h>

/* Room for "[IPv6]:port" with its NUL. */
#define NETADDR_STRLEN 56

/* Splits spec into host and port; returns 0 or USBWS_ERR_INVAL. */
int netaddr_split(const char *spec, char *host, size_t host_size, char *port, size_t port_size);

/* Listens on every address HOST resolves to, up to cap, exactly: an IPv4
 * address gets an AF_INET socket, an IPv6 one an IPv6-only socket.
 * Returns how many fds it put in fds, or a negative enum usbws_err with
 * why filled (then none is open): USBWS_ERR_SYSTEM with errno kept when
 * the bind failed (why: errno's text, and for EACCES and EADDRNOTAVAIL
 * what it means), USBWS_ERR_INVAL for a spec it cannot use. */
int netaddr_listen_all(const char *spec, int *fds, size_t cap, char *why, size_t why_cap);
/* The same for the first address only: returns the fd. */
int netaddr_listen(const char *spec, char *why, size_t why_cap);
/* 1 when sa is a loopback address: 127.0.0.0/8, ::1, or 127.0.0.0/8
 * mapped into IPv6 (::ffff:127.0.0.1); 0 for any other, of any family. */
int netaddr_is_loopback(const struct sockaddr *sa);
/* 0 when every address HOST resolves to, as netaddr_listen_all would bind
 * them, is a loopback address; USBWS_ERR_NOT_LOOPBACK with why naming the
 * first that is not ("not a loopback address", or "HOST resolves to
 * 192.0.2.7, not a loopback address"); USBWS_ERR_INVAL as
 * netaddr_listen_all for a spec or host it cannot use. */
int netaddr_loopback_only(const char *spec, char *why, size_t why_cap);
/* "192.0.2.1:443", "[2001:db8::1]:443": sa as a log line shows it. */
void netaddr_format(const struct sockaddr *sa, socklen_t len, char *out, size_t cap);
/* The peer of a connected socket, as netaddr_format writes it. */
void netaddr_peer(int fd, char *out, size_t cap);
/* Blocking connect (then made non-blocking); same returns. */
int netaddr_connect(const char *spec, char *why, size_t why_cap);
/* Blocking connect to host and port, with TCP_NODELAY and, when timeout_s
 * is not 0, that deadline on the connect and on later reads and writes.
 * Returns the fd, or USBWS_ERR_SYSTEM with errno set (USBWS_ERR_INVAL when
 * the lookup failed, errno left as it was). */
int netaddr_connect_host(const char *host, const char *port, int timeout_s);
/* Accepts one connection, non-blocking with TCP_NODELAY: returns the fd,
 * or USBWS_ERR_SYSTEM (errno EAGAIN: none waiting). */
int netaddr_accept(int listen_fd);

#endif
