/* test_bridge.c: the bridge Corm with the real framework, a real shm wire,
 * a real Linux bridge, TAPs and a veth pair, in private network namespaces
 * (root; exit 77 otherwise). The test process moves itself into a new netns
 * ("A": bridge, TAPs) and keeps a second one ("B") alive with a child; a
 * veth pair joins the bridge to B. The wire's far end is this process,
 * joined by path with bn_shm_connect.
 *
 *  1. the Corm creates the bridge; a wire end gets a TAP enslaved to it
 *     (checked with `ip -d link` and `bridge link`);
 *  2. a frame from the wire comes out of the veth in B, and back;
 *  3. a 64 KiB TCPv4 GSO frame (vnet hdr gso_type TCPV4) crosses whole;
 *  4. closing the wire removes its TAP, closing the Corm the bridge;
 *  5. with offload=0 on an existing bridge, the same GSO frame is segmented
 *     in software: MSS-sized segments with valid checksums reach B; the
 *     bridge (not the Corm's) stays;
 *  6. a missing bridge without create=1 is refused with a clear error.
 * Everything vanishes with the namespaces when the test exits.
 */
#include "bn_devclass.h"
#include "bn_endpoint.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_wire.h"
#include "corm_bridge.h"
#include "corm_gso.h"
#include "shm_port.h"
#include "shm_wire.h"
#include "tap_dev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void fail_cleanup(void);
#define BN_CHECK_FATAL
#define BN_CHECK_ON_FAIL() fail_cleanup()
#include "../bn_check.h"

static pid_t holder = -1;

static void fail_cleanup(void)
{
        if (holder > 0) {
                kill(holder, SIGKILL);
                waitpid(holder, NULL, 0);
        }
}

static const struct bn_devclass corm_cls = {
    .name = "vif",
    .backend_types = {NULL},
    .max_queues = 1,
    .corm_priv_size = BN_NET_CORM_BRIDGE_PRIV_SIZE,
    .corm_open = bn_net_corm_bridge_open,
    .corm_close = bn_net_corm_bridge_close,
    .port_attach = bn_net_corm_bridge_port_attach,
    .port_detach = bn_net_corm_bridge_port_detach,
    .port_rx = bn_net_corm_bridge_port_rx,
    .port_writable = bn_net_corm_bridge_port_writable,
    .port_link = bn_net_corm_bridge_port_link,
};

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
        char cmd[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        return system(cmd);
}

/* Does the output of cmd contain needle? */
static int output_has(const char *cmd, const char *needle)
{
        char buf[8192];
        size_t n;
        FILE *f = popen(cmd, "r");

        if (!f)
                return 0;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        pclose(f);
        return strstr(buf, needle) != NULL;
}

/* ---- namespace B: a packet socket on vbB ---------------------------- */

struct nsb_arg {
        int rc, sock;
};

static void *nsb_thread(void *a)
{
        struct nsb_arg *x = a;
        char path[64];
        struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)holder);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
                x->rc = -errno;
                return NULL;
        }
        close(fd);
        /* This thread is in B now: sockets and netlink made here live there. */
        x->rc = bn_net_link_set_up("vbB", true);
        if (x->rc < 0)
                return NULL;
        x->sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
        sll.sll_ifindex = (int)if_nametoindex("vbB");
        if (x->sock < 0 || sll.sll_ifindex == 0 ||
            bind(x->sock, (struct sockaddr *)&sll, sizeof(sll)) < 0)
                x->rc = -errno;
        return NULL;
}

static int open_nsb_socket(void)
{
        struct nsb_arg x = {0, -1};
        pthread_t t;

        CHECK(pthread_create(&t, NULL, nsb_thread, &x) == 0);
        pthread_join(t, NULL);
        if (x.rc < 0)
                fprintf(stderr, "namespace B: %s\n", strerror(-x.rc));
        CHECK(x.rc == 0);
        return x.sock;
}

static uint8_t rxbuf[70000];

/* Receive from B's socket (incoming only) until fn accepts enough; 0 on
 * success, -ETIMEDOUT. */
static int recv_b(int sock, int (*fn)(void *arg, const uint8_t *f, size_t len), void *arg)
{
        for (int waited = 0; waited < 100;) {
                struct pollfd pfd = {.fd = sock, .events = POLLIN};
                struct sockaddr_ll from;
                socklen_t fl = sizeof(from);
                ssize_t n;

                if (poll(&pfd, 1, 100) <= 0) {
                        waited++;
                        continue;
                }
                n = recvfrom(sock, rxbuf, sizeof(rxbuf), 0, (struct sockaddr *)&from, &fl);
                if (n <= 0 || from.sll_pkttype == PACKET_OUTGOING)
                        continue;
                if (fn(arg, rxbuf, (size_t)n))
                        return 0;
        }
        return -ETIMEDOUT;
}

/* ---- frames ------------------------------------------------------------ */

#define TEST_ETHERTYPE 0x88b5

static size_t test_frame(uint8_t *f, const char *text)
{
        size_t n = strlen(text);

        memset(f, 0xff, 6);
        memcpy(f + 6, "\x02\x00\x00\x00\x00\xaa", 6);
        f[12] = TEST_ETHERTYPE >> 8;
        f[13] = TEST_ETHERTYPE & 0xff;
        memset(f + 14, 0, 64);
        memcpy(f + 14, text, n);
        return 14 + 64;
}

static int match_text(void *arg, const uint8_t *f, size_t len)
{
        const char *text = arg;

        return len >= 14 + strlen(text) && ((f[12] << 8) | f[13]) == TEST_ETHERTYPE &&
               memcmp(f + 14, text, strlen(text)) == 0;
}

static void put16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

/* A 64 KiB TCPv4 GSO frame with a partial checksum, as Linux makes them. */
static size_t gso_frame(uint8_t *f, struct virtio_net_hdr *h)
{
        size_t plen = 65535 - 40, i;
        uint32_t ps;

        memset(f, 0, 54);
        memcpy(f, "\x02\x00\x00\x00\x00\xbb\x02\x00\x00\x00\x00\xaa\x08\x00", 14);
        f[14] = 0x45;
        put16(f + 16, (uint16_t)(40 + plen));
        put16(f + 20, 0x4000);
        f[22] = 64;
        f[23] = IPPROTO_TCP;
        memcpy(f + 26, "\x0a\x63\x00\x01\x0a\x63\x00\x02", 8);
        put16(f + 24, (uint16_t)~bn_net_csum_fold(bn_net_csum_add(0, f + 14, 20)));
        put16(f + 34, 40000);
        put16(f + 36, 5201);
        memcpy(f + 38, "\x00\x00\x10\x00", 4);
        f[46] = 5 << 4;
        f[47] = 0x18;
        put16(f + 48, 65535);
        for (i = 0; i < plen; i++)
                f[54 + i] = (uint8_t)(i * 13 + i / 253);
        ps = bn_net_csum_add(0, f + 26, 8) + IPPROTO_TCP + (uint32_t)(20 + plen);
        put16(f + 50, bn_net_csum_fold(ps));
        memset(h, 0, sizeof(*h));
        h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        h->hdr_len = 54;
        h->gso_size = 1448;
        h->csum_start = 34;
        h->csum_offset = 16;
        return 54 + plen;
}

struct gso_rx {
        const uint8_t *orig;
        size_t want, got;
        int segs, max_seg, bad_csum;
        bool check_csum;
};

static int match_gso(void *arg, const uint8_t *f, size_t len)
{
        struct gso_rx *g = arg;
        size_t seg;
        uint32_t off;

        if (len < 54 || f[12] != 0x08 || f[13] != 0 || f[23] != IPPROTO_TCP ||
            ((f[34] << 8) | f[35]) != 40000)
                return 0;
        seg = ((size_t)f[16] << 8 | f[17]) - 40;
        off = ((uint32_t)f[38] << 24 | (uint32_t)f[39] << 16 | (uint32_t)f[40] << 8 | f[41]) -
              0x1000u;
        if (54 + seg > len || off + seg > g->want || memcmp(f + 54, g->orig + 54 + off, seg))
                return 0;
        if (g->check_csum && bn_net_csum_verify(f, 54 + seg) != 0)
                g->bad_csum++;
        g->got += seg;
        g->segs++;
        if ((int)len > g->max_seg)
                g->max_seg = (int)len;
        return g->got >= g->want;
}

/* ---- the wire's far end ------------------------------------------------ */

static void wire_send(struct bn_shm_port *sp, const struct virtio_net_hdr *h, const void *f,
                      size_t len)
{
        static const struct virtio_net_hdr none;
        struct iovec iov = {.iov_base = (void *)f, .iov_len = len};

        CHECK(bn_shm_port_send(sp, BN_MSG_NET_FRAME, h ? h : &none, sizeof(*h), &iov, 1, false) ==
              0);
        CHECK(bn_shm_port_flush(sp) == 1);
}

static int wire_match(void *arg, uint16_t type, const void *meta, size_t ml, const void *d,
                      size_t len)
{
        (void)meta;
        if (type == BN_MSG_NET_FRAME && ml == BN_NET_VNET_HDR_LEN && match_text(arg, d, len))
                ((char *)arg)[0] = '!'; /* found */
        return 0;
}

struct tapname_arg {
        struct bn_endpoint *ep;
        struct bn_wire_port *port;
        char name[IFNAMSIZ];
};

static void tapname_on_loop(void *a)
{
        struct tapname_arg *t = a;

        snprintf(t->name, sizeof(t->name), "%s", bn_net_corm_bridge_tap_name(t->ep, t->port));
}

struct rig {
        struct bn_workers *w;
        struct bn_wire_registry wreg;
        struct bn_ep_registry ereg;
};

/* Open a Corm and one wire end on it; connect our far end. */
static struct bn_endpoint *corm_with_wire(struct rig *r, const char *params, const char *path,
                                          struct bn_wire_port **port, struct bn_shm_port **sp,
                                          char *tap)
{
        struct bn_params p = BN_PARAMS_INIT, wp = BN_PARAMS_INIT;
        struct tapname_arg t;
        struct bn_endpoint *ep = NULL;
        char err[512], pp[160];

        CHECK(bn_params_parse(&p, params, err, sizeof(err)) == 0);
        if (bn_corm_create(&r->ereg, &corm_cls, "hostA/bridge", bn_workers_loop(r->w, 0), &p, &ep,
                           err, sizeof(err)) < 0) {
                fprintf(stderr, "corm: %s\n", err);
                CHECK(0);
        }
        snprintf(pp, sizeof(pp), "path=%s,ring=1M", path);
        CHECK(bn_params_parse(&wp, pp, err, sizeof(err)) == 0);
        if (bn_wire_port_open(&r->wreg, "shm", "hostA/bridge--far", 0, ep, &wp, port, err,
                              sizeof(err)) < 0) {
                fprintf(stderr, "wire: %s\n", err);
                CHECK(0);
        }
        CHECK(bn_shm_connect(path, "far end", 5000, sp) == 0);
        t.ep = ep;
        t.port = *port;
        CHECK(bn_loop_call_wait(ep->loop, tapname_on_loop, &t) == 0);
        CHECK(t.name[0]);
        strcpy(tap, t.name);
        bn_params_clear(&p);
        bn_params_clear(&wp);
        return ep;
}

int main(void)
{
        static uint8_t f[70000];
        struct virtio_net_hdr h;
        struct rig r;
        struct bn_endpoint *ep;
        struct bn_wire_port *port;
        struct bn_shm_port *sp;
        char tap[IFNAMSIZ], cmd[256], text[64], path[108], err[512];
        struct gso_rx g;
        int pfd[2], sock, i;
        size_t len;

        if (geteuid() != 0) {
                printf("SKIP: needs root (TAP, bridge, network namespaces)\n");
                return 77;
        }
        if (access("/dev/net/tun", R_OK | W_OK) != 0) {
                printf("SKIP: no /dev/net/tun\n");
                return 77;
        }
        if (unshare(CLONE_NEWNET) < 0) {
                printf("SKIP: cannot make a network namespace: %s\n", strerror(errno));
                return 77;
        }
        if (system("ip -V >/dev/null 2>&1 && bridge -V >/dev/null 2>&1") != 0) {
                printf("SKIP: iproute2 (ip, bridge) not found\n");
                return 77;
        }
        signal(SIGPIPE, SIG_IGN);
        bn_log_init("test_bridge", 0);
        CHECK(pipe(pfd) == 0);
        holder = fork();
        CHECK(holder >= 0);
        if (holder == 0) { /* namespace B lives as long as this child */
                char c = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';

                (void)!write(pfd[1], &c, 1);
                pause();
                _exit(0);
        }
        {
                char c = 0;

                CHECK(read(pfd[0], &c, 1) == 1 && c == 'y');
        }
        CHECK(bn_workers_start(&r.w, 1, "bridge") == 0);
        bn_wire_registry_init(&r.wreg);
        bn_ep_registry_init(&r.ereg);
        CHECK(bn_wire_registry_add(&r.wreg, &bn_wire_shm_class) == 0);

        /* 6 first: a missing bridge without create is refused, clearly. */
        {
                struct bn_params p = BN_PARAMS_INIT;

                CHECK(bn_params_parse(&p, "bridge=bnmissing", err, sizeof(err)) == 0);
                CHECK(bn_corm_create(&r.ereg, &corm_cls, "hostA/bridge", bn_workers_loop(r.w, 0),
                                     &p, &ep, err, sizeof(err)) < 0);
                CHECK(strstr(err, "bnmissing") && strstr(err, "does not exist"));
                printf("missing bridge refused: %s\n", err);
                bn_params_clear(&p);
        }

        /* 1. The Corm creates the bridge, the wire end gets a TAP on it. */
        snprintf(path, sizeof(path), "@banana-test-bridge-%d-a", (int)getpid());
        ep = corm_with_wire(&r, "bridge=bnt0,create=1", path, &port, &sp, tap);
        CHECK(bn_net_link_exists("bnt0", NULL) == 1);
        snprintf(cmd, sizeof(cmd), "ip -d link show %s", tap);
        CHECK(output_has(cmd, "master bnt0") && output_has(cmd, "tun type tap"));
        CHECK(output_has("bridge link show", tap));
        printf("bridge bnt0 created, TAP %s enslaved\n", tap);
        /* the far end has joined: the TAP has carrier (it had none before) */
        snprintf(cmd, sizeof(cmd), "ip link show %s", tap);
        for (i = 0; i < 50 && !output_has(cmd, "LOWER_UP"); i++)
                usleep(100 * 1000);
        CHECK(output_has(cmd, "LOWER_UP"));
        printf("TAP %s has carrier with the far end joined\n", tap);
        CHECK(sh("ip link add vbA type veth peer name vbB netns %d && ip link set vbA master bnt0 "
                 "up",
                 (int)holder) == 0);
        sock = open_nsb_socket();

        /* 2. wire -> veth in B, and B -> wire. */
        for (i = 0; i < 3; i++) {
                snprintf(text, sizeof(text), "banana wire-to-veth %d", i);
                len = test_frame(f, text);
                wire_send(sp, NULL, f, len);
                CHECK(recv_b(sock, match_text, text) == 0);
        }
        printf("frames from the wire came out of the veth in namespace B\n");
        snprintf(text, sizeof(text), "banana veth-to-wire");
        len = test_frame(f, text);
        CHECK(send(sock, f, len, 0) == (ssize_t)len);
        for (i = 0; i < 100 && text[0] != '!'; i++) {
                if (bn_shm_port_recv(sp, 64, wire_match, text) == 0)
                        bn_shm_port_wait(sp, BN_SHM_WANT_RX, 100);
        }
        CHECK(text[0] == '!');
        printf("a frame sent in namespace B came out of the wire\n");

        /* 3. A 64 KiB TSO frame crosses (whole, or cut by the kernel). */
        len = gso_frame(f, &h);
        memset(&g, 0, sizeof(g));
        g.orig = f;
        g.want = len - 54;
        wire_send(sp, &h, f, len);
        CHECK(recv_b(sock, match_gso, &g) == 0);
        printf("64 KiB TCPv4 GSO frame crossed: %zu bytes in %d frame(s), largest %d\n", g.got,
               g.segs, g.max_seg);

        /* 4. Cleanup removes the TAP, then the bridge the Corm created. */
        bn_shm_port_close(sp);
        bn_wire_port_close(port);
        CHECK(bn_net_link_exists(tap, NULL) == 0);
        bn_corm_destroy(&r.ereg, ep);
        CHECK(bn_net_link_exists("bnt0", NULL) == 0);
        printf("TAP %s and bridge bnt0 removed\n", tap);

        /* 5. Software segmentation on an existing bridge. */
        CHECK(sh("ip link add bnt1 type bridge && ip link set bnt1 up && "
                 "ip link set vbA master bnt1 up") == 0);
        snprintf(path, sizeof(path), "@banana-test-bridge-%d-b", (int)getpid());
        ep = corm_with_wire(&r, "bridge=bnt1,offload=0", path, &port, &sp, tap);
        len = gso_frame(f, &h);
        memset(&g, 0, sizeof(g));
        g.orig = f;
        g.want = len - 54;
        g.check_csum = true;
        wire_send(sp, &h, f, len);
        CHECK(recv_b(sock, match_gso, &g) == 0);
        CHECK(g.segs == (int)((g.want + 1447) / 1448) && g.max_seg <= 1514 && g.bad_csum == 0);
        printf("offload=0: GSO frame segmented in software into %d segments, checksums valid\n",
               g.segs);
        bn_shm_port_close(sp);
        bn_corm_destroy(&r.ereg, ep);
        CHECK(bn_net_link_exists(tap, NULL) == 0);
        CHECK(bn_net_link_exists("bnt1", NULL) == 1); /* not the Corm's: stays */

        close(sock);
        bn_wire_registry_fini(&r.wreg);
        bn_workers_stop(r.w);
        fail_cleanup();
        printf("test_bridge: all passed\n");
        return 0;
}
