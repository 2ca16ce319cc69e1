/* bn_displ_msg.h: what the display class carries on a wire, between its
 * Spike (displ.c, the guest's displif back-end) and its Corm (corm.c, the
 * screen served as VNC and PNG), and the bounds both ends check.
 *
 * A shown frame travels as tiles: BN_MSG_DISPL_TILE messages whose hdr is a
 * struct bn_displ_tile and whose data is `rows` rows of `width` pixels,
 * 4 bytes each, packed (XRGB8888, little endian: B, G, R, X), at most
 * BN_WIRE_DATA_MAX bytes. The last tile of a frame has BN_DISPL_TILE_LAST;
 * seq numbers frames per connector. The receiver validates every field (a
 * remote Spike is as untrusted as a guest).
 */
#ifndef BN_DISPL_MSG_H
#define BN_DISPL_MSG_H

#include <stdint.h>

#define BN_MSG_DISPL_TILE 1u

#define BN_DISPL_CONN_MAX   4u    /* connectors per device */
#define BN_DISPL_DIM_MAX    4096u /* largest width or height, pixels */
#define BN_DISPL_TILE_LAST  1u
#define BN_DISPL_PIXEL_SIZE 4u

struct bn_displ_tile {
        uint32_t conn;  /* connector index, < BN_DISPL_CONN_MAX */
        uint32_t width; /* frame size, 1..BN_DISPL_DIM_MAX */
        uint32_t height;
        uint32_t seq;  /* frame number on this connector */
        uint32_t row;  /* first row of this tile */
        uint32_t rows; /* rows in this tile, row + rows <= height */
        uint32_t flags;
};

#endif
