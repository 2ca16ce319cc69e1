/* test_vif_parse.c: unit tests of the netif TX request parser and the ring
 * index checks (devices/net/vif_parse.c): well-formed packets give the right
 * segments, malformed ones the right verdict and slot. */
#include "devices/net/vif_parse.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../bn_check.h"

static union bn_net_tx_slot req(uint32_t gref, uint16_t off, uint16_t flags, uint16_t id,
                                uint16_t size)
{
        union bn_net_tx_slot s;

        memset(&s, 0, sizeof(s));
        s.req.gref = gref;
        s.req.offset = off;
        s.req.flags = flags;
        s.req.id = id;
        s.req.size = size;
        return s;
}

static union bn_net_tx_slot gso(uint8_t type, uint16_t size, uint8_t flags)
{
        union bn_net_tx_slot s;

        memset(&s, 0, sizeof(s));
        s.extra.type = XEN_NETIF_EXTRA_TYPE_GSO;
        s.extra.flags = flags;
        s.extra.u.gso.type = type;
        s.extra.u.gso.size = size;
        return s;
}

static union bn_net_tx_slot extra(uint8_t type, uint8_t flags)
{
        union bn_net_tx_slot s;

        memset(&s, 0, sizeof(s));
        s.extra.type = type;
        s.extra.flags = flags;
        return s;
}

static enum bn_net_tx_verdict run(const union bn_net_tx_slot *s, uint32_t n,
                                  const struct bn_net_tx_limits *lim, struct bn_net_tx_pkt *pkt,
                                  struct bn_net_tx_err *err)
{
        enum bn_net_tx_verdict v = bn_net_tx_parse(s, n, lim, pkt, err);

        if (v != BN_NET_TX_OK && !err->what) {
                fprintf(stderr, "verdict %s without a reason\n", bn_net_tx_verdict_name(v));
                bn_check_failures++;
        }
        return v;
}

static void test_single(void)
{
        union bn_net_tx_slot s[2] = {req(8, 100, NETTXF_csum_blank | NETTXF_data_validated, 7, 60),
                                     req(9, 0, 0, 8, 60)};
        struct bn_net_tx_pkt p;
        struct bn_net_tx_err e;

        CHECK(run(s, 2, NULL, &p, &e) == BN_NET_TX_OK);
        CHECK(p.nslots == 1);
        CHECK(p.ids[0] == 7 && !p.is_extra[0]);
        CHECK(p.nsegs == 1);
        CHECK(p.segs[0].gref == 8 && p.segs[0].offset == 100 && p.segs[0].len == 60);
        CHECK(p.total_len == 60);
        CHECK(p.csum_flags == (NETTXF_csum_blank | NETTXF_data_validated));
        CHECK(p.gso_type == XEN_NETIF_GSO_TYPE_NONE);
        CHECK(p.kind == BN_NET_TX_FRAME);
}

static void test_frags_and_gso(void)
{
        /* 3 fragments, total 9000: first carries 9000-4096-904 = 4000. */
        union bn_net_tx_slot s[4] = {
            req(10, 96, NETTXF_more_data | NETTXF_extra_info | NETTXF_csum_blank, 1, 9000),
            gso(XEN_NETIF_GSO_TYPE_TCPV4, 1448, 0), req(11, 0, NETTXF_more_data, 2, 4096),
            req(12, 0, 0, 3, 904)};
        struct bn_net_tx_pkt p;
        struct bn_net_tx_err e;

        CHECK(run(s, 4, NULL, &p, &e) == BN_NET_TX_OK);
        CHECK(p.nslots == 4);
        CHECK(!p.is_extra[0] && p.is_extra[1] && !p.is_extra[2] && !p.is_extra[3]);
        CHECK(p.ids[0] == 1 && p.ids[2] == 2 && p.ids[3] == 3);
        CHECK(p.nsegs == 3);
        CHECK(p.segs[0].len == 4000 && p.segs[0].offset == 96 && p.segs[0].gref == 10);
        CHECK(p.segs[1].len == 4096 && p.segs[1].gref == 11);
        CHECK(p.segs[2].len == 904 && p.segs[2].gref == 12);
        CHECK(p.total_len == 9000);
        CHECK(p.gso_type == XEN_NETIF_GSO_TYPE_TCPV4 && p.gso_size == 1448);

        /* Same with only 3 of 4 slots published: incomplete at slot 3. */
        CHECK(run(s, 3, NULL, &p, &e) == BN_NET_TX_INCOMPLETE);
        CHECK(e.slot == 3);
        /* Only the first slot: the extra is missing. */
        CHECK(run(s, 1, NULL, &p, &e) == BN_NET_TX_INCOMPLETE);
        CHECK(e.slot == 1);
        /* GSO not negotiated: error, packet still delimited. */
        struct bn_net_tx_limits lim = {.no_gso = 1};
        CHECK(run(s, 4, &lim, &p, &e) == BN_NET_TX_ERROR);
        CHECK(p.nslots == 4 && e.slot == 1);
        lim = (struct bn_net_tx_limits){.gso_mask = 1u << XEN_NETIF_GSO_TYPE_TCPV6};
        CHECK(run(s, 4, &lim, &p, &e) == BN_NET_TX_ERROR);
}

static void test_extras_bad(void)
{
        struct bn_net_tx_pkt p;
        struct bn_net_tx_err e;
        union bn_net_tx_slot s[8];

        /* zero GSO size: fatal */
        s[0] = req(10, 0, NETTXF_extra_info, 1, 100);
        s[1] = gso(XEN_NETIF_GSO_TYPE_TCPV4, 0, 0);
        CHECK(run(s, 2, NULL, &p, &e) == BN_NET_TX_FATAL && e.slot == 1);
        /* unknown GSO type */
        s[1] = gso(7, 1400, 0);
        CHECK(run(s, 2, NULL, &p, &e) == BN_NET_TX_FATAL && e.slot == 1);
        /* unknown extra type, and type NONE */
        s[1] = extra(XEN_NETIF_EXTRA_TYPE_MAX, 0);
        CHECK(run(s, 2, NULL, &p, &e) == BN_NET_TX_FATAL && e.slot == 1);
        s[1] = extra(XEN_NETIF_EXTRA_TYPE_NONE, 0);
        CHECK(run(s, 2, NULL, &p, &e) == BN_NET_TX_FATAL);
        /* endless chain of extras: fatal at the 5th */
        s[1] = gso(XEN_NETIF_GSO_TYPE_TCPV4, 1400, XEN_NETIF_EXTRA_FLAG_MORE);
        s[2] = extra(XEN_NETIF_EXTRA_TYPE_HASH, XEN_NETIF_EXTRA_FLAG_MORE);
        s[3] = extra(XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_FLAG_MORE);
        s[4] = extra(XEN_NETIF_EXTRA_TYPE_MCAST_DEL, XEN_NETIF_EXTRA_FLAG_MORE);
        s[5] = extra(XEN_NETIF_EXTRA_TYPE_HASH, XEN_NETIF_EXTRA_FLAG_MORE);
        s[6] = req(10, 0, 0, 2, 100);
        CHECK(run(s, 7, NULL, &p, &e) == BN_NET_TX_FATAL && e.slot == 5);
        /* duplicate type: error, delimited */
        s[2] = gso(XEN_NETIF_GSO_TYPE_TCPV4, 1400, 0);
        s[3] = req(10, 0, 0, 9, 100);
        CHECK(run(s, 4, NULL, &p, &e) == BN_NET_TX_ERROR && p.nslots == 3 && e.slot == 2);
        /* multicast add: a control request, no frame */
        s[1] = extra(XEN_NETIF_EXTRA_TYPE_MCAST_ADD, 0);
        memcpy(s[1].extra.u.mcast.addr, "\x01\x00\x5e\x00\x00\x01", 6);
        s[0] = req(10, 0, NETTXF_extra_info, 1, 0);
        CHECK(run(s, 2, NULL, &p, &e) == BN_NET_TX_OK);
        CHECK(p.kind == BN_NET_TX_MCAST_ADD && p.nslots == 2 && p.mcast_addr[0] == 1);
        /* hash extra is recorded */
        s[0] = req(10, 0, NETTXF_extra_info, 1, 64);
        s[1] = extra(XEN_NETIF_EXTRA_TYPE_HASH, 0);
        s[1].extra.u.hash.type = 1;
        memcpy(s[1].extra.u.hash.value, "\x01\x02\x03\x04", 4);
        CHECK(run(s, 2, NULL, &p, &e) == BN_NET_TX_OK);
        CHECK(p.has_hash && p.hash_value == 0x04030201u && p.kind == BN_NET_TX_FRAME);
}

static void test_sizes(void)
{
        struct bn_net_tx_pkt p;
        struct bn_net_tx_err e;
        union bn_net_tx_slot s[4];

        /* first fragment past its page: fatal */
        s[0] = req(10, 4000, 0, 1, 200);
        CHECK(run(s, 1, NULL, &p, &e) == BN_NET_TX_FATAL && e.slot == 0);
        /* exactly to the end of the page: fine */
        s[0] = req(10, 3896, 0, 1, 200);
        CHECK(run(s, 1, NULL, &p, &e) == BN_NET_TX_OK && p.segs[0].len == 200);
        /* a later fragment past its page */
        s[0] = req(10, 0, NETTXF_more_data, 1, 3000);
        s[1] = req(11, 100, 0, 2, 4000);
        CHECK(run(s, 2, NULL, &p, &e) == BN_NET_TX_FATAL && e.slot == 1);
        /* fragments bigger than the packet: error */
        s[0] = req(10, 0, NETTXF_more_data, 1, 100);
        s[1] = req(11, 0, 0, 2, 200);
        CHECK(run(s, 2, NULL, &p, &e) == BN_NET_TX_ERROR && p.nslots == 2);
        CHECK(p.ids[0] == 1 && p.ids[1] == 2);
        /* first fragment shorter than an Ethernet header */
        s[0] = req(10, 0, 0, 1, 10);
        CHECK(run(s, 1, NULL, &p, &e) == BN_NET_TX_ERROR && p.nslots == 1);
        s[0] = req(10, 0, NETTXF_more_data, 1, 100);
        s[1] = req(11, 0, 0, 2, 90);
        CHECK(run(s, 2, NULL, &p, &e) == BN_NET_TX_ERROR);
        /* longer than max_len */
        struct bn_net_tx_limits lim = {.max_len = 1514};
        s[0] = req(10, 0, NETTXF_more_data, 1, 1600);
        s[1] = req(11, 0, 0, 2, 1000);
        CHECK(run(s, 2, &lim, &p, &e) == BN_NET_TX_ERROR);
        CHECK(run(s, 2, NULL, &p, &e) == BN_NET_TX_OK && p.nsegs == 2 && p.segs[0].len == 600);
        /* a zero-length later fragment is skipped */
        s[0] = req(10, 0, NETTXF_more_data, 1, 100);
        s[1] = req(11, 0, 0, 2, 0);
        CHECK(run(s, 2, NULL, &p, &e) == BN_NET_TX_OK && p.nsegs == 1 && p.nslots == 2);
}

static void test_grefs(void)
{
        struct bn_net_tx_pkt p;
        struct bn_net_tx_err e;
        union bn_net_tx_slot s[2];
        struct bn_net_tx_limits lim = {.max_gref = 100};

        s[0] = req(0, 0, 0, 1, 100);
        CHECK(run(s, 1, NULL, &p, &e) == BN_NET_TX_FATAL);
        s[0] = req(100, 0, NETTXF_more_data, 1, 100);
        s[1] = req(5, 0, 0, 2, 10);
        CHECK(run(s, 2, &lim, &p, &e) == BN_NET_TX_FATAL && e.slot == 0);
        s[0] = req(5, 0, NETTXF_more_data, 1, 100);
        s[1] = req(500, 0, 0, 2, 10);
        CHECK(run(s, 2, &lim, &p, &e) == BN_NET_TX_FATAL && e.slot == 1);
        CHECK(run(s, 2, NULL, &p, &e) == BN_NET_TX_OK);
        CHECK(bn_net_rx_gref_ok(0, NULL) == -EINVAL);
        CHECK(bn_net_rx_gref_ok(99, &lim) == 0);
        CHECK(bn_net_rx_gref_ok(100, &lim) == -EINVAL);
}

static void test_slot_counts(void)
{
        struct bn_net_tx_pkt p;
        struct bn_net_tx_err e;
        union bn_net_tx_slot s[64];
        uint32_t n;

        /* 18 fragments: fine; 19 and 20: error; 21: fatal */
        for (n = 18; n <= 21; n++) {
                uint32_t k;

                for (k = 0; k < n; k++)
                        s[k] = req(10 + k, 0, k + 1 < n ? NETTXF_more_data : 0, (uint16_t)k,
                                   k == 0 ? (uint16_t)(100 * n) : 100);
                enum bn_net_tx_verdict v = run(s, n, NULL, &p, &e);
                if (n == 18)
                        CHECK(v == BN_NET_TX_OK && p.nsegs == 18 && p.nslots == 18);
                else if (n <= BN_NET_TX_FATAL_FRAGS)
                        CHECK(v == BN_NET_TX_ERROR && p.nslots == n);
                else
                        CHECK(v == BN_NET_TX_FATAL);
        }
        /* an endless more_data chain over the whole ring: fatal, never reads past avail */
        for (n = 0; n < 64; n++)
                s[n] = req(10, 0, NETTXF_more_data, (uint16_t)n, 100);
        CHECK(run(s, 64, NULL, &p, &e) == BN_NET_TX_FATAL);
        CHECK(run(s, 5, NULL, &p, &e) == BN_NET_TX_INCOMPLETE && e.slot == 5);
        CHECK(run(s, 0, NULL, &p, &e) == BN_NET_TX_INCOMPLETE);
}

static void test_ring_pending(void)
{
        CHECK(bn_net_ring_pending(10, 10, 256) == 0);
        CHECK(bn_net_ring_pending(266, 10, 256) == 256);
        CHECK(bn_net_ring_pending(267, 10, 256) == -EPROTO);
        /* wrap-around of the free-running indexes */
        CHECK(bn_net_ring_pending(5, 0xfffffffbu, 256) == 10);
        /* producer behind the consumer: hostile */
        CHECK(bn_net_ring_pending(9, 10, 256) == -EPROTO);
        CHECK(bn_net_ring_pending(0x80000000u, 0, 256) == -EPROTO);
        CHECK(BN_NET_TX_RING_SIZE == 256);
        CHECK(BN_NET_RX_RING_SIZE == 256);
}

int main(void)
{
        test_single();
        test_frags_and_gso();
        test_extras_bad();
        test_sizes();
        test_grefs();
        test_slot_counts();
        test_ring_pending();
        if (bn_check_failures) {
                fprintf(stderr, "test_vif_parse: %d failure(s)\n", bn_check_failures);
                return 1;
        }
        printf("test_vif_parse: all checks passed\n");
        return 0;
}
