/* vpn_wire.h: the "vpn" wire type (vpn_wire.c, vpn_tunnel.c): VXLAN inside
 * an OpenVPN tunnel per pair of hosts. Register it with
 * bn_wire_registry_add(reg, &bn_wire_vpn_class). */
#ifndef BN_WIRE_VPN_H
#define BN_WIRE_VPN_H

#include "bn_wire.h"

extern const struct bn_wire_class bn_wire_vpn_class;

#endif
