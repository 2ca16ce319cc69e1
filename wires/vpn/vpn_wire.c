/* vpn_wire.c: the "vpn" wire type: NIC frames between hosts across
 * administrative domains (an untrusted underlay), as VXLAN inside an
 * OpenVPN tunnel shared by every vpn wire between the same two hosts
 * (vpn_tunnel.c).
 *
 * Parameters (per end: end0.K / end1.K in the topology, see bn_wire.h):
 *   vni=N              the wire's VNI inside the tunnel, 0..16777215 (required)
 *   addr=A             this end's underlay IPv4 address (required)
 *   peer.addr=A        the other end's (required)
 *   peer.fingerprint=F the SHA-256 fingerprint of the other host's
 *                      certificate ("AB:CD:..."; its bananad logs it and
 *                      keeps it in STATE_DIR/vpn/host.fp) (required by
 *                      open; in a cluster the controller gives it from the
 *                      peer's member record, see host_info)
 *   tunnel_port=P      OpenVPN's UDP port on both hosts (default 1194)
 *   mtu=M              the largest inner payload, 68..1390 (default 1390:
 *                      the tunnel's MTU, 1440, less VXLAN's 50 bytes)
 *
 * A port is a vxlan port (wires/vxlan, its code reused, not copied: the
 * port's priv starts with vxlan's, so vxlan's callbacks run on it) bound to
 * the tunnel's address and sending to the peer's, plus the tunnel it rides.
 * The link follows the tunnel: down while OpenVPN is not CONNECTED (the
 * reason is OpenVPN's state, or how it exited), frames sent meanwhile are
 * counted as drop_down.
 *
 * host_info publishes this host's fingerprint and underlay address, so that
 * in a cluster a wire needs neither as options: each end trusts exactly the
 * certificate its peer host published in the store. check accepts a wire
 * without them (they may come from the store when it opens); open needs
 * them.
 */
#include "vpn_wire.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "vpn_tunnel.h"
#include "vxlan_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define VPN_MTU_MAX (1440u - 50u)

struct vpn_priv {
        _Alignas(max_align_t) unsigned char vx[BN_WIRE_VXLAN_PRIV_SIZE]; /* vxlan's, first */
        struct vpn_port v;
};

static const char *const vpn_known[] = {"vni", "mtu", "addr", "fingerprint", "tunnel_port", NULL};

static struct vpn_port *vp(struct bn_wire_port *port)
{
        return &((struct vpn_priv *)port->priv)->v;
}

static int vpn_class_init(const struct bn_wire_env *env, void **class_ctx)
{
        struct vpn_ctx *c = calloc(1, sizeof(*c));
        int rc;

        if (!c)
                return -ENOMEM;
        pthread_mutex_init(&c->mu, NULL);
        if ((rc = bn_wire_vxlan_class.class_init(env, &c->vx)) < 0)
                goto fail;
        if ((rc = bn_workers_start(&c->sup, 1, "vpn-sup")) < 0) {
                bn_wire_vxlan_class.class_fini(c->vx);
                goto fail;
        }
        if (env->state_dir && *env->state_dir) {
                snprintf(c->dir, sizeof(c->dir), "%s/vpn", env->state_dir);
                /* with the store in etcd nothing else may have made it */
                if (mkdir(env->state_dir, 0700) < 0 && errno != EEXIST)
                        bn_warn("vpn", "cannot make %s: %s", env->state_dir, strerror(errno));
                if (vpn_cert_init(c) < 0) /* vpn wires will say why */
                        bn_warn("vpn", "%s", c->cert_err);
        } else {
                snprintf(c->cert_err, sizeof(c->cert_err), "no state directory for the keys");
        }
        *class_ctx = c;
        return 0;
fail:
        pthread_mutex_destroy(&c->mu);
        free(c);
        return rc;
}

static void nothing(void *arg)
{
        (void)arg;
}

static void vpn_class_fini(void *class_ctx)
{
        struct vpn_ctx *c = class_ctx;

        if (!c)
                return;
        /* the tunnels' linger calls were queued before: let them run, then
         * stop the tunnels that linger */
        bn_loop_call_wait(bn_workers_loop(c->sup, 0), nothing, NULL);
        vpn_tun_stop_idle(c);
        bn_workers_stop(c->sup);
        bn_wire_vxlan_class.class_fini(c->vx);
        pthread_mutex_destroy(&c->mu);
        free(c);
}

struct vpn_params {
        struct vpn_tun_params tun;
        uint64_t vni, mtu;
};

/* open: everything there; check (!need): what is there is valid. */
static int vpn_parse(const struct bn_params *params, struct vpn_params *v, bool need, char *err,
                     size_t errlen)
{
        int rc;

        memset(v, 0, sizeof(*v));
        if ((rc = bn_params_check_known(params, vpn_known, err, errlen)) < 0 ||
            (rc = bn_params_get_uint(params, "vni", true, 0, 0, 16777215, &v->vni, err, errlen)) <
                0 ||
            (rc = bn_params_get_uint(params, "mtu", false, VPN_MTU_MAX, 68, VPN_MTU_MAX, &v->mtu,
                                     err, errlen)) < 0)
                return rc;
        return vpn_tun_parse(params, &v->tun, need, err, errlen);
}

static int vpn_check(const struct bn_params *params, char *err, size_t errlen)
{
        struct vpn_params v;

        return vpn_parse(params, &v, false, err, errlen);
}

static int vpn_open(struct bn_wire_port *port, const struct bn_params *params, char *err,
                    size_t errlen)
{
        struct vpn_ctx *c = port->class_ctx;
        struct vpn_port *p = vp(port);
        struct bn_params inner;
        struct vpn_params v;
        char a[INET_ADDRSTRLEN], pa[INET_ADDRSTRLEN], num[24];
        bool vx = false;
        int rc;

        bn_params_init(&inner);
        p->efd = -1;
        if ((rc = vpn_parse(params, &v, true, err, errlen)) < 0)
                goto out;
        if (!c) {
                snprintf(err, errlen, "vpn wire type was registered without its class_init");
                rc = -EINVAL;
                goto out;
        }
        if ((rc = vpn_tun_join(c, &v.tun, p, err, errlen)) < 0)
                goto out;
        /* the frames: vxlan between the tunnel's two addresses */
        inet_ntop(AF_INET, &p->tun->in, a, sizeof(a));
        inet_ntop(AF_INET, &p->tun->peer_in, pa, sizeof(pa));
        snprintf(num, sizeof(num), "%llu", (unsigned long long)v.vni);
        if ((rc = bn_params_set(&inner, "vni", num)) < 0 ||
            (rc = bn_params_set(&inner, "addr", a)) < 0 ||
            (rc = bn_params_set(&inner, "peer.addr", pa)) < 0)
                goto out;
        snprintf(num, sizeof(num), "%llu", (unsigned long long)v.mtu);
        if ((rc = bn_params_set(&inner, "mtu", num)) < 0)
                goto out;
        port->class_ctx = c->vx;
        rc = bn_wire_vxlan_class.open(port, &inner, err, errlen);
        port->class_ctx = c;
        if (rc < 0) /* vxlan cleaned up after itself */
                goto out;
        vx = true;
        vpn_tun_wake_fd(c, p, bn_wire_vxlan_class.fd(port));
out:
        if (rc < 0 && p->tun) {
                vpn_tun_leave(c, p); /* the tunnel no longer wakes it */
                if (vx)
                        bn_wire_vxlan_class.close(port);
        }
        bn_params_clear(&inner);
        return rc;
}

static void vpn_close(struct bn_wire_port *port)
{
        struct vpn_ctx *c = port->class_ctx;
        struct vpn_port *p = vp(port);

        if (!p->tun)
                return;
        vpn_tun_leave(c, p); /* the tunnel no longer wakes it */
        bn_wire_vxlan_class.close(port);
}

static bool vpn_linked(struct bn_wire_port *port)
{
        return atomic_load(&vp(port)->tun->up);
}

static void vpn_link_why(struct bn_wire_port *port, char *buf, size_t len)
{
        vpn_tun_why(port->class_ctx, vp(port), buf, len);
}

static int vpn_send(struct bn_wire_port *port, const struct bn_wire_msg *msgs, unsigned n)
{
        struct vpn_port *p = vp(port);

        if (!atomic_load(&p->tun->up)) {
                p->drop_down += n; /* taken and counted: nothing waits for a tunnel */
                return (int)n;
        }
        return bn_wire_vxlan_class.send(port, msgs, n);
}

static int vpn_recv(struct bn_wire_port *port, struct bn_wire_msg *msgs, unsigned max)
{
        return bn_wire_vxlan_class.recv(port, msgs, max);
}

static void vpn_release(struct bn_wire_port *port, struct bn_wire_msg *msgs, unsigned n)
{
        bn_wire_vxlan_class.release(port, msgs, n);
}

static int vpn_fd(struct bn_wire_port *port)
{
        return bn_wire_vxlan_class.fd(port);
}

static void vpn_stats(struct bn_wire_port *port, struct bn_wire_stats *st)
{
        bn_wire_vxlan_class.stats(port, st);
        st->drop_down += vp(port)->drop_down;
}

static void vpn_port_caps(struct bn_wire_port *port, struct bn_wire_caps *caps)
{
        bn_wire_vxlan_class.port_caps(port, caps);
}

static int vpn_host_info(void *class_ctx, const char *address, struct bn_params *out)
{
        struct vpn_ctx *c = class_ctx;
        int rc = 0;

        if (c && c->fp[0])
                rc = bn_params_set(out, "fingerprint", c->fp);
        if (!rc && address && *address)
                rc = bn_params_set(out, "addr", address);
        return rc;
}

const struct bn_wire_class bn_wire_vpn_class = {
    .name = "vpn",
    .priv_size = sizeof(struct vpn_priv),
    .caps = {.ordered = false,
             .reliable = false,
             .gso = false,
             .control = false,
             .max_msg = BN_WIRE_DATA_MAX,
             .mtu = VPN_MTU_MAX},
    .class_init = vpn_class_init,
    .class_fini = vpn_class_fini,
    .open = vpn_open,
    .check = vpn_check,
    .close = vpn_close,
    .send = vpn_send,
    .recv = vpn_recv,
    .release = vpn_release,
    .fd = vpn_fd,
    .stats = vpn_stats,
    .linked = vpn_linked,
    .port_caps = vpn_port_caps,
    .link_why = vpn_link_why,
    .host_info = vpn_host_info,
};
