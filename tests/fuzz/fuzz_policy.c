/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target for the proxy's policy file (policy_parse), which an
 * operator writes and SIGHUP reloads.  Input: the file's text.  Checks
 * that a refusal says why, names the file and carries no control
 * character into the log; that a policy stays within its limits; and that
 * every decision it makes is one of the four, from a line of the file,
 * with options only where they apply.
 */
#include <string.h>

#include "base/usbws_err.h"
#include "fuzz_common.h"
#include "proxy/policy.h"

static void check_decision(const struct policy *p, const struct policy_device *dev, unsigned int lines)
{
	struct policy_decision d;

	memset(&d, 0xa5, sizeof(d));
	policy_decide(p, dev, &d);
	FUZZ_ASSERT(d.action == POLICY_DENY || d.action == POLICY_ATTACH || d.action == POLICY_EXPORT ||
		    d.action == POLICY_ON_DEMAND);
	FUZZ_ASSERT(d.address == POLICY_ADDRESS_SERIAL || d.address == POLICY_ADDRESS_PORT);
	FUZZ_ASSERT(d.line <= lines);
	FUZZ_ASSERT(d.vhci.restricted == 0 || d.vhci.restricted == 1);
	if (d.action != POLICY_ATTACH)
		FUZZ_ASSERT(!d.vhci.restricted);
	if (d.action == POLICY_DENY)
		FUZZ_ASSERT(d.address == POLICY_ADDRESS_SERIAL);
	FUZZ_ASSERT(strcmp(policy_action_name(d.action), "?") != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t storage[] = { 0x08 }, composite[] = { 0xff, 0x03, 0xe0 };
	static const char *const ous[] = { "Fleet Operators", "" };
	static const char *const dns[] = { "alice.ops.example.com" };
	static const char *const uris[] = { "spiffe://example.com/ops/alice" };
	const struct policy_subject subject = { "ops-alice", ous, 2, dns, 1, uris, 1 };
	uint32_t h = 2166136261u; /* FNV-1a: a device that differs with each input */
	struct policy *p = (struct policy *)1;
	unsigned int lines = 1;
	char why[512];
	size_t i;
	int rc;

	for (i = 0; i < size; i++) {
		lines += data[i] == '\n';
		h = (h ^ data[i]) * 16777619u;
	}
	why[0] = '\0';
	rc = policy_parse((const char *)data, size, "fuzz.policy", &p, why, sizeof(why));
	FUZZ_ASSERT(rc == 0 || rc == USBWS_ERR_POLICY || rc == USBWS_ERR_NOMEM);
	if (rc < 0) {
		FUZZ_ASSERT(p == NULL);
		FUZZ_ASSERT(strnlen(why, sizeof(why)) < sizeof(why));
		FUZZ_ASSERT(strncmp(why, "fuzz.policy:", 12) == 0);
		for (i = 0; why[i]; i++)
			FUZZ_ASSERT((unsigned char)why[i] >= 0x20 && why[i] != 0x7f);
		return 0;
	}
	FUZZ_ASSERT(p != NULL);
	FUZZ_ASSERT(policy_rules(p) <= POLICY_MAX_RULES && policy_operators(p) <= POLICY_MAX_RULES);
	{
		const struct policy_device devs[] = {
			{ "gw-1", 0x0525, 0xa4a5, 0, NULL, 0, NULL },
			{ "gw-17", 0x0781, 0x5567, 0, storage, 1, "FP-0042" },
			{ "gw-30", 0x8087, 0x0a2b, 0xef, composite, 3, "" },
			{ NULL, 0x1d6b, 0x0104, 0, NULL, 0, NULL },
			{ "cam-1", (uint16_t)h, (uint16_t)(h >> 16), (uint8_t)(h >> 8), composite, h & 3, "x" },
		};

		for (i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
			check_decision(p, &devs[i], lines);
	}
	rc = policy_is_operator(p, &subject);
	FUZZ_ASSERT(rc == 0 || rc == 1);
	FUZZ_ASSERT(policy_is_operator(p, NULL) == 0);
	if (policy_operators(p) == 0)
		FUZZ_ASSERT(rc == 0);
	policy_free(p);
	return 0;
}
