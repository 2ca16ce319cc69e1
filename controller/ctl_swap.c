/* ctl_swap.c: hot-swap, make before break. When the desired state changes a
 * wire's type (bananactl swap, apply) or moves its Corm end to another
 * Corm, the reconciler keeps the open ends as the wire's old ends, opens
 * the new ones beside them (a Spike's as its standby port,
 * bn_wire_port_open_next) and hands the switch to the Spike's loop
 * (bn_endpoint_swap: the new wire linked, the old quiesced and drained,
 * then the new one attached); when it is done the old ends are closed.
 * An end whose Spike is on another host has its old end closed when its
 * peer goes, or CTL_SWAP_OLD_MS after the swap began. */
#include "ctl_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bn_daemon.h"
#include "bn_json.h"
#include "bn_endpoint.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_wire.h"

#define CTX "controller"

/* The new wire must link, and the old drain, within this. */
#define CTL_SWAP_TIMEOUT_MS 15000u
/* An old end whose Spike is elsewhere: closed by then at the latest. */
#define CTL_SWAP_OLD_MS 3000u

/* What a late callback needs to find its swap (the controller may be gone:
 * it goes through the daemon, as ctl_run.c's port downs do). */
struct swap_ref {
        struct bn_daemon *d;
        char wire[256];
        uint64_t token;
        int end;
};

static struct swap_ref *ref_new(struct bn_ctl *c, const struct rt_wire *w, int end)
{
        struct swap_ref *r = calloc(1, sizeof(*r));

        if (!r)
                return NULL;
        r->d = c->d;
        snprintf(r->wire, sizeof(r->wire), "%s", w->name);
        r->token = w->swap_token;
        r->end = end;
        return r;
}

/* The wire of a callback, if it is still in the same swap. */
static struct rt_wire *ref_wire(const struct swap_ref *r, struct bn_ctl **cp)
{
        struct bn_ctl *c = r->d->ctl;
        struct rt_wire *w = c ? ctl_rt_wire(c, r->wire) : NULL;

        *cp = c;
        return w && w->old_type && w->swap_token == r->token ? w : NULL;
}

void ctl_swap_cancel_timer(struct rt_wire *w)
{
        if (w->old_tm)
                bn_loop_timer_cancel(w->old_loop, w->old_tm);
        free(w->old_ref);
        w->old_tm = NULL;
        w->old_ref = NULL;
}

void ctl_swap_close_old(struct rt_wire *w, int j)
{
        if (w->old_port[j] && w->old_ep[j] && bn_endpoint_holds_port(w->old_ep[j], w->old_port[j]))
                bn_wire_port_close(w->old_port[j]);
        w->old_port[j] = NULL;
        w->old_ep[j] = NULL;
        w->swap_started[j] = false;
}

/* Every old end closed: the swap is over. */
static void swap_end(struct rt_wire *w)
{
        if (w->old_port[0] || w->old_port[1] || !w->old_type)
                return;
        if (!w->local[0] && !w->local[1] && w->old_ctl) /* it left this host: removed there */
                ctl_reconcile_soon(w->old_ctl);
        ctl_swap_cancel_timer(w);
        w->last_swap_ms = w->swap_started_ms ? bn_now_ms() - w->swap_started_ms : 0;
        w->swap_started_ms = 0;
        w->swaps++;
        bn_info(CTX,
                "wire %s: swapped from %s to %s in %" PRIu64 " ms (new requests waited %" PRIu64
                " us)",
                w->name, w->old_type, w->type, w->last_swap_ms, w->last_swap_wait_us);
        free(w->old_type);
        w->old_type = NULL;
        for (int j = 0; j < 2; j++) {
                free(w->old_end[j]);
                w->old_end[j] = NULL;
        }
}

bool ctl_swap_wanted(const struct rt_wire *w, const struct bn_topo_wire *dw, const bool local[2])
{
        bool same0 = strcmp(dw->end[0], w->end[0]) == 0, same1 = strcmp(dw->end[1], w->end[1]) == 0;
        int k;

        if (same0 && same1) /* a new type may come with its own options */
                return strcmp(dw->type, w->type) != 0 && local[0] == w->local[0] &&
                       local[1] == w->local[1];
        if (same0 == same1)
                return false; /* both ends changed: another wire */
        /* a Corm end moved, maybe with a new type and its options (shm to
         * this host's bridge <-> vxlan to another host's) */
        k = same0 ? 0 : 1; /* the end that stays must be this host's Spike */
        return local[k] && w->local[k] && w->port[k] && w->ep[k] && w->ep[k]->kind == BN_EP_SPIKE;
}

bool ctl_swap_leaving(const struct rt_wire *w, const struct bn_topo_wire *dw)
{
        bool same0 = strcmp(dw->end[0], w->end[0]) == 0, same1 = strcmp(dw->end[1], w->end[1]) == 0;
        int k;

        if (same0 == same1)
                return false;
        k = same0 ? 1 : 0; /* the end that moved: this host's open Corm end */
        return !w->local[!k] && w->local[k] && w->port[k] && w->ep[k] &&
               w->ep[k]->kind == BN_EP_CORM;
}

int ctl_swap_begin(struct bn_ctl *c, struct rt_wire *w, const struct bn_topo_wire *dw,
                   const bool local[2])
{
        char *nt = strdup(dw->type), *ne[2] = {strdup(dw->end[0]), strdup(dw->end[1])};
        struct bn_kvlist no = {0};
        int rc = nt && ne[0] && ne[1] ? 0 : -ENOMEM;

        for (size_t i = 0; !rc && i < dw->opts.n; i++)
                rc = bn_kvlist_add(&no, dw->opts.v[i].key, dw->opts.v[i].value);
        if (rc) {
                free(nt);
                free(ne[0]);
                free(ne[1]);
                bn_kvlist_free(&no);
                return -ENOMEM;
        }
        bn_kvlist_free(&w->opts);
        w->opts = no;
        if (w->old_type) { /* a swap still in progress: its old ends go now */
                bn_warn(CTX, "wire %s: swapped again before the last swap finished", w->name);
                ctl_swap_close_old(w, 0);
                ctl_swap_close_old(w, 1);
                swap_end(w);
        }
        bn_info(CTX, "wire %s: swap %s (%s, %s) -> %s (%s, %s), make before break", w->name,
                w->type, w->end[0], w->end[1], nt, ne[0], ne[1]);
        w->swap_token = ++c->swap_seq;
        w->old_ctl = c;
        w->swap_started_ms = bn_now_ms();
        w->old_type = w->type;
        w->type = nt;
        for (int j = 0; j < 2; j++) {
                w->old_end[j] = w->end[j];
                w->end[j] = ne[j];
                w->old_port[j] = w->port[j];
                w->old_ep[j] = w->ep[j];
                w->port[j] = NULL;
                w->ep[j] = NULL;
                w->swap_started[j] = false;
                w->local[j] = local[j];
        }
        swap_end(w); /* nothing was open: nothing to switch */
        return 0;
}

int ctl_swap_open_end(struct bn_ctl *c, struct rt_wire *w, int j, struct bn_endpoint *ep,
                      const struct bn_params *p, char *err, size_t errlen)
{
        if (w->old_port[j] && w->old_ep[j] == ep && ep->kind == BN_EP_SPIKE) {
                if (bn_endpoint_holds_port(ep, w->old_port[j]))
                        return bn_wire_port_open_next(&c->d->wires, w->type, w->name, (unsigned)j,
                                                      ep, p, &w->port[j], err, errlen);
                w->old_port[j] = NULL; /* the framework closed it (the device went) */
                w->old_ep[j] = NULL;
        }
        return bn_wire_port_open(&c->d->wires, w->type, w->name, (unsigned)j, ep, p, &w->port[j],
                                 err, errlen);
}

static void swap_done(struct bn_swap_result *res)
{
        struct swap_ref *r = res->arg;
        struct bn_ctl *c;
        struct rt_wire *w = ref_wire(r, &c);
        int j = r->end;

        if (!w)
                goto out;
        if (res->aborted) {
                /* the new wire never linked: start that end afresh (break
                 * before make) on the next reconcile */
                bn_warn(CTX, "wire %s: the new %s end %d did not link in %u ms: reopening it",
                        w->name, w->type, j, CTL_SWAP_TIMEOUT_MS);
                if (w->port[j] == res->next && w->ep[j] &&
                    bn_endpoint_holds_port(w->ep[j], w->port[j]))
                        bn_wire_port_close(w->port[j]);
                if (w->port[j] == res->next) {
                        w->port[j] = NULL;
                        w->ep[j] = NULL;
                }
                snprintf(w->error, sizeof(w->error), "waiting: the new wire did not link");
        } else {
                w->last_swap_wait_us = res->wait_us;
                if (res->wait_us > w->max_swap_wait_us)
                        w->max_swap_wait_us = res->wait_us;
                if (res->timed_out)
                        bn_warn(CTX,
                                "wire %s: the old end did not drain in %u ms; its unanswered "
                                "requests went again on the new one",
                                w->name, CTL_SWAP_TIMEOUT_MS);
        }
        /* the old ends of this host go: a local Corm's first (it stops
         * sending into the old wire), then the Spike's, which still takes
         * what was in flight until then */
        for (int k = 0; k < 2; k++)
                if (w->old_ep[k] && w->old_ep[k]->kind == BN_EP_CORM)
                        ctl_swap_close_old(w, k);
        ctl_swap_close_old(w, 0);
        ctl_swap_close_old(w, 1);
        swap_end(w);
out:
        free(r);
        free(res);
}

static void old_timer(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct swap_ref *r = arg;
        struct bn_ctl *c;
        struct rt_wire *w = ref_wire(r, &c);

        (void)loop;
        (void)t;
        if (w && w->old_ref == r) {
                w->old_tm = NULL;
                w->old_ref = NULL;
                for (int j = 0; j < 2; j++)
                        if (w->old_port[j] && !w->swap_started[j]) {
                                bn_info(CTX, "wire %s: old %s end %d closed", w->name, w->old_type,
                                        j);
                                ctl_swap_close_old(w, j);
                        }
                swap_end(w);
        }
        free(r);
}

void ctl_swap_progress(struct bn_ctl *c, struct rt_wire *w)
{
        bool spike = false;

        if (!w->old_type)
                return;
        for (int j = 0; j < 2; j++) {
                struct swap_ref *r;
                int rc;

                if (!w->old_port[j] || w->old_ep[j]->kind != BN_EP_SPIKE)
                        continue;
                spike = true;
                if (!w->port[j] || w->swap_started[j])
                        continue; /* the new end is not open yet, or switching */
                r = ref_new(c, w, j);
                rc = r ? bn_endpoint_swap(w->ep[j], w->old_port[j], w->port[j], CTL_SWAP_TIMEOUT_MS,
                                          c->d->loop, swap_done, r)
                       : -ENOMEM;
                if (rc) {
                        /* no switch: break before make */
                        bn_warn(CTX, "wire %s: cannot switch end %d: %s; closing the old end",
                                w->name, j, strerror(-rc));
                        free(r);
                        bn_wire_port_close(w->port[j]);
                        w->port[j] = NULL;
                        w->ep[j] = NULL;
                        ctl_swap_close_old(w, j);
                        continue;
                }
                w->swap_started[j] = true;
        }
        if (spike) /* the Spike's swap_done closes the old ends */
                return;
        /* No Spike of the wire switches here: with both ends here (Corms, or
         * a Spike whose old end was not open) nothing needs the old ends;
         * one whose Spike is elsewhere waits for it (its peer goes) or for
         * the timer. */
        if (w->local[0] && w->local[1]) {
                ctl_swap_close_old(w, 0);
                ctl_swap_close_old(w, 1);
        } else if ((w->old_port[0] || w->old_port[1]) && !w->old_tm) {
                struct swap_ref *r = ref_new(c, w, 0);
                if (r && bn_loop_timer_add(c->d->loop, CTL_SWAP_OLD_MS, 0, old_timer, r,
                                           &w->old_tm) == 0) {
                        w->old_ref = r;
                        w->old_loop = c->d->loop;
                } else { /* no timer: close them now */
                        free(r);
                        ctl_swap_close_old(w, 0);
                        ctl_swap_close_old(w, 1);
                }
        }
        swap_end(w);
}

/* The options a swap gives (req's "options", each checked as connect
 * checks them) into *out; 0, 1 when the request has none (keep the
 * wire's), or -1 with err. */
int ctl_swap_opts(json_object *req, struct bn_kvlist *out, char *err, size_t errlen)
{
        json_object *opts = NULL;
        const char *why;

        if (!json_object_object_get_ex(req, "options", &opts) ||
            !json_object_is_type(opts, json_type_object))
                return 1;
        json_object_object_foreach(opts, k, v)
        {
                const char *val = NULL;
                char e[256];
                if (bn_json_as_str(v, k, &val, e, sizeof(e))) {
                        snprintf(err, errlen, "option %s", e);
                        return -1;
                }
                if ((why = bn_topo_check_wire_key(k)) || (why = bn_topo_check_wire_opt(k, val))) {
                        snprintf(err, errlen, "option '%s': %s", k, why);
                        return -1;
                }
                if (bn_kvlist_add(out, k, val)) {
                        snprintf(err, errlen, "out of memory");
                        return -1;
                }
        }
        return 0;
}

bool ctl_swap_port_down(struct rt_wire *w, struct bn_wire_port *port)
{
        for (int j = 0; j < 2; j++) {
                if (!w->old_port[j] || w->old_port[j] != port || w->swap_started[j])
                        continue;
                bn_info(CTX, "wire %s: the old %s end %d's peer has gone: closing it", w->name,
                        w->old_type, j);
                ctl_swap_close_old(w, j);
                swap_end(w);
                return true;
        }
        return false;
}
