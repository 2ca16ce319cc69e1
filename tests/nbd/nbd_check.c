/* nbd_check.c: a check client over wires/nbd's client parser, run against
 * our server and against NBD servers nobody here wrote (qemu-nbd, nbdkit).
 *
 *   nbd-check --connect tcp:HOST:PORT|unix:PATH [--export NAME]
 *             [--export-name] [--no-structured] [--size N] [--read-only]
 *             [--mode verify|hostile] [--qd N] [--ops N] [--region MIB]
 *
 * verify: the handshake (GO with structured replies, or the old
 * EXPORT_NAME), the export's size and read-only flag against --size and
 * --read-only, then a region written with random data, --ops random reads,
 * writes (some FUA), flushes, WRITE_ZEROES and TRIM when the server offers
 * them, up to --qd in flight (never two overlapping where one is a write,
 * so every read has one right answer), and the region read back whole; each
 * read compared with a shadow copy; every answer matched to its request
 * exactly once. hostile (our server): bad options, requests beyond the end,
 * unknown commands, a write to a read-only export answered with the right
 * errors while the connection lives; then a bad magic closes it.
 * Prints one line of counts; exit 0 only when all of it held. */
#include "nbd_proto.h"
#include "nbd_sock.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXQ    256
#define SECTOR  512
#define TIMEOUT 20000 /* ms without progress */

struct req {
        bool used;
        uint16_t type, flags;
        uint64_t handle, offset;
        uint32_t length;
        uint32_t got; /* read bytes received */
        uint8_t *rbuf;
};

struct cli {
        int fd;
        struct bn_nbd_cli_state st;
        struct bn_nbd_export exp;
        uint8_t *in;
        size_t in_len, in_cap;
        uint8_t *out;
        size_t out_len, out_cap;
        struct req q[MAXQ];
        unsigned inflight;
        uint64_t next_handle;
        uint8_t *shadow, *known; /* the region's expected bytes; which sectors */
        uint64_t region;
        unsigned long n[8], mismatches, errors;
};

static void die(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        fprintf(stderr, "nbd-check: FAIL: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
        exit(1);
}

/* A connected non-blocking socket (wires/nbd's dial). */
static int dial(const char *addr)
{
        struct pollfd p;
        bool in_progress;
        int fd = bn_nbd_dial(addr, &in_progress), err = 0;
        socklen_t sl = sizeof(err);

        if (fd < 0)
                die("connect %s: %s", addr, strerror(-fd));
        p = (struct pollfd){.fd = fd, .events = POLLOUT};
        if (in_progress && (poll(&p, 1, TIMEOUT) != 1 ||
                            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0 || err))
                die("connect %s: %s", addr, strerror(err ? err : ETIMEDOUT));
        return fd;
}

static void out_add(struct cli *c, const void *p, size_t len)
{
        if (c->out_len + len > c->out_cap) {
                c->out_cap = (c->out_len + len) * 2;
                c->out = realloc(c->out, c->out_cap);
                if (!c->out)
                        die("out of memory");
        }
        memcpy(c->out + c->out_len, p, len);
        c->out_len += len;
}

static struct req *req_find(struct cli *c, uint64_t handle)
{
        for (unsigned i = 0; i < MAXQ; i++)
                if (c->q[i].used && c->q[i].handle == handle)
                        return &c->q[i];
        return NULL;
}

static int read_len(void *arg, uint64_t handle, uint32_t *len, uint64_t *offset)
{
        struct req *r = req_find(arg, handle);

        if (!r)
                return -ENOENT;
        *len = r->type == BN_NBD_CMD_READ ? r->length : 0;
        *offset = r->offset;
        return 0;
}

/* Send what is queued and read until one event is parsed (or, when
 * want_event is false, until the output is gone). Returns the event. */
static bool pump(struct cli *c, struct bn_nbd_cli_ev *ev, bool want_event, bool eof_ok)
{
        struct pollfd p = {.fd = c->fd};
        size_t need = 0;
        ssize_t n;

        for (;;) {
                if (want_event && c->in_len) {
                        n = bn_nbd_cli_parse(&c->st, c->in, c->in_len, ev, &need);
                        if (n < 0)
                                die("server broke the protocol: %s", strerror((int)-n));
                        if (n > 0) {
                                /* the event points into c->in: copy out what follows */
                                static uint8_t hold[BN_NBD_MAX_PAYLOAD + 64];

                                if (ev->data) {
                                        memcpy(hold, ev->data, ev->len);
                                        ev->data = hold;
                                }
                                memmove(c->in, c->in + n, c->in_len - (size_t)n);
                                c->in_len -= (size_t)n;
                                return true;
                        }
                        if (need > c->in_cap) {
                                c->in_cap = need;
                                c->in = realloc(c->in, need);
                                if (!c->in)
                                        die("out of memory");
                        }
                }
                if (!want_event && !c->out_len)
                        return true;
                p.events = (want_event ? POLLIN : 0) | (c->out_len ? POLLOUT : 0);
                if (poll(&p, 1, TIMEOUT) <= 0)
                        die("no progress for %d ms", TIMEOUT);
                if (p.revents & POLLOUT) {
                        n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
                        if (n < 0 && errno != EAGAIN)
                                die("send: %s", strerror(errno));
                        if (n > 0) {
                                memmove(c->out, c->out + n, c->out_len - (size_t)n);
                                c->out_len -= (size_t)n;
                        }
                }
                if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
                        if (c->in_cap - c->in_len < 65536) {
                                c->in_cap = c->in_cap * 2 + 65536;
                                c->in = realloc(c->in, c->in_cap);
                                if (!c->in)
                                        die("out of memory");
                        }
                        n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
                        if (n == 0 || (n < 0 && errno != EAGAIN)) {
                                if (eof_ok)
                                        return false;
                                die("server closed the connection");
                        }
                        if (n > 0)
                                c->in_len += (size_t)n;
                }
        }
}

static void send_option(struct cli *c, uint32_t opt, const void *data, uint32_t len)
{
        uint8_t h[16];

        bn_nbd_put_option(h, opt, len);
        out_add(c, h, 16);
        if (len)
                out_add(c, data, len);
}

/* GO (or INFO) data: name, and a request for NBD_INFO_BLOCK_SIZE. */
static uint32_t go_data(uint8_t *d, const char *name)
{
        uint32_t nl = (uint32_t)strlen(name);

        d[0] = (uint8_t)(nl >> 24);
        d[1] = (uint8_t)(nl >> 16);
        d[2] = (uint8_t)(nl >> 8);
        d[3] = (uint8_t)nl;
        memcpy(d + 4, name, nl);
        d[4 + nl] = 0;
        d[5 + nl] = 1;
        d[6 + nl] = 0;
        d[7 + nl] = BN_NBD_INFO_BLOCK_SIZE;
        return 8 + nl;
}

/* Expect one option reply of type want (error replies carry text). */
static void expect_optrep(struct cli *c, uint32_t opt, uint32_t want)
{
        struct bn_nbd_cli_ev ev;

        pump(c, &ev, true, false);
        if (ev.kind != BN_NBD_CLI_EV_OPTREP || ev.opt != opt || ev.rep_type != want)
                die("option %u: reply type 0x%x, wanted 0x%x", opt, ev.rep_type, want);
}

static void handshake(struct cli *c, const char *name, bool structured, bool export_name,
                      bool hostile)
{
        struct bn_nbd_cli_ev ev;
        uint8_t d[300], f[4] = {0, 0, 0, 0};
        bool got_export = false;

        pump(c, &ev, true, false);
        if (ev.kind != BN_NBD_CLI_EV_HELLO)
                die("no greeting");
        f[3] = BN_NBD_FLAG_C_FIXED_NEWSTYLE;
        if (ev.hs_flags & BN_NBD_FLAG_NO_ZEROES) {
                f[3] |= BN_NBD_FLAG_C_NO_ZEROES;
                c->st.no_zeroes = true;
        }
        out_add(c, f, 4);
        if (hostile) {
                send_option(c, 99, NULL, 0);
                expect_optrep(c, 99, BN_NBD_REP_ERR_UNSUP);
                d[0] = 0xff; /* a name longer than the option */
                send_option(c, BN_NBD_OPT_INFO, d, 3);
                expect_optrep(c, BN_NBD_OPT_INFO, BN_NBD_REP_ERR_INVALID);
                send_option(c, BN_NBD_OPT_STRUCTURED_REPLY, d, 1);
                expect_optrep(c, BN_NBD_OPT_STRUCTURED_REPLY, BN_NBD_REP_ERR_INVALID);
                send_option(c, BN_NBD_OPT_GO, d, go_data(d, "no-such-export"));
                expect_optrep(c, BN_NBD_OPT_GO, BN_NBD_REP_ERR_UNKNOWN);
                send_option(c, BN_NBD_OPT_STARTTLS, NULL, 0);
                expect_optrep(c, BN_NBD_OPT_STARTTLS, BN_NBD_REP_ERR_UNSUP);
                send_option(c, BN_NBD_OPT_LIST, NULL, 0);
                expect_optrep(c, BN_NBD_OPT_LIST, BN_NBD_REP_SERVER);
                expect_optrep(c, BN_NBD_OPT_LIST, BN_NBD_REP_ACK);
        }
        if (structured) {
                send_option(c, BN_NBD_OPT_STRUCTURED_REPLY, NULL, 0);
                expect_optrep(c, BN_NBD_OPT_STRUCTURED_REPLY, BN_NBD_REP_ACK);
        }
        if (export_name) {
                send_option(c, BN_NBD_OPT_EXPORT_NAME, name, (uint32_t)strlen(name));
                c->st.phase = BN_NBD_CLI_EXPORT_NAME;
                pump(c, &ev, true, false);
                if (ev.kind != BN_NBD_CLI_EV_EXPORT)
                        die("no answer to EXPORT_NAME");
                c->exp.size = ev.size;
                c->exp.tflags = ev.tflags;
                return;
        }
        send_option(c, BN_NBD_OPT_GO, d, go_data(d, name));
        for (;;) {
                pump(c, &ev, true, false);
                if (ev.kind != BN_NBD_CLI_EV_OPTREP || ev.opt != BN_NBD_OPT_GO)
                        die("unexpected answer to GO");
                if (ev.rep_type == BN_NBD_REP_ACK)
                        break;
                if (ev.rep_type & BN_NBD_REP_FLAG_ERROR)
                        die("GO refused: 0x%x %.*s", ev.rep_type, (int)ev.len, ev.data);
                if (bn_nbd_cli_info_export(&ev, &c->exp) == 0)
                        got_export = true;
        }
        if (!got_export)
                die("GO acknowledged without NBD_INFO_EXPORT");
}

/* Queue a request; returns its slot. */
static struct req *submit(struct cli *c, uint16_t type, uint16_t flags, uint64_t off, uint32_t len,
                          const uint8_t *wdata)
{
        uint8_t h[BN_NBD_REQ_LEN];
        struct req *r = NULL;

        for (unsigned i = 0; i < MAXQ; i++)
                if (!c->q[i].used) {
                        r = &c->q[i];
                        break;
                }
        if (!r)
                die("queue full");
        free(r->rbuf);
        *r = (struct req){.used = true, .type = type, .flags = flags, .offset = off, .length = len};
        r->handle = c->next_handle++ * 0x10001ULL + 7; /* not just 0, 1, 2 */
        if (type == BN_NBD_CMD_READ) {
                r->rbuf = malloc(len);
                if (!r->rbuf)
                        die("out of memory");
        }
        bn_nbd_put_request(h, flags, type, r->handle, off, len);
        out_add(c, h, sizeof(h));
        if (type == BN_NBD_CMD_WRITE)
                out_add(c, wdata, len);
        c->inflight++;
        if (type < 8)
                c->n[type]++;
        return r;
}

static void verify_read(struct cli *c, const struct req *r)
{
        for (uint64_t s = r->offset / SECTOR; s < (r->offset + r->length) / SECTOR; s++) {
                if (!c->known[s])
                        continue;
                if (memcmp(r->rbuf + (s * SECTOR - r->offset), c->shadow + s * SECTOR, SECTOR)) {
                        if (c->mismatches++ < 5)
                                fprintf(stderr, "nbd-check: mismatch at sector %llu\n",
                                        (unsigned long long)s);
                }
        }
}

/* Wait for one request's last answer; returns its NBD error. */
static uint32_t complete_one(struct cli *c, uint64_t *handle)
{
        struct bn_nbd_cli_ev ev;
        struct req *r;
        uint32_t err = 0;

        for (;;) {
                pump(c, &ev, true, false);
                if (ev.kind != BN_NBD_CLI_EV_REPLY)
                        die("unexpected message in transmission");
                r = req_find(c, ev.handle);
                if (!r)
                        die("answer to unknown handle %llu", (unsigned long long)ev.handle);
                if (ev.err)
                        err = ev.err;
                if (ev.chunk_type == BN_NBD_REPLY_OFFSET_DATA) {
                        memcpy(r->rbuf + (ev.offset - r->offset), ev.data, ev.len);
                        r->got += ev.len;
                } else if (ev.chunk_type == BN_NBD_REPLY_OFFSET_HOLE) {
                        memset(r->rbuf + (ev.offset - r->offset), 0, ev.len);
                        r->got += ev.len;
                }
                if (!ev.done)
                        continue;
                if (r->type == BN_NBD_CMD_READ && !err && r->got != r->length)
                        die("read of %u bytes answered with %u", r->length, r->got);
                if (r->type == BN_NBD_CMD_READ && !err && c->known)
                        verify_read(c, r);
                *handle = r->handle;
                r->used = false; /* a second answer now finds no request */
                c->inflight--;
                return err;
        }
}

static void complete_ok(struct cli *c)
{
        uint64_t h;
        uint32_t err = complete_one(c, &h);

        if (err) {
                c->errors++;
                fprintf(stderr, "nbd-check: request %llu failed: error %u\n", (unsigned long long)h,
                        err);
        }
}

/* True when [off, off+len) meets an in-flight request that writes, or any
 * in-flight request when this one writes. */
static bool overlaps(struct cli *c, uint64_t off, uint32_t len, bool writes)
{
        for (unsigned i = 0; i < MAXQ; i++) {
                const struct req *r = &c->q[i];

                if (!r->used || r->type == BN_NBD_CMD_FLUSH)
                        continue;
                if (!writes && r->type == BN_NBD_CMD_READ)
                        continue;
                if (off < r->offset + r->length && r->offset < off + len)
                        return true;
        }
        return false;
}

static void set_shadow(struct cli *c, uint64_t off, uint32_t len, const uint8_t *data, bool known)
{
        if (data)
                memcpy(c->shadow + off, data, len);
        else
                memset(c->shadow + off, 0, len);
        memset(c->known + off / SECTOR, known, len / SECTOR);
}

static void verify(struct cli *c, unsigned qd, unsigned ops)
{
        const uint32_t chunk = 256 * 1024;
        uint8_t *data = malloc(chunk);
        uint64_t off;
        uint32_t len;
        unsigned i, kind;

        if (!data)
                die("out of memory");
        for (i = 0; i < chunk; i++)
                data[i] = (uint8_t)rand();
        /* the region, written whole */
        for (off = 0; off < c->region; off += len) {
                len = (uint32_t)(c->region - off < chunk ? c->region - off : chunk);
                data[0] = (uint8_t)off;
                data[1] = (uint8_t)(off >> 8);
                data[2] = (uint8_t)(off >> 16);
                while (c->inflight >= qd)
                        complete_ok(c);
                set_shadow(c, off, len, data, true);
                submit(c, BN_NBD_CMD_WRITE, 0, off, len, data);
        }
        for (i = 0; i < ops; i++) {
                while (c->inflight >= qd)
                        complete_ok(c);
                kind = (unsigned)rand() % 100;
                if (kind < 3 && (c->exp.tflags & BN_NBD_FLAG_SEND_FLUSH)) {
                        submit(c, BN_NBD_CMD_FLUSH, 0, 0, 0, NULL);
                        continue;
                }
                len = SECTOR * (1 + (unsigned)rand() % 128);
                off = SECTOR * ((uint64_t)rand() % ((c->region - len) / SECTOR + 1));
                if (kind < 50) {
                        if (overlaps(c, off, len, false))
                                continue;
                        submit(c, BN_NBD_CMD_READ, 0, off, len, NULL);
                        continue;
                }
                if (overlaps(c, off, len, true))
                        continue;
                if (kind < 55 && (c->exp.tflags & BN_NBD_FLAG_SEND_WRITE_ZEROES)) {
                        set_shadow(c, off, len, NULL, true);
                        submit(c, BN_NBD_CMD_WRITE_ZEROES, 0, off, len, NULL);
                } else if (kind < 58 && (c->exp.tflags & BN_NBD_FLAG_SEND_TRIM)) {
                        set_shadow(c, off, len, NULL, false); /* contents undefined */
                        submit(c, BN_NBD_CMD_TRIM, 0, off, len, NULL);
                } else {
                        data[(unsigned)rand() % chunk] ^= 0x5a;
                        memcpy(data, &i, sizeof(i));
                        set_shadow(c, off, len, data + ((unsigned)rand() % 1024) * 8, true);
                        submit(c, BN_NBD_CMD_WRITE,
                               (kind % 10 == 0 && (c->exp.tflags & BN_NBD_FLAG_SEND_FUA))
                                   ? BN_NBD_CMD_FLAG_FUA
                                   : 0,
                               off, len, c->shadow + off);
                }
        }
        while (c->inflight)
                complete_ok(c);
        if (c->exp.tflags & BN_NBD_FLAG_SEND_FLUSH) {
                submit(c, BN_NBD_CMD_FLUSH, 0, 0, 0, NULL);
                complete_ok(c);
        }
        /* and read back whole */
        for (off = 0; off < c->region; off += len) {
                len = (uint32_t)(c->region - off < chunk ? c->region - off : chunk);
                while (c->inflight >= qd)
                        complete_ok(c);
                submit(c, BN_NBD_CMD_READ, 0, off, len, NULL);
        }
        while (c->inflight)
                complete_ok(c);
        free(data);
}

static void cli_free(struct cli *c)
{
        for (unsigned i = 0; i < MAXQ; i++)
                free(c->q[i].rbuf);
        free(c->in);
        free(c->out);
        free(c->shadow);
        free(c->known);
        close(c->fd);
}

static void expect_err(struct cli *c, uint16_t type, uint16_t flags, uint64_t off, uint32_t len,
                       uint32_t want, const char *what)
{
        static uint8_t zero[4096];
        uint64_t h;
        uint32_t err;

        submit(c, type, flags, off, len, zero);
        err = complete_one(c, &h);
        if (err != want)
                die("%s: error %u, wanted %u", what, err, want);
}

static void hostile(struct cli *c, bool ro)
{
        uint8_t bad[BN_NBD_REQ_LEN];
        struct bn_nbd_cli_ev ev;
        uint64_t end = c->exp.size;

        expect_err(c, BN_NBD_CMD_READ, 0, end, 512, BN_NBD_EINVAL, "read past the end");
        expect_err(c, BN_NBD_CMD_READ, 0, UINT64_MAX - 100, 512, BN_NBD_EINVAL,
                   "read with an offset that wraps");
        expect_err(c, BN_NBD_CMD_READ, 0, 0, 0, BN_NBD_EINVAL, "read of 0 bytes");
        expect_err(c, BN_NBD_CMD_READ, 0, 4096, (uint32_t)end, BN_NBD_EINVAL,
                   "read as long as the export, from 4096");
        expect_err(c, 42, 0, 0, 512, BN_NBD_EINVAL, "unknown command");
        expect_err(c, BN_NBD_CMD_FLUSH, 0, 4096, 0, BN_NBD_EINVAL, "flush with an offset");
        expect_err(c, BN_NBD_CMD_READ, 0x80, 0, 512, BN_NBD_EINVAL, "unknown command flag");
        if (ro) {
                expect_err(c, BN_NBD_CMD_WRITE, 0, 0, 4096, BN_NBD_EPERM, "write when read-only");
                expect_err(c, BN_NBD_CMD_WRITE_ZEROES, 0, 0, 4096, BN_NBD_EINVAL,
                           "zero when read-only (not offered)");
        } else {
                expect_err(c, BN_NBD_CMD_WRITE, 0, end - 512, 4096, BN_NBD_ENOSPC,
                           "write past the end");
        }
        expect_err(c, BN_NBD_CMD_READ, 0, 0, 4096, 0, "a good read after the bad ones");
        /* a bad magic: the server must close */
        bn_nbd_put_request(bad, 0, BN_NBD_CMD_READ, 1, 0, 512);
        bad[0] ^= 0xff;
        out_add(c, bad, sizeof(bad));
        if (pump(c, &ev, true, true))
                die("server answered a request with a bad magic");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"connect", required_argument, NULL, 'c'},
            {"export", required_argument, NULL, 'e'},
            {"export-name", no_argument, NULL, 'E'},
            {"no-structured", no_argument, NULL, 'S'},
            {"size", required_argument, NULL, 's'},
            {"read-only", no_argument, NULL, 'r'},
            {"mode", required_argument, NULL, 'm'},
            {"qd", required_argument, NULL, 'q'},
            {"ops", required_argument, NULL, 'o'},
            {"region", required_argument, NULL, 'R'},
            {NULL, 0, NULL, 0},
        };
        const char *addr = NULL, *name = "", *mode = "verify";
        bool structured = true, export_name = false, ro = false;
        long long want_size = -1;
        unsigned qd = 32, ops = 5000, region_mb = 16;
        struct cli c = {.next_handle = 1};
        int o;

        while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (o) {
                case 'c':
                        addr = optarg;
                        break;
                case 'e':
                        name = optarg;
                        break;
                case 'E':
                        export_name = true;
                        break;
                case 'S':
                        structured = false;
                        break;
                case 's':
                        want_size = atoll(optarg);
                        break;
                case 'r':
                        ro = true;
                        break;
                case 'm':
                        mode = optarg;
                        break;
                case 'q':
                        qd = (unsigned)atoi(optarg);
                        break;
                case 'o':
                        ops = (unsigned)atoi(optarg);
                        break;
                case 'R':
                        region_mb = (unsigned)atoi(optarg);
                        break;
                default:
                        return 2;
                }
        }
        if (!addr || qd < 1 || qd > MAXQ) {
                fprintf(stderr, "usage: nbd-check --connect ADDR [options] (see the source)\n");
                return 2;
        }
        srand((unsigned)time(NULL));
        c.fd = dial(addr);
        bn_nbd_cli_init(&c.st, read_len, &c);
        handshake(&c, name, structured, export_name, strcmp(mode, "hostile") == 0);
        if (want_size >= 0 && c.exp.size != (uint64_t)want_size)
                die("export size %llu, wanted %lld", (unsigned long long)c.exp.size, want_size);
        if (!!(c.exp.tflags & BN_NBD_FLAG_READ_ONLY) != ro)
                die("read-only flag %d, wanted %d", !!(c.exp.tflags & BN_NBD_FLAG_READ_ONLY), ro);
        if (strcmp(mode, "hostile") == 0) {
                hostile(&c, ro);
                printf("nbd-check: hostile ok (size %llu flags 0x%x)\n",
                       (unsigned long long)c.exp.size, c.exp.tflags);
                cli_free(&c);
                return 0;
        }
        if (ro)
                die("verify needs a writable export");
        c.region = (uint64_t)region_mb << 20;
        if (c.region > c.exp.size)
                c.region = c.exp.size / SECTOR * SECTOR;
        c.shadow = calloc(1, c.region);
        c.known = calloc(1, c.region / SECTOR);
        if (!c.shadow || !c.known)
                die("out of memory");
        verify(&c, qd, ops);
        submit(&c, BN_NBD_CMD_DISC, 0, 0, 0, NULL);
        pump(&c, NULL, false, false);
        printf("nbd-check: size %llu flags 0x%x structured %d reads %lu writes %lu flushes %lu "
               "trims %lu zeroes %lu mismatches %lu errors %lu\n",
               (unsigned long long)c.exp.size, c.exp.tflags, c.st.structured, c.n[BN_NBD_CMD_READ],
               c.n[BN_NBD_CMD_WRITE], c.n[BN_NBD_CMD_FLUSH], c.n[BN_NBD_CMD_TRIM],
               c.n[BN_NBD_CMD_WRITE_ZEROES], c.mismatches, c.errors);
        cli_free(&c);
        return c.mismatches || c.errors ? 1 : 0;
}
