/* stream_wire.h: the "stream" wire type (stream_wire.c): a class's messages
 * in order and reliably over one TCP or Unix connection between hosts.
 * Register with bn_wire_registry_add(reg, &bn_wire_stream_class). */
#ifndef BN_STREAM_WIRE_H
#define BN_STREAM_WIRE_H

#include "bn_wire.h"

extern const struct bn_wire_class bn_wire_stream_class;

#endif
