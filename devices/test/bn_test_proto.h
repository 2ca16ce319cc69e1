/* bn_test_proto.h: the wire protocol of the "test" device class, shared by
 * its Spike (devices/test/test.c) and the simulated front-end
 * (sim/testfront): one shared ring page (xenstore key ring-ref) and one
 * event channel (event-channel) carrying echo requests: a request with a
 * value is answered with value + 1.
 *
 * Front-end keys: ring-ref, event-channel. Back-end keys: feature-test=1.
 */
#ifndef BN_TEST_PROTO_H
#define BN_TEST_PROTO_H

#include <stdint.h>

#include "bn_xen_ring.h" /* xen/io/ring.h with the barriers it needs */

#define BN_TEST_OP_ECHO 1

struct bn_test_request {
        uint32_t id;
        uint16_t op;
        uint16_t pad;
        uint64_t value;
};

struct bn_test_response {
        uint32_t id;
        int32_t status; /* 0, or -EINVAL for an unknown op */
        uint64_t value;
};

DEFINE_RING_TYPES(bn_test, struct bn_test_request, struct bn_test_response);

/* Message type the test Spike sends to its wire for each echo served
 * (hdr: the request's value, 8 bytes; no data). */
#define BN_MSG_TEST_ECHO 0x0301u

#endif
