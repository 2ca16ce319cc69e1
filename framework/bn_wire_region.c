/* bn_wire_region.c: regions on wires (see bn_wire.h): a large buffer a
 * wire carries once, written piecewise by BN_MSG_CTL_REGION messages and
 * then referred to by the class's own messages. The sending side makes the
 * message; the receiving side keeps the peer's regions in memory of the
 * port and checks every write against their bounds. */
#include "bn_wire_int.h"
#include "bn_endpoint.h"
#include "bn_log.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct bn_wire_region {
        uint8_t *addr[BN_WIRE_REGIONS_MAX]; /* region id i + 1, NULL: none */
        uint64_t size[BN_WIRE_REGIONS_MAX];
};

static bool in_bounds(uint32_t id, uint64_t size, uint64_t offset, uint64_t len)
{
        return id >= 1 && id <= BN_WIRE_REGIONS_MAX && size && size <= BN_WIRE_REGION_SIZE_MAX &&
               offset <= size && len <= size - offset;
}

int bn_wire_region_write(struct bn_wire_port *p, uint32_t id, uint64_t size, uint64_t offset,
                         const void *data, uint32_t len)
{
        struct bn_wire_region_hdr h = {
            .id = htole32(id), .size = htole64(size), .offset = htole64(offset)};
        struct bn_wire_msg m = {
            .type = BN_MSG_CTL_REGION, .hdr_len = sizeof(h), .len = len, .data = (void *)data};

        if (!p->caps.regions)
                return -EOPNOTSUPP;
        if (!in_bounds(id, size, offset, len) || len > p->caps.max_msg)
                return -EINVAL;
        memcpy(m.hdr, &h, sizeof(h));
        return bn_wire_send(p, &m, 1);
}

/* The peer's write into one of its regions; false: malformed (dropped). */
bool bn_wire_region_rx(struct bn_wire_port *p, const struct bn_wire_msg *m)
{
        struct bn_wire_region_hdr h;
        struct bn_wire_region *r = p->regions;
        uint32_t i;

        if (m->hdr_len != sizeof(h))
                return false;
        memcpy(&h, m->hdr, sizeof(h));
        h.id = le32toh(h.id);
        h.size = le64toh(h.size);
        h.offset = le64toh(h.offset);
        if (h.flags || !in_bounds(h.id, h.size, h.offset, m->len) || (m->len && !m->data))
                return false;
        if (!r && !(r = p->regions = calloc(1, sizeof(*r))))
                return false;
        i = h.id - 1;
        if (r->size[i] != h.size) { /* new, or of another size: made again */
                uint8_t *a = calloc(1, h.size);
                if (!a)
                        return false;
                free(r->addr[i]);
                r->addr[i] = a;
                r->size[i] = h.size;
        }
        if (m->len)
                memcpy(r->addr[i] + h.offset, m->data, m->len);
        return true;
}

const uint8_t *bn_wire_region_get(struct bn_wire_port *p, uint32_t id, uint64_t offset,
                                  uint64_t len, uint64_t *size)
{
        const struct bn_wire_region *r = p ? p->regions : NULL;

        if (!r || id < 1 || id > BN_WIRE_REGIONS_MAX || !r->addr[id - 1] ||
            !in_bounds(id, r->size[id - 1], offset, len))
                return NULL;
        if (size)
                *size = r->size[id - 1];
        return r->addr[id - 1] + offset;
}

void bn_wire_regions_free(struct bn_wire_port *p)
{
        struct bn_wire_region *r = p->regions;

        for (unsigned i = 0; r && i < BN_WIRE_REGIONS_MAX; i++)
                free(r->addr[i]);
        free(r);
        p->regions = NULL;
}
