/* topo_parse.c: the YAML topology reader. Loads the file with libyaml's
 * document API, walks the node tree checking the schema of
 * docs/topology.md, then checks the cross references (hosts of endpoints,
 * ends of wires) and fills wire types from the policy. The bounds on what a
 * file may cost are checked first (topo_bounds.c). Every error found is
 * collected with its file:line:column; a topology with any error is not
 * returned.
 */
#include "bn_topo.h"
#include "topo_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define TOPO_FILE_MAX (16u << 20)

struct pctx {
        yaml_document_t doc;
        const char *file;
        struct bn_topo_errs *errs;
        struct bn_topo *t;
        int oom;
};

static struct bn_topo_loc loc_of(const yaml_node_t *n)
{
        struct bn_topo_loc l = {(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
        return l;
}

#define ERR(c, node, ...) bn_topo_err((c)->errs, (c)->file, loc_of(node), __VA_ARGS__)

static yaml_node_t *node(struct pctx *c, int idx)
{
        return yaml_document_get_node(&c->doc, idx);
}

/* The scalar text of n, or NULL (with an error naming what) if n is not one. */
static const char *scalar(struct pctx *c, yaml_node_t *n, const char *what)
{
        if (n->type != YAML_SCALAR_NODE) {
                ERR(c, n, "%s must be a single value, not a %s", what,
                    n->type == YAML_MAPPING_NODE ? "mapping" : "list");
                return NULL;
        }
        return (const char *)n->data.scalar.value;
}

static const char *nonempty(struct pctx *c, yaml_node_t *n, const char *what)
{
        const char *s = scalar(c, n, what);

        if (s && !*s) {
                ERR(c, n, "%s is empty", what);
                return NULL;
        }
        return s;
}

static int is_mapping(struct pctx *c, yaml_node_t *n, const char *what)
{
        if (n->type == YAML_MAPPING_NODE)
                return 1;
        ERR(c, n, "%s must be a mapping (key: value lines)", what);
        return 0;
}

/* An empty value (`hostA:`) counts as an empty mapping. */
static int is_empty_scalar(const yaml_node_t *n)
{
        return n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0;
}

/* Iterate a mapping; reports keys that are not scalars and duplicate keys,
 * and calls fn for the others. Duplicates are found by sorting the keys
 * (n log n: a mapping of 100,000 keys costs no more than reading it). */
typedef void (*pair_fn)(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);

struct key_ref {
        const char *key; /* NULL: not a scalar */
        size_t idx;
};

static int key_ref_cmp(const void *a, const void *b)
{
        const struct key_ref *x = a, *y = b;
        int r = strcmp(x->key ? x->key : "", y->key ? y->key : "");

        if (r)
                return r;
        return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void each_pair(struct pctx *c, yaml_node_t *map, pair_fn fn, void *arg)
{
        yaml_node_pair_t *p0 = map->data.mapping.pairs.start;
        size_t n = (size_t)(map->data.mapping.pairs.top - p0);
        struct key_ref *refs = calloc(n ? n : 1, sizeof(*refs));
        unsigned char *dup = calloc(n ? n : 1, 1);

        if (!refs || !dup) {
                c->oom = 1;
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                yaml_node_t *k = node(c, p0[i].key);
                refs[i].idx = i;
                if (k && k->type == YAML_SCALAR_NODE)
                        refs[i].key = (const char *)k->data.scalar.value;
        }
        qsort(refs, n, sizeof(*refs), key_ref_cmp);
        for (size_t i = 1; i < n; i++)
                if (refs[i].key && refs[i - 1].key && strcmp(refs[i].key, refs[i - 1].key) == 0)
                        dup[refs[i].idx] = 1;
        for (size_t i = 0; i < n; i++) {
                yaml_node_t *k = node(c, p0[i].key), *v = node(c, p0[i].value);
                const char *key;

                if (!k || !v)
                        continue;
                key = scalar(c, k, "a key");
                if (!key)
                        continue;
                if (dup[i]) {
                        ERR(c, k, "duplicate key '%s'", key);
                        continue;
                }
                fn(c, key, k, v, arg);
        }
out:
        free(refs);
        free(dup);
}

static char *dup_or_oom(struct pctx *c, const char *s)
{
        char *d = s ? strdup(s) : NULL;

        if (s && !d)
                c->oom = 1;
        return d;
}

/* ---- scalar maps (params, options) ---- */

struct kv_arg {
        struct bn_kvlist *list;
        const char *what;
        int wire_opts;
};

static void kv_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);

/* end0: {addr: 10.0.0.1} in a wire's options: end0.addr */
struct end_arg {
        struct kv_arg *up;
        const char *end;
};

static void end_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
        struct end_arg *e = arg;
        char full[64];

        if (strchr(key, '.')) {
                ERR(c, k, "%s name '%s' must be made of a-z 0-9 _ -", e->up->what, key);
                return;
        }
        snprintf(full, sizeof(full), "%s.%s", e->end, key);
        kv_pair(c, full, k, v, e->up);
}

static void kv_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
        struct kv_arg *a = arg;
        const char *val;
        const char *why;

        if (a->wire_opts && (strcmp(key, "end0") == 0 || strcmp(key, "end1") == 0) && v &&
            v->type == YAML_MAPPING_NODE) {
                struct end_arg e = {a, key};
                each_pair(c, v, end_pair, &e);
                return;
        }
        val = scalar(c, v, a->what);
        if (!val)
                return;
        if ((why = a->wire_opts ? bn_topo_check_wire_key(key) : bn_topo_check_ident(key))) {
                ERR(c, k, "%s name '%s' %s", a->what, key, why);
                return;
        }
        if (a->wire_opts && (why = bn_topo_check_wire_opt(key, val))) {
                ERR(c, v, "%s", why);
                return;
        }
        if (bn_kvlist_add(a->list, key, val))
                c->oom = 1;
}

static void read_kv(struct pctx *c, yaml_node_t *v, struct bn_kvlist *l, const char *what,
                    int wire_opts)
{
        struct kv_arg a = {l, what, wire_opts};

        if (is_empty_scalar(v) || !is_mapping(c, v, what))
                return;
        each_pair(c, v, kv_pair, &a);
}

/* ---- hosts ---- */

static void host_field(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
        struct bn_topo_host *h = arg;
        const char *s;

        if (strcmp(key, "site") == 0 || strcmp(key, "domain") == 0) {
                if (!(s = nonempty(c, v, key)))
                        return;
                if (key[0] == 's')
                        h->site = dup_or_oom(c, s);
                else
                        h->domain = dup_or_oom(c, s);
        } else {
                ERR(c, k, "unknown host key '%s' (expected site, domain)", key);
        }
}

static void host_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
        struct bn_topo *t = c->t;
        struct bn_topo_host *nh, *h;
        const char *why;

        (void)arg;
        if ((why = bn_topo_check_host_name(key))) {
                ERR(c, k, "bad host name '%s': %s", key, why);
                return;
        }
        nh = bn_topo_grow(t->hosts, t->n_hosts, sizeof(*nh));
        if (!nh) {
                c->oom = 1;
                return;
        }
        t->hosts = nh;
        h = &t->hosts[t->n_hosts++];
        memset(h, 0, sizeof(*h));
        h->name = dup_or_oom(c, key);
        h->loc = loc_of(k);
        if (!is_empty_scalar(v) && is_mapping(c, v, "a host"))
                each_pair(c, v, host_field, h);
}

/* ---- policy ---- */

static void policy_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
        struct bn_topo_policy *p = &c->t->policy;
        char **slot = NULL;
        const char *s, *why;

        (void)arg;
        if (strcmp(key, "same-host") == 0)
                slot = &p->same_host;
        else if (strcmp(key, "same-site") == 0)
                slot = &p->same_site;
        else if (strcmp(key, "same-domain") == 0)
                slot = &p->same_domain;
        else if (strcmp(key, "other-domain") == 0)
                slot = &p->other_domain;
        if (!slot) {
                ERR(c, k,
                    "unknown policy key '%s' (expected same-host, same-site, same-domain, "
                    "other-domain)",
                    key);
                return;
        }
        if (!(s = nonempty(c, v, key)))
                return;
        if ((why = bn_topo_check_ident(s))) {
                ERR(c, v, "bad wire type '%s': %s", s, why);
                return;
        }
        *slot = dup_or_oom(c, s);
}

/* ---- endpoints ---- */

struct ep_tmp {
        struct bn_topo_ep *e;
        int have_kind;
};

static void ep_field(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
        struct ep_tmp *et = arg;
        struct bn_topo_ep *e = et->e;
        const char *s, *why;

        if (strcmp(key, "kind") == 0) {
                if (!(s = nonempty(c, v, "kind")))
                        return;
                if (strcmp(s, "spike") == 0) {
                        e->kind = BN_TOPO_SPIKE;
                } else if (strcmp(s, "corm") == 0) {
                        e->kind = BN_TOPO_CORM;
                } else {
                        ERR(c, v, "kind must be spike or corm, not '%s'", s);
                        return;
                }
                et->have_kind = 1;
        } else if (strcmp(key, "class") == 0) {
                if (!(s = nonempty(c, v, "class")))
                        return;
                if ((why = bn_topo_check_ident(s))) {
                        ERR(c, v, "bad class '%s': %s", s, why);
                        return;
                }
                e->cls = dup_or_oom(c, s);
                e->cls_loc = loc_of(v);
        } else if (strcmp(key, "location") == 0) {
                if (!(s = nonempty(c, v, "location")))
                        return;
                e->location = dup_or_oom(c, s);
        } else if (strcmp(key, "params") == 0) {
                read_kv(c, v, &e->params, "a parameter", 0);
        } else {
                ERR(c, k, "unknown endpoint key '%s' (expected kind, class, location, params)",
                    key);
        }
}

static void ep_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
        struct bn_topo *t = c->t;
        struct bn_topo_ep *ne, *e;
        struct ep_tmp et;
        const char *why;
        int errs0 = (int)c->errs->n;

        (void)arg;
        if ((why = bn_topo_check_ep_name(key))) {
                ERR(c, k, "bad endpoint name '%s': %s", key, why);
                return;
        }
        ne = bn_topo_grow(t->eps, t->n_eps, sizeof(*ne));
        if (!ne) {
                c->oom = 1;
                return;
        }
        t->eps = ne;
        e = &t->eps[t->n_eps++];
        memset(e, 0, sizeof(*e));
        e->name = dup_or_oom(c, key);
        e->home = bn_topo_home(key);
        if (!e->home)
                c->oom = 1;
        e->loc = loc_of(k);
        et.e = e;
        et.have_kind = 0;
        if (!is_mapping(c, v, "an endpoint"))
                return;
        each_pair(c, v, ep_field, &et);
        if ((int)c->errs->n != errs0)
                return;
        if (!et.have_kind) {
                ERR(c, k, "endpoint '%s' has no kind (spike or corm)", key);
                return;
        }
        if (e->kind == BN_TOPO_SPIKE) {
                int r = bn_topo_split_spike(key, &e->vm, &e->dev);
                if (r == -ENOMEM) {
                        c->oom = 1;
                } else if (r) {
                        ERR(c, k, "spike '%s' must be named host/vm/device (e.g. hostA/vm7/vif0)",
                            key);
                } else if (!e->cls) {
                        const char *dc = bn_topo_spike_class(e->dev);
                        if (dc)
                                e->cls = dup_or_oom(c, dc);
                        else
                                ERR(c, k, "spike '%s' needs a class (device '%s' does not say)",
                                    key, e->dev);
                }
        } else if (!e->cls) {
                ERR(c, k, "corm '%s' needs a class", key);
        }
        if (!e->location) {
                e->location = dup_or_oom(c, e->home);
                e->location_default = true;
        }
}

/* ---- wires ---- */

static int has_key(struct pctx *c, yaml_node_t *map, const char *key)
{
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
             p++) {
                yaml_node_t *k = node(c, p->key);
                if (k && k->type == YAML_SCALAR_NODE &&
                    strcmp((const char *)k->data.scalar.value, key) == 0)
                        return 1;
        }
        return 0;
}

static void wire_field(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
        struct bn_topo_wire *w = arg;
        const char *s, *why;

        if (strcmp(key, "ends") == 0) {
                yaml_node_item_t *i0, *top;
                int n;
                if (v->type != YAML_SEQUENCE_NODE) {
                        ERR(c, v, "ends must be a list of two endpoint names");
                        return;
                }
                i0 = v->data.sequence.items.start;
                top = v->data.sequence.items.top;
                n = (int)(top - i0);
                if (n != 2) {
                        ERR(c, v, "a wire has exactly two ends, not %d", n);
                        return;
                }
                for (int j = 0; j < 2; j++) {
                        yaml_node_t *en = node(c, i0[j]);
                        if (!en || !(s = nonempty(c, en, "an end")))
                                continue;
                        if ((why = bn_topo_check_ep_name(s))) {
                                ERR(c, en, "bad endpoint name '%s': %s", s, why);
                                continue;
                        }
                        w->end[j] = dup_or_oom(c, s);
                        w->end_loc[j] = loc_of(en);
                }
        } else if (strcmp(key, "type") == 0) {
                if (!(s = nonempty(c, v, "type")))
                        return;
                if ((why = bn_topo_check_ident(s))) {
                        ERR(c, v, "bad wire type '%s': %s", s, why);
                        return;
                }
                free(w->type);
                w->type = dup_or_oom(c, s);
                w->type_loc = loc_of(v);
        } else if (strcmp(key, "options") == 0) {
                read_kv(c, v, &w->opts, "a wire option", 1);
        } else {
                ERR(c, k, "unknown wire key '%s' (expected ends, type, options)", key);
        }
}

static void wire_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
        struct bn_topo *t = c->t;
        struct bn_topo_wire *nw, *w;
        const char *why;

        (void)arg;
        if ((why = bn_topo_check_wire_name(key))) {
                ERR(c, k, "bad wire name '%s': %s", key, why);
                return;
        }
        nw = bn_topo_grow(t->wires, t->n_wires, sizeof(*nw));
        if (!nw) {
                c->oom = 1;
                return;
        }
        t->wires = nw;
        w = &t->wires[t->n_wires++];
        memset(w, 0, sizeof(*w));
        w->name = dup_or_oom(c, key);
        w->loc = w->end_loc[0] = w->end_loc[1] = w->type_loc = loc_of(k);
        if (!is_mapping(c, v, "a wire"))
                return;
        each_pair(c, v, wire_field, w);
        if (!w->end[0] && !w->end[1] && v->type == YAML_MAPPING_NODE && !has_key(c, v, "ends"))
                ERR(c, k, "wire '%s' has no ends", key);
}

/* ---- document ---- */

/* A section (hosts, endpoints, wires) of at most BN_TOPO_ITEMS_MAX items. */
static void section(struct pctx *c, yaml_node_t *k, yaml_node_t *v, const char *what, pair_fn fn)
{
        if (is_empty_scalar(v) || !is_mapping(c, v, what))
                return;
        if (v->data.mapping.pairs.top - v->data.mapping.pairs.start > BN_TOPO_ITEMS_MAX) {
                ERR(c, k, "more than %d %s", BN_TOPO_ITEMS_MAX, what);
                return;
        }
        each_pair(c, v, fn, NULL);
}

static void top_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
        (void)arg;
        if (strcmp(key, "version") == 0) {
                const char *s = scalar(c, v, "version");
                if (s && strcmp(s, "1") != 0)
                        ERR(c, v, "unsupported version '%s' (this banana reads version 1)", s);
        } else if (strcmp(key, "hosts") == 0) {
                section(c, k, v, "hosts", host_pair);
        } else if (strcmp(key, "policy") == 0) {
                if (!is_empty_scalar(v) && is_mapping(c, v, "policy"))
                        each_pair(c, v, policy_pair, NULL);
        } else if (strcmp(key, "endpoints") == 0) {
                section(c, k, v, "endpoints", ep_pair);
        } else if (strcmp(key, "wires") == 0) {
                section(c, k, v, "wires", wire_pair);
        } else {
                ERR(c, k,
                    "unknown top-level key '%s' (expected version, hosts, policy, endpoints, "
                    "wires)",
                    key);
        }
}

/* Cross references, once every section is read. */
static void check_refs(struct pctx *c)
{
        struct bn_topo *t = c->t;
        const char **spike_wire = calloc(t->n_eps ? t->n_eps : 1, sizeof(*spike_wire));

        if (!spike_wire) {
                c->oom = 1;
                return;
        }
        for (size_t i = 0; i < t->n_eps; i++) {
                struct bn_topo_ep *e = &t->eps[i];
                if (e->home && !bn_topo_host_find(t, e->home))
                        bn_topo_err(c->errs, c->file, e->loc,
                                    "endpoint '%s': host '%s' is not declared under hosts", e->name,
                                    e->home);
                else if (e->location && strcmp(e->location, e->home) != 0 &&
                         !bn_topo_host_find(t, e->location))
                        bn_topo_err(c->errs, c->file, e->loc,
                                    "endpoint '%s': location '%s' is not declared under hosts",
                                    e->name, e->location);
        }
        for (size_t i = 0; i < t->n_wires; i++) {
                struct bn_topo_wire *w = &t->wires[i];
                const struct bn_topo_ep *ep[2] = {NULL, NULL};
                int bad = 0;
                for (int j = 0; j < 2; j++) {
                        if (!w->end[j]) {
                                bad = 1;
                                continue;
                        }
                        ep[j] = bn_topo_ep_find(t, w->end[j]);
                        if (!ep[j]) {
                                bn_topo_err(c->errs, c->file, w->end_loc[j],
                                            "wire '%s': endpoint '%s' is not declared under "
                                            "endpoints",
                                            w->name, w->end[j]);
                                bad = 1;
                        }
                }
                if (bad)
                        continue;
                if (ep[0] == ep[1]) {
                        bn_topo_err(c->errs, c->file, w->loc,
                                    "wire '%s' joins endpoint '%s' to itself", w->name,
                                    ep[0]->name);
                        continue;
                }
                if (ep[0]->cls && ep[1]->cls && strcmp(ep[0]->cls, ep[1]->cls) != 0) {
                        bn_topo_err(c->errs, c->file, w->loc,
                                    "wire '%s' joins '%s' (class %s) to '%s' (class %s)", w->name,
                                    ep[0]->name, ep[0]->cls, ep[1]->name, ep[1]->cls);
                        continue;
                }
                for (int j = 0; j < 2; j++) {
                        size_t idx = (size_t)(ep[j] - t->eps);
                        if (ep[j]->kind != BN_TOPO_SPIKE)
                                continue;
                        if (spike_wire[idx]) {
                                bn_topo_err(c->errs, c->file, w->loc,
                                            "wire '%s': spike '%s' is already an end of wire '%s'",
                                            w->name, ep[j]->name, spike_wire[idx]);
                                bad = 1;
                        } else {
                                spike_wire[idx] = w->name;
                        }
                }
                if (bad || w->type || !ep[0]->location || !ep[1]->location)
                        continue;
                w->type = dup_or_oom(
                    c, bn_topo_policy_for_class(
                           bn_topo_policy_pick(
                               &t->policy, ep[0]->location, bn_topo_host_find(t, ep[0]->location),
                               ep[1]->location, bn_topo_host_find(t, ep[1]->location)),
                           ep[0]->cls ? ep[0]->cls : ep[1]->cls));
                w->type_auto = true;
        }
        free(spike_wire);
}

int bn_topo_parse(const char *file, const char *buf, size_t len, struct bn_topo **out,
                  struct bn_topo_errs *errs)
{
        struct pctx c = {.file = file ? file : "<input>", .errs = errs};
        yaml_parser_t parser;
        yaml_node_t *root;
        int have_doc = 0, r = -EINVAL;

        *out = NULL;
        c.t = calloc(1, sizeof(*c.t));
        if (!c.t)
                return -ENOMEM;
        c.t->file = strdup(c.file);
        if ((r = bn_topo_prescan(c.file, buf, len, errs)))
                goto out;
        r = -EINVAL;
        if (!yaml_parser_initialize(&parser)) {
                r = -ENOMEM;
                goto out;
        }
        yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
        if (!yaml_parser_load(&parser, &c.doc)) {
                bn_topo_syntax_err(errs, c.file, buf, len, &parser);
                yaml_parser_delete(&parser);
                goto out;
        }
        have_doc = 1;
        yaml_parser_delete(&parser);
        root = yaml_document_get_root_node(&c.doc);
        if (!root) {
                struct bn_topo_loc l = {0, 0};
                bn_topo_err(errs, c.file, l, "empty topology");
                goto out;
        }
        if (is_mapping(&c, root, "the topology")) {
                each_pair(&c, root, top_pair, NULL);
                bn_topo_policy_defaults(&c.t->policy);
                if (!c.t->policy.same_host || !c.t->policy.same_site || !c.t->policy.same_domain ||
                    !c.t->policy.other_domain)
                        c.oom = 1;
                check_refs(&c);
        }
        if (c.oom || !c.t->file) {
                r = -ENOMEM;
                goto out;
        }
        if (errs->n)
                goto out;
        *out = c.t;
        c.t = NULL;
        r = 0;
out:
        if (have_doc)
                yaml_document_delete(&c.doc);
        bn_topo_free(c.t);
        if (r == -EINVAL && !errs->n) {
                struct bn_topo_loc l = {0, 0};
                bn_topo_err(errs, c.file, l, "invalid topology");
        }
        return r;
}

int bn_topo_parse_file(const char *path, struct bn_topo **out, struct bn_topo_errs *errs)
{
        struct bn_topo_loc nol = {0, 0};
        struct stat st;
        char *buf = NULL;
        size_t got = 0;
        int fd, r;

        *out = NULL;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                bn_topo_err(errs, path, nol, "cannot open: %s", strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > TOPO_FILE_MAX) {
                bn_topo_err(errs, path, nol, "not a regular file of at most 16 MiB");
                r = -EINVAL;
                goto out;
        }
        buf = malloc((size_t)st.st_size + 1);
        if (!buf) {
                r = -ENOMEM;
                goto out;
        }
        while (got < (size_t)st.st_size) {
                ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : -EIO;
                        bn_topo_err(errs, path, nol, "read failed: %s", strerror(-r));
                        goto out;
                }
                got += (size_t)n;
        }
        r = bn_topo_parse(path, buf, got, out, errs);
out:
        free(buf);
        close(fd);
        return r;
}
