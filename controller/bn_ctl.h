/* bn_ctl.h: bananad's controller: the control socket, the store of desired
 * state and the reconciler that makes this host match it. bananad's main
 * calls bn_controller_start() between bn_daemon_init() and bn_daemon_run(),
 * and bn_controller_stop() after bn_daemon_run() returns.
 *
 * Control protocol (docs/cli.md): newline-delimited JSON over a Unix stream
 * socket. A request is one line {"op": "...", ...arguments}; each gets one
 * reply line {"ok": true, ...} or {"ok": false, "error": "...", "errors":
 * [...]}. A line longer than BN_CTL_MSG_MAX or not a JSON object gets an
 * error reply and the connection is closed; the daemon keeps serving.
 */
#ifndef BN_CTL_H
#define BN_CTL_H

#include <stdbool.h>

#define BN_CTL_MSG_MAX          (4u << 20) /* one request or reply line */
#define BN_CTL_DEFAULT_SOCKET   "/run/banana/control.sock"
#define BN_CTL_DEFAULT_STATEDIR "/var/lib/banana"

struct bn_daemon;

struct bn_ctl_opts {
        /* Group admitted to the control socket besides root (mode 0660,
         * chowned to it); NULL: root only (mode 0600). */
        const char *control_group;
        /* Tell systemd we are ready (sd_notify READY=1) once serving. */
        bool notify;
        /* From bn_ctl_daemonize(): written (one byte) and closed once
         * serving; -1 when in the foreground. */
        int ready_fd;
        /* The store: NULL for the embedded one in the state directory, or
         * etcd://HOST:PORT[,...] / etcds://... for a cluster's shared etcd
         * (store_ca, store_cert, store_key: its TLS files). */
        const char *store_url;
        const char *store_ca, *store_cert, *store_key;
        long store_timeout_ms; /* each etcd request's limit (0: the backend's, 3 s) */
        /* In a cluster: this host's underlay address (told to the others in
         * its member record) and its member lease's TTL in seconds (0:
         * BN_CTL_DEFAULT_LEASE_TTL). */
        const char *address;
        unsigned lease_ttl;
        /* This host's site and administrative domain (--site, --domain),
         * told in its member record: the wire-type policy uses them for a
         * host the topology declares without them. NULL: unknown. */
        const char *site, *domain;
        /* xensim only: the directory of this host's xensim, told in the
         * member record so that a simulated guest can migrate here. */
        const char *xensim_dir;
};
#define BN_CTL_DEFAULT_LEASE_TTL 10

/* Open the store in d->state_dir, reconcile this host (d->host) with the
 * desired state it holds (restart recovery: Corms and wires come back,
 * Spikes are re-wired as their guests' devices reappear), then listen on
 * d->control. Runs on the main thread, before bn_daemon_run(). 0 or -errno
 * (logged with the reason). */
int bn_controller_start(struct bn_daemon *d, const struct bn_ctl_opts *opts);
/* Close the socket and clients, tear down the wires and Corms this
 * controller made (the desired state stays in the store), free. Safe when
 * start failed or was not called. */
void bn_controller_stop(struct bn_daemon *d);

/* Go to the background before any thread exists: fork; the parent exits 0
 * once the child reports ready through *ready_fd (pass it in
 * bn_ctl_opts.ready_fd), 1 if the child fails first. The child gets a new
 * session, cwd /, stdio on /dev/null. 0 in the child or -errno. */
int bn_ctl_daemonize(int *ready_fd);

/* The metrics listener (ctl_metrics.c, docs/metrics.md): Prometheus text
 * format on GET /metrics. addr: "HOST:PORT", "[ADDR]:PORT", ":PORT" (every
 * address) or "unix:PATH" / "/PATH" (a Unix socket, mode 0660 for group or
 * 0600 without one). Served on d->loop (no thread of its own); start it
 * after bn_daemon_init(), stop it before bn_daemon_shutdown(). 0 or -errno
 * (logged with the reason). */
struct bn_metrics;
int bn_metrics_start(struct bn_daemon *d, const char *addr, const char *group,
                     struct bn_metrics **out);
void bn_metrics_stop(struct bn_metrics *m); /* NULL: nothing */

/* Least privilege (ctl_privs.c). bn_privs_limit: before any thread exists,
 * keep only what set-up and running use (CAP_NET_ADMIN, CAP_CHOWN,
 * CAP_NET_BIND_SERVICE, CAP_SETPCAP). bn_privs_drop: after bn_controller_start(), keep
 * only CAP_NET_ADMIN on the main thread and every worker loop. Both in every
 * set, bounding set included; main thread; 0 when done or nothing to drop
 * (not root), else -errno (logged). */
int bn_privs_limit(void);
int bn_privs_drop(struct bn_daemon *d);
/* After bn_privs_drop: the seccomp allow-list (systemd's @system-service,
 * controller/ctl_syscalls.h) on every thread; any other system call kills
 * bananad. 0 or -errno (logged). */
int bn_privs_seccomp(void);

struct bn_wire_registry;
/* Register the wire types built into this binary (those not already
 * registered). 0 or -errno. */
int bn_ctl_register_wires(struct bn_wire_registry *r);

#endif
