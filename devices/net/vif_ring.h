/* vif_ring.h: how the vif Spike includes Xen's netif ring definitions.
 *
 * xen/io/ring.h's macros use xen_mb / xen_rmb / xen_wmb (xenctrl.h defines
 * them on a real Dom0). We define them as full / acquire / release fences of
 * C11 atomics: the ring lives in memory shared with another domain.
 */
#ifndef BN_NET_VIF_RING_H
#define BN_NET_VIF_RING_H

#include <stddef.h>
#include <stdint.h>

#include <xen/io/netif.h>

/* ring.h defines them as mb()/rmb()/wmb() for old interface versions (the
 * default when nothing set __XEN_INTERFACE_VERSION__); the macros expand at
 * their use, so (re)define them here after the include. */
#undef xen_mb
#undef xen_rmb
#undef xen_wmb
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

/* Number of slots in a one-page ring. */
#define BN_NET_TX_RING_SIZE __CONST_RING_SIZE(netif_tx, 4096)
#define BN_NET_RX_RING_SIZE __CONST_RING_SIZE(netif_rx, 4096)

#endif
