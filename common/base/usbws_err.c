/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "base/usbws_err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *usbws_err_id(int err)
{
	switch ((enum usbws_err)err) {
	case USBWS_ERR_TRUNCATED: return "truncated";
	case USBWS_ERR_VERSION: return "version";
	case USBWS_ERR_UNKNOWN_OP: return "unknown_op";
	case USBWS_ERR_UNKNOWN_CMD: return "unknown_cmd";
	case USBWS_ERR_WRONG_WAY: return "wrong_way";
	case USBWS_ERR_PHASE: return "phase";
	case USBWS_ERR_STRING: return "string";
	case USBWS_ERR_DIRECTION: return "direction";
	case USBWS_ERR_ENDPOINT: return "endpoint";
	case USBWS_ERR_TRANSFER_LENGTH: return "transfer_length";
	case USBWS_ERR_ISO_COUNT: return "iso_count";
	case USBWS_ERR_ISO_DESC: return "iso_desc";
	case USBWS_ERR_ISO_TOTAL: return "iso_total";
	case USBWS_ERR_ACTUAL_LENGTH: return "actual_length";
	case USBWS_ERR_UNSOLICITED: return "unsolicited";
	case USBWS_ERR_DUPLICATE_SEQNUM: return "duplicate_seqnum";
	case USBWS_ERR_INFLIGHT: return "inflight";
	case USBWS_ERR_TOO_MANY_DEVICES: return "too_many_devices";
	case USBWS_ERR_TOO_MANY_INTERFACES: return "too_many_interfaces";
	case USBWS_ERR_AFTER_UNEXPORT: return "after_unexport";
	case USBWS_ERR_SPEED: return "speed";
	case USBWS_ERR_REFUSED: return "refused";
	case USBWS_ERR_RESUME_OFFSET: return "resume_offset";
	case USBWS_ERR_STREAM_TRUNCATED: return "stream_truncated";
	case USBWS_ERR_STRING_CONTROL: return "string_control";
	case USBWS_ERR_LIST_CHANGED: return "list_changed";
	case USBWS_ERR_WS_RSV: return "ws_rsv";
	case USBWS_ERR_WS_OPCODE: return "ws_opcode";
	case USBWS_ERR_WS_CONTROL: return "ws_control";
	case USBWS_ERR_WS_MASK: return "ws_mask";
	case USBWS_ERR_WS_LENGTH: return "ws_length";
	case USBWS_ERR_WS_FRAGMENT: return "ws_fragment";
	default: return "other";
	}
}

const char *usbws_strerror(int err)
{
	switch ((enum usbws_err)err) {
	case USBWS_OK: return "success";
	case USBWS_ERR_INVAL: return "invalid argument";
	case USBWS_ERR_NOMEM: return "out of memory";
	case USBWS_ERR_NOSPACE: return "output buffer too small";
	case USBWS_ERR_SYSTEM: return strerror(errno);
	case USBWS_ERR_INTERRUPTED: return "interrupted by a signal";
	case USBWS_ERR_TRUNCATED: return "message truncated";
	case USBWS_ERR_VERSION: return "USB/IP version is not 1.1.1 (0x0111)";
	case USBWS_ERR_UNKNOWN_OP: return "unknown USB/IP operation code";
	case USBWS_ERR_UNKNOWN_CMD: return "unknown USB/IP URB command";
	case USBWS_ERR_WRONG_WAY: return "USB/IP message sent in the wrong direction";
	case USBWS_ERR_PHASE: return "USB/IP message not allowed in this phase of the session";
	case USBWS_ERR_STRING: return "string field is not NUL-terminated within its size";
	case USBWS_ERR_DIRECTION: return "URB direction is neither IN nor OUT";
	case USBWS_ERR_ENDPOINT: return "endpoint number above 15";
	case USBWS_ERR_TRANSFER_LENGTH: return "transfer length above the configured maximum";
	case USBWS_ERR_ISO_COUNT: return "bogus ISO packet count";
	case USBWS_ERR_ISO_DESC: return "ISO packet descriptor outside the transfer buffer";
	case USBWS_ERR_ISO_TOTAL: return "ISO packet actual lengths do not add up to actual_length";
	case USBWS_ERR_ACTUAL_LENGTH: return "actual_length larger than the requested length";
	case USBWS_ERR_UNSOLICITED: return "reply to a seqnum that is not outstanding (unsolicited)";
	case USBWS_ERR_DUPLICATE_SEQNUM: return "command reuses an outstanding seqnum";
	case USBWS_ERR_INFLIGHT: return "too many URBs in flight";
	case USBWS_ERR_TOO_MANY_DEVICES: return "device list longer than the configured maximum";
	case USBWS_ERR_TOO_MANY_INTERFACES: return "device claims more than 32 interfaces";
	case USBWS_ERR_AFTER_UNEXPORT: return "data after the device was unexported";
	case USBWS_ERR_SPEED: return "unknown USB speed";
	case USBWS_ERR_REFUSED: return "the USB/IP peer refused the request (non-zero status)";
	case USBWS_ERR_STRING_CONTROL: return "path or busid holds a control character";
	case USBWS_ERR_STREAM_TRUNCATED: return "the stream ended inside a message (truncated)";
	case USBWS_ERR_RESUME_OFFSET: return "acknowledged stream offset outside what was sent";
	case USBWS_ERR_LIST_CHANGED: return "devices left the device list while it was being sent";
	case USBWS_ERR_WS_RSV: return "WebSocket frame with reserved bits set";
	case USBWS_ERR_WS_OPCODE: return "WebSocket frame with a reserved opcode";
	case USBWS_ERR_WS_CONTROL: return "WebSocket control frame fragmented or longer than 125 bytes";
	case USBWS_ERR_WS_MASK: return "WebSocket frame masked the wrong way for its direction";
	case USBWS_ERR_WS_LENGTH: return "WebSocket frame longer than allowed";
	case USBWS_ERR_WS_FRAGMENT: return "WebSocket continuation frame out of place";
	case USBWS_ERR_ADMIT_SOURCE: return "too many connections from this address";
	case USBWS_ERR_ADMIT_FULL: return "too many connections at once";
	case USBWS_ERR_ADMIT_DROPPED: return "dropped at random: many connections at once";
	case USBWS_ERR_ID_MISSING:
		return "the certificate names no identity: it has no subject CN (or no subjectAltName of the kind "
		       "--identity asks for); issue it with one";
	case USBWS_ERR_ID_AMBIGUOUS:
		return "the certificate names more than one identity (two CNs, or two subjectAltNames of the kind "
		       "--identity asks for); issue it with exactly one";
	case USBWS_ERR_ID_TOO_LONG: return "the certificate's identity is longer than 64 bytes; issue a shorter one";
	case USBWS_ERR_ID_ENCODING:
		return "the certificate's identity is not valid UTF-8 or holds a control character; issue it with "
		       "printable text";
	case USBWS_ERR_HTTP_STATUS: return "HTTP answer with another status than the one asked for";
	case USBWS_ERR_WS_ACCEPT: return "WebSocket upgrade answered with a missing or wrong Sec-WebSocket-Accept";
	case USBWS_ERR_WS_SUBPROTOCOL: return "WebSocket upgrade answered without agreeing to the subprotocol";
	case USBWS_ERR_URL: return "the proxy's URL is not wss://HOST[:PORT][/PATH]";
	case USBWS_ERR_TLS: return "TLS failed";
	case USBWS_ERR_CERT_REFUSED: return "certificate refused";
	case USBWS_ERR_PEM: return "no PEM object of the kind wanted in the file";
	case USBWS_ERR_CRL_ISSUER: return "the CRL is not signed by a CA of --ca";
	case USBWS_ERR_KEY_MISMATCH: return "the private key does not belong to the certificate";
	case USBWS_ERR_NO_DRIVER: return "the kernel driver is not loaded";
	case USBWS_ERR_NOT_EXPORTABLE: return "the device cannot be exported (a hub, or imported through vhci_hcd)";
	case USBWS_ERR_BUSY: return "the device is in use";
	case USBWS_ERR_NO_GADGET: return "no gadget is bound to the UDC";
	case USBWS_ERR_NO_PORT: return "no free vhci_hcd port";
	case USBWS_ERR_NODE_LIMIT: return "the node is at its limit on this proxy";
	case USBWS_ERR_LWS: return "libwebsockets could not set up a vhost or socket";
	case USBWS_ERR_NOT_LOOPBACK: return "not a loopback address";
	case USBWS_ERR_UNTRUSTED_PEER: return "not a --trusted-balancer";
	case USBWS_ERR_CERT_HEADER:
		return "the balancer sent no client certificate header, or one that is not a base64 DER certificate";
	case USBWS_ERR_MOVED: return "the connection went on to another service thread";
	case USBWS_ERR_POLICY: return "the policy file is malformed; fix the line named and load it again";
	case USBWS_ERR_OPTFILE: return "the options file is malformed; fix the line named and start again";
	}
	return "unknown error";
}

int usbws_why(char *why, size_t why_cap, int err, const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	if (why && why_cap) {
		va_start(ap, fmt);
		vsnprintf(why, why_cap, fmt, ap);
		va_end(ap);
	}
	errno = saved_errno;
	return err;
}

int usbws_vwhy_at(char *why, size_t why_cap, int err, const char *file, unsigned int line, const char *fmt,
		  va_list ap)
{
	char reason[384], *c;

	vsnprintf(reason, sizeof(reason), fmt, ap);
	for (c = reason; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return usbws_why(why, why_cap, err, "%s:%u: %s", file, line, reason);
}
