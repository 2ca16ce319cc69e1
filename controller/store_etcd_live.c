/* store_etcd_live.c: the parts of the etcd backend that live in time:
 * leases (grant, keep alive, revoke: a host's records go when its bananad
 * stops renewing them) and the watch, a thread of the backend's own that
 * streams etcd's /v3/watch for every key under the prefix and tells the
 * controller after each change (revision), or that it must read everything
 * again (revision 0: etcd compacted the revisions the watch needed). The
 * watch thread has its own curl handle and reads only what open set up;
 * a lost connection is made again from the last revision seen, with a
 * backoff of up to 2 s, so a dead etcd costs nothing but a quiet watch.
 */
#include "store_etcd_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- leases ---------------------------------------------------------- */

static void id_str(char *buf, size_t n, uint64_t id)
{
        snprintf(buf, n, "%llu", (unsigned long long)id);
}

int etcd_lease_grant(void *be, unsigned ttl_s, uint64_t *id, char *err, size_t errlen)
{
        struct etcd *e = be;
        json_object *req = json_object_new_object(), *resp = NULL;
        int r = -ENOMEM;

        if (!req)
                goto out;
        json_object_object_add(req, "TTL", json_object_new_int64(ttl_s));
        if ((r = etcd_request(e, "/v3/lease/grant", req, &resp, err, errlen)))
                goto out;
        *id = etcd_j_u64(resp, "ID", NULL);
        r = 0;
        if (!*id) {
                etcd_seterr(err, errlen, "etcd granted no lease");
                r = -EIO;
        }
out:
        json_object_put(req);
        json_object_put(resp);
        return r;
}

/* POST {"ID": id} to path; *resp is the answer (caller puts it). */
static int lease_call(struct etcd *e, const char *path, uint64_t id, json_object **resp, char *err,
                      size_t errlen)
{
        json_object *req = json_object_new_object();
        char s[24];
        int r = -ENOMEM;

        *resp = NULL;
        if (req) {
                id_str(s, sizeof(s), id);
                json_object_object_add(req, "ID", json_object_new_string(s));
                r = etcd_request(e, path, req, resp, err, errlen);
        }
        json_object_put(req);
        return r;
}

int etcd_lease_keepalive(void *be, uint64_t id, char *err, size_t errlen)
{
        json_object *resp;
        /* one message in, one answer out: {"result": {"ID", "TTL"}} */
        int r = lease_call(be, "/v3/lease/keepalive", id, &resp, err, errlen);

        if (!r && etcd_j_u64(resp, "result", "TTL") == 0) {
                etcd_seterr(err, errlen, "lease %llx has ended", (unsigned long long)id);
                r = -ENOENT;
        }
        json_object_put(resp);
        return r;
}

int etcd_lease_revoke(void *be, uint64_t id, char *err, size_t errlen)
{
        json_object *resp;
        int r = lease_call(be, "/v3/lease/revoke", id, &resp, err, errlen);

        json_object_put(resp);
        return r;
}

/* ---- the watch --------------------------------------------------------- */

/* Does one of the events change a key that is not quiet? */
static bool events_wake(const struct etcd_watch *w, json_object *ev)
{
        bool wake = false;

        for (size_t i = 0; !wake && i < json_object_array_length(ev); i++) {
                json_object *kv, *k;
                char *key = NULL;
                size_t n;

                if (!w->quiet)
                        return true;
                if (!json_object_object_get_ex(json_object_array_get_idx(ev, i), "kv", &kv) ||
                    !json_object_object_get_ex(kv, "key", &k) ||
                    etcd_b64_dec(json_object_get_string(k), &key, &n)) {
                        wake = true; /* not understood: wake, a reconcile costs little */
                        free(key);
                        break;
                }
                wake = true;
                for (size_t q = 0; w->quiet[q]; q++)
                        if (!strncmp(key, w->quiet[q], strlen(w->quiet[q])))
                                wake = false;
                free(key);
        }
        return wake;
}

static bool quiet_key(const struct etcd_watch *w, const char *key)
{
        for (size_t q = 0; w->quiet && w->quiet[q]; q++)
                if (!strncmp(key, w->quiet[q], strlen(w->quiet[q])))
                        return true;
        return false;
}

/* Each event's key and value to w->ev (prefix stripped, quiet keys not).
 * Returns -EBADMSG when an event was not understood: the caller then says
 * that changes may have been missed. */
static int events_tell(struct etcd_watch *w, json_object *ev, uint64_t rev)
{
        int r = 0;

        for (size_t i = 0; !r && i < json_object_array_length(ev); i++) {
                json_object *x = json_object_array_get_idx(ev, i), *kv, *k, *v, *type;
                char *key = NULL, *val = NULL;
                size_t n;
                bool del = json_object_object_get_ex(x, "type", &type) &&
                           !strcmp(json_object_get_string(type), "DELETE");

                if (!json_object_object_get_ex(x, "kv", &kv) ||
                    !json_object_object_get_ex(kv, "key", &k) ||
                    etcd_b64_dec(json_object_get_string(k), &key, &n) ||
                    strlen(key) < w->prefix_len)
                        r = -EBADMSG;
                else if (quiet_key(w, key))
                        ;
                else if (!del && json_object_object_get_ex(kv, "value", &v) &&
                         etcd_b64_dec(json_object_get_string(v), &val, &n))
                        r = -EBADMSG;
                else
                        w->ev(w->ev_arg, rev, key + w->prefix_len, del ? NULL : val ? val : "");
                free(key);
                free(val);
        }
        return r;
}

/* One line of the watch's answer: {"result": {...}}. Returns 1 when the
 * watch must be made again (etcd cancelled it). */
static int watch_line(struct etcd_watch *w, const char *line)
{
        json_object *o = json_tokener_parse(line), *res, *ev, *cancel;
        uint64_t rev;
        int again = 0;

        if (!o)
                return 0;
        if (!json_object_object_get_ex(o, "result", &res) ||
            !json_object_is_type(res, json_type_object))
                goto out;
        rev = etcd_j_u64(res, "header", "revision");
        if (etcd_j_u64(res, "compact_revision", NULL)) {
                /* the revisions after w->from are gone: start over at the
                 * oldest one etcd kept (that answer has no header revision),
                 * and the caller reads everything */
                w->from = etcd_j_u64(res, "compact_revision", NULL) - 1;
                w->fn(w->arg, 0);
                again = 1;
                goto out;
        }
        if (json_object_object_get_ex(res, "canceled", &cancel) &&
            json_object_get_boolean(cancel)) {
                again = 1;
                goto out;
        }
        if (json_object_object_get_ex(res, "events", &ev) &&
            json_object_is_type(ev, json_type_array) && json_object_array_length(ev) > 0 &&
            rev > w->from) {
                w->from = rev;
                if (w->ev && events_tell(w, ev, rev))
                        w->fn(w->arg, 0); /* not understood: read everything */
                else if (events_wake(w, ev))
                        w->fn(w->arg, rev);
        }
out:
        json_object_put(o);
        return again;
}

static size_t watch_data(char *p, size_t size, size_t nmemb, void *arg)
{
        struct etcd_watch *w = arg;
        size_t n = size * nmemb;

        for (size_t i = 0; i < n; i++) {
                if (p[i] == '\n') {
                        int again = 0;

                        if (w->line) {
                                w->line[w->line_n] = '\0';
                                again = watch_line(w, w->line);
                        }
                        w->line_n = 0;
                        if (again)
                                return 0; /* cut this answer: a new watch follows */
                        continue;
                }
                if (w->line_n + 2 > ETCD_MAX_RESPONSE)
                        return 0; /* a line this long is no etcd answer */
                if (!w->line || (w->line_n & 4095) == 0) {
                        char *nl = realloc(w->line, (w->line_n | 4095) + 2);
                        if (!nl)
                                return 0;
                        w->line = nl;
                }
                w->line[w->line_n++] = p[i];
        }
        return n;
}

static int watch_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
        (void)dt, (void)dn, (void)ut, (void)un;
        return atomic_load(&((struct etcd_watch *)arg)->stop) ? 1 : 0;
}

/* Sleep ms, in steps, unless asked to stop. */
static void watch_nap(struct etcd_watch *w, long ms)
{
        struct timespec t = {0, 50 * 1000000L};

        for (long i = 0; i < ms && !atomic_load(&w->stop); i += 50)
                nanosleep(&t, NULL);
}

static void *watch_main(void *arg)
{
        struct etcd *e = arg;
        struct etcd_watch *w = &e->watch;
        struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
        CURL *c = hdrs ? etcd_curl_new(e, hdrs, 0) : NULL;
        char *k = etcd_key_b64(e, ""), *end = etcd_range_end_b64(e, "");
        long backoff = 100;

        if (!c || !k || !end)
                goto out;
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, watch_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, watch_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
        for (size_t i = 0; !atomic_load(&w->stop); i = (i + 1) % e->n_urls) {
                json_object *req = json_object_new_object(), *cr = json_object_new_object();
                char url[512], rev[24];
                CURLcode res;

                if (!req || !cr) {
                        json_object_put(req);
                        json_object_put(cr);
                        watch_nap(w, backoff);
                        continue;
                }
                snprintf(rev, sizeof(rev), "%llu", (unsigned long long)(w->from + 1));
                json_object_object_add(cr, "key", json_object_new_string(k));
                json_object_object_add(cr, "range_end", json_object_new_string(end));
                json_object_object_add(cr, "start_revision", json_object_new_string(rev));
                json_object_object_add(req, "create_request", cr);
                snprintf(url, sizeof(url), "%s/v3/watch", e->urls[i]);
                curl_easy_setopt(c, CURLOPT_URL, url);
                curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS,
                                 json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
                json_object_put(req);
                w->line_n = 0;
                res = curl_easy_perform(c);
                if (atomic_load(&w->stop))
                        break;
                /* cut, refused or ended: again from the last revision seen */
                backoff = res == CURLE_OK ? 100 : backoff * 2 > 2000 ? 2000 : backoff * 2;
                watch_nap(w, backoff);
        }
out:
        if (c)
                curl_easy_cleanup(c);
        curl_slist_free_all(hdrs);
        free(k);
        free(end);
        free(w->line);
        w->line = NULL;
        return NULL;
}

int etcd_watch_start(void *be, uint64_t from, bn_store_watch_fn fn, void *arg, char *err,
                     size_t errlen)
{
        struct etcd *e = be;
        struct etcd_watch *w = &e->watch;
        int r;

        if (w->running) {
                etcd_seterr(err, errlen, "etcd: a watch is running already");
                return -EBUSY;
        }
        atomic_store(&w->stop, 0);
        w->from = from;
        w->fn = fn;
        w->arg = arg;
        w->prefix_len = e->prefix_len;
        w->line = NULL;
        w->line_n = 0;
        if ((r = pthread_create(&w->th, NULL, watch_main, e))) {
                etcd_seterr(err, errlen, "etcd: cannot start the watch thread: %s", strerror(r));
                return -r;
        }
        w->running = true;
        return 0;
}

void etcd_watch_events(void *be, bn_store_event_fn ev, void *arg)
{
        struct etcd *e = be;

        e->watch.ev = ev;
        e->watch.ev_arg = arg;
}

void etcd_watch_stop(void *be)
{
        struct etcd *e = be;

        if (!e->watch.running)
                return;
        atomic_store(&e->watch.stop, 1);
        pthread_join(e->watch.th, NULL);
        e->watch.running = false;
}
