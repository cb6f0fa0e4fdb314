/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "policy.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/numarg.h"
#include "base/textfile.h"
#include "base/usbws_err.h"

/* The keys of a rule, each at most once: conditions first, then options. */
enum key {
	KEY_NODE,
	KEY_DEVICE,
	KEY_CLASS,
	KEY_SERIAL,
	KEY_VHCI,
	KEY_ADDRESS,
	KEY_COUNT,
};

#define CONDITIONS ((1u << KEY_NODE) | (1u << KEY_DEVICE) | (1u << KEY_CLASS) | (1u << KEY_SERIAL))
#define KEYS_EXPECTED "node=, device=, class=, serial=, vhci= or address="

static const char *const key_names[KEY_COUNT] = {
	[KEY_NODE] = "node",     [KEY_DEVICE] = "device", [KEY_CLASS] = "class",
	[KEY_SERIAL] = "serial", [KEY_VHCI] = "vhci",     [KEY_ADDRESS] = "address",
};

enum field { FIELD_CN, FIELD_OU, FIELD_SAN_DNS, FIELD_SAN_URI, FIELD_COUNT };

#define FIELDS_EXPECTED "cn=, ou=, san-dns= or san-uri="

static const char *const field_names[FIELD_COUNT] = {
	[FIELD_CN] = "cn",
	[FIELD_OU] = "ou",
	[FIELD_SAN_DNS] = "san-dns",
	[FIELD_SAN_URI] = "san-uri",
};

static const char *const action_names[] = {
	[POLICY_DENY] = "deny",
	[POLICY_ATTACH] = "attach",
	[POLICY_EXPORT] = "export",
	[POLICY_ON_DEMAND] = "on-demand",
};

#define ANY_ID (-1) /* device=VID:PID with * for one half */

struct rule {
	enum policy_action action;
	enum policy_address address;
	unsigned int line;
	unsigned int given; /* 1 << KEY_* for each key the rule names */
	char *node, *serial;
	int vid, pid; /* ANY_ID or 0..0xffff */
	uint8_t dev_class;
	struct vhci_set vhci;
};

struct operator_line {
	enum field field;
	char *glob;
};

struct policy {
	struct rule *rules;
	unsigned int nrules, rules_cap;
	struct rule fallback; /* the default line, or deny with line 0 */
	struct operator_line *ops;
	unsigned int nops, ops_cap;
};

/* One line cut into words: quotes removed, each word NUL-terminated in
 * text.  A word is at least one byte followed by a blank, so a line of
 * POLICY_MAX_LINE bytes holds at most half as many words, plus one; each
 * takes one byte more (its NUL) than it took in the line. */
struct word {
	const char *text;
	size_t len;
	long eq; /* offset of the first '=' outside quotes, or -1 */
};

struct line {
	char text[2 * POLICY_MAX_LINE + 2];
	struct word words[POLICY_MAX_LINE / 2 + 1];
	size_t nwords;
};

struct parser {
	const char *name;
	unsigned int line;
	struct policy *p;
	unsigned int default_line; /* 0: no default yet */
	char *why;
	size_t why_cap;
};

static int fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "NAME:LINE: reason": every refusal names the line to fix. */
static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = usbws_vwhy_at(ps->why, ps->why_cap, USBWS_ERR_POLICY, ps->name, ps->line, fmt, ap);
	va_end(ap);
	return rc;
}

/* A word as a message quotes it: long ones cut, so the reason still fits. */
static const char *shown(char out[64], const char *s, size_t len)
{
	if (len > 40)
		snprintf(out, 64, "%.40s...", s);
	else
		snprintf(out, 64, "%.*s", (int)len, s);
	return out;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Cuts s[0..len) into words.  Blanks separate them; a double-quoted part
 * of a word keeps its blanks and '#' and loses its quotes; a '#' that
 * begins a word begins a comment.  Control characters (a tab aside) are
 * refused: a policy names identities and serials, which hold none, and a
 * message quoting the line must not carry them into a log.
 */
static int split_line(struct parser *ps, const char *s, size_t len, struct line *l)
{
	char *out = l->text;
	size_t i = 0;

	l->nwords = 0;
	if (len > POLICY_MAX_LINE)
		return fail(ps, "line longer than %d bytes", POLICY_MAX_LINE);
	/* a file written on Windows */
	if (len && s[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0')
			return fail(ps, "a NUL byte");
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(ps, "a control character (0x%02x)", c);
	}
	i = 0;
	while (i < len) {
		struct word *w;

		if (is_blank(s[i])) {
			i++;
			continue;
		}
		if (s[i] == '#')
			break;
		if (l->nwords == sizeof(l->words) / sizeof(l->words[0]))
			return fail(ps, "too many words"); /* cannot happen: see struct line */
		w = &l->words[l->nwords++];
		w->text = out;
		w->eq = -1;
		while (i < len && !is_blank(s[i])) {
			if (s[i] == '"') {
				const char *close = memchr(s + i + 1, '"', len - i - 1);
				size_t n;

				if (!close)
					return fail(ps, "unterminated quote");
				n = (size_t)(close - (s + i + 1));
				memcpy(out, s + i + 1, n);
				out += n;
				i += n + 2;
				continue;
			}
			if (s[i] == '=' && w->eq < 0)
				w->eq = out - w->text;
			*out++ = s[i++];
		}
		w->len = (size_t)(out - w->text);
		*out++ = '\0';
	}
	return 0;
}

/* parse_action, parse_hex and parse_device return 0 or USBWS_ERR_POLICY and
 * say no more: their caller knows the key, and fail() names the line. */
static int parse_action(const char *s, enum policy_action *out)
{
	size_t i;

	for (i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
		if (strcmp(s, action_names[i]) == 0) {
			*out = (enum policy_action)i;
			return 0;
		}
	}
	return USBWS_ERR_POLICY;
}

/* Exactly n hex digits, or "*" when star is allowed (ANY_ID). */
static int parse_hex(const char *s, size_t len, size_t n, int star, int *out)
{
	int v = 0;
	size_t i;

	if (star && len == 1 && s[0] == '*') {
		*out = ANY_ID;
		return 0;
	}
	if (len != n)
		return USBWS_ERR_POLICY;
	for (i = 0; i < n; i++) {
		int d = numarg_hex_digit(s[i]);

		if (d < 0)
			return USBWS_ERR_POLICY;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

static int parse_device(const char *v, size_t len, struct rule *r)
{
	const char *colon = memchr(v, ':', len);

	if (!colon)
		return USBWS_ERR_POLICY;
	if (parse_hex(v, (size_t)(colon - v), 4, 1, &r->vid) < 0)
		return USBWS_ERR_POLICY;
	return parse_hex(colon + 1, len - (size_t)(colon - v) - 1, 4, 1, &r->pid);
}

static int copy_glob(struct parser *ps, const char *v, size_t len, char **out)
{
	*out = strndup(v, len);
	if (!*out)
		return usbws_why(ps->why, ps->why_cap, USBWS_ERR_NOMEM, "%s: out of memory", ps->name);
	return 0;
}

/* One KEY=VALUE of a rule (is_default: of the default line). */
static int parse_key(struct parser *ps, const struct word *w, struct rule *r, int is_default)
{
	char a[64], detail[200];
	const char *v;
	size_t klen, vlen;
	int k, parsed;

	if (w->eq < 0)
		return fail(ps, "'%s': expected KEY=VALUE (" KEYS_EXPECTED ")", shown(a, w->text, w->len));
	klen = (size_t)w->eq;
	v = w->text + klen + 1;
	vlen = w->len - klen - 1;
	for (k = 0; k < KEY_COUNT; k++)
		if (strlen(key_names[k]) == klen && memcmp(key_names[k], w->text, klen) == 0)
			break;
	if (k == KEY_COUNT)
		return fail(ps, "unknown key '%s=' (expected " KEYS_EXPECTED ")", shown(a, w->text, klen));
	if (r->given & (1u << k))
		return fail(ps, "%s= given twice", key_names[k]);
	r->given |= 1u << k;
	if (vlen == 0)
		return fail(ps, "%s= has no value", key_names[k]);
	if (is_default && (CONDITIONS & (1u << k)))
		return fail(ps, "%s= is a condition, and default takes none: it applies when no rule matches",
			    key_names[k]);

	switch ((enum key)k) {
	case KEY_NODE: return copy_glob(ps, v, vlen, &r->node);
	case KEY_SERIAL: return copy_glob(ps, v, vlen, &r->serial);
	case KEY_DEVICE:
		if (parse_device(v, vlen, r) < 0)
			return fail(ps, "device=%s: expected VID:PID in hex (e.g. 0525:a4a5), either half may be *",
				    shown(a, v, vlen));
		return 0;
	case KEY_CLASS:
		if (parse_hex(v, vlen, 2, 0, &parsed) < 0)
			return fail(ps, "class=%s: expected a class code as 2 hex digits (e.g. 08)",
				    shown(a, v, vlen));
		r->dev_class = (uint8_t)parsed;
		return 0;
	case KEY_VHCI:
		if (r->action != POLICY_ATTACH)
			return fail(ps, "vhci= only applies to attach");
		/* the value is a word of a line: it is NUL-terminated; the
		 * reason starts with the list in quotes */
		if (vhci_parse_set(v, &r->vhci, detail, sizeof(detail)) < 0)
			return fail(ps, "vhci=%s", detail);
		return 0;
	case KEY_ADDRESS:
		if (r->action == POLICY_DENY)
			return fail(ps, "address= does not apply to deny: a denied device has no address");
		if (strcmp(v, "serial") == 0)
			r->address = POLICY_ADDRESS_SERIAL;
		else if (strcmp(v, "port") == 0)
			r->address = POLICY_ADDRESS_PORT;
		else
			return fail(ps, "address=%s: expected serial or port", shown(a, v, vlen));
		return 0;
	case KEY_COUNT: break;
	}
	return 0;
}

static void rule_clear(struct rule *r)
{
	free(r->node);
	free(r->serial);
	memset(r, 0, sizeof(*r));
}

/* The options (and for a rule, the conditions) after its action. */
static int parse_rule_keys(struct parser *ps, const struct line *l, size_t first, struct rule *r, int is_default)
{
	size_t i;
	int rc;

	for (i = first; i < l->nwords; i++) {
		rc = parse_key(ps, &l->words[i], r, is_default);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int add_rule(struct parser *ps, const struct line *l, enum policy_action action)
{
	struct policy *p = ps->p;
	struct rule *r;
	int rc;

	if (p->nrules == POLICY_MAX_RULES)
		return fail(ps, "more than %d rules", POLICY_MAX_RULES);
	if (p->nrules == p->rules_cap) {
		unsigned int cap = p->rules_cap ? 2 * p->rules_cap : 16;
		struct rule *grown;

		if (cap > POLICY_MAX_RULES)
			cap = POLICY_MAX_RULES;
		grown = realloc(p->rules, cap * sizeof(*grown));
		if (!grown)
			return usbws_why(ps->why, ps->why_cap, USBWS_ERR_NOMEM, "%s: out of memory", ps->name);
		p->rules = grown;
		p->rules_cap = cap;
	}
	r = &p->rules[p->nrules];
	memset(r, 0, sizeof(*r));
	r->action = action;
	r->line = ps->line;
	rc = parse_rule_keys(ps, l, 1, r, 0);
	if (rc < 0) {
		rule_clear(r);
		return rc;
	}
	p->nrules++;
	return 0;
}

static int set_default(struct parser *ps, const struct line *l)
{
	struct rule r = { 0 };
	enum policy_action action;
	char a[64];
	int rc;

	if (ps->default_line)
		return fail(ps, "a second default (the first is on line %u)", ps->default_line);
	if (l->nwords < 2 || l->words[1].eq >= 0)
		return fail(ps, "default needs an action first (attach, export, on-demand or deny)");
	if (parse_action(l->words[1].text, &action) < 0)
		return fail(ps, "default: unknown action '%s' (expected attach, export, on-demand or deny)",
			    shown(a, l->words[1].text, l->words[1].len));
	r.action = action;
	r.line = ps->line;
	rc = parse_rule_keys(ps, l, 2, &r, 1);
	if (rc < 0) {
		rule_clear(&r);
		return rc;
	}
	ps->p->fallback = r;
	ps->default_line = ps->line;
	return 0;
}

static int add_operator(struct parser *ps, const struct line *l)
{
	struct policy *p = ps->p;
	const struct word *w;
	char a[64];
	size_t klen;
	int f;

	if (l->nwords < 2)
		return fail(ps, "operator needs FIELD=GLOB (" FIELDS_EXPECTED ")");
	if (l->nwords > 2)
		return fail(ps, "operator takes one FIELD=GLOB: give each on a line of its own");
	w = &l->words[1];
	if (w->eq < 0)
		return fail(ps, "'%s': expected FIELD=GLOB (" FIELDS_EXPECTED ")", shown(a, w->text, w->len));
	klen = (size_t)w->eq;
	for (f = 0; f < FIELD_COUNT; f++)
		if (strlen(field_names[f]) == klen && memcmp(field_names[f], w->text, klen) == 0)
			break;
	if (f == FIELD_COUNT)
		return fail(ps, "unknown field '%s=' (expected " FIELDS_EXPECTED ")", shown(a, w->text, klen));
	if (w->len == klen + 1)
		return fail(ps, "%s= has no value", field_names[f]);
	if (p->nops == POLICY_MAX_RULES)
		return fail(ps, "more than %d operator lines", POLICY_MAX_RULES);
	if (p->nops == p->ops_cap) {
		unsigned int cap = p->ops_cap ? 2 * p->ops_cap : 8;
		struct operator_line *grown;

		if (cap > POLICY_MAX_RULES)
			cap = POLICY_MAX_RULES;
		grown = realloc(p->ops, cap * sizeof(*grown));
		if (!grown)
			return usbws_why(ps->why, ps->why_cap, USBWS_ERR_NOMEM, "%s: out of memory", ps->name);
		p->ops = grown;
		p->ops_cap = cap;
	}
	p->ops[p->nops].field = (enum field)f;
	if (copy_glob(ps, w->text + klen + 1, w->len - klen - 1, &p->ops[p->nops].glob) < 0)
		return USBWS_ERR_NOMEM;
	p->nops++;
	return 0;
}

static int parse_line(struct parser *ps, const struct line *l)
{
	const struct word *first = &l->words[0];
	enum policy_action action;
	char a[64];

	if (l->nwords == 0)
		return 0;
	if (first->eq >= 0)
		return fail(ps,
			    "a rule with no action: it starts with '%s' (expected attach, export, on-demand, deny, "
			    "default or operator first)",
			    shown(a, first->text, first->len));
	if (parse_action(first->text, &action) == 0)
		return add_rule(ps, l, action);
	if (strcmp(first->text, "default") == 0)
		return set_default(ps, l);
	if (strcmp(first->text, "operator") == 0)
		return add_operator(ps, l);
	return fail(ps, "unknown action '%s' (expected attach, export, on-demand, deny, default or operator)",
		    shown(a, first->text, first->len));
}

void policy_free(struct policy *p)
{
	unsigned int i;

	if (!p)
		return;
	for (i = 0; i < p->nrules; i++)
		rule_clear(&p->rules[i]);
	for (i = 0; i < p->nops; i++)
		free(p->ops[i].glob);
	rule_clear(&p->fallback);
	free(p->rules);
	free(p->ops);
	free(p);
}

int policy_parse(const char *text, size_t len, const char *name, struct policy **out, char *why, size_t why_cap)
{
	struct parser ps = { .name = name ? name : "policy", .why = why, .why_cap = why_cap };
	struct line *l = NULL;
	size_t pos = 0;
	int rc = 0;

	*out = NULL;
	if (len > POLICY_MAX_FILE)
		return usbws_why(why, why_cap, USBWS_ERR_POLICY,
				 "%s: larger than %d bytes (1 MiB), the most a policy file may hold", ps.name,
				 POLICY_MAX_FILE);
	ps.p = calloc(1, sizeof(*ps.p));
	l = malloc(sizeof(*l));
	if (!ps.p || !l) {
		rc = usbws_why(why, why_cap, USBWS_ERR_NOMEM, "%s: out of memory", ps.name);
		goto out;
	}
	/* no default line: a policy file closes by default */
	ps.p->fallback.action = POLICY_DENY;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;

		ps.line++;
		rc = split_line(&ps, text + pos, end - pos, l);
		if (rc == 0)
			rc = parse_line(&ps, l);
		if (rc < 0)
			goto out;
		pos = end + 1;
	}
	*out = ps.p;
	ps.p = NULL;
out:
	free(l);
	policy_free(ps.p);
	return rc;
}

int policy_load(const char *path, struct policy **out, char *why, size_t why_cap)
{
	char *text;
	size_t len;
	int rc;

	*out = NULL;
	rc = textfile_read(path, POLICY_MAX_FILE, USBWS_ERR_POLICY, &text, &len, why, why_cap);
	if (rc < 0)
		return rc;
	rc = policy_parse(text, len, path, out, why, why_cap);
	free(text);
	return rc;
}

static int rule_matches(const struct rule *r, const struct policy_device *d)
{
	if (r->given & (1u << KEY_NODE))
		if (!d->node || fnmatch(r->node, d->node, 0) != 0)
			return 0;
	if (r->given & (1u << KEY_DEVICE))
		if ((r->vid != ANY_ID && r->vid != d->vid) || (r->pid != ANY_ID && r->pid != d->pid))
			return 0;
	if (r->given & (1u << KEY_CLASS)) {
		int found = d->dev_class == r->dev_class;
		size_t i;

		for (i = 0; !found && d->if_classes && i < d->nifs; i++)
			found = d->if_classes[i] == r->dev_class;
		if (!found)
			return 0;
	}
	if (r->given & (1u << KEY_SERIAL))
		if (!d->serial || !d->serial[0] || fnmatch(r->serial, d->serial, 0) != 0)
			return 0;
	return 1;
}

static void decide_by(const struct rule *r, struct policy_decision *out)
{
	out->action = r->action;
	out->address = r->action == POLICY_DENY ? POLICY_ADDRESS_SERIAL : r->address;
	if (r->given & (1u << KEY_VHCI))
		out->vhci = r->vhci;
	out->line = r->line;
}

void policy_decide(const struct policy *p, const struct policy_device *dev, struct policy_decision *out)
{
	unsigned int i;

	memset(out, 0, sizeof(*out));
	if (!p) {
		out->action = POLICY_ATTACH;
		out->address = POLICY_ADDRESS_SERIAL;
		return;
	}
	for (i = 0; i < p->nrules; i++) {
		if (rule_matches(&p->rules[i], dev)) {
			decide_by(&p->rules[i], out);
			return;
		}
	}
	decide_by(&p->fallback, out);
}

/* NULL and "" name nothing: not even a bare "*" takes them. */
static int any_matches(const char *glob, const char *const *values, size_t n)
{
	size_t i;

	for (i = 0; values && i < n; i++)
		if (values[i] && values[i][0] && fnmatch(glob, values[i], 0) == 0)
			return 1;
	return 0;
}

int policy_is_operator(const struct policy *p, const struct policy_subject *s)
{
	unsigned int i;

	if (!p || !s)
		return 0;
	for (i = 0; i < p->nops; i++) {
		const struct operator_line *o = &p->ops[i];
		int hit = 0;

		switch (o->field) {
		case FIELD_CN: hit = any_matches(o->glob, &s->cn, 1); break;
		case FIELD_OU: hit = any_matches(o->glob, s->ou, s->nou); break;
		case FIELD_SAN_DNS: hit = any_matches(o->glob, s->san_dns, s->nsan_dns); break;
		case FIELD_SAN_URI: hit = any_matches(o->glob, s->san_uri, s->nsan_uri); break;
		case FIELD_COUNT: break;
		}
		if (hit)
			return 1;
	}
	return 0;
}

unsigned int policy_rules(const struct policy *p)
{
	return p ? p->nrules : 0;
}

unsigned int policy_operators(const struct policy *p)
{
	return p ? p->nops : 0;
}

const char *policy_action_name(enum policy_action a)
{
	return (size_t)a < sizeof(action_names) / sizeof(action_names[0]) ? action_names[a] : "?";
}
