/* displ_int.h: the display Spike's state (one per vdispl device), shared by
 * displ.c (xenbus life, connectors' rings, events, frames to the wire) and
 * displ_req.c (the displif requests: buffers, frame buffers, flips).
 * Everything here except what connect and disconnect hand over in one
 * bn_loop_call_wait belongs to ep->loop. */
#ifndef DISPL_INT_H
#define DISPL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "bn_xen_ring.h"
/* after bn_xen_ring.h */
#include <xen/io/displif.h>

#include "bn_displ_msg.h"
#include "bn_gref_dir.h"
#include "bn_xenbus.h"

#define DISPL_DBUFS_MAX 16               /* display buffers per device */
#define DISPL_FBS_MAX   16               /* frame buffers per device */
#define DISPL_BUF_MAX   (64ull << 20)    /* bytes of one display buffer */
#define DISPL_FMT_XRGB  0x34325258u      /* DRM_FORMAT_XRGB8888 'XR24' */
#define DISPL_FMT_ARGB  0x34325241u      /* DRM_FORMAT_ARGB8888 'AR24' */
#define DISPL_TILES_MAX BN_DISPL_DIM_MAX /* a tile is at least one row */
/* How often the shown frame is looked at for changes a guest made without
 * a flip (fbdev, a console): only changed tiles go to the wire. */
#define DISPL_REFRESH_MS 100

/* Ring journal (bn_xenbus.h, displ_journal.c): what a restart of bananad
 * needs to take the device back. Per connector the request ring's private
 * producer and a copy of each answer (written before the answer goes to
 * the ring: the in-order pattern of vif), and the frame shown; per buffer
 * and frame buffer slot what DBUF_CREATE / FB_ATTACH said, marked with the
 * ring index of the request that made it and of the one that ended it.
 * At a restart what an answered request made is mapped again; what a
 * request not yet answered did is not, and that request is served again. */
#define DISPL_J_SLOTS __CONST_RING_SIZE(xen_displif, 4096)

struct displ_jmark { /* a request: connector, ring index + 1 (0: none) */
        uint32_t conn, idx1;
};

struct displ_jconn {
        uint32_t valid, rsp; /* answers up to rsp were written */
        uint64_t shown;
        struct xendispl_resp copy[DISPL_J_SLOTS];
};

struct displ_jdbuf {
        uint64_t cookie;
        uint32_t gref_dir, buffer_sz, width, height, bpp, data_ofs;
        struct displ_jmark born, died;
};

struct displ_jfb {
        uint64_t cookie, dbuf_cookie;
        uint32_t width, height, format;
        struct displ_jmark born, died;
};

struct displ_journal {
        struct displ_jconn conn[BN_DISPL_CONN_MAX];
        struct displ_jdbuf dbuf[DISPL_DBUFS_MAX];
        struct displ_jfb fb[DISPL_FBS_MAX];
};

struct displ_dbuf {
        uint64_t cookie; /* 0: free slot */
        struct bn_gref_buf buf;
        uint32_t width, height, bpp, stride, data_ofs;
};

struct displ_fb {
        uint64_t cookie; /* 0: free slot */
        unsigned dbuf;   /* index in dbufs */
        uint32_t width, height, format;
};

struct displ_conn {
        unsigned idx;
        uint32_t res_w, res_h; /* from <idx>/resolution */
        struct bn_xb_ring req, evt;
        uint32_t req_port, evt_port;
        bool req_bound, evt_bound;
        struct xen_displif_back_ring back;
        uint32_t evt_prod; /* ours; the page's in_prod is only written */
        uint16_t evt_id;
        uint64_t shown; /* fb shown (SET_CONFIG / PG_FLIP), 0: none */
        /* the frame going to the wire: fb, next row, and the flip whose
         * event waits for its last tile */
        uint64_t send_fb;
        uint32_t send_row, seq;
        /* the rows written into the region since the last frame message
         * (of this frame, or of one it superseded before its message) */
        uint32_t dmg_lo, dmg_hi;
        bool dmg, sending, evt_pending;
        /* what each tile of hash_fb held when last sent: unchanged tiles
         * are not sent again */
        uint64_t hash_fb;
        uint32_t hash_w, hash_h;
        uint64_t tile_hash[DISPL_TILES_MAX];
};

struct displ_spike {
        struct bn_xb_dev *dev;
        struct bn_endpoint *ep;
        struct bn_evtchn *evtchn;
        struct bn_gnt *gnt;
        unsigned nconn;
        struct displ_conn conn[BN_DISPL_CONN_MAX];
        struct displ_dbuf dbufs[DISPL_DBUFS_MAX];
        struct displ_fb fbs[DISPL_FBS_MAX];
        struct displ_journal *journal; /* NULL: none */
        bool journal_resumed;
        uint8_t *tile; /* BN_WIRE_DATA_MAX bytes, allocated by probe */
        struct bn_timer *refresh;
        bool polling, broken;
        uint64_t requests, flips, evt_drops;
};

/* displ_req.c, on ep->loop: answer one request (copied off the ring) into
 * rsp; false when the device must be disconnected (bn_xb_fail called). */
bool displ_handle(struct displ_spike *s, struct displ_conn *c, const struct xendispl_req *req,
                  struct xendispl_resp *rsp);
/* Free every buffer the guest created (disconnect). */
void displ_free_all(struct displ_spike *s);
struct displ_fb *displ_fb_find(struct displ_spike *s, uint64_t cookie);

/* displ_journal.c. Main thread, from connect (connectors mapped, before
 * the loop starts): map the journal and, after a restart, publish the
 * answers it holds and map again the buffers answered requests made; a
 * buffer that cannot be mapped again is a fatal error (-errno). */
int displ_journal_open(struct displ_spike *s);
void displ_journal_close(struct displ_spike *s);
/* On ep->loop, as requests are handled: slot i of dbufs / fbs was made or
 * ended by request idx of connector c; rsp is answer idx, about to go to
 * the ring; c now shows fb. */
void displ_journal_dbuf(struct displ_spike *s, const struct displ_conn *c, uint32_t idx, unsigned i,
                        const struct xendispl_dbuf_create_req *r);
void displ_journal_fb(struct displ_spike *s, const struct displ_conn *c, uint32_t idx, unsigned i,
                      const struct xendispl_fb_attach_req *r);
void displ_journal_end(struct displ_spike *s, const struct displ_conn *c, uint32_t idx, bool dbuf,
                       unsigned i);
void displ_journal_answer(struct displ_spike *s, const struct displ_conn *c, uint32_t idx,
                          const struct xendispl_resp *rsp);
/* displ_req.c: slot i of dbufs / fbs again from the journal (a resumed
 * connect): 0, -EINVAL (invalid), or -errno with err saying why. */
int displ_dbuf_restore(struct displ_spike *s, unsigned i, const struct xendispl_dbuf_create_req *r,
                       char *err, size_t errlen);
int displ_fb_restore(struct displ_spike *s, unsigned i, const struct xendispl_fb_attach_req *r);

/* displ.c, on ep->loop: start sending the frame of fb to the wire; with
 * event, XENDISPL_EVT_PG_FLIP follows its last tile. */
void displ_flip(struct displ_spike *s, struct displ_conn *c, uint64_t fb, bool event);

#endif
