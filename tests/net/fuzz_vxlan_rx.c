/* fuzz_vxlan_rx.c: libFuzzer target over the vxlan wire's receive path
 * (wires/vxlan): a datagram as anyone on the underlay could send it is
 * parsed as the receive loop does (bn_vxlan_parse), and the inner frame it
 * accepts is checked as a receiver of the frame would check it
 * (bn_net_csum_verify), then offered to the port's software GRO as the
 * port's loop does (twice: the same segment again, and one whose sequence
 * number follows it). Invariants: a datagram is accepted only with the I
 * flag alone and room for a header and an Ethernet header; the VNI is in
 * range; a merged frame holds both payloads and re-segments into segments
 * whose checksums verify; nothing is read outside the input (ASan). */
#include "devices/net/corm_gso.h"
#include "wires/vxlan/vxlan_proto.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int seg_ok(void *arg, const uint8_t *f, size_t len)
{
        (void)arg;
        if (bn_net_csum_verify(f, len) != 0)
                abort();
        return 0;
}

/* The inner frame f through GRO: f, f again (a duplicate: never merged),
 * then f with its TCP sequence number moved past its payload. */
static void gro(const uint8_t *f, size_t len)
{
        static uint8_t buf[65535 + 18], next[65535 + 18], scratch[65535 + 18];
        struct virtio_net_hdr h;
        struct bn_net_gro g;
        const uint8_t *out;
        unsigned segs;
        size_t n;

        bn_net_gro_init(&g, buf, sizeof(buf));
        if (!bn_net_gro_add(&g, f, len))
                return;
        if (bn_net_gro_add(&g, f, len)) /* the same sequence number again */
                abort();
        /* the next segment: eligible f parses as Ethernet, IPv4/6, TCP */
        memcpy(next, f, len);
        size_t l3 = (f[12] == 0x81 && f[13] == 0) ? 18 : 14;
        size_t l4 = l3 + ((f[l3] >> 4) == 6 ? 40 : (size_t)(f[l3] & 15) * 4);
        size_t plen = len - l4 - (size_t)(f[l4 + 12] >> 4) * 4;
        uint32_t seq = (uint32_t)f[l4 + 4] << 24 | (uint32_t)f[l4 + 5] << 16 |
                       (uint32_t)f[l4 + 6] << 8 | f[l4 + 7];
        uint32_t ns = seq + (uint32_t)plen;
        uint32_t sum = 0;

        next[l4 + 4] = (uint8_t)(ns >> 24);
        next[l4 + 5] = (uint8_t)(ns >> 16);
        next[l4 + 6] = (uint8_t)(ns >> 8);
        next[l4 + 7] = (uint8_t)ns;
        /* keep the checksum right: one's complement arithmetic on the change */
        sum = (uint32_t)(next[l4 + 16] << 8 | next[l4 + 17]) ^ 0xffff;
        sum += ((seq >> 16) ^ 0xffff) + ((seq & 0xffff) ^ 0xffff) + (ns >> 16) + (ns & 0xffff);
        sum = (uint16_t)~bn_net_csum_fold(sum);
        next[l4 + 16] = (uint8_t)(sum >> 8);
        next[l4 + 17] = (uint8_t)sum;
        (void)bn_net_gro_add(&g, next, len);
        n = bn_net_gro_flush(&g, &h, &out, &segs);
        if (n > sizeof(buf) || (segs > 1 && n != 2 * len - (len - plen)))
                abort();
        if (segs > 1 &&
            bn_net_gso_segment(&h, out, n, scratch, sizeof(scratch), seg_ok, NULL) != (int)segs)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t *d = malloc(size ? size : 1); /* exactly size bytes: ASan sees overreads */
        uint32_t vni = 0xffffffffu;
        enum bn_vxlan_bad why;

        if (!d)
                return 0;
        memcpy(d, data, size);
        why = bn_vxlan_parse(d, size, &vni);
        if (why == BN_VXLAN_OK) {
                if (size < BN_VXLAN_HLEN + BN_VXLAN_ETH_HLEN || d[0] != BN_VXLAN_FLAG_I ||
                    vni > BN_VXLAN_VNI_MAX)
                        abort();
                (void)bn_net_csum_verify(d + BN_VXLAN_HLEN, size - BN_VXLAN_HLEN);
                gro(d + BN_VXLAN_HLEN, size - BN_VXLAN_HLEN);
        } else if (why != BN_VXLAN_SHORT && why != BN_VXLAN_FLAGS) {
                abort();
        }
        free(d);
        return 0;
}
