/* bn_nbd_serve.c: bn-nbd-serve, banana's NBD server over a file, for tests
 * and interop with standard NBD clients (nbdinfo, qemu-img, fio's nbd
 * engine) until the nbd wire serves the disk Corm.
 *
 *   bn-nbd-serve --file PATH --listen tcp:HOST:PORT|unix:PATH
 *                [--export NAME] [--read-only] [--port-file PATH] [--defer]
 *                [--tls-cert PEM --tls-key PEM [--tls-ca PEM] [--tls-require]]
 *                [--max-conns N] [--handshake-timeout MS]
 *
 * --defer completes each request 0-3 ms later from a timer, so replies
 * leave out of order and connections can die with requests in flight: the
 * server's paths for a back-end that completes asynchronously (the disk
 * Corm's io_uring) are exercised with a file.
 * Runs until SIGTERM or SIGINT, then prints its request counts. */
#include "bn_log.h"
#include "bn_loop.h"
#include "nbd_server.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct bn_loop *stop_loop; /* for the signal handler (this program's only) */

static void on_signal(int sig)
{
        (void)sig;
        bn_loop_stop(stop_loop);
}

/* --defer: a back-end that runs the file back-end's operation from a timer. */
struct defer {
        struct bn_loop *loop;
        void *file;
};

struct deferred {
        struct defer *d;
        int (*op)(void *, struct bn_nbd_io *);
        struct bn_nbd_io *io;
};

static void defer_run(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct deferred *x = arg;

        (void)loop;
        (void)t;
        if (x->op(x->d->file, x->io) < 0)
                bn_nbd_io_done(x->io, -EIO);
        free(x);
}

static int defer_op(void *be, struct bn_nbd_io *io, int (*op)(void *, struct bn_nbd_io *))
{
        struct defer *d = be;
        struct deferred *x = malloc(sizeof(*x));
        int r;

        if (!x)
                return -ENOMEM;
        *x = (struct deferred){.d = d, .op = op, .io = io};
        r = bn_loop_timer_add(d->loop, (uint64_t)(rand() % 4), 0, defer_run, x, NULL);
        if (r < 0)
                free(x);
        return r;
}

static int defer_size(void *be, uint64_t *size, bool *ro)
{
        return bn_nbd_file_ops.get_size(((struct defer *)be)->file, size, ro);
}

static int defer_read(void *be, struct bn_nbd_io *io)
{
        return defer_op(be, io, bn_nbd_file_ops.read);
}

static int defer_write(void *be, struct bn_nbd_io *io)
{
        return defer_op(be, io, bn_nbd_file_ops.write);
}

static int defer_flush(void *be, struct bn_nbd_io *io)
{
        return defer_op(be, io, bn_nbd_file_ops.flush);
}

static int defer_trim(void *be, struct bn_nbd_io *io)
{
        return defer_op(be, io, bn_nbd_file_ops.trim);
}

static int defer_zero(void *be, struct bn_nbd_io *io)
{
        return defer_op(be, io, bn_nbd_file_ops.zero);
}

static const struct bn_nbd_backend_ops defer_ops = {
    .name = "file, deferred",
    .get_size = defer_size,
    .read = defer_read,
    .write = defer_write,
    .flush = defer_flush,
    .trim = defer_trim,
    .zero = defer_zero,
};

static void usage(FILE *f)
{
        fprintf(
            f, "usage: bn-nbd-serve --file PATH --listen tcp:HOST:PORT|unix:PATH\n"
               "                    [--export NAME] [--read-only] [--port-file PATH] [--defer]\n"
               "                    [--tls-cert PEM --tls-key PEM [--tls-ca PEM] [--tls-require]]\n"
               "                    [--max-conns N] [--handshake-timeout MS]\n");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"file", required_argument, NULL, 'f'},
            {"listen", required_argument, NULL, 'l'},
            {"export", required_argument, NULL, 'e'},
            {"read-only", no_argument, NULL, 'r'},
            {"port-file", required_argument, NULL, 'p'},
            {"help", no_argument, NULL, 'h'},
            {"defer", no_argument, NULL, 'd'},
            {"tls-cert", required_argument, NULL, 'C'},
            {"tls-key", required_argument, NULL, 'K'},
            {"tls-ca", required_argument, NULL, 'A'},
            {"tls-require", no_argument, NULL, 'T'},
            {"max-conns", required_argument, NULL, 'M'},
            {"handshake-timeout", required_argument, NULL, 'H'},
            {NULL, 0, NULL, 0},
        };
        const char *file = NULL, *listen_addr = NULL, *export_name = "", *port_file = NULL;
        struct bn_nbd_server_stats st;
        struct bn_nbd_server *srv = NULL;
        struct bn_nbd_file *f = NULL;
        struct bn_loop *loop = NULL;
        struct defer defer = {0};
        struct bn_nbd_tls_cfg tls = {0};
        bool ro = false, deferred = false;
        unsigned max_conns = 0, hs_ms = 0;
        FILE *pf;
        int c, r, rc = 1;

        bn_log_init("bn-nbd-serve", 0);
        while ((c = getopt_long(argc, argv, "f:l:e:rp:hd", opts, NULL)) != -1) {
                switch (c) {
                case 'f':
                        file = optarg;
                        break;
                case 'l':
                        listen_addr = optarg;
                        break;
                case 'e':
                        export_name = optarg;
                        break;
                case 'r':
                        ro = true;
                        break;
                case 'p':
                        port_file = optarg;
                        break;
                case 'd':
                        deferred = true;
                        break;
                case 'C':
                        tls.cert = optarg;
                        break;
                case 'K':
                        tls.key = optarg;
                        break;
                case 'A':
                        tls.ca = optarg;
                        break;
                case 'T':
                        tls.require = true;
                        break;
                case 'M':
                        max_conns = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'H':
                        hs_ms = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (!file || !listen_addr || optind != argc) {
                usage(stderr);
                return 2;
        }
        r = bn_nbd_file_open(&f, file, ro);
        if (r < 0) {
                fprintf(stderr, "bn-nbd-serve: %s: %s\n", file, strerror(-r));
                goto out;
        }
        r = bn_loop_new(&loop, "nbd-serve");
        if (r < 0)
                goto out;
        defer.loop = loop;
        defer.file = f;
        if (deferred)
                r = bn_nbd_server_new(&srv, loop, listen_addr, export_name, &defer_ops, &defer, 0);
        else
                r = bn_nbd_server_new(&srv, loop, listen_addr, export_name, &bn_nbd_file_ops, f, 0);
        if (r < 0)
                goto out;
        bn_nbd_server_set_limits(srv, max_conns, hs_ms);
        if ((tls.cert || tls.key || tls.ca || tls.require) && bn_nbd_server_set_tls(srv, &tls) < 0)
                goto out;
        if (port_file) {
                pf = fopen(port_file, "w");
                if (!pf || fprintf(pf, "%d\n", bn_nbd_server_port(srv)) < 0 || fclose(pf) != 0) {
                        fprintf(stderr, "bn-nbd-serve: cannot write %s\n", port_file);
                        goto out;
                }
        }
        stop_loop = loop;
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        signal(SIGPIPE, SIG_IGN);
        r = bn_loop_run(loop);
        if (r < 0)
                goto out;
        bn_nbd_server_get_stats(srv, &st);
        fprintf(stderr,
                "bn-nbd-serve: conns %llu requests %llu errors %llu read %llu write %llu "
                "flush %llu trim %llu zero %llu\n",
                (unsigned long long)st.conns, (unsigned long long)st.requests,
                (unsigned long long)st.errors, (unsigned long long)st.by_cmd[BN_NBD_CMD_READ],
                (unsigned long long)st.by_cmd[BN_NBD_CMD_WRITE],
                (unsigned long long)st.by_cmd[BN_NBD_CMD_FLUSH],
                (unsigned long long)st.by_cmd[BN_NBD_CMD_TRIM],
                (unsigned long long)st.by_cmd[BN_NBD_CMD_WRITE_ZEROES]);
        rc = 0;
out:
        bn_nbd_server_free(srv);
        if (loop)
                bn_loop_free(loop);
        bn_nbd_file_close(f);
        return rc;
}
