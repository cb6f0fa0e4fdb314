/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_ERR_H
#define USBWS_ERR_H

#include <stdarg.h>
#include <stddef.h>

/*
 * One error space for the whole project.  Functions return 0 (or a byte
 * count) on success and one of these negative codes on failure.  Protocol
 * violations each get their own code so that a log line can name the exact
 * rule a peer broke.
 */
/* one code a line, its comment aligned by hand */
/* clang-format off */
enum usbws_err {
	USBWS_OK = 0,

	/* caller mistakes and resources */
	USBWS_ERR_INVAL = -1,           /* bad argument from the caller */
	USBWS_ERR_NOMEM = -2,
	USBWS_ERR_NOSPACE = -3,         /* output buffer too small */
	USBWS_ERR_SYSTEM = -4,          /* see errno */
	USBWS_ERR_INTERRUPTED = -5,     /* a signal cut a blocking call short (a stop, not a fault) */

	/* input too short: not an error for a streaming caller, fatal at EOF */
	USBWS_ERR_TRUNCATED = -10,

	/* USB/IP wire violations */
	USBWS_ERR_VERSION = -20,        /* op_common version is not 0x0111 */
	USBWS_ERR_UNKNOWN_OP = -21,     /* op_common code we do not know */
	USBWS_ERR_UNKNOWN_CMD = -22,    /* URB header command we do not know */
	USBWS_ERR_WRONG_WAY = -23,      /* a command where a reply belongs, or back */
	USBWS_ERR_PHASE = -24,          /* URB before the import/export, or OP after */
	USBWS_ERR_STRING = -25,         /* string field not NUL-terminated in its size */
	USBWS_ERR_DIRECTION = -26,      /* direction field other than 0 or 1 */
	USBWS_ERR_ENDPOINT = -27,       /* endpoint number above 15 */
	USBWS_ERR_TRANSFER_LENGTH = -28,/* transfer length above the configured maximum */
	USBWS_ERR_ISO_COUNT = -29,      /* number_of_packets out of range or mismatched */
	USBWS_ERR_ISO_DESC = -30,       /* ISO packet descriptor outside the buffer */
	USBWS_ERR_ISO_TOTAL = -31,      /* ISO actual lengths do not add up */
	USBWS_ERR_ACTUAL_LENGTH = -32,  /* actual_length above the requested length */
	USBWS_ERR_UNSOLICITED = -33,    /* reply to a seqnum that is not outstanding */
	USBWS_ERR_DUPLICATE_SEQNUM = -34,/* command reuses an outstanding seqnum */
	USBWS_ERR_INFLIGHT = -35,       /* more outstanding URBs than the limit */
	USBWS_ERR_TOO_MANY_DEVICES = -36,
	USBWS_ERR_TOO_MANY_INTERFACES = -37,
	USBWS_ERR_AFTER_UNEXPORT = -38, /* bytes after the stream was closed */
	USBWS_ERR_SPEED = -39,          /* speed not in the kernel's usb_device_speed enum */
	USBWS_ERR_REFUSED = -40,        /* the peer answered with a non-zero USB/IP status */
	USBWS_ERR_RESUME_OFFSET = -41,  /* acknowledged or resumed offset outside what was sent */
	USBWS_ERR_STREAM_TRUNCATED = -42,/* a stream closed on purpose in the middle of a message */
	USBWS_ERR_STRING_CONTROL = -43, /* a path or busid holds a control character */
	USBWS_ERR_LIST_CHANGED = -44,   /* devices left a device list while it was being sent */

	/* WebSocket (RFC 6455) framing violations */
	USBWS_ERR_WS_RSV = -50,         /* reserved bits set with no extension agreed */
	USBWS_ERR_WS_OPCODE = -51,      /* reserved opcode */
	USBWS_ERR_WS_CONTROL = -52,     /* control frame fragmented or over 125 bytes */
	USBWS_ERR_WS_MASK = -53,        /* masked when it must not be, or the reverse */
	USBWS_ERR_WS_LENGTH = -54,      /* frame longer than the limit, or length MSB set */
	USBWS_ERR_WS_FRAGMENT = -55,    /* continuation without a message, or a message inside one */

	/* admission of peers that have not authenticated (admit.h) */
	USBWS_ERR_ADMIT_SOURCE = -60,   /* too many pending connections from this source */
	USBWS_ERR_ADMIT_FULL = -61,     /* too many pending connections in all */
	USBWS_ERR_ADMIT_DROPPED = -62,  /* dropped at random: many pending connections */

	/* a node certificate that names no usable identity (certid.h) */
	USBWS_ERR_ID_MISSING = -70,     /* no CN (or no SAN of the configured kind), or an empty one */
	USBWS_ERR_ID_AMBIGUOUS = -71,   /* two CNs, or two SANs of the configured kind */
	USBWS_ERR_ID_TOO_LONG = -72,    /* longer than CERTID_MAX bytes */
	USBWS_ERR_ID_ENCODING = -73,    /* not valid UTF-8, or a control character */

	/* HTTP answers while the node sets up its link (httpreply.h) */
	USBWS_ERR_HTTP_STATUS = -80,    /* not the status asked for (200 to CONNECT, 101 to an upgrade) */
	USBWS_ERR_WS_ACCEPT = -81,      /* Sec-WebSocket-Accept missing or not for our key */
	USBWS_ERR_WS_SUBPROTOCOL = -82, /* the server did not agree to our subprotocol */
	USBWS_ERR_URL = -83,            /* a proxy URL that is not wss://HOST[:PORT][/PATH] (wsurl.h) */

	/* TLS and certificates (wsclient.h) */
	USBWS_ERR_TLS = -90,            /* the TLS library failed: loading keys, a handshake, a read or a write */
	USBWS_ERR_CERT_REFUSED = -91,   /* one side refused the other's certificate */
	USBWS_ERR_PEM = -92,            /* a file holds no PEM object of the kind wanted */
	USBWS_ERR_CRL_ISSUER = -93,     /* a CRL no CA of --ca signed */
	USBWS_ERR_KEY_MISMATCH = -94,   /* --key is not the key of --cert's certificate */

	/* local USB devices and the kernel's USB/IP drivers (usbdev.h, kdev.h, vhci.h) */
	USBWS_ERR_NO_DRIVER = -100,     /* usbip-host, usbip-vudc or vhci_hcd is not loaded */
	USBWS_ERR_NOT_EXPORTABLE = -101,/* a hub, or a device imported through vhci_hcd */
	USBWS_ERR_BUSY = -102,          /* the device or the UDC is in use */
	USBWS_ERR_NO_GADGET = -103,     /* no gadget is bound to the usbip-vudc UDC */
	USBWS_ERR_NO_PORT = -104,       /* no free vhci_hcd port for the device's speed */

	/* the proxy's own limits and its event loop */
	USBWS_ERR_NODE_LIMIT = -110,    /* the node holds the most this proxy allows one node */
	USBWS_ERR_LWS = -111,           /* libwebsockets could not make a vhost or take a socket */

	/* the proxy's policy file (proxy/policy.h) */
	USBWS_ERR_POLICY = -120,        /* the file does not parse, is too large, or is no regular file */

	/* addresses to serve on (netaddr.h) */
	USBWS_ERR_NOT_LOOPBACK = -130,  /* an address off loopback where only loopback is safe */

	/* a balancer in front of the proxy (proxy/balancer.h) */
	USBWS_ERR_UNTRUSTED_PEER = -140,/* a connection to --balancer-listen from outside --trusted-balancer */
	USBWS_ERR_CERT_HEADER = -141,   /* the balancer's certificate header is missing or no base64 DER certificate */

	/* the proxy's service threads */
	USBWS_ERR_MOVED = -150,         /* the connection went on to another thread, which answers it */

	/* the programs' options files (optfile.h) */
	USBWS_ERR_OPTFILE = -160,       /* a line is no option the program takes, or the file is too large */
};
/* clang-format on */

/* A short fixed name for err, fit for a metric's label ("unsolicited",
 * "iso_total"): the USB/IP and WebSocket rules by name, anything else
 * "other", so the names are a small closed set. */
const char *usbws_err_id(int err);
/* Returns a static sentence describing err; never NULL. */
const char *usbws_strerror(int err);

/*
 * The convention (HACKING.md): a function that can fail returns an enum
 * usbws_err, and when the failure needs context (a path, a busid, errno's
 * text) it also takes `char *why, size_t why_cap` last, which may be NULL.
 * usbws_why() fills that buffer and returns err, so a failure is one line:
 *     return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "%s: %s", path, strerror(errno));
 * errno is preserved.
 */
int usbws_why(char *why, size_t why_cap, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A configuration file's refusal, "FILE:LINE: reason", with the reason's
 * control characters as '?' (a word quoted from the file may hold a tab,
 * and the line goes to a log); returns err. */
int usbws_vwhy_at(char *why, size_t why_cap, int err, const char *file, unsigned int line, const char *fmt,
		  va_list ap) __attribute__((format(printf, 6, 0)));

#endif
