/* ctl_store_move.c: moving the desired state between stores (docs/cli.md,
 * `bananactl store export` / `store import`): from one host's embedded
 * store into a cluster's etcd, and back. An export is the desired state's
 * pairs, {"format": "banana-store-1", "revision": N, "data": {key: value}},
 * without the live keys (members, generation). An import goes only into a
 * store that holds no desired state, is checked as strictly as a load of
 * the store before anything is written, and is one commit.
 */
#include "ctl_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bn_json.h"
#include "bn_log.h"

#define CTX           "control"
#define EXPORT_FORMAT "banana-store-1"

/* A desired-state key (what an export carries)? */
static bool desired_key(const char *key)
{
        return strcmp(key, CTL_K_GEN) != 0 && !ctl_live_key(key);
}

static int add_pair(void *arg, const char *key, const char *value)
{
        json_object *data = arg, *v;

        if (!desired_key(key))
                return 0;
        if (!(v = json_object_new_string(value)))
                return -ENOMEM;
        return json_object_object_add(data, key, v) ? -ENOMEM : 0;
}

json_object *ctl_op_store_export(struct bn_ctl *c)
{
        json_object *o = ctl_reply_ok(), *data = json_object_new_object();
        int r;

        if (!o || !data) {
                json_object_put(o);
                json_object_put(data);
                return NULL;
        }
        if ((r = bn_store_list(c->store, "", add_pair, data))) {
                json_object_put(o);
                json_object_put(data);
                return ctl_reply_error("store export: %s", bn_store_why(c->store, r));
        }
        json_object_object_add(o, "format", json_object_new_string(EXPORT_FORMAT));
        json_object_object_add(o, "backend", json_object_new_string(c->store->ops->name));
        json_object_object_add(o, "revision",
                               json_object_new_int64((int64_t)bn_store_revision(c->store)));
        json_object_object_add(o, "data", data);
        return o;
}

static int count_pair(void *arg, const char *key, const char *value)
{
        (void)value;
        if (desired_key(key))
                (*(size_t *)arg)++;
        return 0;
}

json_object *ctl_op_store_import(struct bn_ctl *c, json_object *req)
{
        const char *content = ctl_arg_str(req, "content"), *fmt = NULL;
        static const char *const members[] = {"format", "revision", "data", "backend", "ok", NULL};
        json_object *root = NULL, *data = NULL, *o = NULL;
        struct bn_topo *t = NULL;
        struct ctl_opbuf ops = {0};
        char err[512] = "", why[256] = "";
        size_t have = 0, n = 0;
        int r;

        if (!content)
                return ctl_reply_error("store import: no content (bananactl store import FILE)");
        root = json_tokener_parse(content);
        if (!root || !json_object_is_type(root, json_type_object)) {
                o = ctl_reply_error(
                    "store import: not a JSON object (an export of bananactl store export)");
                goto out;
        }
        if (bn_json_check_keys(root, members, "the export", why, sizeof(why)) ||
            bn_json_get_str(root, "format", &fmt, why, sizeof(why)) ||
            bn_json_get_obj(root, "data", &data, why, sizeof(why))) {
                o = ctl_reply_error("store import: %s",
                                    why[0] ? why : "format and data are required");
                goto out;
        }
        if (strcmp(fmt, EXPORT_FORMAT) != 0) {
                o = ctl_reply_error("store import: format '%.64s', this banana reads %s", fmt,
                                    EXPORT_FORMAT);
                goto out;
        }
        /* the store as it is now (and its generation, for the commit) */
        ctl_desired_drop(c);
        if (ctl_desired_load(c, &t, err, sizeof(err))) {
                o = ctl_reply_error("store import: %s", err);
                goto out;
        }
        bn_topo_free(t);
        t = NULL;
        if ((r = bn_store_list(c->store, "", count_pair, &have))) {
                o = ctl_reply_error("store import: %s", bn_store_why(c->store, r));
                goto out;
        }
        if (have) {
                o = ctl_reply_error(
                    "store import: this store already holds %zu keys of desired state; "
                    "import only into an empty one (nothing changed)",
                    have);
                goto out;
        }
        /* checked as a load of the store would check it, before any write */
        if (ctl_desired_parse(c, data, &t, err, sizeof(err))) {
                o = ctl_reply_error("store import: %s (nothing changed)", err);
                goto out;
        }
        json_object_object_foreach(data, k, v)
        {
                if (ctl_opbuf_put_text(&ops, k, json_object_get_string(v))) {
                        o = ctl_reply_error("store import: out of memory");
                        goto out;
                }
                n++;
        }
        if (ctl_commit(c, &ops, err, sizeof(err))) {
                o = ctl_reply_error("store import: %s (nothing changed)", err);
                goto out;
        }
        bn_info(CTX, "store import: %zu keys into the %s store", n, c->store->ops->name);
        ctl_reconcile(c);
        o = ctl_reply_ok();
        json_object_object_add(o, "imported", json_object_new_int64((int64_t)n));
        json_object_object_add(o, "revision",
                               json_object_new_int64((int64_t)bn_store_revision(c->store)));
out:
        ctl_ops_free(&ops);
        bn_topo_free(t);
        json_object_put(root);
        return o;
}
