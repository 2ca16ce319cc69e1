/* bn_daemon.h: the parts every bananad is made of, with clear init / run /
 * shutdown steps so that controller code (control socket, store,
 * reconciler) plugs in between them:
 *
 *     struct bn_daemon d;
 *     bn_daemon_init(&d, &opts);      hv, main loop, workers, registries,
 *                                     device classes, xenbus serving
 *     ... controller start hooks (socket, store) on d.loop ...
 *     bn_daemon_run(&d);              until SIGTERM/SIGINT/SIGUSR2 or
 *                                     bn_daemon_stop
 *     ... controller stop hooks ...
 *     bn_daemon_shutdown(&d);         devices closed the Xen way (or, after
 *                                     SIGUSR2 / keep_devices, detached), freed
 *
 * Two ways to stop: SIGTERM/SIGINT close the guests' devices the Xen way
 * (Closing, Closed: the front-ends give them up), for a real shutdown;
 * SIGUSR2 (systemd's RestartKillSignal) detaches from them and leaves their
 * back-ends Connected, for a restart: the next bananad takes them back.
 */
#ifndef BN_DAEMON_H
#define BN_DAEMON_H

#include <stdbool.h>

#include "bn_devclass.h"
#include "bn_endpoint.h"
#include "bn_wire.h"

struct bn_loop;
struct bn_hv;
struct bn_workers;
struct bn_xenbus;

struct bn_daemon_opts {
        const char *host;       /* NULL: gethostname() (sanitised) */
        const char *hypervisor; /* "xen", "xensim", "auto" (NULL: auto) */
        const char *xensim_dir; /* NULL: $XENSIM_DIR or /run/xensim */
        const char *state_dir;  /* NULL: /var/lib/banana */
        const char *control;    /* control socket path (for the controller) */
        unsigned workers;       /* 0: number of online CPUs */
        bool serve_xenbus;      /* start the xenbus back-end for each class */
        bool keep_devices;      /* SIGTERM/SIGINT detach too, as SIGUSR2 does */
        /* Registers the device classes (bananad: bn_devices_register_all from
         * devices_dep). NULL: none. */
        int (*register_classes)(struct bn_devclass_registry *r);
};

struct bn_daemon {
        char host[64];
        char state_dir[256];
        char control[256];
        char run_dir[300]; /* <control socket's dir>/rings: ring journals */
        struct bn_hv *hv;
        struct bn_loop *loop;       /* main loop: xenstore, control, store */
        struct bn_workers *workers; /* device I/O loops */
        struct bn_devclass_registry classes;
        struct bn_wire_registry wires;
        struct bn_ep_registry eps;
        struct bn_xenbus *xenbus; /* NULL when not serving */
        int signal_fd;            /* signalfd for SIGTERM/SIGINT/SIGUSR2 */
        bool detach_on_stop;      /* shutdown detaches instead of closing */
        int exit_code;
        void *ctl; /* the controller's state (owned by controller/) */
};

/* Everything up to a ready main loop. Blocks SIGTERM/SIGINT/SIGUSR2/SIGPIPE
 * and watches them with a signalfd (the first three stop the loop). On failure
 * logs why, cleans up and returns -errno. Wire classes are registered by
 * the caller (bn_wire_registry_add on d->wires) before or after. */
int bn_daemon_init(struct bn_daemon *d, const struct bn_daemon_opts *opts);
/* Run the main loop until stopped. */
int bn_daemon_run(struct bn_daemon *d);
/* Thread-safe: make bn_daemon_run return. */
void bn_daemon_stop(struct bn_daemon *d);
/* Close devices (Closing → Closed), or detach from them when detach_on_stop
 * is set (bn_xenbus_detach), stop workers, free. Safe after a failed or
 * partial init. */
void bn_daemon_shutdown(struct bn_daemon *d);

#endif
