/* xss_tx.c: transactions, and the view layer the tree operations go
 * through. Outside a transaction a view reads and changes the committed
 * tree and fires watch events at once. Inside one, changed nodes are copied
 * into the transaction's overlay (deletions leave tombstones), the
 * generation of every committed node the transaction looked at is recorded,
 * and events are queued. Commit fails with EAGAIN when any of those nodes
 * changed (or appeared, or vanished) since; otherwise the overlay replaces
 * the committed nodes and the queued events fire.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xss_int.h"

static void acc_free(struct xss_hent *h)
{
        free(h->key);
        free(h);
}

static void record_access(struct xss_tx *tx, const char *path, const struct xss_node *g)
{
        struct xss_acc *a;

        if (xss_htab_get(&tx->access, path))
                return;
        a = calloc(1, sizeof(*a));
        if (!a || !(a->h.key = strdup(path))) {
                free(a);
                tx->new_nodes = XSS_Q_NODES * 2; /* poison: cannot track, fail commit */
                return;
        }
        a->gen = g ? g->gen : 0;
        xss_htab_put(&tx->access, &a->h);
}

struct xss_node *xss_view_lookup(struct xss_view *v, const char *path)
{
        struct xss_node *g;

        if (v->tx) {
                struct xss_node *o = (struct xss_node *)xss_htab_get(&v->tx->overlay, path);

                if (o)
                        return o->deleted ? NULL : o;
        }
        g = (struct xss_node *)xss_htab_get(&v->s->nodes, path);
        if (v->tx)
                record_access(v->tx, path, g);
        return g;
}

struct xss_node *xss_view_mut(struct xss_view *v, const char *path)
{
        struct xss_node *g, *o;

        if (!v->tx)
                return (struct xss_node *)xss_htab_get(&v->s->nodes, path);
        o = (struct xss_node *)xss_htab_get(&v->tx->overlay, path);
        if (o)
                return o->deleted ? NULL : o;
        g = xss_view_lookup(v, path);
        if (!g)
                return NULL;
        o = xss_node_dup(g);
        if (!o)
                return NULL;
        xss_htab_put(&v->tx->overlay, &o->h);
        return o;
}

int xss_view_insert(struct xss_view *v, struct xss_node *n)
{
        struct xss_hent *old;

        if (!v->tx) {
                n->gen = ++v->s->gen;
                xss_account(v->s, n->perms.p[0].id, 1);
                return xss_htab_put(&v->s->nodes, &n->h);
        }
        old = xss_htab_del(&v->tx->overlay, n->h.key);
        if (old)
                xss_node_free((struct xss_node *)old);
        else
                record_access(v->tx, n->h.key,
                              (struct xss_node *)xss_htab_get(&v->s->nodes, n->h.key));
        v->tx->new_nodes++;
        return xss_htab_put(&v->tx->overlay, &n->h);
}

void xss_view_delete(struct xss_view *v, const char *path)
{
        struct xss_node *o, *t;

        if (!v->tx) {
                o = (struct xss_node *)xss_htab_del(&v->s->nodes, path);
                if (o) {
                        xss_account(v->s, o->perms.p[0].id, -1);
                        xss_node_free(o);
                }
                return;
        }
        v->tx->new_nodes--;
        o = (struct xss_node *)xss_htab_del(&v->tx->overlay, path);
        if (o)
                xss_node_free(o);
        else
                record_access(v->tx, path, (struct xss_node *)xss_htab_get(&v->s->nodes, path));
        t = xss_node_new(path, NULL);
        if (!t) {
                v->tx->new_nodes = XSS_Q_NODES * 2; /* poison the transaction */
                return;
        }
        t->deleted = true;
        xss_htab_put(&v->tx->overlay, &t->h);
}

void xss_view_touch(struct xss_view *v, struct xss_node *n)
{
        if (!v->tx)
                n->gen = ++v->s->gen;
}

static void event_free(struct xss_event *ev)
{
        free(ev->path);
        xss_perms_free(&ev->perms);
        free(ev);
}

void xss_view_event(struct xss_view *v, const char *path, bool rm, const struct xss_perms *p)
{
        struct xss_event *ev = calloc(1, sizeof(*ev));

        if (!ev || !(ev->path = strdup(path)) || xss_perms_copy(&ev->perms, p)) {
                xss_logf(v->s, XSS_LOG_ERROR, "%s: out of memory, watch event lost", path);
                if (ev)
                        free(ev->path);
                free(ev);
                return;
        }
        ev->rm = rm;
        if (!v->tx) {
                xss_fire(v->s, ev);
                event_free(ev);
                return;
        }
        *v->tx->ev_tail = ev;
        v->tx->ev_tail = &ev->next;
}

int xss_tx_start(struct xss_conn *c, uint32_t *id)
{
        struct xss_domain *d = c->priv ? NULL : xss_domain_find(c->s, c->domid);
        struct xss_tx *tx;
        int rc = -ENOSPC;

        if (d && d->txs >= XSS_Q_TX)
                goto out;
        rc = -ENOMEM;
        tx = calloc(1, sizeof(*tx));
        if (!tx)
                goto out;
        if (xss_htab_init(&tx->overlay, 16) || xss_htab_init(&tx->access, 16)) {
                free(tx->overlay.b);
                free(tx);
                goto out;
        }
        tx->ev_tail = &tx->ev_head;
        tx->conn = c;
        do {
                tx->id = c->s->next_txid++;
        } while (tx->id == 0 || xss_tx_find(c, tx->id));
        tx->next = c->txs;
        c->txs = tx;
        if (d)
                d->txs++;
        *id = tx->id;
        rc = 0;
out:
        return rc;
}

struct xss_tx *xss_tx_find(struct xss_conn *c, uint32_t id)
{
        struct xss_tx *tx;

        for (tx = c->txs; tx; tx = tx->next)
                if (tx->id == id)
                        return tx;
        return NULL;
}

static bool tx_conflicts(struct xss *s, struct xss_tx *tx)
{
        size_t i;

        if (tx->new_nodes >= XSS_Q_NODES * 2)
                return true;
        for (i = 0; i < tx->access.nb; i++) {
                struct xss_hent *e;

                for (e = tx->access.b[i]; e; e = e->next) {
                        struct xss_node *g = (struct xss_node *)xss_htab_get(&s->nodes, e->key);

                        if ((g ? g->gen : 0) != ((struct xss_acc *)e)->gen)
                                return true;
                }
        }
        return false;
}

static void tx_apply(struct xss *s, struct xss_tx *tx)
{
        size_t i;

        for (i = 0; i < tx->overlay.nb; i++) {
                struct xss_hent *e = tx->overlay.b[i], *next;

                tx->overlay.b[i] = NULL;
                for (; e; e = next) {
                        struct xss_node *n = (struct xss_node *)e, *old;

                        next = e->next;
                        old = (struct xss_node *)xss_htab_del(&s->nodes, e->key);
                        if (old) {
                                xss_account(s, old->perms.p[0].id, -1);
                                xss_node_free(old);
                        }
                        if (n->deleted) {
                                xss_node_free(n);
                                continue;
                        }
                        n->gen = ++s->gen;
                        xss_account(s, n->perms.p[0].id, 1);
                        xss_htab_put(&s->nodes, &n->h);
                }
        }
        tx->overlay.n = 0;
}

static void tx_free(struct xss_tx *tx)
{
        struct xss_event *ev, *next;

        for (ev = tx->ev_head; ev; ev = next) {
                next = ev->next;
                event_free(ev);
        }
        xss_htab_fini(&tx->overlay, xss_node_free_hent);
        xss_htab_fini(&tx->access, acc_free);
        free(tx);
}

/* Ends (and frees) tx: 0 when committed or aborted, -EAGAIN on conflict. */
int xss_tx_end(struct xss_tx *tx, bool commit)
{
        struct xss_conn *c = tx->conn;
        struct xss *s = c->s;
        struct xss_domain *d = c->priv ? NULL : xss_domain_find(s, c->domid);
        struct xss_tx **pp;
        struct xss_event *ev;
        int rc = 0;

        for (pp = &c->txs; *pp; pp = &(*pp)->next) {
                if (*pp == tx) {
                        *pp = tx->next;
                        break;
                }
        }
        if (d && d->txs > 0)
                d->txs--;
        if (commit) {
                if (tx_conflicts(s, tx)) {
                        rc = -EAGAIN;
                } else {
                        tx_apply(s, tx);
                        for (ev = tx->ev_head; ev; ev = ev->next)
                                xss_fire(s, ev);
                }
        }
        tx_free(tx);
        return rc;
}

void xss_tx_free_all(struct xss_conn *c)
{
        while (c->txs)
                xss_tx_end(c->txs, false);
}
