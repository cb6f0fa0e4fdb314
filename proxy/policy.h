/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_POLICY_H
#define USBWS_POLICY_H
/*
 * The proxy's policy file (usbws-proxy.policy(5)): which exports it
 * accepts and where each one goes, and which certificates hold the
 * operator role.  A parser and a decision, nothing else: no sockets, no
 * TLS, no clock; policy_load reads one file and hands it to policy_parse.
 *
 * A file is taken whole or not at all: the first line that does not
 * parse refuses it, with "FILE:LINE: reason".  Rules are tried in the
 * file's order and the first whose every condition matches decides; when
 * none does, the default line does, and a file without one denies.
 */
#include <stddef.h>
#include <stdint.h>

#include "kernel/vhci.h"

/* The limits: a longer line, a larger file or more rules is refused. */
#define POLICY_MAX_LINE 1024          /* bytes, the newline not counted */
#define POLICY_MAX_FILE (1024 * 1024) /* bytes */
#define POLICY_MAX_RULES 10000        /* device rules; operator lines have a cap of their own, as large */

enum policy_action { POLICY_DENY, POLICY_ATTACH, POLICY_EXPORT, POLICY_ON_DEMAND };
enum policy_address { POLICY_ADDRESS_SERIAL, POLICY_ADDRESS_PORT };

struct policy; /* opaque */

/* What the proxy knows of an export; the policy keeps no pointer to it. */
struct policy_device {
	const char *node; /* the node's identity; NULL matches no node= */
	uint16_t vid, pid;
	uint8_t dev_class;
	const uint8_t *if_classes; /* one per interface */
	size_t nifs;
	const char *serial; /* NULL or "" when the device has none */
};

struct policy_decision {
	enum policy_action action;
	enum policy_address address; /* POLICY_ADDRESS_SERIAL for a denied device */
	struct vhci_set vhci;        /* restricted == 0: any controller --vhci allows */
	unsigned int line;           /* the deciding rule's line; 0: the default with no line, or no policy */
};

/* A certificate's fields, for the operator role.  NULL and "" name
 * nothing: they match no operator line, not even a bare "*". */
struct policy_subject {
	const char *cn;
	const char *const *ou;
	size_t nou;
	const char *const *san_dns;
	size_t nsan_dns;
	const char *const *san_uri;
	size_t nsan_uri;
};

/* Parses len bytes of text (need not be NUL-terminated); name is the
 * file's name in messages.  Returns 0 with *out a new policy (free it with
 * policy_free), or with *out NULL and why filled: USBWS_ERR_POLICY
 * ("NAME:LINE: reason", or "NAME: reason" for the file as a whole),
 * USBWS_ERR_NOMEM. */
int policy_parse(const char *text, size_t len, const char *name, struct policy **out, char *why, size_t why_cap);

/* Reads the file at path (at most POLICY_MAX_FILE bytes) and parses it.
 * Returns policy_parse's codes, or USBWS_ERR_SYSTEM with why
 * "PATH: strerror" when the file cannot be read. */
int policy_load(const char *path, struct policy **out, char *why, size_t why_cap);

void policy_free(struct policy *p);

/* Where dev goes.  A NULL policy (no policy file) attaches everything,
 * with line 0: the caller applies its own --vhci. */
void policy_decide(const struct policy *p, const struct policy_device *dev, struct policy_decision *out);

/* 1 when an operator line matches one of s's values, else 0 (and for a
 * NULL policy or subject). */
int policy_is_operator(const struct policy *p, const struct policy_subject *s);

/* How many device rules (the default line not counted) and operator
 * lines p holds, for the "loaded N rules" line; 0 for NULL. */
unsigned int policy_rules(const struct policy *p);
unsigned int policy_operators(const struct policy *p);

/* "attach", "export", "on-demand", "deny"; "?" for anything else. */
const char *policy_action_name(enum policy_action a);

#endif
