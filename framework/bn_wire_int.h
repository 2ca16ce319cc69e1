/* bn_wire_int.h: what bn_wire.c and bn_wire_ctl.c share inside the
 * framework (the handshake and control messages); not for wire types or
 * device classes. */
#ifndef BN_WIRE_INT_H
#define BN_WIRE_INT_H

#include "bn_wire.h"

/* cls->send, and the port's flush queued (once per loop iteration on
 * port->loop; at once from another thread). Every send of the framework
 * goes through it. */
int bn_wire_send_raw(struct bn_wire_port *p, const struct bn_wire_msg *msgs, unsigned n);
/* On port->loop: send our HELLO if it is owed. 1 sent (or not owed), 0 no
 * room yet, -errno. */
int bn_wire_hello_try(struct bn_wire_port *p);
/* On port->loop: a control message (type >= BN_MSG_RESERVED_FIRST) from the
 * peer: check a HELLO (p->hs_fail says why it failed), hand DRAIN / DRAINED
 * to the class, count the rest as dropped. */
void bn_wire_ctl_rx(struct bn_wire_port *p, const struct bn_wire_msg *m);

/* bn_wire_region.c, on port->loop: apply the peer's BN_MSG_CTL_REGION
 * (false: malformed, nothing changed); free every region of the port. */
bool bn_wire_region_rx(struct bn_wire_port *p, const struct bn_wire_msg *m);
void bn_wire_regions_free(struct bn_wire_port *p);

#endif
