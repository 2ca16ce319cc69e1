/* nbd_wire.h: the "nbd" wire type (nbd_wire.c) and "nbd-vpn", the same
 * inside a vpn tunnel (nbd_vpn.c). Register them with
 * bn_wire_registry_add(reg, &bn_wire_nbd_class) (nbd-vpn after vpn). */
#ifndef BN_WIRE_NBD_H
#define BN_WIRE_NBD_H

#include "bn_wire.h"

#include <stdbool.h>

extern const struct bn_wire_class bn_wire_nbd_class;
extern const struct bn_wire_class bn_wire_nbd_vpn_class;

/* For a type built on nbd's (nbd-vpn): the nbd port's priv is at most this
 * big and comes first in the type's priv. */
#define BN_WIRE_NBD_PRIV_SIZE 640

/* nbd's open with the connection taken elsewhere: the server end listens
 * on via->listen (freebind: its address need not exist yet), the client
 * end dials via->dial; the TLS peer name defaults to via->tls_peer. */
struct bn_wire_nbd_via {
        const char *listen, *dial, *tls_peer;
        bool freebind;
};
int bn_wire_nbd_open_via(struct bn_wire_port *port, const struct bn_params *params,
                         const struct bn_wire_nbd_via *via, char *err, size_t errlen);

#endif
