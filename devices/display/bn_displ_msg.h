/* bn_displ_msg.h: what the display class carries on a wire, between its
 * Spike (displ.c, the guest's displif back-end) and its Corm (corm.c, the
 * screen served as VNC and PNG), and the bounds both ends check.
 *
 * A shown frame travels in a region of the wire (bn_wire.h): connector c's
 * frame is region c + 1, width * height pixels, 4 bytes each, packed
 * (XRGB8888, little endian: B, G, R, X), row after row. The Spike writes
 * into it the bands of rows that changed since they were last sent
 * (bn_wire_region_write), then sends one BN_MSG_DISPL_FRAME whose hdr is a
 * struct bn_displ_frame naming the region and the rows that changed
 * (rows 0: nothing did, e.g. a flip to the same pixels); at that message
 * the region holds the whole frame, which the Corm then shows. seq numbers
 * frames per connector. The receiver validates every field (a remote Spike
 * is as untrusted as a guest).
 */
#ifndef BN_DISPL_MSG_H
#define BN_DISPL_MSG_H

#include <stdint.h>

#define BN_MSG_DISPL_FRAME 0x0401u /* the class's block: 0x04xx */

#define BN_DISPL_CONN_MAX   4u    /* connectors per device */
#define BN_DISPL_DIM_MAX    4096u /* largest width or height, pixels */
#define BN_DISPL_PIXEL_SIZE 4u

struct bn_displ_frame {
        uint32_t conn;   /* connector index, < BN_DISPL_CONN_MAX */
        uint32_t region; /* the region holding it: conn + 1 */
        uint32_t width;  /* frame size, 1..BN_DISPL_DIM_MAX */
        uint32_t height;
        uint32_t seq;  /* frame number on this connector */
        uint32_t row;  /* the rows that changed: [row, row + rows), */
        uint32_t rows; /* row + rows <= height */
};

#endif
