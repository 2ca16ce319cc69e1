/* bn_xen_ring.h: the one way banana includes Xen's shared-ring macros
 * (xen/io/ring.h); include it before any xen/io/<protocol>.h.
 *
 * ring.h's macros use xen_mb / xen_rmb / xen_wmb, which xenctrl.h defines on
 * a real Dom0; for old interface versions (the default when nothing sets
 * __XEN_INTERFACE_VERSION__) ring.h maps them to mb() / rmb() / wmb(), which
 * do not exist here. __XEN_TOOLS__ selects the latest interface, and since the
 * macros expand where they are used, defining the barriers after the include
 * is enough: full / acquire / release fences of C11 atomics, as the ring
 * lives in memory shared with another domain.
 */
#ifndef BN_XEN_RING_H
#define BN_XEN_RING_H

#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif
#include <xen/io/ring.h>

#undef xen_mb
#undef xen_rmb
#undef xen_wmb
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#endif
