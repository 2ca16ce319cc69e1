/* ctl_report_store.c: this host's report in the store, one key per item:
 * reports/<host>/endpoints/NAME and reports/<host>/wires/NAME ({"state",
 * "error"?, "since"}), and reports/<host> ({"host", "at"}: when it last
 * reported). The batches of changes the main loop hands on (ctl_report.c)
 * are merged into what is pending, against what the store holds (read back
 * at start: a restart keeps each item's since), and written in a few
 * transactions. Cluster loop only (ctl_cluster.c).
 */
#include "ctl_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bn_log.h"

#define CTX "cluster"
/* report items a transaction writes at most: first REPORT_TXN_MAX (and
 * REPORT_TXN_BYTES of keys and values), REPORT_TXN_MIN once etcd refused
 * one as too many operations (its --max-txn-ops is 128 by default) or too
 * large: the first report of 10,000 items is a few transactions, not 100 */
#define REPORT_TXN_MAX   4096
#define REPORT_TXN_MIN   100
#define REPORT_TXN_BYTES (512 * 1024)

void ctl_report_w_init(struct ctl_report_w *rw, const char *host)
{
        *rw = (struct ctl_report_w){.host = host, .txn_max = REPORT_TXN_MAX};
        snprintf(rw->k_report, sizeof(rw->k_report), "%s%s", CTL_K_REPORT, host);
}

void ctl_report_w_free(struct ctl_report_w *rw)
{
        json_object_put(rw->written);
        json_object_put(rw->pending);
        rw->written = rw->pending = NULL;
}

json_object *ctl_json_part(json_object *o, const char *k)
{
        json_object *v;

        if (json_object_object_get_ex(o, k, &v))
                return v;
        if ((v = json_object_new_object()))
                json_object_object_add(o, k, v);
        return v;
}

const char *const ctl_report_kinds[2] = {"endpoints", "wires"};

static size_t pending_count(struct ctl_report_w *rw)
{
        size_t n = 0;

        for (size_t k = 0; rw->pending && k < 2; k++)
                n += (size_t)json_object_object_length(
                    ctl_json_part(rw->pending, ctl_report_kinds[k]));
        return n;
}

struct report_op {
        const char *kind;
        char *name, *key;
        json_object *v; /* NULL: delete */
};

/* One transaction: up to txn_max pending items, and reports/<host>
 * ({"host", "at"}: when this host last reported) with the last of them.
 * What a failed transaction held stays pending. */
static int flush_some(struct ctl_report_w *rw, char *err, size_t errlen)
{
        size_t max = rw->txn_max, n = 0, nops = 0, bytes = 0, left = pending_count(rw);
        struct bn_store_op *ops = calloc(max + 1, sizeof(*ops));
        struct report_op *it = calloc(max, sizeof(*it));
        json_object *sum = NULL;
        int r = -ENOMEM;

        if (!ops || !it)
                goto out;
        for (size_t k = 0; k < 2 && n < max && bytes < REPORT_TXN_BYTES; k++) {
                json_object_object_foreach(ctl_json_part(rw->pending, ctl_report_kinds[k]), name, v)
                {
                        if (n == max || bytes >= REPORT_TXN_BYTES)
                                break;
                        struct report_op *o = &it[n++];
                        o->kind = ctl_report_kinds[k];
                        o->v = json_object_get(v);
                        o->name = strdup(name);
                        if (asprintf(&o->key, "%s%s/%s/%s", CTL_K_REPORT, rw->host,
                                     ctl_report_kinds[k], name) < 0)
                                o->key = NULL;
                        if (!o->name || !o->key)
                                goto out;
                        ops[nops] = (struct bn_store_op){
                            v ? BN_STORE_PUT : BN_STORE_DEL, o->key,
                            v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : NULL,
                            0};
                        bytes += strlen(o->key) + (v ? strlen(ops[nops].value) : 0);
                        nops++;
                }
        }
        if (n == left && rw->pending_summary) {
                if (!(sum = json_object_new_object()))
                        goto out;
                json_object_object_add(sum, "host", json_object_new_string(rw->host));
                json_object_object_add(sum, "at", json_object_new_int64((int64_t)time(NULL)));
                ops[nops++] = (struct bn_store_op){
                    BN_STORE_PUT, rw->k_report,
                    json_object_to_json_string_ext(sum, JSON_C_TO_STRING_PLAIN), 0};
        }
        r = nops ? bn_store_commit(rw->store, ops, nops, NULL, err, errlen) : 0;
        if (r && rw->txn_max > REPORT_TXN_MIN &&
            (r == -E2BIG || strstr(err, "too many operations") || strstr(err, "too large"))) {
                bn_info(CTX, "etcd refused a report of %zu items (%s): %d at a time from now on", n,
                        err, REPORT_TXN_MIN);
                rw->txn_max = REPORT_TXN_MIN;
                r = 0; /* again, smaller */
                goto out;
        }
        if (r || !nops)
                goto out;
        if (sum)
                rw->pending_summary = false;
        for (size_t i = 0; i < n; i++) {
                json_object *w = ctl_json_part(rw->written, it[i].kind);
                json_object_object_del(ctl_json_part(rw->pending, it[i].kind), it[i].name);
                if (it[i].v)
                        json_object_object_add(w, it[i].name, json_object_get(it[i].v));
                else
                        json_object_object_del(w, it[i].name);
        }
out:
        for (size_t i = 0; it && i < n; i++) {
                free(it[i].name);
                free(it[i].key);
                json_object_put(it[i].v);
        }
        free(it);
        free(ops);
        json_object_put(sum);
        return r;
}

/* Write everything pending. */
int ctl_report_w_flush(struct ctl_report_w *rw, char *err, size_t errlen)
{
        int r = 0;

        while (!r && (pending_count(rw) || rw->pending_summary))
                r = flush_some(rw, err, errlen);
        return r;
}

static bool same_str(json_object *a, json_object *b, const char *k)
{
        json_object *x, *y;
        const char *s = json_object_object_get_ex(a, k, &x) ? json_object_get_string(x) : "";
        const char *t = json_object_object_get_ex(b, k, &y) ? json_object_get_string(y) : "";

        return !strcmp(s, t);
}

/* A batch of changes from the main loop into pending: an item the store
 * holds as it is now is not written again (its "since" stays); a full
 * batch deletes what the store holds that it does not name. */
void ctl_report_w_merge(struct ctl_report_w *rw, json_object *batch)
{
        json_object *full, *b;
        bool all = json_object_object_get_ex(batch, "full", &full) && json_object_get_boolean(full);
        int64_t now = (int64_t)time(NULL);

        if ((!rw->written && !(rw->written = json_object_new_object())) ||
            (!rw->pending && !(rw->pending = json_object_new_object())))
                return;
        for (size_t k = 0; k < 2; k++) {
                json_object *w = ctl_json_part(rw->written, ctl_report_kinds[k]);
                json_object *p = ctl_json_part(rw->pending, ctl_report_kinds[k]);
                if (!json_object_object_get_ex(batch, ctl_report_kinds[k], &b))
                        b = NULL;
                if (!w || !p)
                        return;
                if (all) {
                        json_object_object_foreach(w, wn, wv)
                        {
                                (void)wv;
                                if (!b || !json_object_object_get_ex(b, wn, NULL))
                                        json_object_object_add(p, wn, NULL);
                        }
                }
                if (!b)
                        continue;
                json_object_object_foreach(b, name, v)
                {
                        json_object *old = NULL, *item;
                        bool held = json_object_object_get_ex(w, name, &old);
                        if (!v) {
                                if (held)
                                        json_object_object_add(p, name, NULL);
                                else
                                        json_object_object_del(p, name);
                                continue;
                        }
                        if (held && same_str(old, v, "state") && same_str(old, v, "error")) {
                                json_object_object_del(p, name);
                                continue;
                        }
                        if (!(item = json_object_get(v)))
                                continue;
                        json_object_object_add(item, "since", json_object_new_int64(now));
                        json_object_object_add(p, name, item);
                }
        }
        rw->pending_summary = true;
}

struct load_ctx {
        struct ctl_report_w *rw;
        size_t skip; /* strlen("reports/<host>/") */
};

static int load_pair(void *arg, const char *key, const char *value)
{
        struct load_ctx *x = arg;
        const char *rest = key + x->skip, *slash = strchr(rest, '/');
        json_object *o = json_tokener_parse(value);

        for (size_t k = 0; slash && o && k < 2; k++)
                if ((size_t)(slash - rest) == strlen(ctl_report_kinds[k]) &&
                    !strncmp(rest, ctl_report_kinds[k], (size_t)(slash - rest)) && slash[1]) {
                        json_object_object_add(ctl_json_part(x->rw->written, ctl_report_kinds[k]),
                                               slash + 1, o);
                        return 0;
                }
        json_object_put(o);
        return 0;
}

/* What the store holds of this host's report (a restart keeps each item's
 * since, and deletes, with its first full batch, what went meanwhile). */
void ctl_report_w_load(struct ctl_report_w *rw, struct bn_store *store)
{
        char prefix[330];
        struct load_ctx x = {rw, 0};
        int r;

        rw->store = store;
        if (!rw->written && !(rw->written = json_object_new_object()))
                return;
        x.skip = (size_t)snprintf(prefix, sizeof(prefix), "%s/", rw->k_report);
        if ((r = bn_store_list(rw->store, prefix, load_pair, &x)))
                bn_warn(CTX, "cannot read this host's last report: %s (written again whole)",
                        bn_store_why(rw->store, r));
}
