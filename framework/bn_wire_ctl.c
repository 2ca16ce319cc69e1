/* bn_wire_ctl.c: what the framework adds to every wire beyond moving
 * messages (see bn_wire.h): capabilities checked against a device class's
 * needs, per-end parameters, and the framework's control messages (the
 * HELLO handshake; DRAIN / DRAINED handed to the class; REGION writes
 * applied by bn_wire_region.c). */
#include "bn_wire_int.h"
#include "bn_devclass.h"
#include "bn_endpoint.h"
#include "bn_log.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int bn_wire_caps_check(const struct bn_wire_caps *caps, const char *type,
                       const struct bn_devclass *dc, char *err, size_t errlen)
{
        const struct bn_wire_needs *n = &dc->wire_needs;
        char miss[160] = "", need[160] = "";
        size_t o = 0;

        if (n->ordered && !caps->ordered)
                o += (size_t)snprintf(miss + o, sizeof(miss) - o, "%snot ordered", o ? ", " : "");
        if (n->reliable && !caps->reliable && o < sizeof(miss))
                o += (size_t)snprintf(miss + o, sizeof(miss) - o, "%snot reliable", o ? ", " : "");
        if (n->regions && !caps->regions && o < sizeof(miss))
                o += (size_t)snprintf(miss + o, sizeof(miss) - o, "%swithout regions",
                                      o ? ", " : "");
        if (n->min_msg && caps->max_msg < n->min_msg && o < sizeof(miss))
                o += (size_t)snprintf(miss + o, sizeof(miss) - o,
                                      "%sits largest message is %u bytes", o ? ", " : "",
                                      caps->max_msg);
        if (!o)
                return 0;
        snprintf(need, sizeof(need), "%s%s%s%s", n->ordered ? "ordered" : "",
                 n->ordered && n->reliable ? " and " : "", n->reliable ? "reliable" : "",
                 n->ordered || n->reliable ? " messages" : "messages");
        if (n->min_msg)
                snprintf(need + strlen(need), sizeof(need) - strlen(need), " of up to %u bytes",
                         n->min_msg);
        if (n->regions)
                snprintf(need + strlen(need), sizeof(need) - strlen(need), " and regions");
        snprintf(err, errlen,
                 "wire type '%s' cannot carry device class '%s': it is %s (%s needs %s)", type,
                 dc->name, miss, dc->name, need);
        return -EPROTONOSUPPORT;
}

int bn_wire_end_params(const struct bn_params *all, unsigned end, struct bn_params *out, char *err,
                       size_t errlen)
{
        char key[256];
        int rc = 0;

        bn_params_init(out);
        /* common ones first, then this end's over them, then the peer's */
        for (int pass = 0; pass < 3 && !rc; pass++) {
                for (size_t i = 0; all && i < all->n && !rc; i++) {
                        const char *k = all->v[i].key;
                        bool pre = strncmp(k, "end", 3) == 0 && k[3] && k[4] == '.';
                        if (pre && k[3] != '0' && k[3] != '1') {
                                snprintf(err, errlen,
                                         "parameter '%s': a wire has ends end0 and end1 only", k);
                                rc = -EINVAL;
                        } else if (pass == 0 && !pre) {
                                rc = bn_params_set(out, k, all->v[i].value);
                        } else if (pass == 1 && pre && (unsigned)(k[3] - '0') == end) {
                                rc = bn_params_set(out, k + 5, all->v[i].value);
                        } else if (pass == 2 && pre && (unsigned)(k[3] - '0') != end) {
                                snprintf(key, sizeof(key), "peer.%s", k + 5);
                                rc = bn_params_set(out, key, all->v[i].value);
                        }
                }
        }
        if (rc == -ENOMEM)
                snprintf(err, errlen, "out of memory");
        if (rc)
                bn_params_clear(out);
        return rc;
}

static unsigned class_version(const struct bn_devclass *dc)
{
        return dc->wire_version ? dc->wire_version : 1;
}

int bn_wire_hello_try(struct bn_wire_port *p)
{
        struct bn_wire_hello h = {.magic = {'B', 'N', 'H', 'I'}};
        struct bn_wire_msg m = {.type = BN_MSG_CTL_HELLO, .hdr_len = sizeof(h)};
        int rc;

        if (!p->hello_owed)
                return 1;
        h.ctl_version = htole16(BN_WIRE_CTL_VERSION);
        h.proto_version = htole16((uint16_t)class_version(p->ep->cls));
        memcpy(h.cls, p->ep->cls->name, strnlen(p->ep->cls->name, sizeof(h.cls)));
        memcpy(m.hdr, &h, sizeof(h));
        rc = bn_wire_send_raw(p, &m, 1);
        if (rc == 1)
                p->hello_owed = false;
        return rc;
}

/* The peer's HELLO: same class, same version? */
static void hello_check(struct bn_wire_port *p, const struct bn_wire_msg *m)
{
        const struct bn_devclass *dc = p->ep->cls;
        struct bn_wire_hello h;
        char cls[sizeof(h.cls) + 1] = "";

        if (m->hdr_len != sizeof(h) || memcmp(m->hdr, "BNHI", 4) != 0) {
                snprintf(p->hs_fail, sizeof(p->hs_fail),
                         "handshake: the peer's hello is malformed (%u bytes)", m->hdr_len);
                return;
        }
        memcpy(&h, m->hdr, sizeof(h));
        memcpy(cls, h.cls, sizeof(h.cls));
        for (char *c = cls; *c; c++)
                if (*c < 0x20 || *c > 0x7e)
                        *c = '?';
        if (le16toh(h.ctl_version) != BN_WIRE_CTL_VERSION || strcmp(cls, dc->name) != 0 ||
            le16toh(h.proto_version) != class_version(dc)) {
                snprintf(p->hs_fail, sizeof(p->hs_fail),
                         "handshake: this end is %s v%u (control v%u), the peer is %s v%u "
                         "(control v%u)",
                         dc->name, class_version(dc), BN_WIRE_CTL_VERSION, cls,
                         le16toh(h.proto_version), le16toh(h.ctl_version));
                return;
        }
        p->hello_seen = true;
}

void bn_wire_ctl_rx(struct bn_wire_port *p, const struct bn_wire_msg *m)
{
        struct bn_endpoint *ep = p->ep;

        if (!p->caps.control) {
                atomic_fetch_add(&ep->counters.drops, 1); /* not ours to get */
                return;
        }
        switch (m->type) {
        case BN_MSG_CTL_HELLO:
                if (p->hello_seen || p->hs_fail[0])
                        break; /* one per port: a second says nothing new */
                hello_check(p, m);
                if (p->hs_fail[0])
                        bn_err(ep->name, "wire %s: %s", p->wire, p->hs_fail);
                break;
        case BN_MSG_CTL_REGION:
                if (!p->caps.regions || p->hs_fail[0] || !bn_wire_region_rx(p, m))
                        atomic_fetch_add(&ep->counters.drops, 1);
                break;
        case BN_MSG_CTL_DRAIN:
                if (p->hs_fail[0])
                        break;
                if (ep->cls->port_ctl)
                        ep->cls->port_ctl(ep, p, m->type);
                else /* nothing of the class to wait for */
                        bn_wire_send_ctl(p, BN_MSG_CTL_DRAINED);
                break;
        case BN_MSG_CTL_DRAINED:
                if (p->hs_fail[0])
                        break;
                p->drained = true; /* the quiescing side's swap looks at it */
                if (ep->cls->port_ctl)
                        ep->cls->port_ctl(ep, p, m->type);
                break;
        default:
                atomic_fetch_add(&ep->counters.drops, 1); /* a newer peer's: ignored */
                break;
        }
}

int bn_wire_send_ctl(struct bn_wire_port *p, uint16_t type)
{
        struct bn_wire_msg m = {.type = type};
        int rc = 0;

        if (!p->caps.control)
                return -EOPNOTSUPP;
        if (type < BN_MSG_RESERVED_FIRST)
                return -EINVAL;
        if (p->hello_owed && (rc = bn_wire_hello_try(p)) != 1)
                return rc;
        rc = bn_wire_send_raw(p, &m, 1);
        if (rc == 1 && type == BN_MSG_CTL_DRAINED) {
                p->drained = true; /* this Corm's port is done: its newer twin is read */
                bn_wire_unfence(p->ep, p);
        }
        return rc;
}
