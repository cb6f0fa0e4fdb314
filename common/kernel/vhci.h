/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_VHCI_H
#define USBWS_VHCI_H
/*
 * The kernel's vhci_hcd, through sysfs.c.  vhci_hcd.0 carries attach,
 * detach and one status file per controller (status, status.1, ...);
 * ports are numbered across all controllers, and each controller has a
 * high-speed half and a SuperSpeed half.  A device must go to a port of
 * its half: SuperSpeed and faster to "ss", the rest to "hs".
 */
#include <stddef.h>
#include <stdint.h>

#define VHCI_MAX_CONTROLLERS 128    /* CONFIG_USBIP_VHCI_NR_HCS's range */

/* vdev status values (drivers/usb/usbip/usbip_common.h) */
enum vhci_port_status {
	VHCI_ST_NULL = 4,          /* free */
	VHCI_ST_NOTASSIGNED = 5,
	VHCI_ST_USED = 6,
	VHCI_ST_ERROR = 7,
};

struct vhci_port {
	unsigned int port;          /* the number attach and detach take */
	unsigned int controller;    /* N of vhci_hcd.N */
	int superspeed;             /* in the controller's SS half */
	unsigned int status;        /* enum vhci_port_status */
	unsigned int speed;         /* USB_SPEED_* of the device on it */
	uint32_t devid;
	char local_busid[32];       /* the device's name here, "0-0" when free */
};

/* Which controllers a node may use: all, or those marked. */
struct vhci_set {
	int restricted;
	uint8_t allowed[VHCI_MAX_CONTROLLERS];
};

/* Parses one status file's text (header line first) of controller
 * `controller`, appending to ports[*n..cap).  Returns 0, or with why
 * filled USBWS_ERR_INVAL when a line does not parse, USBWS_ERR_NOSPACE
 * when the ports do not fit. */
int vhci_parse_status(const char *text, unsigned int controller, struct vhci_port *ports, size_t cap,
		      size_t *n, char *why, size_t why_cap);

/* "0,2,vhci_hcd.3" -> set.  Returns 0, or USBWS_ERR_INVAL with why filled. */
int vhci_parse_set(const char *list, struct vhci_set *set, char *why, size_t why_cap);

/* True when vhci_hcd is loaded (vhci_hcd.0/attach exists). */
int vhci_present(void);

/* Reads every controller's ports.  Returns 0, or a negative enum
 * usbws_err with why filled. */
int vhci_scan(struct vhci_port *ports, size_t cap, size_t *n, char *why, size_t why_cap);

/* The first free port for a device of this speed among the allowed
 * controllers, or NULL. */
const struct vhci_port *vhci_pick(const struct vhci_port *ports, size_t n, uint32_t speed,
				  const struct vhci_set *allowed);

/* Holds vhci_hcd's attach and detach files open (sysfs_hold), so that
 * vhci_attach and vhci_detach write through them once privileges are
 * dropped.  Returns 0, or USBWS_ERR_SYSTEM with why filled.  Without it
 * they open the files for each write. */
int vhci_open_control(char *why, size_t why_cap);

/* Attaches: the kernel takes its own reference to fd; the caller closes
 * its copy.  Returns 0, or USBWS_ERR_SYSTEM with why filled. */
int vhci_attach(unsigned int port, int fd, uint32_t devid, uint32_t speed, char *why, size_t why_cap);
int vhci_detach(unsigned int port, char *why, size_t why_cap);

#endif
