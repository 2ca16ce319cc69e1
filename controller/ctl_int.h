/* ctl_int.h: the controller's internal state and the functions its files
 * share (ctl_model.c: desired state <-> JSON and store, diff; ctl_run.c: the
 * reconciler; ctl_server.c: socket and clients; ctl_ops.c: operations;
 * ctl_apply.c: apply and diff).
 */
#ifndef BN_CTL_INT_H
#define BN_CTL_INT_H

#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "bn_ctl.h"
#include "bn_store.h"
#include "bn_topo.h"

struct bn_daemon;
struct bn_endpoint;
struct bn_wire_port;
struct ctl_client;
struct ctl_job;
struct bn_timer;
struct bn_loop;

/* A Corm this controller created. */
struct rt_corm {
        char *name;
        char *cls;
        struct bn_kvlist params;
        struct bn_endpoint *ep; /* NULL when opening failed */
        char error[256];
};

/* A wire with at least one end on this host. */
struct rt_wire {
        char *name;
        char *type;
        char *end[2];
        struct bn_kvlist opts;
        bool local[2];                /* end j is located on this host */
        char *host[2];                /* the host end j is located on */
        bool wait_host;               /* an end waits for a host's member record */
        uint32_t epoch[2];            /* incarnation of end j's endpoint (docs/migration.md) */
        struct bn_wire_port *port[2]; /* open ends (NULL: not open) */
        struct bn_endpoint *ep[2];    /* endpoints holding port[j] */
        char error[256];              /* last failure, "" when fine */
        /* for the metrics (ctl_metrics.c) */
        uint64_t reopens;                             /* ends re-opened after their peer went */
        uint64_t swaps;                               /* type swaps completed here */
        uint64_t swap_started_ms;                     /* a swap began then; 0: none */
        uint64_t last_swap_ms;                        /* the swap's start to the old ends' close */
        uint64_t last_swap_wait_us, max_swap_wait_us; /* longest a new request waited */
        /* a swap in progress (ctl_swap.c): the old type's ends, still open
         * beside the new ones (make before break) */
        char *old_type;
        char *old_end[2];
        struct bn_wire_port *old_port[2];
        struct bn_endpoint *old_ep[2];
        bool swap_started[2];     /* bn_endpoint_swap runs at end j's Spike */
        struct bn_timer *old_tm;  /* will close old ends whose Spike is elsewhere */
        void *old_ref;            /* its argument (freed with it) */
        struct bn_loop *old_loop; /* its loop */
        struct bn_ctl *old_ctl;   /* the controller that began the swap */
        uint64_t swap_token;      /* which swap a late callback belongs to */
};

#define CTL_DOWNS_MAX 32
struct ctl_down {
        struct bn_wire_port *port; /* compared, never dereferenced unless still w->port */
        char wire[256];
        unsigned end;
};

struct bn_ctl {
        struct bn_daemon *d;
        struct bn_store *store;
        struct bn_ctl_opts opts;
        int listen_fd;
        struct ctl_client *clients;
        uint64_t next_client; /* id of the next client accepted */
        struct ctl_job *jobs; /* apply/diff parses in flight (ctl_apply.c) */
        time_t started;
        struct rt_corm *corms;
        size_t n_corms;
        struct rt_wire *wires;
        size_t n_wires;
        bool reconciling;
        bool reopen_pending; /* a timer will reconcile (re-open broken ends) */
        struct bn_timer *reopen_timer;
        /* wire ends whose peer has gone, from the workers (ctl_port_down) */
        pthread_mutex_t down_mu;
        struct ctl_down downs[CTL_DOWNS_MAX];
        unsigned ndowns;
        bool down_queued; /* a call to the main loop will drain downs */
        /* accept() backoff (ctl_server.c) */
        int spare_fd;                  /* given up to turn a client away at the fd limit */
        bool accept_paused;            /* the listening socket is not watched */
        struct bn_timer *accept_timer; /* will re-enable accepting */
        time_t accept_logged;          /* last "accept: ..." message */
        unsigned long accept_fails;    /* failures since then */
        /* ctl_cluster.c: member of a cluster (a store with leases and a watch) */
        bool clustered;
        bool store_down;             /* the cluster loop's last read failed */
        struct ctl_cluster *cluster; /* its loop, lease and records (NULL: one host) */
        json_object *view;           /* the cluster as last read: hosts, reports */
        /* ctl_report.c: this host's report as last handed on
         * ({"endpoints"|"wires": {NAME: "state\terror"}}) */
        json_object *report;
        bool report_sent; /* the first, full, batch was handed on */
        struct bn_timer *report_timer;
        atomic_bool change_queued; /* set by the watch thread: a reconcile is queued */
        atomic_ullong watch_rev;   /* the latest revision the watch reported */
        atomic_bool watch_all;     /* the watch missed changes: reconcile whatever */
        uint64_t reconciled_rev;   /* the store's revision the last reconcile read */
        char gen[24];              /* CTL_K_GEN as the last ctl_desired_load read it ("": absent) */
        uint64_t swap_seq;         /* the last swap's token (ctl_swap.c) */
        struct ctl_mig *migs;      /* ctl_migrate.c: migrations driven from here */
        struct ctl_cswap *cswaps;  /* ctl_swap_corm.c: swap-corms driven or mirrored here */
        /* ctl_desired.c: the desired state in memory (a cluster's host) */
        bool desired_on;          /* the watch tells its events: keep the cache */
        struct bn_topo *desired;  /* the cache; NULL: read the store next time */
        uint64_t desired_rev;     /* the store's revision the cache holds */
        unsigned lent;            /* ctl_desired_get not given back yet */
        struct bn_topo **retired; /* caches dropped while lent */
        size_t n_retired;
        char **dirty; /* keys (endpoints/..., wires/...) changed since the last reconcile */
        size_t n_dirty;
        bool dirty_all;            /* too many, or unknown: reconcile everything */
        pthread_mutex_t ev_mu;     /* the watch's events, not applied yet: */
        struct ctl_event *ev_head; /* in order */
        struct ctl_event **ev_tail;
        bool ev_lost; /* one could not be kept: read everything */
};

/* ---- ctl_model.c ---- */
/* o[k] = v, unless v is NULL. */
void ctl_json_add_str(json_object *o, const char *k, const char *v);
/* Store keys. */
#define CTL_K_EP     "endpoints/"
#define CTL_K_WIRE   "wires/"
#define CTL_K_HOST   "hosts/"
#define CTL_K_POLICY "policy"
#define CTL_K_MEMBER "members/"    /* live hosts of a cluster, under their leases */
#define CTL_K_SEEN   "seen/"       /* when each host was last alive */
#define CTL_K_REPORT "reports/"    /* each host's actual state */
#define CTL_K_MIG    "migrations/" /* a migration under way (ctl_migrate.c) */

/* a swap-corm under way (ctl_swap_corm.c), and its copy as the old Corm's host sees it */
#define CTL_K_CSWAP    "corm-swaps/"
#define CTL_K_CSWAP_ST "corm-swap-status/"
/* Keys a host keeps live (not desired state): NULL-terminated prefixes. */
extern const char *const ctl_live_prefixes[];
bool ctl_live_key(const char *key);
/* A counter every change of the desired state bumps, compared as it is
 * written: a change prepared from a desired state that another host or
 * client has changed since is refused (-EAGAIN), not merged blindly. */
#define CTL_K_GEN "generation"
/* Why such a change was refused (ctl_commit, apply --generation). */
#define CTL_MSG_RETRY                                                                              \
        "the desired state changed while this was being prepared (a change made on another "       \
        "host or by another client): nothing changed, run it again"

/* Load the desired state from the store into a topology (never NULL on 0).
 * It sets c->gen from the store: drop the desired state in memory first
 * (ctl_desired_drop), or read that (ctl_desired_get). */
int ctl_desired_load(struct bn_ctl *c, struct bn_topo **out, char *err, size_t errlen);
/* The same from data (a JSON object of key: value strings, as store-export
 * writes it) instead of the store, checked as strictly; NULL data: the
 * store (ctl_desired_load). */
int ctl_desired_parse(struct bn_ctl *c, json_object *data, struct bn_topo **out, char *err,
                      size_t errlen);
/* JSON values stored for items. */
json_object *ctl_ep_json(const struct bn_topo_ep *e);
json_object *ctl_wire_json(const struct bn_topo_wire *w);
json_object *ctl_host_json(const struct bn_topo_host *h);
json_object *ctl_policy_json(const struct bn_topo_policy *p);
/* Compare have (stored) with want (a file): append change records
 * {"change": "create"|"remove"|"swap"|"update", "kind": "endpoint"|"wire"|
 * "host"|"policy", "name", "detail"} to changes, and, when ops is not NULL,
 * the store operations that turn have into want (strings in *keep, freed
 * by the caller with ctl_ops_free). Returns the number of changes or -errno.
 * Ownership: endpoints and wires bananactl connect made (by_connect) that
 * want does not declare are kept, unless prune; those want declares become
 * the topology's (an "update" when otherwise equal). */
struct ctl_opbuf {
        struct bn_store_op *ops;
        size_t n;
        char **keep;
        size_t nkeep;
};
int ctl_diff(const struct bn_topo *have, const struct bn_topo *want, bool prune,
             json_object *changes, struct ctl_opbuf *ops);
/* What keeping the connect-made wires want does not declare (not prune)
 * would break, as errors naming both wires and the fix: a wire of want at
 * a Spike that is already an end of a kept wire; an endpoint a kept wire
 * uses that want would remove. */
void ctl_diff_conflicts(const struct bn_topo *have, const struct bn_topo *want, bool prune,
                        struct bn_topo_errs *errs);
void ctl_ops_free(struct ctl_opbuf *ops);
int ctl_opbuf_put(struct ctl_opbuf *b, const char *prefix, const char *name, json_object *val);
int ctl_opbuf_del(struct ctl_opbuf *b, const char *prefix, const char *name);
/* PUT key = text as it is (copies both). */
int ctl_opbuf_put_text(struct ctl_opbuf *b, const char *key, const char *text);

/* ---- ctl_vni.c ---- */
/* Give each wire of want that carries a VNI (vxlan, vpn) and names none
 * one (its stored record's in have, else the lowest free), and refuse (in
 * errs, at the wire) a given VNI that another wire of want or a stored
 * wire that stays already has. The commit of want is the transaction. */
void ctl_vni_assign(const struct bn_topo *have, struct bn_topo *want, bool prune,
                    struct bn_topo_errs *errs);
/* The same for one wire w that connect adds to have: 0 or -errno, err. */
int ctl_vni_assign_one(const struct bn_topo *have, struct bn_topo_wire *w, char *err,
                       size_t errlen);
/* The options opts that wire w of have will have once its type is type: a
 * VNI added when type takes one and opts gives none, as ctl_vni_assign_one
 * does, picked from *next up (start at 1; several wires changed in one
 * commit share next, so that they get different VNIs). */
int ctl_vni_for_type(const struct bn_topo *have, const struct bn_topo_wire *w, const char *type,
                     struct bn_kvlist *opts, long *next, char *err, size_t errlen);
/* One store pair (key, value) loaded into t as ctl_desired_load would:
 * 0, or -errno with the reason in err. */
int ctl_desired_load_pair(struct bn_ctl *c, struct bn_topo *t, const char *key, const char *value,
                          char *err, size_t errlen);

/* ---- ctl_desired.c: the desired state in memory ---- */
struct ctl_event;
/* The desired state to read (main loop): the cache, lent (a cluster's host
 * whose watch runs), else read from the store; give it back with
 * ctl_desired_put, never free it. Do not change it. */
int ctl_desired_get(struct bn_ctl *c, struct bn_topo **t, char *err, size_t errlen);
void ctl_desired_put(struct bn_ctl *c, struct bn_topo *t);
/* The watch's event function (bn_store_event_fn; arg: the daemon). */
void ctl_desired_event(void *arg, uint64_t rev, const char *key, const char *value);
/* Apply the events received; the cache dropped when it cannot follow. */
void ctl_desired_drain(struct bn_ctl *c);
/* This host's commit of ops at revision rev, into the cache. */
void ctl_desired_committed(struct bn_ctl *c, const struct bn_store_op *ops, size_t n, uint64_t rev);
/* Forget the cache (the next ctl_desired_get reads everything). */
void ctl_desired_drop(struct bn_ctl *c);
/* Forget the names changed (everything has been reconciled). */
void ctl_desired_clean(struct bn_ctl *c);
void ctl_desired_free(struct bn_ctl *c);
/* Reconcile what changed since the last reconcile: the names alone when
 * they are known and few, else everything (ctl_reconcile). */
int ctl_reconcile_changed(struct bn_ctl *c);

/* ---- ctl_run.c: the reconciler ---- */
struct bn_params;
/* l as framework params (p is initialised; clear it in every case). */
int ctl_params_from_kv(struct bn_params *p, const struct bn_kvlist *l);
/* Make this host match the desired state in the store: creates, removes,
 * swaps only what differs. Failures are kept per item (rt->error). */
int ctl_reconcile(struct bn_ctl *c);
/* The same for the named endpoints and wires of t alone (and the wires at
 * those endpoints). */
int ctl_reconcile_names(struct bn_ctl *c, const struct bn_topo *t, char *const *eps, size_t n_eps,
                        char *const *wires, size_t n_wires);
/* Close every wire end and Corm this controller made. */
void ctl_teardown(struct bn_ctl *c);
/* Registry watch: a Spike came or went. */
void ctl_ep_watch(void *arg, struct bn_endpoint *ep, bool added);
struct rt_wire *ctl_rt_wire(struct bn_ctl *c, const char *name);
/* Wire registry hook (any thread, arg: the daemon): a port's peer has gone;
 * on the main loop its end is closed and re-opened a second later (a
 * listening end listens again, a connecting end connects again when the peer
 * is back). Allocates nothing. */
void ctl_port_down(void *arg, struct bn_wire_port *port);
/* xenbus hook: the loop of the Corm a new Spike will be wired to, when its
 * class asks for it (corm_colocate), else NULL. Main thread. */
struct bn_loop *ctl_loop_for(void *arg, const char *spike);
/* State of a wire for display: "up", "waiting: ...", "error: ...", "remote". */
void ctl_wire_state(struct bn_ctl *c, const struct rt_wire *w, char *buf, size_t len);

/* ---- ctl_swap.c: make before break ---- */
/* The desired state changed w's type or moved its Corm end (dw): keep the
 * open ends as the old ones and take the new type and ends; the
 * reconciler then opens the new ends (a Spike's beside its old port) and
 * calls ctl_swap_progress. 0 or -ENOMEM. */
int ctl_swap_begin(struct bn_ctl *c, struct rt_wire *w, const struct bn_topo_wire *dw,
                   const bool local[2]);
/* Does dw differ from w only by what a swap changes (its type, or the Corm
 * end moved with the Spike end the same)? */
bool ctl_swap_wanted(const struct rt_wire *w, const struct bn_topo_wire *dw, const bool local[2]);
/* This host's open Corm end of w moves to another host, its Spike elsewhere:
 * the old end is kept as a swap's until its peer goes or the timer. */
bool ctl_swap_leaving(const struct rt_wire *w, const struct bn_topo_wire *dw);
/* A whole reconcile from the main loop, soon (not from inside this call). */
void ctl_reconcile_soon(struct bn_ctl *c);
/* After the new ends were opened: start the switch at a Spike end, or
 * close old ends that need no switch. */
void ctl_swap_progress(struct bn_ctl *c, struct rt_wire *w);
/* The options `bananactl swap` gives (req's "options", each checked as
 * connect checks them) into *out: 0, 1 when there are none (the wire
 * keeps its own), -1 with err. */
int ctl_swap_opts(json_object *req, struct bn_kvlist *out, char *err, size_t errlen);
/* Cancel the timer of old ends (the wire goes). */
void ctl_swap_cancel_timer(struct rt_wire *w);
/* Close end j's old port (now: a swap given up, the wire removed). */
void ctl_swap_close_old(struct rt_wire *w, int j);
/* A port whose peer went: one of w's old ends? Then it is closed (true). */
bool ctl_swap_port_down(struct rt_wire *w, struct bn_wire_port *port);
/* Open end j of w on ep: beside an old port during a swap (Spike), else
 * plainly. As bn_wire_port_open. */
int ctl_swap_open_end(struct bn_ctl *c, struct rt_wire *w, int j, struct bn_endpoint *ep,
                      const struct bn_params *p, char *err, size_t errlen);
/* The same with the ends' link states already read (link[0], link[1]; NULL:
 * read them now). */
struct bn_wire_link;
void ctl_wire_state_link(struct bn_ctl *c, const struct rt_wire *w, const struct bn_wire_link *link,
                         char *buf, size_t len);
/* Every wire's ends' link states, read in one call to each worker loop:
 * 2 * n_wires entries (wire i's at 2i, 2i + 1), malloc'd; NULL when that
 * failed (then ask each wire: ctl_wire_state). Main thread. */
struct bn_wire_link *ctl_wires_links(struct bn_ctl *c);
/* One open port's counters, read on the port's loop (main thread; waits). */
struct bn_wire_stats;
void ctl_port_stats(struct bn_wire_port *port, struct bn_wire_stats *st);
/* Counters of a wire's local ends, summed (drops also by reason:
 * "drops_by_reason"), and each local end's link ("links": end, up, mtu,
 * reason, caps) (adds fields to obj). */
void ctl_wire_counters(struct bn_ctl *c, const struct rt_wire *w, json_object *obj);

/* ---- ctl_ops.c ---- */
/* Handle one request; returns the reply object (never NULL unless ENOMEM). */
json_object *ctl_handle(struct bn_ctl *c, json_object *req);
json_object *ctl_reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_object *ctl_reply_ok(void);
/* The request's string argument key, NULL when absent or not a string. */
const char *ctl_arg_str(json_object *req, const char *key);
/* "shm, vxlan": the wire types available here. */
void ctl_wire_types(struct bn_ctl *c, char *buf, size_t len);
int ctl_type_available(struct bn_ctl *c, const char *type);
/* Commit ops to the store; 0 or -errno with the reason in err. */
int ctl_commit(struct bn_ctl *c, struct ctl_opbuf *ops, char *err, size_t errlen);

/* Check a wire for device class devclass (NULL: unknown) as opening it
 * would, when its type is here: the type's capabilities against what the
 * class needs (-EPROTONOSUPPORT), then each end's options with the type's
 * check (-EINVAL); 0, or -errno with the reason in err. */
int ctl_wire_check(struct bn_ctl *c, const char *type, const char *devclass,
                   const struct bn_kvlist *opts, char *err, size_t errlen);
/* ---- ctl_privs.c ---- */
/* Does an option or parameter key name a secret (key, secret, psk,
 * password, passwd, token, credential; any case)? Its value is then shown
 * as CTL_HIDDEN, never as it is (replies, metrics, logs). */
#define CTL_HIDDEN "(hidden)"
bool ctl_secret_key(const char *key);

/* ---- ctl_apply.c ---- */
/* apply (apply true) or diff: request {"file", "content", "prune"}. */
json_object *ctl_op_apply(struct bn_ctl *c, json_object *req, bool apply);
/* The same for a client of the socket, with the YAML parse on a thread of
 * its own: done(c, client, reply) is called later on the main loop (the
 * client may be gone by then). 0 when started or answered at once (*reply
 * not NULL); -errno when req is not an apply or diff to start (-ENOTSUP,
 * -EINVAL for a bad request, -ENOMEM): then run ctl_handle. */
typedef void (*ctl_job_done_fn)(struct bn_ctl *c, uint64_t client, json_object *reply);
int ctl_apply_async(struct bn_ctl *c, json_object *req, uint64_t client, ctl_job_done_fn done,
                    json_object **reply);
/* Wait for the parse threads and drop their results (bananad stops). */
void ctl_jobs_stop(struct bn_ctl *c);

/* ---- ctl_cluster.c ---- */
/* Join the cluster when the store has leases and a watch (else nothing):
 * member record under a lease, its keepalive timer, the watch. 0 or -errno
 * (logged). */
int ctl_cluster_start(struct bn_ctl *c);
/* Stop the watch and the keepalive; leave (revoke the lease) unless the
 * daemon detaches for a restart. */
void ctl_cluster_stop(struct bn_ctl *c);
/* Hand a batch of this host's report's changes (ctl_report.c's form,
 * taken) to the cluster loop, which writes them to reports/<host>/... */
void ctl_cluster_report(struct bn_ctl *c, json_object *batch);

/* ---- ctl_report_store.c: this host's report in the store (cluster loop) ---- */
struct ctl_report_w {
        struct bn_store *store; /* the cluster loop's handle (not owned) */
        const char *host;
        char k_report[320]; /* reports/<host> */
        /* what the store holds (as written, or read at start) and what is
         * still to write, each {"endpoints"|"wires": {NAME: {"state",
         * "error"?, "since"}}} (pending: null, delete) */
        json_object *written, *pending;
        bool pending_summary; /* reports/<host> is to write */
        size_t txn_max;       /* items a transaction writes at most */
};
extern const char *const ctl_report_kinds[2]; /* "endpoints", "wires" */
/* o's member k, an object made (and added) when absent; NULL: no memory. */
json_object *ctl_json_part(json_object *o, const char *k);
void ctl_report_w_init(struct ctl_report_w *rw, const char *host);
/* Read what the store holds of host's report, through store (kept). */
void ctl_report_w_load(struct ctl_report_w *rw, struct bn_store *store);
/* A batch of changes (ctl_report.c's form; not taken) into what is pending. */
void ctl_report_w_merge(struct ctl_report_w *rw, json_object *batch);
/* Write what is pending; 0, or -errno with err (what failed stays pending). */
int ctl_report_w_flush(struct ctl_report_w *rw, char *err, size_t errlen);
void ctl_report_w_free(struct ctl_report_w *rw);

/* ---- ctl_report.c: this host's actual state, and the cluster's ---- */
/* A timer on the main loop that builds this host's report once a second
 * and hands it on when it changed; stop cancels it. */
int ctl_report_start(struct bn_ctl *c);
void ctl_report_stop(struct bn_ctl *c);
/* The live members' records (a JSON array; empty on one host). */
json_object *ctl_cluster_members(struct bn_ctl *c);
/* Every host the cluster knows (topology, members, reports), each up or
 * down with its last seen time and how many endpoints and wires it
 * reported; a JSON array in name order. */
json_object *ctl_cluster_hosts(struct bn_ctl *c);
/* Is host up (its member record is there)? */
bool ctl_cluster_host_up(struct bn_ctl *c, const char *host);
/* The state host reported for an endpoint (kind "endpoints") or a wire
 * ("wires") named name: adds "state", "host_state", and "error", "since"
 * when known to o; returns the state ("host-down" when host is down,
 * "unreported" when it has not said). */
const char *ctl_cluster_item(struct bn_ctl *c, const char *host, const char *kind, const char *name,
                             json_object *o);
/* "ends_state" added to e: each end's host and state (state, this host's
 * own, for the ends held here; else what its host reported); a wire held
 * by no end here (rw NULL) gets in state what its first end's host said. */
void ctl_cluster_wire_ends(struct bn_ctl *c, const struct bn_topo *t, const struct bn_topo_wire *w,
                           const struct rt_wire *rw, char *state, size_t len, json_object *e);

/* ---- ctl_hosts.c: what hosts tell each other; the policy's hosts ---- */
struct bn_params;
/* This host's host_info for wire type (out initialised by the caller). */
int ctl_wire_host_info(struct bn_ctl *c, const char *type, struct bn_params *out);
/* Add to a wire's options p, for each end k on host[k] (two different
 * hosts), that host's host_info of the type as endk.KEY unless p sets it:
 * this host's own, another's from its member record (in a cluster). 0, or
 * -EAGAIN with why ("waiting for host h2: ...") when a key this type
 * publishes is neither in p nor in the member record of a host (not a
 * member: not trusted). */
int ctl_wire_add_host_info(struct bn_ctl *c, const char *type, char *const host[2],
                           struct bn_params *p, char *why, size_t len);
/* A host's attributes for the policy in tmp: site and domain from the
 * topology t (may be NULL), else from its member record (this host: its
 * --site, --domain). NULL when nothing is known of it. */
const struct bn_topo_host *ctl_policy_host(struct bn_ctl *c, const struct bn_topo *t,
                                           const char *name, struct bn_topo_host *tmp);
/* The type t's policy picks for two hosts, with why (may be NULL). */
const char *ctl_policy_pick(struct bn_ctl *c, const struct bn_topo *t, const char *a, const char *b,
                            char *why, size_t len);
/* Pick again the type of each policy-chosen wire of t with the hosts'
 * member records where t does not say (apply). 0 or -ENOMEM. */
int ctl_policy_repick(struct bn_ctl *c, struct bn_topo *t);
/* Why wire w has its type: "given in the topology", "policy: hosts ...". */
void ctl_wire_why(struct bn_ctl *c, const struct bn_topo *t, const struct bn_topo_wire *w,
                  char *buf, size_t len);
/* ctl_run.c: open again the ends that waited for a host (the view changed). */
void ctl_wires_retry_hosts(struct bn_ctl *c);
/* ---- ctl_migrate.c: live migration (docs/migration.md) ---- */
struct ctl_mig;
/* migrate {"vm", "to", "fail_at"}: start moving VM (running here) to host
 * to; answers at once, the steps run on the main loop. */
json_object *ctl_op_migrate(struct bn_ctl *c, json_object *req);
/* ctl_swap_op.c: bananactl swap. */
json_object *ctl_op_swap(struct bn_ctl *c, json_object *req);
/* After a change: the wire's local ends opened (or wait for a Spike): 0, or
 * -EIO with the reason in err (ctl_ops.c). */
int ctl_wire_outcome(struct bn_ctl *c, const char *name, char *err, size_t errlen);
/* migration {"vm"}: the step a migration started here is at, and its log. */
json_object *ctl_op_migration(struct bn_ctl *c, json_object *req);
/* Cancel the timers and free every migration (bananad stops). */
void ctl_migrate_stop(struct bn_ctl *c);
/* bn_xenbus_config.name_for: a Spike of a guest that migrated (or is
 * migrating) here keeps its name rooted at its home, with its epoch. */
int ctl_name_for(void *arg, const char *vm, const char *dev, char *name, size_t len,
                 uint32_t *epoch);
/* At start: a migration from here a previous bananad left is finished
 * (switched) or rolled back (before), and its record removed. */
void ctl_migrate_recover(struct bn_ctl *c);

/* ctl_swap_corm.c: `bananactl swap-corm` (main loop, except _event: the
 * store watch's thread, which hands the record to the main loop). */
json_object *ctl_op_swap_corm(struct bn_ctl *c, json_object *req);
json_object *ctl_op_corm_swap(struct bn_ctl *c, json_object *req);
void ctl_swap_corm_event(struct bn_daemon *d, const char *key, const char *value);
/* appends the copy's progress to a wire's state */
void ctl_swap_corm_progress(struct bn_ctl *c, const char *wire, char *buf, size_t len);
void ctl_swap_corm_stop(struct bn_ctl *c);
void ctl_swap_corm_recover(struct bn_ctl *c);

/* ---- ctl_store_move.c ---- */
json_object *ctl_op_store_export(struct bn_ctl *c);
/* ctl_snapshot.c */
json_object *ctl_op_snapshot(struct bn_ctl *c, json_object *req);
json_object *ctl_op_store_import(struct bn_ctl *c, json_object *req);

#endif
