/* test_params.c: bn_params parsing, typed getters and their errors. */
#include <errno.h>
#include <string.h>

#include "bn_params.h"
#include "fw_test.h"

int main(void)
{
        struct bn_params p = BN_PARAMS_INIT;
        char err[256];
        const char *s;
        uint64_t u;
        bool b;

        CHECK(bn_params_parse(&p, "path=/srv/a.raw,ro=1,size=4k,flag", err, sizeof(err)) == 0);
        CHECK(p.n == 4);
        CHECK(!strcmp(p.v[0].key, "path") && !strcmp(p.v[3].key, "flag"));
        CHECK(!strcmp(bn_params_get(&p, "path"), "/srv/a.raw"));
        CHECK(!strcmp(bn_params_get(&p, "flag"), "1"));
        CHECK(bn_params_get(&p, "nope") == NULL);
        CHECK(bn_params_get_uint(&p, "size", false, 0, 0, UINT64_MAX, &u, err, sizeof(err)) == 0);
        CHECK(u == 4096);
        CHECK(bn_params_get_bool(&p, "ro", false, false, &b, err, sizeof(err)) == 0 && b);
        CHECK(bn_params_get_uint(&p, "missing", false, 7, 0, 10, &u, err, sizeof(err)) == 0);
        CHECK(u == 7);
        CHECK(bn_params_get_uint(&p, "missing", true, 7, 0, 10, &u, err, sizeof(err)) == -ENOENT);
        CHECK(strstr(err, "missing parameter 'missing'"));
        CHECK(bn_params_get_str(&p, "path", true, NULL, &s, err, sizeof(err)) == 0);
        CHECK(!strcmp(s, "/srv/a.raw"));

        /* errors name the key and the problem */
        CHECK(bn_params_get_uint(&p, "path", false, 0, 0, 10, &u, err, sizeof(err)) == -EINVAL);
        CHECK(strstr(err, "'path'") && strstr(err, "not an unsigned integer"));
        CHECK(bn_params_get_uint(&p, "size", false, 0, 1, 1000, &u, err, sizeof(err)) == -EINVAL);
        CHECK(strstr(err, "out of range 1..1000"));
        CHECK(bn_params_get_bool(&p, "path", false, 0, &b, err, sizeof(err)) == -EINVAL);
        CHECK(strstr(err, "not a boolean"));

        /* bad input leaves p unchanged */
        CHECK(bn_params_parse(&p, "a=1,a=2", err, sizeof(err)) == -EINVAL);
        CHECK(strstr(err, "duplicate parameter 'a'"));
        CHECK(bn_params_parse(&p, "bad key=1", err, sizeof(err)) == -EINVAL);
        CHECK(strstr(err, "bad parameter key 'bad key'"));
        CHECK(bn_params_parse(&p, "x=1,", err, sizeof(err)) == -EINVAL);
        CHECK(bn_params_parse(&p, "=1", err, sizeof(err)) == -EINVAL);
        CHECK(p.n == 4 && bn_params_get(&p, "a") == NULL && bn_params_get(&p, "x") == NULL);

        /* replace keeps order; unset; check_known */
        CHECK(bn_params_parse(&p, "path=/b,new=2", err, sizeof(err)) == 0);
        CHECK(p.n == 5 && !strcmp(p.v[0].value, "/b") && !strcmp(p.v[4].key, "new"));
        CHECK(bn_params_unset(&p, "flag") == 0 && bn_params_unset(&p, "flag") == -ENOENT);
        static const char *const known[] = {"path", "ro", "size", NULL};
        CHECK(bn_params_check_known(&p, known, err, sizeof(err)) == -EINVAL);
        CHECK(strstr(err, "unknown parameter 'new'") && strstr(err, "known: path, ro, size"));
        CHECK(bn_params_unset(&p, "new") == 0);
        CHECK(bn_params_check_known(&p, known, err, sizeof(err)) == 0);

        char buf[64];
        size_t need = bn_params_format(&p, buf, sizeof(buf));
        CHECK(!strcmp(buf, "path=/b,ro=1,size=4k"));
        CHECK(need == strlen("path=/b,ro=1,size=4k"));
        CHECK(bn_params_format(&p, buf, 5) == need && strlen(buf) == 4);

        struct bn_params q = BN_PARAMS_INIT;
        CHECK(bn_params_copy(&q, &p) == 0 && q.n == 3);
        CHECK(bn_params_parse(&q, "", err, sizeof(err)) == 0 && q.n == 3);
        CHECK(bn_params_get_uint(&q, "size", false, 0, 0, UINT64_MAX, &u, NULL, 0) == 0);
        CHECK(bn_params_set(&q, "big", "0x20M") == -0 &&
              bn_params_get_uint(&q, "big", false, 0, 0, UINT64_MAX, &u, NULL, 0) == 0 &&
              u == (32ull << 20));
        CHECK(bn_params_set(&q, "huge", "99999999999999999999") == 0);
        CHECK(bn_params_get_uint(&q, "huge", false, 0, 0, UINT64_MAX, &u, err, sizeof(err)) ==
              -EINVAL);
        bn_params_clear(&q);
        bn_params_clear(&p);
        FW_DONE();
}
