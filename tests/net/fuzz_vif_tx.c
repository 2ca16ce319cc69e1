/* fuzz_vif_tx.c: libFuzzer target over the netif TX request parser. The
 * input is a ring's worth of slots (as a hostile guest could write them)
 * plus limits; the parser is run packet after packet over them, as the
 * Spike does, and its output is checked against the invariants the Spike
 * relies on: segments inside their page, lengths summing to the packet,
 * never more slots than were available. */
#include "devices/net/vif_parse.h"

#include <stdlib.h>
#include <string.h>

#define FUZZ_SLOTS 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        union bn_net_tx_slot *slots;
        struct bn_net_tx_limits lim = {0};
        struct bn_net_tx_pkt pkt;
        struct bn_net_tx_err err;
        uint32_t n, pos = 0;

        if (size < 8)
                return 0;
        lim.max_len = (uint32_t)data[0] << 8 | data[1];
        lim.gso_mask = data[2] & 0x7;
        lim.max_gref = data[3];
        lim.no_gso = data[4] & 1;
        data += 8;
        size -= 8;
        n = (uint32_t)(size / sizeof(union bn_net_tx_slot));
        if (n > FUZZ_SLOTS)
                n = FUZZ_SLOTS;
        /* Exactly n slots on the heap, so ASan catches any read past them. */
        slots = malloc(n ? n * sizeof(*slots) : 1);
        if (!slots)
                return 0;
        memcpy(slots, data, n * sizeof(*slots));

        while (pos < n) {
                enum bn_net_tx_verdict v = bn_net_tx_parse(slots + pos, n - pos, &lim, &pkt, &err);
                uint32_t k, sum = 0;

                if (v == BN_NET_TX_FATAL || v == BN_NET_TX_INCOMPLETE) {
                        if (!err.what)
                                abort();
                        break;
                }
                if (pkt.nslots == 0 || pkt.nslots > n - pos || pkt.nslots > BN_NET_TX_MAX_SLOTS)
                        abort();
                if (pkt.is_extra[0])
                        abort();
                if (v == BN_NET_TX_OK && pkt.kind == BN_NET_TX_FRAME) {
                        if (pkt.nsegs == 0 || pkt.nsegs > BN_NET_TX_MAX_FRAGS)
                                abort();
                        for (k = 0; k < pkt.nsegs; k++) {
                                if (pkt.segs[k].len == 0 ||
                                    (uint32_t)pkt.segs[k].offset + pkt.segs[k].len >
                                        BN_NET_PAGE_SIZE)
                                        abort();
                                if (pkt.segs[k].gref == 0 ||
                                    (lim.max_gref && pkt.segs[k].gref >= lim.max_gref))
                                        abort();
                                sum += pkt.segs[k].len;
                        }
                        if (sum != pkt.total_len || sum < BN_NET_ETH_HLEN)
                                abort();
                        if (lim.max_len && sum > lim.max_len)
                                abort();
                        if (pkt.gso_type != XEN_NETIF_GSO_TYPE_NONE && pkt.gso_size == 0)
                                abort();
                }
                if (v == BN_NET_TX_ERROR && !err.what)
                        abort();
                pos += pkt.nslots;
        }
        free(slots);
        return 0;
}
