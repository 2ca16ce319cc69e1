/* bananad.c: the banana daemon's entry point: options, then the framework's
 * daemon steps (bn_daemon.h) with the controller's hooks between them. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bn_daemon.h"
#include "bn_devclass.h"
#include "bn_log.h"

struct bananad_opts {
        struct bn_daemon_opts d;
        bool foreground;
        const char *log_level;
};

static void usage(FILE *f)
{
        fprintf(f, "usage: bananad [--foreground] [--host NAME] [--hypervisor xen|xensim|auto]\n"
                   "               [--xensim-dir DIR] [--state-dir DIR] [--control PATH]\n"
                   "               [--workers N] [--log-level error|warn|info|debug]\n");
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
            {NULL, 0, NULL, 0},
        };
        int c;
        while ((c = getopt_long(argc, argv, "fH:y:x:s:c:w:l:h", longopts, NULL)) != -1) {
                switch (c) {
                case 'f':
                        o->foreground = true;
                        break;
                case 'H':
                        o->d.host = optarg;
                        break;
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
        int rc;

        if (parse_args(argc, argv, &o))
                return 2;
        /* Daemonising and sd_notify belong to the controller (helper "ctl");
         * until then bananad logs to stderr in the foreground. */
        bn_log_init("bananad", 0);
        if (o.log_level) {
                enum bn_log_level l;
                if (bn_log_parse_level(o.log_level, &l)) {
                        fprintf(stderr, "bananad: bad --log-level '%s'\n", o.log_level);
                        return 2;
                }
                bn_log_set_level(l);
        }

        rc = bn_daemon_init(&d, &o.d);
        if (rc)
                return 1;
        /* Controller hooks go here: control socket, store, reconciler
         * (started on d.loop, state in d.ctl). */
        rc = bn_daemon_run(&d);
        /* Controller stop hooks go here. */
        bn_daemon_shutdown(&d);
        bn_info("bananad", "stopped");
        return rc ? 1 : 0;
}
