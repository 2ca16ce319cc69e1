/* ctl_diff.c: the diff between two topologies (the desired state and a
 * file, or two desired states) that apply and diff are built on: the changes
 * as JSON for the caller, the store operations that make them, and the
 * clashes with wires bananactl connect made.
 */
#include "ctl_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int change(json_object *changes, const char *what, const char *kind, const char *name,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int change(json_object *changes, const char *what, const char *kind, const char *name,
                  const char *fmt, ...)
{
        json_object *o = json_object_new_object();
        char *detail = NULL;
        va_list ap;

        if (!o)
                return -ENOMEM;
        va_start(ap, fmt);
        if (vasprintf(&detail, fmt, ap) < 0)
                detail = NULL;
        va_end(ap);
        ctl_json_add_str(o, "change", what);
        ctl_json_add_str(o, "kind", kind);
        ctl_json_add_str(o, "name", name);
        ctl_json_add_str(o, "detail", detail ? detail : "");
        free(detail);
        json_object_array_add(changes, o);
        return 0;
}

static int streq(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static const char *nz(const char *s)
{
        return s ? s : "-";
}

/* "(made by bananactl connect)" for a pruned item's detail */
static const char *made_by(bool by_connect)
{
        return by_connect ? " (made by bananactl connect)" : "";
}

#define ADOPTED "now declared by the topology (was made by bananactl connect)"

int ctl_diff(const struct bn_topo *have, const struct bn_topo *want, bool prune,
             json_object *changes, struct ctl_opbuf *ops)
{
        int n = 0, r = 0;

#define PUT(prefix, name, json)                                                                    \
        do {                                                                                       \
                if (ops && (r = ctl_opbuf_put(ops, prefix, name, json)))                           \
                        return r;                                                                  \
        } while (0)
#define DEL(prefix, name)                                                                          \
        do {                                                                                       \
                if (ops && (r = ctl_opbuf_del(ops, prefix, name)))                                 \
                        return r;                                                                  \
        } while (0)

        /* policy */
        if (!streq(have->policy.same_host, want->policy.same_host) ||
            !streq(have->policy.same_site, want->policy.same_site) ||
            !streq(have->policy.same_domain, want->policy.same_domain) ||
            !streq(have->policy.other_domain, want->policy.other_domain)) {
                change(changes, "update", "policy", "policy",
                       "same-host %s, same-site %s, "
                       "same-domain %s, other-domain %s",
                       want->policy.same_host, want->policy.same_site, want->policy.same_domain,
                       want->policy.other_domain);
                PUT(CTL_K_POLICY, "", ctl_policy_json(&want->policy));
                n++;
        }
        /* hosts */
        for (size_t i = 0; i < want->n_hosts; i++) {
                const struct bn_topo_host *w = &want->hosts[i];
                const struct bn_topo_host *h = bn_topo_host_find(have, w->name);
                if (h && streq(h->site, w->site) && streq(h->domain, w->domain))
                        continue;
                change(changes, h ? "update" : "create", "host", w->name, "site %s, domain %s",
                       nz(w->site), nz(w->domain));
                PUT(CTL_K_HOST, w->name, ctl_host_json(w));
                n++;
        }
        for (size_t i = 0; i < have->n_hosts; i++) {
                if (bn_topo_host_find(want, have->hosts[i].name))
                        continue;
                change(changes, "remove", "host", have->hosts[i].name, "%s", "");
                DEL(CTL_K_HOST, have->hosts[i].name);
                n++;
        }
        /* endpoints: the file's replace the stored ones (a connect-made one
         * the file declares becomes the topology's) */
        for (size_t i = 0; i < want->n_eps; i++) {
                struct bn_topo_ep moved;
                const struct bn_topo_ep *w = bn_topo_as_migrated(have, want, &want->eps[i], &moved);
                const struct bn_topo_ep *h = bn_topo_ep_find(have, w->name);
                if (h && h->kind == w->kind && streq(h->cls, w->cls) &&
                    streq(h->location, w->location) && bn_kvlist_equal(&h->params, &w->params)) {
                        if (!h->by_connect)
                                continue;
                        change(changes, "update", "endpoint", w->name, "%s", ADOPTED);
                } else {
                        change(changes, h ? "update" : "create", "endpoint", w->name, "%s %s on %s",
                               w->kind == BN_TOPO_SPIKE ? "spike" : "corm", nz(w->cls),
                               nz(w->location));
                }
                PUT(CTL_K_EP, w->name, ctl_ep_json(w));
                n++;
        }
        /* what the file does not declare goes, except what connect made
         * (unless pruning) */
        for (size_t i = 0; i < have->n_eps; i++) {
                const struct bn_topo_ep *h = &have->eps[i];
                if (bn_topo_ep_find(want, h->name) || (h->by_connect && !prune))
                        continue;
                change(changes, "remove", "endpoint", h->name, "%s %s%s",
                       h->kind == BN_TOPO_SPIKE ? "spike" : "corm", nz(h->cls),
                       made_by(h->by_connect));
                DEL(CTL_K_EP, h->name);
                n++;
        }
        /* wires */
        for (size_t i = 0; i < want->n_wires; i++) {
                const struct bn_topo_wire *w = &want->wires[i];
                const struct bn_topo_wire *h = bn_topo_wire_find(have, w->name);
                const char *what = "create";
                if (h) {
                        int same_ends = streq(h->end[0], w->end[0]) && streq(h->end[1], w->end[1]);
                        if (same_ends && !h->by_connect &&
                            (bn_topo_migrated(have, want, w->end[0]) ||
                             bn_topo_migrated(have, want, w->end[1])))
                                continue; /* its type follows where the Spike runs now */
                        int same_opts = bn_kvlist_equal(&h->opts, &w->opts);
                        if (same_ends && same_opts && streq(h->type, w->type)) {
                                if (h->by_connect) {
                                        change(changes, "update", "wire", w->name, "%s", ADOPTED);
                                        PUT(CTL_K_WIRE, w->name, ctl_wire_json(w));
                                        n++;
                                } else if (h->type_auto != w->type_auto) {
                                        PUT(CTL_K_WIRE, w->name, ctl_wire_json(w));
                                }
                                continue;
                        }
                        what = same_ends && same_opts ? "swap" : "update";
                }
                if (h && strcmp(what, "swap") == 0)
                        change(changes, what, "wire", w->name, "%s -> %s", h->type, w->type);
                else
                        change(changes, what, "wire", w->name, "%s: %s -- %s", w->type, w->end[0],
                               w->end[1]);
                PUT(CTL_K_WIRE, w->name, ctl_wire_json(w));
                n++;
        }
        for (size_t i = 0; i < have->n_wires; i++) {
                const struct bn_topo_wire *h = &have->wires[i];
                if (bn_topo_wire_find(want, h->name) || (h->by_connect && !prune))
                        continue;
                change(changes, "remove", "wire", h->name, "%s: %s -- %s%s", h->type, h->end[0],
                       h->end[1], made_by(h->by_connect));
                DEL(CTL_K_WIRE, h->name);
                n++;
        }
#undef PUT
#undef DEL
        return n;
}

/* Is name an end of wire w? */
static bool wire_has_end(const struct bn_topo_wire *w, const char *name)
{
        return strcmp(w->end[0], name) == 0 || strcmp(w->end[1], name) == 0;
}

void ctl_diff_conflicts(const struct bn_topo *have, const struct bn_topo *want, bool prune,
                        struct bn_topo_errs *errs)
{
        static const struct bn_topo_loc noloc;

        if (prune)
                return; /* connect-made wires the file does not declare go */
        for (size_t i = 0; i < have->n_wires; i++) {
                const struct bn_topo_wire *k = &have->wires[i];
                if (!k->by_connect || bn_topo_wire_find(want, k->name))
                        continue; /* not kept as it is */
                for (int j = 0; j < 2; j++) {
                        const char *end = k->end[j];
                        const struct bn_topo_ep *he = bn_topo_ep_find(have, end);
                        const struct bn_topo_ep *we = bn_topo_ep_find(want, end);
                        /* the file would remove an endpoint the kept wire uses */
                        if (he && !he->by_connect && !we)
                                bn_topo_err(errs, want->file, noloc,
                                            "endpoint '%s' is not declared, but wire '%s' made "
                                            "by bananactl connect uses it: disconnect %s first, "
                                            "or apply --prune",
                                            end, k->name, k->name);
                        /* a Spike is an end of one wire only */
                        if (!we || we->kind != BN_TOPO_SPIKE)
                                continue;
                        for (size_t m = 0; m < want->n_wires; m++) {
                                const struct bn_topo_wire *fw = &want->wires[m];
                                if (!wire_has_end(fw, end))
                                        continue;
                                bn_topo_err(errs, want->file, fw->loc,
                                            "wire '%s': spike %s is already an end of wire '%s' "
                                            "made by bananactl connect: disconnect %s first, or "
                                            "apply --prune",
                                            fw->name, end, k->name, k->name);
                        }
                }
        }
}
