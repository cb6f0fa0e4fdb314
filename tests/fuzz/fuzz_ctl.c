/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target for the JSON control messages (ctl_parse), the text frames a
 * peer sends.  Input: the frame's text, as it came off the wire (not
 * NUL-terminated).  Checks that a refusal says why, that every string
 * field is terminated and free of control characters (they end up in logs
 * and on terminals), and that what parses can be rebuilt by the ctl_*
 * builders and parses again to the same values.
 */
#include <jansson.h>
#include <string.h>

#include "tunnel/ctl.h"
#include "fuzz_common.h"
#include "base/usbws_err.h"

static void check_field(const char *s, size_t size)
{
	size_t n = strnlen(s, size), i;

	FUZZ_ASSERT(n < size);
	for (i = 0; i < n; i++)
		FUZZ_ASSERT((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

/* Builds the message again from what was parsed and checks it comes back the same. */
static void round_trip(const struct ctl_msg *m)
{
	struct ctl_msg again;
	char why[256], *text = NULL;

	if (m->type == CTL_HELLO && strcmp(m->role, "resume") == 0)
		text = ctl_hello_resume(m->session, m->received, m->window);
	else if (m->type == CTL_RESUMED)
		text = ctl_resumed(m->received, m->window);
	else if (m->type == CTL_ACK)
		text = ctl_ack(m->received);
	else if (m->type == CTL_WELCOME)
		text = ctl_welcome(m->node, m->busid, m->session[0] ? m->session : NULL, m->resume_seconds,
				   m->window);
	else if (m->type == CTL_ERROR && m->fresh)
		text = ctl_error_fresh(m->code, m->message);
	else if (m->type == CTL_ERROR)
		text = ctl_error(m->code, m->message);
	if (!text)
		return;
	FUZZ_ASSERT(ctl_parse(text, strlen(text), &again, why, sizeof(why)) == 0);
	FUZZ_ASSERT(again.type == m->type);
	FUZZ_ASSERT(again.received == m->received);
	FUZZ_ASSERT(again.resume_seconds == m->resume_seconds);
	FUZZ_ASSERT(again.window == m->window);
	FUZZ_ASSERT(again.fresh == m->fresh);
	FUZZ_ASSERT(strcmp(again.session, m->session) == 0);
	FUZZ_ASSERT(strcmp(again.node, m->node) == 0 && strcmp(again.busid, m->busid) == 0);
	FUZZ_ASSERT(strcmp(again.code, m->code) == 0 && strcmp(again.message, m->message) == 0);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_msg m;
	char why[256];
	int rc;

	why[0] = '\0';
	rc = ctl_parse((const char *)data, size, &m, why, sizeof(why));
	if (rc < 0) {
		FUZZ_ASSERT(rc == USBWS_ERR_INVAL);
		FUZZ_ASSERT(why[0] != '\0' && strnlen(why, sizeof(why)) < sizeof(why));
		return 0;
	}
	FUZZ_ASSERT(m.type >= CTL_HELLO && m.type <= CTL_ACK);
	FUZZ_ASSERT(m.nifs <= USBIP_MAX_INTERFACES);
	check_field(m.role, sizeof(m.role));
	check_field(m.session, sizeof(m.session));
	check_field(m.node, sizeof(m.node));
	check_field(m.busid, sizeof(m.busid));
	check_field(m.code, sizeof(m.code));
	check_field(m.message, sizeof(m.message));
	FUZZ_ASSERT(!m.session[0] || strlen(m.session) == CTL_SESSION_HEX);
	FUZZ_ASSERT(m.received <= INT64_MAX);
	/* only an error offers the connection for an export afresh */
	FUZZ_ASSERT(m.fresh == 0 || (m.fresh == 1 && m.type == CTL_ERROR));
	round_trip(&m);
	return 0;
}
