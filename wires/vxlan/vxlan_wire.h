/* vxlan_wire.h: the "vxlan" wire type (vxlan_wire.c). Register it with
 * bn_wire_registry_add(reg, &bn_wire_vxlan_class). */
#ifndef BN_WIRE_VXLAN_H
#define BN_WIRE_VXLAN_H

#include "bn_wire.h"

extern const struct bn_wire_class bn_wire_vxlan_class;

/* For wire types built on vxlan (vpn): bn_wire_vxlan_class.priv_size is at
 * most this, so a type whose port priv starts with BN_WIRE_VXLAN_PRIV_SIZE
 * bytes (aligned as a pointer) may run the vxlan callbacks on its ports,
 * given vxlan's class_ctx in port->class_ctx during open. */
#define BN_WIRE_VXLAN_PRIV_SIZE (16u * 1024u)

#endif
