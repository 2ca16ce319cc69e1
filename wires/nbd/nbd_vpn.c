/* nbd_vpn.c: the "nbd-vpn" wire type: the nbd wire (nbd_wire.c, its code
 * reused) with its TCP connection inside the OpenVPN tunnel that the vpn
 * wire type keeps for the pair of hosts (wires/vpn/vpn_tunnel.c): for
 * disks between hosts of different administrative domains, on an underlay
 * nobody trusts. One tunnel per pair of hosts is shared by every vpn and
 * nbd-vpn wire between them.
 *
 * Parameters: nbd's (listen, export, tls-*) and the tunnel's (addr,
 * peer.addr, peer.fingerprint, tunnel_port: vpn_tunnel.h), per end as
 * usual. listen is "tcp:ADDR:PORT" with ADDR that end's underlay address
 * (its addr): the server listens on its tunnel address at PORT (bound
 * before the tunnel is up: IP_FREEBIND), the client dials the peer's
 * tunnel address at PORT, so the plaintext NBD stream never touches the
 * underlay. TLS on top still names the server's underlay address (or
 * tls-peer).
 *
 * The link is up while the tunnel is CONNECTED and nbd's is (the client
 * has its connection); when down, the tunnel's reason comes first. While
 * the tunnel is down the client keeps its requests and replays them once
 * it connects again, as over plain nbd. The tunnel wakes the port through
 * the nbd port's eventfd, which recv drains.
 */
#include "bn_log.h"
#include "bn_params.h"
#include "nbd_wire.h"
#include "vpn_tunnel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct nv_priv {
        _Alignas(max_align_t) unsigned char nw[BN_WIRE_NBD_PRIV_SIZE]; /* nbd's, first */
        struct vpn_port v;
};

static struct vpn_port *vp(struct bn_wire_port *port)
{
        return &((struct nv_priv *)port->priv)->v;
}

/* The vpn type's context: its tunnels are the ones shared. */
static int nv_class_init(const struct bn_wire_env *env, void **class_ctx)
{
        void *vctx = NULL;

        if (!env->registry || !bn_wire_registry_find(env->registry, "vpn", &vctx))
                bn_warn("nbd-vpn", "the vpn wire type is not registered: nbd-vpn wires will fail");
        *class_ctx = vctx;
        return 0;
}

/* The tunnel's keys are the tunnel's; the rest goes to nbd. */
static int split(const struct bn_params *params, struct bn_params *inner, char *err, size_t errlen)
{
        char pk[32];
        int rc;

        if ((rc = bn_params_copy(inner, params)) < 0) {
                snprintf(err, errlen, "nbd-vpn: out of memory");
                return rc;
        }
        for (const char *const *k = vpn_tun_keys; *k; k++) {
                snprintf(pk, sizeof(pk), "peer.%s", *k);
                bn_params_unset(inner, *k);
                bn_params_unset(inner, pk);
        }
        return 0;
}

/* "tcp:HOST:PORT" whose HOST is a: PORT (in port, as text); -EINVAL
 * saying what is wrong. */
static int port_of(const char *key, const char *addr, struct in_addr a, char *port, size_t plen,
                   char *err, size_t errlen)
{
        const char *colon = strrchr(addr, ':');
        char host[INET_ADDRSTRLEN];

        inet_ntop(AF_INET, &a, host, sizeof(host));
        if (strncmp(addr, "tcp:", 4) != 0 || !colon || colon < addr + 4 ||
            (size_t)(colon - addr - 4) != strlen(host) || strncmp(addr + 4, host, strlen(host)) ||
            !colon[1]) {
                snprintf(err, errlen,
                         "nbd-vpn: parameter '%s': want 'tcp:%s:PORT' (that end's addr), not "
                         "'%.100s'",
                         key, host, addr);
                return -EINVAL;
        }
        snprintf(port, plen, "%s", colon + 1);
        return 0;
}

struct nv_params {
        struct vpn_tun_params tun;
        bool server;
        char port[16], host[INET_ADDRSTRLEN];
};

static int nv_parse(const struct bn_params *params, struct bn_params *inner, struct nv_params *v,
                    char *err, size_t errlen)
{
        const char *listen = bn_params_get(params, "listen");
        const char *dial = bn_params_get(params, "peer.listen");
        int rc;

        memset(v, 0, sizeof(*v));
        if ((rc = split(params, inner, err, errlen)) < 0 ||
            (rc = bn_wire_nbd_class.check(inner, err, errlen)) < 0 ||
            (rc = vpn_tun_parse(params, &v->tun, true, err, errlen)) < 0)
                return rc;
        v->server = listen && *listen;
        if (v->server)
                rc = port_of("listen", listen, v->tun.ul, v->port, sizeof(v->port), err, errlen);
        else
                rc = port_of("peer.listen", dial, v->tun.peer_ul, v->port, sizeof(v->port), err,
                             errlen);
        inet_ntop(AF_INET, v->server ? &v->tun.ul : &v->tun.peer_ul, v->host, sizeof(v->host));
        return rc;
}

static int nv_check(const struct bn_params *params, char *err, size_t errlen)
{
        struct bn_params inner;
        struct nv_params v;
        int rc;

        bn_params_init(&inner);
        rc = nv_parse(params, &inner, &v, err, errlen);
        bn_params_clear(&inner);
        return rc;
}

static int nv_open(struct bn_wire_port *port, const struct bn_params *params, char *err,
                   size_t errlen)
{
        struct vpn_ctx *c = port->class_ctx;
        struct vpn_port *p = vp(port);
        struct bn_params inner;
        struct nv_params v;
        char at[64], in[INET_ADDRSTRLEN];
        struct bn_wire_nbd_via via = {.freebind = true};
        int rc;

        bn_params_init(&inner);
        p->tun = NULL;
        p->efd = -1;
        if ((rc = nv_parse(params, &inner, &v, err, errlen)) < 0)
                goto out;
        if (!c) {
                snprintf(err, errlen, "nbd-vpn: the vpn wire type is not registered on this host");
                rc = -ENOPROTOOPT;
                goto out;
        }
        if ((rc = vpn_tun_join(c, &v.tun, p, err, errlen)) < 0)
                goto out;
        inet_ntop(AF_INET, v.server ? &p->tun->in : &p->tun->peer_in, in, sizeof(in));
        snprintf(at, sizeof(at), "tcp:%s:%s", in, v.port);
        via.listen = via.dial = at;
        via.tls_peer = v.host;
        rc = bn_wire_nbd_open_via(port, &inner, &via, err, errlen);
        if (rc < 0) { /* nbd cleaned up after itself */
                vpn_tun_leave(c, p);
                goto out;
        }
        vpn_tun_wake_fd(c, p, bn_wire_nbd_class.fd(port));
        bn_info(port->wire, "nbd-vpn: %s %s inside the tunnel to %s",
                v.server ? "serving on" : "dialing", at, inet_ntoa(v.tun.peer_ul));
out:
        bn_params_clear(&inner);
        return rc;
}

static void nv_close(struct bn_wire_port *port)
{
        struct vpn_port *p = vp(port);

        if (!p->tun)
                return;
        vpn_tun_leave(port->class_ctx, p); /* the tunnel no longer wakes it */
        bn_wire_nbd_class.close(port);
}

static bool nv_linked(struct bn_wire_port *port)
{
        return atomic_load(&vp(port)->tun->up) && bn_wire_nbd_class.linked(port);
}

static void nv_link_why(struct bn_wire_port *port, char *buf, size_t len)
{
        if (!atomic_load(&vp(port)->tun->up))
                vpn_tun_why(port->class_ctx, vp(port), buf, len);
        else
                bn_wire_nbd_class.link_why(port, buf, len);
}

static int nv_recv(struct bn_wire_port *port, struct bn_wire_msg *msgs, unsigned max)
{
        int n = bn_wire_nbd_class.recv(port, msgs, max);
        uint64_t v;

        /* the tunnel may have written the eventfd: drained with the queue */
        if (n == 0 && read(bn_wire_nbd_class.fd(port), &v, sizeof(v)) < 0)
                v = 0;
        return n;
}

static int nv_send(struct bn_wire_port *port, const struct bn_wire_msg *msgs, unsigned n)
{
        return bn_wire_nbd_class.send(port, msgs, n);
}

static void nv_release(struct bn_wire_port *port, struct bn_wire_msg *msgs, unsigned n)
{
        bn_wire_nbd_class.release(port, msgs, n);
}

static int nv_fd(struct bn_wire_port *port)
{
        return bn_wire_nbd_class.fd(port);
}

static void nv_stats(struct bn_wire_port *port, struct bn_wire_stats *st)
{
        bn_wire_nbd_class.stats(port, st);
}

static void nv_drain(struct bn_wire_port *port)
{
        bn_wire_nbd_class.drain(port);
}

const struct bn_wire_class bn_wire_nbd_vpn_class = {
    .name = "nbd-vpn",
    .priv_size = sizeof(struct nv_priv),
    .caps = {.ordered = true,
             .reliable = true,
             .gso = false,
             .control = false,
             .max_msg = BN_WIRE_DATA_MAX,
             .mtu = 0},
    .class_init = nv_class_init,
    .open = nv_open,
    .check = nv_check,
    .close = nv_close,
    .send = nv_send,
    .recv = nv_recv,
    .release = nv_release,
    .fd = nv_fd,
    .stats = nv_stats,
    .linked = nv_linked,
    .link_why = nv_link_why,
    .drain = nv_drain,
};
