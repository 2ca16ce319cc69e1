/* displ_corm.h: the display Corm's state and entry points (corm.c), for
 * the class's registration in displ.c. The Corm keeps the last frame of
 * each connector that its wire brought (from the wire's regions), and serves
 * it as a PNG snapshot (bananactl snapshot) and as VNC (corm_vnc.c).
 * Everything belongs to ep->loop.
 */
#ifndef DISPL_CORM_H
#define DISPL_CORM_H

#include <stddef.h>
#include <stdint.h>

#include "bn_displ_msg.h"

struct bn_endpoint;
struct bn_params;
struct bn_wire_port;
struct bn_wire_msg;

struct displ_frame {
        uint8_t *px; /* w * h XRGB8888 pixels, the last complete frame */
        uint32_t w, h;
        uint32_t seq;    /* of px */
        uint64_t frames; /* complete frames */
};

struct displ_vnc;

struct displ_corm {
        struct displ_frame fr[BN_DISPL_CONN_MAX];
        uint64_t frames, bad;
        struct displ_vnc *vnc; /* NULL: no VNC parameters */
};

int bn_displ_corm_open(struct bn_endpoint *ep, const struct bn_params *params, char *err,
                       size_t errlen);
int bn_displ_corm_check(const struct bn_params *params, char *err, size_t errlen);
void bn_displ_corm_close(struct bn_endpoint *ep);
void bn_displ_corm_rx(struct bn_endpoint *ep, struct bn_wire_port *port, struct bn_wire_msg *msgs,
                      unsigned n);
/* Connector conn's last complete frame as "png" or "ppm" (binary P6),
 * malloc'ed in *img. -ENOENT when none arrived yet. */
int bn_displ_corm_snapshot(struct bn_endpoint *ep, unsigned conn, const char *format, void **img,
                           size_t *len, char *err, size_t errlen);

/* corm_vnc.c: the connectors served as VNC (libvncserver), side by side
 * in one screen, on ep->loop. */
int displ_vnc_check(const struct bn_params *p, char *err, size_t errlen);
/* *out stays NULL when the parameters ask for no VNC. */
int displ_vnc_open(struct bn_endpoint *ep, const struct bn_params *p, struct displ_vnc **out,
                   char *err, size_t errlen);
void displ_vnc_close(struct displ_vnc *v);
/* Connector conn's new frame, w x h pixels at px (kept until the next call
 * for conn): put it on the screen and push it to the viewers. */
void displ_vnc_frame(struct displ_vnc *v, unsigned conn, uint8_t *px, uint32_t w, uint32_t h);

#endif
