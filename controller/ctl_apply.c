/* ctl_apply.c: the apply and diff operations (docs/cli.md): parse the
 * file, check what this host cannot run and what would clash with the wires
 * bananactl connect made, then diff it with the stored desired state
 * (ctl_diff) and, for apply, commit the difference and reconcile. The parse
 * of a request from the socket runs on a thread of its own (ctl_apply_async)
 * so that other clients are answered meanwhile; the rest runs on the main
 * loop, which owns the store and the reconciler.
 */
#include "ctl_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bn_daemon.h"
#include "bn_json.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_params.h"
#include "ctl_req.h"

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
                        if (ctl_wire_check(c, w->type, a->cls ? a->cls : b->cls, &w->opts, why,
                                           sizeof(why)))
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

/* The request's arguments (types checked by ctl_req_check). NULL when
 * they are fine, else the error reply. */
static json_object *apply_args(json_object *req, bool apply, const char **file,
                               const char **content, size_t *clen, bool *prune, const char **gen)
{
        char err[512] = "";

        *file = ctl_arg_str(req, "file");
        *gen = ctl_arg_str(req, "generation");
        *content = NULL;
        *prune = false;
        if (bn_json_get_bool(req, "prune", prune, err, sizeof(err)) == -EINVAL ||
            bn_json_get_strn(req, "content", content, clen, err, sizeof(err)) == -EINVAL)
                return ctl_reply_error("%s", err);
        if (!*content)
                return ctl_reply_error("%s needs the file's content", apply ? "apply" : "diff");
        if (!*file)
                *file = "<topology>";
        return NULL;
}

/* Everything after the parse, on the main thread: what this host cannot
 * run, the clash with connect-made wires, the diff and, for apply, the
 * commit and the reconcile. Takes want (may be NULL) and errs. */
static json_object *apply_finish(struct bn_ctl *c, const char *file, bool apply, bool prune,
                                 const char *gen, struct bn_topo *want, struct bn_topo_errs *errs)
{
        struct bn_topo *have = NULL;
        struct ctl_opbuf ops = {0};
        json_object *o = NULL, *changes = NULL, *problems;
        char err[512] = "";
        int n, r;

        if (!want && !errs->n)
                bn_topo_err(errs, file, (struct bn_topo_loc){0, 0}, "out of memory parsing it");
        if (errs->n) {
                o = errs_reply(errs);
                goto out;
        }
        /* the policy with the hosts' member records where the file says
         * nothing of a host's site or domain */
        if (ctl_policy_repick(c, want)) {
                o = ctl_reply_error("out of memory");
                goto out;
        }
        if (ctl_desired_get(c, &have, err, sizeof(err))) {
                o = ctl_reply_error("%s", err);
                goto out;
        }
        /* VNIs for the wires that give none, before their options are checked */
        ctl_vni_assign(have, want, prune, errs);
        check_local(c, want, errs);
        if (errs->n) {
                o = errs_reply(errs);
                goto out;
        }
        /* apply --generation: only onto the desired state the caller saw */
        if (gen && strcmp(gen, c->gen[0] ? c->gen : "0") != 0) {
                o = ctl_reply_error("apply %s: %s", file, CTL_MSG_RETRY);
                goto out;
        }
        /* the wires bananactl connect made stay: the file must not clash */
        ctl_diff_conflicts(have, want, prune, errs);
        if (errs->n) {
                o = errs_reply(errs);
                goto out;
        }
        changes = json_object_new_array();
        n = ctl_diff(have, want, prune, changes, apply ? &ops : NULL);
        if (n < 0 || !changes) {
                o = ctl_reply_error("out of memory");
                goto out;
        }
        if (apply && ops.n && (r = ctl_commit(c, &ops, err, sizeof(err)))) {
                /* the retry message says nothing changed already */
                o = ctl_reply_error("apply %s: %s%s", file, err,
                                    r == -EAGAIN ? "" : ", nothing changed");
                goto out;
        }
        o = ctl_reply_ok();
        json_object_object_add(o, "changes", changes);
        changes = NULL;
        json_object_object_add(o, "revision",
                               json_object_new_int64((int64_t)bn_store_revision(c->store)));
        json_object_object_add(o, "generation", json_object_new_string(c->gen[0] ? c->gen : "0"));
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
        ctl_desired_put(c, have);
        bn_topo_errs_free(errs);
        return o;
}

json_object *ctl_op_apply(struct bn_ctl *c, json_object *req, bool apply)
{
        struct bn_topo_errs errs = {0};
        struct bn_topo *want = NULL;
        const char *file, *content, *gen;
        json_object *o;
        size_t clen = 0;
        bool prune;

        if ((o = apply_args(req, apply, &file, &content, &clen, &prune, &gen)))
                return o;
        bn_topo_parse(file, content, clen, &want, &errs);
        return apply_finish(c, file, apply, prune, gen, want, &errs);
}

/* ---- apply and diff with the parse on a thread of its own ---- */

struct ctl_job {
        struct bn_ctl *c;
        pthread_t thread;
        uint64_t client;
        ctl_job_done_fn done;
        bool apply, prune;
        char *file, *content; /* copies: the thread touches no JSON object */
        char *gen;            /* apply --generation, or NULL */
        size_t len;
        struct bn_topo *want;
        struct bn_topo_errs errs;
        struct ctl_job *next;
};

static void job_free(struct ctl_job *j)
{
        bn_topo_free(j->want);
        bn_topo_errs_free(&j->errs);
        free(j->file);
        free(j->content);
        free(j->gen);
        free(j);
}

/* On the main loop once the thread has parsed. */
static void job_done(void *arg)
{
        struct ctl_job *j = arg, **pp;
        struct bn_ctl *c = j->c;
        json_object *reply;

        pthread_join(j->thread, NULL); /* it has returned, or is returning */
        for (pp = &c->jobs; *pp; pp = &(*pp)->next)
                if (*pp == j) {
                        *pp = j->next;
                        break;
                }
        reply = apply_finish(c, j->file, j->apply, j->prune, j->gen, j->want, &j->errs);
        j->want = NULL;
        j->done(c, j->client, reply);
        job_free(j);
}

/* The parse thread: owns nothing of the controller; hands the result to
 * the main loop. */
static void *job_thread(void *arg)
{
        struct ctl_job *j = arg;

        bn_topo_parse(j->file, j->content, j->len, &j->want, &j->errs);
        if (bn_loop_call(j->c->d->loop, job_done, j))
                bn_err(CTX, "apply %s: cannot return to the main loop", j->file);
        return NULL;
}

int ctl_apply_async(struct bn_ctl *c, json_object *req, uint64_t client, ctl_job_done_fn done,
                    json_object **reply)
{
        const char *op = ctl_arg_str(req, "op"), *file, *content, *gen;
        bool apply = op && strcmp(op, "apply") == 0, prune;
        struct ctl_job *j;
        size_t clen = 0;
        char err[512];

        *reply = NULL;
        if (!op || (!apply && strcmp(op, "diff") != 0))
                return -ENOTSUP;
        if (ctl_req_check(req, err, sizeof(err)))
                return -EINVAL; /* ctl_handle answers */
        if ((*reply = apply_args(req, apply, &file, &content, &clen, &prune, &gen)))
                return 0;
        j = calloc(1, sizeof(*j));
        if (!j || !(j->file = strdup(file)) || !(j->content = malloc(clen + 1)) ||
            (gen && !(j->gen = strdup(gen))))
                goto fail;
        memcpy(j->content, content, clen);
        j->content[clen] = '\0';
        j->len = clen;
        j->c = c;
        j->client = client;
        j->done = done;
        j->apply = apply;
        j->prune = prune;
        if (pthread_create(&j->thread, NULL, job_thread, j))
                goto fail;
        j->next = c->jobs;
        c->jobs = j;
        return 0;
fail:
        if (j)
                job_free(j);
        return -ENOMEM;
}

void ctl_jobs_stop(struct bn_ctl *c)
{
        while (c->jobs) {
                struct ctl_job *j = c->jobs;
                c->jobs = j->next;
                pthread_join(j->thread, NULL); /* a parse is bounded (bn_topo.h) */
                job_free(j);                   /* its queued job_done is never run */
        }
}
