/* test_shm.c: the shm wire's unit tests: many frames of random sizes with
 * checksums, in one process (two threads) and across processes (fork +
 * rendezvous on an abstract Unix socket), every frame intact and in order;
 * backpressure (a full ring, then waiting for space); drops counted by
 * reason; a peer that writes garbage; a peer that dies.
 */
#include "shm_port.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BN_CHECK_FATAL
#include "../bn_check.h"

struct meta {
        uint64_t seq;
        uint32_t len;
        uint32_t sum;
};

static uint32_t fnv(const uint8_t *p, size_t n)
{
        uint32_t h = 2166136261u;

        for (size_t i = 0; i < n; i++)
                h = (h ^ p[i]) * 16777619u;
        return h;
}

static uint32_t rnd(uint64_t *s)
{
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        return (uint32_t)(*s >> 33);
}

static size_t frame_len(uint64_t *s)
{
        uint32_t r = rnd(s);

        /* Mostly small, some MTU-sized, some 64 KiB GSO-sized. */
        switch (r % 16) {
        case 0:
                return (r & 8 ? BN_SHM_FRAME_MAX : 65536u) - r % 2000;
        case 1:
        case 2:
                return 1500 - r % 100;
        default:
                return 1 + r % 300;
        }
}

/* Send n frames, waiting for space when full (no drops). */
static void produce(struct bn_shm_port *p, unsigned n, uint64_t seed)
{
        static uint8_t buf[BN_SHM_FRAME_MAX];
        uint64_t s = seed;

        for (unsigned i = 0; i < n; i++) {
                struct meta m = {.seq = i};
                struct iovec iov;
                int rc;

                m.len = (uint32_t)frame_len(&s);
                for (size_t j = 0; j < m.len; j++)
                        buf[j] = (uint8_t)(rnd(&s) >> 7);
                m.sum = fnv(buf, m.len);
                iov.iov_base = buf;
                iov.iov_len = m.len;
                while ((rc = bn_shm_port_send(p, 1, &m, sizeof(m), &iov, 1, false)) == -ENOBUFS) {
                        CHECK(bn_shm_port_flush(p) >= 0);
                        rc = bn_shm_port_wait(p, BN_SHM_WANT_SPACE, 10000);
                        CHECK(rc > 0);
                }
                CHECK(rc == 0);
                if (i % 16 == 15)
                        CHECK(bn_shm_port_flush(p) >= 0);
        }
        CHECK(bn_shm_port_flush(p) >= 0);
}

struct rx_state {
        uint64_t next;
        unsigned bad;
};

static int on_frame(void *arg, uint16_t type, const void *meta, size_t meta_len, const void *data,
                    size_t len)
{
        struct rx_state *st = arg;
        struct meta m;

        if (meta_len != sizeof(m) || type != 1) {
                st->bad++;
                return 1;
        }
        memcpy(&m, meta, sizeof(m));
        if (m.seq != st->next || m.len != len || fnv(data, len) != m.sum) {
                fprintf(stderr, "frame %llu (expected %llu): len %zu/%u sum %s\n",
                        (unsigned long long)m.seq, (unsigned long long)st->next, len, m.len,
                        fnv(data, len) == m.sum ? "ok" : "BAD");
                st->bad++;
        }
        st->next++;
        return 0;
}

static void consume(struct bn_shm_port *p, unsigned n)
{
        struct rx_state st = {0};

        while (st.next < n) {
                int rc = bn_shm_port_recv(p, 64, on_frame, &st);

                CHECK(rc >= 0);
                CHECK(st.bad == 0);
                if (rc == 0)
                        CHECK(bn_shm_port_wait(p, BN_SHM_WANT_RX, 10000) > 0);
        }
}

struct prod_arg {
        struct bn_shm_port *p;
        unsigned n;
};

static void *prod_thread(void *a)
{
        struct prod_arg *pa = a;

        produce(pa->p, pa->n, 42);
        return NULL;
}

static void test_inproc(void)
{
        struct bn_shm_port *a, *b;
        struct bn_shm_stats sa, sb;
        struct prod_arg pa;
        pthread_t t;
        const unsigned n = 10000;

        CHECK(bn_shm_pair("test-inproc", BN_SHM_RING_MIN, &a, &b) == 0);
        pa.p = a;
        pa.n = n;
        CHECK(pthread_create(&t, NULL, prod_thread, &pa) == 0);
        consume(b, n);
        pthread_join(t, NULL);
        bn_shm_port_stats(a, &sa);
        bn_shm_port_stats(b, &sb);
        CHECK(sa.tx_frames == n && sb.rx_frames == n && sa.tx_bytes == sb.rx_bytes);
        CHECK(sa.drop_ring_full == 0 && sb.rx_bad == 0);
        printf("inproc: %u frames, %llu bytes, kicks %llu+%llu\n", n,
               (unsigned long long)sb.rx_bytes, (unsigned long long)sa.kicks_sent,
               (unsigned long long)sb.kicks_sent);
        bn_shm_port_close(a);
        bn_shm_port_close(b);
}

static void test_cross_process(void)
{
        char path[108];
        struct bn_shm_port *p;
        int lfd, status;
        const unsigned n = 10000;
        pid_t pid;

        snprintf(path, sizeof(path), "@banana-test-shm-%d", (int)getpid());
        lfd = bn_shm_listen(path);
        CHECK(lfd >= 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                struct bn_shm_port *c;

                close(lfd);
                if (bn_shm_connect(path, "test-child", 10000, &c) < 0)
                        _exit(2);
                /* Both directions: the child receives n, then echoes its own n. */
                consume(c, n);
                produce(c, n, 7);
                bn_shm_port_close(c);
                _exit(0);
        }
        CHECK(bn_shm_accept(lfd, "test-parent", BN_SHM_RING_MIN, &p) == 0);
        close(lfd);
        produce(p, n, 42);
        consume(p, n);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        /* The child closed: the parent notices. */
        CHECK(!bn_shm_port_peer_alive(p));
        bn_shm_port_close(p);
        printf("cross-process: %u frames each way intact and in order\n", n);
}

static int count_frames(void *arg, uint16_t type, const void *meta, size_t ml, const void *d,
                        size_t len)
{
        (void)meta;
        (void)type;
        (void)ml;
        (void)d;
        (void)len;
        ++*(unsigned *)arg;
        return 0;
}

static void test_backpressure_and_drops(void)
{
        static uint8_t big[BN_SHM_FRAME_MAX + 1];
        struct bn_shm_port *a, *b;
        struct bn_shm_stats st;
        struct iovec iov = {.iov_base = big, .iov_len = 1500};
        unsigned sent = 0, got = 0;
        int rc;

        CHECK(bn_shm_pair("test-bp", BN_SHM_RING_MIN, &a, &b) == 0);
        while ((rc = bn_shm_port_send(a, 1, NULL, 0, &iov, 1, false)) == 0)
                sent++;
        CHECK(rc == -ENOBUFS);
        CHECK(sent > 100 && sent < BN_SHM_RING_MIN / 1500 + 1);
        CHECK(bn_shm_port_flush(a) == (int)sent);
        /* Full: waiting for space times out, then a drop is counted. */
        CHECK(bn_shm_port_wait(a, BN_SHM_WANT_SPACE, 50) == 0);
        CHECK(bn_shm_port_send(a, 1, NULL, 0, &iov, 1, true) == -ENOBUFS);
        /* Oversize frames are dropped and counted. */
        iov.iov_len = sizeof(big);
        CHECK(bn_shm_port_send(a, 1, NULL, 0, &iov, 1, true) == -EMSGSIZE);
        bn_shm_port_stats(a, &st);
        CHECK(st.drop_ring_full == 1 && st.drop_oversize == 1 && st.tx_frames == sent);
        /* The consumer frees room: the producer's armed wait is rung. */
        CHECK(bn_shm_port_arm(a, BN_SHM_WANT_SPACE) == 0);
        CHECK(bn_shm_port_recv(b, 1000000, count_frames, &got) == (int)sent);
        CHECK(got == sent);
        bn_shm_port_stats(b, &st);
        CHECK(st.kicks_sent == 1);
        CHECK(bn_shm_port_wait(a, BN_SHM_WANT_SPACE, 5000) == BN_SHM_WANT_SPACE);
        bn_shm_port_close(a);
        bn_shm_port_close(b);
        printf("backpressure: %u frames filled the ring; drops counted by reason\n", sent);
}

static void test_garbage(void)
{
        struct bn_shm_port *a, *b;
        struct bn_shm_stats st;
        unsigned got = 0;
        uint8_t *d;
        void *m;
        uint32_t bogus[2] = {0x7fffffffu, 0x00014600u}; /* len huge, kind FRAME */

        CHECK(bn_shm_pair("test-garbage", BN_SHM_RING_MIN, &a, &b) == 0);
        d = bn_shm_port_reserve(a, 1, 0, 100, &m);
        CHECK(d);
        bn_shm_port_commit(a, 100);
        memcpy(d - 8, bogus, sizeof(bogus)); /* a hostile producer rewrites the header */
        bn_shm_port_flush(a);
        CHECK(bn_shm_port_recv(b, 10, count_frames, &got) == -EPROTO);
        CHECK(got == 0);
        CHECK(bn_shm_port_recv(b, 10, count_frames, &got) == -EPROTO);
        bn_shm_port_stats(b, &st);
        CHECK(st.rx_bad == 1);
        CHECK(!bn_shm_port_peer_alive(b));
        bn_shm_port_close(a);
        bn_shm_port_close(b);
        printf("garbage: malformed record refused, port broken, no crash\n");
}

static void test_peer_dies(void)
{
        char path[108];
        struct bn_shm_port *p;
        struct iovec iov = {.iov_base = "x", .iov_len = 1};
        unsigned got = 0;
        int lfd, status, rc;
        pid_t pid;

        snprintf(path, sizeof(path), "@banana-test-shm-die-%d", (int)getpid());
        lfd = bn_shm_listen(path);
        CHECK(lfd >= 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                struct bn_shm_port *c;

                close(lfd);
                if (bn_shm_connect(path, "test-child", 10000, &c) < 0)
                        _exit(2);
                pause(); /* killed while holding the wire */
                _exit(3);
        }
        CHECK(bn_shm_accept(lfd, "test-parent", BN_SHM_RING_MIN, &p) == 0);
        close(lfd);
        CHECK(bn_shm_port_peer_alive(p));
        CHECK(bn_shm_port_wait(p, BN_SHM_WANT_RX, 20) == 0);
        kill(pid, SIGKILL);
        CHECK(waitpid(pid, &status, 0) == pid);
        rc = bn_shm_port_wait(p, BN_SHM_WANT_RX, 10000);
        CHECK(rc == -EPIPE);
        CHECK(bn_shm_port_recv(p, 10, count_frames, &got) == -EPIPE);
        CHECK(bn_shm_port_send(p, 1, NULL, 0, &iov, 1, true) == -EPIPE);
        bn_shm_port_close(p);
        printf("peer death: noticed (EPIPE), no crash\n");
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        test_inproc();
        test_cross_process();
        test_backpressure_and_drops();
        test_garbage();
        test_peer_dies();
        printf("test_shm: all passed\n");
        return 0;
}
