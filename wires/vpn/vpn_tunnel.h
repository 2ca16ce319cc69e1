/* vpn_tunnel.h: the OpenVPN tunnels of the "vpn" wire type (vpn_tunnel.c):
 * one per pair of hosts, shared by every vpn wire between them, started,
 * supervised (restart with backoff, its state read from OpenVPN's
 * management interface) and stopped on the type's supervisor loop; and this
 * host's certificate (made with the openssl CLI on first use). */
#ifndef BN_WIRE_VPN_TUNNEL_H
#define BN_WIRE_VPN_TUNNEL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct bn_loop;
struct bn_params;
struct bn_timer;

#define VPN_FP_LEN 96 /* "AB:CD:..." of a SHA-256: 95 characters */

/* The type's context: its certificate, its tunnels, its supervisor loop. */
struct vpn_ctx {
        pthread_mutex_t mu; /* the list of tunnels, each tunnel's ports and reason */
        struct bn_workers *sup;
        void *vx; /* vxlan's class context: the datagrams inside the tunnels */
        char dir[200];
        char fp[VPN_FP_LEN]; /* this host's certificate's SHA-256 fingerprint */
        char cert_err[200];  /* why there is no certificate ("" when there is) */
        struct vpn_tun *tuns;
};

/* One tunnel: between this host's underlay address and the peer's. */
struct vpn_tun {
        struct vpn_tun *next;
        struct vpn_ctx *ctx;
        struct in_addr ul, peer_ul; /* underlay addresses */
        struct in_addr in, peer_in; /* the tunnel's point-to-point addresses */
        unsigned port;              /* OpenVPN's UDP port on both ends */
        unsigned idx;               /* of the pair: the device's and the files' names */
        bool server;                /* the end with the lower underlay address */
        char peer_fp[VPN_FP_LEN];
        unsigned refs;          /* ports; under ctx->mu */
        struct vpn_port *ports; /* under ctx->mu */
        atomic_bool up;
        char why[160]; /* under ctx->mu */
        /* the supervisor loop's */
        pid_t pid;
        int pidfd, mfd;
        char mbuf[2048];
        size_t mlen;
        struct bn_timer *timer;
        unsigned backoff_ms, restarts;
        bool stopped;
        /* lingering without wires (refs 0): the timer that stops it, and
         * the linger calls queued and not run yet (under ctx->mu) */
        struct bn_timer *linger_tm;
        unsigned linger_calls;
};

/* One vpn port's part of the bookkeeping (after vxlan's in its priv). */
struct vpn_port {
        struct vpn_tun *tun;
        struct vpn_port *next; /* in tun->ports, under ctx->mu */
        int efd;               /* the port's fd (vxlan's): written to wake it */
        uint64_t drop_down;
};

/* What a wire riding a tunnel says of it (parameters, per end):
 *   addr=A             this end's underlay IPv4 address (required)
 *   peer.addr=A        the other end's (required)
 *   peer.fingerprint=F the SHA-256 fingerprint of the other host's
 *                      certificate ("AB:CD:..."; its bananad logs it and
 *                      keeps it in STATE_DIR/vpn/host.fp) (required)
 *   tunnel_port=P      OpenVPN's UDP port on both hosts (default 1194)
 * The vpn wire (NIC frames as VXLAN) and the nbd-vpn wire (a disk's NBD
 * connection) both take them; fp points into the params. */
struct vpn_tun_params {
        struct in_addr ul, peer_ul;
        uint64_t port;
        const char *fp;
};
extern const char *const vpn_tun_keys[]; /* the keys above, NULL-terminated */
/* need: everything there (open); !need (check): what is there is valid, the
 * addresses and the fingerprint may come later from the store. */
#define VPN_FP_ANY /* stands for a fingerprint that will come from the store */                    \
        "00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:"  \
        "00:00:00"
int vpn_tun_parse(const struct bn_params *params, struct vpn_tun_params *v, bool need, char *err,
                  size_t errlen);
/* A port joins the tunnel of v (made and started when it is the first):
 * p->tun is set, p is in its ports; the tunnel wakes p through p->efd (set
 * it with vpn_tun_wake_fd once the port has its fd; -1 until then). */
int vpn_tun_join(struct vpn_ctx *c, const struct vpn_tun_params *v, struct vpn_port *p, char *err,
                 size_t errlen);
void vpn_tun_wake_fd(struct vpn_ctx *c, struct vpn_port *p, int efd);
/* Out of the tunnel's ports (so it no longer writes p->efd), then the
 * reference dropped; nothing when p never joined. */
void vpn_tun_leave(struct vpn_ctx *c, struct vpn_port *p);
/* The tunnel's reason for being down ("" when up). */
void vpn_tun_why(struct vpn_ctx *c, const struct vpn_port *p, char *buf, size_t len);

/* This host's certificate in ctx->dir, made when absent; fills ctx->fp or
 * ctx->cert_err. Blocks while openssl runs (once per daemon). */
int vpn_cert_init(struct vpn_ctx *c);
/* The tunnel from ul to peer_ul on port (made when it is the first: then
 * *fresh and the caller starts it with vpn_tun_start); under c->mu. */
int vpn_tun_get(struct vpn_ctx *c, struct in_addr ul, struct in_addr peer_ul, unsigned port,
                const char *peer_fp, struct vpn_tun **out, bool *fresh, char *err, size_t errlen);
/* Queue the start of a fresh tunnel on the supervisor loop. */
int vpn_tun_start(struct vpn_tun *t);
/* Drop a reference, under nothing. The last one leaves the tunnel up for
 * VPN_TUN_LINGER_MS more (a wire swapped away and back, or the next wire
 * to that host, finds it up: no renegotiation), then stops it on the
 * supervisor loop, which frees it. */
void vpn_tun_put(struct vpn_tun *t);
/* Stop every tunnel without wires now (the type's fini). On any thread but
 * the supervisor loop's; waits. */
void vpn_tun_stop_idle(struct vpn_ctx *c);

#endif
