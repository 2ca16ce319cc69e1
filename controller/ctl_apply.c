/* ctl_apply.c: the apply and diff operations (docs/cli.md): parse the
 * file, check what this host cannot run and what would clash with the wires
 * bananactl connect made, then diff it with the stored desired state
 * (ctl_diff) and, for apply, commit the difference and reconcile.
 */
#include "ctl_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bn_daemon.h"
#include "bn_json.h"
#include "bn_log.h"
#include "bn_params.h"

#define CTX "control"

static void dev_classes(struct bn_ctl *c, char *buf, size_t len)
{
        size_t o = 0;

        buf[0] = '\0';
        for (unsigned i = 0; i < c->d->classes.n && o < len; i++)
                o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
                                      c->d->classes.cls[i]->name);
        if (!c->d->classes.n)
                snprintf(buf, len, "none");
}

/* What this host cannot run: file:line:column errors. */
static void check_local(struct bn_ctl *c, const struct bn_topo *t, struct bn_topo_errs *errs)
{
        char list[256];

        for (size_t i = 0; i < t->n_eps; i++) {
                const struct bn_topo_ep *e = &t->eps[i];
                const struct bn_devclass *cls;
                if (strcmp(e->location, c->d->host) != 0)
                        continue;
                cls = bn_devclass_find(&c->d->classes, e->cls);
                if (!cls) {
                        dev_classes(c, list, sizeof(list));
                        bn_topo_err(errs, t->file, e->cls_loc.line ? e->cls_loc : e->loc,
                                    "endpoint '%s': device class '%s' is not available on %s "
                                    "(available: %s)",
                                    e->name, e->cls, c->d->host, list);
                } else if (e->kind == BN_TOPO_CORM && !cls->corm_open) {
                        bn_topo_err(errs, t->file, e->loc,
                                    "endpoint '%s': device class '%s' has no corms", e->name,
                                    e->cls);
                } else if (e->kind == BN_TOPO_CORM && cls->corm_check) {
                        struct bn_params p;
                        char why[256] = "";
                        int r = ctl_params_from_kv(&p, &e->params);
                        if (!r)
                                r = cls->corm_check(&p, why, sizeof(why));
                        bn_params_clear(&p);
                        if (r)
                                bn_topo_err(errs, t->file, e->loc, "corm '%s': %s", e->name,
                                            why[0] ? why : strerror(-r));
                }
        }
        for (size_t i = 0; i < t->n_wires; i++) {
                const struct bn_topo_wire *w = &t->wires[i];
                const struct bn_topo_ep *a = bn_topo_ep_find(t, w->end[0]);
                const struct bn_topo_ep *b = bn_topo_ep_find(t, w->end[1]);
                if (!a || !b ||
                    (strcmp(a->location, c->d->host) != 0 && strcmp(b->location, c->d->host) != 0))
                        continue;
                if (!ctl_type_available(c, w->type)) {
                        ctl_wire_types(c, list, sizeof(list));
                        bn_topo_err(errs, t->file, w->type_loc,
                                    "wire '%s': wire type '%s' is not available on %s "
                                    "(available: %s)%s",
                                    w->name, w->type, c->d->host, list,
                                    w->type_auto ? " (chosen by the policy)" : "");
                } else {
                        char why[256] = "";
                        if (ctl_wire_check(c, w->type, &w->opts, why, sizeof(why)))
                                bn_topo_err(errs, t->file, w->loc, "wire '%s': %s", w->name, why);
                }
        }
}

static json_object *errs_reply(struct bn_topo_errs *errs)
{
        json_object *o = ctl_reply_error("topology refused: %zu error%s, nothing changed", errs->n,
                                         errs->n == 1 ? "" : "s");
        json_object *arr = json_object_new_array();

        for (size_t i = 0; arr && i < errs->n; i++)
                json_object_array_add(arr, json_object_new_string(errs->msg[i]));
        if (o)
                json_object_object_add(o, "errors", arr);
        else
                json_object_put(arr);
        return o;
}

json_object *ctl_op_apply(struct bn_ctl *c, json_object *req, bool apply)
{
        const char *file = ctl_arg_str(req, "file"), *content = NULL;
        struct bn_topo_errs errs = {0};
        struct bn_topo *want = NULL, *have = NULL;
        struct ctl_opbuf ops = {0};
        json_object *o = NULL, *changes = NULL, *problems;
        char err[512] = "";
        bool prune = false;
        size_t clen = 0;
        int n;

        /* types were checked (ctl_req_check): a wrong one is never read here */
        if (bn_json_get_bool(req, "prune", &prune, err, sizeof(err)) == -EINVAL ||
            bn_json_get_strn(req, "content", &content, &clen, err, sizeof(err)) == -EINVAL)
                return ctl_reply_error("%s", err);
        if (!content)
                return ctl_reply_error("%s needs the file's content", apply ? "apply" : "diff");
        if (!file)
                file = "<topology>";
        if (bn_topo_parse(file, content, clen, &want, &errs) == 0)
                check_local(c, want, &errs);
        if (errs.n) {
                o = errs_reply(&errs);
                goto out;
        }
        if (ctl_desired_load(c, &have, err, sizeof(err))) {
                o = ctl_reply_error("%s", err);
                goto out;
        }
        /* the wires bananactl connect made stay: the file must not clash */
        ctl_diff_conflicts(have, want, prune, &errs);
        if (errs.n) {
                o = errs_reply(&errs);
                goto out;
        }
        changes = json_object_new_array();
        n = ctl_diff(have, want, prune, changes, apply ? &ops : NULL);
        if (n < 0 || !changes) {
                o = ctl_reply_error("out of memory");
                goto out;
        }
        if (apply && ops.n && ctl_commit(c, &ops, err, sizeof(err))) {
                o = ctl_reply_error("apply %s: %s, nothing changed", file, err);
                goto out;
        }
        o = ctl_reply_ok();
        json_object_object_add(o, "changes", changes);
        changes = NULL;
        json_object_object_add(o, "revision",
                               json_object_new_int64((int64_t)bn_store_revision(c->store)));
        if (!apply)
                goto out;
        ctl_reconcile(c);
        bn_info(CTX, "applied %s%s: %d change%s", file, prune ? " (pruning)" : "", n,
                n == 1 ? "" : "s");
        problems = json_object_new_array();
        for (size_t i = 0; i < c->n_corms; i++)
                if (c->corms[i].error[0]) {
                        snprintf(err, sizeof(err), "corm %s: %s", c->corms[i].name,
                                 c->corms[i].error);
                        json_object_array_add(problems, json_object_new_string(err));
                }
        for (size_t i = 0; i < c->n_wires; i++)
                if (c->wires[i].error[0] && strncmp(c->wires[i].error, "waiting", 7) != 0) {
                        snprintf(err, sizeof(err), "wire %s: %s", c->wires[i].name,
                                 c->wires[i].error);
                        json_object_array_add(problems, json_object_new_string(err));
                }
        json_object_object_add(o, "problems", problems);
out:
        json_object_put(changes);
        ctl_ops_free(&ops);
        bn_topo_free(want);
        bn_topo_free(have);
        bn_topo_errs_free(&errs);
        return o;
}
