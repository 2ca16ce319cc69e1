/* fuzz_displ_tile.c: libFuzzer target over the display Corm's input from
 * its wire (a remote Spike is as untrusted as a guest): a sequence of
 * messages (type, hdr, data), the framework's region writes applied as the
 * receiving framework does (bn_wire_region_rx) and the rest fed to the
 * Corm's port_rx, then a snapshot of every connector in both formats. The Corm must never crash or
 * read or write out of bounds, and whatever frame it holds must be within bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bn_endpoint.h"
#include "bn_log.h"
#include "bn_wire.h"
#include "bn_wire_int.h"
#include "displ_corm.h"

#define MSGS_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct displ_corm corm;
        struct bn_endpoint ep;
        struct bn_wire_msg msgs[MSGS_MAX];
        unsigned n = 0;
        bn_log_set_level(BN_LOG_ERROR);
        memset(&ep, 0, sizeof(ep));
        memset(&corm, 0, sizeof(corm));
        strcpy(ep.name, "fuzz/screen");
        ep.kind = BN_EP_CORM;
        ep.priv = &corm;
        /* each message: type (2), hdr_len (1), len (3, capped), hdr, data */
        while (n < MSGS_MAX && size >= 6) {
                struct bn_wire_msg *m = &msgs[n];
                memset(m, 0, sizeof(*m));
                m->type = (uint16_t)(data[0] | data[1] << 8);
                m->hdr_len = data[2] % (BN_WIRE_HDR_MAX + 1);
                size_t len = (size_t)data[3] | (size_t)data[4] << 8 | (size_t)data[5] << 16;
                data += 6;
                size -= 6;
                size_t h = m->hdr_len < size ? m->hdr_len : size;
                memcpy(m->hdr, data, h);
                data += h;
                size -= h;
                if (len > size)
                        len = size;
                m->len = (uint32_t)len;
                m->data = (void *)data;
                data += len;
                size -= len;
                n++;
        }
        static struct bn_wire_port port;
        memset(&port, 0, sizeof(port));
        port.caps.regions = true;
        port.ep = &ep;
        for (unsigned i = 0; i < n; i++) {
                if (msgs[i].type == BN_MSG_CTL_REGION)
                        bn_wire_region_rx(&port, &msgs[i]);
                else
                        bn_displ_corm_rx(&ep, &port, &msgs[i], 1);
        }
        for (unsigned c = 0; c < BN_DISPL_CONN_MAX; c++) {
                const struct displ_frame *f = &corm.fr[c];
                if (f->frames && (!f->px || !f->w || !f->h || f->w > BN_DISPL_DIM_MAX ||
                                  f->h > BN_DISPL_DIM_MAX))
                        abort();
                static const char *const formats[] = {"png", "ppm", "bmp"};
                for (unsigned k = 0; k < 3; k++) {
                        void *img = NULL;
                        size_t len = 0;
                        char err[128];
                        if (bn_displ_corm_snapshot(&ep, c, formats[k], &img, &len, err,
                                                   sizeof(err)) == 0 &&
                            (!img || !len))
                                abort();
                        free(img);
                }
        }
        bn_displ_corm_close(&ep);
        bn_wire_regions_free(&port);
        return 0;
}
