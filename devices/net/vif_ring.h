/* vif_ring.h: how the vif Spike includes Xen's netif ring definitions.
 * The barriers ring.h needs come from include/banana/bn_xen_ring.h.
 */
#ifndef BN_NET_VIF_RING_H
#define BN_NET_VIF_RING_H

#include <stddef.h>
#include <stdint.h>

#include "bn_xen_ring.h" /* before any xen/io/ header */
#include <xen/io/netif.h>

/* Number of slots in a one-page ring. */
#define BN_NET_TX_RING_SIZE __CONST_RING_SIZE(netif_tx, 4096)
#define BN_NET_RX_RING_SIZE __CONST_RING_SIZE(netif_rx, 4096)

#endif
