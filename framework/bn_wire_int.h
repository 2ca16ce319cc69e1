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

struct bn_endpoint;
/* The swap's hooks (bn_quiesce.c), on ep->loop: a port's link or messages
 * changed (poke: see whether the swap can go on); a port is closing. */
void bn_ep_swap_poke(struct bn_endpoint *ep);
void bn_ep_swap_closing(struct bn_endpoint *ep, struct bn_wire_port *port);
/* Is ep a Corm of a class that is drained (a disk), with another port of
 * p's wire? Then p is fenced at open: not read until that one drained
 * (the time is noted in p->fenced_us for the log). */
bool bn_wire_fence_needed(struct bn_endpoint *ep, struct bn_wire_port *p);
/* On ep->loop: p drained (sent DRAINED) or is closing: its newer twins
 * (same wire name, fenced) are read from now on. */
void bn_wire_unfence(struct bn_endpoint *ep, struct bn_wire_port *p);
/* Start polling p's fd (port_readable). 0 or -errno. */
int bn_wire_port_poll(struct bn_wire_port *p);
/* bn_wire_region.c, on port->loop: apply the peer's BN_MSG_CTL_REGION
 * (false: malformed, nothing changed); free every region of the port. */
bool bn_wire_region_rx(struct bn_wire_port *p, const struct bn_wire_msg *m);
void bn_wire_regions_free(struct bn_wire_port *p);

#endif
