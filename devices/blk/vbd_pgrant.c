/* vbd_pgrant.c: persistent grants of the vbd Spike (feature-persistent).
 * When the front-end asks for them, each data page's grant is mapped once
 * (writable) and kept: later requests naming the same grant ref move their
 * data with memcpy instead of a grant copy. The table is bounded
 * (VBD_PG_MAX mappings per vbd, Linux blkback's default is 1056 per ring):
 * grants beyond it are served with grant copy. Mappings idle for
 * VBD_PG_IDLE_MS are unmapped by a periodic reclaim; everything is unmapped
 * when the front-end disconnects. A grant that cannot be mapped (read-only,
 * bad ref) falls back to grant copy, which then decides (a bad ref is a
 * fatal error there). Runs on ep->loop. */
#include "vbd_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bn_endpoint.h"
#include "bn_hv.h"
#include "bn_log.h"
#include "bn_loop.h"

static uint32_t hash(uint32_t gref)
{
        return (gref * 2654435761u) % VBD_PG_BUCKETS;
}

int vbd_pg_init(struct vbd *v)
{
        struct vbd_pgtab *t = calloc(1, sizeof(*t));

        if (!t)
                return -ENOMEM;
        for (unsigned i = 0; i < VBD_PG_BUCKETS; i++)
                t->bucket[i] = -1;
        for (int i = 0; i < (int)VBD_PG_MAX; i++)
                t->e[i].next = i + 1 < (int)VBD_PG_MAX ? i + 1 : -1;
        t->free_head = 0;
        v->pg = t;
        return 0;
}

static void unmap_entry(struct vbd *v, struct vbd_pg *e)
{
        bn_gnt_unmap(v->gnt, e->addr, 1);
        e->addr = NULL;
        v->pg->n--;
}

void vbd_pg_fini(struct vbd *v)
{
        struct vbd_pgtab *t = v->pg;

        if (!t)
                return;
        for (unsigned b = 0; b < VBD_PG_BUCKETS; b++)
                for (int i = t->bucket[b]; i >= 0; i = t->e[i].next)
                        unmap_entry(v, &t->e[i]);
        free(t);
        v->pg = NULL;
}

uint8_t *vbd_pg_get(struct vbd *v, uint32_t gref, uint64_t now_ms)
{
        struct vbd_pgtab *t = v->pg;
        uint32_t b = hash(gref);
        struct vbd_pg *e;
        void *addr = NULL;
        int i;

        for (i = t->bucket[b]; i >= 0; i = t->e[i].next)
                if (t->e[i].gref == gref) {
                        t->e[i].last_ms = now_ms;
                        t->hits++;
                        return t->e[i].addr;
                }
        if (t->free_head < 0)
                return NULL; /* full: grant copy */
        if (bn_gnt_map(v->gnt, v->fe_domid, 1, &gref, 1, &addr) < 0)
                return NULL;
        i = t->free_head;
        e = &t->e[i];
        t->free_head = e->next;
        e->gref = gref;
        e->addr = addr;
        e->last_ms = now_ms;
        e->next = t->bucket[b];
        t->bucket[b] = i;
        t->n++;
        t->maps++;
        return addr;
}

unsigned vbd_pg_reclaim(struct vbd *v, uint64_t now_ms, uint64_t idle_ms)
{
        struct vbd_pgtab *t = v->pg;
        unsigned n = 0;

        if (!t)
                return 0;
        for (unsigned b = 0; b < VBD_PG_BUCKETS; b++) {
                int *pp = &t->bucket[b];
                while (*pp >= 0) {
                        int i = *pp;
                        struct vbd_pg *e = &t->e[i];
                        if (now_ms - e->last_ms >= idle_ms) {
                                *pp = e->next;
                                unmap_entry(v, e);
                                e->next = t->free_head;
                                t->free_head = i;
                                n++;
                        } else {
                                pp = &e->next;
                        }
                }
        }
        return n;
}
