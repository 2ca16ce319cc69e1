/* ctl_migrate.c: live migration of a guest with its topology
 * (docs/migration.md). `bananactl migrate VM --to HOST`, sent to the
 * bananad of the host the VM runs on, drives the steps on the main loop
 * and records each in the store (migrations/<vm>): pre-copy (the guest
 * declares its devices on the destination, whose bananad makes Spikes of
 * the same names with a new epoch), stop-and-copy (the guest stops its
 * front-ends and drains its block requests; one store transaction moves
 * the Spikes' location and epoch and gives each of their wires the type
 * the policy picks for the new placement, so the Corms' hosts close the
 * source's wire ends (fencing the old incarnation) and open the new), then
 * the guest resumes on the destination and leaves the source, whose
 * Spikes go with its domain. A failure or a timeout before the guest is
 * told to resume rolls everything back. Also here: the naming hook that
 * keeps a moved guest's Spikes named at its home (ctl_name_for), and what
 * a bananad does at start with a migration a dead one left
 * (ctl_migrate_recover).
 *
 * The guest side (simulated guests) is sim/guest/guest_mig.c: the keys
 * control/migrate (destination xensim directory), control/migrate-state
 * ("precopied", "suspended") and control/migrate-go ("go", "abort") in the
 * guest's domain.
 */
#include "ctl_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "bn_daemon.h"
#include "bn_hv.h"
#include "bn_json.h"
#include "bn_log.h"
#include "bn_loop.h"

#define CTX         "migrate"
#define MIG_TICK_MS 5
#define MIG_STEP_MS 10000 /* each step's limit */

enum mig_step { MIG_PRECOPY, MIG_SWITCHED, MIG_DONE, MIG_FAILED };

struct ctl_mig {
        struct bn_ctl *c;
        char vm[BN_TOPO_NAME_MAX + 1], to[64];
        char fail_at[32];
        uint32_t domid, epoch;
        enum mig_step step;
        bool precopied;
        uint64_t t0, deadline, t_suspended, t_switched;
        struct bn_timer *timer;
        struct xs_handle *xs;
        struct ctl_opbuf sw, undo; /* the switch, and what puts it back */
        json_object *log;          /* what was done, in words */
        char result[512];
        struct ctl_mig *next;
};

static void say(struct ctl_mig *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct ctl_mig *m, const char *fmt, ...)
{
        char buf[600];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        bn_info(CTX, "%s: %s", m->vm, buf);
        if (m->log)
                json_object_array_add(m->log, json_object_new_string(buf));
}

static void mig_free(struct bn_ctl *c, struct ctl_mig *m)
{
        if (m->timer)
                bn_loop_timer_cancel(c->d->loop, m->timer);
        if (m->xs)
                xs_close(m->xs);
        ctl_ops_free(&m->sw);
        ctl_ops_free(&m->undo);
        json_object_put(m->log);
        free(m);
}

static struct ctl_mig **mig_find(struct bn_ctl *c, const char *vm)
{
        struct ctl_mig **p = &c->migs;

        while (*p && strcmp((*p)->vm, vm) != 0)
                p = &(*p)->next;
        return p;
}

/* The record of migrations/<vm> for step. */
static char *record(const struct ctl_mig *m, const char *from, const char *step)
{
        json_object *o = json_object_new_object();
        char *s = NULL;

        if (!o)
                return NULL;
        json_object_object_add(o, "vm", json_object_new_string(m->vm));
        json_object_object_add(o, "from", json_object_new_string(from));
        json_object_object_add(o, "to", json_object_new_string(m->to));
        json_object_object_add(o, "epoch", json_object_new_int64(m->epoch));
        json_object_object_add(o, "domid", json_object_new_int64(m->domid));
        json_object_object_add(o, "step", json_object_new_string(step));
        s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return s;
}

static int put_record(struct bn_ctl *c, struct ctl_mig *m, const char *step, char *err, size_t len)
{
        char key[BN_TOPO_NAME_MAX + 32], *v = record(m, c->d->host, step);
        int r;

        if (!v)
                return -ENOMEM;
        snprintf(key, sizeof(key), "%s%s", CTL_K_MIG, m->vm);
        r = bn_store_put(c->store, key, v, err, len);
        free(v);
        return r;
}

static void del_record(struct bn_ctl *c, const char *vm)
{
        char key[BN_TOPO_NAME_MAX + 32], err[256] = "";

        snprintf(key, sizeof(key), "%s%s", CTL_K_MIG, vm);
        if (bn_store_del(c->store, key, err, sizeof(err)) && err[0])
                bn_warn(CTX, "%s: cannot remove %s: %s", vm, key, err);
}

/* /local/domain/<domid>/control/<key> of the guest, or NULL. */
static char *guest_read(struct xs_handle *xs, uint32_t domid, const char *key)
{
        char path[128];
        unsigned len;

        snprintf(path, sizeof(path), "/local/domain/%u/%s", domid, key);
        return xs_read(xs, XBT_NULL, path, &len);
}

/* Write a control key the guest may read and write (it owns it). */
static int guest_write(struct xs_handle *xs, uint32_t domid, const char *key, const char *val)
{
        struct xs_permissions perm = {.id = domid, .perms = XS_PERM_NONE};
        char path[128];

        snprintf(path, sizeof(path), "/local/domain/%u/control/%s", domid, key);
        if (!xs_write(xs, XBT_NULL, path, val, (unsigned)strlen(val)) ||
            !xs_set_permissions(xs, XBT_NULL, path, &perm, 1))
                return -EIO;
        return 0;
}

/* The domain of this host's xensim/Xen named vm, or -ENOENT. */
static int find_domid(struct xs_handle *xs, const char *vm, uint32_t *domid)
{
        unsigned n = 0;
        char **ids = xs_directory(xs, XBT_NULL, "/local/domain", &n);
        int r = -ENOENT;

        for (unsigned i = 0; ids && i < n && r; i++) {
                char path[96], *name;
                unsigned len;
                snprintf(path, sizeof(path), "/local/domain/%s/name", ids[i]);
                name = xs_read(xs, XBT_NULL, path, &len);
                if (name && strcmp(name, vm) == 0 && strcmp(ids[i], "0") != 0) {
                        *domid = (uint32_t)strtoul(ids[i], NULL, 10);
                        r = 0;
                }
                free(name);
        }
        free(ids);
        return r;
}

static void finish(struct bn_ctl *c, struct ctl_mig *m, enum mig_step st)
{
        m->step = st;
        if (m->timer)
                bn_loop_timer_cancel(c->d->loop, m->timer);
        m->timer = NULL;
}

/* Before the guest was told to resume: put everything back. */
static void mig_abort(struct bn_ctl *c, struct ctl_mig *m, const char *why)
{
        char err[512] = "";

        if (m->step == MIG_SWITCHED && ctl_commit(c, &m->undo, err, sizeof(err)))
                bn_err(CTX, "%s: the switch could not be undone in the store: %s", m->vm, err);
        del_record(c, m->vm);
        if (guest_write(m->xs, m->domid, "migrate-go", "abort"))
                bn_warn(CTX, "%s: cannot tell the guest to stay", m->vm);
        ctl_reconcile(c);
        snprintf(m->result, sizeof(m->result), "rolled back: %s", why);
        say(m, "rolled back to %s (%s): the Spikes and wires are as before", c->d->host, why);
        finish(c, m, MIG_FAILED);
}

static void do_switch(struct bn_ctl *c, struct ctl_mig *m)
{
        char err[512] = "";

        m->t_suspended = bn_now_ms();
        say(m,
            "stop-and-copy: the guest stopped its front-ends and drained its requests "
            "(%llu ms after the start)",
            (unsigned long long)(m->t_suspended - m->t0));
        if (!strcmp(m->fail_at, "stop-and-copy")) {
                mig_abort(c, m, "a fault injected at stop-and-copy");
                return;
        }
        if (ctl_commit(c, &m->sw, err, sizeof(err))) {
                mig_abort(c, m, err);
                return;
        }
        m->step = MIG_SWITCHED;
        ctl_reconcile(c);
        m->t_switched = bn_now_ms();
        say(m,
            "switched: the Spikes are located on %s with epoch %u; the Corms' hosts close "
            "the wire ends of the source's incarnation (fenced) and open the new ones",
            m->to, m->epoch);
        if (!strcmp(m->fail_at, "switch")) {
                mig_abort(c, m, "a fault injected after the switch");
                return;
        }
        if (guest_write(m->xs, m->domid, "migrate-go", "go")) {
                mig_abort(c, m, "cannot tell the guest to resume");
                return;
        }
        m->deadline = bn_now_ms() + MIG_STEP_MS;
}

static void tick(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct ctl_mig *m = arg;
        struct bn_ctl *c = m->c;
        char *st;

        (void)loop;
        (void)t;
        if (m->step == MIG_PRECOPY) {
                st = guest_read(m->xs, m->domid, "control/migrate-state");
                if (st && (!strcmp(st, "precopied") || !strcmp(st, "suspended")) && !m->precopied) {
                        m->precopied = true;
                        say(m,
                            "pre-copy: %s made the Spikes of %s (same names, epoch %u); "
                            "they wait in InitWait (%llu ms)",
                            m->to, m->vm, m->epoch, (unsigned long long)(bn_now_ms() - m->t0));
                        if (!strcmp(m->fail_at, "pre-copy")) {
                                free(st);
                                mig_abort(c, m, "a fault injected at pre-copy");
                                return;
                        }
                }
                if (st && !strcmp(st, "suspended"))
                        do_switch(c, m);
                else if (st && !strcmp(st, "failed"))
                        mig_abort(c, m,
                                  "the guest could not declare its devices on the "
                                  "destination (see its log)");
                else if (bn_now_ms() > m->deadline)
                        mig_abort(c, m,
                                  st && !strcmp(st, "precopied")
                                      ? "the guest did not stop within 10 s"
                                      : "the destination did not make the Spikes within "
                                        "10 s");
                free(st);
                return;
        }
        if (m->step == MIG_SWITCHED) {
                char *name = guest_read(m->xs, m->domid, "name");
                if (!name) {
                        del_record(c, m->vm);
                        snprintf(m->result, sizeof(m->result), "done");
                        say(m,
                            "done: the guest runs on %s; its domain on %s is gone, and with "
                            "it the source's Spikes (switch to resume %llu ms, all %llu ms)",
                            m->to, c->d->host, (unsigned long long)(bn_now_ms() - m->t_switched),
                            (unsigned long long)(bn_now_ms() - m->t0));
                        finish(c, m, MIG_DONE);
                } else if (bn_now_ms() > m->deadline) {
                        del_record(c, m->vm);
                        snprintf(m->result, sizeof(m->result),
                                 "the guest did not leave %s within 10 s of the switch",
                                 c->d->host);
                        say(m, "%s", m->result);
                        finish(c, m, MIG_FAILED);
                }
                free(name);
        }
}

/* ---- the request ----------------------------------------------------------- */

/* Host's member record: its address and xensim directory ("" when none). */
static int member_info(struct bn_ctl *c, const char *host, char *addr, size_t alen, char *dir,
                       size_t dlen, char *err, size_t len)
{
        char key[128], *v = NULL, why[128] = "";
        json_object *o = NULL;
        const char *a = "", *d = "";
        int r;

        snprintf(key, sizeof(key), "%s%s", CTL_K_MEMBER, host);
        if ((r = bn_store_get(c->store, key, &v))) {
                snprintf(err, len, "host %s is not up (no member record: %s)", host,
                         r == -ENOENT ? "absent" : bn_store_why(c->store, r));
                return -EHOSTDOWN;
        }
        o = json_tokener_parse(v);
        if (o) {
                bn_json_get_str(o, "address", &a, why, sizeof(why));
                bn_json_get_str(o, "xensim_dir", &d, why, sizeof(why));
        }
        snprintf(addr, alen, "%s", a ? a : "");
        if (dir)
                snprintf(dir, dlen, "%s", d ? d : "");
        json_object_put(o);
        free(v);
        return 0;
}

/* The destination: up, and its member record's address and xensim dir. */
static int dest_info(struct bn_ctl *c, const char *to, char *addr, size_t alen, char *dir,
                     size_t dlen, char *err, size_t len)
{
        int r;

        if (!c->clustered) {
                snprintf(err, len,
                         "migrate needs hosts sharing a store (bananad --store etcd://...)");
                return -EOPNOTSUPP;
        }
        if ((r = member_info(c, to, addr, alen, dir, dlen, err, len)))
                return r;
        if (!dir[0]) {
                snprintf(err, len,
                         "host %s runs no xensim: on real Xen, xl migrate moves the guest "
                         "(docs/migration.md)",
                         to);
                return -EOPNOTSUPP;
        }
        return 0;
}

/* The wire w at spike end j as it should be with its Spike on host to:
 * shm (the policy's same-host type) when the other end is there too; the
 * same type when both placements are across hosts (options kept, the
 * Spike's end's address becoming to's); else the policy's type for the new
 * placement (vxlan on one site, vpn across domains) with a VNI picked as
 * for any wire (ctl_vni.c, from *vni up) and, vxlan, each end's address
 * from its host's member record (vpn's come with the hosts' records when
 * it opens). The result is checked as opening it would be (what the class
 * needs). */
static int rewire(struct bn_ctl *c, const struct bn_topo *t, const struct bn_topo_wire *w, int j,
                  const char *to, const char *to_addr, long *vni, struct bn_topo_wire *nw,
                  char *err, size_t len)
{
        const struct bn_topo_ep *x = bn_topo_ep_find(t, w->end[!j]),
                                *sp = bn_topo_ep_find(t, w->end[j]);
        const char *xloc = x ? x->location : NULL, *type;
        char akey[16], xkey[16], xaddr[64];
        int r;

        if (!xloc || !sp) {
                snprintf(err, len, "wire %s: its other end %s is not in the desired state", w->name,
                         w->end[!j]);
                return -ENOENT;
        }
        *nw = *w;
        memset(&nw->opts, 0, sizeof(nw->opts));
        if (strcmp(to, xloc) != 0 && strcmp(sp->location, xloc) != 0)
                type = w->type; /* across hosts before and after */
        else
                type = bn_topo_policy_for_class(ctl_policy_pick(c, t, to, xloc, NULL, 0),
                                                sp->cls ? sp->cls : x->cls);
        nw->type = (char *)type;
        snprintf(akey, sizeof(akey), "end%d.addr", j);
        snprintf(xkey, sizeof(xkey), "end%d.addr", !j);
        if (strcmp(type, w->type) != 0 && strcmp(to, xloc) != 0) {
                /* the ends part */
                if (strcmp(type, "vxlan") != 0 && strcmp(type, "vpn") != 0) {
                        snprintf(err, len,
                                 "wire %s would become %s (from %s to %s), whose options "
                                 "migrate cannot choose yet: swap it to %s first",
                                 w->name, type, to, xloc, type);
                        return -EOPNOTSUPP;
                }
                if (!strcmp(type, "vxlan")) {
                        if ((r = member_info(c, xloc, xaddr, sizeof(xaddr), NULL, 0, err, len)))
                                return r;
                        if (!to_addr[0] || !xaddr[0]) {
                                snprintf(err, len,
                                         "wire %s would become vxlan between %s and %s, and %s "
                                         "told no address (bananad --address)",
                                         w->name, to, xloc, to_addr[0] ? xloc : to);
                                return -EADDRNOTAVAIL;
                        }
                        if (bn_kvlist_add(&nw->opts, akey, to_addr) ||
                            bn_kvlist_add(&nw->opts, xkey, xaddr))
                                return -ENOMEM;
                }
                if ((r = ctl_vni_for_type(t, w, type, &nw->opts, vni, err, len)))
                        return r;
        }
        for (size_t i = 0; strcmp(type, w->type) == 0 && i < w->opts.n; i++)
                if (bn_kvlist_add(&nw->opts, w->opts.v[i].key,
                                  strcmp(w->opts.v[i].key, akey) == 0 && to_addr[0]
                                      ? to_addr
                                      : w->opts.v[i].value))
                        return -ENOMEM;
        return ctl_wire_check(c, type, sp->cls, &nw->opts, err, len);
}

static bool vm_spike(const struct bn_topo_ep *e, const char *vm)
{
        return e->kind == BN_TOPO_SPIKE && e->vm && strcmp(e->vm, vm) == 0;
}

/* The switch and its undo, for VM's spikes moving to `to`. */
static int plan(struct bn_ctl *c, struct bn_topo *t, struct ctl_mig *m, const char *to_addr,
                char *err, size_t len)
{
        unsigned n = 0;
        long vni = 1; /* the wires that get a VNI get different ones */
        int r;

        for (size_t i = 0; i < t->n_eps; i++) {
                struct bn_topo_ep *e = &t->eps[i];
                if (!vm_spike(e, m->vm))
                        continue;
                if (strcmp(e->location, c->d->host) != 0) {
                        snprintf(err, len, "%s runs on %s, not here (%s): run migrate there",
                                 e->name, e->location, c->d->host);
                        return -EINVAL;
                }
                if (e->epoch >= m->epoch)
                        m->epoch = e->epoch + 1;
                n++;
        }
        if (!n) {
                snprintf(err, len, "no Spike of VM '%s' in the desired state", m->vm);
                return -ENOENT;
        }
        for (size_t i = 0; i < t->n_eps; i++) {
                struct bn_topo_ep *e = &t->eps[i], ne;
                if (!vm_spike(e, m->vm))
                        continue;
                ne = *e;
                ne.location = m->to;
                ne.epoch = m->epoch;
                if ((r = ctl_opbuf_put(&m->sw, CTL_K_EP, e->name, ctl_ep_json(&ne))) ||
                    (r = ctl_opbuf_put(&m->undo, CTL_K_EP, e->name, ctl_ep_json(e))))
                        return r;
        }
        for (size_t i = 0; i < t->n_wires; i++) {
                const struct bn_topo_wire *w = &t->wires[i];
                struct bn_topo_wire nw;
                for (int j = 0; j < 2; j++) {
                        const struct bn_topo_ep *e = bn_topo_ep_find(t, w->end[j]);
                        if (!e || !vm_spike(e, m->vm))
                                continue;
                        r = rewire(c, t, w, j, m->to, to_addr, &vni, &nw, err, len);
                        if (!r &&
                            !(r = ctl_opbuf_put(&m->sw, CTL_K_WIRE, w->name, ctl_wire_json(&nw))))
                                r = ctl_opbuf_put(&m->undo, CTL_K_WIRE, w->name, ctl_wire_json(w));
                        if (!r && strcmp(nw.type, w->type) && bn_kvlist_get(&nw.opts, "vni"))
                                say(m, "wire %s: %s now, %s (VNI %s picked) once %s is on %s",
                                    w->name, w->type, nw.type, bn_kvlist_get(&nw.opts, "vni"),
                                    w->end[j], m->to);
                        else if (!r)
                                say(m, "wire %s: %s now, %s once %s is on %s", w->name, w->type,
                                    nw.type, w->end[j], m->to);
                        bn_kvlist_free(&nw.opts);
                        if (r)
                                return r;
                        break;
                }
        }
        return 0;
}

json_object *ctl_op_migrate(struct bn_ctl *c, json_object *req)
{
        const char *vm = ctl_arg_str(req, "vm"), *to = ctl_arg_str(req, "to"),
                   *fail = ctl_arg_str(req, "fail_at"), *why;
        struct ctl_mig *m = NULL, **p;
        struct bn_topo *t = NULL;
        json_object *o = NULL;
        char err[512] = "", addr[64], dir[256];
        int r;

        if (!vm || !to)
                return ctl_reply_error("migrate needs a VM and a destination host (--to HOST)");
        if ((why = bn_topo_check_host_name(to)))
                return ctl_reply_error("bad host name '%.64s': %s", to, why);
        if (strlen(vm) > BN_TOPO_NAME_MAX || strchr(vm, '/'))
                return ctl_reply_error("bad VM name '%.64s'", vm);
        if (fail && strcmp(fail, "pre-copy") && strcmp(fail, "stop-and-copy") &&
            strcmp(fail, "switch"))
                return ctl_reply_error("--fail-at must be pre-copy, stop-and-copy or switch");
        if (!strcmp(to, c->d->host))
                return ctl_reply_error("%s already runs on %s", vm, to);
        p = mig_find(c, vm);
        if (*p && ((*p)->step == MIG_PRECOPY || (*p)->step == MIG_SWITCHED))
                return ctl_reply_error("%s is already migrating to %s", vm, (*p)->to);
        if (*p) {
                struct ctl_mig *old = *p;
                *p = old->next;
                mig_free(c, old);
        }
        if (dest_info(c, to, addr, sizeof(addr), dir, sizeof(dir), err, sizeof(err)))
                return ctl_reply_error("migrate %s: %s", vm, err);
        if (!(m = calloc(1, sizeof(*m))) || !(m->log = json_object_new_array())) {
                o = ctl_reply_error("out of memory");
                goto out;
        }
        m->c = c;
        m->epoch = 1;
        snprintf(m->vm, sizeof(m->vm), "%s", vm);
        snprintf(m->to, sizeof(m->to), "%s", to);
        snprintf(m->fail_at, sizeof(m->fail_at), "%s", fail ? fail : "");
        if (ctl_desired_load(c, &t, err, sizeof(err)) ||
            (r = plan(c, t, m, addr, err, sizeof(err)))) {
                o = ctl_reply_error("migrate %s: %s", vm, err[0] ? err : "out of memory");
                goto out;
        }
        if (!(m->xs = bn_hv_xs_open(c->d->hv)) || find_domid(m->xs, vm, &m->domid)) {
                o = ctl_reply_error("migrate %s: no domain named %s runs on %s", vm, vm,
                                    c->d->host);
                goto out;
        }
        {
                char key[BN_TOPO_NAME_MAX + 32], *rec = record(m, c->d->host, "switched");
                snprintf(key, sizeof(key), "%s%s", CTL_K_MIG, vm);
                r = rec ? ctl_opbuf_put_text(&m->sw, key, rec) : -ENOMEM;
                free(rec);
                if (r || (r = put_record(c, m, "pre-copy", err, sizeof(err)))) {
                        o = ctl_reply_error("migrate %s: the store: %s", vm,
                                            err[0] ? err : strerror(-r));
                        goto out;
                }
        }
        m->t0 = bn_now_ms();
        m->deadline = m->t0 + MIG_STEP_MS;
        if (guest_write(m->xs, m->domid, "migrate-state", "") ||
            guest_write(m->xs, m->domid, "migrate-go", "") ||
            guest_write(m->xs, m->domid, "migrate", dir) ||
            bn_loop_timer_add(c->d->loop, MIG_TICK_MS, MIG_TICK_MS, tick, m, &m->timer)) {
                del_record(c, vm);
                o = ctl_reply_error("migrate %s: cannot ask domain %u to move", vm, m->domid);
                goto out;
        }
        say(m, "pre-copy: asked domain %u to declare its devices on %s (epoch %u)", m->domid, to,
            m->epoch);
        m->next = c->migs;
        c->migs = m;
        o = ctl_reply_ok();
        json_object_object_add(o, "vm", json_object_new_string(vm));
        json_object_object_add(o, "to", json_object_new_string(to));
        json_object_object_add(o, "epoch", json_object_new_int64(m->epoch));
        m = NULL;
out:
        if (m)
                mig_free(c, m);
        bn_topo_free(t);
        return o;
}

json_object *ctl_op_migration(struct bn_ctl *c, json_object *req)
{
        static const char *const steps[] = {"pre-copy", "switched", "done", "failed"};
        const char *vm = ctl_arg_str(req, "vm");
        struct ctl_mig *m;
        json_object *o;

        if (!vm || !(m = *mig_find(c, vm)))
                return ctl_reply_error("no migration of '%.64s' on %s", vm ? vm : "", c->d->host);
        o = ctl_reply_ok();
        json_object_object_add(o, "vm", json_object_new_string(m->vm));
        json_object_object_add(o, "to", json_object_new_string(m->to));
        json_object_object_add(o, "epoch", json_object_new_int64(m->epoch));
        json_object_object_add(o, "step", json_object_new_string(steps[m->step]));
        json_object_object_add(o, "result", json_object_new_string(m->result));
        json_object_object_add(o, "log", json_object_get(m->log));
        if (m->t_switched && m->t_suspended)
                json_object_object_add(
                    o, "switch_ms",
                    json_object_new_int64((int64_t)(m->t_switched - m->t_suspended)));
        return o;
}

void ctl_migrate_stop(struct bn_ctl *c)
{
        while (c->migs) {
                struct ctl_mig *m = c->migs;
                c->migs = m->next;
                mig_free(c, m);
        }
}

/* ---- the naming hook --------------------------------------------------------- */

struct name_ctx {
        struct bn_ctl *c;
        const char *vm, *dev;
        char *name;
        size_t len;
        uint32_t *epoch;
        bool found;
};

/* A migration record: a migration of vm to this host under way. */
static int mig_pair(void *arg, const char *key, const char *value)
{
        struct name_ctx *nc = arg;
        json_object *o = json_tokener_parse(value), *ep;
        const char *vm = NULL, *to = NULL, *from = NULL;
        char why[64];

        (void)key;
        if (o && !bn_json_get_str(o, "vm", &vm, why, sizeof(why)) &&
            !bn_json_get_str(o, "to", &to, why, sizeof(why)) &&
            !bn_json_get_str(o, "from", &from, why, sizeof(why)) && !strcmp(vm, nc->vm) &&
            !strcmp(to, nc->c->d->host) && json_object_object_get_ex(o, "epoch", &ep)) {
                /* the Spike's name is rooted at its home: look it up */
                struct bn_topo *t = NULL;
                char err[256];
                if (!ctl_desired_load(nc->c, &t, err, sizeof(err)))
                        for (size_t i = 0; i < t->n_eps && !nc->found; i++) {
                                const struct bn_topo_ep *e = &t->eps[i];
                                if (vm_spike(e, vm) && e->dev && !strcmp(e->dev, nc->dev)) {
                                        snprintf(nc->name, nc->len, "%s", e->name);
                                        *nc->epoch = (uint32_t)json_object_get_int64(ep);
                                        nc->found = true;
                                }
                        }
                bn_topo_free(t);
        }
        json_object_put(o);
        return 0;
}

int ctl_name_for(void *arg, const char *vm, const char *dev, char *name, size_t len,
                 uint32_t *epoch)
{
        struct bn_ctl *c = arg;
        struct name_ctx nc = {c, vm, dev, name, len, epoch, false};
        struct bn_topo *t = NULL;
        char err[256];

        /* a migration to here under way (pre-copy) */
        bn_store_list(c->store, CTL_K_MIG, mig_pair, &nc);
        if (nc.found)
                return 0;
        /* or one done: a Spike of vm located here, rooted elsewhere */
        if (ctl_desired_load(c, &t, err, sizeof(err)))
                return -ENOENT;
        for (size_t i = 0; i < t->n_eps && !nc.found; i++) {
                const struct bn_topo_ep *e = &t->eps[i];
                if (vm_spike(e, vm) && e->dev && !strcmp(e->dev, dev) &&
                    !strcmp(e->location, c->d->host) && strcmp(e->home, c->d->host) != 0) {
                        snprintf(name, len, "%s", e->name);
                        *epoch = e->epoch;
                        nc.found = true;
                }
        }
        bn_topo_free(t);
        return nc.found ? 0 : -ENOENT;
}

/* ---- after a restart ----------------------------------------------------------- */

static int recover_pair(void *arg, const char *key, const char *value)
{
        struct bn_ctl *c = arg;
        json_object *o = json_tokener_parse(value), *dom;
        const char *vm = NULL, *from = NULL, *step = NULL, *to = NULL;
        struct xs_handle *xs = NULL;
        char why[64], err[256] = "";

        if (!o || bn_json_get_str(o, "vm", &vm, why, sizeof(why)) ||
            bn_json_get_str(o, "from", &from, why, sizeof(why)) ||
            bn_json_get_str(o, "to", &to, why, sizeof(why)) ||
            bn_json_get_str(o, "step", &step, why, sizeof(why)) || strcmp(from, c->d->host) ||
            !json_object_object_get_ex(o, "domid", &dom) || !(xs = bn_hv_xs_open(c->d->hv)))
                goto out;
        uint32_t domid = (uint32_t)json_object_get_int64(dom);
        if (!strcmp(step, "switched")) {
                /* the store says the destination: finish it */
                guest_write(xs, domid, "migrate-go", "go");
                bn_info(CTX,
                        "%s: a migration to %s that the previous bananad left switched: "
                        "the guest is told to resume there",
                        vm, to);
        } else {
                guest_write(xs, domid, "migrate", ""); /* not asked any more */
                guest_write(xs, domid, "migrate-go", "abort");
                bn_info(CTX,
                        "%s: a migration to %s that the previous bananad left at %s: "
                        "rolled back, the guest stays here",
                        vm, to, step);
        }
        if (bn_store_del(c->store, key, err, sizeof(err)))
                bn_warn(CTX, "%s: cannot remove %s: %s", vm, key, err);
out:
        if (xs)
                xs_close(xs);
        json_object_put(o);
        return 0;
}

void ctl_migrate_recover(struct bn_ctl *c)
{
        bn_store_list(c->store, CTL_K_MIG, recover_pair, c);
}
