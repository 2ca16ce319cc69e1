/* store_etcd.c: the etcd store backend: the controller's keys live in an
 * etcd (v3) cluster under a prefix ("banana/" unless told otherwise), read
 * and written through etcd's v3 JSON gateway (/v3/kv/range, /v3/kv/txn)
 * with libcurl, keys and values base64 as the gateway wants them. A commit
 * is one etcd transaction (all or nothing, one revision); the store's
 * revision is etcd's, as last seen. Endpoints are tried in the order given;
 * the one that answered is tried first next time.
 *
 * URLs: etcd://HOST:PORT[,HOST:PORT...] (plain HTTP) or etcds://... (TLS:
 * bn_store_etcd_opts names the CA, and the client certificate and key when
 * etcd asks for one). Not thread-safe, like every backend: the controller
 * uses the store from its main thread. Every request has a time limit
 * (opts.timeout_ms), so a dead etcd costs a bounded wait and a clear error.
 */
#include "store_etcd_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETCD_PREFIX_DEFAULT "banana/"
#define ETCD_TIMEOUT_MS     3000

void etcd_seterr(char *err, size_t errlen, const char *fmt, ...)
{
        va_list ap;

        if (!err || !errlen)
                return;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
}

/* base64 of len bytes (malloc'd, NUL-terminated), or NULL. */
char *etcd_b64_enc(const char *s, size_t len)
{
        char *out = malloc(4 * ((len + 2) / 3) + 1);

        if (out)
                EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
        return out;
}

/* Decode base64 text into a malloc'd NUL-terminated string; -EBADMSG when
 * it is not base64 or the bytes hold a NUL (values are strings). */
int etcd_b64_dec(const char *in, char **out, size_t *outlen)
{
        size_t n = strlen(in), pad = 0;
        char *o;
        int r;

        if (n % 4)
                return -EBADMSG;
        o = malloc(n / 4 * 3 + 1);
        if (!o)
                return -ENOMEM;
        r = n ? EVP_DecodeBlock((unsigned char *)o, (const unsigned char *)in, (int)n) : 0;
        if (r < 0) {
                free(o);
                return -EBADMSG;
        }
        while (pad < 2 && n > pad && in[n - 1 - pad] == '=')
                pad++;
        r -= (int)pad;
        o[r] = '\0';
        if (memchr(o, '\0', (size_t)r)) {
                free(o);
                return -EBADMSG;
        }
        *out = o;
        if (outlen)
                *outlen = (size_t)r;
        return 0;
}

size_t etcd_on_data(char *p, size_t size, size_t nmemb, void *arg)
{
        struct etcd_buf *b = arg;
        size_t n = size * nmemb;
        char *nb;

        if (b->n + n > ETCD_MAX_RESPONSE) {
                b->too_big = 1;
                return 0;
        }
        nb = realloc(b->p, b->n + n + 1);
        if (!nb)
                return 0;
        memcpy(nb + b->n, p, n);
        b->n += n;
        nb[b->n] = '\0';
        b->p = nb;
        return n;
}

/* int64 fields come as JSON strings from the gateway. */
uint64_t etcd_j_u64(json_object *o, const char *a, const char *b)
{
        json_object *x = NULL;
        const char *s;

        if (!json_object_object_get_ex(o, a, &x) || (b && !json_object_object_get_ex(x, b, &x)))
                return 0;
        if (json_object_is_type(x, json_type_int))
                return (uint64_t)json_object_get_int64(x);
        if (!json_object_is_type(x, json_type_string))
                return 0;
        s = json_object_get_string(x);
        return strtoull(s, NULL, 10);
}

/* POST body to path on the first endpoint that answers. *resp is the
 * parsed answer (caller puts it). -EIO with err when no endpoint answered
 * or etcd refused the request. */
int etcd_request(struct etcd *e, const char *path, json_object *body, json_object **resp, char *err,
                 size_t errlen)
{
        const char *text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
        char why[CURL_ERROR_SIZE * 2] = "";
        struct etcd_buf b = {0};
        int r = -EIO;

        *resp = NULL;
        e->why[0] = '\0';
        if (!err || !errlen)
                err = e->why, errlen = sizeof(e->why);
        for (size_t k = 0; k < e->n_urls; k++) {
                size_t i = (e->cur + k) % e->n_urls;
                char url[512], cerr[CURL_ERROR_SIZE] = "";
                long code = 0;
                CURLcode cr;

                snprintf(url, sizeof(url), "%s%s", e->urls[i], path);
                free(b.p);
                b = (struct etcd_buf){0};
                curl_easy_setopt(e->curl, CURLOPT_URL, url);
                curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, text);
                curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &b);
                curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, cerr);
                cr = curl_easy_perform(e->curl);
                if (cr != CURLE_OK) {
                        snprintf(why + strlen(why), sizeof(why) - strlen(why), "%s%s: %s",
                                 *why ? "; " : "", e->urls[i],
                                 b.too_big ? "answer over 64 MiB"
                                 : *cerr   ? cerr
                                           : curl_easy_strerror(cr));
                        continue;
                }
                e->cur = i;
                curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &code);
                *resp = b.p ? json_tokener_parse(b.p) : NULL;
                if (code != 200 || !*resp || !json_object_is_type(*resp, json_type_object)) {
                        json_object *m = NULL;
                        const char *msg = NULL;

                        if (*resp && json_object_is_type(*resp, json_type_object) &&
                            (json_object_object_get_ex(*resp, "message", &m) ||
                             json_object_object_get_ex(*resp, "error", &m)) &&
                            json_object_is_type(m, json_type_string))
                                msg = json_object_get_string(m);
                        etcd_seterr(err, errlen, "etcd at %s%s: HTTP %ld: %s", e->urls[i], path,
                                    code, msg ? msg : "not an etcd v3 answer");
                        json_object_put(*resp);
                        *resp = NULL;
                        r = code == 413 ? -E2BIG : -EIO;
                        goto out;
                }
                if (etcd_j_u64(*resp, "header", "revision"))
                        e->rev = etcd_j_u64(*resp, "header", "revision");
                r = 0;
                goto out;
        }
        etcd_seterr(err, errlen, "etcd: no endpoint answered (%s)", why);
out:
        if (r && err != e->why)
                snprintf(e->why, sizeof(e->why), "%s", err);
        free(b.p);
        return r;
}

/* The store's key k under the prefix, base64. */
char *etcd_key_b64(const struct etcd *e, const char *k)
{
        size_t n = strlen(k);
        char *full = malloc(e->prefix_len + n + 1), *out;

        if (!full)
                return NULL;
        memcpy(full, e->prefix, e->prefix_len);
        memcpy(full + e->prefix_len, k, n + 1);
        out = etcd_b64_enc(full, e->prefix_len + n);
        free(full);
        return out;
}

/* range_end for every key starting with prefix+p: the prefix with its last
 * byte below 0xff incremented (etcd's "prefix" range), base64. */
char *etcd_range_end_b64(const struct etcd *e, const char *p)
{
        size_t n = strlen(p), len = e->prefix_len + n;
        char *full = malloc(len + 1), *out = NULL;

        if (!full)
                return NULL;
        memcpy(full, e->prefix, e->prefix_len);
        memcpy(full + e->prefix_len, p, n + 1);
        while (len > 0 && (unsigned char)full[len - 1] == 0xff)
                len--;
        if (len > 0) {
                full[len - 1]++;
                out = etcd_b64_enc(full, len);
        } else {
                out = etcd_b64_enc("\0", 1); /* every key */
        }
        free(full);
        return out;
}

static int etcd_get(void *be, const char *key, char **value)
{
        struct etcd *e = be;
        json_object *req = json_object_new_object(), *resp = NULL, *kvs, *v;
        char *k = etcd_key_b64(e, key);
        int r = -ENOMEM;

        if (!req || !k)
                goto out;
        json_object_object_add(req, "key", json_object_new_string(k));
        if ((r = etcd_request(e, "/v3/kv/range", req, &resp, NULL, 0)))
                goto out;
        r = -ENOENT;
        if (!json_object_object_get_ex(resp, "kvs", &kvs) ||
            !json_object_is_type(kvs, json_type_array) || json_object_array_length(kvs) < 1)
                goto out;
        r = -EBADMSG;
        if (!json_object_object_get_ex(json_object_array_get_idx(kvs, 0), "value", &v))
                r = etcd_b64_dec("", value, NULL); /* an empty value has no "value" member */
        else if (json_object_is_type(v, json_type_string))
                r = etcd_b64_dec(json_object_get_string(v), value, NULL);
out:
        free(k);
        json_object_put(req);
        json_object_put(resp);
        return r;
}

static int etcd_list(void *be, const char *prefix, bn_store_list_fn fn, void *arg)
{
        struct etcd *e = be;
        json_object *req = json_object_new_object(), *resp = NULL, *kvs;
        char *k = etcd_key_b64(e, prefix), *end = etcd_range_end_b64(e, prefix);
        int r = -ENOMEM;

        if (!req || !k || !end)
                goto out;
        json_object_object_add(req, "key", json_object_new_string(k));
        json_object_object_add(req, "range_end", json_object_new_string(end));
        json_object_object_add(req, "sort_order", json_object_new_string("ASCEND"));
        json_object_object_add(req, "sort_target", json_object_new_string("KEY"));
        if ((r = etcd_request(e, "/v3/kv/range", req, &resp, NULL, 0)))
                goto out;
        if (!json_object_object_get_ex(resp, "kvs", &kvs))
                goto out; /* none */
        r = -EBADMSG;
        if (!json_object_is_type(kvs, json_type_array))
                goto out;
        r = 0;
        for (size_t i = 0; i < json_object_array_length(kvs) && !r; i++) {
                json_object *kv = json_object_array_get_idx(kvs, i), *jk = NULL, *jv = NULL;
                char *dk = NULL, *dv = NULL;
                size_t klen = 0;

                r = -EBADMSG;
                if (!json_object_object_get_ex(kv, "key", &jk) ||
                    !json_object_is_type(jk, json_type_string))
                        break;
                json_object_object_get_ex(kv, "value", &jv);
                if ((r = etcd_b64_dec(json_object_get_string(jk), &dk, &klen)) ||
                    (r = etcd_b64_dec(jv && json_object_is_type(jv, json_type_string)
                                          ? json_object_get_string(jv)
                                          : "",
                                      &dv, NULL))) {
                        free(dk);
                        break;
                }
                if (klen < e->prefix_len || memcmp(dk, e->prefix, e->prefix_len))
                        r = -EBADMSG;
                else
                        r = fn(arg, dk + e->prefix_len, dv);
                free(dk);
                free(dv);
        }
out:
        free(k);
        free(end);
        json_object_put(req);
        json_object_put(resp);
        return r;
}

/* Append op to a transaction's list: a compare (EXPECT) or a request. */
static int txn_op(const struct etcd *e, const struct bn_store_op *op, json_object *list)
{
        json_object *o = json_object_new_object(), *body = NULL;
        char *k = etcd_key_b64(e, op->key), *v = NULL, id[24];
        int r = -ENOMEM;

        if (!o || !k || (op->value && !(v = etcd_b64_enc(op->value, strlen(op->value)))))
                goto out;
        if (op->kind == BN_STORE_EXPECT) {
                body = o; /* a compare is flat */
                /* absent: "created at revision 0"; else the value itself */
                json_object_object_add(body, "target",
                                       json_object_new_string(v ? "VALUE" : "CREATE"));
                json_object_object_add(body, "result", json_object_new_string("EQUAL"));
                if (!v)
                        json_object_object_add(body, "create_revision",
                                               json_object_new_string("0"));
        } else {
                if (!(body = json_object_new_object()))
                        goto out;
                json_object_object_add(
                    o, op->kind == BN_STORE_PUT ? "request_put" : "request_delete_range", body);
                if (op->kind == BN_STORE_PUT && op->lease) {
                        snprintf(id, sizeof(id), "%llu", (unsigned long long)op->lease);
                        json_object_object_add(body, "lease", json_object_new_string(id));
                }
        }
        json_object_object_add(body, "key", json_object_new_string(k));
        if (v)
                json_object_object_add(body, "value", json_object_new_string(v));
        json_object_array_add(list, o);
        o = NULL;
        r = 0;
out:
        json_object_put(o);
        free(k);
        free(v);
        return r;
}

static int etcd_commit(void *be, const struct bn_store_op *ops, size_t n, uint64_t *rev, char *err,
                       size_t errlen)
{
        struct etcd *e = be;
        json_object *req = json_object_new_object(), *succ = json_object_new_array(),
                    *cmp = json_object_new_array(), *resp = NULL, *ok;
        int r = -ENOMEM;

        if (!req || !succ || !cmp) {
                json_object_put(succ);
                json_object_put(cmp);
                goto out;
        }
        json_object_object_add(req, "success", succ);
        json_object_object_add(req, "compare", cmp);
        for (size_t i = 0; i < n; i++)
                if ((r = txn_op(e, &ops[i], ops[i].kind == BN_STORE_EXPECT ? cmp : succ)))
                        goto out;
        if ((r = etcd_request(e, "/v3/kv/txn", req, &resp, err, errlen)))
                goto out;
        /* "succeeded" is false (or absent: proto3 leaves false out) when a
         * compare failed: say which expectation did not hold. */
        if (json_object_array_length(cmp) &&
            (!json_object_object_get_ex(resp, "succeeded", &ok) || !json_object_get_boolean(ok))) {
                size_t nexp = json_object_array_length(cmp), i = 0;

                while (ops[i].kind != BN_STORE_EXPECT)
                        i++;
                if (nexp == 1)
                        etcd_seterr(err, errlen, "'%s' is %s", ops[i].key,
                                    ops[i].value ? "not as expected" : "taken");
                else
                        etcd_seterr(err, errlen, "one of %zu expectations failed (the first: '%s')",
                                    nexp, ops[i].key);
                r = -ECANCELED;
                goto out;
        }
        if (rev)
                *rev = e->rev;
out:
        if (r == -ENOMEM)
                etcd_seterr(err, errlen,
                            "etcd: out of memory building a transaction of %zu operations", n);
        json_object_put(req);
        json_object_put(resp);
        return r;
}

static const char *etcd_last_error(void *be)
{
        return ((struct etcd *)be)->why;
}

static uint64_t etcd_revision(void *be)
{
        return ((struct etcd *)be)->rev;
}

static void etcd_close(void *be)
{
        struct etcd *e = be;

        if (!e)
                return;
        etcd_watch_stop(e);
        if (e->curl) {
                curl_easy_cleanup(e->curl);
                curl_global_cleanup();
        }
        curl_slist_free_all(e->hdrs);
        for (size_t i = 0; i < e->n_urls; i++)
                free(e->urls[i]);
        free(e->urls);
        for (size_t i = 0; e->watch.quiet && e->watch.quiet[i]; i++)
                free(e->watch.quiet[i]);
        free(e->watch.quiet);
        free(e->prefix);
        free(e->ca);
        free(e->cert);
        free(e->key);
        free(e);
}

static const struct bn_store_backend etcd_backend = {
    .name = "etcd",
    .get = etcd_get,
    .list = etcd_list,
    .commit = etcd_commit,
    .revision = etcd_revision,
    .close = etcd_close,
    .lease_grant = etcd_lease_grant,
    .lease_keepalive = etcd_lease_keepalive,
    .lease_revoke = etcd_lease_revoke,
    .watch_start = etcd_watch_start,
    .watch_stop = etcd_watch_stop,
    .last_error = etcd_last_error,
    .watch_events = etcd_watch_events,
};

/* "etcd://a:1,b:2" -> e->urls {"http://a:1", "http://b:2"}. */
static int parse_urls(struct etcd *e, const char *url, char *err, size_t errlen)
{
        const char *scheme, *p;
        size_t cap = 0;

        if (!strncmp(url, "etcd://", 7))
                scheme = "http://", p = url + 7;
        else if (!strncmp(url, "etcds://", 8))
                scheme = "https://", p = url + 8;
        else {
                etcd_seterr(
                    err, errlen,
                    "store URL '%s': expected etcd://HOST:PORT[,HOST:PORT...] or etcds://...", url);
                return -EINVAL;
        }
        while (*p) {
                size_t n = strcspn(p, ",");
                char **nu;

                if (n == 0 || n > 255 || memchr(p, '/', n) || !memchr(p, ':', n)) {
                        etcd_seterr(err, errlen, "store URL '%s': '%.*s' is not HOST:PORT", url,
                                    (int)n, p);
                        return -EINVAL;
                }
                if (e->n_urls == cap) {
                        cap = cap ? 2 * cap : 4;
                        if (!(nu = realloc(e->urls, cap * sizeof(*nu))))
                                return -ENOMEM;
                        e->urls = nu;
                }
                if (!(e->urls[e->n_urls] = malloc(strlen(scheme) + n + 1)))
                        return -ENOMEM;
                sprintf(e->urls[e->n_urls++], "%s%.*s", scheme, (int)n, p);
                p += n + (p[n] == ',');
        }
        if (!e->n_urls) {
                etcd_seterr(err, errlen, "store URL '%s' names no endpoint", url);
                return -EINVAL;
        }
        return 0;
}

CURL *etcd_curl_new(const struct etcd *e, struct curl_slist *hdrs, long timeout_ms)
{
        CURL *c = curl_easy_init();

        if (!c)
                return NULL;
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, etcd_on_data);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                         e->timeout_ms < 1000 ? e->timeout_ms : 1000L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        if (e->ca)
                curl_easy_setopt(c, CURLOPT_CAINFO, e->ca);
        if (e->cert)
                curl_easy_setopt(c, CURLOPT_SSLCERT, e->cert);
        if (e->key)
                curl_easy_setopt(c, CURLOPT_SSLKEY, e->key);
        return c;
}

static char *dup_or_null(const char *s)
{
        return s ? strdup(s) : NULL;
}

/* The watch's quiet prefixes, each with the store's prefix in front. */
static int quiet_copy(struct etcd *e, const char *const *quiet)
{
        size_t n = 0;

        while (quiet && quiet[n])
                n++;
        if (!n)
                return 0;
        if (!(e->watch.quiet = calloc(n + 1, sizeof(char *))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (!(e->watch.quiet[i] = malloc(e->prefix_len + strlen(quiet[i]) + 1)))
                        return -ENOMEM;
                sprintf(e->watch.quiet[i], "%s%s", e->prefix, quiet[i]);
        }
        return 0;
}

int bn_store_open_etcd(struct bn_store **out, const char *url,
                       const struct bn_store_etcd_opts *opts, char *err, size_t errlen)
{
        static const struct bn_store_etcd_opts none = {0};
        struct etcd *e = calloc(1, sizeof(*e));
        struct bn_store *s = NULL;
        json_object *req = NULL, *resp = NULL;
        char *k = NULL;
        int r = -ENOMEM;

        *out = NULL;
        if (!opts)
                opts = &none;
        if (!e)
                goto out;
        if ((r = parse_urls(e, url, err, errlen)))
                goto out;
        r = -ENOMEM;
        e->prefix = strdup(opts->prefix ? opts->prefix : ETCD_PREFIX_DEFAULT);
        e->ca = dup_or_null(opts->ca);
        e->cert = dup_or_null(opts->cert);
        e->key = dup_or_null(opts->key);
        e->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : ETCD_TIMEOUT_MS;
        if (!e->prefix || (opts->ca && !e->ca) || (opts->cert && !e->cert) ||
            (opts->key && !e->key))
                goto out;
        e->prefix_len = strlen(e->prefix);
        if ((r = quiet_copy(e, opts->watch_quiet)))
                goto out;
        r = -ENOMEM;
        if (!(e->hdrs = curl_slist_append(NULL, "Content-Type: application/json")))
                goto out;
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
            !(e->curl = etcd_curl_new(e, e->hdrs, e->timeout_ms))) {
                etcd_seterr(err, errlen, "etcd: libcurl could not start");
                r = -EIO;
                goto out;
        }
        /* Reach etcd once now (and learn its revision): a store that cannot
         * be reached is said at start, naming every endpoint tried. */
        if (!(req = json_object_new_object()) || !(k = etcd_key_b64(e, "")))
                goto out;
        json_object_object_add(req, "key", json_object_new_string(k));
        json_object_object_add(req, "count_only", json_object_new_boolean(1));
        if ((r = etcd_request(e, "/v3/kv/range", req, &resp, err, errlen)))
                goto out;
        r = -ENOMEM;
        if (!(s = calloc(1, sizeof(*s))))
                goto out;
        s->ops = &etcd_backend;
        s->be = e;
        *out = s;
        e = NULL;
        r = 0;
out:
        if (r == -ENOMEM)
                etcd_seterr(err, errlen, "etcd: out of memory");
        free(k);
        json_object_put(req);
        json_object_put(resp);
        etcd_close(e);
        return r;
}
