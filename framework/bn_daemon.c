/* bn_daemon.c: bananad's skeleton: hypervisor, main loop, workers,
 * registries, device classes, xenbus serving, signals (see bn_daemon.h). */
#include "bn_daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "bn_hv.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_xenbus.h"

static void on_signal(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        struct bn_daemon *d = arg;
        struct signalfd_siginfo si;

        (void)events;
        while (read(fd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGUSR2)
                        d->detach_on_stop = true;
                else if (si.ssi_signo != SIGTERM && si.ssi_signo != SIGINT)
                        continue;
                bn_info("bananad", "got %s: stopping, %s", strsignal((int)si.ssi_signo),
                        d->detach_on_stop ? "guests' devices stay Connected for a restart"
                                          : "closing guests' devices");
                bn_loop_stop(loop);
        }
}

int bn_daemon_init(struct bn_daemon *d, const struct bn_daemon_opts *opts)
{
        int rc;
        memset(d, 0, sizeof(*d));
        d->signal_fd = -1;
        d->detach_on_stop = opts->keep_devices;
        bn_devclass_registry_init(&d->classes);
        bn_wire_registry_init(&d->wires);
        bn_ep_registry_init(&d->eps);

        if (opts->host) {
                snprintf(d->host, sizeof(d->host), "%s", opts->host);
        } else {
                char hn[256] = "";
                gethostname(hn, sizeof(hn) - 1);
                bn_name_sanitize_component(hn, d->host, sizeof(d->host));
        }
        char host_only[BN_NAME_COMPONENT_MAX];
        bn_name_sanitize_component(d->host, host_only, sizeof(host_only));
        if (strcmp(host_only, d->host)) {
                bn_err("bananad", "host name '%s' is not a valid name component", d->host);
                rc = -EINVAL;
                goto fail;
        }
        snprintf(d->state_dir, sizeof(d->state_dir), "%s",
                 opts->state_dir ? opts->state_dir : "/var/lib/banana");
        snprintf(d->control, sizeof(d->control), "%s",
                 opts->control ? opts->control : "/run/banana/control.sock");
        {
                /* ring journals live beside the control socket (tmpfs) */
                const char *slash = strrchr(d->control, '/');
                int dl = slash ? (int)(slash - d->control) : 1;
                snprintf(d->run_dir, sizeof(d->run_dir), "%.*s/rings", dl,
                         slash ? d->control : ".");
        }

        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGUSR2);
        sigaddset(&set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        sigdelset(&set, SIGPIPE);
        d->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (d->signal_fd < 0) {
                rc = -errno;
                bn_err("bananad", "signalfd: %s", strerror(errno));
                goto fail;
        }

        rc = bn_loop_new(&d->loop, "main");
        if (rc) {
                bn_err("bananad", "cannot create the main loop: %s", strerror(-rc));
                goto fail;
        }
        rc = bn_loop_add_fd(d->loop, d->signal_fd, EPOLLIN, on_signal, d);
        if (rc)
                goto fail;

        rc = bn_hv_open(&d->hv, opts->hypervisor ? opts->hypervisor : "auto", opts->xensim_dir);
        if (rc) {
                bn_err("bananad", "cannot open the hypervisor interface (%s): %s",
                       opts->hypervisor ? opts->hypervisor : "auto", strerror(-rc));
                goto fail;
        }
        bn_info("bananad", "host %s, hypervisor %s, domain %u", d->host, bn_hv_name(d->hv),
                bn_hv_self_domid(d->hv));

        unsigned nw = opts->workers;
        if (!nw) {
                long c = sysconf(_SC_NPROCESSORS_ONLN);
                nw = c > 0 ? (unsigned)c : 1;
                if (nw > 16)
                        nw = 16;
        }
        rc = bn_workers_start(&d->workers, nw, "bn-io");
        if (rc) {
                bn_err("bananad", "cannot start %u worker threads: %s", nw, strerror(-rc));
                goto fail;
        }
        /* what wire types see at class_init: the daemon's loops */
        d->wires.env = (struct bn_wire_env){
            .main = d->loop, .workers = d->workers, .host = d->host, .state_dir = d->state_dir};

        rc = opts->register_classes ? opts->register_classes(&d->classes) : 0;
        if (rc) {
                bn_err("bananad", "registering device classes: %s", strerror(-rc));
                goto fail;
        }

        if (opts->serve_xenbus) {
                struct bn_xenbus_config xc = {.loop = d->loop,
                                              .hv = d->hv,
                                              .workers = d->workers,
                                              .eps = &d->eps,
                                              .host = d->host,
                                              .run_dir = d->run_dir};
                rc = bn_xenbus_start(&d->xenbus, &xc);
                if (rc)
                        goto fail;
                for (unsigned i = 0; i < d->classes.n; i++) {
                        if (!d->classes.cls[i]->backend_types[0])
                                continue;
                        rc = bn_xenbus_serve(d->xenbus, d->classes.cls[i]);
                        if (rc) {
                                bn_err("bananad", "serving class %s: %s", d->classes.cls[i]->name,
                                       strerror(-rc));
                                goto fail;
                        }
                }
        }
        return 0;
fail:
        bn_daemon_shutdown(d);
        return rc;
}

int bn_daemon_run(struct bn_daemon *d)
{
        bn_info("bananad", "running");
        return bn_loop_run(d->loop);
}

void bn_daemon_stop(struct bn_daemon *d)
{
        if (d->loop)
                bn_loop_stop(d->loop);
}

void bn_daemon_shutdown(struct bn_daemon *d)
{
        if (d->xenbus) {
                if (d->detach_on_stop)
                        bn_xenbus_detach(d->xenbus);
                else
                        bn_xenbus_stop(d->xenbus);
                d->xenbus = NULL;
        }
        /* Corms and other endpoints left by the controller */
        while (d->eps.head) {
                struct bn_endpoint *ep = d->eps.head;
                if (ep->kind == BN_EP_CORM) {
                        bn_corm_destroy(&d->eps, ep);
                } else {
                        bn_ep_registry_remove(&d->eps, ep);
                        bn_endpoint_free(ep);
                }
        }
        bn_ep_registry_fini(&d->eps);
        /* every port is closed; a wire type may still use the loops it was
         * given (bn_wire_env) while it stops */
        bn_wire_registry_fini(&d->wires);
        if (d->workers) {
                bn_workers_stop(d->workers);
                d->workers = NULL;
        }
        if (d->hv) {
                bn_hv_close(d->hv);
                d->hv = NULL;
        }
        if (d->loop) {
                bn_loop_free(d->loop);
                d->loop = NULL;
        }
        if (d->signal_fd >= 0) {
                close(d->signal_fd);
                d->signal_fd = -1;
        }
}
