/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "node_metrics.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/promtext.h"
#include "base/usbws_err.h"
#include "net/lwslog.h"
#include "net/metrics_http.h"

struct node_metrics {
	pthread_t tid;
	int started;
	int stop; /* atomic */
	struct lws_context *ctx;
	struct metrics_http http;
	pthread_mutex_t lock; /* guards view */
	struct node_metrics_view view;
};

static void counter(struct promtext *w, const char *name, const char *help, uint64_t value)
{
	promtext_family(w, name, PROMTEXT_COUNTER, help);
	promtext_sample(w, name, NULL, 0, value);
}

static void gauge(struct promtext *w, const char *name, const char *help, uint64_t value)
{
	promtext_family(w, name, PROMTEXT_GAUGE, help);
	promtext_sample(w, name, NULL, 0, value);
}

static void by_direction(struct promtext *w, const char *name, const char *help, uint64_t to_device,
			 uint64_t from_device)
{
	struct promtext_label l = { "direction", "to_device" };

	promtext_family(w, name, PROMTEXT_COUNTER, help);
	promtext_sample(w, name, &l, 1, to_device);
	l.value = "from_device";
	promtext_sample(w, name, &l, 1, from_device);
}

static void histogram(struct promtext *w, const char *name, const char *help, const struct usbip_rtt_stats *rtt,
		      const uint64_t *bounds_ns, size_t nbounds)
{
	uint64_t counts[PROMTEXT_URB_BOUNDS + 1];
	const struct promtext_histogram h = { bounds_ns, nbounds, counts, rtt->sum_ns };

	usbip_validator_rtt_buckets(rtt, bounds_ns, nbounds, counts);
	promtext_family(w, name, PROMTEXT_HISTOGRAM, help);
	promtext_histogram(w, name, NULL, 0, &h);
}

static void write_violations(struct promtext *w, const struct node_metrics_view *v)
{
	struct promtext_label l[2] = { { "from", "proxy" }, { "rule", NULL } };
	int i;

	promtext_family(w, "usbws_firewall_violations_total", PROMTEXT_COUNTER,
			"Connections closed because the proxy broke a USB/IP rule (the URB firewall), by rule.");
	for (i = -USBWS_ERR_TRUNCATED; i < NODE_METRICS_RULES; i++) {
		l[1].value = usbws_err_id(-i);
		if (strcmp(l[1].value, "other") != 0)
			promtext_sample(w, "usbws_firewall_violations_total", l, 2, v->violations[i]);
	}
}

static int render(void *ctx, struct buf *out)
{
	struct node_metrics *m = ctx;
	struct promtext_label version = { "version", PACKAGE_VERSION };
	struct promtext w = { out, 0 };
	struct node_metrics_view *v = malloc(sizeof(*v));

	if (!v)
		return USBWS_ERR_NOMEM;
	pthread_mutex_lock(&m->lock);
	*v = m->view;
	pthread_mutex_unlock(&m->lock);
	promtext_family(&w, "usbws_build_info", PROMTEXT_GAUGE, "Always 1; the label is usbws's version.");
	promtext_sample(&w, "usbws_build_info", &version, 1, 1);
	gauge(&w, "usbws_link_up", "1 while a connection to the proxy is up.", (uint64_t)v->link_up);
	gauge(&w, "usbws_exported", "1 once the proxy confirmed the export, until it is let go.",
	      (uint64_t)v->exported);
	by_direction(&w, "usbws_bytes_total",
		     "USB/IP bytes of the export over the link, by direction (what a resume sends again included).",
		     v->bytes_from_proxy, v->bytes_to_proxy);
	by_direction(&w, "usbws_urbs_total", "URBs of the export: CMD_SUBMIT to the device, RET_SUBMIT from it.",
		     v->to_device.submits, v->from_device.submits);
	histogram(&w, "usbws_urb_round_trip_seconds",
		  "From a CMD_SUBMIT given to the device to its RET_SUBMIT (within 12.5%).", &v->rtt,
		  promtext_urb_bounds_ns, PROMTEXT_URB_BOUNDS);
	counter(&w, "usbws_reconnects_total", "Connections to the proxy after the first.", v->reconnects);
	counter(&w, "usbws_resumptions_total", "Sessions resumed on a new connection.", v->resumptions);
	counter(&w, "usbws_failed_attempts_total", "Attempts to reach the proxy that failed.", v->failed_attempts);
	write_violations(&w, v);
	histogram(&w, "usbws_handshake_duration_seconds",
		  "From dialling the proxy to the WebSocket upgrade done: TCP, a CONNECT proxy, TLS, the upgrade.",
		  &v->handshakes, promtext_handshake_bounds_ns, PROMTEXT_HANDSHAKE_BOUNDS);
	free(v);
	return w.rc;
}

static void *serve(void *arg)
{
	struct node_metrics *m = arg;

	while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE))
		if (lws_service(m->ctx, 0) < 0)
			break;
	return NULL;
}

int node_metrics_start(struct node_metrics **out, const char *spec, char *why, size_t why_cap)
{
	struct lws_context_creation_info info;
	struct node_metrics *m = calloc(1, sizeof(*m));
	char inner[256];
	int rc;

	*out = NULL;
	if (!m)
		return usbws_why(why, why_cap, USBWS_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&m->lock, NULL);
	/* lws's errors and warnings as our lines; its notices would be noise
	 * in a node's log */
	lwslog_init(0, 2);
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.port = CONTEXT_PORT_NO_LISTEN;
	m->ctx = lws_create_context(&info);
	if (!m->ctx) {
		node_metrics_stop(m);
		return usbws_why(why, why_cap, USBWS_ERR_LWS,
				 "--metrics-listen: cannot create a libwebsockets context");
	}
	rc = metrics_http_listen(&m->http, m->ctx, spec, render, m, inner, sizeof(inner));
	if (rc < 0) {
		node_metrics_stop(m);
		return usbws_why(why, why_cap, rc, "--metrics-listen: %s", inner);
	}
	log_info("serving metrics on http://%s/metrics", spec);
	*out = m;
	return 0;
}

int node_metrics_serve(struct node_metrics *m, char *why, size_t why_cap)
{
	sigset_t all, old;
	int rc;

	if (!m)
		return 0;
	/* signals are the export loop's: a stop must end its wait, not
	 * this thread's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&m->tid, NULL, serve, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "--metrics-listen: cannot start its thread: %s",
				 strerror(rc));
	m->started = 1;
	return 0;
}

void node_metrics_publish(struct node_metrics *m, const struct node_metrics_view *v)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->view = *v;
	pthread_mutex_unlock(&m->lock);
}

void node_metrics_stop(struct node_metrics *m)
{
	if (!m)
		return;
	if (m->started) {
		__atomic_store_n(&m->stop, 1, __ATOMIC_RELEASE);
		lws_cancel_service(m->ctx);
		pthread_join(m->tid, NULL);
	}
	if (m->ctx)
		lws_context_destroy(m->ctx);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
