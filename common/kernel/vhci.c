/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "kernel/vhci.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/usbws_err.h"
#include "kernel/sysfs.h"
#include "usbip/usbip_proto.h"

#define VHCI_DIR "devices/platform/vhci_hcd.0"
#define STATUS_MAX (64u << 10)

int vhci_parse_status(const char *text, unsigned int controller, struct vhci_port *ports, size_t cap,
		      size_t *n, char *why, size_t why_cap)
{
	const char *line = text, *eol;
	int lineno = 0;

	for (; *line; line = *eol ? eol + 1 : eol) {
		struct vhci_port p;
		char hub[4], busid[32], copy[160];
		size_t len;

		eol = strchr(line, '\n');
		if (!eol)
			eol = line + strlen(line);
		len = (size_t)(eol - line);
		if (++lineno == 1 || len == 0)
			continue;   /* the header, or a trailing blank */
		if (len >= sizeof(copy))
			return usbws_why(why, why_cap, USBWS_ERR_INVAL, "vhci status line %d is too long", lineno);
		memcpy(copy, line, len);
		copy[len] = '\0';
		memset(&p, 0, sizeof(p));
		/* hub port sta spd dev sockfd local_busid; sockfd is a pointer
		 * (hashed) in 6.x and a number before */
		if (sscanf(copy, "%3s %u %u %u %x %*s %31s", hub, &p.port, &p.status, &p.speed, &p.devid, busid) != 6 ||
		    (strcmp(hub, "hs") != 0 && strcmp(hub, "ss") != 0))
			return usbws_why(why, why_cap, USBWS_ERR_INVAL, "vhci status line %d does not parse: \"%s\"",
					 lineno, copy);
		if (*n == cap)
			return usbws_why(why, why_cap, USBWS_ERR_NOSPACE, "more than %zu vhci ports", cap);
		p.controller = controller;
		p.superspeed = strcmp(hub, "ss") == 0;
		snprintf(p.local_busid, sizeof(p.local_busid), "%s", busid);
		ports[(*n)++] = p;
	}
	return 0;
}

int vhci_parse_set(const char *list, struct vhci_set *set, char *why, size_t why_cap)
{
	const char *p = list;

	memset(set, 0, sizeof(*set));
	set->restricted = 1;
	for (;;) {
		unsigned long v;
		char *end;

		if (strncmp(p, "vhci_hcd.", 9) == 0)
			p += 9;
		errno = 0;
		v = *p >= '0' && *p <= '9' ? strtoul(p, &end, 10) : (end = (char *)p, 0);
		if (end == p || errno || v >= VHCI_MAX_CONTROLLERS || (*end && *end != ','))
			return usbws_why(why, why_cap, USBWS_ERR_INVAL,
					 "\"%s\": expected vhci_hcd numbers like 0,2 or vhci_hcd.3, each below %d", list,
					 VHCI_MAX_CONTROLLERS);
		set->allowed[v] = 1;
		if (!*end)
			return 0;
		p = end + 1;
	}
}

int vhci_present(void)
{
	return sysfs_exists(VHCI_DIR "/attach");
}

int vhci_scan(struct vhci_port *ports, size_t cap, size_t *n, char *why, size_t why_cap)
{
	char *text = malloc(STATUS_MAX);
	unsigned int c;
	int rc = 0;

	*n = 0;
	if (!text)
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM, "out of memory");
	for (c = 0; c < VHCI_MAX_CONTROLLERS && rc == 0; c++) {
		int got = c == 0 ? sysfs_read(text, STATUS_MAX, VHCI_DIR "/status")
				 : sysfs_read(text, STATUS_MAX, VHCI_DIR "/status.%u", c);

		if (got < 0) {
			if (c == 0)
				rc = usbws_why(why, why_cap, got, "cannot read vhci_hcd's status: %s", strerror(errno));
			break;
		}
		rc = vhci_parse_status(text, c, ports, cap, n, why, why_cap);
	}
	free(text);
	return rc;
}

const struct vhci_port *vhci_pick(const struct vhci_port *ports, size_t n, uint32_t speed,
				  const struct vhci_set *allowed)
{
	int want_ss = speed >= USBIP_SPEED_SUPER;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct vhci_port *p = &ports[i];

		if (p->status != VHCI_ST_NULL || p->superspeed != want_ss)
			continue;
		if (allowed && allowed->restricted &&
		    (p->controller >= VHCI_MAX_CONTROLLERS || !allowed->allowed[p->controller]))
			continue;
		return p;
	}
	return NULL;
}

int vhci_open_control(char *why, size_t why_cap)
{
	static const char *const names[2] = { VHCI_DIR "/attach", VHCI_DIR "/detach" };

	for (int i = 0; i < 2; i++) {
		if (sysfs_hold("%s", names[i]) < 0)
			return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "cannot open %s/%s for writing: %s",
					 sysfs_root(), names[i], strerror(errno));
	}
	return 0;
}

int vhci_attach(unsigned int port, int fd, uint32_t devid, uint32_t speed, char *why, size_t why_cap)
{
	char line[64];

	snprintf(line, sizeof(line), "%u %d %u %u", port, fd, devid, speed);
	if (sysfs_write(line, VHCI_DIR "/attach") < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "vhci_hcd refused to attach port %u: %s", port,
				 strerror(errno));
	return 0;
}

int vhci_detach(unsigned int port, char *why, size_t why_cap)
{
	char line[16];

	snprintf(line, sizeof(line), "%u", port);
	if (sysfs_write(line, VHCI_DIR "/detach") < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "vhci_hcd refused to detach port %u: %s", port,
				 strerror(errno));
	return 0;
}
