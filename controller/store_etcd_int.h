/* store_etcd_int.h: what the etcd backend's files share: the backend's
 * state, the request helper of etcd's v3 JSON gateway and base64 (store_etcd.c),
 * leases and the watch thread (store_etcd_live.c).
 */
#ifndef BN_STORE_ETCD_INT_H
#define BN_STORE_ETCD_INT_H

#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bn_store.h"

#define ETCD_MAX_RESPONSE (64u << 20)

/* The watch: a thread of its own with its own curl handle, streaming
 * /v3/watch; it reads only the immutable part of struct etcd (URLs, TLS
 * files, prefix). */
struct etcd_watch {
        pthread_t th;
        bool running;
        atomic_int stop;
        uint64_t from; /* the last revision seen; owned by the thread */
        bn_store_watch_fn fn;
        void *arg;
        bn_store_event_fn ev; /* NULL: changes are not told key by key */
        void *ev_arg;
        size_t prefix_len; /* of the keys' prefix, stripped before ev */
        char *line;        /* the answer's current line (one JSON object a line) */
        char **quiet;      /* full keys (prefix included) that wake nothing; NULL-ended */
        size_t line_n;
};

struct etcd {
        /* set at open, then read-only (the watch thread reads them) */
        char **urls; /* "http://host:port" */
        size_t n_urls;
        char *prefix;
        size_t prefix_len;
        char *ca, *cert, *key;
        long timeout_ms;
        /* the caller's thread only */
        CURL *curl;
        struct curl_slist *hdrs;
        size_t cur; /* the endpoint that answered last */
        uint64_t rev;
        char why[512]; /* the last request's failure */
        struct etcd_watch watch;
};

/* An answer being read. */
struct etcd_buf {
        char *p;
        size_t n;
        int too_big;
};

void etcd_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
char *etcd_b64_enc(const char *s, size_t len);
int etcd_b64_dec(const char *in, char **out, size_t *outlen);
size_t etcd_on_data(char *p, size_t size, size_t nmemb, void *arg);
uint64_t etcd_j_u64(json_object *o, const char *a, const char *b);
/* A curl handle set up for e's endpoints (TLS files, time limit timeout_ms,
 * 0: none); hdrs is the header list it uses. NULL when out of memory. */
CURL *etcd_curl_new(const struct etcd *e, struct curl_slist *hdrs, long timeout_ms);
int etcd_request(struct etcd *e, const char *path, json_object *body, json_object **resp, char *err,
                 size_t errlen);
char *etcd_key_b64(const struct etcd *e, const char *k);
char *etcd_range_end_b64(const struct etcd *e, const char *p);

/* store_etcd_live.c */
int etcd_lease_grant(void *be, unsigned ttl_s, uint64_t *id, char *err, size_t errlen);
int etcd_lease_keepalive(void *be, uint64_t id, char *err, size_t errlen);
int etcd_lease_revoke(void *be, uint64_t id, char *err, size_t errlen);
int etcd_watch_start(void *be, uint64_t from, bn_store_watch_fn fn, void *arg, char *err,
                     size_t errlen);
void etcd_watch_stop(void *be);
void etcd_watch_events(void *be, bn_store_event_fn ev, void *arg);

#endif
