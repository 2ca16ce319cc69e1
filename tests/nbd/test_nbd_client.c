/* test_nbd_client.c: wires/nbd's client keeps its promises while its
 * server dies: a verify run (QD32 reads, writes, some FUA, flushes, zeroes
 * over a 16 MiB region, checked against a shadow copy) through the client
 * on a bn_loop against bn-nbd-serve, which is SIGKILLed and restarted
 * (after 300 ms) KILLS times mid-run. Asserts: every request completed
 * exactly once and without error, 0 mismatches, the client reconnected
 * KILLS times and replayed what was unanswered; the region read back whole
 * at the end matches. A submit past the export's end is refused.
 *
 *   test_nbd_client BN_NBD_SERVE [OPS [KILLS [PKI_DIR [wrong-peer]]]]
 *
 * With PKI_DIR (ca-cert.pem, server-{cert,key}.pem, client-{cert,key}.pem)
 * the server requires TLS and client certificates, and the client checks
 * the server's certificate names "localhost": every reconnect is a TLS one.
 * With wrong-peer the client expects a name the certificate lacks: for 2 s
 * no connection is made (each TLS handshake fails and is retried), and
 * freeing the client completes every queued request once, -ECANCELED.
 */
#include "bn_log.h"
#include "bn_loop.h"
#include "nbd_client.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define QD     32
#define REGION (16U << 20)
#define SECTOR 512
#define MAXLEN (64U * 1024)

struct op {
        uint16_t type;
        uint64_t off;
        uint32_t len;
        unsigned done; /* completions seen */
        bool busy;
        uint8_t buf[MAXLEN];
};

struct t {
        struct bn_loop *loop;
        struct bn_nbd_client *cl;
        const char *serve;
        char dir[64], img[96], sock[96];
        const char *pki;
        char cert[256], key[256], ca[256];
        pid_t srv;
        struct op ops[QD];
        unsigned inflight;
        unsigned long submitted, completed, target, next_kill, kills, kills_done;
        unsigned long mismatches, errors, doubles, cancelled;
        unsigned phase; /* 0: fill, 1: random, 2: read back, 3: done */
        uint64_t cursor;
        uint8_t *shadow;
        bool connected;
        int rc;
};

static void fail(const char *msg)
{
        fprintf(stderr, "test_nbd_client: FAIL: %s\n", msg);
        exit(1);
}

static void start_server(struct t *t)
{
        struct stat sb;
        pid_t p = fork();

        if (p < 0)
                fail("fork");
        if (p == 0) {
                if (t->pki) {
                        char sc[256], sk[256];

                        snprintf(sc, sizeof(sc), "%s/server-cert.pem", t->pki);
                        snprintf(sk, sizeof(sk), "%s/server-key.pem", t->pki);
                        execl(t->serve, t->serve, "--file", t->img, "--listen", t->sock, "--export",
                              "vol", "--tls-cert", sc, "--tls-key", sk, "--tls-ca", t->ca,
                              "--tls-require", (char *)NULL);
                } else {
                        execl(t->serve, t->serve, "--file", t->img, "--listen", t->sock, "--export",
                              "vol", (char *)NULL);
                }
                _exit(127);
        }
        t->srv = p;
        for (int i = 0; i < 100; i++) {
                if (stat(t->sock + 5, &sb) == 0)
                        return;
                usleep(20000);
        }
        fail("bn-nbd-serve did not start");
}

static bool overlaps(struct t *t, uint64_t off, uint32_t len, bool writes)
{
        for (unsigned i = 0; i < QD; i++) {
                const struct op *o = &t->ops[i];

                if (!o->busy || o->type == BN_NBD_CMD_FLUSH)
                        continue;
                if (!writes && o->type == BN_NBD_CMD_READ)
                        continue;
                if (off < o->off + o->len && o->off < off + len)
                        return true;
        }
        return false;
}

static void submit_one(struct t *t, struct op *o)
{
        int r;

        o->busy = true;
        o->done = 0;
        if (o->type == BN_NBD_CMD_WRITE)
                memcpy(o->buf, t->shadow + o->off, o->len);
        r = bn_nbd_client_submit(
            t->cl, o->type,
            (o->type == BN_NBD_CMD_WRITE && rand() % 10 == 0) ? BN_NBD_CMD_FLAG_FUA : 0, o->off,
            o->len, o->buf, o);
        if (r < 0)
                fail("submit refused a valid request");
        t->inflight++;
        t->submitted++;
}

/* Fill free slots with the next requests of the current phase. */
static void feed(struct t *t)
{
        for (unsigned i = 0; i < QD && t->phase < 3; i++) {
                struct op *o = &t->ops[i];
                unsigned k;

                if (o->busy)
                        continue;
                if (t->phase == 0 || t->phase == 2) {
                        if (t->cursor >= REGION) {
                                if (t->inflight)
                                        return;
                                t->phase++;
                                t->cursor = 0;
                                if (t->phase == 3)
                                        return;
                                i = (unsigned)-1;
                                continue;
                        }
                        o->type = t->phase == 0 ? BN_NBD_CMD_WRITE : BN_NBD_CMD_READ;
                        o->off = t->cursor;
                        o->len = MAXLEN;
                        t->cursor += MAXLEN;
                        submit_one(t, o);
                        continue;
                }
                if (t->submitted >= t->target) {
                        if (t->inflight)
                                return;
                        t->phase = 2;
                        t->cursor = 0;
                        i = (unsigned)-1;
                        continue;
                }
                k = (unsigned)rand() % 100;
                o->len = SECTOR * (1 + (unsigned)rand() % (MAXLEN / SECTOR));
                o->off = SECTOR * ((uint64_t)rand() % ((REGION - o->len) / SECTOR + 1));
                if (k < 3) {
                        o->type = BN_NBD_CMD_FLUSH;
                        o->off = 0;
                        o->len = 0;
                } else if (k < 50) {
                        o->type = BN_NBD_CMD_READ;
                        if (overlaps(t, o->off, o->len, false))
                                continue;
                } else {
                        if (overlaps(t, o->off, o->len, true))
                                continue;
                        if (k < 55) {
                                o->type = BN_NBD_CMD_WRITE_ZEROES;
                                memset(t->shadow + o->off, 0, o->len);
                        } else {
                                o->type = BN_NBD_CMD_WRITE;
                                for (uint32_t j = 0; j < o->len; j += 64)
                                        t->shadow[o->off + j] = (uint8_t)rand();
                        }
                }
                submit_one(t, o);
        }
}

static void restart_cb(struct bn_loop *loop, struct bn_timer *tm, void *arg)
{
        struct t *t = arg;

        (void)loop;
        (void)tm;
        start_server(t);
}

static void on_done(void *arg, void *tag, int err)
{
        struct t *t = arg;
        struct op *o = tag;

        if (!o->busy || o->done++) {
                t->doubles++;
                return;
        }
        o->busy = false;
        t->inflight--;
        t->completed++;
        if (err == -ECANCELED) { /* the client is being freed: submit nothing */
                t->cancelled++;
                return;
        }
        if (err) {
                if (t->errors++ < 5)
                        fprintf(stderr, "request failed: %s\n", strerror(-err));
        } else if (o->type == BN_NBD_CMD_READ && memcmp(o->buf, t->shadow + o->off, o->len)) {
                if (t->mismatches++ < 5)
                        fprintf(stderr, "mismatch: read %u at %llu\n", o->len,
                                (unsigned long long)o->off);
        }
        if (t->phase == 1 && t->kills_done < t->kills && t->completed >= t->next_kill) {
                /* the server dies with requests in flight; back in 300 ms */
                kill(t->srv, SIGKILL);
                waitpid(t->srv, NULL, 0);
                t->kills_done++;
                t->next_kill += t->target / (t->kills + 1);
                if (bn_loop_timer_add(t->loop, 300, 0, restart_cb, t, NULL) < 0)
                        fail("timer");
        }
        feed(t);
        if (t->phase == 3 && !t->inflight)
                bn_loop_stop(t->loop);
}

static void on_state(void *arg, const struct bn_nbd_export *exp)
{
        struct t *t = arg;

        if (exp && exp->size < REGION)
                fail("export smaller than the region");
        t->connected = exp != NULL;
}

static void stop_cb(struct bn_loop *loop, struct bn_timer *tm, void *arg)
{
        (void)tm;
        (void)arg;
        bn_loop_stop(loop);
}

/* wrong-peer: no connection for 2 s, then every request cancelled once. */
static int wrong_peer(struct t *t)
{
        struct bn_nbd_client_stats st;

        feed(t);
        bn_loop_timer_add(t->loop, 2000, 0, stop_cb, NULL, NULL);
        bn_loop_run(t->loop);
        bn_nbd_client_get_stats(t->cl, &st);
        if (st.connects || st.failures < 2 || t->completed)
                fail("a server whose certificate names another host was used");
        bn_nbd_client_free(t->cl);
        printf("test_nbd_client: wrong peer: %llu handshakes refused, %lu requests cancelled of "
               "%lu, doubles %lu\n",
               (unsigned long long)st.failures, t->cancelled, t->submitted, t->doubles);
        if (t->cancelled != t->submitted || t->doubles)
                fail("freeing the client did not cancel each request once");
        return 0;
}

static void watchdog(struct bn_loop *loop, struct bn_timer *tm, void *arg)
{
        (void)tm;
        (void)arg;
        fprintf(stderr, "test_nbd_client: FAIL: no end after 120 s\n");
        bn_loop_stop(loop);
}

int main(int argc, char **argv)
{
        static const struct bn_nbd_client_ops ops = {.state = on_state, .done = on_done};
        static struct t t;
        struct bn_nbd_client_cfg cfg = {
            .export_name = "vol", .backoff_min_ms = 10, .backoff_max_ms = 200};
        struct bn_nbd_client_stats st;
        static uint8_t probe[512];
        FILE *f;
        int o;

        if (argc < 2)
                fail("usage: test_nbd_client BN_NBD_SERVE [OPS [KILLS]]");
        bn_log_init("test_nbd_client", 0);
        signal(SIGPIPE, SIG_IGN);
        srand((unsigned)getpid());
        t.serve = argv[1];
        t.target = argc > 2 ? strtoul(argv[2], NULL, 10) : 20000;
        t.kills = argc > 3 ? strtoul(argv[3], NULL, 10) : 3;
        t.pki = argc > 4 ? argv[4] : NULL;
        struct bn_nbd_tls_cfg tls = {0};
        if (t.pki) {
                snprintf(t.cert, sizeof(t.cert), "%s/client-cert.pem", t.pki);
                snprintf(t.key, sizeof(t.key), "%s/client-key.pem", t.pki);
                snprintf(t.ca, sizeof(t.ca), "%s/ca-cert.pem", t.pki);
                tls = (struct bn_nbd_tls_cfg){.cert = t.cert, .key = t.key, .ca = t.ca};
                cfg.tls = &tls;
                cfg.tls_peer =
                    argc > 5 && strcmp(argv[5], "wrong-peer") == 0 ? "wrong.example" : "localhost";
        }
        t.next_kill = t.target / (t.kills + 1) + REGION / MAXLEN;
        snprintf(t.dir, sizeof(t.dir), "/tmp/bn-nbd-client.XXXXXX");
        if (!mkdtemp(t.dir))
                fail("mkdtemp");
        snprintf(t.img, sizeof(t.img), "%s/disk.img", t.dir);
        snprintf(t.sock, sizeof(t.sock), "unix:%s/s.sock", t.dir);
        f = fopen(t.img, "w");
        if (!f || ftruncate(fileno(f), 2 * REGION) < 0 || fclose(f) != 0)
                fail("cannot make the image");
        t.shadow = malloc(REGION);
        if (!t.shadow)
                fail("out of memory");
        for (unsigned i = 0; i < REGION; i++)
                t.shadow[i] = (uint8_t)rand();
        start_server(&t);
        if (bn_loop_new(&t.loop, "nbd-client-test") < 0)
                fail("loop");
        cfg.addr = t.sock;
        if (bn_nbd_client_new(&t.cl, t.loop, &cfg, &ops, &t) < 0)
                fail("client");
        if (argc > 5 && strcmp(argv[5], "wrong-peer") == 0) {
                o = wrong_peer(&t);
                bn_loop_free(t.loop);
                kill(t.srv, SIGTERM);
                waitpid(t.srv, NULL, 0);
                unlink(t.img);
                unlink(t.sock + 5);
                rmdir(t.dir);
                free(t.shadow);
                return o;
        }
        feed(&t);
        bn_loop_timer_add(t.loop, 120000, 0, watchdog, NULL, NULL);
        bn_loop_run(t.loop);
        if (t.phase != 3)
                fail("the run did not finish");
        /* once connected, a request past the end is refused at submit */
        if (bn_nbd_client_submit(t.cl, BN_NBD_CMD_READ, 0, 2 * REGION, 512, probe, NULL) != -EINVAL)
                fail("a read past the end was accepted");
        bn_nbd_client_get_stats(t.cl, &st);
        printf(
            "test_nbd_client: submitted %lu completed %lu doubles %lu errors %lu mismatches %lu; "
            "client: connects %llu failures %llu sent %llu replayed %llu answered %llu; "
            "server killed %lu times\n",
            t.submitted, t.completed, t.doubles, t.errors, t.mismatches,
            (unsigned long long)st.connects, (unsigned long long)st.failures,
            (unsigned long long)st.sent, (unsigned long long)st.replayed,
            (unsigned long long)st.answered, t.kills_done);
        bn_nbd_client_free(t.cl);
        bn_loop_free(t.loop);
        kill(t.srv, SIGTERM);
        waitpid(t.srv, NULL, 0);
        unlink(t.img);
        unlink(t.sock + 5);
        rmdir(t.dir);
        free(t.shadow);
        if (t.completed != t.submitted || t.doubles || t.errors || t.mismatches)
                fail("requests lost, doubled, failed or wrong");
        if (t.kills_done != t.kills || st.connects != t.kills + 1)
                fail("the client did not reconnect after each kill");
        if (t.kills && st.replayed == 0)
                fail("nothing was replayed: the kills found nothing in flight");
        if (st.answered != t.completed)
                fail("the client's count of answers differs");
        return 0;
}
