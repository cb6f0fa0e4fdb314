/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The policy file applied (policy.h decides, this acts): each export is
 * accepted or refused and given its offer when it comes; SIGHUP swaps in
 * a file that parses and closes the tunnels it now refuses, and leaves
 * every other one as it is; a certificate's fields say whether it holds
 * the operator role.
 */
#include <string.h>

#include "base/log.h"
#include "base/usbws_err.h"
#include "certid.h"
#include "policy.h"
#include "proxy.h"
#include "proxy_int.h"

int proxy_policy_load(struct proxy *px, char *why, size_t why_cap)
{
	int rc;

	if (!px->cfg->policy)
		return 0;
	rc = policy_load(px->cfg->policy, &px->policy, why, why_cap);
	if (rc < 0)
		return rc;
	log_info("policy %s: %u rules, %u operator lines", px->cfg->policy, policy_rules(px->policy),
		 policy_operators(px->policy));
	return 0;
}

void proxy_policy_free(struct proxy *px)
{
	policy_free(px->policy);
	px->policy = NULL;
}

/* What the node says of its device: the policy can hold a node to its
 * word and no further (usbws-proxy.policy(5), "Trust").  The hello's
 * serial and interfaces are those of the device it named, and of no
 * other the export may name. */
static void decide(const struct proxy *px, const struct tunnel *t, struct policy_decision *d)
{
	int hello_named_it = strcmp(t->node_busid, t->hello_busid) == 0;
	uint8_t if_classes[USBIP_MAX_INTERFACES];
	struct policy_device dev = {
		.node = t->node,
		.vid = t->dev.id_vendor,
		.pid = t->dev.id_product,
		.dev_class = t->dev.b_device_class,
		.if_classes = if_classes,
		.nifs = hello_named_it ? t->nifs : 0,
		.serial = hello_named_it ? t->serial : NULL,
	};
	size_t i;

	for (i = 0; i < t->nifs && i < USBIP_MAX_INTERFACES; i++)
		if_classes[i] = t->ifs[i].b_interface_class;
	policy_decide(px->policy, &dev, d);
}

/* Why a device is refused, for the node (which logs it and stops) and
 * for the proxy's log: the file by its last 48 bytes, so that the whole
 * sentence fits what a node takes (ctl.h: 255 bytes) and a cut never
 * splits a character. */
static void refusal(const struct proxy *px, const struct tunnel *t, unsigned int line, char *out, size_t cap)
{
	const char *file = px->cfg->policy;
	size_t len = strlen(file);

	if (len > 48)
		file += len - 48;
	while (len > 48 && (*file & 0xc0) == 0x80)
		file++;
	if (line)
		snprintf(out, cap, "this proxy's policy refuses %04x:%04x (its %s) of node %s: %s%s line %u",
			 t->dev.id_vendor, t->dev.id_product, t->node_busid, t->node, len > 48 ? "..." : "", file,
			 line);
	else
		snprintf(out, cap,
			 "this proxy's policy refuses %04x:%04x (its %s) of node %s: no rule of %s%s "
			 "lets it in",
			 t->dev.id_vendor, t->dev.id_product, t->node_busid, t->node, len > 48 ? "..." : "", file);
}

int proxy_policy_apply(struct tunnel *t)
{
	struct proxy *px = t->px;
	struct policy_decision d;
	char why[300];

	decide(px, t, &d);
	t->policy_line = d.line;
	t->vhci_only = d.vhci;
	t->ignore_serial = d.address == POLICY_ADDRESS_PORT;
	switch (d.action) {
	case POLICY_DENY:
		refusal(px, t, d.line, why, sizeof(why));
		proxy_tunnel_fail(t, "policy", why);
		return USBWS_ERR_REFUSED;
	case POLICY_ATTACH:
		/* without vhci_hcd here, attach falls back to re-export, as
		 * without a policy */
		t->offer = px->vhci_on ? OFFER_ATTACH : OFFER_EXPORT;
		return 0;
	case POLICY_EXPORT: t->offer = OFFER_EXPORT; return 0;
	case POLICY_ON_DEMAND: t->offer = OFFER_HOLD; return 0;
	}
	return 0;
}

void proxy_policy_reload(struct proxy *px)
{
	struct policy *fresh;
	struct policy_decision d;
	struct tunnel *t, *next;
	unsigned int cut = 0;
	char why[400];

	if (!px->cfg->policy)
		return;
	if (policy_load(px->cfg->policy, &fresh, why, sizeof(why)) < 0) {
		log_err("%s; the policy loaded before stays in force", why);
		return;
	}
	policy_free(px->policy);
	px->policy = fresh;
	for (t = px->tunnels; t; t = next) {
		next = t->next;
		if (!t->exported || t->closing)
			continue;
		decide(px, t, &d);
		if (d.action != POLICY_DENY)
			continue;
		refusal(px, t, d.line, why, sizeof(why));
		/* not kept for a resume: the node is not to come back */
		proxy_tunnel_end(t, "policy", why, PROXY_FAIL_FOREVER);
		cut++;
	}
	log_info("policy %s reloaded: %u rules, %u operator lines; %u tunnel%s now refused and closed",
		 px->cfg->policy, policy_rules(fresh), policy_operators(fresh), cut, cut == 1 ? "" : "s");
}

int proxy_policy_operator(const struct proxy *px, X509 *cert)
{
	struct certid_fields f;
	const char *ou[CERTID_FIELDS_MAX], *dns[CERTID_FIELDS_MAX], *uri[CERTID_FIELDS_MAX];
	struct policy_subject s = { .ou = ou, .san_dns = dns, .san_uri = uri };
	size_t i;

	if (!px->policy || !cert || certid_fields(cert, &f) < 0)
		return 0;
	s.cn = f.cn;
	for (i = 0; i < f.nou; i++)
		ou[i] = f.ou[i];
	for (i = 0; i < f.nsan_dns; i++)
		dns[i] = f.san_dns[i];
	for (i = 0; i < f.nsan_uri; i++)
		uri[i] = f.san_uri[i];
	s.nou = f.nou;
	s.nsan_dns = f.nsan_dns;
	s.nsan_uri = f.nsan_uri;
	return policy_is_operator(px->policy, &s);
}
