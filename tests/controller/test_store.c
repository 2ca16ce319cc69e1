/* test_store.c: unit tests of the embedded store (controller/store_embedded.c):
 * put/get/delete/list by prefix with revisions, all-or-nothing commits, and
 * that a reopened store has exactly what was committed (no temp file left).
 */
#include "bn_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bn_check.h"

static int collect(void *arg, const char *key, const char *value)
{
        char *buf = arg;

        strcat(buf, key);
        strcat(buf, "=");
        strcat(buf, value);
        strcat(buf, ";");
        return 0;
}

static void expect_list(struct bn_store *s, const char *prefix, const char *want)
{
        char buf[4096] = "";

        CHECK_MSG(bn_store_list(s, prefix, collect, buf) == 0, "list %s", prefix);
        CHECK_MSG(strcmp(buf, want) == 0, "list '%s' is '%s', want '%s'", prefix, buf, want);
}

int main(void)
{
        char dir[] = "/tmp/bn-store-XXXXXX", err[512], path[600];
        struct bn_store *s = NULL;
        struct bn_store_op ops[3];
        uint64_t rev = 0;
        char *v = NULL;

        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        CHECK_MSG(bn_store_open_embedded(&s, dir, err, sizeof(err)) == 0, "open: %s", err);
        if (!s)
                return 1;
        CHECK_MSG(bn_store_revision(s) == 0, "new store at revision 0");
        CHECK_MSG(bn_store_get(s, "wires/x", &v) == -ENOENT, "absent key");
        CHECK_MSG(bn_store_put(s, "wires/b", "{\"type\":\"shm\"}", err, sizeof(err)) == 0, "put");
        CHECK_MSG(bn_store_put(s, "wires/a", "A", err, sizeof(err)) == 0, "put");
        CHECK_MSG(bn_store_put(s, "endpoints/hostA/br0", "E", err, sizeof(err)) == 0, "put");
        CHECK_MSG(bn_store_revision(s) == 3, "three revisions");
        CHECK_MSG(bn_store_get(s, "wires/b", &v) == 0 && strcmp(v, "{\"type\":\"shm\"}") == 0,
                  "get back");
        free(v);
        v = NULL;
        expect_list(s, "wires/", "wires/a=A;wires/b={\"type\":\"shm\"};");
        expect_list(s, "", "endpoints/hostA/br0=E;wires/a=A;wires/b={\"type\":\"shm\"};");
        expect_list(s, "zzz", "");

        ops[0] = (struct bn_store_op){BN_STORE_DEL, "wires/a", NULL};
        ops[1] = (struct bn_store_op){BN_STORE_PUT, "wires/c", "C"};
        ops[2] = (struct bn_store_op){BN_STORE_DEL, "wires/never", NULL};
        CHECK_MSG(bn_store_commit(s, ops, 3, &rev, err, sizeof(err)) == 0 && rev == 4,
                  "commit is one revision (rev %llu)", (unsigned long long)rev);
        ops[0] = (struct bn_store_op){BN_STORE_PUT, "wires/d", "D"};
        ops[1] = (struct bn_store_op){BN_STORE_PUT, "wires/e", NULL}; /* invalid */
        CHECK_MSG(bn_store_commit(s, ops, 2, &rev, err, sizeof(err)) == -EINVAL,
                  "bad commit refused");
        CHECK_MSG(bn_store_get(s, "wires/d", &v) == -ENOENT, "refused commit changed nothing");
        CHECK_MSG(bn_store_revision(s) == 4, "refused commit keeps the revision");

        /* EXPECT: a claim of an absent key, then a second claim refused;
         * compares see the state before the commit, as etcd's do */
        ops[0] = (struct bn_store_op){BN_STORE_EXPECT, "claims/x", NULL};
        ops[1] = (struct bn_store_op){BN_STORE_PUT, "claims/x", "h1"};
        CHECK_MSG(bn_store_commit(s, ops, 2, &rev, err, sizeof(err)) == 0, "claim: %s", err);
        CHECK_MSG(bn_store_commit(s, ops, 2, &rev, err, sizeof(err)) == -ECANCELED,
                  "second claim refused");
        CHECK_MSG(strstr(err, "claims/x") && strstr(err, "taken"), "err names the key: %s", err);
        ops[0] = (struct bn_store_op){BN_STORE_EXPECT, "claims/x", "h2"};
        ops[1] = (struct bn_store_op){BN_STORE_DEL, "claims/x", NULL};
        CHECK_MSG(bn_store_commit(s, ops, 2, &rev, err, sizeof(err)) == -ECANCELED,
                  "another value refused");
        ops[0] = (struct bn_store_op){BN_STORE_EXPECT, "claims/x", "h1"};
        CHECK_MSG(bn_store_commit(s, ops, 2, &rev, err, sizeof(err)) == 0 && rev == 6,
                  "expected value: the delete runs (rev %llu)", (unsigned long long)rev);
        ops[0] = (struct bn_store_op){BN_STORE_PUT, "claims/y", "v", 42};
        CHECK_MSG(bn_store_commit(s, ops, 1, &rev, err, sizeof(err)) == -EOPNOTSUPP,
                  "no leases in the embedded store");
        CHECK_MSG(bn_store_lease_grant(s, 5, &rev, err, sizeof(err)) == -EOPNOTSUPP &&
                      strstr(err, "embedded"),
                  "lease_grant says the backend has none: %s", err);
        bn_store_close(s);
        s = NULL;

        /* reopen: the same contents and revision */
        CHECK_MSG(bn_store_open_embedded(&s, dir, err, sizeof(err)) == 0, "reopen: %s", err);
        if (s) {
                CHECK_MSG(bn_store_revision(s) == 6, "revision persisted");
                expect_list(s, "", "endpoints/hostA/br0=E;wires/b={\"type\":\"shm\"};wires/c=C;");
                bn_store_close(s);
        }
        snprintf(path, sizeof(path), "%s/store.json.tmp", dir);
        CHECK_MSG(access(path, F_OK) < 0, "no temp file left");

        /* a corrupt file is refused with its name, not silently emptied */
        snprintf(path, sizeof(path), "%s/store.json", dir);
        {
                FILE *f = fopen(path, "w");
                if (f) {
                        fputs("{not json", f);
                        fclose(f);
                }
        }
        s = NULL;
        err[0] = '\0';
        CHECK_MSG(bn_store_open_embedded(&s, dir, err, sizeof(err)) < 0 && !s, "corrupt refused");
        CHECK_MSG(strstr(err, "store.json") != NULL, "error names the file: %s", err);

        unlink(path);
        rmdir(dir);
        if (bn_check_failures) {
                fprintf(stderr, "%d failure(s)\n", bn_check_failures);
                return 1;
        }
        printf("ok\n");
        return 0;
}
