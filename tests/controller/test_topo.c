/* test_topo.c: unit tests of the YAML topology parser (config/), no daemon:
 * the example topologies parse with the right contents and policy choices;
 * files with mistakes give exactly one file:line:column error per mistake;
 * a wire's per-end options (end0: {...}, end1.KEY) read as end0.KEY;
 * a topology changed an item at a time (as a cluster's host keeps the
 * desired state in memory: remove, append) finds every item by name.
 * argv[1] is the config/examples directory.
 */
#include "bn_topo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bn_check.h"

static struct bn_topo *parse_ok(const char *dir, const char *name)
{
        struct bn_topo_errs errs = {0};
        struct bn_topo *t = NULL;
        char path[4096];
        int r;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        r = bn_topo_parse_file(path, &t, &errs);
        for (size_t i = 0; i < errs.n; i++)
                fprintf(stderr, "  %s\n", errs.msg[i]);
        CHECK_MSG(r == 0 && t, "%s should parse (r=%d)", name, r);
        bn_topo_errs_free(&errs);
        return t;
}

static const char *wtype(struct bn_topo *t, const char *w)
{
        const struct bn_topo_wire *x = bn_topo_wire_find(t, w);
        return x ? x->type : "(none)";
}

static void test_examples(const char *dir)
{
        struct bn_topo *t;

        t = parse_ok(dir, "one-host.yaml");
        if (t) {
                const struct bn_topo_ep *br = bn_topo_ep_find(t, "hostA/br0");
                const struct bn_topo_ep *vm = bn_topo_ep_find(t, "hostA/vm1/vif0");
                CHECK_MSG(t->n_hosts == 1 && t->n_eps == 3 && t->n_wires == 2, "one-host counts");
                CHECK_MSG(br && br->kind == BN_TOPO_CORM && strcmp(br->cls, "vif") == 0 &&
                              strcmp(bn_kvlist_get(&br->params, "bridge"), "br0") == 0,
                          "bridge corm");
                CHECK_MSG(vm && vm->kind == BN_TOPO_SPIKE && strcmp(vm->vm, "vm1") == 0 &&
                              strcmp(vm->dev, "vif0") == 0 && strcmp(vm->cls, "vif") == 0 &&
                              strcmp(vm->location, "hostA") == 0,
                          "spike fields");
                CHECK_MSG(strcmp(wtype(t, "vm1-net"), "shm") == 0, "same host -> shm, got %s",
                          wtype(t, "vm1-net"));
                CHECK_MSG(bn_topo_wire_find(t, "vm1-net")->type_auto, "policy chose the type");
                CHECK_MSG(strcmp(bn_kvlist_get(&bn_topo_wire_find(t, "vm2-net")->opts, "ring"),
                                 "2097152") == 0,
                          "ring option");
                bn_topo_free(t);
        }
        t = parse_ok(dir, "two-hosts.yaml");
        if (t) {
                CHECK_MSG(t->n_hosts == 3 && t->n_eps == 6 && t->n_wires == 3, "two-hosts counts");
                CHECK_MSG(strcmp(wtype(t, "vm7-lan"), "vxlan") == 0, "same site -> vxlan, got %s",
                          wtype(t, "vm7-lan"));
                CHECK_MSG(strcmp(wtype(t, "vm7-partner"), "vpn") == 0, "other domain -> vpn");
                CHECK_MSG(strcmp(wtype(t, "vm7-disk"), "nbd") == 0, "explicit type kept");
                CHECK_MSG(strcmp(bn_topo_ep_find(t, "hostA/vm7/vbd0")->cls, "vbd") == 0,
                          "vbd class from device name");
                bn_topo_free(t);
        }
        t = parse_ok(dir, "many-200.yaml");
        if (t) {
                CHECK_MSG(t->n_eps == 201 && t->n_wires == 200,
                          "many-200 counts: %zu eps %zu wires", t->n_eps, t->n_wires);
                bn_topo_free(t);
        }
}

/* Parse text; the errors must be exactly `want` (in order). */
static void expect_errs(const char *what, const char *text, const char *const *want, size_t n)
{
        struct bn_topo_errs errs = {0};
        struct bn_topo *t = NULL;
        int r = bn_topo_parse("bad.yaml", text, strlen(text), &t, &errs);

        CHECK_MSG(r == -EINVAL && !t, "%s: must be refused (r=%d)", what, r);
        CHECK_MSG(errs.n == n, "%s: %zu errors, want %zu", what, errs.n, n);
        for (size_t i = 0; i < errs.n; i++) {
                int ok = i < n && strcmp(errs.msg[i], want[i]) == 0;
                CHECK_MSG(ok, "%s: error %zu is\n    %s\n  want\n    %s", what, i, errs.msg[i],
                          i < n ? want[i] : "(none)");
        }
        bn_topo_errs_free(&errs);
        bn_topo_free(t);
}

static void test_errors(void)
{
        static const char three[] = "version: 1\n"
                                    "hosts:\n"
                                    "  hostA: {site: lab}\n"
                                    "endpoints:\n"
                                    "  hostA/br0:\n"
                                    "    kind: corm\n"
                                    "    class: vif\n"
                                    "  hostA/vm1/vif0:\n"
                                    "    kind: spiek\n"
                                    "  hostA/vm2/vif0:\n"
                                    "    kind: spike\n"
                                    "wires:\n"
                                    "  w1:\n"
                                    "    ends: [hostA/vm2/vif0, hostA/br9]\n"
                                    "    options: {vni: 99999999}\n";
        static const char *const three_want[] = {
            "bad.yaml:9:11: kind must be spike or corm, not 'spiek'",
            "bad.yaml:15:20: vni must be an integer from 0 to 16777215",
            "bad.yaml:14:28: wire 'w1': endpoint 'hostA/br9' is not declared under endpoints",
        };
        static const char misc[] = "version: 2\n"
                                   "colour: blue\n"
                                   "hosts:\n"
                                   "  hostA:\n"
                                   "  hostA:\n"
                                   "endpoints:\n"
                                   "  hostB/br0: {kind: corm, class: vif}\n"
                                   "  hostA/x: {kind: spike}\n"
                                   "  hostA/vm1/vif0: {kind: spike}\n"
                                   "  hostA/vm2/vif0: {kind: spike}\n"
                                   "  hostA/d: {kind: corm, class: vbd}\n"
                                   "wires:\n"
                                   "  a: {ends: [hostA/vm1/vif0]}\n"
                                   "  b: {ends: [hostA/vm2/vif0, hostA/d]}\n"
                                   "  c: {ends: [hostA/vm1/vif0, hostA/vm2/vif0], type: Bad}\n";
        static const char *const misc_want[] = {
            "bad.yaml:1:10: unsupported version '2' (this banana reads version 1)",
            "bad.yaml:2:1: unknown top-level key 'colour' (expected version, hosts, policy, "
            "endpoints, wires)",
            "bad.yaml:5:3: duplicate key 'hostA'",
            "bad.yaml:8:3: spike 'hostA/x' must be named host/vm/device (e.g. hostA/vm7/vif0)",
            "bad.yaml:13:13: a wire has exactly two ends, not 1",
            "bad.yaml:15:53: bad wire type 'Bad': must be made of a-z 0-9 _ -",
            "bad.yaml:7:3: endpoint 'hostB/br0': host 'hostB' is not declared under hosts",
            "bad.yaml:14:3: wire 'b' joins 'hostA/vm2/vif0' (class vif) to 'hostA/d' (class "
            "vbd)",
        };
        static const char syntax[] = "hosts:\n  hostA: {site: lab\nendpoints: {}\n";
        static const char *const syntax_want[] = {
            "bad.yaml:3:10: YAML syntax: did not find expected ',' or '}' while parsing a flow "
            "mapping",
        };
        static const char *const empty_want[] = {"bad.yaml: empty topology"};

        expect_errs("three mistakes", three, three_want, 3);
        expect_errs("misc", misc, misc_want, sizeof(misc_want) / sizeof(misc_want[0]));
        expect_errs("syntax", syntax, syntax_want, 1);
        expect_errs("empty", "", empty_want, 1);
}

static void test_end_opts(void)
{
        static const char ok[] = "hosts:\n"
                                 "  hostA: {site: lab}\n"
                                 "  hostB: {site: lab}\n"
                                 "endpoints:\n"
                                 "  hostA/vm1/vif0: {kind: spike}\n"
                                 "  hostB/br0: {kind: corm, class: vif}\n"
                                 "wires:\n"
                                 "  w1:\n"
                                 "    ends: [hostA/vm1/vif0, hostB/br0]\n"
                                 "    options:\n"
                                 "      vni: 42\n"
                                 "      end0: {addr: 192.0.2.1, port: 4790}\n"
                                 "      end1.addr: 192.0.2.2\n";
        static const char bad[] = "hosts:\n"
                                  "  hostA: {site: lab}\n"
                                  "endpoints:\n"
                                  "  hostA/vm1/vif0: {kind: spike}\n"
                                  "  hostA/br0: {kind: corm, class: vif}\n"
                                  "wires:\n"
                                  "  w1:\n"
                                  "    ends: [hostA/vm1/vif0, hostA/br0]\n"
                                  "    options:\n"
                                  "      end1: {port: 0}\n"
                                  "      end2.addr: x\n";
        static const char *const bad_want[] = {
            "bad.yaml:10:20: port must be an integer from 1 to 65535",
            "bad.yaml:11:7: a wire option name 'end2.addr' must be made of a-z 0-9 _ -",
        };
        struct bn_topo_errs errs = {0};
        struct bn_topo *t = NULL;
        const struct bn_topo_wire *w;

        CHECK(bn_topo_parse("ok.yaml", ok, strlen(ok), &t, &errs) == 0 && t);
        for (size_t i = 0; i < errs.n; i++)
                fprintf(stderr, "  %s\n", errs.msg[i]);
        w = t ? bn_topo_wire_find(t, "w1") : NULL;
        CHECK(w && w->opts.n == 4);
        if (w) {
                CHECK(strcmp(bn_kvlist_get(&w->opts, "vni"), "42") == 0);
                CHECK(strcmp(bn_kvlist_get(&w->opts, "end0.addr"), "192.0.2.1") == 0);
                CHECK(strcmp(bn_kvlist_get(&w->opts, "end0.port"), "4790") == 0);
                CHECK(strcmp(bn_kvlist_get(&w->opts, "end1.addr"), "192.0.2.2") == 0);
        }
        bn_topo_free(t);
        bn_topo_errs_free(&errs);
        expect_errs("per-end options", bad, bad_want, 2);
        CHECK_MSG(!bn_topo_check_wire_key("end1.addr"), "end1.addr");
        CHECK_MSG(bn_topo_check_wire_key("end0.a.b"), "end0.a.b");
        CHECK_MSG(bn_topo_check_wire_opt("end0.vni", "16777216"), "end0.vni out of range");
}

static void test_names(void)
{
        CHECK_MSG(!bn_topo_check_ep_name("hostA/vm7/vif0"), "good name");
        CHECK_MSG(bn_topo_check_ep_name("hostA//x"), "double slash");
        CHECK_MSG(bn_topo_check_ep_name("hostA/../x"), "dot dot");
        CHECK_MSG(bn_topo_check_ep_name("host A"), "space");
        CHECK_MSG(bn_topo_check_ep_name("/x"), "leading slash");
        CHECK_MSG(!bn_topo_check_wire_opt("vni", "16777215"), "max vni");
        CHECK_MSG(bn_topo_check_wire_opt("port", "0"), "port 0");
        CHECK_MSG(bn_topo_check_wire_opt("mtu", "-1"), "negative mtu");
}

/* The policy's choice and its reason, for each placement. */
static void test_policy_why(void)
{
        struct bn_topo_policy p = {0};
        static const struct bn_topo_host a = {.name = "h1", .site = "paris", .domain = "acme"};
        static const struct bn_topo_host b = {.name = "h2", .site = "paris", .domain = "acme"};
        static const struct bn_topo_host c = {.name = "h3", .site = "lyon", .domain = "acme"};
        static const struct bn_topo_host d = {.name = "h4", .site = "berlin", .domain = "partner"};
        static const struct {
                const struct bn_topo_host *x, *y;
                const char *type, *why;
        } cases[] = {
            {&a, &a, "shm", "policy: both ends are on host h1"},
            {&a, &b, "vxlan", "policy: hosts h1 and h2 are on the same site (paris)"},
            {&a, &c, "vxlan",
             "policy: hosts h1 and h3 are in the same domain (acme), on different sites (paris, "
             "lyon)"},
            {&d, &a, "vpn", "policy: hosts h4 and h1 are in different domains (partner, acme)"},
            {&a, NULL, "vpn", "policy: hosts h1 and h9 are in different domains (acme, unknown)"},
        };
        char why[200];

        bn_topo_policy_defaults(&p);
        for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                const char *ty = bn_topo_policy_why(&p, cases[i].x->name, cases[i].x,
                                                    cases[i].y ? cases[i].y->name : "h9",
                                                    cases[i].y, why, sizeof(why));
                CHECK_MSG(!strcmp(ty, cases[i].type) && !strcmp(why, cases[i].why),
                          "policy case %zu: %s '%s', want %s '%s'", i, ty, why, cases[i].type,
                          cases[i].why);
        }
        CHECK_MSG(!strcmp(bn_topo_policy_pick(&p, "h1", &a, "h4", &d), "vpn"), "pick = why's");
        free(p.same_host);
        free(p.same_site);
        free(p.same_domain);
        free(p.other_domain);
}

/* A disk's wire without a type: the policy's pick made fit for a disk
 * (nbd for vxlan, nbd-vpn for vpn); a NIC's keeps the pick. */
static void test_disk_policy(void)
{
        static const char y[] = "hosts:\n"
                                "  h1: {site: a, domain: a}\n"
                                "  h2: {site: a, domain: a}\n"
                                "  h3: {site: b, domain: b}\n"
                                "endpoints:\n"
                                "  h1/g1/xvda: {kind: spike}\n"
                                "  h1/g2/xvda: {kind: spike}\n"
                                "  h1/g3/xvda: {kind: spike}\n"
                                "  h1/g4/vif0: {kind: spike}\n"
                                "  h1/d: {kind: corm, class: vbd}\n"
                                "  h2/d: {kind: corm, class: vbd}\n"
                                "  h3/d: {kind: corm, class: vbd}\n"
                                "  h3/br: {kind: corm, class: vif}\n"
                                "wires:\n"
                                "  same-host: {ends: [h1/g1/xvda, h1/d]}\n"
                                "  same-site: {ends: [h1/g2/xvda, h2/d]}\n"
                                "  other-domain: {ends: [h1/g3/xvda, h3/d]}\n"
                                "  nic: {ends: [h1/g4/vif0, h3/br]}\n";
        struct bn_topo_errs errs = {0};
        struct bn_topo *t = NULL;
        int r = bn_topo_parse("disk-policy.yaml", y, sizeof(y) - 1, &t, &errs);

        for (size_t i = 0; i < errs.n; i++)
                fprintf(stderr, "  %s\n", errs.msg[i]);
        bn_topo_errs_free(&errs);
        CHECK_MSG(r == 0 && t, "disk-policy.yaml should parse (r=%d)", r);
        if (!t)
                return;
        CHECK_MSG(strcmp(wtype(t, "same-host"), "shm") == 0, "disk, same host: %s",
                  wtype(t, "same-host"));
        CHECK_MSG(strcmp(wtype(t, "same-site"), "nbd") == 0, "disk, same site: %s",
                  wtype(t, "same-site"));
        CHECK_MSG(strcmp(wtype(t, "other-domain"), "nbd-vpn") == 0, "disk, other domain: %s",
                  wtype(t, "other-domain"));
        CHECK_MSG(strcmp(wtype(t, "nic"), "vpn") == 0, "nic, other domain: %s", wtype(t, "nic"));
        bn_topo_free(t);
}

/* Remove and append endpoints one at a time, looking up in between (the
 * index kept in step, not sorted again), and check every lookup. */
static void test_remove_append(void)
{
        struct bn_topo_errs errs = {0};
        struct bn_topo *t = NULL;
        char yaml[8192] = "version: 1\nhosts:\n  h1: {site: s, domain: d}\nendpoints:\n", name[64];
        size_t n = strlen(yaml);

        for (int i = 0; i < 64; i++)
                n += (size_t)snprintf(yaml + n, sizeof(yaml) - n,
                                      "  h1/e%02d: {kind: corm, class: test}\n", (i * 37) % 64);
        CHECK_MSG(bn_topo_parse("f.yaml", yaml, n, &t, &errs) == 0 && t && t->n_eps == 64,
                  "64 endpoints parse");
        bn_topo_errs_free(&errs);
        if (!t)
                return;
        CHECK_MSG(bn_topo_ep_find(t, "h1/e10") != NULL, "e10 found");
        for (int i = 0; i < 64; i += 3) { /* every third goes */
                snprintf(name, sizeof(name), "h1/e%02d", i);
                CHECK_MSG(bn_topo_ep_remove(t, name) == 0, "%s removed", name);
                CHECK_MSG(bn_topo_ep_find(t, name) == NULL, "%s gone", name);
        }
        CHECK_MSG(bn_topo_ep_remove(t, "h1/e00") == -ENOENT, "a second removal is -ENOENT");
        for (int i = 0; i < 64; i += 3) { /* and comes back, as the last item */
                struct bn_topo_ep *e = bn_topo_grow(t->eps, t->n_eps, sizeof(*e));
                CHECK_MSG(e != NULL, "grow");
                if (!e)
                        break;
                t->eps = e;
                e = &t->eps[t->n_eps++];
                memset(e, 0, sizeof(*e));
                snprintf(name, sizeof(name), "h1/b%02d", i);
                e->name = strdup(name);
                CHECK_MSG(bn_topo_ep_find(t, name) == e, "%s found where it was put", name);
        }
        for (int i = 0; i < 64; i++) {
                const struct bn_topo_ep *e;
                snprintf(name, sizeof(name), "h1/e%02d", i);
                e = bn_topo_ep_find(t, name);
                CHECK_MSG((i % 3 == 0) == (e == NULL), "%s %s", name,
                          i % 3 ? "still there" : "still gone");
                CHECK_MSG(!e || strcmp(e->name, name) == 0, "%s is itself", name);
                snprintf(name, sizeof(name), "h1/b%02d", i);
                CHECK_MSG((i % 3 == 0) == (bn_topo_ep_find(t, name) != NULL), "%s", name);
        }
        CHECK_MSG(bn_topo_host_remove(t, "h1") == 0 && !bn_topo_host_find(t, "h1"), "host removed");
        bn_topo_free(t);
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: %s EXAMPLES_DIR\n", argv[0]);
                return 2;
        }
        test_examples(argv[1]);
        test_errors();
        test_end_opts();
        test_names();
        test_policy_why();
        test_disk_policy();
        test_remove_append();
        if (bn_check_failures) {
                fprintf(stderr, "%d failure(s)\n", bn_check_failures);
                return 1;
        }
        printf("ok\n");
        return 0;
}
