/* test_topo_hostile.c: the YAML topology parser against hostile files
 * (issue 11): alias amplification, deep nesting, a huge mapping with a
 * duplicate key, a NUL byte, a second document, a tab. Each must be refused
 * with file:line:column, quickly (a bound on time, not only on the result),
 * while alias use of a sane size still parses.
 */
#include "bn_topo.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../bn_check.h"

static char *buf;
static size_t len, cap;

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void put(const char *fmt, ...)
{
        va_list ap;
        int n;

        if (cap - len < 4096) {
                cap = cap ? cap * 2 : 1 << 16;
                buf = realloc(buf, cap);
                if (!buf)
                        abort();
        }
        va_start(ap, fmt);
        n = vsnprintf(buf + len, cap - len, fmt, ap);
        va_end(ap);
        len += (size_t)n;
}

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parse buf[0..len); the parse must take under max_s seconds and, when
 * want is not NULL, fail with an error containing want; else succeed. */
static struct bn_topo *run(const char *what, const char *want, double max_s)
{
        struct bn_topo_errs errs = {0};
        struct bn_topo *t = NULL;
        double t0 = now(), dt;
        int r = bn_topo_parse("f.yaml", buf, len, &t, &errs), found = 0;

        dt = now() - t0;
        for (size_t i = 0; i < errs.n; i++) {
                fprintf(stderr, "  %s: %s\n", what, errs.msg[i]);
                if (want && strstr(errs.msg[i], want))
                        found = 1;
        }
        CHECK_MSG(dt < max_s, "%s: took %.2f s (at most %.1f)", what, dt, max_s);
        if (want) {
                CHECK_MSG(r == -EINVAL && !t && found, "%s: want an error with '%s' (r=%d)", what,
                          want, r);
                bn_topo_free(t);
                t = NULL;
        } else {
                CHECK_MSG(r == 0 && t, "%s: should parse (r=%d)", what, r);
        }
        bn_topo_errs_free(&errs);
        len = 0;
        return t;
}

static void head(void)
{
        put("version: 1\nhosts:\n  hostA:\nendpoints:\n");
}

/* One anchored endpoint of nparams params and naliases endpoints aliasing
 * it: the 40 KB file of the issue held bananad 12-16 s at 187 MB. */
static void alias_file(int nparams, int naliases)
{
        head();
        put("  hostA/c0: &e\n    kind: corm\n    class: test\n    params:\n");
        for (int i = 0; i < nparams; i++)
                put("      p%d: v\n", i);
        for (int i = 1; i <= naliases; i++)
                put("  hostA/c%d: *e\n", i);
}

static void test_aliases(void)
{
        struct bn_topo *t;

        alias_file(1500, 1499);
        run("alias bomb (1,500 params x 1,499 aliases)", "f.yaml:", 3.0);
        alias_file(1500, 1499);
        run("alias bomb", "too many aliases", 3.0);
        alias_file(150, 300); /* about 5 KB: grew store.json to 599 KB */
        run("small alias bomb (150 x 300)", "too many aliases", 3.0);
        alias_file(4, 20); /* sane sharing of params still parses */
        t = run("20 aliases of 4 params", NULL, 3.0);
        if (t) {
                const struct bn_topo_ep *e = bn_topo_ep_find(t, "hostA/c20");
                CHECK_MSG(t->n_eps == 21 && e && e->params.n == 4, "aliases expanded");
                bn_topo_free(t);
        }
}

static void test_depth(void)
{
        put("version: 1\nendpoints: ");
        for (int i = 0; i < 50000; i++)
                put("[");
        for (int i = 0; i < 50000; i++)
                put("]");
        put("\n");
        run("50,000 nested lists", "f.yaml:2:", 3.0);
        put("version: 1\nendpoints: ");
        for (int i = 0; i < 50000; i++)
                put("[");
        run("50,000 nested lists", "nested deeper than", 3.0);
        put("a: ");
        for (int i = 0; i < 20; i++)
                put("{b: ");
        for (int i = 0; i < 20; i++)
                put("}");
        put("\n");
        run("20 levels (unknown key, not a bound)", "unknown top-level key 'a'", 3.0);
}

static void test_big_mapping(void)
{
        head();
        put("  hostA/c0:\n    kind: corm\n    class: test\n    params:\n");
        for (int i = 0; i < 100000; i++)
                put("      p%d: v\n", i);
        put("      p7: again\n");
        run("100,000 params, one duplicate", "f.yaml:100009:7: duplicate key 'p7'", 8.0);
}

static void test_text(void)
{
        static const char nul[] = "version: 1\nhosts:\n  hostA:\n  ho\0stB:\n";
        static const char two[] = "version: 1\nhosts:\n  hostA:\n---\nversion: 1\n";
        static const char tab[] = "version: 1\nhosts:\n\thostA:\n";

        len = 0;
        put("%s", "");
        memcpy(buf, nul, sizeof(nul) - 1);
        len = sizeof(nul) - 1;
        run("NUL byte", "f.yaml:4:5: a NUL byte", 3.0);
        put("%s", two);
        run("second document", "f.yaml:4:1: a second YAML document", 3.0);
        put("%s", tab);
        run("tab", "f.yaml:3:1: YAML syntax: a tab character", 3.0);
}

int main(void)
{
        test_aliases();
        test_depth();
        test_big_mapping();
        test_text();
        free(buf);
        if (bn_check_failures)
                fprintf(stderr, "%d check(s) failed\n", bn_check_failures);
        return bn_check_failures ? 1 : 0;
}
