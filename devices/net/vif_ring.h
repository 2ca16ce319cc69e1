/* vif_ring.h: how the vif Spike includes Xen's netif ring definitions.
 *
 * xen/io/ring.h expects xen_mb / xen_rmb / xen_wmb before it is included
 * (xenctrl.h defines them on a real Dom0). We define them here, unless a
 * framework header already did, as full/acquire/release fences of C11
 * atomics: the ring lives in memory shared with another domain.
 */
#ifndef BN_NET_VIF_RING_H
#define BN_NET_VIF_RING_H

#include <stddef.h>
#include <stdint.h>

#ifndef xen_mb
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#ifndef xen_rmb
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#endif
#ifndef xen_wmb
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

#include <xen/io/netif.h>

/* Number of slots in a one-page ring. */
#define BN_NET_TX_RING_SIZE __CONST_RING_SIZE(netif_tx, 4096)
#define BN_NET_RX_RING_SIZE __CONST_RING_SIZE(netif_rx, 4096)

#endif
