/* tests/cluster/test_store_etcd.c: the etcd store backend against a real
 * etcd (started by test_store_etcd.sh in the test cluster).
 *
 *   test_store_etcd URL [CA CERT KEY]    get, list, commit, revisions, values
 *                                        of every shape, keys outside the
 *                                        prefix unseen, a dead first endpoint
 *                                        passed over, compares (EXPECT), leases
 *                                        that end, a watch that sees another
 *                                        client's change and etcd's compaction
 *                                        (BN_TEST_COMPACT: a command that
 *                                        compacts etcd to the revision given)
 *   test_store_etcd --dead URL           etcd is gone: open fails within the
 *                                        time limit, naming the endpoint
 */
#include "bn_check.h"
#include "bn_store.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct seen {
        char keys[8][64];
        char vals[8][64];
        int n;
};

static int collect(void *arg, const char *key, const char *value)
{
        struct seen *s = arg;

        if (s->n < 8) {
                snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
                snprintf(s->vals[s->n], sizeof(s->vals[0]), "%s", value);
        }
        s->n++;
        return 0;
}

static atomic_ullong w_calls, w_last, w_zero;

static void on_watch(void *arg, uint64_t rev)
{
        (void)arg;
        if (rev == 0)
                atomic_fetch_add(&w_zero, 1);
        atomic_store(&w_last, rev);
        atomic_fetch_add(&w_calls, 1);
}

static double now_s(void);

/* Wait up to secs for cond (polled every 50 ms). */
#define WAIT_UNTIL(cond, secs)                                                                     \
        do {                                                                                       \
                double t_ = now_s();                                                               \
                while (!(cond) && now_s() - t_ < (secs)) {                                         \
                        struct timespec n_ = {0, 50000000};                                        \
                        nanosleep(&n_, NULL);                                                      \
                }                                                                                  \
        } while (0)

/* Is key absent from s (a value found is freed)? */
static bool absent(struct bn_store *s, const char *key)
{
        char *v = NULL;
        int r = bn_store_get(s, key, &v);

        free(v);
        return r == -ENOENT;
}

/* Compares, leases and the watch, with a second client s2. */
static void live(struct bn_store *s, struct bn_store *s2)
{
        char err[512] = "", *v = NULL, cmd[600];
        uint64_t id = 0, id2 = 0, rev = 0;
        const char *compact = getenv("BN_TEST_COMPACT");

        /* two controllers claim one VNI: the first wins, the second is told */
        {
                struct bn_store_op claim[] = {{BN_STORE_EXPECT, "claims/vni/5000", NULL, 0},
                                              {BN_STORE_PUT, "claims/vni/5000", "h1", 0}};
                struct bn_store_op claim2[] = {{BN_STORE_EXPECT, "claims/vni/5000", NULL, 0},
                                               {BN_STORE_PUT, "claims/vni/5000", "h2", 0}};
                struct bn_store_op mine[] = {{BN_STORE_EXPECT, "claims/vni/5000", "h1", 0},
                                             {BN_STORE_DEL, "claims/vni/5000", NULL, 0}};
                struct bn_store_op theirs[] = {{BN_STORE_EXPECT, "claims/vni/5000", "h2", 0},
                                               {BN_STORE_DEL, "claims/vni/5000", NULL, 0}};
                uint64_t r0 = bn_store_revision(s2);

                CHECK_MSG(bn_store_commit(s, claim, 2, NULL, err, sizeof(err)) == 0, "claim: %s",
                          err);
                CHECK(bn_store_commit(s2, claim2, 2, NULL, err, sizeof(err)) == -ECANCELED);
                CHECK_MSG(strstr(err, "claims/vni/5000") && strstr(err, "taken"), "err: %s", err);
                CHECK(bn_store_get(s2, "claims/vni/5000", &v) == 0 && v && !strcmp(v, "h1"));
                free(v);
                v = NULL;
                CHECK(bn_store_commit(s2, theirs, 2, NULL, err, sizeof(err)) == -ECANCELED);
                CHECK(bn_store_revision(s2) > r0); /* the refused commits changed nothing ... */
                CHECK(bn_store_get(s2, "claims/vni/5000", &v) == 0 && v && !strcmp(v, "h1"));
                free(v);
                v = NULL;
                CHECK_MSG(bn_store_commit(s, mine, 2, NULL, err, sizeof(err)) == 0, "release: %s",
                          err);
                CHECK(bn_store_get(s, "claims/vni/5000", &v) == -ENOENT);
        }

        /* a lease kept alive keeps its key; revoked, the key goes */
        CHECK_MSG(bn_store_lease_grant(s, 2, &id, err, sizeof(err)) == 0 && id, "grant: %s", err);
        {
                struct bn_store_op put = {BN_STORE_PUT, "hosts/h1", "{}", id};
                CHECK_MSG(bn_store_commit(s, &put, 1, NULL, err, sizeof(err)) == 0,
                          "put with lease: %s", err);
        }
        for (int i = 0; i < 3; i++) {
                struct timespec t = {1, 0};
                nanosleep(&t, NULL);
                CHECK_MSG(bn_store_lease_keepalive(s, id, err, sizeof(err)) == 0, "keepalive: %s",
                          err);
        }
        CHECK(bn_store_get(s2, "hosts/h1", &v) == 0); /* 3 s > ttl: alive only by keepalive */
        free(v);
        v = NULL;
        CHECK(bn_store_lease_revoke(s, id, err, sizeof(err)) == 0);
        CHECK(bn_store_get(s2, "hosts/h1", &v) == -ENOENT);

        /* a lease not renewed ends by itself, with its key */
        CHECK(bn_store_lease_grant(s, 1, &id2, err, sizeof(err)) == 0);
        {
                struct bn_store_op put = {BN_STORE_PUT, "hosts/h2", "{}", id2};
                CHECK(bn_store_commit(s, &put, 1, NULL, err, sizeof(err)) == 0);
        }
        WAIT_UNTIL(absent(s2, "hosts/h2"), 5);
        CHECK(absent(s2, "hosts/h2"));
        CHECK(bn_store_lease_keepalive(s, id2, err, sizeof(err)) == -ENOENT);

        /* the watch sees another client's change */
        /* from the latest revision (s2's): s2's earlier changes are not news */
        rev = bn_store_revision(s2) > bn_store_revision(s) ? bn_store_revision(s2)
                                                           : bn_store_revision(s);
        CHECK_MSG(bn_store_watch_start(s, rev, on_watch, NULL, err, sizeof(err)) == 0, "watch: %s",
                  err);
        CHECK(bn_store_watch_start(s, 0, on_watch, NULL, err, sizeof(err)) == -EBUSY);
        {
                /* a quiet key (watch_quiet: members/) wakes nothing; the
                 * change after it wakes the watch once */
                unsigned long long calls = atomic_load(&w_calls);
                struct timespec t = {0, 300000000};
                CHECK(bn_store_put(s2, "members/m1", "q", err, sizeof(err)) == 0);
                nanosleep(&t, NULL);
                CHECK_MSG(atomic_load(&w_calls) == calls, "a quiet key woke the watch");
                CHECK(bn_store_put(s2, "wires/w1", "x", err, sizeof(err)) == 0);
                rev = bn_store_revision(s2);
                WAIT_UNTIL(atomic_load(&w_last) >= rev, 5);
                CHECK_MSG(atomic_load(&w_calls) == calls + 1, "the watch woke %llu times, want 1",
                          atomic_load(&w_calls) - calls);
        }
        CHECK_MSG(atomic_load(&w_last) == rev, "watch saw revision %llu, the put made %llu",
                  (unsigned long long)atomic_load(&w_last), (unsigned long long)rev);
        bn_store_watch_stop(s);
        {
                unsigned long long calls = atomic_load(&w_calls);
                struct timespec t = {0, 300000000};
                CHECK(bn_store_put(s2, "wires/w2", "y", err, sizeof(err)) == 0);
                nanosleep(&t, NULL);
                CHECK_MSG(atomic_load(&w_calls) == calls, "the watch was called after it stopped");
        }

        /* a watch from a revision etcd has compacted away: read everything */
        if (compact) {
                snprintf(cmd, sizeof(cmd), "%s %llu >/dev/null 2>&1", compact,
                         (unsigned long long)bn_store_revision(s2));
                CHECK_MSG(system(cmd) == 0, "compaction failed: %s", cmd);
                CHECK(bn_store_watch_start(s, 1, on_watch, NULL, err, sizeof(err)) == 0);
                WAIT_UNTIL(atomic_load(&w_zero) > 0, 5);
                CHECK_MSG(atomic_load(&w_zero) == 1, "no resync asked after a compaction (%llu)",
                          (unsigned long long)atomic_load(&w_zero));
                /* and then it goes on from the current revision */
                CHECK(bn_store_put(s2, "wires/w3", "z", err, sizeof(err)) == 0);
                rev = bn_store_revision(s2);
                WAIT_UNTIL(atomic_load(&w_last) >= rev, 5);
                CHECK_EQ(atomic_load(&w_last), rev);
                bn_store_watch_stop(s);
        }
        {
                struct bn_store_op clear[] = {{BN_STORE_DEL, "wires/w1", NULL, 0},
                                              {BN_STORE_DEL, "wires/w2", NULL, 0},
                                              {BN_STORE_DEL, "wires/w3", NULL, 0}};
                CHECK(bn_store_commit(s2, clear, 3, NULL, err, sizeof(err)) == 0);
        }
}

static double now_s(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int dead(const char *url)
{
        struct bn_store *s = NULL;
        char err[512] = "";
        struct bn_store_etcd_opts o = {.timeout_ms = 1500};
        double t0 = now_s();
        int r = bn_store_open_etcd(&s, url, &o, err, sizeof(err));

        CHECK_MSG(r < 0 && !s, "open of a dead etcd returned %d", r);
        CHECK_MSG(now_s() - t0 < 5, "open of a dead etcd took %.1f s", now_s() - t0);
        CHECK_MSG(strstr(err, "no endpoint answered") && strstr(err, url + strlen("etcd://")),
                  "err: %s", err);
        printf("dead etcd: %s\n", err);
        return bn_check_failures ? 1 : 0;
}

int main(int argc, char **argv)
{
        struct bn_store *s = NULL, *s2 = NULL;
        static const char *const quiet[] = {"members/", NULL};
        struct bn_store_etcd_opts o = {.prefix = "banana-test/"};
        char err[512] = "", *v = NULL, url2[600];
        uint64_t r0, r1, r2;
        struct seen seen = {0};
        static char big[1 << 20];

        if (argc == 3 && !strcmp(argv[1], "--dead"))
                return dead(argv[2]);
        if (argc != 2 && argc != 5) {
                fprintf(stderr, "usage: %s URL [CA CERT KEY] | --dead URL\n", argv[0]);
                return 2;
        }
        if (argc == 5)
                o.ca = argv[2], o.cert = argv[3], o.key = argv[4];

        /* bad URLs are refused with a reason, before any request */
        CHECK(bn_store_open_etcd(&s, "http://10.88.0.2:2379", &o, err, sizeof(err)) == -EINVAL);
        CHECK_MSG(strstr(err, "expected etcd://"), "err: %s", err);
        CHECK(bn_store_open_etcd(&s, "etcd://nocolon", &o, err, sizeof(err)) == -EINVAL);
        CHECK_MSG(strstr(err, "not HOST:PORT"), "err: %s", err);

        o.watch_quiet = quiet;
        CHECK_MSG(bn_store_open_etcd(&s, argv[1], &o, err, sizeof(err)) == 0, "open: %s", err);
        if (!s)
                return 1;
        r0 = bn_store_revision(s);
        CHECK(r0 > 0); /* etcd's revision: the script wrote a key outside the prefix */

        CHECK(bn_store_get(s, "endpoints/none", &v) == -ENOENT);
        CHECK(bn_store_put(s, "hosts/h1", "{\"addr\":\"10.88.0.11\"}", err, sizeof(err)) == 0);
        r1 = bn_store_revision(s);
        CHECK(r1 == r0 + 1);
        CHECK(bn_store_get(s, "hosts/h1", &v) == 0 && v && !strcmp(v, "{\"addr\":\"10.88.0.11\"}"));
        free(v);
        v = NULL;

        /* a commit is one transaction: one revision, all at once */
        {
                struct bn_store_op ops[] = {
                    {BN_STORE_PUT, "wires/b", "2"},       {BN_STORE_PUT, "wires/a", "1"},
                    {BN_STORE_PUT, "wires/c", ""},        {BN_STORE_DEL, "hosts/h1", NULL},
                    {BN_STORE_DEL, "hosts/absent", NULL},
                };
                CHECK_MSG(bn_store_commit(s, ops, 5, &r2, err, sizeof(err)) == 0, "commit: %s",
                          err);
                CHECK_EQ(r2, r1 + 1);
        }
        CHECK(bn_store_get(s, "hosts/h1", &v) == -ENOENT);
        CHECK(bn_store_list(s, "wires/", collect, &seen) == 0);
        CHECK_EQ(seen.n, 3);
        CHECK(!strcmp(seen.keys[0], "wires/a") && !strcmp(seen.vals[0], "1"));
        CHECK(!strcmp(seen.keys[1], "wires/b") && !strcmp(seen.vals[1], "2"));
        CHECK(!strcmp(seen.keys[2], "wires/c") && !strcmp(seen.vals[2], ""));
        CHECK(bn_store_get(s, "wires/c", &v) == 0 && v && !strcmp(v, ""));
        free(v);
        v = NULL;

        /* the whole store: only keys under the prefix ("outside/key" is not) */
        memset(&seen, 0, sizeof(seen));
        CHECK(bn_store_list(s, "", collect, &seen) == 0);
        CHECK_EQ(seen.n, 3);

        /* values of every shape come back byte for byte; a 1 MiB one too */
        {
                const char *odd = "quote\" back\\slash\nnewline \xc3\xa9t\xc3\xa9 {\"x\":[1,2]}";
                CHECK(bn_store_put(s, "odd", odd, err, sizeof(err)) == 0);
                CHECK(bn_store_get(s, "odd", &v) == 0 && v && !strcmp(v, odd));
                free(v);
                v = NULL;
                for (size_t i = 0; i < sizeof(big) - 1; i++)
                        big[i] = (char)('a' + i % 26);
                CHECK_MSG(bn_store_put(s, "big", big, err, sizeof(err)) == 0, "put 1 MiB: %s", err);
                CHECK(bn_store_get(s, "big", &v) == 0 && v && strlen(v) == sizeof(big) - 1 &&
                      !memcmp(v, big, sizeof(big) - 1));
                free(v);
                v = NULL;
        }

        /* a second client (another host's bananad) sees what the first wrote,
         * through an endpoint list whose first member is dead */
        snprintf(url2, sizeof(url2), "%s://10.88.0.2:1,%s",
                 strncmp(argv[1], "etcds", 5) ? "etcd" : "etcds", strstr(argv[1], "://") + 3);
        CHECK_MSG(bn_store_open_etcd(&s2, url2, &o, err, sizeof(err)) == 0, "open %s: %s", url2,
                  err);
        if (s2) {
                CHECK(bn_store_get(s2, "wires/a", &v) == 0 && v && !strcmp(v, "1"));
                free(v);
                v = NULL;
                CHECK(bn_store_revision(s2) >= bn_store_revision(s));
                live(s, s2);
                {
                        struct bn_store_op clear[] = {
                            {BN_STORE_DEL, "wires/a", NULL}, {BN_STORE_DEL, "wires/b", NULL},
                            {BN_STORE_DEL, "wires/c", NULL}, {BN_STORE_DEL, "odd", NULL},
                            {BN_STORE_DEL, "big", NULL},     {BN_STORE_DEL, "members/m1", NULL}};
                        CHECK(bn_store_commit(s2, clear, 6, NULL, err, sizeof(err)) == 0);
                }
                bn_store_close(s2);
        }
        memset(&seen, 0, sizeof(seen));
        CHECK(bn_store_list(s, "", collect, &seen) == 0);
        CHECK_EQ(seen.n, 0);
        bn_store_close(s);
        if (!bn_check_failures)
                printf("PASS: etcd store at %s\n", argv[1]);
        return bn_check_failures ? 1 : 0;
}
