/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_PROXY_INT_H
#define USBWS_PROXY_INT_H

/* State shared by the proxy's two lws protocols. */

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <openssl/x509.h>

#include "admit.h"
#include "base/buf.h"
#include "base/ring.h"
#include "certid.h"
#include "tunnel/ctl.h"
#include "base/log.h"
#include "base/promtext.h"
#include "tunnel/resume.h"
#include "net/netaddr.h"
#include "usbip/usbip_framer.h"
#include "usbip/usbip_pcapng.h"
#include "kernel/vhci.h"
#include "net/metrics_http.h"
#include "usbip/usbip_validator.h"

/* Per-direction buffering: reading from the source stops at HIGH_WATER,
 * and one more read (at most RX_CHUNK) may still land. */
#define PROXY_RX_CHUNK (64u << 10)
#define PROXY_HIGH_WATER (256u << 10)
#define PROXY_BUF_LIMIT (PROXY_HIGH_WATER + 2 * PROXY_RX_CHUNK)
/* Largest single write.  libwebsockets keeps whatever part of a write the
 * socket refuses, so a tunnel holds at most 2 x (PROXY_BUF_LIMIT +
 * PROXY_WRITE_MAX) = 1 MiB on the proxy, however slow either side is. */
#define PROXY_WRITE_MAX (128u << 10)
/* What lws hands the socket at once: a whole write with its WebSocket
 * header.  Without it lws sends rx_buffer_size (64 KiB) and copies the
 * rest of every larger write into a buffer of its own. */
#define PROXY_TX_PACKET (PROXY_WRITE_MAX + 16)

/* Two devices that share one identity and node busid take the export from
 * each other in turn; past this many takeovers, each within this many
 * seconds of the last, that is a loop, and one warning a window says so. */
#define PROXY_LOOP_REPLACEMENTS 3
#define PROXY_LOOP_SECONDS 60

/* The tick's timer wheel: one slot a second.  A tunnel due further ahead
 * is filed in the last slot and filed again when that comes. */
#define PROXY_WHEEL_SLOTS 64

/* Captures (proxy_capture.c): `usbws capture` sessions at once, and what
 * one keeps for a reader that falls behind: past the backlog new messages
 * are left out, past the limit the capture ends. */
#define PROXY_MAX_CAPTURES 32
#define PROXY_CAPTURE_BACKLOG (1u << 20)
#define PROXY_CAPTURE_LIMIT (4u << 20)

struct importer;
struct tunnel;
struct admit;
struct proxy_thread;
struct proxy_capture;

/* The listeners, each served on every thread by a vhost of its own. */
enum proxy_listener_slot {
	PROXY_LISTEN_NODES,    /* --listen: the nodes' WSS */
	PROXY_LISTEN_BALANCER, /* --balancer-listen */
	PROXY_LISTEN_USBIP,    /* --usbip-listen: the re-export */
	PROXY_LISTENERS,
};

/* How an exported device is offered (the policy's action, or without a
 * policy: attached when vhci_hcd is in use, else re-exported). */
enum offer {
	OFFER_ATTACH,     /* attached to vhci_hcd as soon as it is exported */
	OFFER_EXPORT,     /* over --usbip-listen only, never attached */
	OFFER_HOLD,       /* held until `usbws attach --device` asks for it */
};

/* A listening address (--listen, --balancer-listen, --usbip-listen) and
 * what it admits. */
struct proxy_listener {
	const char *option, *spec;        /* for log lines: "--listen", "0.0.0.0:443" */
	const struct balancer_net *trusted; /* when set, the only peers accepted */
	size_t ntrusted;
	const char *expiry_what;          /* what a peer failed to do in time */
	const char *source_flag, *full_flag;  /* the caps a refusal names */
	struct admit_policy policy;
	enum proxy_listener_slot slot;      /* each thread's vh[slot] serves what is admitted */
	struct lws_protocols protocols[2];  /* vh's, which lws keeps a pointer to */
	lws_adoption_type adopt_type;
	const char *protocol;             /* NULL: vh's first */
	struct proxy *px;
	struct admit *admit;
	struct admit_entry *adopting;     /* the entry being handed to lws */
	int fds[4];                       /* a name may have several addresses */
	struct lws *wsi[4];
	size_t nfds;
	int port;                         /* the first socket's */
	int paused;
	lws_sorted_usec_list_t pause;
	unsigned long refused, expired;
	struct log_limit refusal_log, expiry_log, fd_log;
};

/* A node's WebSocket connection; its tunnel may move on to a newer one,
 * and then this one closes with close_reason. */
struct node_conn {
	struct tunnel *t;
	char close_reason[124];           /* a close frame's reason fits in 123 bytes */
	X509 *balanced_cert;              /* through a balancer: the certificate its header */
	char balanced_peer[NETADDR_STRLEN]; /* gave, checked, and the node's address */
};

/* One exported device.  It lives on the heap, not in the connection: when
 * the connection is lost it is kept (parked, wsi NULL) for resume_seconds,
 * its vhci port and importer untouched, so the node can resume it. */
/* The keys proxy_index.c files tunnels under. */
enum tunnel_key {
	TUNNEL_BY_NODE,    /* t->node, from the open on */
	TUNNEL_BY_ADDRESS, /* t->busid, from the export on */
	TUNNEL_BY_SESSION, /* t->session, from the welcome on */
	TUNNEL_KEYS,
};

struct tunnel_index {
	struct tunnel **buckets;
	uint32_t mask;
	size_t count;
};

/* A tunnel's traffic as its own thread last copied it, for a listing
 * made on another (proxy_thread_snapshot). */
struct tunnel_stats {
	struct usbip_flow_stats to_device, from_device;
	struct usbip_rtt_stats rtt;
	uint32_t inflight;
};

struct tunnel {
	/* first, together: what proxy_tunnel_tick reads first of a tunnel
	 * that is due (a ping on a quiet link reads its queues further down) */
	lws_dll2_t wheel;                 /* in px->wheel[]: the second it may next be due */
	lws_dll2_t busy;                  /* in px->busy: data moved since it was last trimmed */
	struct lws *wsi;                  /* NULL while parked */
	int64_t last_rx_ms, last_ping_ms; /* monotonic_ms() */
	time_t parked_since;
	int ping_due;
	int ack_due;
	struct resume_stream rs; /* tx keeps what the node has not acknowledged */
	char session[CTL_SESSION_HEX + 1];
	struct tunnel *next, *prev;           /* px->tunnels: exported ones newest first */
	struct tunnel *key_next[TUNNEL_KEYS]; /* proxy_index.c's chains */
	uint32_t key_hash[TUNNEL_KEYS];
	uint8_t key_filed[TUNNEL_KEYS];
	struct proxy *px;
	struct proxy_thread *th;     /* the thread its connections and importer are served on */
	struct node_conn *node_conn; /* its live connection; NULL while parked */
	int peer_closed;             /* the node closed on purpose: it is not coming back */
	uint64_t resumes;
	char node[CERTID_MAX + 1];        /* the identity from the certificate (certid.h), whole */
	X509 *cert;                       /* the live connection's certificate and chain, for */
	STACK_OF(X509) *chain;            /* checking it against CRLs reloaded later */
	time_t replaced_at;               /* when this export took over an older one of the */
	time_t replaced_since;            /* same node busid; the run of takeovers each within */
	unsigned int replacements;        /* PROXY_LOOP_SECONDS of the last, and its last warning */
	time_t loop_warned;
	char busid[USBIP_BUSID_SIZE];     /* its stable address, as the proxy exports it (devaddr.h) */
	char node_busid[USBIP_BUSID_SIZE];/* as the node calls it */
	char hello_busid[USBIP_BUSID_SIZE];/* as its hello named it */
	char serial[CTL_SERIAL_MAX + 1];   /* the hello's: the device's USB serial, "" when none */
	unsigned int nifs;                 /* the hello's interfaces in ifs */
	int ignore_serial;                 /* the policy's address=port */
	struct usbip_usb_device dev;
	struct usbip_usb_interface ifs[USBIP_MAX_INTERFACES];
	int hello_seen;
	/* told no-session, fresh: a hello to export may follow, nothing else */
	int resume_refused;
	/* resuming a session another thread holds: kept, even should its
	 * connection close, until the session arrives (proxy_thread.c) */
	int resume_waiting;
	int address_by_serial; /* else by vendor:product and the node's busid */
	int exported;
	uint64_t list_seq;                /* order of export: exported tunnels sit newest first */
	uint16_t op_code;
	struct usbip_validator *validator;
	struct usbip_framer from_node;    /* RET_* and OP requests */
	struct usbip_framer to_node;      /* the importer's CMD_* */
	struct ring tx;                   /* binary bytes for the node, kept until acknowledged */
	char *text_queue[4];              /* JSON messages for the node */
	unsigned int ntext;
	size_t text_off, text_len;        /* the first one goes in fragments (a listing can be long) */
	struct buf text_in;               /* a JSON frame arriving in fragments */
	struct importer *imp;
	/* for `usbws nodes`: since when, from where, and what went through */
	time_t connected_since;           /* the live connection's (the last one's while parked) */
	char peer[NETADDR_STRLEN];
	enum offer offer;
	unsigned int policy_line;         /* the rule that decided; 0: the default, or no policy */
	struct vhci_set vhci_only;        /* the policy's vhci=: restricted 0 for any */
	int attach_pending;               /* asked to attach while parked: done on its resume */
	struct vhci_set attach_only;      /* ... into these controllers */
	char attach_error[200];           /* why the last asked-for attach failed, "" */
	int closing;                      /* close once the queues are sent */
	char close_reason[124];
	struct tunnel_stats stats; /* under px->lock */
	struct proxy_capture *captures; /* its thread's own: --capture DIR's, usbws capture's */
};

struct importer {
	struct proxy *px;
	struct proxy_thread *th;
	struct lws *wsi;
	char peer[NETADDR_STRLEN];        /* a TCP importer's address; "" for vhci_hcd */
	time_t since;
	struct usbip_framer op;           /* OP phase */
	struct usbip_request req;
	struct ring out; /* bytes for the importer */
	struct tunnel *t;
	int close_when_sent;
	int rx_paused;
	int moving;                       /* its socket went to another thread: closing it here does nothing */
	struct proxy_msg *move_waiting;   /* a move asked again once lws has written what it holds */
	int vhci_port;                    /* the vhci_hcd port behind this socket, or -1 (TCP) */
	uint32_t devlist_left;            /* OP_REP_DEVLIST records still to write */
	uint64_t devlist_below;           /* the next is the newest export older than this */
};

/* A vhci_hcd port this proxy attached, until the socket behind it closes. */
struct vhci_claim {
	unsigned int port;
	unsigned int controller;
	int superspeed;
	struct importer *imp;             /* its socket; imp->t is NULL once the tunnel is gone */
	struct tunnel *t;                 /* while imp is NULL: the tunnel whose thread adopts the socket */
	time_t since;
};

/* A `usbws capture` session, from its request on proxy.sock to the line
 * that reports its end; under px->lock.  The capture itself is its
 * tunnel's (struct proxy_capture), served on the tunnel's thread; this is
 * how proxy.sock, on threads[0], finds that thread to stop it. */
struct proxy_capture_slot {
	uint64_t id;        /* 0: free */
	struct tunnel *t;   /* while it runs or is on its way to t's thread; NULL once it ended */
	struct lws *client; /* its proxy.sock connection, on threads[0]; NULL once that closed */
};

struct ev_loop;

#define PROXY_MAX_THREADS PROXY_MAX_THREADS_OPTION

/* One service thread: its own lws context on its own event loop, and the
 * tunnels whose connections it serves (proxy_thread.c). */
struct proxy_thread {
	struct proxy *px;
	unsigned int index;
	pthread_t tid;
	int started;
	int epoll_fd;              /* libev's, or -1 */
	pthread_mutex_t mbox_lock; /* guards mbox only */
	lws_dll2_owner_t mbox;     /* struct proxy_msg, oldest first */
	struct lws_context *ctx;
	struct ev_loop *evloop;           /* libev's, or NULL: lws's poll() loop */
	void *foreign_loops[1];           /* lws's view of it */
	lws_sorted_usec_list_t tick;      /* once a second: pings, acks, expiry */
	int64_t ticked_ms; /* when it last ran (atomic): systemd's watchdog wants every thread alive */
	/* The tick looks only at tunnels that are due: those whose data
	 * moved, and those filed under the second that has come, one slot a
	 * second.  Walking every tunnel every second was most of the idle
	 * proxy's own CPU at 10,000 tunnels. */
	lws_dll2_owner_t busy;
	lws_dll2_owner_t wheel[PROXY_WHEEL_SLOTS];
	int64_t wheel_second; /* the last second whose slot was served */
	struct lws_vhost *local_vh;            /* adopts vhci sockets (and on thread 0 the control socket) */
	struct lws_vhost *vh[PROXY_LISTENERS]; /* serve what each listener admits */
	SSL_CTX *wss_ssl;                      /* the nodes' TLS context, whose X509_STORE a reload replaces */
	/* under px->lock: connections being admitted and tunnels, which
	 * place the next connection (proxy_listen.c) */
	unsigned int load;
};

/* The thread this code runs on (proxy.c sets it as each one starts). */
extern _Thread_local struct proxy_thread *proxy_self;

/* Why a node's TLS handshake or upgrade was refused: a label of
 * usbws_tls_refusals_total (proxy_metrics.c names them). */
enum proxy_refusal {
	PROXY_REFUSAL_UNKNOWN_CA,      /* not signed by --ca */
	PROXY_REFUSAL_EXPIRED,         /* not valid now */
	PROXY_REFUSAL_REVOKED,         /* in a --crl */
	PROXY_REFUSAL_BAD_CERTIFICATE, /* any other verification failure */
	PROXY_REFUSAL_BAD_IDENTITY,    /* names no usable identity (certid.h) */
	PROXY_REFUSAL_NO_CERTIFICATE,  /* sent none */
	PROXY_REFUSAL_HANDSHAKE,       /* any other TLS alert: version, cipher, garbage */
	PROXY_REFUSAL_UPGRADE,         /* TLS passed, the WebSocket upgrade did not */
	PROXY_REFUSALS,
};

/* Who broke a USB/IP rule (usbws_firewall_violations_total's "from"). */
enum proxy_violator { PROXY_FROM_NODE, PROXY_FROM_IMPORTER, PROXY_VIOLATORS };
/* The rules are the codes from USBWS_ERR_TRUNCATED (-10) to -55. */
#define PROXY_METRICS_RULES 56

/* Traffic summed over tunnels, with the round trips in /metrics' coarse
 * buckets (promtext_urb_bounds_ns) and 64 bits each: a fine histogram's
 * 32-bit buckets, summed over every tunnel there ever was, would wrap. */
struct proxy_traffic {
	struct usbip_flow_stats to_device, from_device;
	uint64_t rtt_counts[PROMTEXT_URB_BOUNDS + 1];
	uint64_t rtt_sum_ns;
};

/* What /metrics counts beyond what it reads off the live tunnels; under
 * px->lock (proxy_metrics.c). */
struct proxy_metrics {
	struct proxy_traffic retired; /* the traffic of tunnels that are gone */
	struct usbip_rtt_stats handshakes;
	uint64_t exports, resumed, replaced;
	uint64_t refusals[PROXY_REFUSALS];
	uint64_t violations[PROXY_VIOLATORS][PROXY_METRICS_RULES];
};

struct proxy {
	const struct proxy_config *cfg;
	struct proxy_thread *threads; /* threads[0] also accepts, and serves proxy.sock */
	unsigned int nthreads;
	int quit;                  /* the service threads stop (atomic) */
	pthread_mutex_t snap_lock; /* a listing waits for the threads' copies */
	pthread_cond_t snap_done;
	unsigned int snap_pending;
	unsigned int snap_round; /* which listing the copies are for */
	int worker_failed;       /* a service thread's loop failed (atomic) */
	/* Everything below, and the fields of struct tunnel that say so, are
	 * shared by the threads: they are read and written under lock. */
	pthread_mutex_t lock;
	int stopping; /* lost connections are not kept for a resume */
	struct tunnel *tunnels;
	unsigned int ntunnels;
	struct tunnel_index index[TUNNEL_KEYS];
	uint64_t list_seq;                /* the newest export's tunnel list_seq */
	unsigned int next_bus;
	struct lws_vhost *listen_vh; /* watches the listening sockets, on threads[0] */
	struct proxy_listener wss, balancer, usbip;
	int control_listening;
	struct lws *control_wsi;          /* proxy.sock's listener, not watched while at the cap */
	unsigned int control_clients;     /* served now, at most CTLSOCK_MAX_CLIENTS */
	int vhci_on;
	struct vhci_set vhci_allowed;
	struct vhci_pin *pins;
	size_t npins;
	struct vhci_set reserved;         /* every pinned controller: no other node's devices go there */
	struct vhci_claim *claims;
	size_t nclaims;
	X509_STORE *store;                /* --ca and --crl as the TLS contexts have them now */
	struct log_limit tls_refusals;    /* handshakes refused, said a few a window */
	struct policy *policy;            /* --policy, or NULL */
	struct proxy_metrics metrics;
	struct metrics_http metrics_http; /* --metrics-listen, on threads[0] */
	struct buf metrics_cache;         /* the last answer, and when it was made (threads[0]'s) */
	int64_t metrics_cache_ms;
	int capture_dir; /* --capture DIR, open (O_PATH), or -1 */
	struct proxy_capture_slot capture_slots[PROXY_MAX_CAPTURES];
	uint64_t capture_next_id;
};

/* What one thread asks of another (proxy_thread.c). */
enum proxy_msg_kind {
	PROXY_MSG_ADOPT,        /* a connection l admitted: fd, l, e */
	PROXY_MSG_FAIL,         /* t fails with code and why; forever: beyond a resume too */
	PROXY_MSG_RESUME,       /* t, here, is resumed by t2 on from: received, window */
	PROXY_MSG_RESUMED,      /* t has moved here for t2, here (fd, saved: its importer); t NULL: no session */
	PROXY_MSG_IMPORT,       /* an importer asks for t, here: fd, saved (its request), l, e */
	PROXY_MSG_VHCI,         /* t, here, was attached to vhci_hcd port `port` behind fd */
	PROXY_MSG_STORE,        /* the TLS context's new X509_STORE */
	PROXY_MSG_SNAPSHOT,     /* copy the traffic of this thread's tunnels into their stats */
	PROXY_MSG_CAPTURE,      /* t, here: start capture capture_id into fd, for at most count packets */
	PROXY_MSG_CAPTURE_STOP, /* t, here: end capture capture_id */
	PROXY_MSG_CAPTURED,     /* on threads[0]: capture capture_id started, or ended (stats, why) */
};

struct proxy_msg {
	lws_dll2_t list;
	enum proxy_msg_kind kind;
	struct tunnel *t, *t2;
	struct proxy_thread *from;
	int fd; /* a socket it carries, or -1 */
	struct proxy_listener *l;
	struct admit_entry *e;  /* the admission fd holds, or NULL */
	struct importer *saved; /* a moving importer's state, on the heap */
	uint64_t received;
	uint32_t window;
	unsigned int port;
	int forever;
	unsigned int round; /* SNAPSHOT: px->snap_round when asked */
	char session[CTL_SESSION_HEX + 1];
	X509_STORE *store;
	char code[16];
	char why[320];
	uint64_t capture_id;
	uint64_t count;     /* CAPTURE: packets before it ends by itself; 0: no end */
	int started;        /* CAPTURED: it started; else it ended, why saying why */
	int failed;         /* CAPTURED: it ended on an error */
	uint64_t unwritten; /* CAPTURED: bytes of its end that never got out */
	struct usbip_pcapng_stats capture;
};

struct vhci_pin {
	char node[CERTID_MAX + 1];        /* the node's identity */
	struct vhci_set set;
};

/* proxy_metrics.c: --metrics-listen; each counter takes px->lock */
int proxy_metrics_open(struct proxy *px, char *why, size_t why_cap);
void proxy_metrics_close(struct proxy *px);
/* Under px->lock, as t goes: its traffic stays in the totals. */
void proxy_metrics_retire(struct tunnel *t);
void proxy_metrics_refusal(struct proxy *px, enum proxy_refusal why);
void proxy_metrics_violation(struct proxy *px, enum proxy_violator who, int rule);
/* A node authenticated ms after its connection was accepted. */
void proxy_metrics_handshake(struct proxy *px, int64_t ms);

/* proxy_thread.c: the service threads, their mailboxes, moves */
void proxy_thread_lock(struct proxy *px);
void proxy_thread_unlock(struct proxy *px);
/* Returns 0, or USBWS_ERR_SYSTEM. */
int proxy_thread_init_lock(struct proxy *px);
/* NULL when out of memory. */
struct proxy_msg *proxy_thread_msg_new(enum proxy_msg_kind kind);
/* Lets go of what an unhandled message holds, and frees it. */
void proxy_thread_msg_drop(struct proxy *px, struct proxy_msg *m);
/* Hands m to th (any thread may); under px->lock when m is about a tunnel. */
void proxy_thread_post(struct proxy_thread *th, struct proxy_msg *m);
/* th's messages, on th: lws_cancel_service woke it. */
void proxy_thread_drain(struct proxy_thread *th);
/* t is served on `to` from now on, and its messages go there; on t's
 * thread, under px->lock. */
void proxy_thread_move(struct tunnel *t, struct proxy_thread *to);
/* t is being freed: its messages go (a resume's is answered). */
void proxy_thread_forget(struct tunnel *t);
/* Around making th's loop: its epoll descriptor, or -1. */
void proxy_thread_epoll_before(int *fds, int *n, int cap);
int proxy_thread_epoll_after(const int *before, int nbefore);
/* A duplicate of wsi's socket, which th's loop no longer watches; the
 * caller then closes wsi without side effects.  Or USBWS_ERR_SYSTEM. */
int proxy_thread_take_socket(struct proxy_thread *th, struct lws *wsi);
/* Before a listing with traffic, not under px->lock: each other thread
 * copies its tunnels' traffic into their stats, waited for at most 2 s. */
void proxy_thread_snapshot(struct proxy *px);
/* t's traffic: live on its own thread, else the last copy. */
void proxy_tunnel_stats(const struct tunnel *t, struct tunnel_stats *out);
/* What the fleet shows: exported, and not on its way out. */
int proxy_tunnel_offered(const struct tunnel *t);
/* "attached", "re-exported", "held" or "offered"; under px->lock */
const char *proxy_tunnel_state(const struct tunnel *t);
/* threads[1..]: started with every signal blocked; stopped and joined. */
int proxy_thread_start(struct proxy *px, char *why, size_t why_cap);
void proxy_thread_stop(struct proxy *px);
void proxy_thread_free_mailbox(struct proxy_thread *th);
/* The online CPUs, at most PROXY_MAX_THREADS. */
unsigned int proxy_thread_default_count(void);

/* proxy_index.c: tunnels by identity, address and session.  Add a tunnel
 * once its key is set (again after the key is set anew), delete it before
 * it is freed; a key wiped in place is never matched. */
int proxy_index_init(struct proxy *px);
void proxy_index_free(struct proxy *px);
void proxy_index_add(struct proxy *px, enum tunnel_key which, struct tunnel *t);
void proxy_index_del(struct proxy *px, enum tunnel_key which, struct tunnel *t);
/* The tunnels whose key is key: for (u = first(...); u; u = next(u, ...));
 * take the next before ending u. */
struct tunnel *proxy_index_first(const struct proxy *px, enum tunnel_key which, const char *key);
struct tunnel *proxy_index_next(const struct tunnel *t, enum tunnel_key which, const char *key);

/* proxy_loop.c: the event loop, libev on epoll or lws's poll() */
/* Makes th->ctx from info, on libev unless --event-loop poll or lws cannot
 * load its plugin.  Returns 0, or USBWS_ERR_LWS when no context could be
 * made. */
int proxy_loop_create(struct proxy_thread *th, struct lws_context_creation_info *info);
/* Serves one round of events.  Returns 0, or USBWS_ERR_LWS when lws failed. */
int proxy_loop_run_once(struct proxy_thread *th);
/* Call after scheduling lws timers from outside lws's callbacks. */
void proxy_loop_timers_changed(struct proxy_thread *th);
/* After lws_context_destroy. */
void proxy_loop_free(struct proxy_thread *th);

/* proxy.c: every vhost's retry and idle policy.  Keepalive is the
 * tunnel's own (proxy_tunnel_tick); a vhost without a policy gets lws's
 * default, whose validity timer re-sorts one list of every connection on
 * each PONG, O(N) a PONG. */
extern const lws_retry_bo_t proxy_no_validity;

/* proxy_tunnel.c: the nodes' WebSocket connections and their tunnels */
extern const struct lws_protocols proxy_tunnel_protocol;
/* Ask for a write to the node, when it is connected. */
void proxy_tunnel_kick(struct tunnel *t);
/* The next ticks look at t until what it holds has drained (its acks, its
 * captures' slow readers). */
void proxy_tunnel_busy(struct tunnel *t);
/* Fail a tunnel with a reason for the node; on its own thread. */
void proxy_tunnel_fail(struct tunnel *t, const char *code, const char *why);
enum proxy_fail {
	PROXY_FAIL_ONCE,     /* as proxy_tunnel_fail: a parked tunnel goes, a live one closes */
	PROXY_FAIL_FOREVER,  /* beyond a resume too, closed within 3 s even on a stalled link */
	PROXY_FAIL_REPLACED, /* a newer export of its device took over (no warning) */
};
/* Fails t from any thread, under px->lock: on t's own at once, else by a
 * message to it; out of listings and resumes at once unless how is ONCE. */
void proxy_tunnel_end(struct tunnel *t, const char *code, const char *why, enum proxy_fail how);
/* PROXY_MSG_FAIL, RESUME and RESUMED, on t's thread. */
void proxy_tunnel_message(struct proxy_thread *th, struct proxy_msg *m);
/* The once-a-second walk over th's tunnels that are due. */
void proxy_tunnel_tick(struct proxy_thread *th);
void proxy_tunnel_free_all(struct proxy *px);
/* After a reload: ends every tunnel, live or parked, whose certificate
 * store now says is revoked, logged with its serial and subject.  Returns
 * how many. */
unsigned int proxy_tunnel_revoke(struct proxy *px, X509_STORE *store);

/* proxy_usbip.c: the USB/IP re-export and its importers */
extern const struct lws_protocols proxy_usbip_protocol;
/* The exported tunnel of busid (as the proxy exports it), unless it is
 * closing; NULL when there is none. */
struct tunnel *proxy_usbip_find_busid(struct proxy *px, const char *busid);
/* Called by either side when the importer goes away. */
void proxy_usbip_detach(struct tunnel *t);
/* Ask for a write to the importer, when it is connected. */
void proxy_usbip_kick(struct importer *imp);
/* PROXY_MSG_IMPORT, on the device's thread. */
void proxy_usbip_message(struct proxy_thread *th, struct proxy_msg *m);
/* t is moving threads: its importer's socket and state into m; the
 * importer's connection here closes without side effects.  Returns 0 (also
 * without an importer), USBWS_ERR_BUSY while lws still holds part of a
 * write to it, or another negative enum usbws_err. */
int proxy_usbip_take(struct tunnel *t, struct proxy_msg *m);
/* Keeps a copy of m, posted to imp's thread again once lws has written
 * what it holds for imp (or imp or its tunnel goes).  Returns 0, or
 * USBWS_ERR_NOMEM. */
int proxy_usbip_after_write(struct importer *imp, const struct proxy_msg *m);
/* On t's new thread: the importer m carries is t's again. */
void proxy_usbip_give(struct tunnel *t, struct proxy_msg *m);

/* proxy_listen.c */
/* Binds l->spec exactly and starts accepting into l->vh.  Returns 0, or a
 * negative enum usbws_err with why filled. */
int proxy_listen_open(struct proxy *px, struct proxy_listener *l, char *why, size_t why_cap);
/* After the context is gone (its sockets with it). */
void proxy_listen_close(struct proxy_listener *l);
/* PROXY_MSG_ADOPT, on the thread chosen for it. */
void proxy_listen_adopt(struct proxy_thread *th, struct proxy_msg *m);
/* An admitted connection that was never adopted. */
void proxy_listen_dropped(struct proxy_listener *l, struct admit_entry *e);
/* A connection l admitted: it has authenticated (it no longer counts), its
 * request was answered (no deadline, but it still counts), or it is gone.
 * Connections the listeners did not admit are ignored. */
void proxy_listen_authenticated(struct lws *wsi);
void proxy_listen_settled(struct lws *wsi);
void proxy_listen_closed(struct lws *wsi);
/* Once a second on each thread: closes th's connections past their
 * deadline; on threads[0] also sums up what the rate-limited log lines
 * left out. */
void proxy_listen_tick(struct proxy_listener *l, struct proxy_thread *th);
/* RLIMIT_NOFILE up to its hard limit: each tunnel needs descriptors. */
void proxy_listen_raise_fd_limit(void);

/* proxy_vhci.c */
/* Reads --vhci and --pin and makes the local vhost.  Returns 0, or a
 * negative enum usbws_err with why filled. */
int proxy_vhci_init(struct proxy *px, char *why, size_t why_cap);
void proxy_vhci_free(struct proxy *px);
/* Attaches t to a free vhci_hcd port of its speed among the controllers
 * --vhci, --pin, the policy's vhci= and only (NULL: no more) allow.
 * Returns 0, or a negative enum usbws_err with why filled
 * (USBWS_ERR_NODE_LIMIT: its node holds its most ports; USBWS_ERR_NO_PORT:
 * none free; USBWS_ERR_NO_DRIVER: vhci_hcd is not in use). */
int proxy_vhci_attach(struct tunnel *t, const struct vhci_set *only, char *why, size_t why_cap);
/* "vhci_hcd.C port P" of t's vhci port (attached, or being adopted on its
 * thread), into out. */
int proxy_vhci_where(const struct tunnel *t, char *out, size_t cap);
/* The tunnel a claim is for: its importer's, or while the socket is on
 * its way to the tunnel's thread, that tunnel. */
const struct tunnel *proxy_vhci_claim_tunnel(const struct vhci_claim *c);
/* t's importer's socket moves threads: its claims follow it from the
 * importer from (NULL: the one on its way to t's thread) to to (NULL:
 * on its way). */
void proxy_vhci_claims_move(struct tunnel *t, const struct importer *from, struct importer *to);
/* 1 while a vhci port's socket is on its way to t's thread. */
int proxy_vhci_pending(const struct tunnel *t);
/* PROXY_MSG_VHCI, on t's thread: the socket of its new port. */
void proxy_vhci_message(struct proxy_thread *th, struct proxy_msg *m);
/* A port whose socket never reached its tunnel: detached, unclaimed. */
void proxy_vhci_abandon(struct proxy *px, unsigned int port);

/* proxy_control.c: proxy.sock, which `usbws port/nodes/attach/detach` ask */
extern const struct lws_protocols proxy_control_protocol, proxy_control_client_protocol;
/* Listens on proxy.sock, watched by px->local_vh.  Returns 0, or a negative
 * enum usbws_err with why filled. */
int proxy_control_open(struct proxy *px, char *why, size_t why_cap);
void proxy_control_close(struct proxy *px);
/* A parked tunnel is live again: an attach asked for meanwhile is done. */
void proxy_control_resumed(struct tunnel *t);
/* On threads[0]: client's capture has started (it gets its answer and its
 * stream), or has ended (it gets a refusal, or the line that reports the
 * end, and the connection closes once that is out). */
void proxy_control_capture_started(struct lws *client);
void proxy_control_capture_ended(struct lws *client, const struct proxy_msg *m);
/* An importer socket closed: a vhci one gives its port back. */
void proxy_vhci_released(struct importer *imp);

/* proxy_policy.c: the policy file applied */
struct policy;
/* Reads --policy when given.  Returns 0, or a negative enum usbws_err with
 * why filled ("FILE:LINE: reason"). */
int proxy_policy_load(struct proxy *px, char *why, size_t why_cap);
void proxy_policy_free(struct proxy *px);
/* At t's export: its offer, vhci= and address mode.  Returns 0, or
 * USBWS_ERR_REFUSED after failing t with "policy". */
int proxy_policy_apply(struct tunnel *t);
/* SIGHUP: a file that parses replaces the policy, and the tunnels it now
 * refuses are closed; a file that does not parse changes nothing. */
void proxy_policy_reload(struct proxy *px);
/* 1 when cert holds the operator role. */
int proxy_policy_operator(const struct proxy *px, X509 *cert);

/* proxy_capture.c: the cleartext USB/IP of a tunnel as pcapng, into
 * --capture DIR (a file per tunnel) or to `usbws capture` (a pipe) */
/* After the privilege drop: --capture DIR, checked writable as the user
 * the proxy is now.  Returns 0, or a negative enum usbws_err with why. */
int proxy_capture_open_dir(struct proxy *px, char *why, size_t why_cap);
void proxy_capture_close_dir(struct proxy *px);
/* The one place a tunnel's URB stream passes, both ways: in through t's
 * framer for flow (TO_DEVICE: the importer's bytes, into t->tx;
 * FROM_DEVICE: the node's, for the importer), relayed into out as
 * relay_chunk does, and recorded by t's captures, whose failures never
 * reach the tunnel.  On t's thread.  Returns what relay_chunk returns. */
int proxy_capture_relay(struct tunnel *t, enum usbip_flow flow, const uint8_t *in, size_t len, struct ring *out,
			int (*on_op)(void *ctx, const struct usbip_event *ev), void *ctx);
/* t has exported: with --capture DIR, its file starts.  On t's thread. */
void proxy_capture_exported(struct tunnel *t);
/* From the tick: what waits for a slow reader goes out, idle buffers go.
 * Returns 1 while something still waits. */
int proxy_capture_trim(struct tunnel *t);
/* t is being freed (under px->lock): its captures end, and a capture on
 * its way to it is told it never started. */
void proxy_capture_tunnel_gone(struct tunnel *t);
/* CAPTURE and CAPTURE_STOP on t's thread, CAPTURED on threads[0]. */
void proxy_capture_message(struct proxy_thread *th, struct proxy_msg *m);
/* proxy.sock's side, on threads[0] under px->lock.  A capture of t for
 * client: its slot, and the pipe whose write end goes to t's thread.
 * Returns the id, with *read_fd the end for the client, or a negative
 * enum usbws_err with why. */
int64_t proxy_capture_request(struct tunnel *t, struct lws *client, uint64_t count, int *read_fd, char *why,
			      size_t why_cap);
/* The client asks its capture to stop, or its connection closed. */
void proxy_capture_client_stop(struct proxy *px, uint64_t id);
void proxy_capture_client_gone(struct proxy *px, uint64_t id);

/* proxy_trust.c: the X509_STORE that vouches for nodes */
/* A store of --ca and every --crl (CRL checks on when there is one), in
 * *out.  Returns 0, or a negative enum usbws_err with why filled. */
int proxy_trust_load(const struct proxy_config *cfg, X509_STORE **out, char *why, size_t why_cap);
/* Is cert revoked by a CRL in store?  chain: the intermediates the node
 * sent, or NULL. */
int proxy_trust_revoked(X509_STORE *store, X509 *cert, STACK_OF(X509) *chain);
/* SIGHUP: a fresh store for new handshakes, and revoked tunnels cut off.
 * A file that fails to load keeps the old store, and says so. */
void proxy_trust_reload(struct proxy *px);

#endif
