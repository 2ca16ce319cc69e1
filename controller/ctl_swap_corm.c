/* ctl_swap_corm.c: `bananactl swap-corm WIRE NEW_CORM`, Netbus's swap after
 * a move: a disk wire's Corm end goes from its Corm (OLD, often on another
 * host) to NEW (a Corm of the same class, a file on this host) once NEW
 * holds the same bytes. It runs on NEW's host, the driver:
 *
 *   copy:     NEW's file is served to OLD's host (an NBD server on this
 *             host's underlay address; the path itself when OLD is here) and
 *             the record corm-swaps/<wire> written; OLD's host (its watch,
 *             or this host when OLD is here) puts the class's mirror in
 *             front of OLD (corm_mirror: writes to both, a copier copying
 *             the rest) and reports corm-swap-status/<wire> (bytes copied);
 *   switch:   once everything is copied, one transaction moves the wire's
 *             Corm end to NEW with the policy's type for the placement (shm
 *             when the Spike is here); the reconciler's make-before-break
 *             Corm-end move quiesces the Spike, lets what is in flight on
 *             OLD (mirrored, so also on NEW) finish and attaches NEW;
 *   done:     the record goes; OLD's host ends the mirror, OLD is left as
 *             it is (the operator's to remove).
 *
 * An abort (--abort, a failure, no progress for CS_STALL_MS, a driver that
 * restarts) before the switch removes the record: OLD's host ends the
 * mirror and OLD goes on serving alone; nothing of the guest's is lost, as
 * every write was answered only once OLD had it. Main loop. */
#include "ctl_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bn_daemon.h"
#include "bn_devclass.h"
#include "bn_endpoint.h"
#include "bn_json.h"
#include "bn_log.h"
#include "bn_loop.h"
#ifdef BN_HAVE_WIRE_NBD
#include "nbd_server.h"
#endif

#define CTX          "swap-corm"
#define CS_TICK_MS   100
#define CS_STALL_MS  10000 /* no progress for this long: abort */
#define CS_SWITCH_MS 15000 /* the Corm-end move must be over by then */

enum cs_step { CS_COPY, CS_SWITCHED, CS_DONE, CS_FAILED };
static const char *const cs_steps[] = {"copy", "switched", "done", "failed"};

struct ctl_cswap {
        struct bn_ctl *c;
        bool driver; /* NEW's host; else OLD's host, mirroring */
        char wire[BN_TOPO_NAME_MAX + 1], old[BN_TOPO_NAME_MAX + 1], nw[BN_TOPO_NAME_MAX + 1];
        char target[600], rate[32];
        int corm_end; /* the wire's end OLD is */
        enum cs_step step;
        uint64_t t0, last_change, deadline, copied, total, said;
        struct bn_timer *timer;
#ifdef BN_HAVE_WIRE_NBD
        struct bn_nbd_server *srv;
        struct bn_nbd_file *file;
#endif
        json_object *log;
        char result[512];
        struct ctl_cswap *next;
};

static void say(struct ctl_cswap *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct ctl_cswap *s, const char *fmt, ...)
{
        char buf[700];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        bn_info(CTX, "%s: %s", s->wire, buf);
        if (s->log)
                json_object_array_add(s->log, json_object_new_string(buf));
}

static struct ctl_cswap **cs_find(struct bn_ctl *c, const char *wire, bool driver)
{
        struct ctl_cswap **p = &c->cswaps;

        while (*p && (strcmp((*p)->wire, wire) != 0 || (*p)->driver != driver))
                p = &(*p)->next;
        return p;
}

static void cs_server_close(struct ctl_cswap *s)
{
#ifdef BN_HAVE_WIRE_NBD
        bn_nbd_server_free(s->srv);
        s->srv = NULL;
        if (s->file)
                bn_nbd_file_close(s->file);
        s->file = NULL;
#else
        (void)s;
#endif
}

static void cs_stop_timer(struct ctl_cswap *s)
{
        if (s->timer)
                bn_loop_timer_cancel(s->c->d->loop, s->timer);
        s->timer = NULL;
}

static void cs_free(struct ctl_cswap *s)
{
        cs_stop_timer(s);
        cs_server_close(s);
        json_object_put(s->log);
        free(s);
}

static void key_of(char *key, size_t len, const char *prefix, const char *wire)
{
        snprintf(key, len, "%s%s", prefix, wire);
}

/* ---- OLD's side: the mirror on the Corm's loop ------------------------------- */

struct mirror_call {
        struct bn_endpoint *ep;
        int verb, rc;
        const char *target;
        struct bn_corm_mirror_st st;
        char err[400];
};

static void mirror_on_loop(void *arg)
{
        struct mirror_call *m = arg;
        m->rc = m->ep->cls->corm_mirror(m->ep, m->verb, m->target, &m->st, m->err, sizeof(m->err));
}

static int mirror_call(struct bn_ctl *c, const char *old, int verb, const char *target,
                       uint64_t rate, struct bn_corm_mirror_st *st, char *err, size_t len)
{
        struct mirror_call m = {.verb = verb, .target = target, .st = {.rate = rate}};
        int r;

        m.ep = bn_ep_registry_find(&c->d->eps, old);
        if (!m.ep || m.ep->kind != BN_EP_CORM || !m.ep->cls || !m.ep->cls->corm_mirror) {
                snprintf(err, len, "%s is not a disk Corm running on %s", old, c->d->host);
                return -ENOENT;
        }
        if ((r = bn_loop_call_wait(m.ep->loop, mirror_on_loop, &m)) || (r = m.rc)) {
                snprintf(err, len, "%s", m.err[0] ? m.err : strerror(-r));
                return r;
        }
        if (st)
                *st = m.st;
        return 0;
}

static void status_put(struct bn_ctl *c, const char *wire, const struct bn_corm_mirror_st *st,
                       const char *error)
{
        char key[BN_TOPO_NAME_MAX + 32], err[256] = "";
        json_object *o = json_object_new_object();

        if (!o)
                return;
        json_object_object_add(o, "host", json_object_new_string(c->d->host));
        json_object_object_add(o, "copied", json_object_new_int64((int64_t)st->copied));
        json_object_object_add(o, "total", json_object_new_int64((int64_t)st->total));
        json_object_object_add(o, "waited", json_object_new_int64((int64_t)st->waited));
        json_object_object_add(o, "error", json_object_new_string(error ? error : ""));
        key_of(key, sizeof(key), CTL_K_CSWAP_ST, wire);
        if (bn_store_put(c->store, key, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                         err, sizeof(err)))
                bn_warn(CTX, "%s: cannot write %s: %s", wire, key, err);
        json_object_put(o);
}

static void mirror_tick(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct ctl_cswap *s = arg;
        struct bn_corm_mirror_st st = {0};
        char err[400] = "";

        (void)loop;
        (void)t;
        if (mirror_call(s->c, s->old, BN_CORM_MIRROR_STATUS, NULL, 0, &st, err, sizeof(err)))
                status_put(s->c, s->wire, &st, err);
        else if (st.error)
                status_put(s->c, s->wire, &st, "the new Corm failed a write: the mirror stopped");
        else if (st.copied != s->copied || !s->said) {
                s->said = 1;
                s->copied = st.copied;
                status_put(s->c, s->wire, &st, NULL);
        }
}

/* Start mirroring OLD (here) to target; publishes the first status. */
static int mirror_begin(struct bn_ctl *c, const char *wire, const char *old, const char *target,
                        uint64_t rate, char *err, size_t len)
{
        struct bn_corm_mirror_st st = {0};
        struct ctl_cswap *s = *cs_find(c, wire, false);
        int r;

        if (s)
                return 0; /* already (an event seen twice) */
        if (!(s = calloc(1, sizeof(*s)))) {
                snprintf(err, len, "out of memory");
                return -ENOMEM;
        }
        s->c = c;
        snprintf(s->wire, sizeof(s->wire), "%s", wire);
        snprintf(s->old, sizeof(s->old), "%s", old);
        if ((r = mirror_call(c, old, BN_CORM_MIRROR_START, target, rate, &st, err, len))) {
                if (c->clustered)
                        status_put(c, wire, &st, err);
                free(s);
                return r;
        }
        if (c->clustered &&
            (r = bn_loop_timer_add(c->d->loop, CS_TICK_MS, CS_TICK_MS, mirror_tick, s, &s->timer)))
                bn_warn(CTX, "%s: no timer for the status", wire);
        s->next = c->cswaps;
        c->cswaps = s;
        bn_info(CTX, "%s: mirroring %s to %s", wire, old, target);
        return 0;
}

static void mirror_finish(struct bn_ctl *c, const char *wire)
{
        struct ctl_cswap **p = cs_find(c, wire, false), *s = *p;
        char err[400] = "", key[BN_TOPO_NAME_MAX + 32];

        if (!s)
                return;
        *p = s->next;
        cs_stop_timer(s);
        if (mirror_call(c, s->old, BN_CORM_MIRROR_STOP, NULL, 0, NULL, err, sizeof(err)))
                bn_warn(CTX, "%s: ending the mirror of %s: %s", wire, s->old, err);
        if (c->clustered) {
                key_of(key, sizeof(key), CTL_K_CSWAP_ST, wire);
                bn_store_del(c->store, key, err, sizeof(err));
        }
        bn_info(CTX, "%s: mirror of %s ended; %s goes on alone", wire, s->old, s->old);
        cs_free(s);
}

struct cs_event {
        struct bn_daemon *d;
        char *key, *value;
};

static void event_on_main(void *arg)
{
        struct cs_event *ev = arg;
        struct bn_ctl *c = ev->d->ctl;
        const char *wire = ev->key + strlen(CTL_K_CSWAP), *old = NULL, *target = NULL, *by = NULL,
                   *step = NULL, *rate = NULL;
        json_object *o = ev->value ? json_tokener_parse(ev->value) : NULL;
        char why[256], err[400] = "";

        if (!c)
                goto out;
        bn_debug(CTX, "%s: record %s", wire, ev->value ? ev->value : "removed");
        if (!ev->value) {
                mirror_finish(c, wire);
                goto out;
        }
        if (!o || bn_json_get_str(o, "old", &old, why, sizeof(why)) ||
            bn_json_get_str(o, "target", &target, why, sizeof(why)) ||
            bn_json_get_str(o, "by", &by, why, sizeof(why)) ||
            bn_json_get_str(o, "step", &step, why, sizeof(why)))
                goto out;
        bn_json_get_str(o, "rate", &rate, why, sizeof(why));
        if (!strcmp(by, c->d->host) || strcmp(step, "copy") != 0 ||
            !bn_ep_registry_find(&c->d->eps, old))
                goto out;
        if (mirror_begin(c, wire, old, target, rate ? strtoull(rate, NULL, 10) : 0, err,
                         sizeof(err)))
                bn_warn(CTX, "%s: cannot mirror %s for %s: %s", wire, old, by, err);
out:
        json_object_put(o);
        free(ev->key);
        free(ev->value);
        free(ev);
}

void ctl_swap_corm_event(struct bn_daemon *d, const char *key, const char *value)
{
        struct cs_event *ev = calloc(1, sizeof(*ev));

        if (!ev)
                return;
        ev->d = d;
        ev->key = strdup(key);
        ev->value = value ? strdup(value) : NULL;
        if (!ev->key || (value && !ev->value) || bn_loop_call(d->loop, event_on_main, ev)) {
                free(ev->key);
                free(ev->value);
                free(ev);
        }
}

/* ---- the driver, on NEW's host ----------------------------------------------- */

static int put_record(struct bn_ctl *c, const struct ctl_cswap *s, const char *step,
                      struct ctl_opbuf *ops, char *err, size_t len)
{
        char key[BN_TOPO_NAME_MAX + 32];
        json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "wire", json_object_new_string(s->wire));
        json_object_object_add(o, "old", json_object_new_string(s->old));
        json_object_object_add(o, "new", json_object_new_string(s->nw));
        json_object_object_add(o, "target", json_object_new_string(s->target));
        json_object_object_add(o, "rate", json_object_new_string(s->rate));
        json_object_object_add(o, "by", json_object_new_string(c->d->host));
        json_object_object_add(o, "step", json_object_new_string(step));
        key_of(key, sizeof(key), CTL_K_CSWAP, s->wire);
        if (ops)
                r = ctl_opbuf_put_text(ops, key,
                                       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        else
                r = bn_store_put(c->store, key,
                                 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), err,
                                 len);
        json_object_put(o);
        return r;
}

static bool old_here(const struct ctl_cswap *s)
{
        return bn_ep_registry_find(&s->c->d->eps, s->old) != NULL;
}

/* The record goes; OLD's host (or this one) ends the mirror. */
static void cs_end(struct ctl_cswap *s, enum cs_step st)
{
        struct bn_ctl *c = s->c;
        char key[BN_TOPO_NAME_MAX + 32], err[256] = "";

        key_of(key, sizeof(key), CTL_K_CSWAP, s->wire);
        if (c->clustered && bn_store_del(c->store, key, err, sizeof(err)) && err[0])
                bn_warn(CTX, "%s: cannot remove %s: %s", s->wire, key, err);
        key_of(key, sizeof(key), CTL_K_CSWAP_ST, s->wire);
        if (c->clustered)
                bn_store_del(c->store, key, err, sizeof(err)); /* a start OLD's host refused */
        mirror_finish(c, s->wire); /* OLD here (no watch event to wait for) */
        cs_stop_timer(s);
        cs_server_close(s);
        s->step = st;
}

static void cs_abort(struct ctl_cswap *s, const char *why)
{
        snprintf(s->result, sizeof(s->result), "aborted: %s", why);
        cs_end(s, CS_FAILED);
        say(s, "aborted (%s): %s goes on serving %s alone, nothing lost; %s is left as it is", why,
            s->old, s->wire, s->nw);
}

/* How the copy goes: from OLD here, or OLD's host's status record. */
static int copy_status(struct ctl_cswap *s, uint64_t *copied, uint64_t *total, char *err,
                       size_t len)
{
        struct bn_corm_mirror_st st = {0};
        char key[BN_TOPO_NAME_MAX + 32], *v = NULL, why[128];
        const char *e = "";
        int64_t n = 0;
        json_object *o;

        if (old_here(s)) {
                if (mirror_call(s->c, s->old, BN_CORM_MIRROR_STATUS, NULL, 0, &st, err, len))
                        return -EIO;
                if (st.error) {
                        snprintf(err, len, "the new Corm failed a write: the mirror stopped");
                        return -EIO;
                }
                *copied = st.copied;
                *total = st.total;
                return 0;
        }
        key_of(key, sizeof(key), CTL_K_CSWAP_ST, s->wire);
        if (bn_store_get(s->c->store, key, &v))
                return 0; /* not yet */
        o = json_tokener_parse(v);
        free(v);
        if (!o)
                return 0;
        if (!bn_json_get_str(o, "error", &e, why, sizeof(why)) && e[0]) {
                snprintf(err, len, "%s: %s", s->nw, e);
                json_object_put(o);
                return -EIO;
        }
        if (!bn_json_get_int(o, "copied", 0, INT64_MAX, &n, why, sizeof(why)))
                *copied = (uint64_t)n;
        if (!bn_json_get_int(o, "total", 0, INT64_MAX, &n, why, sizeof(why)))
                *total = (uint64_t)n;
        json_object_put(o);
        return 0;
}

/* Everything is copied: one transaction moves the wire's Corm end to NEW
 * with the type the policy picks for the placement; the reconciler's
 * make-before-break does the quiesce and the move. */
static void do_switch(struct ctl_cswap *s)
{
        struct bn_ctl *c = s->c;
        struct bn_topo *t = NULL;
        const struct bn_topo_wire *w;
        const struct bn_topo_ep *sp;
        struct bn_topo_wire nw;
        struct ctl_opbuf ops = {0};
        char err[512] = "";
        const char *type;
        int j = s->corm_end, r;

        memset(&nw, 0, sizeof(nw));
        if (ctl_desired_load(c, &t, err, sizeof(err)) || !(w = bn_topo_wire_find(t, s->wire)) ||
            strcmp(w->end[j], s->old) != 0 || !(sp = bn_topo_ep_find(t, w->end[!j]))) {
                cs_abort(s, err[0] ? err : "the wire changed during the copy");
                goto out;
        }
        type = bn_topo_policy_for_class(ctl_policy_pick(c, t, sp->location, c->d->host, NULL, 0),
                                        sp->cls);
        nw = *w;
        memset(&nw.opts, 0, sizeof(nw.opts));
        nw.end[j] = s->nw;
        nw.type = (char *)type;
        for (size_t i = 0; strcmp(type, w->type) == 0 && i < w->opts.n; i++)
                if (bn_kvlist_add(&nw.opts, w->opts.v[i].key, w->opts.v[i].value)) {
                        cs_abort(s, "out of memory");
                        goto out;
                }
        if ((r = ctl_wire_check(c, type, sp->cls, &nw.opts, err, sizeof(err))) ||
            (r = ctl_opbuf_put(&ops, CTL_K_WIRE, s->wire, ctl_wire_json(&nw))) ||
            (c->clustered && (r = put_record(c, s, "switched", &ops, err, sizeof(err)))) ||
            (r = ctl_commit(c, &ops, err, sizeof(err)))) {
                cs_abort(s, err[0] ? err : strerror(-r));
                goto out;
        }
        s->step = CS_SWITCHED;
        s->deadline = bn_now_ms() + CS_SWITCH_MS;
        say(s,
            "switch: all %" PRIu64 " bytes copied in %" PRIu64
            " ms; the wire's Corm end moves from %s to %s, %s -> %s (the Spike is quiesced, what "
            "is in flight on %s finishes, then %s serves)",
            s->total, bn_now_ms() - s->t0, s->old, s->nw, w->type, type, s->old, s->nw);
        ctl_reconcile(c);
out:
        bn_kvlist_free(&nw.opts);
        ctl_ops_free(&ops);
        bn_topo_free(t);
}

/* The Corm-end move is over here: the wire's ends are open on NEW, no old
 * end is left. */
static bool switch_over(struct ctl_cswap *s)
{
        struct rt_wire *w = ctl_rt_wire(s->c, s->wire);
        int j = s->corm_end;

        return w && !w->old_type && w->end[j] && !strcmp(w->end[j], s->nw) && w->port[j] &&
               (!w->local[!j] || w->port[!j]);
}

static void tick(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct ctl_cswap *s = arg;
        char err[400] = "";
        uint64_t now = bn_now_ms(), copied = s->copied, total = s->total;

        (void)loop;
        (void)t;
        if (s->step == CS_COPY) {
                if (copy_status(s, &copied, &total, err, sizeof(err))) {
                        cs_abort(s, err);
                        return;
                }
                if (copied != s->copied || total != s->total)
                        s->last_change = now;
                s->copied = copied;
                s->total = total;
                if (total && copied * 4 / total > s->said && copied < total) {
                        s->said = copied * 4 / total;
                        say(s, "copy: %" PRIu64 " of %" PRIu64 " MiB (%" PRIu64 "%%)", copied >> 20,
                            total >> 20, copied * 100 / total);
                }
                if (total && copied >= total)
                        do_switch(s);
                else if (now - s->last_change > CS_STALL_MS)
                        cs_abort(s, "no progress of the copy for 10 s");
                return;
        }
        if (s->step == CS_SWITCHED && (switch_over(s) || now > s->deadline)) {
                bool over = switch_over(s);
                cs_end(s, CS_DONE);
                snprintf(s->result, sizeof(s->result), "%s", over ? "done" : "done (late)");
                say(s,
                    "done: %s serves %s (%" PRIu64 " ms in all); the mirror of %s ended, %s is "
                    "left untouched%s",
                    s->nw, s->wire, bn_now_ms() - s->t0, s->old, s->old,
                    over ? "" : " (the move was not seen over in 15 s)");
        }
}

/* Where OLD's host reaches NEW: its file here, or an NBD export of it on
 * this host's underlay address. */
static int serve_new(struct ctl_cswap *s, const char *path, char *err, size_t len)
{
        struct bn_ctl *c = s->c;

        if (old_here(s)) {
                snprintf(s->target, sizeof(s->target), "%s", path);
                return 0;
        }
#ifdef BN_HAVE_WIRE_NBD
        {
                char key[128], *v = NULL, addr[160], why[128];
                const char *a = NULL;
                json_object *o;
                int r;

                snprintf(key, sizeof(key), "%s%s", CTL_K_MEMBER, c->d->host);
                if (!c->clustered || bn_store_get(c->store, key, &v)) {
                        snprintf(err, len, "%s is on another host and %s has no member record",
                                 s->old, c->d->host);
                        return -EHOSTDOWN;
                }
                o = json_tokener_parse(v);
                free(v);
                if (!o || bn_json_get_str(o, "address", &a, why, sizeof(why)) || !a[0]) {
                        json_object_put(o);
                        snprintf(err, len, "%s's member record has no address", c->d->host);
                        return -EINVAL;
                }
                snprintf(addr, sizeof(addr), "tcp:%s:0", a);
                if ((r = bn_nbd_file_open(&s->file, path, false)) ||
                    (r = bn_nbd_server_new(&s->srv, c->d->loop, addr, "", &bn_nbd_file_ops, s->file,
                                           0))) {
                        snprintf(err, len, "cannot serve %s's file %s on %s: %s", s->nw, path, addr,
                                 strerror(-r));
                        json_object_put(o);
                        return r;
                }
                bn_nbd_server_set_limits(s->srv, 4, 0);
                snprintf(s->target, sizeof(s->target), "nbd://%s:%d", a,
                         bn_nbd_server_port(s->srv));
                json_object_put(o);
                return 0;
        }
#else
        snprintf(err, len, "%s is on another host and this bananad has no nbd wire", s->old);
        return -EOPNOTSUPP;
#endif
}

/* The request's checks, naming what is refused. */
static int plan(struct ctl_cswap *s, const struct bn_topo *t, const char **path, char *err,
                size_t len)
{
        const struct bn_topo_wire *w = bn_topo_wire_find(t, s->wire);
        const struct bn_topo_ep *o = NULL, *n = bn_topo_ep_find(t, s->nw);
        const char *ro;
        struct stat stb;

        if (!w) {
                snprintf(err, len, "no wire '%s' in the desired state", s->wire);
                return -ENOENT;
        }
        for (int j = 0; j < 2 && !o; j++) {
                const struct bn_topo_ep *e = bn_topo_ep_find(t, w->end[j]);
                if (e && e->kind == BN_TOPO_CORM) {
                        o = e;
                        s->corm_end = j;
                }
        }
        if (!o) {
                snprintf(err, len, "wire %s has no Corm end", s->wire);
                return -EINVAL;
        }
        snprintf(s->old, sizeof(s->old), "%s", o->name);
        if (!n || n->kind != BN_TOPO_CORM) {
                snprintf(err, len, "'%s' is not a Corm of the desired state (declare it first)",
                         s->nw);
                return -ENOENT;
        }
        if (!strcmp(n->name, o->name)) {
                snprintf(err, len, "%s already serves %s", o->name, s->wire);
                return -EINVAL;
        }
        if (strcmp(n->cls, o->cls) != 0 || strcmp(o->cls, "vbd") != 0) {
                snprintf(err, len,
                         "%s is of class %s, %s of class %s: swap-corm needs two disk "
                         "(vbd) Corms",
                         n->name, n->cls, o->name, o->cls);
                return -EINVAL;
        }
        if (strcmp(n->location, s->c->d->host) != 0) {
                snprintf(err, len, "%s is on %s: run swap-corm there", n->name, n->location);
                return -EINVAL;
        }
        for (size_t i = 0; i < t->n_wires; i++)
                if (!strcmp(t->wires[i].end[0], n->name) || !strcmp(t->wires[i].end[1], n->name)) {
                        snprintf(err, len, "%s is already wired (%s)", n->name, t->wires[i].name);
                        return -EBUSY;
                }
        ro = bn_kvlist_get(&n->params, "readonly");
        *path = bn_kvlist_get(&n->params, "path");
        if (!*path) {
                snprintf(err, len, "%s is not a file Corm (no path): swap-corm copies to a file",
                         n->name);
                return -EINVAL;
        }
        if ((ro && (!strcmp(ro, "1") || !strcmp(ro, "true") || !strcmp(ro, "yes"))) ||
            access(*path, W_OK) != 0) {
                snprintf(err, len, "the new Corm %s (%s) is read-only%s%s: %s stays", n->name,
                         *path, ro ? "" : ": ", ro ? "" : strerror(errno), o->name);
                return -EROFS;
        }
        if (stat(*path, &stb) != 0) {
                snprintf(err, len, "the new Corm %s: %s: %s", n->name, *path, strerror(errno));
                return -ENOENT;
        }
        return 0;
}

json_object *ctl_op_swap_corm(struct bn_ctl *c, json_object *req)
{
        const char *wire = ctl_arg_str(req, "wire"), *corm = ctl_arg_str(req, "corm"),
                   *rate = ctl_arg_str(req, "rate"), *path = NULL;
        struct ctl_cswap *s = NULL, **p;
        struct bn_topo *t = NULL;
        json_object *o = NULL, *ab;
        char err[600] = "";
        int r;

        if (!wire)
                return ctl_reply_error("swap-corm needs a wire");
        p = cs_find(c, wire, true);
        if (json_object_object_get_ex(req, "abort", &ab) && json_object_get_boolean(ab)) {
                if (!*p || (*p)->step != CS_COPY)
                        return ctl_reply_error(
                            "no swap-corm of %.200s to abort on %s%s", wire, c->d->host,
                            *p && (*p)->step == CS_SWITCHED ? " (it is switching: too late)" : "");
                cs_abort(*p, "aborted by the operator");
                return ctl_reply_ok();
        }
        if (!corm)
                return ctl_reply_error("swap-corm needs a wire and the new Corm");
        if (rate && (strspn(rate, "0123456789") != strlen(rate) || !rate[0] || strlen(rate) > 15))
                return ctl_reply_error("--rate must be bytes per second (digits)");
        if (*p && ((*p)->step == CS_COPY || (*p)->step == CS_SWITCHED))
                return ctl_reply_error("%s is already being swapped to %s", wire, (*p)->nw);
        if (*p) {
                struct ctl_cswap *old = *p;
                *p = old->next;
                cs_free(old);
        }
        if (!(s = calloc(1, sizeof(*s))) || !(s->log = json_object_new_array())) {
                o = ctl_reply_error("out of memory");
                goto out;
        }
        s->c = c;
        s->driver = true;
        snprintf(s->wire, sizeof(s->wire), "%s", wire);
        snprintf(s->nw, sizeof(s->nw), "%s", corm);
        snprintf(s->rate, sizeof(s->rate), "%s", rate ? rate : "0");
        if (ctl_desired_load(c, &t, err, sizeof(err)) || plan(s, t, &path, err, sizeof(err)) ||
            serve_new(s, path, err, sizeof(err))) {
                o = ctl_reply_error("swap-corm %s: %s", wire, err[0] ? err : "out of memory");
                goto out;
        }
        if (c->clustered && (r = put_record(c, s, "copy", NULL, err, sizeof(err)))) {
                o = ctl_reply_error("swap-corm %s: the store: %s", wire,
                                    err[0] ? err : strerror(-r));
                goto out;
        }
        if (old_here(s) && mirror_begin(c, wire, s->old, s->target, strtoull(s->rate, NULL, 10),
                                        err, sizeof(err))) {
                cs_end(s, CS_FAILED);
                o = ctl_reply_error("swap-corm %s: %s", wire, err);
                goto out;
        }
        s->t0 = s->last_change = bn_now_ms();
        if (bn_loop_timer_add(c->d->loop, CS_TICK_MS, CS_TICK_MS, tick, s, &s->timer)) {
                cs_end(s, CS_FAILED);
                o = ctl_reply_error("swap-corm %s: no timer", wire);
                goto out;
        }
        say(s, "copy: %s's bytes go to %s (%s) while every write goes to both", s->old, s->nw,
            s->target);
        s->next = c->cswaps;
        c->cswaps = s;
        s = NULL;
        o = ctl_reply_ok();
        json_object_object_add(o, "wire", json_object_new_string(wire));
out:
        if (s)
                cs_free(s);
        bn_topo_free(t);
        return o;
}

json_object *ctl_op_corm_swap(struct bn_ctl *c, json_object *req)
{
        const char *wire = ctl_arg_str(req, "wire");
        struct ctl_cswap *s = wire ? *cs_find(c, wire, true) : NULL;
        json_object *o;

        if (!s)
                return ctl_reply_error("no swap-corm of '%.200s' on %s", wire ? wire : "",
                                       c->d->host);
        o = ctl_reply_ok();
        ctl_json_add_str(o, "wire", s->wire);
        ctl_json_add_str(o, "old", s->old);
        ctl_json_add_str(o, "new", s->nw);
        ctl_json_add_str(o, "step", cs_steps[s->step]);
        ctl_json_add_str(o, "result", s->result);
        json_object_object_add(o, "copied", json_object_new_int64((int64_t)s->copied));
        json_object_object_add(o, "total", json_object_new_int64((int64_t)s->total));
        json_object_object_add(o, "log", json_object_get(s->log));
        return o;
}

/* The copy progress of wire, appended to buf (`bananactl wires`' state). */
void ctl_swap_corm_progress(struct bn_ctl *c, const char *wire, char *buf, size_t len)
{
        struct ctl_cswap *s = *cs_find(c, wire, true);
        size_t n = strlen(buf);

        if (s && (s->step == CS_COPY || s->step == CS_SWITCHED) && n + 1 < len)
                snprintf(buf + n, len - n, " (swap-corm to %s: %s, %" PRIu64 "/%" PRIu64 " MiB)",
                         s->nw, cs_steps[s->step], s->copied >> 20, s->total >> 20);
}

void ctl_swap_corm_stop(struct bn_ctl *c)
{
        while (c->cswaps) {
                struct ctl_cswap *s = c->cswaps;
                c->cswaps = s->next;
                if (!s->driver) {
                        char err[400];
                        mirror_call(c, s->old, BN_CORM_MIRROR_STOP, NULL, 0, NULL, err,
                                    sizeof(err));
                }
                cs_free(s);
        }
}

/* A driver that died: its swaps left before the switch are aborted (the
 * record goes, OLD's host ends the mirror); one left switched is done. */
static int recover_pair(void *arg, const char *key, const char *value)
{
        struct bn_ctl *c = arg;
        json_object *o = json_tokener_parse(value);
        const char *by = NULL, *step = NULL;
        char why[128], err[256] = "";

        if (o && !bn_json_get_str(o, "by", &by, why, sizeof(why)) &&
            !bn_json_get_str(o, "step", &step, why, sizeof(why)) && !strcmp(by, c->d->host)) {
                bn_warn(CTX, "%s: a swap-corm left at step %s by the last bananad: %s",
                        key + strlen(CTL_K_CSWAP), step,
                        strcmp(step, "copy") ? "the switch is kept"
                                             : "aborted, the old Corm stays");
                if (bn_store_del(c->store, key, err, sizeof(err)) && err[0])
                        bn_warn(CTX, "cannot remove %s: %s", key, err);
        }
        json_object_put(o);
        return 0;
}

void ctl_swap_corm_recover(struct bn_ctl *c)
{
        bn_store_list(c->store, CTL_K_CSWAP, recover_pair, c);
}
