/* netguest.c: sim-netguest, a simulated DomU with one vif over xensim.
 *
 *   sim-netguest --name NAME [--sim-dir DIR] [--devid N] [--mac M] [--mtu N]
 *                [--rate BYTES,USEC] [--queues N] [--no-split]
 *                (--netns NS [--ifname eth0] [--ip ADDR/LEN] |
 *                 --gen SIZE:RATE:COUNT [--peer-mac M] [--gen-on-usr1] | --count N |
 *                 --evil bad-gref|size-past-page|bad-slot-count|prod-far-ahead)
 *                [--timeout SEC]
 *
 * It declares its vif as the toolstack would (back-end keys mac, mtu, rate),
 * does the netfront handshake (rings, event channels, request-rx-copy,
 * feature keys, multi-queue), then:
 *  - with --netns: owns a TAP (IFF_VNET_HDR) in that network namespace;
 *    frames from the TAP go out on the TX ring, RX frames into the TAP;
 *  - with --gen: sends COUNT frames of SIZE bytes at RATE frames/s (0: as
 *    fast as the ring allows), ethertype 0x88b5, numbered and patterned;
 *    with --gen-on-usr1 it starts only when it gets SIGUSR1 (so that a test
 *    can first see the vif's wire attached);
 *  - with --count: receives and verifies generator frames until N arrived;
 *  - with --evil: sends one hostile request and waits for the back-end to
 *    close the vif (exit 0 when it did).
 * It runs until SIGINT/SIGTERM, --timeout, or the mode is done, then prints
 * its counters ("netguest: tx_frames=... rx_frames=...") and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "bn_hv.h"
#include "devices/net/vif_hdr.h"
#include "netguest.h"

#define GEN_ETHERTYPE 0x88b5

struct opts {
        const char *name, *sim_dir, *mac, *mtu, *rate, *netns, *ifname, *ip, *gen, *evil;
        const char *peer_mac;
        unsigned devid, queues, timeout;
        bool no_split, gen_wait;
        uint64_t count;
};

static volatile sig_atomic_t stop_flag, go_flag;

static void on_signal(int sig)
{
        if (sig == SIGUSR1)
                go_flag = 1;
        else
                stop_flag = 1;
}

uint64_t ng_now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The back-end keys the toolstack writes for this vif. */
static void xl_extra(const struct opts *o, const char *extra[8])
{
        int n = 0;

        if (o->mac) {
                extra[n++] = "mac";
                extra[n++] = o->mac;
        }
        if (o->mtu) {
                extra[n++] = "mtu";
                extra[n++] = o->mtu;
        }
        if (o->rate) {
                extra[n++] = "rate";
                extra[n++] = o->rate;
        }
        extra[n] = NULL;
}

static int connect_vif(const struct opts *o, struct ng *ng)
{
        unsigned maxq, i;
        bool split;
        int rc;

        rc = bn_guest_xb_wait_state(ng->g, ng->fe.be_path, XenbusStateInitWait, 20000);
        if (rc < 0) {
                fprintf(stderr, "netguest: back-end %s never reached InitWait: %s\n",
                        ng->fe.be_path, strerror(-rc));
                return rc;
        }
        maxq = (unsigned)bn_guest_fe_be_uint(&ng->fe, "multi-queue-max-queues", 1);
        ng->nq = o->queues < maxq ? o->queues : maxq;
        if (ng->nq < 1)
                ng->nq = 1;
        if (ng->nq > NG_MAX_QUEUES)
                ng->nq = NG_MAX_QUEUES;
        split = !o->no_split &&
                (unsigned)bn_guest_fe_be_uint(&ng->fe, "feature-split-event-channels", 0);
        ng->split = split;
        for (i = 0; i < ng->nq; i++) {
                struct ng_queue *q = &ng->q[i];
                char pre[32] = "";

                rc = ng_queue_init(ng, q, i);
                if (rc < 0)
                        return rc;
                q->tx_port = bn_guest_evtchn_alloc_unbound(ng->g, ng->fe.be_domid);
                q->rx_port =
                    split ? bn_guest_evtchn_alloc_unbound(ng->g, ng->fe.be_domid) : q->tx_port;
                if (q->tx_port < 0 || q->rx_port < 0)
                        return q->tx_port < 0 ? q->tx_port : q->rx_port;
                if (ng->nq > 1)
                        snprintf(pre, sizeof(pre), "queue-%u/", i);
                char k[64];
                snprintf(k, sizeof(k), "%stx-ring-ref", pre);
                rc |= bn_guest_fe_write(&ng->fe, k, "%d", q->tx_ring_ref);
                snprintf(k, sizeof(k), "%srx-ring-ref", pre);
                rc |= bn_guest_fe_write(&ng->fe, k, "%d", q->rx_ring_ref);
                if (split) {
                        snprintf(k, sizeof(k), "%sevent-channel-tx", pre);
                        rc |= bn_guest_fe_write(&ng->fe, k, "%d", q->tx_port);
                        snprintf(k, sizeof(k), "%sevent-channel-rx", pre);
                        rc |= bn_guest_fe_write(&ng->fe, k, "%d", q->rx_port);
                } else {
                        snprintf(k, sizeof(k), "%sevent-channel", pre);
                        rc |= bn_guest_fe_write(&ng->fe, k, "%d", q->tx_port);
                }
                if (rc)
                        return -EIO;
        }
        if (ng->nq > 1)
                rc |= bn_guest_fe_write(&ng->fe, "multi-queue-num-queues", "%u", ng->nq);
        rc |= bn_guest_fe_write(&ng->fe, "request-rx-copy", "1");
        rc |= bn_guest_fe_write(&ng->fe, "feature-rx-notify", "1");
        rc |= bn_guest_fe_write(&ng->fe, "feature-sg", "1");
        rc |= bn_guest_fe_write(&ng->fe, "feature-gso-tcpv4", "1");
        rc |= bn_guest_fe_write(&ng->fe, "feature-gso-tcpv6", "1");
        rc |= bn_guest_fe_write(&ng->fe, "feature-ipv6-csum-offload", "1");
        if (rc)
                return -EIO;
        rc = bn_guest_xb_set_state(ng->g, ng->fe.fe_path, XenbusStateInitialised);
        if (rc < 0)
                return rc;
        rc = bn_guest_xb_wait_state(ng->g, ng->fe.be_path, XenbusStateConnected, 20000);
        if (rc < 0) {
                fprintf(stderr, "netguest: back-end %s did not connect: %s\n", ng->fe.be_path,
                        strerror(-rc));
                return rc;
        }
        rc = bn_guest_xb_set_state(ng->g, ng->fe.fe_path, XenbusStateConnected);
        if (rc < 0)
                return rc;
        printf("netguest: vif %s connected, %u queue(s)%s\n", ng->fe.fe_path, ng->nq,
               split ? ", split event channels" : "");
        fflush(stdout);
        return 0;
}

/* ---- live migration ------------------------------------------------------ */

/* Move to the xensim in dir (docs/migration.md): declare the vif there
 * (pre-copy), stop, and on "go" connect there as netfront does after a
 * resume (new rings, RX buffers posted again; frames in flight are lost,
 * as on Xen), then leave the source. On "abort" (or a failure) stay. The
 * TAP and its namespace stay as they are. */
static int ng_migrate(const struct opts *o, struct ng *ng, const char *dir, uint32_t mem)
{
        static char dirs[2][256]; /* fe.sim_dir points here: one for each side */
        static unsigned flip;
        char *dest = dirs[flip++ & 1];
        struct bn_guest *g2 = NULL, *old = ng->g;
        struct bn_guest_fe fe2, old_fe = ng->fe;
        const char *extra[8];
        int rc, go;

        snprintf(dest, sizeof(dirs[0]), "%s", dir);
        xl_extra(o, extra);
        if ((rc = bn_guest_create(&g2, dest, o->name, mem)) < 0)
                goto fail;
        bn_guest_fe_init(&fe2, g2, dest, "netguest", "vif", o->devid, 0);
        if ((rc = bn_guest_fe_declare(&fe2, NULL, extra)) < 0 ||
            (rc = bn_guest_xb_wait_state(g2, fe2.be_path, XenbusStateInitWait, 10000)) < 0)
                goto fail;
        bn_guest_mig_state(old, "precopied");
        bn_guest_mig_state(old, "suspended");
        go = bn_guest_mig_wait_go(old, 20000);
        if (go != 1) {
                printf("netguest: migration to %s %s, staying\n", dest,
                       go == 0 ? "aborted" : "not confirmed");
                rc = 0;
                goto fail;
        }
        ng->g = g2;
        ng->fe = fe2;
        memset(ng->q, 0, sizeof(ng->q));
        rc = connect_vif(o, ng);
        bn_guest_xb_set_state(old, old_fe.fe_path, XenbusStateClosed);
        bn_guest_fe_undeclare(&old_fe, NULL);
        bn_guest_destroy(old);
        printf("netguest: migrated to %s as domain %u\n", dest, bn_guest_domid(g2));
        fflush(stdout);
        return rc;
fail:
        if (rc < 0) {
                fprintf(stderr, "netguest: migration to %s failed: %s\n", dest, strerror(-rc));
                bn_guest_mig_state(old, "failed");
        }
        if (g2) {
                bn_guest_fe_undeclare(&fe2, NULL);
                bn_guest_destroy(g2);
        }
        fflush(stdout);
        return 0;
}

/* ---- TAP in a network namespace ---------------------------------------- */

static int parse_mac(const char *s, uint8_t mac[6])
{
        unsigned v[6];

        if (!s || sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
                return -EINVAL;
        for (int i = 0; i < 6; i++)
                mac[i] = (uint8_t)v[i];
        return 0;
}

static int open_tap(const struct opts *o)
{
        char path[256];
        struct ifreq ifr;
        int nsfd, fd = -1, sock = -1, rc;
        unsigned off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

        snprintf(path, sizeof(path), "/var/run/netns/%s", o->netns);
        nsfd = open(path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0) {
                fprintf(stderr, "netguest: cannot enter netns %s: %s\n", o->netns, strerror(errno));
                if (nsfd >= 0)
                        close(nsfd);
                return -1;
        }
        close(nsfd);
        fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                goto fail;
        memset(&ifr, 0, sizeof(ifr));
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        snprintf(ifr.ifr_name, IFNAMSIZ, "%s", o->ifname);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETOFFLOAD, off) < 0)
                goto fail;
        sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (sock < 0)
                goto fail;
        if (o->mac) {
                ifr.ifr_hwaddr.sa_family = 1; /* ARPHRD_ETHER */
                if (parse_mac(o->mac, (uint8_t *)ifr.ifr_hwaddr.sa_data) < 0 ||
                    ioctl(sock, SIOCSIFHWADDR, &ifr) < 0)
                        goto fail;
        }
        if (o->mtu) {
                ifr.ifr_mtu = atoi(o->mtu);
                if (ioctl(sock, SIOCSIFMTU, &ifr) < 0)
                        goto fail;
        }
        if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
                goto fail;
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
                goto fail;
        close(sock);
        if (o->ip) {
                char cmd[256];

                snprintf(cmd, sizeof(cmd), "ip addr add '%s' dev '%s'", o->ip, o->ifname);
                rc = system(cmd);
                if (rc != 0) {
                        fprintf(stderr, "netguest: '%s' failed\n", cmd);
                        close(fd);
                        return -1;
                }
        }
        return fd;
fail:
        fprintf(stderr, "netguest: TAP %s in netns %s: %s\n", o->ifname, o->netns, strerror(errno));
        if (sock >= 0)
                close(sock);
        if (fd >= 0)
                close(fd);
        return -1;
}

/* As Linux's netfront: the interface's MTU is the back-end's `mtu` key
 * (bananad writes its wire's there), followed while the guest runs: read
 * every 250 ms (we are in the guest's netns since open_tap). */
static void follow_mtu(struct ng *ng, const struct opts *o, unsigned *applied, uint64_t *next_us)
{
        uint64_t now = ng_now_us(), m;
        struct ifreq ifr;
        int sock;

        if (now < *next_us)
                return;
        *next_us = now + 250000;
        m = bn_guest_fe_be_uint(&ng->fe, "mtu", 0);
        if (m < 68 || m > 65535 || m == *applied)
                return;
        sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        memset(&ifr, 0, sizeof(ifr));
        snprintf(ifr.ifr_name, IFNAMSIZ, "%s", o->ifname);
        ifr.ifr_mtu = (int)m;
        if (sock >= 0 && ioctl(sock, SIOCSIFMTU, &ifr) == 0) {
                *applied = (unsigned)m;
                printf("netguest: mtu %u (the back-end's)\n", *applied);
                fflush(stdout);
        }
        if (sock >= 0)
                close(sock);
}

static void deliver_tap(struct ng *ng, const struct virtio_net_hdr *vh, const uint8_t *frame,
                        uint32_t len)
{
        struct iovec iov[2] = {{(void *)vh, sizeof(*vh)}, {(void *)frame, len}};

        if (writev(ng->tap_fd, iov, 2) < 0)
                ng->st.rx_bad++;
}

/* ---- generator / verifier ---------------------------------------------- */

static void gen_fill(uint8_t *f, uint32_t size, uint64_t seq, const uint8_t dst[6],
                     const uint8_t src[6])
{
        uint32_t i;

        memcpy(f, dst, 6);
        memcpy(f + 6, src, 6);
        f[12] = GEN_ETHERTYPE >> 8;
        f[13] = GEN_ETHERTYPE & 0xff;
        memcpy(f + 14, "BNGN", 4);
        memcpy(f + 18, &seq, 8);
        for (i = 26; i < size; i++)
                f[i] = (uint8_t)(seq * 7 + i);
}

static void deliver_verify(struct ng *ng, const struct virtio_net_hdr *vh, const uint8_t *f,
                           uint32_t len)
{
        uint64_t seq;
        uint32_t i;

        (void)vh;
        if (len < 26 || f[12] != (GEN_ETHERTYPE >> 8) || f[13] != (GEN_ETHERTYPE & 0xff))
                return; /* not generator traffic (e.g. IPv6 noise): ignore */
        if (memcmp(f + 14, "BNGN", 4)) {
                ng->st.gen_bad++;
                return;
        }
        memcpy(&seq, f + 18, 8);
        for (i = 26; i < len; i++)
                if (f[i] != (uint8_t)(seq * 7 + i)) {
                        ng->st.gen_bad++;
                        return;
                }
        ng->st.gen_last_us = ng_now_us();
        if (ng->st.gen_good)
                ng->st.gen_bytes_after_first += len;
        else
                ng->st.gen_first_us = ng->st.gen_last_us;
        ng->st.gen_good++;
}

/* ---- hostile front-end ------------------------------------------------- */

static int do_evil(struct ng *ng, const char *mode)
{
        struct ng_queue *q = &ng->q[0];
        netif_tx_request_t *r;
        int notify;
        unsigned i;

        if (!strcmp(mode, "prod-far-ahead")) {
                q->tx.sring->req_prod = q->tx.req_prod_pvt + 1000;
                xen_wmb();
                bn_guest_evtchn_notify(ng->g, (uint32_t)q->tx_port);
                return 0;
        }
        if (!strcmp(mode, "bad-gref") || !strcmp(mode, "size-past-page")) {
                r = RING_GET_REQUEST(&q->tx, q->tx.req_prod_pvt++);
                r->gref = !strcmp(mode, "bad-gref") ? 0x7ffffff0u : q->tx_gref[0];
                r->offset = !strcmp(mode, "bad-gref") ? 0 : 4000;
                r->flags = 0;
                r->id = 0;
                r->size = 200;
        } else if (!strcmp(mode, "bad-slot-count")) {
                for (i = 0; i < 24; i++) {
                        r = RING_GET_REQUEST(&q->tx, q->tx.req_prod_pvt++);
                        r->gref = q->tx_gref[i];
                        r->offset = 0;
                        r->flags = i + 1 < 24 ? NETTXF_more_data : 0;
                        r->id = (uint16_t)i;
                        r->size = i == 0 ? 24 * 100 : 100;
                }
        } else {
                fprintf(stderr, "netguest: unknown --evil mode '%s'\n", mode);
                return -EINVAL;
        }
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->tx, notify);
        (void)notify;
        bn_guest_evtchn_notify(ng->g, (uint32_t)q->tx_port);
        return 0;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void)
{
        fprintf(stderr,
                "usage: sim-netguest --name NAME [--sim-dir DIR] [--devid N] [--mac M] [--mtu N]\n"
                "       [--rate BYTES,USEC] [--queues N] [--no-split] [--timeout SEC]\n"
                "       (--netns NS [--ifname IF] [--ip ADDR/LEN] | --gen SIZE:RATE:COUNT\n"
                "        [--peer-mac M] [--gen-on-usr1] | --count N | --evil MODE)\n");
}

static void print_stats(const struct ng *ng)
{
        printf("netguest: tx_frames=%" PRIu64 " tx_bytes=%" PRIu64 " tx_errors=%" PRIu64
               " tx_busy=%" PRIu64 " rx_frames=%" PRIu64 " rx_bytes=%" PRIu64 " rx_bad=%" PRIu64
               " gen_good=%" PRIu64 " gen_bad=%" PRIu64 " gen_usec=%" PRIu64
               " gen_bytes_after_first=%" PRIu64 "\n",
               ng->st.tx_frames, ng->st.tx_bytes, ng->st.tx_errors, ng->st.tx_busy,
               ng->st.rx_frames, ng->st.rx_bytes, ng->st.rx_bad, ng->st.gen_good, ng->st.gen_bad,
               ng->st.gen_last_us - ng->st.gen_first_us, ng->st.gen_bytes_after_first);
        fflush(stdout);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
        static const struct option lo[] = {
            {"name", 1, 0, 'n'},     {"sim-dir", 1, 0, 'd'},     {"devid", 1, 0, 'i'},
            {"mac", 1, 0, 'm'},      {"mtu", 1, 0, 'M'},         {"rate", 1, 0, 'r'},
            {"queues", 1, 0, 'q'},   {"no-split", 0, 0, 'S'},    {"netns", 1, 0, 'N'},
            {"ifname", 1, 0, 'I'},   {"ip", 1, 0, 'a'},          {"gen", 1, 0, 'g'},
            {"peer-mac", 1, 0, 'p'}, {"count", 1, 0, 'c'},       {"evil", 1, 0, 'e'},
            {"timeout", 1, 0, 't'},  {"gen-on-usr1", 0, 0, 'G'}, {0, 0, 0, 0}};
        int c;

        memset(o, 0, sizeof(*o));
        o->queues = 1;
        o->ifname = "eth0";
        o->timeout = 0;
        while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
                switch (c) {
                case 'n':
                        o->name = optarg;
                        break;
                case 'd':
                        o->sim_dir = optarg;
                        break;
                case 'i':
                        o->devid = (unsigned)atoi(optarg);
                        break;
                case 'm':
                        o->mac = optarg;
                        break;
                case 'M':
                        o->mtu = optarg;
                        break;
                case 'r':
                        o->rate = optarg;
                        break;
                case 'q':
                        o->queues = (unsigned)atoi(optarg);
                        break;
                case 'S':
                        o->no_split = true;
                        break;
                case 'N':
                        o->netns = optarg;
                        break;
                case 'I':
                        o->ifname = optarg;
                        break;
                case 'a':
                        o->ip = optarg;
                        break;
                case 'g':
                        o->gen = optarg;
                        break;
                case 'p':
                        o->peer_mac = optarg;
                        break;
                case 'c':
                        o->count = strtoull(optarg, NULL, 10);
                        break;
                case 'e':
                        o->evil = optarg;
                        break;
                case 't':
                        o->timeout = (unsigned)atoi(optarg);
                        break;
                case 'G':
                        o->gen_wait = true;
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (!o->name || optind != argc)
                return -EINVAL;
        return 0;
}

int main(int argc, char **argv)
{
        static struct ng ngs; /* large (frame buffers): not on the stack */
        struct ng *ng = &ngs;
        struct opts o;
        const char *extra[8];
        uint32_t gsize = 0, grate = 0;
        uint64_t gcount = 0, start, deadline, mtu_next = 0, mig_check = 0;
        unsigned mtu_applied = 0;
        const uint32_t mem = 4 * (2 + 2 * NG_RING) + 64;
        uint8_t dst[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, src[6] = {0x00, 0x16, 0x3e, 0, 0, 1};
        static uint8_t buf[NG_FRAME_MAX + sizeof(struct virtio_net_hdr)];
        int rc, evfd, ret = 1;
        bool evil_sent = false;

        if (parse_opts(argc, argv, &o) < 0) {
                usage();
                return 2;
        }
        if (o.gen && sscanf(o.gen, "%u:%u:%" SCNu64, &gsize, &grate, &gcount) != 3) {
                usage();
                return 2;
        }
        if (o.gen && (gsize < 60 || gsize > 65535)) {
                fprintf(stderr, "netguest: --gen size must be 60..65535\n");
                return 2;
        }
        if (o.peer_mac)
                parse_mac(o.peer_mac, dst);
        if (o.mac)
                parse_mac(o.mac, src);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGUSR1, on_signal);
        signal(SIGPIPE, SIG_IGN);
        ng->tap_fd = -1;
        rc = bn_guest_create(&ng->g, o.sim_dir, o.name, mem);
        if (rc < 0) {
                fprintf(stderr, "netguest: cannot create domain '%s': %s\n", o.name, strerror(-rc));
                return 1;
        }
        bn_guest_fe_init(&ng->fe, ng->g, o.sim_dir, "netguest", "vif", o.devid, 0);
        xl_extra(&o, extra);
        if (bn_guest_fe_declare(&ng->fe, NULL, extra) < 0 || connect_vif(&o, ng) < 0)
                goto out;
        if (o.netns && (ng->tap_fd = open_tap(&o)) < 0)
                goto out;

        evfd = bn_guest_evtchn_fd(ng->g);
        start = ng_now_us();
        deadline = o.timeout ? start + (uint64_t)o.timeout * 1000000u : 0;
        for (;;) {
                struct pollfd p[2] = {{evfd, POLLIN, 0}, {ng->tap_fd, POLLIN, 0}};
                int port, timeout = 100;
                bool busy = false;

                if (stop_flag || (deadline && ng_now_us() > deadline))
                        break;
                if (ng->tap_fd >= 0)
                        follow_mtu(ng, &o, &mtu_applied, &mtu_next);
                if (ng_now_us() - mig_check > 20000) { /* asked to migrate? */
                        char dir[256];
                        mig_check = ng_now_us();
                        if (bn_guest_mig_asked(ng->g, dir, sizeof(dir)) == 1) {
                                if (ng_migrate(&o, ng, dir, mem) < 0)
                                        goto out_stats;
                                evfd = bn_guest_evtchn_fd(ng->g);
                                p[0].fd = evfd;
                        }
                }
                if (o.evil && !evil_sent) {
                        if (do_evil(ng, o.evil) < 0)
                                goto out;
                        evil_sent = true;
                }
                if (o.evil) {
                        int st = bn_guest_xb_get_state(ng->g, ng->fe.be_path);

                        if (st == XenbusStateClosing || st == XenbusStateClosed) {
                                printf("netguest: back-end closed the vif (state %d) after "
                                       "--evil %s\n",
                                       st, o.evil);
                                ret = 0;
                                goto out_stats;
                        }
                }
                /* generator: send what the rate allows now */
                if (o.gen && o.gen_wait && !go_flag && ng->gen_seq == 0)
                        start = ng_now_us(); /* not started yet */
                else if (o.gen && ng->gen_seq < gcount) {
                        uint64_t due =
                            grate ? (ng_now_us() - start) * grate / 1000000u + 1 : gcount;

                        while (ng->gen_seq < gcount && ng->gen_seq < due) {
                                gen_fill(buf, gsize, ng->gen_seq, dst, src);
                                struct virtio_net_hdr vh = {0};
                                if (ng_tx_frame(ng, &vh, buf, gsize) < 0) {
                                        busy = true;
                                        break;
                                }
                                ng->gen_seq++;
                        }
                        timeout = busy ? 1 : (grate ? 1 : 0);
                }
                /* TAP -> TX ring */
                if (ng->tap_fd >= 0) {
                        for (int k = 0; k < 64; k++) {
                                ssize_t n = read(ng->tap_fd, buf, sizeof(buf));
                                struct virtio_net_hdr vh;

                                if (n < (ssize_t)sizeof(vh))
                                        break;
                                memcpy(&vh, buf, sizeof(vh));
                                while (ng_tx_frame(ng, &vh, buf + sizeof(vh),
                                                   (uint32_t)(n - (ssize_t)sizeof(vh))) ==
                                       -EAGAIN) {
                                        /* ring full: wait for the back-end */
                                        struct pollfd pe = {evfd, POLLIN, 0};

                                        if (stop_flag || poll(&pe, 1, 100) < 0)
                                                break;
                                        while ((port = bn_guest_evtchn_pending(ng->g)) >= 0)
                                                bn_guest_evtchn_unmask(ng->g, (uint32_t)port);
                                        ng_poll(ng, deliver_tap);
                                }
                        }
                }
                while ((port = bn_guest_evtchn_pending(ng->g)) >= 0)
                        bn_guest_evtchn_unmask(ng->g, (uint32_t)port);
                rc = ng_poll(ng, ng->tap_fd >= 0 ? deliver_tap : deliver_verify);
                if (rc < 0) {
                        fprintf(stderr, "netguest: bad RX ring from the back-end\n");
                        goto out_stats;
                }
                if (o.count && ng->st.gen_good >= o.count) {
                        ret = ng->st.gen_bad ? 1 : 0;
                        goto out_stats;
                }
                if (o.gen && ng->gen_seq >= gcount && !o.count) {
                        /* all sent: wait until every TX response is back */
                        unsigned qi, inflight = 0;

                        for (qi = 0; qi < ng->nq; qi++)
                                inflight += NG_RING - ng->q[qi].ntx_free;
                        if (!inflight) {
                                ret = 0;
                                goto out_stats;
                        }
                }
                if (rc == 0 && timeout)
                        poll(p, ng->tap_fd >= 0 ? 2 : 1, timeout);
        }
        /* stopped by signal or timeout */
        ret = (o.count || o.evil) ? 1 : 0;
out_stats:
        print_stats(ng);
out:
        if (ng->tap_fd >= 0)
                close(ng->tap_fd);
        if (ng->g) {
                bn_guest_xb_set_state(ng->g, ng->fe.fe_path, XenbusStateClosed);
                bn_guest_fe_undeclare(&ng->fe, NULL);
                bn_guest_destroy(ng->g);
        }
        return ret;
}
