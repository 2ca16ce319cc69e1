/* bananad.c: the banana daemon's entry point: options, then the framework's
 * daemon steps (bn_daemon.h) with the controller's hooks between them. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bn_daemon.h"
#include "bn_devclass.h"
#include "bn_log.h"
#include "bn_ctl.h"  /* ctl: controller hooks */
#include "bn_topo.h" /* ctl: --host is a host name of docs/topology.md */

struct bananad_opts {
        struct bn_daemon_opts d;
        bool foreground;
        const char *log_level;
        const char *control_group; /* ctl: --control-group */
        struct bn_ctl_opts ctl;    /* ctl: --store and the cluster's options */
        const char *metrics;       /* ctl: --metrics ADDR (ctl_metrics.c) */
};

enum {
        OPT_STORE = 256,
        OPT_STORE_CA,
        OPT_STORE_CERT,
        OPT_STORE_KEY,
        OPT_ADDRESS,
        OPT_LEASE_TTL,
        OPT_STORE_TIMEOUT,
        OPT_SITE,
        OPT_DOMAIN
};

static void usage(FILE *f)
{
        fprintf(f,
                "usage: bananad [--foreground] [--host NAME] [--hypervisor xen|xensim|auto]\n"
                "               [--xensim-dir DIR] [--state-dir DIR] [--control PATH]\n"
                "               [--workers N] [--log-level error|warn|info|debug]\n"
                "               [--control-group GROUP] [--keep-devices]\n"
                "               [--store etcd://HOST:PORT[,...]|etcds://...]\n"
                "               [--store-ca FILE] [--store-cert FILE] [--store-key FILE]\n"
                "               [--address ADDR] [--lease-ttl SECONDS] [--store-timeout SECONDS]\n"
                "               [--site NAME] [--domain NAME] [--metrics HOST:PORT|unix:PATH]\n"
                "SIGTERM/SIGINT: stop, closing guests' devices the Xen way.\n"
                "SIGUSR2: stop for a restart, guests' devices stay Connected\n"
                "(--keep-devices: SIGTERM/SIGINT do the same).\n");
}

static int parse_args(int argc, char **argv, struct bananad_opts *o)
{
        static const struct option longopts[] = {
            {"foreground", no_argument, NULL, 'f'},
            {"host", required_argument, NULL, 'H'},
            {"hypervisor", required_argument, NULL, 'y'},
            {"xensim-dir", required_argument, NULL, 'x'},
            {"state-dir", required_argument, NULL, 's'},
            {"control", required_argument, NULL, 'c'},
            {"workers", required_argument, NULL, 'w'},
            {"log-level", required_argument, NULL, 'l'},
            {"help", no_argument, NULL, 'h'},
            {"control-group", required_argument, NULL, 'g'}, /* ctl */
            {"keep-devices", no_argument, NULL, 'k'},
            {"store", required_argument, NULL, OPT_STORE},
            {"store-ca", required_argument, NULL, OPT_STORE_CA},
            {"store-cert", required_argument, NULL, OPT_STORE_CERT},
            {"store-key", required_argument, NULL, OPT_STORE_KEY},
            {"address", required_argument, NULL, OPT_ADDRESS},
            {"lease-ttl", required_argument, NULL, OPT_LEASE_TTL},
            {"store-timeout", required_argument, NULL, OPT_STORE_TIMEOUT},
            {"site", required_argument, NULL, OPT_SITE},
            {"domain", required_argument, NULL, OPT_DOMAIN},
            {"metrics", required_argument, NULL, 'm'}, /* ctl */
            {NULL, 0, NULL, 0},
        };
        int c;
        while ((c = getopt_long(argc, argv, "fH:y:x:s:c:w:l:hg:km:", longopts, NULL)) != -1) {
                switch (c) {
                case 'f':
                        o->foreground = true;
                        break;
                case 'H': {
                        const char *why = bn_topo_check_host_name(optarg);
                        if (why) {
                                fprintf(stderr, "bananad: --host '%.80s%s': %s\n", optarg,
                                        strlen(optarg) > 80 ? "..." : "", why);
                                return -EINVAL;
                        }
                        o->d.host = optarg;
                        break;
                }
                case 'y':
                        if (strcmp(optarg, "xen") && strcmp(optarg, "xensim") &&
                            strcmp(optarg, "auto")) {
                                fprintf(stderr,
                                        "bananad: --hypervisor must be xen, xensim or "
                                        "auto, not '%s'\n",
                                        optarg);
                                return -EINVAL;
                        }
                        o->d.hypervisor = optarg;
                        break;
                case 'x':
                        o->d.xensim_dir = optarg;
                        break;
                case 's':
                        o->d.state_dir = optarg;
                        break;
                case 'c':
                        o->d.control = optarg;
                        break;
                case 'w': {
                        char *end;
                        unsigned long n = strtoul(optarg, &end, 10);
                        if (*end || n < 1 || n > 64) {
                                fprintf(stderr, "bananad: --workers must be 1..64\n");
                                return -EINVAL;
                        }
                        o->d.workers = (unsigned)n;
                        break;
                }
                case 'l':
                        o->log_level = optarg;
                        break;
                case 'g': /* ctl */
                        o->control_group = optarg;
                        break;
                case 'k':
                        o->d.keep_devices = true;
                        break;
                case OPT_STORE:
                        if (strncmp(optarg, "etcd://", 7) && strncmp(optarg, "etcds://", 8)) {
                                fprintf(stderr,
                                        "bananad: --store must be etcd://HOST:PORT[,...] or "
                                        "etcds://HOST:PORT[,...], not '%.80s'\n",
                                        optarg);
                                return -EINVAL;
                        }
                        o->ctl.store_url = optarg;
                        break;
                case OPT_STORE_CA:
                        o->ctl.store_ca = optarg;
                        break;
                case OPT_STORE_CERT:
                        o->ctl.store_cert = optarg;
                        break;
                case OPT_STORE_KEY:
                        o->ctl.store_key = optarg;
                        break;
                case OPT_ADDRESS:
                        o->ctl.address = optarg;
                        break;
                case OPT_SITE:
                case OPT_DOMAIN: {
                        const char *why = bn_topo_check_host_name(optarg);
                        if (why) {
                                fprintf(stderr, "bananad: --%s '%s': %s\n",
                                        c == OPT_SITE ? "site" : "domain", optarg, why);
                                return -EINVAL;
                        }
                        *(c == OPT_SITE ? &o->ctl.site : &o->ctl.domain) = optarg;
                        break;
                }
                case OPT_LEASE_TTL: {
                        char *end;
                        unsigned long n = strtoul(optarg, &end, 10);
                        if (*end || n < 2 || n > 3600) {
                                fprintf(stderr, "bananad: --lease-ttl must be 2..3600 seconds\n");
                                return -EINVAL;
                        }
                        o->ctl.lease_ttl = (unsigned)n;
                        break;
                }
                case OPT_STORE_TIMEOUT: {
                        char *end;
                        unsigned long n = strtoul(optarg, &end, 10);
                        if (*end || n < 1 || n > 600) {
                                fprintf(stderr,
                                        "bananad: --store-timeout must be 1..600 seconds\n");
                                return -EINVAL;
                        }
                        o->ctl.store_timeout_ms = (long)n * 1000;
                        break;
                }
                case 'm': /* ctl */
                        o->metrics = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        exit(0);
                default:
                        usage(stderr);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "bananad: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return -EINVAL;
        }
        return 0;
}

int main(int argc, char **argv)
{
        struct bananad_opts o = {
            .d = {.serve_xenbus = true, .register_classes = bn_devices_register_all}};
        struct bn_daemon d;
        struct bn_metrics *metrics = NULL; /* ctl */
        int rc;

        if (parse_args(argc, argv, &o))
                return 2;
        /* ctl: in the background (no --foreground), fork before any thread
         * and log to syslog; the parent exits once the control socket is up. */
        struct bn_ctl_opts co = o.ctl;
        co.control_group = o.control_group;
        co.notify = true;
        co.ready_fd = -1;
        if (o.d.hypervisor && strcmp(o.d.hypervisor, "xensim") == 0) {
                const char *env = getenv("XENSIM_DIR");
                co.xensim_dir = o.d.xensim_dir ? o.d.xensim_dir : env && *env ? env : "/run/xensim";
        }
        if (!o.foreground && bn_ctl_daemonize(&co.ready_fd) < 0) {
                perror("bananad: cannot go to the background");
                return 1;
        }
        bn_log_init("bananad", !o.foreground);
        /* every wire end holds a few fds (an shm wire about ten in all):
         * take the hard limit, so thousands of wires fit (docs/cluster.md) */
        struct rlimit nofile;
        if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
                nofile.rlim_cur = nofile.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &nofile))
                        bn_warn("bananad", "cannot raise the fd limit to %llu: %s",
                                (unsigned long long)nofile.rlim_max, strerror(errno));
        }
        if (o.log_level) {
                enum bn_log_level l;
                if (bn_log_parse_level(o.log_level, &l)) {
                        fprintf(stderr, "bananad: bad --log-level '%s'\n", o.log_level);
                        return 2;
                }
                bn_log_set_level(l);
        }

        /* ctl: before any thread: only the capabilities set-up and running use */
        if (bn_privs_limit())
                return 1;
        rc = bn_daemon_init(&d, &o.d);
        if (rc)
                return 1;
        /* ctl: metrics listener (before ready: a bad address fails start-up) */
        if (o.metrics && bn_metrics_start(&d, o.metrics, o.control_group, &metrics)) {
                bn_daemon_shutdown(&d);
                return 1;
        }
        /* ctl: control socket, store, reconciler (restart recovery) */
        if (bn_controller_start(&d, &co)) {
                bn_metrics_stop(metrics);
                bn_daemon_shutdown(&d);
                return 1;
        }
        /* ctl: set up: keep only the capabilities used from now on */
        if (bn_privs_drop(&d) || bn_privs_seccomp()) {
                bn_controller_stop(&d);
                bn_metrics_stop(metrics);
                bn_daemon_shutdown(&d);
                return 1;
        }
        rc = bn_daemon_run(&d);
        bn_metrics_stop(metrics); /* ctl */
        bn_controller_stop(&d);   /* ctl */
        bn_daemon_shutdown(&d);
        bn_info("bananad", "stopped");
        return rc ? 1 : 0;
}
