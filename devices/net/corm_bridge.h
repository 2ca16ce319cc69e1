/* corm_bridge.h: the bridge Corm of class "vif": a named Linux bridge and
 * one TAP port on it per wire end attached to the Corm.
 *
 * The vif class (devices/net/vif.c) plugs these callbacks into its Corm
 * and port slots, dispatching on ep->kind == BN_EP_CORM:
 *     .corm_priv_size = BN_NET_CORM_BRIDGE_PRIV_SIZE,
 *     .corm_open      = bn_net_corm_bridge_open,
 *     .corm_close     = bn_net_corm_bridge_close,
 *     port_attach / port_detach / port_rx / port_writable / port_link: call
 *     bn_net_corm_bridge_port_* when ep->kind == BN_EP_CORM.
 *
 * Parameters (corm_open):
 *   bridge=NAME   the Linux bridge (required, < 16 bytes)
 *   create=BOOL   create it when missing (default no: a missing bridge is
 *                 an error); a bridge the Corm created is deleted at close
 *   offload=BOOL  (default yes) GSO/checksum metadata travel with frames:
 *                 TAPs get TUNSETOFFLOAD TSO4|TSO6|CSUM. With no, the wire
 *                 is taken to carry bare frames: the kernel segments and
 *                 checksums what we read, and GSO frames arriving from the
 *                 wire are segmented and checksummed in software
 *   mtu=N         MTU of the TAPs (68..65521; default: the kernel's), or
 *                 the wire's MTU when that is smaller (vxlan: 1450)
 *
 * Per wire end: TAP "bn<8 hex digits>" (a hash of the Corm's and the wire's
 * names and the end), IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, enslaved to the
 * bridge through netlink, carrier on while the wire works (off when the
 * wire fails). Frames from the wire (type BN_MSG_NET_FRAME, hdr = struct
 * virtio_net_hdr) are written to the TAP with their header; frames read
 * from the TAP in batches are sent on the wire with theirs. A TAP vanishes
 * with its fd (port_detach, or the daemon's death).
 *
 * All callbacks run on ep->loop, as bn_devclass.h says.
 */
#ifndef BN_NET_CORM_BRIDGE_H
#define BN_NET_CORM_BRIDGE_H

#include <stddef.h>

#include "bn_net.h"
#include "bn_params.h"

struct bn_endpoint;
struct bn_wire_port;
struct bn_wire_msg;
struct bn_wire_link;

/* ep->priv holds one pointer to the Corm's state. */
#define BN_NET_CORM_BRIDGE_PRIV_SIZE sizeof(void *)

/* corm_check of class vif: the params above, checked, nothing opened. */
int bn_net_corm_bridge_check(const struct bn_params *params, char *err, size_t errlen);
int bn_net_corm_bridge_open(struct bn_endpoint *ep, const struct bn_params *params, char *err,
                            size_t errlen);
void bn_net_corm_bridge_close(struct bn_endpoint *ep);
int bn_net_corm_bridge_port_attach(struct bn_endpoint *ep, struct bn_wire_port *port);
void bn_net_corm_bridge_port_detach(struct bn_endpoint *ep, struct bn_wire_port *port);
void bn_net_corm_bridge_port_rx(struct bn_endpoint *ep, struct bn_wire_port *port,
                                struct bn_wire_msg *msgs, unsigned n);
void bn_net_corm_bridge_port_writable(struct bn_endpoint *ep, struct bn_wire_port *port);
/* The wire's link to its peer went up or down: the TAP's carrier follows
 * (the bridge sees the link; it has none from attach until the peer is
 * there). */
void bn_net_corm_bridge_port_link(struct bn_endpoint *ep, struct bn_wire_port *port,
                                  const struct bn_wire_link *link);

/* The TAP serving a port ("" when none), for tests and status output. */
const char *bn_net_corm_bridge_tap_name(struct bn_endpoint *ep, struct bn_wire_port *port);

#endif
