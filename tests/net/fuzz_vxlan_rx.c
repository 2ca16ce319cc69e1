/* fuzz_vxlan_rx.c: libFuzzer target over the vxlan wire's receive path
 * (wires/vxlan): a datagram as anyone on the underlay could send it is
 * parsed as the receive loop does (bn_vxlan_parse), and the inner frame it
 * accepts is checked as a receiver of the frame would check it
 * (bn_net_csum_verify). Invariants: a datagram is accepted only with the I
 * flag alone and room for a header and an Ethernet header; the VNI is in
 * range; nothing is read outside the input (ASan). */
#include "devices/net/corm_gso.h"
#include "wires/vxlan/vxlan_proto.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
        } else if (why != BN_VXLAN_SHORT && why != BN_VXLAN_FLAGS) {
                abort();
        }
        free(d);
        return 0;
}
