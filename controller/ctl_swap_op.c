/* ctl_swap_op.c: the control protocol's swap (bananactl swap WIRE TYPE,
 * docs/cli.md): the wire's new type and options checked, a VNI picked where
 * the type needs one (ctl_vni.c), the change committed to the store and
 * realised make before break (ctl_swap.c); a swap the wire's ends cannot
 * make is put back and refused, naming the wire. */
#include "ctl_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bn_daemon.h"
#include "bn_log.h"

#define CTX "control"

json_object *ctl_op_swap(struct bn_ctl *c, json_object *req)
{
        const char *name = ctl_arg_str(req, "wire"), *type = ctl_arg_str(req, "type"), *why;
        struct bn_topo_wire *w;
        struct ctl_opbuf ops = {0};
        struct bn_topo *t = NULL;
        struct bn_kvlist nopts = {0}, oopts = {0};
        json_object *o = NULL;
        char err[512] = "", *old = NULL;
        bool old_auto, given;

        if (!name || !type)
                return ctl_reply_error("swap needs a wire name and a type");
        if ((why = bn_topo_check_ident(type)))
                return ctl_reply_error("bad wire type '%s': %s", type, why);
        ctl_desired_drop(c); /* t is changed below: a copy of its own, c->gen from it */
        if (ctl_desired_load(c, &t, err, sizeof(err)))
                return ctl_reply_error("%s", err);
        w = (struct bn_topo_wire *)bn_topo_wire_find(t, name);
        if (!w) {
                o = ctl_reply_error("no wire named '%s'", name);
                goto out;
        }
        if (ctl_rt_wire(c, name) && !ctl_type_available(c, type)) {
                char list[256];
                ctl_wire_types(c, list, sizeof(list));
                o = ctl_reply_error("swap %s: wire type '%s' is not available on %s "
                                    "(available: %s)",
                                    name, type, c->d->host, list);
                goto out;
        }
        int g = ctl_swap_opts(req, &nopts, err, sizeof(err));
        if (g < 0) {
                o = ctl_reply_error("swap %s: %s", name, err);
                goto out;
        }
        given = g == 0;
        /* a type that carries a VNI (vxlan, vpn) gets one when the options
         * give none (ctl_vni.c; the commit below is the transaction) */
        for (size_t i = 0; !given && i < w->opts.n; i++)
                if (bn_kvlist_add(&nopts, w->opts.v[i].key, w->opts.v[i].value)) {
                        o = ctl_reply_error("out of memory");
                        goto out;
                }
        given = true;
        if (ctl_vni_for_type(t, w, type, &nopts, &(long){1}, err, sizeof(err))) {
                o = ctl_reply_error("swap %s to %s: %s (kept %s)", name, type, err, w->type);
                goto out;
        }
        /* what the new type (or a class) would refuse is refused before the
         * store changes, naming the wire */
        const struct bn_topo_ep *e0 = bn_topo_ep_find(t, w->end[0]),
                                *e1 = bn_topo_ep_find(t, w->end[1]);
        const char *cls = e0 && e0->cls ? e0->cls : e1 && e1->cls ? e1->cls : NULL;
        if (ctl_rt_wire(c, name) &&
            ctl_wire_check(c, type, cls, given ? &nopts : &w->opts, err, sizeof(err))) {
                o = ctl_reply_error("swap %s to %s: %s (kept %s)", name, type, err, w->type);
                goto out;
        }
        old = w->type;
        old_auto = w->type_auto;
        w->type = (char *)type;
        w->type_auto = false;
        if (given) {
                oopts = w->opts;
                w->opts = nopts;
                nopts = (struct bn_kvlist){0};
        }
        if (ctl_opbuf_put(&ops, CTL_K_WIRE, name, ctl_wire_json(w)) ||
            ctl_commit(c, &ops, err, sizeof(err))) {
                w->type = old;
                o = ctl_reply_error("swap %s: %s", name, err[0] ? err : "out of memory");
                goto out;
        }
        ctl_reconcile(c);
        if (ctl_wire_outcome(c, name, err, sizeof(err))) {
                char e2[256] = "";
                ctl_ops_free(&ops);
                w->type = old;
                w->type_auto = old_auto;
                if (given) {
                        nopts = w->opts;
                        w->opts = oopts;
                        oopts = (struct bn_kvlist){0};
                }
                ctl_opbuf_put(&ops, CTL_K_WIRE, name, ctl_wire_json(w));
                ctl_commit(c, &ops, e2, sizeof(e2));
                ctl_reconcile(c);
                o = ctl_reply_error("swap %s to %s: %s (kept %s)", name, type, err, old);
                goto out;
        }
        bn_info(CTX, "wire %s swapped from %s to %s", name, old, type);
        o = ctl_reply_ok();
        json_object_object_add(o, "wire", json_object_new_string(name));
        json_object_object_add(o, "from", json_object_new_string(old));
        json_object_object_add(o, "type", json_object_new_string(type));
        w->type = old;
out:
        bn_kvlist_free(&nopts);
        bn_kvlist_free(&oopts);
        ctl_ops_free(&ops);
        bn_topo_free(t);
        return o;
}
