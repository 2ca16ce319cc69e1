/* ctl_model.c: the desired state as the controller stores it (one JSON
 * value per host, endpoint, wire and the policy), and loading it back into
 * a struct bn_topo. The diff between two topologies: ctl_diff.c.
 */
#include "ctl_int.h"

#include "bn_json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_object *kv_json(const struct bn_kvlist *l)
{
        json_object *o = json_object_new_object();

        for (size_t i = 0; o && i < l->n; i++)
                json_object_object_add(o, l->v[i].key, json_object_new_string(l->v[i].value));
        return o;
}

void ctl_json_add_str(json_object *o, const char *k, const char *v)
{
        if (v)
                json_object_object_add(o, k, json_object_new_string(v));
}

json_object *ctl_ep_json(const struct bn_topo_ep *e)
{
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        ctl_json_add_str(o, "kind", e->kind == BN_TOPO_SPIKE ? "spike" : "corm");
        ctl_json_add_str(o, "class", e->cls);
        ctl_json_add_str(o, "location", e->location);
        json_object_object_add(o, "params", kv_json(&e->params));
        if (e->epoch)
                json_object_object_add(o, "epoch", json_object_new_int64(e->epoch));
        if (e->by_connect)
                ctl_json_add_str(o, "origin", "connect");
        return o;
}

json_object *ctl_wire_json(const struct bn_topo_wire *w)
{
        json_object *o = json_object_new_object(), *ends = json_object_new_array();

        if (!o || !ends) {
                json_object_put(o);
                json_object_put(ends);
                return NULL;
        }
        json_object_array_add(ends, json_object_new_string(w->end[0]));
        json_object_array_add(ends, json_object_new_string(w->end[1]));
        json_object_object_add(o, "ends", ends);
        ctl_json_add_str(o, "type", w->type);
        json_object_object_add(o, "auto", json_object_new_boolean(w->type_auto));
        json_object_object_add(o, "options", kv_json(&w->opts));
        if (w->by_connect)
                ctl_json_add_str(o, "origin", "connect");
        return o;
}

json_object *ctl_host_json(const struct bn_topo_host *h)
{
        json_object *o = json_object_new_object();

        if (o) {
                ctl_json_add_str(o, "site", h->site);
                ctl_json_add_str(o, "domain", h->domain);
        }
        return o;
}

json_object *ctl_policy_json(const struct bn_topo_policy *p)
{
        json_object *o = json_object_new_object();

        if (o) {
                ctl_json_add_str(o, "same-host", p->same_host);
                ctl_json_add_str(o, "same-site", p->same_site);
                ctl_json_add_str(o, "same-domain", p->same_domain);
                ctl_json_add_str(o, "other-domain", p->other_domain);
        }
        return o;
}

/* ---- loading the store: every record is checked as strictly as a
 * topology file (names, identifiers, member types, wire options); the
 * first bad one fails the load with its key and what is wrong. ---- */

struct load_ctx {
        struct bn_topo *t;
        struct bn_ctl *c;
        int r;
        char *err;
        size_t errlen;
};

/* Fail the load: "store: key 'K': why". Returns lc->r. */
static int bad(struct load_ctx *lc, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(struct load_ctx *lc, const char *key, const char *fmt, ...)
{
        char why[320];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        snprintf(lc->err, lc->errlen, "store: key '%.300s': %s", key, why);
        return lc->r = -EBADMSG;
}

static int nomem(struct load_ctx *lc)
{
        snprintf(lc->err, lc->errlen, "out of memory loading the desired state");
        return lc->r = -ENOMEM;
}

/* Optional string member k into *dst (malloc'd; NULL when absent), checked
 * by check (may be NULL). */
static int opt_str(struct load_ctx *lc, const char *key, json_object *o, const char *k,
                   const char *(*check)(const char *), char **dst)
{
        char why[256] = "";
        const char *v, *w;
        int r = bn_json_get_str(o, k, &v, why, sizeof(why));

        if (r == -ENOENT)
                return 0;
        if (r)
                return bad(lc, key, "%s", why);
        if (check && (w = check(v)))
                return bad(lc, key, "'%s' is '%.64s': %s", k, v, w);
        if (!(*dst = strdup(v)))
                return nomem(lc);
        return 0;
}

/* "origin": absent or "topology" (the topology's), "connect" (bananactl
 * connect made it). */
static int load_origin(struct load_ctx *lc, const char *key, json_object *o, bool *by_connect)
{
        char why[256] = "";
        const char *v;
        int r = bn_json_get_str(o, "origin", &v, why, sizeof(why));

        *by_connect = false;
        if (r == -ENOENT)
                return 0;
        if (r)
                return bad(lc, key, "%s", why);
        if (strcmp(v, "connect") == 0)
                *by_connect = true;
        else if (strcmp(v, "topology") != 0)
                return bad(lc, key, "'origin' must be connect or topology, not '%.64s'", v);
        return 0;
}

/* A map of string values (params, options) whose keys are identifiers. */
static int load_kv(struct load_ctx *lc, const char *key, json_object *o, const char *k,
                   bool wire_opts, struct bn_kvlist *l)
{
        char why[256] = "";
        json_object *m;
        int r = bn_json_get_obj(o, k, &m, why, sizeof(why));

        if (r == -ENOENT)
                return 0;
        if (r)
                return bad(lc, key, "%s", why);
        json_object_object_foreach(m, mk, mv)
        {
                const char *v, *w;
                if (bn_json_as_str(mv, mk, &v, why, sizeof(why)))
                        return bad(lc, key, "%s: %s", k, why);
                if ((w = wire_opts ? bn_topo_check_wire_key(mk) : bn_topo_check_ident(mk)))
                        return bad(lc, key, "%s: name '%.64s' %s", k, mk, w);
                if (wire_opts && (w = bn_topo_check_wire_opt(mk, v)))
                        return bad(lc, key, "%s", w);
                if (bn_kvlist_add(l, mk, v))
                        return nomem(lc);
        }
        return 0;
}

static json_object *parse_val(struct load_ctx *lc, const char *key, const char *value,
                              const char *const *members)
{
        json_object *o = json_tokener_parse(value);
        char why[256] = "";

        if (!o || !json_object_is_type(o, json_type_object)) {
                bad(lc, key, "the value is not a JSON object");
                json_object_put(o);
                return NULL;
        }
        if (bn_json_check_keys(o, members, "the record", why, sizeof(why))) {
                bad(lc, key, "%s", why);
                json_object_put(o);
                return NULL;
        }
        return o;
}

static const char *const host_members[] = {"site", "domain", NULL};
static const char *const ep_members[] = {"kind",   "class", "location", "params",
                                         "origin", "epoch", NULL};
static const char *const wire_members[] = {"ends", "type", "auto", "options", "origin", NULL};
static const char *const policy_members[] = {"same-host", "same-site", "same-domain",
                                             "other-domain", NULL};

static int load_host(struct load_ctx *lc, const char *key, const char *name, const char *value)
{
        struct bn_topo *t = lc->t;
        json_object *o;
        struct bn_topo_host *nh;
        const char *why;

        if ((why = bn_topo_check_host_name(name)))
                return bad(lc, key, "bad host name: %s", why);
        if (!(o = parse_val(lc, key, value, host_members)))
                return lc->r;
        nh = bn_topo_grow(t->hosts, t->n_hosts, sizeof(*nh));
        if (!nh) {
                json_object_put(o);
                return nomem(lc);
        }
        t->hosts = nh;
        nh = &t->hosts[t->n_hosts++];
        memset(nh, 0, sizeof(*nh));
        if (!(nh->name = strdup(name)))
                nomem(lc);
        else if (!opt_str(lc, key, o, "site", NULL, &nh->site))
                opt_str(lc, key, o, "domain", NULL, &nh->domain);
        json_object_put(o);
        return lc->r;
}

static int load_ep(struct load_ctx *lc, const char *key, const char *name, const char *value)
{
        struct bn_topo *t = lc->t;
        json_object *o, *ep = NULL;
        struct bn_topo_ep *e;
        char *kind = NULL;
        const char *why;

        if ((why = bn_topo_check_ep_name(name)))
                return bad(lc, key, "bad endpoint name: %s", why);
        if (!(o = parse_val(lc, key, value, ep_members)))
                return lc->r;
        e = bn_topo_grow(t->eps, t->n_eps, sizeof(*e));
        if (!e) {
                json_object_put(o);
                return nomem(lc);
        }
        t->eps = e;
        e = &t->eps[t->n_eps++];
        memset(e, 0, sizeof(*e));
        if (!(e->name = strdup(name)) || !(e->home = bn_topo_home(name))) {
                nomem(lc);
                goto out;
        }
        if (opt_str(lc, key, o, "kind", NULL, &kind) ||
            opt_str(lc, key, o, "class", bn_topo_check_ident, &e->cls) ||
            opt_str(lc, key, o, "location", bn_topo_check_host_name, &e->location) ||
            load_origin(lc, key, o, &e->by_connect) ||
            load_kv(lc, key, o, "params", false, &e->params))
                goto out;
        if (!kind || (strcmp(kind, "spike") != 0 && strcmp(kind, "corm") != 0)) {
                bad(lc, key, "'kind' must be spike or corm");
                goto out;
        }
        e->kind = strcmp(kind, "corm") == 0 ? BN_TOPO_CORM : BN_TOPO_SPIKE;
        if (json_object_object_get_ex(o, "epoch", &ep) &&
            (!json_object_is_type(ep, json_type_int) || json_object_get_int64(ep) < 0 ||
             json_object_get_int64(ep) > UINT32_MAX)) {
                bad(lc, key, "'epoch' must be a number 0..%u", UINT32_MAX);
                goto out;
        }
        e->epoch = ep ? (uint32_t)json_object_get_int64(ep) : 0;
        if (!e->cls) {
                bad(lc, key, "an endpoint record needs a class");
                goto out;
        }
        if (!e->location && !(e->location = strdup(e->home))) {
                nomem(lc);
                goto out;
        }
        if (e->kind == BN_TOPO_SPIKE) {
                int r = bn_topo_split_spike(e->name, &e->vm, &e->dev);
                if (r == -ENOMEM)
                        nomem(lc);
                else if (r)
                        bad(lc, key, "a spike is named host/vm/device");
        }
out:
        free(kind);
        json_object_put(o);
        return lc->r;
}

static int load_wire(struct load_ctx *lc, const char *key, const char *name, const char *value)
{
        struct bn_topo *t = lc->t;
        json_object *o, *ends = NULL;
        struct bn_topo_wire *w;
        char why[256] = "";
        const char *end, *ck;
        bool au = false;
        int r;

        if ((ck = bn_topo_check_wire_name(name)))
                return bad(lc, key, "bad wire name: %s", ck);
        if (!(o = parse_val(lc, key, value, wire_members)))
                return lc->r;
        w = bn_topo_grow(t->wires, t->n_wires, sizeof(*w));
        if (!w) {
                json_object_put(o);
                return nomem(lc);
        }
        t->wires = w;
        w = &t->wires[t->n_wires++];
        memset(w, 0, sizeof(*w));
        if (!(w->name = strdup(name))) {
                nomem(lc);
                goto out;
        }
        if ((r = bn_json_get_arr(o, "ends", &ends, why, sizeof(why))) ||
            json_object_array_length(ends) != 2) {
                bad(lc, key, "%s", r == -EINVAL ? why : "'ends' must be a list of two endpoints");
                goto out;
        }
        for (size_t j = 0; j < 2; j++) {
                if (bn_json_idx_str(ends, j, "ends", &end, why, sizeof(why))) {
                        bad(lc, key, "%s", why);
                        goto out;
                }
                if ((ck = bn_topo_check_ep_name(end))) {
                        bad(lc, key, "ends[%zu] '%.64s': %s", j, end, ck);
                        goto out;
                }
                if (!(w->end[j] = strdup(end))) {
                        nomem(lc);
                        goto out;
                }
        }
        if (opt_str(lc, key, o, "type", bn_topo_check_ident, &w->type) ||
            load_origin(lc, key, o, &w->by_connect) ||
            load_kv(lc, key, o, "options", true, &w->opts))
                goto out;
        if (!w->type) {
                bad(lc, key, "a wire record needs a type");
                goto out;
        }
        if ((r = bn_json_get_bool(o, "auto", &au, why, sizeof(why))) == -EINVAL) {
                bad(lc, key, "%s", why);
                goto out;
        }
        w->type_auto = au;
out:
        json_object_put(o);
        return lc->r;
}

static int load_policy(struct load_ctx *lc, const char *key, const char *value)
{
        struct bn_topo_policy *p = &lc->t->policy;
        json_object *o = parse_val(lc, key, value, policy_members);

        if (!o)
                return lc->r;
        if (!opt_str(lc, key, o, "same-host", bn_topo_check_ident, &p->same_host) &&
            !opt_str(lc, key, o, "same-site", bn_topo_check_ident, &p->same_site) &&
            !opt_str(lc, key, o, "same-domain", bn_topo_check_ident, &p->same_domain))
                opt_str(lc, key, o, "other-domain", bn_topo_check_ident, &p->other_domain);
        json_object_put(o);
        return lc->r;
}

static bool prefixed(const char *key, const char *prefix, const char **rest)
{
        size_t n = strlen(prefix);

        if (strncmp(key, prefix, n) != 0)
                return false;
        *rest = key + n;
        return true;
}

/* One store pair: dispatched by its key's prefix; a key the controller
 * does not write is an error. */
static int load_pair(void *arg, const char *key, const char *value)
{
        struct load_ctx *lc = arg;
        const char *name;

        if (prefixed(key, CTL_K_HOST, &name))
                return load_host(lc, key, name, value);
        if (prefixed(key, CTL_K_EP, &name))
                return load_ep(lc, key, name, value);
        if (prefixed(key, CTL_K_WIRE, &name))
                return load_wire(lc, key, name, value);
        if (strcmp(key, CTL_K_POLICY) == 0)
                return load_policy(lc, key, value);
        if (ctl_live_key(key))
                return 0; /* live state of a cluster (ctl_cluster.c), not desired state */
        if (strcmp(key, CTL_K_GEN) == 0) {
                size_t n = strlen(value);
                if (n == 0 || n >= sizeof(lc->c->gen) || strspn(value, "0123456789") != n)
                        return bad(lc, key, "not a counter");
                memcpy(lc->c->gen, value, n + 1);
                return 0;
        }
        return bad(lc, key,
                   "not a key banana writes (hosts/, endpoints/, wires/, policy, members/, "
                   "seen/, reports/)");
}

const char *const ctl_live_prefixes[] = {CTL_K_MEMBER, CTL_K_SEEN,     CTL_K_REPORT,
                                         CTL_K_MIG,    CTL_K_CSWAP_ST, NULL};

bool ctl_live_key(const char *key)
{
        /* live too, but not quiet: the old Corm's host watches them (ctl_swap_corm.c) */
        if (!strncmp(key, CTL_K_CSWAP, strlen(CTL_K_CSWAP)))
                return true;
        for (size_t i = 0; ctl_live_prefixes[i]; i++)
                if (!strncmp(key, ctl_live_prefixes[i], strlen(ctl_live_prefixes[i])))
                        return true;
        return false;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every pair of data (a JSON object of strings), in key order. */
static int load_json_pairs(json_object *data, struct load_ctx *lc)
{
        size_t n = (size_t)json_object_object_length(data), i = 0;
        const char **keys = calloc(n ? n : 1, sizeof(*keys));
        int r = 0;

        if (!keys)
                return nomem(lc);
        json_object_object_foreach(data, k, v)
        {
                (void)v;
                keys[i++] = k;
        }
        qsort(keys, n, sizeof(*keys), cmp_str);
        for (i = 0; i < n && !r; i++) {
                json_object *v = json_object_object_get(data, keys[i]);
                if (!json_object_is_type(v, json_type_string))
                        r = bad(lc, keys[i], "the value is not a string");
                else if (!strcmp(keys[i], CTL_K_GEN) || ctl_live_key(keys[i]))
                        r = bad(lc, keys[i],
                                "not desired state (a live key of the store it came from)");
                else
                        r = load_pair(lc, keys[i], json_object_get_string(v));
        }
        free(keys);
        return r;
}

int ctl_desired_load(struct bn_ctl *c, struct bn_topo **out, char *err, size_t errlen)
{
        return ctl_desired_parse(c, NULL, out, err, errlen);
}

int ctl_desired_load_pair(struct bn_ctl *c, struct bn_topo *t, const char *key, const char *value,
                          char *err, size_t errlen)
{
        struct load_ctx lc = {.c = c, .t = t, .err = err, .errlen = errlen};

        return load_pair(&lc, key, value);
}

int ctl_desired_parse(struct bn_ctl *c, json_object *data, struct bn_topo **out, char *err,
                      size_t errlen)
{
        struct load_ctx lc = {.c = c, .err = err, .errlen = errlen};
        int r;

        *out = NULL;
        if (!data)
                c->gen[0] = '\0';
        lc.t = calloc(1, sizeof(*lc.t));
        if (!lc.t || !(lc.t->file = strdup(data ? "import" : "store"))) {
                r = nomem(&lc);
                goto fail;
        }
        if ((r = data ? load_json_pairs(data, &lc) : bn_store_list(c->store, "", load_pair, &lc)))
                goto fail;
        bn_topo_policy_defaults(&lc.t->policy);
        if (!lc.t->policy.same_host || !lc.t->policy.same_site || !lc.t->policy.same_domain ||
            !lc.t->policy.other_domain) {
                r = nomem(&lc);
                goto fail;
        }
        *out = lc.t;
        return 0;
fail:
        if (!err[0])
                snprintf(err, errlen, "cannot load the desired state: %s",
                         bn_store_why(c->store, r));
        bn_topo_free(lc.t);
        return r;
}

/* ---- store operations ---- */

static int keep(struct ctl_opbuf *b, char *s)
{
        char **nk;

        if (!s)
                return -ENOMEM;
        nk = realloc(b->keep, (b->nkeep + 1) * sizeof(*nk));
        if (!nk) {
                free(s);
                return -ENOMEM;
        }
        b->keep = nk;
        b->keep[b->nkeep++] = s;
        return 0;
}

static int add_op(struct ctl_opbuf *b, enum bn_store_op_kind k, char *key, char *val)
{
        struct bn_store_op *no;

        if (keep(b, key) || (val && keep(b, val)))
                return -ENOMEM;
        no = realloc(b->ops, (b->n + 1) * sizeof(*no));
        if (!no)
                return -ENOMEM;
        b->ops = no;
        no[b->n++] = (struct bn_store_op){.kind = k, .key = key, .value = val};
        return 0;
}

int ctl_opbuf_put(struct ctl_opbuf *b, const char *prefix, const char *name, json_object *val)
{
        char *key = NULL, *text;

        if (!val)
                return -ENOMEM;
        if (asprintf(&key, "%s%s", prefix, name) < 0)
                key = NULL;
        text = strdup(json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN));
        json_object_put(val);
        if (!key || !text) {
                free(key);
                free(text);
                return -ENOMEM;
        }
        return add_op(b, BN_STORE_PUT, key, text);
}

int ctl_opbuf_put_text(struct ctl_opbuf *b, const char *key, const char *text)
{
        char *k = strdup(key), *v = strdup(text);

        if (!k || !v) {
                free(k);
                free(v);
                return -ENOMEM;
        }
        return add_op(b, BN_STORE_PUT, k, v);
}

int ctl_opbuf_del(struct ctl_opbuf *b, const char *prefix, const char *name)
{
        char *key = NULL;

        if (asprintf(&key, "%s%s", prefix, name) < 0)
                return -ENOMEM;
        return add_op(b, BN_STORE_DEL, key, NULL);
}

void ctl_ops_free(struct ctl_opbuf *b)
{
        for (size_t i = 0; i < b->nkeep; i++)
                free(b->keep[i]);
        free(b->keep);
        free(b->ops);
        memset(b, 0, sizeof(*b));
}
