/* nbd_wire.h: the "nbd" wire type (nbd_wire.c). Register it with
 * bn_wire_registry_add(reg, &bn_wire_nbd_class). */
#ifndef BN_WIRE_NBD_H
#define BN_WIRE_NBD_H

#include "bn_wire.h"

extern const struct bn_wire_class bn_wire_nbd_class;

#endif
