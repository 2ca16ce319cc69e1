/* vif_parse.c: the netif TX request parser and validator (see vif_parse.h).
 *
 * The rules follow xen/io/netif.h ("Guest transmit") and what Linux
 * xen-netback accepts: the first request's size is the whole packet, later
 * fragments carry their own size, the first fragment's own length is what
 * remains; every fragment stays inside its page; extra-info slots follow
 * the first request while XEN_NETIF_EXTRA_FLAG_MORE is set.
 */
#include "vif_parse.h"

#include <errno.h>
#include <string.h>

/* The first problem found wins; a fatal one always overrides an error. */
struct verdict_acc {
        enum bn_net_tx_verdict v;
        struct bn_net_tx_err *err;
};

static void note(struct verdict_acc *acc, enum bn_net_tx_verdict v, uint32_t slot, const char *what)
{
        if (acc->v == BN_NET_TX_OK || (v == BN_NET_TX_FATAL && acc->v != BN_NET_TX_FATAL)) {
                acc->v = v;
                acc->err->slot = slot;
                acc->err->what = what;
        }
}

static int gref_bad(uint32_t gref, const struct bn_net_tx_limits *lim)
{
        return gref == 0 || (lim->max_gref && gref >= lim->max_gref);
}

/* Read the extra-info slots starting at *i. Returns OK, INCOMPLETE or FATAL
 * directly for delimiting problems; notes ERRORs in acc. */
static enum bn_net_tx_verdict parse_extras(const union bn_net_tx_slot *slots, uint32_t avail,
                                           uint32_t *i, const struct bn_net_tx_limits *lim,
                                           struct bn_net_tx_pkt *pkt, struct bn_net_tx_err *err,
                                           struct verdict_acc *acc)
{
        uint32_t seen = 0, nextras = 0;
        int more = 1;

        while (more) {
                const struct netif_extra_info *e;

                if (*i >= avail) {
                        err->slot = *i;
                        err->what = "extra-info slot missing (chain continues past req_prod)";
                        return BN_NET_TX_INCOMPLETE;
                }
                if (nextras == BN_NET_TX_MAX_EXTRAS) {
                        err->slot = *i;
                        err->what = "more extra-info slots than extra types";
                        return BN_NET_TX_FATAL;
                }
                e = &slots[*i].extra;
                pkt->is_extra[*i] = 1;
                pkt->ids[*i] = 0;
                if (e->type == XEN_NETIF_EXTRA_TYPE_NONE || e->type >= XEN_NETIF_EXTRA_TYPE_MAX) {
                        err->slot = *i;
                        err->what = "unknown extra-info type";
                        return BN_NET_TX_FATAL;
                }
                if (seen & (1u << e->type))
                        note(acc, BN_NET_TX_ERROR, *i, "duplicate extra-info type");
                seen |= 1u << e->type;

                switch (e->type) {
                case XEN_NETIF_EXTRA_TYPE_GSO: {
                        uint32_t mask = lim->gso_mask ? lim->gso_mask
                                                      : (1u << XEN_NETIF_GSO_TYPE_TCPV4) |
                                                            (1u << XEN_NETIF_GSO_TYPE_TCPV6);
                        if (e->u.gso.size == 0) {
                                err->slot = *i;
                                err->what = "GSO size is zero";
                                return BN_NET_TX_FATAL;
                        }
                        if (e->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
                            e->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6) {
                                err->slot = *i;
                                err->what = "unknown GSO type";
                                return BN_NET_TX_FATAL;
                        }
                        if (lim->no_gso || !(mask & (1u << e->u.gso.type)))
                                note(acc, BN_NET_TX_ERROR, *i, "GSO type not negotiated");
                        pkt->gso_type = e->u.gso.type;
                        pkt->gso_size = e->u.gso.size;
                        break;
                }
                case XEN_NETIF_EXTRA_TYPE_MCAST_ADD:
                case XEN_NETIF_EXTRA_TYPE_MCAST_DEL:
                        if (pkt->kind != BN_NET_TX_FRAME)
                                note(acc, BN_NET_TX_ERROR, *i, "both multicast add and delete");
                        pkt->kind = e->type == XEN_NETIF_EXTRA_TYPE_MCAST_ADD ? BN_NET_TX_MCAST_ADD
                                                                              : BN_NET_TX_MCAST_DEL;
                        memcpy(pkt->mcast_addr, e->u.mcast.addr, sizeof(pkt->mcast_addr));
                        break;
                case XEN_NETIF_EXTRA_TYPE_HASH:
                        pkt->has_hash = 1;
                        pkt->hash_type = e->u.hash.type;
                        pkt->hash_value =
                            (uint32_t)e->u.hash.value[0] | (uint32_t)e->u.hash.value[1] << 8 |
                            (uint32_t)e->u.hash.value[2] << 16 | (uint32_t)e->u.hash.value[3] << 24;
                        break;
                }
                more = !!(e->flags & XEN_NETIF_EXTRA_FLAG_MORE);
                nextras++;
                (*i)++;
        }
        return BN_NET_TX_OK;
}

enum bn_net_tx_verdict bn_net_tx_parse(const union bn_net_tx_slot *slots, uint32_t avail,
                                       const struct bn_net_tx_limits *lim_in,
                                       struct bn_net_tx_pkt *pkt, struct bn_net_tx_err *err)
{
        static const struct bn_net_tx_limits deflim;
        const struct bn_net_tx_limits *lim = lim_in ? lim_in : &deflim;
        struct verdict_acc acc = {.v = BN_NET_TX_OK, .err = err};
        struct netif_tx_request first;
        uint32_t frag_idx[BN_NET_TX_FATAL_FRAGS];
        uint32_t i = 1, nfrags = 1, rest = 0, first_len, max_len, k;
        uint16_t cur_flags;
        enum bn_net_tx_verdict v;

        memset(pkt, 0, sizeof(*pkt));
        err->slot = 0;
        err->what = NULL;
        if (avail == 0) {
                err->what = "no slot available";
                return BN_NET_TX_INCOMPLETE;
        }
        first = slots[0].req;
        pkt->ids[0] = first.id;
        frag_idx[0] = 0;
        pkt->csum_flags = first.flags & (NETTXF_csum_blank | NETTXF_data_validated);

        if (first.flags & NETTXF_extra_info) {
                v = parse_extras(slots, avail, &i, lim, pkt, err, &acc);
                if (v != BN_NET_TX_OK)
                        return v;
        }

        cur_flags = first.flags;
        while (cur_flags & NETTXF_more_data) {
                if (nfrags >= BN_NET_TX_FATAL_FRAGS) {
                        err->slot = i;
                        err->what = "more fragments than any front-end may use";
                        return BN_NET_TX_FATAL;
                }
                if (i >= avail) {
                        err->slot = i;
                        err->what = "fragment missing (chain continues past req_prod)";
                        return BN_NET_TX_INCOMPLETE;
                }
                pkt->ids[i] = slots[i].req.id;
                frag_idx[nfrags++] = i;
                cur_flags = slots[i].req.flags;
                i++;
        }
        pkt->nslots = i;

        /* From here on the packet is delimited: problems are ERROR or FATAL. */
        if (nfrags > BN_NET_TX_MAX_FRAGS)
                note(&acc, BN_NET_TX_ERROR, frag_idx[BN_NET_TX_MAX_FRAGS], "too many fragments");

        for (k = 0; k < nfrags; k++) {
                const struct netif_tx_request *r = &slots[frag_idx[k]].req;

                if (gref_bad(r->gref, lim))
                        note(&acc, BN_NET_TX_FATAL, frag_idx[k], "grant ref out of range");
                if (k == 0)
                        continue;
                if ((uint32_t)r->offset + r->size > BN_NET_PAGE_SIZE)
                        note(&acc, BN_NET_TX_FATAL, frag_idx[k], "fragment crosses its page");
                rest += r->size;
        }

        if (pkt->kind != BN_NET_TX_FRAME) {
                /* A multicast-filter request carries no frame to send. */
                return acc.v;
        }

        if (rest > first.size) {
                note(&acc, BN_NET_TX_ERROR, 0, "fragments are larger than the packet size");
                return acc.v;
        }
        first_len = first.size - rest;
        if ((uint32_t)first.offset + first_len > BN_NET_PAGE_SIZE)
                note(&acc, BN_NET_TX_FATAL, 0, "first fragment crosses its page");
        if (first_len < BN_NET_ETH_HLEN)
                note(&acc, BN_NET_TX_ERROR, 0, "first fragment shorter than an Ethernet header");
        max_len = lim->max_len ? lim->max_len : XEN_NETIF_MAX_TX_SIZE;
        if (first.size > max_len)
                note(&acc, BN_NET_TX_ERROR, 0, "packet longer than the vif allows");
        if (acc.v != BN_NET_TX_OK)
                return acc.v;

        pkt->total_len = first.size;
        for (k = 0; k < nfrags; k++) {
                const struct netif_tx_request *r = &slots[frag_idx[k]].req;
                uint16_t len = k == 0 ? (uint16_t)first_len : r->size;

                if (len == 0)
                        continue;
                pkt->segs[pkt->nsegs].gref = r->gref;
                pkt->segs[pkt->nsegs].offset = r->offset;
                pkt->segs[pkt->nsegs].len = len;
                pkt->nsegs++;
        }
        return BN_NET_TX_OK;
}

int bn_net_ring_pending(uint32_t prod, uint32_t cons, uint32_t ring_size)
{
        uint32_t n = prod - cons;

        if (n > ring_size)
                return -EPROTO;
        return (int)n;
}

int bn_net_rx_gref_ok(uint32_t gref, const struct bn_net_tx_limits *lim)
{
        static const struct bn_net_tx_limits deflim;

        return gref_bad(gref, lim ? lim : &deflim) ? -EINVAL : 0;
}

const char *bn_net_tx_verdict_name(enum bn_net_tx_verdict v)
{
        switch (v) {
        case BN_NET_TX_OK:
                return "ok";
        case BN_NET_TX_ERROR:
                return "error";
        case BN_NET_TX_INCOMPLETE:
                return "incomplete";
        case BN_NET_TX_FATAL:
                return "fatal";
        }
        return "?";
}
