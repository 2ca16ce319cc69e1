/* ctl_ops.c: the operations of the control protocol (docs/cli.md): status,
 * endpoints, wires, connect, disconnect (swap is in ctl_swap_op.c, apply
 * and diff in ctl_apply.c, migrate in ctl_migrate.c). Each takes the request object and
 * returns one reply object; failures say which endpoint or wire and what is
 * wrong. What connect stores carries "origin": "connect" (by_connect): apply
 * keeps it unless the file declares it or --prune.
 */
#include "ctl_int.h"

#include "bn_json.h"
#include "ctl_req.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bn_daemon.h"
#include "bn_hv.h"
#include "bn_log.h"
#include "bn_params.h"

#define CTX "control"

json_object *ctl_reply_error(const char *fmt, ...)
{
        json_object *o = json_object_new_object();
        char *msg = NULL;
        va_list ap;

        if (!o)
                return NULL;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        json_object_object_add(o, "ok", json_object_new_boolean(0));
        json_object_object_add(o, "error", json_object_new_string(msg ? msg : "out of memory"));
        free(msg);
        return o;
}

json_object *ctl_reply_ok(void)
{
        json_object *o = json_object_new_object();

        if (o)
                json_object_object_add(o, "ok", json_object_new_boolean(1));
        return o;
}

const char *ctl_arg_str(json_object *req, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(req, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* "shm, vxlan" */
void ctl_wire_types(struct bn_ctl *c, char *buf, size_t len)
{
        size_t o = 0;

        buf[0] = '\0';
        for (unsigned i = 0; i < c->d->wires.n && o < len; i++)
                o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
                                      c->d->wires.cls[i]->name);
        if (!c->d->wires.n)
                snprintf(buf, len, "none");
}

int ctl_type_available(struct bn_ctl *c, const char *type)
{
        void *ctx;

        return bn_wire_registry_find(&c->d->wires, type, &ctx) != NULL;
}

int ctl_wire_check(struct bn_ctl *c, const char *type, const char *devclass,
                   const struct bn_kvlist *opts, char *err, size_t errlen)
{
        void *ctx;
        const struct bn_wire_class *cls = bn_wire_registry_find(&c->d->wires, type, &ctx);
        const struct bn_devclass *dc = devclass ? bn_devclass_find(&c->d->classes, devclass) : NULL;
        struct bn_params p, e;
        int r = 0;

        if (!cls)
                return 0;
        /* what the class needs, the type gives? */
        if (dc && (r = bn_wire_caps_check(&cls->caps, cls->name, dc, err, errlen)))
                return r;
        if (!cls->check)
                return 0;
        if (ctl_params_from_kv(&p, opts)) {
                r = -ENOMEM;
                goto out;
        }
        /* each end's params as its port would get them */
        for (unsigned end = 0; end < 2 && !r; end++) {
                r = bn_wire_end_params(&p, end, &e, err, errlen);
                if (!r) {
                        r = cls->check(&e, err, errlen);
                        bn_params_clear(&e);
                }
        }
out:
        bn_params_clear(&p);
        if (r == -ENOMEM)
                snprintf(err, errlen, "out of memory");
        return r;
}

int ctl_commit(struct bn_ctl *c, struct ctl_opbuf *ops, char *err, size_t errlen)
{
        struct bn_store_op *all = calloc(ops->n + 2, sizeof(*all));
        char next[sizeof(c->gen)];
        uint64_t rev = 0;
        int r = -ENOMEM;

        if (!all) {
                snprintf(err, errlen, "out of memory");
                return r;
        }
        /* the desired state as ctl_desired_load read it, or nothing */
        snprintf(next, sizeof(next), "%llu", strtoull(c->gen, NULL, 10) + 1);
        all[0] = (struct bn_store_op){
            .kind = BN_STORE_EXPECT, .key = CTL_K_GEN, .value = c->gen[0] ? c->gen : NULL};
        all[1] = (struct bn_store_op){.kind = BN_STORE_PUT, .key = CTL_K_GEN, .value = next};
        memcpy(all + 2, ops->ops, ops->n * sizeof(*all));
        r = bn_store_commit(c->store, all, ops->n + 2, &rev, err, errlen);
        if (r == -ECANCELED && strstr(err, CTL_K_GEN)) {
                snprintf(err, errlen, "%s", CTL_MSG_RETRY);
                r = -EAGAIN;
        } else if (!r) {
                memcpy(c->gen, next, sizeof(next));
                ctl_desired_committed(c, all, ops->n + 2, rev);
        }
        if (r && !err[0])
                snprintf(err, errlen, "store: %s", strerror(-r));
        free(all);
        return r;
}

/* ---- status ---- */

static json_object *op_status(struct bn_ctl *c)
{
        json_object *o = ctl_reply_ok(), *cls = json_object_new_array(),
                    *wt = json_object_new_array(), *st = json_object_new_object();

        if (!o || !cls || !wt || !st) {
                json_object_put(o);
                json_object_put(cls);
                json_object_put(wt);
                json_object_put(st);
                return NULL;
        }
        for (unsigned i = 0; i < c->d->classes.n; i++)
                json_object_array_add(cls, json_object_new_string(c->d->classes.cls[i]->name));
        for (unsigned i = 0; i < c->d->wires.n; i++)
                json_object_array_add(wt, json_object_new_string(c->d->wires.cls[i]->name));
        json_object_object_add(st, "backend", json_object_new_string(c->store->ops->name));
        json_object_object_add(st, "revision",
                               json_object_new_int64((int64_t)bn_store_revision(c->store)));
        json_object_object_add(o, "host", json_object_new_string(c->d->host));
        json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
        json_object_object_add(o, "hypervisor",
                               json_object_new_string(c->d->hv ? bn_hv_name(c->d->hv) : "none"));
        json_object_object_add(o, "uptime",
                               json_object_new_int64((int64_t)(time(NULL) - c->started)));
        json_object_object_add(o, "store", st);
        json_object_object_add(o, "endpoints", json_object_new_int((int)c->d->eps.count));
        json_object_object_add(o, "wires", json_object_new_int((int)c->n_wires));
        json_object_object_add(o, "classes", cls);
        json_object_object_add(o, "wire_types", wt);
        if (c->clustered) {
                json_object_object_add(st, "reachable", json_object_new_boolean(!c->store_down));
                json_object_object_add(o, "members", ctl_cluster_members(c));
                json_object_object_add(o, "hosts", ctl_cluster_hosts(c));
        }
        return o;
}

/* ---- endpoints ---- */

static json_object *ep_entry(struct bn_ctl *c, const char *name, const struct bn_topo_ep *de,
                             struct bn_endpoint *ep, const struct bn_topo *t)
{
        json_object *o = json_object_new_object(), *wires = json_object_new_array();
        char msg[256] = "";

        if (!o || !wires) {
                json_object_put(o);
                json_object_put(wires);
                return NULL;
        }
        json_object_object_add(o, "name", json_object_new_string(name));
        if (ep) {
                enum bn_ep_state s = bn_endpoint_get_state(ep, msg, sizeof(msg));
                json_object_object_add(o, "kind",
                                       json_object_new_string(bn_ep_kind_name(ep->kind)));
                json_object_object_add(o, "class",
                                       json_object_new_string(ep->cls ? ep->cls->name : "-"));
                json_object_object_add(o, "location", json_object_new_string(c->d->host));
                json_object_object_add(o, "state", json_object_new_string(bn_ep_state_name(s)));
                json_object_object_add(o, "msgs_in",
                                       json_object_new_int64((int64_t)ep->counters.msgs_in));
                json_object_object_add(o, "bytes_in",
                                       json_object_new_int64((int64_t)ep->counters.bytes_in));
                json_object_object_add(o, "msgs_out",
                                       json_object_new_int64((int64_t)ep->counters.msgs_out));
                json_object_object_add(o, "bytes_out",
                                       json_object_new_int64((int64_t)ep->counters.bytes_out));
                json_object_object_add(o, "drops",
                                       json_object_new_int64((int64_t)ep->counters.drops));
                json_object_object_add(o, "errors",
                                       json_object_new_int64((int64_t)ep->counters.errors));
        } else {
                const char *state = "absent";
                if (de && strcmp(de->location, c->d->host) != 0 && c->clustered) {
                        /* what its host reported (adds state, error) */
                        ctl_cluster_item(c, de->location, "endpoints", name, o);
                        state = NULL;
                } else if (de && strcmp(de->location, c->d->host) != 0) {
                        state = "remote";
                } else if (de && de->kind == BN_TOPO_CORM) {
                        for (size_t i = 0; i < c->n_corms; i++)
                                if (strcmp(c->corms[i].name, name) == 0 && c->corms[i].error[0])
                                        snprintf(msg, sizeof(msg), "%s", c->corms[i].error);
                        state = "error";
                } else if (de) {
                        snprintf(msg, sizeof(msg), "waiting for the guest's device");
                }
                json_object_object_add(
                    o, "kind",
                    json_object_new_string(de->kind == BN_TOPO_SPIKE ? "spike" : "corm"));
                json_object_object_add(o, "class", json_object_new_string(de->cls ? de->cls : "-"));
                json_object_object_add(o, "location", json_object_new_string(de->location));
                if (state)
                        json_object_object_add(o, "state", json_object_new_string(state));
        }
        json_object_object_add(o, "declared", json_object_new_boolean(de != NULL));
        if (de)
                json_object_object_add(
                    o, "origin", json_object_new_string(de->by_connect ? "connect" : "topology"));
        if (msg[0])
                json_object_object_add(o, "error", json_object_new_string(msg));
        for (size_t i = 0; t && i < t->n_wires; i++)
                if (strcmp(t->wires[i].end[0], name) == 0 || strcmp(t->wires[i].end[1], name) == 0)
                        json_object_array_add(wires, json_object_new_string(t->wires[i].name));
        json_object_object_add(o, "wires", wires);
        return o;
}

struct ep_list {
        struct bn_ctl *c;
        const struct bn_topo *t;
        json_object *arr;
        const char *only;
};

static int ep_list_running(struct bn_endpoint *ep, void *arg)
{
        struct ep_list *l = arg;

        if (bn_topo_ep_find(l->t, ep->name))
                return 0; /* listed with the declared ones */
        if (l->only && strcmp(l->only, ep->name) != 0)
                return 0;
        json_object_array_add(l->arr, ep_entry(l->c, ep->name, NULL, ep, l->t));
        return 0;
}

static json_object *op_endpoints(struct bn_ctl *c, json_object *req)
{
        struct ep_list l = {.c = c, .only = ctl_arg_str(req, "name")};
        struct bn_topo *t = NULL;
        json_object *o;
        char err[256] = "";

        if (ctl_desired_get(c, &t, err, sizeof(err)))
                return ctl_reply_error("%s", err);
        l.t = t;
        l.arr = json_object_new_array();
        for (size_t i = 0; l.arr && i < t->n_eps; i++) {
                const struct bn_topo_ep *e = &t->eps[i];
                if (l.only && strcmp(l.only, e->name) != 0)
                        continue;
                json_object_array_add(
                    l.arr, ep_entry(c, e->name, e, bn_ep_registry_find(&c->d->eps, e->name), t));
        }
        bn_ep_registry_foreach(&c->d->eps, ep_list_running, &l);
        ctl_desired_put(c, t);
        if (l.only && json_object_array_length(l.arr) == 0) {
                json_object_put(l.arr);
                return ctl_reply_error("no endpoint named '%s'", l.only);
        }
        o = ctl_reply_ok();
        json_object_object_add(o, "endpoints", l.arr);
        return o;
}

/* ---- wires ---- */

static json_object *op_wires(struct bn_ctl *c, json_object *req)
{
        const char *only = ctl_arg_str(req, "name");
        struct bn_topo *t = NULL;
        json_object *arr, *o;
        char err[256] = "";

        if (ctl_desired_get(c, &t, err, sizeof(err)))
                return ctl_reply_error("%s", err);
        arr = json_object_new_array();
        for (size_t i = 0; arr && i < t->n_wires; i++) {
                const struct bn_topo_wire *w = &t->wires[i];
                struct rt_wire *rw = ctl_rt_wire(c, w->name);
                json_object *e = json_object_new_object(), *ends = json_object_new_array(),
                            *opts = json_object_new_object();
                char state[400];
                if (only && strcmp(only, w->name) != 0) {
                        json_object_put(e);
                        json_object_put(ends);
                        json_object_put(opts);
                        continue;
                }
                json_object_array_add(ends, json_object_new_string(w->end[0]));
                json_object_array_add(ends, json_object_new_string(w->end[1]));
                for (size_t k = 0; k < w->opts.n; k++)
                        json_object_object_add(
                            opts, w->opts.v[k].key,
                            json_object_new_string(ctl_secret_key(w->opts.v[k].key)
                                                       ? CTL_HIDDEN
                                                       : w->opts.v[k].value));
                json_object_object_add(e, "name", json_object_new_string(w->name));
                json_object_object_add(e, "type", json_object_new_string(w->type));
                json_object_object_add(e, "policy", json_object_new_boolean(w->type_auto));
                ctl_wire_why(c, t, w, state, sizeof(state));
                json_object_object_add(e, "why", json_object_new_string(state));
                json_object_object_add(e, "ends", ends);
                json_object_object_add(e, "options", opts);
                json_object_object_add(
                    e, "origin", json_object_new_string(w->by_connect ? "connect" : "topology"));
                if (rw) {
                        ctl_wire_state(c, rw, state, sizeof(state));
                        ctl_wire_counters(c, rw, e);
                } else {
                        snprintf(state, sizeof(state), "remote");
                }
                if (c->clustered)
                        ctl_cluster_wire_ends(c, t, w, rw, state, sizeof(state), e);
                ctl_swap_corm_progress(c, w->name, state, sizeof(state));
                json_object_object_add(e, "state", json_object_new_string(state));
                json_object_array_add(arr, e);
        }
        ctl_desired_put(c, t);
        if (only && json_object_array_length(arr) == 0) {
                json_object_put(arr);
                return ctl_reply_error("no wire named '%s'", only);
        }
        o = ctl_reply_ok();
        json_object_object_add(o, "wires", arr);
        return o;
}

/* ---- connect / disconnect / swap ---- */

/* The endpoint as a desired-state record: declared, or running here. */
static int resolve_end(struct bn_ctl *c, const struct bn_topo *t, const char *name,
                       struct bn_topo_ep *tmp, const struct bn_topo_ep **out, char *err,
                       size_t errlen)
{
        const char *why = bn_topo_check_ep_name(name);
        struct bn_endpoint *ep;

        *out = NULL;
        if (why) {
                snprintf(err, errlen, "bad endpoint name '%s': %s", name, why);
                return -EINVAL;
        }
        if ((*out = bn_topo_ep_find(t, name)))
                return 0;
        ep = bn_ep_registry_find(&c->d->eps, name);
        if (!ep) {
                snprintf(err, errlen,
                         "endpoint '%s' does not exist: not in the store and not running on %s",
                         name, c->d->host);
                return -ENOENT;
        }
        if (!ep->cls) { /* a record without a class would not load again */
                snprintf(err, errlen, "endpoint '%s' has no device class", name);
                return -EINVAL;
        }
        memset(tmp, 0, sizeof(*tmp));
        tmp->name = (char *)name;
        tmp->home = tmp->location = c->d->host;
        tmp->kind = ep->kind == BN_EP_SPIKE ? BN_TOPO_SPIKE : BN_TOPO_CORM;
        tmp->cls = (char *)ep->cls->name;
        tmp->by_connect = true;
        *out = tmp;
        return 1; /* to be added to the store */
}

static const char *wire_at(const struct bn_topo *t, const char *ep)
{
        for (size_t i = 0; i < t->n_wires; i++)
                if (strcmp(t->wires[i].end[0], ep) == 0 || strcmp(t->wires[i].end[1], ep) == 0)
                        return t->wires[i].name;
        return NULL;
}

/* After a change: the wire's local ends must have opened (or be waiting for
 * a Spike). Returns 0, or -EIO with the reason in err. */
int ctl_wire_outcome(struct bn_ctl *c, const char *name, char *err, size_t errlen)
{
        struct rt_wire *w = ctl_rt_wire(c, name);

        if (!w || !w->error[0] || strncmp(w->error, "waiting", 7) == 0)
                return 0;
        snprintf(err, errlen, "%s", w->error);
        return -EIO;
}

static json_object *op_connect(struct bn_ctl *c, json_object *req)
{
        const char *a = ctl_arg_str(req, "a"), *b = ctl_arg_str(req, "b"),
                   *type = ctl_arg_str(req, "type");
        const char *name = ctl_arg_str(req, "name"), *why;
        const struct bn_topo_ep *ea, *eb;
        struct bn_topo_ep ta, tb;
        struct bn_topo_wire w = {0};
        struct ctl_opbuf ops = {0};
        struct bn_topo *t = NULL;
        json_object *opts = NULL, *o = NULL;
        char err[512] = "", *defname = NULL;
        int ra, rb;

        if (!a || !b)
                return ctl_reply_error("connect needs two endpoints (a and b)");
        if (ctl_desired_get(c, &t, err, sizeof(err)))
                return ctl_reply_error("%s", err);
        if ((ra = resolve_end(c, t, a, &ta, &ea, err, sizeof(err))) < 0 ||
            (rb = resolve_end(c, t, b, &tb, &eb, err, sizeof(err))) < 0) {
                o = ctl_reply_error("connect %s %s: %s", a, b, err);
                goto out;
        }
        if (strcmp(a, b) == 0) {
                o = ctl_reply_error("connect %s %s: an endpoint cannot be wired to itself", a, b);
                goto out;
        }
        if (ea->cls && eb->cls && strcmp(ea->cls, eb->cls) != 0) {
                o = ctl_reply_error("connect %s %s: %s is class %s but %s is class %s", a, b, a,
                                    ea->cls, b, eb->cls);
                goto out;
        }
        for (int j = 0; j < 2; j++) {
                const struct bn_topo_ep *e = j ? eb : ea;
                const char *at = wire_at(t, e->name);
                if (e->kind == BN_TOPO_SPIKE && at) {
                        o = ctl_reply_error("connect %s %s: spike %s is already an end of wire %s",
                                            a, b, e->name, at);
                        goto out;
                }
        }
        if (!name) {
                if (asprintf(&defname, "%s--%s", a, b) < 0) {
                        defname = NULL;
                        goto out;
                }
                name = defname;
        }
        if ((why = bn_topo_check_wire_name(name))) {
                o = ctl_reply_error("bad wire name '%s': %s", name, why);
                goto out;
        }
        if (bn_topo_wire_find(t, name)) {
                o = ctl_reply_error("wire '%s' already exists", name);
                goto out;
        }
        w.name = (char *)name;
        w.end[0] = (char *)a;
        w.end[1] = (char *)b;
        w.by_connect = true; /* apply keeps it unless its file declares it */
        if (type) {
                if ((why = bn_topo_check_ident(type))) {
                        o = ctl_reply_error("bad wire type '%s': %s", type, why);
                        goto out;
                }
                w.type = (char *)type;
        } else {
                w.type = (char *)bn_topo_policy_for_class(
                    ctl_policy_pick(c, t, ea->location, eb->location, NULL, 0),
                    ea->cls ? ea->cls : eb->cls);
                w.type_auto = true;
        }
        if ((strcmp(ea->location, c->d->host) == 0 || strcmp(eb->location, c->d->host) == 0) &&
            !ctl_type_available(c, w.type)) {
                char list[256];
                ctl_wire_types(c, list, sizeof(list));
                o = ctl_reply_error("connect %s %s: wire type '%s' is not available on %s "
                                    "(available: %s)",
                                    a, b, w.type, c->d->host, list);
                goto out;
        }
        if (json_object_object_get_ex(req, "options", &opts) &&
            json_object_is_type(opts, json_type_object)) {
                json_object_object_foreach(opts, k, v)
                {
                        const char *val = NULL;
                        if (bn_json_as_str(v, k, &val, err, sizeof(err))) {
                                o = ctl_reply_error("connect %s %s: option %s", a, b, err);
                                goto out;
                        }
                        if ((why = bn_topo_check_wire_key(k)) ||
                            (why = bn_topo_check_wire_opt(k, val))) {
                                o = ctl_reply_error("connect %s %s: option '%s': %s", a, b, k, why);
                                goto out;
                        }
                        if (bn_kvlist_add(&w.opts, k, val))
                                goto out;
                }
        }
        if (ctl_vni_assign_one(t, &w, err, sizeof(err))) {
                o = ctl_reply_error("connect %s %s: wire '%s': %s", a, b, name, err);
                goto out;
        }
        /* what the wire type would refuse is refused before the store changes */
        if ((strcmp(ea->location, c->d->host) == 0 || strcmp(eb->location, c->d->host) == 0) &&
            ctl_wire_check(c, w.type, ea->cls ? ea->cls : eb->cls, &w.opts, err, sizeof(err))) {
                o = ctl_reply_error("connect %s %s: %s", a, b, err);
                goto out;
        }
        if ((ra == 1 && ctl_opbuf_put(&ops, CTL_K_EP, a, ctl_ep_json(ea))) ||
            (rb == 1 && ctl_opbuf_put(&ops, CTL_K_EP, b, ctl_ep_json(eb))) ||
            ctl_opbuf_put(&ops, CTL_K_WIRE, name, ctl_wire_json(&w)))
                goto out;
        if (ctl_commit(c, &ops, err, sizeof(err))) {
                o = ctl_reply_error("connect %s %s: %s", a, b, err);
                goto out;
        }
        ctl_reconcile_changed(c);
        if (ctl_wire_outcome(c, name, err, sizeof(err))) {
                /* refused by the wire or the endpoint: undo */
                char e2[256] = "";
                ctl_ops_free(&ops);
                ctl_opbuf_del(&ops, CTL_K_WIRE, name);
                if (ra == 1)
                        ctl_opbuf_del(&ops, CTL_K_EP, a);
                if (rb == 1)
                        ctl_opbuf_del(&ops, CTL_K_EP, b);
                ctl_commit(c, &ops, e2, sizeof(e2));
                ctl_reconcile_changed(c);
                o = ctl_reply_error("connect %s %s: %s", a, b, err);
                goto out;
        }
        bn_info(CTX, "connected %s and %s with wire %s (%s)", a, b, name, w.type);
        o = ctl_reply_ok();
        json_object_object_add(o, "wire", json_object_new_string(name));
        json_object_object_add(o, "type", json_object_new_string(w.type));
out:
        bn_kvlist_free(&w.opts);
        ctl_ops_free(&ops);
        ctl_desired_put(c, t);
        free(defname);
        return o;
}

static bool has_end(const struct bn_topo_wire *w, const char *ep)
{
        return strcmp(w->end[0], ep) == 0 || strcmp(w->end[1], ep) == 0;
}

/* Does disconnect NAME remove wire w? NAME is a wire's name (by_wire), else
 * an endpoint's: every wire at it. */
static bool disconnects(const struct bn_topo_wire *w, const char *name, bool by_wire)
{
        return by_wire ? strcmp(w->name, name) == 0 : has_end(w, name);
}

/* The endpoint records connect made that only the removed wires used:
 * delete them too (a guest's Spike connected by xl's hotplug script leaves
 * no record behind when xl destroy disconnects it). */
static int drop_connect_eps(const struct bn_topo *t, const char *name, bool by_wire,
                            struct ctl_opbuf *ops, json_object *gone)
{
        int r;

        for (size_t i = 0; i < t->n_eps; i++) {
                const struct bn_topo_ep *e = &t->eps[i];
                bool used = false, freed = false;
                if (!e->by_connect)
                        continue;
                for (size_t k = 0; k < t->n_wires && !used; k++) {
                        if (!has_end(&t->wires[k], e->name))
                                continue;
                        if (disconnects(&t->wires[k], name, by_wire))
                                freed = true;
                        else
                                used = true;
                }
                if (used || !freed)
                        continue;
                if ((r = ctl_opbuf_del(ops, CTL_K_EP, e->name)))
                        return r;
                json_object_array_add(gone, json_object_new_string(e->name));
        }
        return 0;
}

static json_object *op_disconnect(struct bn_ctl *c, json_object *req)
{
        const char *name = ctl_arg_str(req, "wire");
        struct ctl_opbuf ops = {0};
        struct bn_topo *t = NULL;
        json_object *o = NULL, *gone = NULL, *gone_eps = NULL;
        char err[512] = "";
        bool by_wire;

        if (!name)
                return ctl_reply_error("disconnect needs a wire name");
        if (ctl_desired_get(c, &t, err, sizeof(err)))
                return ctl_reply_error("%s", err);
        gone = json_object_new_array();
        gone_eps = json_object_new_array();
        if (!gone || !gone_eps)
                goto out;
        /* a wire's name, else an endpoint's name: every wire at it */
        by_wire = bn_topo_wire_find(t, name) != NULL;
        for (size_t i = 0; i < t->n_wires; i++) {
                if (!disconnects(&t->wires[i], name, by_wire))
                        continue;
                if (ctl_opbuf_del(&ops, CTL_K_WIRE, t->wires[i].name))
                        goto out;
                json_object_array_add(gone, json_object_new_string(t->wires[i].name));
        }
        if (!ops.n) {
                o = ctl_reply_error("no wire named '%s' (and no wire at an endpoint of that name)",
                                    name);
                goto out;
        }
        if (drop_connect_eps(t, name, by_wire, &ops, gone_eps))
                goto out;
        if (ctl_commit(c, &ops, err, sizeof(err))) {
                o = ctl_reply_error("disconnect %s: %s", name, err);
                goto out;
        }
        ctl_reconcile_changed(c);
        o = ctl_reply_ok();
        if (!o)
                goto out;
        json_object_object_add(o, "removed", gone);
        json_object_object_add(o, "removed_endpoints", gone_eps);
        gone = gone_eps = NULL;
out:
        json_object_put(gone);
        json_object_put(gone_eps);
        ctl_ops_free(&ops);
        ctl_desired_put(c, t);
        return o;
}

json_object *ctl_handle(struct bn_ctl *c, json_object *req)
{
        const char *op = ctl_arg_str(req, "op");
        char err[512] = "";

        if (ctl_req_check(req, err, sizeof(err)))
                return ctl_reply_error("%s", err);
        if (strcmp(op, "status") == 0)
                return op_status(c);
        if (strcmp(op, "endpoints") == 0)
                return op_endpoints(c, req);
        if (strcmp(op, "wires") == 0)
                return op_wires(c, req);
        if (strcmp(op, "connect") == 0)
                return op_connect(c, req);
        if (strcmp(op, "disconnect") == 0)
                return op_disconnect(c, req);
        if (strcmp(op, "swap") == 0)
                return ctl_op_swap(c, req); /* ctl_swap_op.c */
        if (strcmp(op, "apply") == 0)
                return ctl_op_apply(c, req, true);
        if (strcmp(op, "diff") == 0)
                return ctl_op_apply(c, req, false);
        if (strcmp(op, "migrate") == 0)
                return ctl_op_migrate(c, req);
        if (strcmp(op, "migration") == 0)
                return ctl_op_migration(c, req);
        if (strcmp(op, "store-export") == 0)
                return ctl_op_store_export(c);
        if (strcmp(op, "store-import") == 0)
                return ctl_op_store_import(c, req);
        if (strcmp(op, "snapshot") == 0)
                return ctl_op_snapshot(c, req);
        if (strcmp(op, "swap-corm") == 0 || strcmp(op, "corm-swap") == 0) /* ctl_swap_corm.c */
                return op[0] == 's' ? ctl_op_swap_corm(c, req) : ctl_op_corm_swap(c, req);
        return ctl_reply_error(
            "unknown op '%.64s' (known: status, endpoints, wires, connect, "
            "disconnect, swap, apply, diff, migrate, migration, store-export, store-import, "
            "snapshot, swap-corm, corm-swap)",
            op);
}
