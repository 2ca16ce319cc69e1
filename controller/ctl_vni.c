/* ctl_vni.c: the VNIs of the wires that carry one (vxlan, and vpn, whose
 * frames are VXLAN inside its tunnel). A wire whose options give no `vni`
 * gets one here, before its record is stored: the one its stored record
 * already has, else the lowest that no other wire of the desired state
 * uses. A given VNI another wire already has is refused, naming that wire.
 *
 * The store is the transaction: what is picked here goes into the same
 * commit as the wire (ctl_commit), which EXPECTs the generation of the
 * desired state it was picked from, so two hosts racing cannot store the
 * same VNI twice (the second is refused, nothing changed, and picks again
 * when run again). A removed wire's VNI is free once its removal is stored.
 * A wire whose type becomes one that takes a VNI (bananactl swap, migrate)
 * gets one the same way (ctl_vni_for_type).
 */
#include "ctl_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VNI_MAX 0xffffffu

static bool takes_vni(const struct bn_topo_wire *w)
{
        return w->type && (strcmp(w->type, "vxlan") == 0 || strcmp(w->type, "vpn") == 0);
}

/* w's VNI, or -1 when it has none (the parser checked its range). */
static long wire_vni(const struct bn_topo_wire *w)
{
        const char *v = takes_vni(w) ? bn_kvlist_get(&w->opts, "vni") : NULL;

        return v ? (long)strtoul(v, NULL, 10) : -1;
}

/* want's wire w's VNI: its own, else its stored record's (which it keeps). */
static long want_vni(const struct bn_topo *have, const struct bn_topo_wire *w)
{
        const struct bn_topo_wire *h;
        long v = wire_vni(w);

        if (v >= 0 || !takes_vni(w) || !have || !(h = bn_topo_wire_find(have, w->name)))
                return v;
        return wire_vni(h);
}

/* Does the stored wire h stay when want is stored? */
static bool stays(const struct bn_topo_wire *h, const struct bn_topo *want, bool prune)
{
        return !want || bn_topo_wire_find(want, h->name) || (h->by_connect && !prune);
}

/* The wire other than self that has vni: in want, or stored and staying
 * (gone too: also the stored ones this change removes, which a pick avoids
 * so that no two ports meet while the reconcile swaps them). */
static const char *vni_owner(const struct bn_topo *have, const struct bn_topo *want, bool prune,
                             bool gone, const char *self, long vni)
{
        for (size_t i = 0; want && i < want->n_wires; i++)
                if (strcmp(want->wires[i].name, self) != 0 &&
                    want_vni(have, &want->wires[i]) == vni)
                        return want->wires[i].name;
        for (size_t i = 0; have && i < have->n_wires; i++) {
                const struct bn_topo_wire *h = &have->wires[i];
                if (strcmp(h->name, self) == 0 || (want && bn_topo_wire_find(want, h->name)))
                        continue; /* want's record is the one that counts */
                if ((gone || stays(h, want, prune)) && wire_vni(h) == vni)
                        return h->name;
        }
        return NULL;
}

/* Check w's given VNI; 0 or -EEXIST with err. */
static int check_given(const struct bn_topo *have, const struct bn_topo *want, bool prune,
                       const struct bn_topo_wire *w, char *err, size_t errlen)
{
        long vni = wire_vni(w);
        const char *owner = vni_owner(have, want, prune, false, w->name, vni);

        if (!owner)
                return 0;
        snprintf(err, errlen,
                 "VNI %ld is already wire '%s''s (each vxlan or vpn wire needs its own: give "
                 "another, or leave vni out and the controllers pick one)",
                 vni, owner);
        return -EEXIST;
}

static int set_vni(struct bn_topo_wire *w, long vni, char *err, size_t errlen)
{
        char buf[24];

        snprintf(buf, sizeof(buf), "%ld", vni);
        if (!bn_kvlist_add(&w->opts, "vni", buf))
                return 0;
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
}

/* A bit per VNI that a wire of want or have has (2 MiB). */
static uint8_t *used_map(const struct bn_topo *have, const struct bn_topo *want)
{
        uint8_t *m = calloc(VNI_MAX / 8 + 1, 1);
        long v;

        for (size_t i = 0; m && want && i < want->n_wires; i++)
                if ((v = wire_vni(&want->wires[i])) >= 0)
                        m[v / 8] |= (uint8_t)(1u << (v % 8));
        for (size_t i = 0; m && have && i < have->n_wires; i++)
                if ((v = wire_vni(&have->wires[i])) >= 0)
                        m[v / 8] |= (uint8_t)(1u << (v % 8));
        return m;
}

/* Give every wire of ws (n of them, in want, NULL for connect) that takes
 * a VNI and has none one: its stored record's, else the lowest free from
 * *next up (*next: one past the last picked). Given VNIs are checked
 * before. 0 or -errno with err naming the wire (bad: its index). */
static int assign(const struct bn_topo *have, const struct bn_topo *want, bool prune,
                  struct bn_topo_wire *ws, size_t n, long *next_io, size_t *bad, char *err,
                  size_t errlen)
{
        uint8_t *map = NULL;
        long next = *next_io;
        int r = 0;

        for (size_t i = 0; i < n && !r; i++)
                if (wire_vni(&ws[i]) >= 0 &&
                    (r = check_given(have, want, prune, &ws[i], err, errlen)))
                        *bad = i;
        /* the stored record's, when nobody else has it */
        for (size_t i = 0; i < n && !r; i++) {
                struct bn_topo_wire *w = &ws[i];
                const struct bn_topo_wire *h = have ? bn_topo_wire_find(have, w->name) : NULL;
                long v = h ? wire_vni(h) : -1;
                if (!takes_vni(w) || wire_vni(w) >= 0 || v < 0 ||
                    vni_owner(have, want, prune, true, w->name, v))
                        continue;
                if ((r = set_vni(w, v, err, errlen)))
                        *bad = i;
        }
        for (size_t i = 0; i < n && !r; i++) {
                struct bn_topo_wire *w = &ws[i];
                if (!takes_vni(w) || wire_vni(w) >= 0)
                        continue;
                if (!map && !(map = used_map(have, want))) {
                        snprintf(err, errlen, "out of memory");
                        r = -ENOMEM;
                        *bad = i;
                        break;
                }
                if (!want) /* connect: the wire is not in a topology yet */
                        for (size_t j = 0; j < n; j++)
                                if (wire_vni(&ws[j]) >= 0)
                                        map[wire_vni(&ws[j]) / 8] |=
                                            (uint8_t)(1u << (wire_vni(&ws[j]) % 8));
                while (next <= (long)VNI_MAX && (map[next / 8] & (1u << (next % 8))))
                        next++;
                if (next > (long)VNI_MAX) {
                        snprintf(err, errlen, "no VNI is free");
                        r = -ENOSPC;
                } else if (!(r = set_vni(w, next, err, errlen))) {
                        map[next / 8] |= (uint8_t)(1u << (next % 8));
                        next++;
                }
                if (r)
                        *bad = i;
        }
        free(map);
        *next_io = next;
        return r;
}

void ctl_vni_assign(const struct bn_topo *have, struct bn_topo *want, bool prune,
                    struct bn_topo_errs *errs)
{
        size_t from = 0, bad = 0;
        long next = 1;
        char err[256];

        /* one error per wire, and on with the rest */
        while (from < want->n_wires) {
                if (!assign(have, want, prune, want->wires + from, want->n_wires - from, &next,
                            &bad, err, sizeof(err)))
                        return;
                bn_topo_err(errs, want->file, want->wires[from + bad].loc, "wire '%s': %s",
                            want->wires[from + bad].name, err);
                from += bad + 1;
        }
}

int ctl_vni_assign_one(const struct bn_topo *have, struct bn_topo_wire *w, char *err, size_t errlen)
{
        size_t bad;
        long next = 1;

        return assign(have, NULL, false, w, 1, &next, &bad, err, errlen);
}

int ctl_vni_for_type(const struct bn_topo *have, const struct bn_topo_wire *w, const char *type,
                     struct bn_kvlist *opts, long *next, char *err, size_t errlen)
{
        struct bn_topo_wire nw = *w;
        size_t bad;
        int r;

        nw.type = (char *)type;
        nw.opts = *opts;
        r = assign(have, NULL, false, &nw, 1, next, &bad, err, errlen);
        *opts = nw.opts; /* the VNI added, if any */
        return r;
}
