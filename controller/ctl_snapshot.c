/* ctl_snapshot.c: the control operation "snapshot": an image of what a
 * Corm shows (a display Corm: its connector's last frame as PNG), asked of
 * the Corm's class on the endpoint's loop and returned base64-encoded in
 * the reply, so that bananactl (not bananad) writes the client's file. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "bn_daemon.h"
#include "bn_devclass.h"
#include "bn_endpoint.h"
#include "bn_loop.h"
#include "ctl_int.h"

struct snap_call {
        struct bn_endpoint *ep;
        const char *format;
        void *data;
        size_t len;
        int rc;
        char err[256];
};

static void snap_on_loop(void *arg)
{
        struct snap_call *s = arg;
        s->rc =
            s->ep->cls->snapshot(s->ep, 0, s->format, &s->data, &s->len, s->err, sizeof(s->err));
}

json_object *ctl_op_snapshot(struct bn_ctl *c, json_object *req)
{
        const char *name = ctl_arg_str(req, "endpoint");
        struct snap_call s = {0};
        json_object *o = NULL;
        char *b64 = NULL;
        s.format = ctl_arg_str(req, "format");
        if (!s.format)
                s.format = "png";
        if (!name)
                return ctl_reply_error("snapshot: needs an endpoint");
        s.ep = bn_ep_registry_find(&c->d->eps, name);
        if (!s.ep)
                return ctl_reply_error("snapshot: endpoint '%s' is not running on %s", name,
                                       c->d->host);
        if (s.ep->kind != BN_EP_CORM || !s.ep->cls || !s.ep->cls->snapshot)
                return ctl_reply_error("snapshot: endpoint '%s' is not a Corm that shows images "
                                       "(a display Corm)",
                                       name);
        int rc = bn_loop_call_wait(s.ep->loop, snap_on_loop, &s);
        if (rc || s.rc) {
                o = ctl_reply_error("snapshot of '%s': %s", name,
                                    s.err[0] ? s.err : strerror(-(rc ? rc : s.rc)));
                goto out;
        }
        if (s.len > (BN_CTL_MSG_MAX / 4) * 3 - 4096) {
                o = ctl_reply_error("snapshot of '%s': %zu bytes do not fit a reply", name, s.len);
                goto out;
        }
        b64 = malloc(((s.len + 2) / 3) * 4 + 1);
        if (!b64) {
                o = ctl_reply_error("snapshot of '%s': no memory", name);
                goto out;
        }
        EVP_EncodeBlock((unsigned char *)b64, s.data, (int)s.len);
        o = ctl_reply_ok();
        json_object_object_add(o, "format", json_object_new_string(s.format));
        json_object_object_add(o, "bytes", json_object_new_int64((int64_t)s.len));
        json_object_object_add(o, "data", json_object_new_string(b64));
out:
        free(b64);
        free(s.data);
        return o;
}
