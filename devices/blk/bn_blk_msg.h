/* bn_blk_msg.h: the block messages a vbd Spike and a disk Corm exchange
 * over a wire (struct bn_wire_msg of bn_wire.h: type, hdr, data).
 *
 *   BN_MSG_BLK_REQ  Spike -> Corm. hdr = struct bn_blk_msg_req. data = the
 *                   bytes to write (WRITE), empty otherwise.
 *   BN_MSG_BLK_RSP  Corm -> Spike. hdr = struct bn_blk_msg_rsp. data = the
 *                   bytes read (READ with status 0), empty otherwise.
 *   BN_MSG_BLK_HELLO Spike -> Corm, no hdr, no data: "tell me about the
 *                   disk". Sent when the Spike's port is attached (and again
 *                   when the port becomes writable while no INFO came yet).
 *   BN_MSG_BLK_INFO Corm -> Spike. hdr = struct bn_blk_msg_info, no data:
 *                   the disk's size and properties. Sent in answer to HELLO,
 *                   when the Corm's port is attached, and to every port when
 *                   the disk's size changes (growth).
 *
 * A guest request larger than BN_WIRE_DATA_MAX (an indirect request of 256
 * segments is 1 MiB) is split by the Spike into several messages, each with
 * its own tag; the guest is answered when all have answered. A FLUSH message
 * is answered after every request the Corm received before it on that port
 * is complete and stable (per-port order, which is per Spike).
 *
 * Headers are fixed-size little-endian (x86_64 native) structs; both
 * directions are validated on receipt (bn_blk_msg_*_decode): a peer's bad
 * message is a protocol error of that wire, never trusted.
 */
#ifndef BN_BLK_MSG_H
#define BN_BLK_MSG_H

#include <stdint.h>

struct bn_wire_msg;

#define BN_MSG_BLK_REQ   0x0201u
#define BN_MSG_BLK_RSP   0x0202u
#define BN_MSG_BLK_HELLO 0x0203u
#define BN_MSG_BLK_INFO  0x0204u

/* op: enum bn_blk_io_op (bn_blk_corm.h) */
#define BN_BLK_MSG_F_SECURE (1u << 0) /* DISCARD: secure erase asked */

struct bn_blk_msg_req {
        uint64_t tag;    /* the Spike's, echoed in the response */
        uint64_t offset; /* bytes, multiple of 512 */
        uint64_t len;    /* bytes, multiple of 512: READ/WRITE 1..BN_WIRE_DATA_MAX;
                          * DISCARD any; FLUSH 0 */
        uint8_t op;
        uint8_t flags;
        uint16_t reserved0; /* 0 */
        uint32_t reserved1; /* 0 */
};

struct bn_blk_msg_rsp {
        uint64_t tag;
        int32_t status; /* 0 or -errno */
        uint32_t len;   /* bytes of data (READ with status 0: the request's len) */
};

#define BN_BLK_INFO_F_READONLY (1u << 0) /* writes and discards are refused */
#define BN_BLK_INFO_F_DISCARD  (1u << 1) /* discard is served */
#define BN_BLK_INFO_F_FLUSH    (1u << 2) /* flush is meaningful (volatile cache) */

struct bn_blk_msg_info {
        uint64_t size;        /* bytes, multiple of 512 */
        uint32_t flags;       /* BN_BLK_INFO_F_* */
        uint32_t sector_size; /* physical sector size in bytes (512 or 4096) */
};

/* Fill m (type, hdr, data/len) for a request; data: the WRITE payload (kept
 * by the caller until the wire's send returns). -EINVAL if r is malformed. */
int bn_blk_msg_req_encode(struct bn_wire_msg *m, const struct bn_blk_msg_req *r, void *data);
/* Validate a received request message and copy its header out. Returns 0
 * or -EPROTO with *why set. */
int bn_blk_msg_req_decode(const struct bn_wire_msg *m, struct bn_blk_msg_req *r, const char **why);

void bn_blk_msg_hello_encode(struct bn_wire_msg *m);
void bn_blk_msg_info_encode(struct bn_wire_msg *m, const struct bn_blk_msg_info *i);
/* -EPROTO with *why for a malformed INFO (size not a multiple of 512, unknown
 * flags, sector size not 512 or 4096, data attached). */
int bn_blk_msg_info_decode(const struct bn_wire_msg *m, struct bn_blk_msg_info *i,
                           const char **why);

int bn_blk_msg_rsp_encode(struct bn_wire_msg *m, const struct bn_blk_msg_rsp *r, void *data);
int bn_blk_msg_rsp_decode(const struct bn_wire_msg *m, struct bn_blk_msg_rsp *r, const char **why);

#endif
