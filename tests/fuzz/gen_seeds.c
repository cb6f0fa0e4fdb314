/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Writes the seed inputs for the fuzz targets into DIR/NAME: valid PDUs of
 * every kind and the sample session, each control message type as the
 * ctl_* builders write it, vhci_hcd status text as the 6.1 kernel prints
 * it, real usb.ids lines, policy files as usbws-proxy.policy(5) shows
 * them, a certificate header and forwarded addresses as HAProxy sends them,
 * options files of the keys fuzz_optfile's table holds,
 * laid out as each target reads its input.  libFuzzer grows the
 * corpus from these; `make fuzz-seeds` regenerates them.
 */
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/byteorder.h"
#include "tunnel/ctl.h"
#include "usbip/selftest.h"
#include "base/usbws_err.h"

static const char *outdir;

static int write_seed(const char *target, const char *name, uint8_t sel_or_flags,
		      const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, int with_split)
{
	char path[4096];
	uint8_t hdr[3];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/seed-%s", outdir, target, name);
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "gen_seeds: %s: %s\n", path, strerror(errno));
		return -1;
	}
	hdr[0] = sel_or_flags;
	put_be16(hdr + 1, (uint16_t)alen);
	fwrite(hdr, 1, with_split ? 3 : 1, f);
	fwrite(a, 1, alen, f);
	if (b)
		fwrite(b, 1, blen, f);
	return fclose(f);
}

/* A seed that is the whole input: a prefix of `pre` bytes (may be 0), then text. */
static int write_text(const char *target, const char *name, const char *pre, size_t pre_len, char *text)
{
	char path[4096];
	FILE *f;

	if (!text)
		return -1;
	snprintf(path, sizeof(path), "%s/%s/seed-%s", outdir, target, name);
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "gen_seeds: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fwrite(pre, 1, pre_len, f);
	fwrite(text, 1, strlen(text), f);
	return fclose(f);
}

static void ctl_seeds(const struct usbip_usb_device *dev)
{
	static const struct usbip_usb_interface ifs[2] = { { 8, 6, 0x50 }, { 3, 1, 1 } };
	static const char session[] = "0123456789abcdef0123456789abcdef";
	char *s;

	write_text("ctl", "hello-export", "", 0, s = ctl_hello_export(dev, ifs, "0123456789AB", 1u << 20));
	free(s);
	write_text("ctl", "hello-list", "", 0, s = ctl_hello_list());
	free(s);
	write_text("ctl", "hello-resume", "", 0, s = ctl_hello_resume(session, 123456789, 4u << 20));
	free(s);
	write_text("ctl", "welcome", "", 0, s = ctl_welcome("CN=camera-7", "1-1", session, 30, 1u << 20));
	free(s);
	write_text("ctl", "welcome-no-session", "", 0, s = ctl_welcome("CN=camera-7", "1-1", NULL, 0, 0));
	free(s);
	write_text("ctl", "resumed", "", 0, s = ctl_resumed(4096, 1u << 20));
	free(s);
	write_text("ctl", "ack", "", 0, s = ctl_ack(1u << 20));
	free(s);
	write_text("ctl", "error", "", 0, s = ctl_error("policy", "node camera-7 is not allowed \"1-1\""));
	free(s);
	write_text("ctl", "error-fresh", "", 0,
		   s = ctl_error_fresh("no-session", "no session 01234567... for node camera-7 here"));
	free(s);
	/* the proxy's listing for usbws list, as proxy_tunnel.c writes it */
	write_text("ctl", "nodes", "", 0, (char *)"{\"type\":\"nodes\",\"nodes\":[{\"node\":\"camera-7\","
		   "\"devices\":[{\"busid\":\"1-1\",\"vendor\":\"1d6b\",\"product\":\"0104\"}]}]}");
}

/* vhci_hcd.0's status with port 0 in use (6.1 kernel, port_show_vhci), and an older kernel's */
static void vhci_seeds(void)
{
	write_text("vhci", "status-6.1", "\x10", 1, (char *)
		   "hub port sta spd dev      sockfd local_busid\n"
		   "hs  0000 006 003 00110002 000005 3-1\n"
		   "hs  0001 004 000 00000000 000000 0-0\n"
		   "ss  0002 006 005 00020003 000007 5-1.2\n"
		   "ss  0003 004 000 00000000 000000 0-0\n");
	write_text("vhci", "status-pointer", "\x82", 1, (char *)
		   "hub port sta spd dev      sockfd local_busid\n"
		   "hs  0008 004 000 00000000 0000000000000000 0-0\n"
		   "ss  0009 004 000 00000000 0000000000000000 0-0\n");
	write_text("vhci", "full", "\x41", 1, (char *)
		   "hub port sta spd dev      sockfd local_busid\n"
		   "hs  0000 004 000 00000000 000000 0-0\n"
		   "hs  0001 004 000 00000000 000000 0-0\n");
}

/* lines of hwdata's usb.ids: vendors, products, interfaces, comments, the class table after */
static void usbids_seeds(void)
{
	write_text("usbids", "linux-foundation", "\x01\x04", 2, (char *)
		   "#\n#\tList of USB ID's\n#\n# Version: 2023.01.16\n\n"
		   "1d6b  Linux Foundation\n\t0001  1.1 root hub\n\t0002  2.0 root hub\n"
		   "\t0003  3.0 root hub\n\t0100  PTP Gadget\n\t0104  Multifunction Composite Gadget\n"
		   "1d90  Citizen\n\t201e  PPU-700\n"
		   "C 00  (Defined at Interface level)\nC 01  Audio\n\t01  Control Device\n");
	write_text("usbids", "sandisk", "\x55\x67", 2, (char *)
		   "0781  SanDisk Corp.\n\t5567  Cruzer Blade\n\t5583  Ultra Fit\r\n"
		   "046d  Logitech, Inc.\n\tc52b  Unifying Receiver\n\t\t00  Interface\n"
		   "# a comment between products\n\tc534  Unifying Receiver\n0781  SanDisk duplicate\n");
}

/* real answers: tinyproxy's to CONNECT, libwebsockets 4.1's to the upgrade (RFC 6455's example key) */
static void http_seeds(void)
{
	write_text("http", "connect-tinyproxy", "\x01", 1, (char *)
		   "HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n");
	write_text("http", "connect-refused", "\x02", 1, (char *)
		   "HTTP/1.0 403 Access violation\r\nServer: tinyproxy/1.11.1\r\nContent-Type: text/html\r\n"
		   "Connection: close\r\n\r\n<html><body>Access denied</body></html>\n");
	write_text("http", "upgrade-lws", "\x03", 1, (char *)
		   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: usbws.v1\r\n\r\n"
		   "\x81\x05hello");
	write_text("http", "upgrade-refused", "\x04", 1, (char *)
		   "HTTP/1.1 403 Forbidden\r\nserver: lwsws\r\ncontent-type: text/html\r\ncontent-length: 0\r\n\r\n");
}

/* usbws-proxy.policy(5)'s examples, every key and option, and a file it refuses */
static void policy_seeds(void)
{
	write_text("policy", "example", "", 0,
		   (char *)"# who holds the operator role (any line matching is enough)\n"
			   "operator cn=ops-*\n"
			   "operator ou=\"Fleet Operators\"\n"
			   "operator san-dns=*.ops.example.com\n"
			   "operator san-uri=spiffe://example.com/ops/*\n"
			   "\n"
			   "# device rules: the first rule whose every condition matches decides\n"
			   "attach    node=gw-*  device=0525:a4a5  vhci=0,1\n"
			   "export    node=gw-1? class=08\n"
			   "on-demand node=gw-17 serial=FP-*\n"
			   "deny      class=e0\n"
			   "attach    device=1d6b:*  address=port\n"
			   "default   deny\n");
	write_text("policy", "open", "", 0,
		   (char *)"deny      class=08\r\n"
			   "on-demand class=0e # cameras\r\n"
			   "default   attach vhci=vhci_hcd.2 address=port\r\n");
	write_text("policy", "every-key", "", 0,
		   (char *)"default on-demand address=serial\n"
			   "attach\tnode=\"gw [1-9]\" device=*:A4A5 class=ff serial=a\" \"b#1 vhci=0,127 address=port\n"
			   "export device=0525:*\n"
			   "operator ou=*\n");
	write_text("policy", "refused", "", 0,
		   (char *)"attach node=gw-1\n"
			   "alow node=gw-2\n");
}

/* Options files as doc/proxy.conf.example shows them, with fuzz_optfile's keys */
static void optfile_seeds(void)
{
	write_text("optfile", "example", "", 0,
		   (char *)"# /etc/usbws/proxy.conf: usbws-proxy's options, one a line\n"
			   "\n"
			   "listen = 0.0.0.0:443\n"
			   "cert = /etc/usbws/proxy.pem\n"
			   "# crl = /etc/usbws/nodes-ca.crl\n"
			   "crl = /etc/usbws/nodes-ca.crl\n"
			   "crl = /etc/usbws/old-ca.crl\n"
			   "pin = camera-7=vhci_hcd.1\n"
			   "usbip-listen = 127.0.0.1:3240\n"
			   "usbip-listen-public = no\n"
			   "verbose\n");
	write_text("optfile", "every-form", "", 0,
		   (char *)"  \tlisten\t=\t[::1]:443  \r\n"
			   "color\r\n"
			   "pin = \"cam # 1\"=0,1\r\n"
			   "usbip-listen-public = yes\r\n"
			   "cert = /etc/usbws/n\xc5\x93ud.pem\r\n"
			   "\r\n");
	write_text("optfile", "refused", "", 0,
		   (char *)"listen = 0.0.0.0:443\n"
			   "lisen = 0.0.0.0:443\n");
}

/* A certificate as the balancer's header carries it (base64 of its DER):
 * made afresh, self-signed, its key thrown away. */
static char *balancer_cert_value(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	unsigned char *der = NULL;
	char *value = NULL;
	int len = -1;

	if (key && cert && X509_set_version(cert, 2) && ASN1_INTEGER_set(X509_get_serialNumber(cert), 17) &&
	    X509_gmtime_adj(X509_getm_notBefore(cert), 0) && X509_gmtime_adj(X509_getm_notAfter(cert), 86400) &&
	    X509_set_pubkey(cert, key) &&
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
				       (const unsigned char *)"gw-17", -1, -1, 0) &&
	    X509_set_issuer_name(cert, X509_get_subject_name(cert)) && X509_sign(cert, key, EVP_sha256()))
		len = i2d_X509(cert, &der);
	if (len > 0 && (value = malloc((size_t)len / 3 * 4 + 8)))
		EVP_EncodeBlock((unsigned char *)value, der, len);
	OPENSSL_free(der);
	X509_free(cert);
	EVP_PKEY_free(key);
	return value;
}

/* balancer: selector 0 the certificate header, 1 X-Forwarded-For, 2 a
 * --trusted-balancer net */
static void balancer_seeds(void)
{
	char *cert = balancer_cert_value();

	write_text("balancer", "cert", "\0 ", 2, cert);
	free(cert);
	write_text("balancer", "cert-not-base64", "\3", 1, (char *)"MIIB?AAA");
	write_text("balancer", "forwarded", "\1", 1, (char *)"198.51.100.7, 10.0.0.5");
	write_text("balancer", "forwarded-v6", "\1", 1, (char *)" 2001:db8::17 ");
	write_text("balancer", "net", "\2", 1, (char *)"10.0.0.0/8");
	write_text("balancer", "net-v6", "\5", 1, (char *)"2001:db8:0:17::/64");
	write_text("balancer", "net-mapped", "\2", 1, (char *)"::ffff:10.1.2.3");
}

int main(int argc, char **argv)
{
	struct selftest_sample_session s;
	struct usbip_usb_device dev = { .path = "/sys/devices/platform/vhci_hcd.0/usb1/1-1",
					.busid = "1-1", .busnum = 1, .devnum = 2,
					.speed = USBIP_SPEED_SUPER, .id_vendor = 0x1d6b,
					.id_product = 0x0104, .b_num_interfaces = 2 };
	struct usbip_exported_device devs[2];
	struct usbip_header cmd = { .base = { USBIP_CMD_SUBMIT, 1, 0x10002, USBIP_DIR_OUT, 2 } };
	struct usbip_header ret = { .base = { USBIP_RET_SUBMIT, 1 } };
	uint8_t buf[4096], data[64];
	size_t half;
	int n, m;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}
	outdir = argv[1];
	snprintf((char *)buf, sizeof(buf), "%s/codec", outdir);
	mkdir((char *)buf, 0755);
	snprintf((char *)buf, sizeof(buf), "%s/framer", outdir);
	mkdir((char *)buf, 0755);
	snprintf((char *)buf, sizeof(buf), "%s/wsframe", outdir);
	mkdir((char *)buf, 0755);
	for (n = 0; n < 7; n++) {
		snprintf((char *)buf, sizeof(buf), "%s/%s", outdir,
			 (const char *[]){ "ctl", "vhci", "usbids", "http", "policy", "balancer", "optfile" }[n]);
		mkdir((char *)buf, 0755);
	}
	memset(data, 0x5a, sizeof(data));

	/* codec: selector byte, then one PDU */
	n = usbip_op_common_encode(buf, sizeof(buf), USBIP_OP_REQ_DEVLIST, 0);
	write_seed("codec", "op", 0, buf, (size_t)n, NULL, 0, 0);
	n = usbip_busid_encode(buf, sizeof(buf), "1-1.2");
	write_seed("codec", "busid", 1, buf, (size_t)n, NULL, 0, 0);
	n = usbip_usb_device_encode(buf, sizeof(buf), &dev);
	write_seed("codec", "device", 2, buf, (size_t)n, NULL, 0, 0);
	cmd.u.cmd_submit.transfer_buffer_length = 64;
	n = usbip_encode_urb(buf, sizeof(buf), &cmd, 0, data, 64, NULL, 0);
	write_seed("codec", "header", 3, buf, 48, NULL, 0, 0);
	write_seed("codec", "cmd-out", 4, buf, (size_t)n, NULL, 0, 0);
	ret.u.ret_submit.actual_length = 64;
	m = usbip_encode_urb(buf + 48, sizeof(buf) - 48, &ret, USBIP_DIR_OUT, NULL, 0, NULL, 0);
	write_seed("codec", "cmd-ret", 5, buf, 48 + (size_t)m, NULL, 0, 0);
	devs[0].udev = dev;
	devs[0].interfaces[0] = (struct usbip_usb_interface){ 8, 6, 0x50 };
	devs[0].interfaces[1] = (struct usbip_usb_interface){ 3, 0, 0 };
	devs[1].udev = dev;
	devs[1].udev.b_num_interfaces = 0;
	n = usbip_encode_devlist(buf, sizeof(buf), devs, 2);
	write_seed("codec", "devlist", 6, buf, (size_t)n, NULL, 0, 0);

	/* framer: flags, split, toward-device stream, from-device stream */
	if (selftest_sample_session_build(&s) < 0)
		return 1;
	write_seed("framer", "session", 0, s.to_device.buf, s.to_device.len,
		   s.from_device.buf, s.from_device.len, 1);
	write_seed("framer", "session-chunked", 0x7e, s.to_device.buf, s.to_device.len,
		   s.from_device.buf, s.from_device.len, 1);
	/* the URB part alone, after the 8-byte REP_EXPORT and 320-byte REQ_EXPORT */
	write_seed("framer", "urbs", 1, s.to_device.buf + 8, s.to_device.len - 16,
		   s.from_device.buf + 320, s.from_device.len - 640, 1);
	half = s.from_device.len / 2;
	write_seed("framer", "truncated", 0, s.to_device.buf, s.to_device.len,
		   s.from_device.buf, half, 1);
	selftest_sample_session_free(&s);
	/* wsframe: flags (bit 0 server), then frames: RFC 6455 5.7 examples */
	write_seed("wsframe", "hello", 0, (const uint8_t *)"\x81\x05Hello", 7, NULL, 0, 0);
	write_seed("wsframe", "hello-masked", 1,
		   (const uint8_t *)"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11, NULL, 0, 0);
	write_seed("wsframe", "fragments-ping", 2,
		   (const uint8_t *)"\x01\x03Hel\x89\x05Hello\x80\x02lo", 16, NULL, 0, 0);
	buf[0] = 0x82;
	buf[1] = 126;
	buf[2] = 1;
	buf[3] = 0;
	memset(buf + 4, 0xab, 256);
	write_seed("wsframe", "binary-256", 0, buf, 260, NULL, 0, 0);

	n = usbip_encode_devlist(buf, sizeof(buf), devs, 2);
	write_seed("framer", "devlist", 0, (const uint8_t *)"\x01\x11\x80\x05\0\0\0\0", 8, buf, (size_t)n, 1);
	ctl_seeds(&dev);
	vhci_seeds();
	usbids_seeds();
	http_seeds();
	policy_seeds();
	balancer_seeds();
	optfile_seeds();
	return 0;
}
