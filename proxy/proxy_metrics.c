/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * usbws-proxy --metrics-listen: /metrics for Prometheus, from a vhost of
 * its own on threads[0]'s context.  A scrape asks every thread for a copy
 * of its tunnels' traffic (as a listing does), then writes the whole
 * exposition under px->lock.  Counters that outlive a tunnel (its traffic
 * once it goes, refusals, violations, handshakes) are kept here, each
 * bumped under the lock by the control event that causes it; the data
 * path takes no lock and counts nothing here.
 *
 * Cardinality: every family has a fixed set of series, except the
 * per-device ones (usbws_device_*: two series a tunnel per family), which
 * --metrics-node-labels off leaves out for large fleets.
 */
#include <string.h>

#include "base/monoclock.h"
#include "base/promtext.h"
#include "base/usbws_err.h"
#include "proxy.h"
#include "proxy_int.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define PROXY_METRICS_CACHE_MS 1000

static const char *const refusal_names[PROXY_REFUSALS] = {
	[PROXY_REFUSAL_UNKNOWN_CA] = "unknown_ca",     [PROXY_REFUSAL_EXPIRED] = "expired",
	[PROXY_REFUSAL_REVOKED] = "revoked",           [PROXY_REFUSAL_BAD_CERTIFICATE] = "bad_certificate",
	[PROXY_REFUSAL_BAD_IDENTITY] = "bad_identity", [PROXY_REFUSAL_NO_CERTIFICATE] = "no_certificate",
	[PROXY_REFUSAL_HANDSHAKE] = "handshake",       [PROXY_REFUSAL_UPGRADE] = "upgrade",
};

static const char *const violator_names[PROXY_VIOLATORS] = {
	[PROXY_FROM_NODE] = "node",
	[PROXY_FROM_IMPORTER] = "importer",
};

void proxy_metrics_refusal(struct proxy *px, enum proxy_refusal why)
{
	/* PROXY_REFUSALS: counted already, where it was decided */
	if (why >= PROXY_REFUSALS)
		return;
	proxy_thread_lock(px);
	px->metrics.refusals[why]++;
	proxy_thread_unlock(px);
}

void proxy_metrics_violation(struct proxy *px, enum proxy_violator who, int rule)
{
	/* the rules are USB/IP's and WebSocket's codes; any other is not one */
	if (rule > USBWS_ERR_TRUNCATED || -rule >= PROXY_METRICS_RULES)
		return;
	proxy_thread_lock(px);
	px->metrics.violations[who][-rule]++;
	proxy_thread_unlock(px);
}

void proxy_metrics_handshake(struct proxy *px, int64_t ms)
{
	proxy_thread_lock(px);
	usbip_validator_rtt_record(&px->metrics.handshakes, (uint64_t)(ms < 0 ? 0 : ms) * 1000000u);
	proxy_thread_unlock(px);
}

static void add_flow(struct usbip_flow_stats *into, const struct usbip_flow_stats *from)
{
	into->bytes += from->bytes;
	into->payload_bytes += from->payload_bytes;
	into->submits += from->submits;
	into->unlinks += from->unlinks;
	into->ops += from->ops;
}

static void add_tunnel(struct proxy_traffic *into, const struct tunnel_stats *s)
{
	uint64_t counts[PROMTEXT_URB_BOUNDS + 1];
	size_t i;

	add_flow(&into->to_device, &s->to_device);
	add_flow(&into->from_device, &s->from_device);
	usbip_validator_rtt_buckets(&s->rtt, promtext_urb_bounds_ns, PROMTEXT_URB_BOUNDS, counts);
	for (i = 0; i <= PROMTEXT_URB_BOUNDS; i++)
		into->rtt_counts[i] += counts[i];
	into->rtt_sum_ns += s->rtt.sum_ns;
}

static void add_traffic(struct proxy_traffic *into, const struct proxy_traffic *from)
{
	size_t i;

	add_flow(&into->to_device, &from->to_device);
	add_flow(&into->from_device, &from->from_device);
	for (i = 0; i <= PROMTEXT_URB_BOUNDS; i++)
		into->rtt_counts[i] += from->rtt_counts[i];
	into->rtt_sum_ns += from->rtt_sum_ns;
}

void proxy_metrics_retire(struct tunnel *t)
{
	struct tunnel_stats s;

	if (!t->validator)
		return;
	proxy_tunnel_stats(t, &s);
	add_tunnel(&t->px->metrics.retired, &s);
}

/* counts: nbounds + 1 of them, the last above the last bound */
static void histogram(struct promtext *w, const char *name, const char *help, const uint64_t *bounds_ns,
		      size_t nbounds, const uint64_t *counts, uint64_t sum_ns)
{
	const struct promtext_histogram h = { bounds_ns, nbounds, counts, sum_ns };

	promtext_family(w, name, PROMTEXT_HISTOGRAM, help);
	promtext_histogram(w, name, NULL, 0, &h);
}

/* A flow pair (bytes or URBs) by direction. */
static void by_direction(struct promtext *w, const char *name, const struct promtext_label *labels, size_t n,
			 uint64_t to_device, uint64_t from_device)
{
	struct promtext_label l[3];

	if (n)
		memcpy(l, labels, n * sizeof(*l));
	l[n].name = "direction";
	l[n].value = "to_device";
	promtext_sample(w, name, l, n + 1, to_device);
	l[n].value = "from_device";
	promtext_sample(w, name, l, n + 1, from_device);
}

static void write_tunnels(struct promtext *w, struct proxy *px, struct proxy_traffic *live)
{
	static const char *const states[] = { "offered", "held", "attached", "re-exported" };
	unsigned int connected = 0, parked = 0, devices[N_OF(states)] = { 0 };
	struct promtext_label l[1];
	struct tunnel_stats s;
	struct tunnel *t;
	size_t i;

	memset(live, 0, sizeof(*live));
	for (t = px->tunnels; t; t = t->next) {
		if (t->wsi)
			connected++;
		else
			parked++;
		if (proxy_tunnel_offered(t))
			for (i = 0; i < N_OF(states); i++)
				devices[i] += strcmp(proxy_tunnel_state(t), states[i]) == 0;
		if (t->validator) {
			proxy_tunnel_stats(t, &s);
			add_tunnel(live, &s);
		}
	}
	promtext_family(w, "usbws_tunnels", PROMTEXT_GAUGE,
			"Tunnels: a node's connection for one device, connected or parked awaiting a resume.");
	l[0].name = "state";
	l[0].value = "connected";
	promtext_sample(w, "usbws_tunnels", l, 1, connected);
	l[0].value = "parked";
	promtext_sample(w, "usbws_tunnels", l, 1, parked);
	promtext_family(w, "usbws_devices", PROMTEXT_GAUGE,
			"Exported devices by what the proxy does with them: offered or held (waiting), attached to "
			"vhci_hcd, or re-exported to a USB/IP importer.");
	for (i = 0; i < N_OF(states); i++) {
		l[0].value = states[i];
		promtext_sample(w, "usbws_devices", l, 1, devices[i]);
	}
}

static void write_per_device(struct promtext *w, struct proxy *px)
{
	static const struct {
		const char *name, *help;
		int urbs;
	} families[] = {
		{ "usbws_device_bytes_total", "USB/IP bytes of one device's live tunnel, by direction.", 0 },
		{ "usbws_device_urbs_total",
		  "URBs (CMD_SUBMIT to the device, RET_SUBMIT from it) of one device's "
		  "live tunnel.",
		  1 },
	};
	struct promtext_label l[2] = { { "node", NULL }, { "device", NULL } };
	struct tunnel_stats s;
	struct tunnel *t;
	size_t f;

	for (f = 0; f < N_OF(families); f++) {
		promtext_family(w, families[f].name, PROMTEXT_COUNTER, families[f].help);
		for (t = px->tunnels; t; t = t->next) {
			if (!proxy_tunnel_offered(t) || !t->validator)
				continue;
			proxy_tunnel_stats(t, &s);
			l[0].value = t->node;
			l[1].value = t->busid;
			if (families[f].urbs)
				by_direction(w, families[f].name, l, 2, s.to_device.submits, s.from_device.submits);
			else
				by_direction(w, families[f].name, l, 2, s.to_device.bytes, s.from_device.bytes);
		}
	}
}

static void write_counters(struct promtext *w, const struct proxy_metrics *m)
{
	struct promtext_label l[2];
	size_t i, who;

	promtext_family(w, "usbws_exports_total", PROMTEXT_COUNTER, "Devices exported by nodes and accepted.");
	promtext_sample(w, "usbws_exports_total", NULL, 0, m->exports);
	promtext_family(w, "usbws_resumptions_total", PROMTEXT_COUNTER,
			"Sessions a node resumed on a new connection, its device staying attached.");
	promtext_sample(w, "usbws_resumptions_total", NULL, 0, m->resumed);
	promtext_family(w, "usbws_reconnects_total", PROMTEXT_COUNTER,
			"A node back for a device it had: resumed its session, or replaced its older connection.");
	l[0].name = "how";
	l[0].value = "resumed";
	promtext_sample(w, "usbws_reconnects_total", l, 1, m->resumed);
	l[0].value = "replaced";
	promtext_sample(w, "usbws_reconnects_total", l, 1, m->replaced);
	promtext_family(w, "usbws_tls_refusals_total", PROMTEXT_COUNTER,
			"Node connections refused before they authenticated, by reason.");
	l[0].name = "reason";
	for (i = 0; i < PROXY_REFUSALS; i++) {
		l[0].value = refusal_names[i];
		promtext_sample(w, "usbws_tls_refusals_total", l, 1, m->refusals[i]);
	}
	promtext_family(w, "usbws_firewall_violations_total", PROMTEXT_COUNTER,
			"Tunnels closed because a node or an importer broke a USB/IP rule (the URB firewall), by rule.");
	l[0].name = "from";
	l[1].name = "rule";
	for (who = 0; who < PROXY_VIOLATORS; who++) {
		l[0].value = violator_names[who];
		for (i = -USBWS_ERR_TRUNCATED; i < PROXY_METRICS_RULES; i++) {
			l[1].value = usbws_err_id(-(int)i);
			if (strcmp(l[1].value, "other") == 0)
				continue;
			promtext_sample(w, "usbws_firewall_violations_total", l, 2, m->violations[who][i]);
		}
	}
}

static int render_now(struct proxy *px, struct buf *out)
{
	struct promtext w = { out, 0 };
	struct promtext_label version = { "version", PACKAGE_VERSION };
	uint64_t handshakes[PROMTEXT_HANDSHAKE_BOUNDS + 1];
	struct proxy_traffic total;

	/* not under the lock: the threads take it to copy */
	proxy_thread_snapshot(px);
	proxy_thread_lock(px);
	promtext_family(&w, "usbws_build_info", PROMTEXT_GAUGE, "Always 1; the label is usbws-proxy's version.");
	promtext_sample(&w, "usbws_build_info", &version, 1, 1);
	write_tunnels(&w, px, &total);
	add_traffic(&total, &px->metrics.retired);
	promtext_family(&w, "usbws_bytes_total", PROMTEXT_COUNTER,
			"USB/IP bytes through every tunnel, ended ones included, by direction.");
	by_direction(&w, "usbws_bytes_total", NULL, 0, total.to_device.bytes, total.from_device.bytes);
	promtext_family(&w, "usbws_urbs_total", PROMTEXT_COUNTER,
			"URBs through every tunnel: CMD_SUBMIT to the device, RET_SUBMIT from it.");
	by_direction(&w, "usbws_urbs_total", NULL, 0, total.to_device.submits, total.from_device.submits);
	histogram(&w, "usbws_urb_round_trip_seconds",
		  "From a CMD_SUBMIT to its RET_SUBMIT, as the proxy sees them (within 12.5%).",
		  promtext_urb_bounds_ns, PROMTEXT_URB_BOUNDS, total.rtt_counts, total.rtt_sum_ns);
	write_counters(&w, &px->metrics);
	usbip_validator_rtt_buckets(&px->metrics.handshakes, promtext_handshake_bounds_ns,
				    PROMTEXT_HANDSHAKE_BOUNDS, handshakes);
	histogram(&w, "usbws_handshake_duration_seconds",
		  "From a node's connection accepted to its hello authenticated: TLS, the upgrade, the hello.",
		  promtext_handshake_bounds_ns, PROMTEXT_HANDSHAKE_BOUNDS, handshakes,
		  px->metrics.handshakes.sum_ns);
	if (px->cfg->metrics_node_labels)
		write_per_device(&w, px);
	proxy_thread_unlock(px);
	return w.rc;
}

/* Scrapes more often than PROXY_METRICS_CACHE_MS share one answer: each
 * render stops every thread for a copy and walks every tunnel under the
 * lock, which no number of scrapers may turn into the proxy's main work. */
static int render(void *ctx, struct buf *out)
{
	struct proxy *px = ctx;
	int64_t now = monotonic_ms();
	int rc;

	if (px->metrics_cache.mem && now - px->metrics_cache_ms < PROXY_METRICS_CACHE_MS)
		return buf_append(out, buf_data(&px->metrics_cache), buf_len(&px->metrics_cache));
	rc = render_now(px, out);
	buf_free(&px->metrics_cache);
	if (rc == 0) {
		buf_init(&px->metrics_cache, 0, METRICS_HTTP_MAX_BODY);
		if (buf_append(&px->metrics_cache, buf_data(out), buf_len(out)) == 0)
			px->metrics_cache_ms = now;
		else
			buf_free(&px->metrics_cache);
	}
	return rc;
}

void proxy_metrics_close(struct proxy *px)
{
	buf_free(&px->metrics_cache);
}

int proxy_metrics_open(struct proxy *px, char *why, size_t why_cap)
{
	char inner[256];
	int rc;

	if (!px->cfg->metrics_listen)
		return 0;
	rc = metrics_http_listen(&px->metrics_http, px->threads[0].ctx, px->cfg->metrics_listen, render, px, inner,
				 sizeof(inner));
	if (rc < 0)
		return usbws_why(why, why_cap, rc, "--metrics-listen: %s", inner);
	log_info("serving metrics on http://%s/metrics", px->cfg->metrics_listen);
	return 0;
}
