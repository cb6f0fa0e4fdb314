/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "net/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/usbws_err.h"

int netaddr_split(const char *spec, char *host, size_t host_size, char *port, size_t port_size)
{
	const char *colon, *h = spec;
	size_t hlen;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (!end || end[1] != ':')
			return USBWS_ERR_INVAL;
		h = spec + 1;
		hlen = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon)
			return USBWS_ERR_INVAL;
		hlen = (size_t)(colon - spec);
	}
	if (hlen == 0 || hlen >= host_size || strlen(colon + 1) == 0 || strlen(colon + 1) >= port_size ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return USBWS_ERR_INVAL;
	memcpy(host, h, hlen);
	host[hlen] = 0;
	strcpy(port, colon + 1);
	return 0;
}

static void tune(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int resolve(const char *spec, int passive, struct addrinfo **res, char *why, size_t why_cap)
{
	struct addrinfo hints;
	char host[256], port[16];

	if (netaddr_split(spec, host, sizeof(host), port, sizeof(port)) < 0)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "expected HOST:PORT (an IPv6 host in brackets)");
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = passive ? AI_PASSIVE : 0;
	if (getaddrinfo(host, port, &hints, res) != 0)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "cannot resolve the host");
	return 0;
}

/* Exactly the address asked for: an IPv6 socket takes no IPv4 peers
 * (IPV6_V6ONLY), whatever net.ipv6.bindv6only says. */
static int listen_on(const struct addrinfo *ai, char *why, size_t why_cap)
{
	int fd, one = 1, rc;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "cannot make a socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* a fleet reconnecting at once must find room in the backlog */
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0)
		return fd;
	rc = usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "%s%s", strerror(errno),
		       errno == EACCES                  ? " (a port below 1024 needs root or CAP_NET_BIND_SERVICE)"
			       : errno == EADDRNOTAVAIL ? " (no interface of this host has that address)"
							: "");
	close(fd);
	return rc;
}

int netaddr_listen_all(const char *spec, int *fds, size_t cap, char *why, size_t why_cap)
{
	struct addrinfo *res, *ai;
	size_t n = 0;
	int fd, rc;

	rc = resolve(spec, 1, &res, why, why_cap);
	if (rc < 0)
		return rc;
	for (ai = res; ai && n < cap; ai = ai->ai_next) {
		fd = listen_on(ai, why, why_cap);
		if (fd < 0) {
			/* a name must be served on every address it has */
			while (n)
				close(fds[--n]);
			break;
		}
		fds[n++] = fd;
	}
	freeaddrinfo(res);
	return n ? (int)n : USBWS_ERR_SYSTEM;
}

int netaddr_listen(const char *spec, char *why, size_t why_cap)
{
	int fd, rc;

	rc = netaddr_listen_all(spec, &fd, 1, why, why_cap);
	return rc < 0 ? rc : fd;
}

int netaddr_is_loopback(const struct sockaddr *sa)
{
	const struct in6_addr *a6;

	if (sa->sa_family == AF_INET)
		return ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24 == 127;
	if (sa->sa_family != AF_INET6)
		return 0;
	a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	return IN6_IS_ADDR_LOOPBACK(a6) || (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127);
}

int netaddr_loopback_only(const char *spec, char *why, size_t why_cap)
{
	struct addrinfo *res, *ai;
	char host[256], port[16], addr[INET6_ADDRSTRLEN];
	unsigned char literal[sizeof(struct in6_addr)];
	int rc;

	rc = resolve(spec, 1, &res, why, why_cap);
	if (rc < 0)
		return rc;
	for (ai = res; ai; ai = ai->ai_next)
		if (!netaddr_is_loopback(ai->ai_addr))
			break;
	if (!ai) {
		freeaddrinfo(res);
		return 0;
	}
	netaddr_split(spec, host, sizeof(host), port, sizeof(port));
	/* a name says what it resolved to; an address speaks for itself */
	if (inet_pton(AF_INET, host, literal) == 1 || inet_pton(AF_INET6, host, literal) == 1 ||
	    getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr), NULL, 0, NI_NUMERICHOST) != 0)
		rc = usbws_why(why, why_cap, USBWS_ERR_NOT_LOOPBACK, "not a loopback address");
	else
		rc = usbws_why(why, why_cap, USBWS_ERR_NOT_LOOPBACK, "%s resolves to %s, not a loopback address",
			       host, addr);
	freeaddrinfo(res);
	return rc;
}

void netaddr_format(const struct sockaddr *sa, socklen_t len, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN], port[8];

	if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(out, cap, "(unknown address)");
	else if (sa->sa_family == AF_INET6)
		snprintf(out, cap, "[%s]:%s", host, port);
	else
		snprintf(out, cap, "%s:%s", host, port);
}

void netaddr_peer(int fd, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		snprintf(out, cap, "(unknown address)");
	else
		netaddr_format((struct sockaddr *)&ss, len, out, cap);
}

/* Tries each address in turn; a blocking socket with TCP_NODELAY, and with
 * timeout_s (0: none) on the connect and on every later read and write. */
static int connect_first(struct addrinfo *res, int timeout_s)
{
	struct timeval tv = { timeout_s, 0 };
	struct addrinfo *ai;
	int fd = USBWS_ERR_SYSTEM, one = 1;

	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (timeout_s) {
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = USBWS_ERR_SYSTEM;
	}
	return fd;
}

int netaddr_connect(const char *spec, char *why, size_t why_cap)
{
	struct addrinfo *res;
	int fd, rc;

	rc = resolve(spec, 0, &res, why, why_cap);
	if (rc < 0)
		return rc;
	fd = connect_first(res, 0);
	freeaddrinfo(res);
	if (fd < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "connection refused or unreachable");
	tune(fd);
	return fd;
}

int netaddr_connect_host(const char *host, const char *port, int timeout_s)
{
	struct addrinfo hints, *res;
	int fd;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return USBWS_ERR_INVAL;
	fd = connect_first(res, timeout_s);
	freeaddrinfo(res);
	return fd;
}

int netaddr_accept(int listen_fd)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return USBWS_ERR_SYSTEM;
	tune(fd);
	return fd;
}
