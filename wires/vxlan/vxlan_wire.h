/* vxlan_wire.h: the "vxlan" wire type (vxlan_wire.c). Register it with
 * bn_wire_registry_add(reg, &bn_wire_vxlan_class). */
#ifndef BN_WIRE_VXLAN_H
#define BN_WIRE_VXLAN_H

#include "bn_wire.h"

extern const struct bn_wire_class bn_wire_vxlan_class;

#endif
