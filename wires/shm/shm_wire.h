/* shm_wire.h: the "shm" wire type (struct bn_wire_class of bn_wire.h).
 * Register it with bn_wire_registry_add(reg, &bn_wire_shm_class).
 * Parameters and behaviour: see shm_wire.c's header comment. */
#ifndef BN_SHM_WIRE_H
#define BN_SHM_WIRE_H

#include "bn_wire.h"

extern const struct bn_wire_class bn_wire_shm_class;

#endif
