/* bn_store.h: the controller's store of desired state, a small key/value
 * interface with a revision, and the plug-in point for its backends.
 *
 * Keys are strings such as "endpoints/hostA/vm7/vif0", "wires/vm7-net",
 * "hosts/hostA"; values are strings (the controller stores JSON text).
 * Every successful change bumps the store's revision by one; a commit of
 * several operations is all-or-nothing and counts as one revision.
 *
 * Backends: "embedded" (store_embedded.c: in memory, persisted to
 * <state_dir>/store.json atomically: write a temp file, fsync, rename,
 * fsync the directory); "etcd" (store_etcd.c: an etcd v3 cluster through its
 * JSON gateway, for many hosts sharing one store).
 * Not thread-safe: the controller uses the store from the main thread.
 */
#ifndef BN_STORE_H
#define BN_STORE_H

#include <stddef.h>
#include <stdint.h>

/* PUT and DEL change a key; EXPECT changes nothing but makes the whole
 * commit fail (-ECANCELED, err naming the key) unless the key holds value
 * now (value NULL: unless the key is absent). That is how two controllers
 * avoid claiming the same thing: EXPECT absent, then PUT. */
enum bn_store_op_kind { BN_STORE_PUT, BN_STORE_DEL, BN_STORE_EXPECT };

struct bn_store_op {
        enum bn_store_op_kind kind;
        const char *key;
        const char *value; /* PUT: the new value; EXPECT: the value required, or NULL */
        uint64_t lease;    /* PUT: 0, or a lease (the key goes when the lease ends) */
};

/* Called by a watch, from the store's own thread, after keys changed at
 * revision rev; rev 0 means changes may have been missed (etcd compacted
 * the history, or the watch was cut and made again): read everything. */
typedef void (*bn_store_watch_fn)(void *arg, uint64_t rev);

/* Called by a watch that has an event function (bn_store_watch_events),
 * from the store's own thread, for each key the revision rev changed, in
 * order, before the bn_store_watch_fn of that revision: value NULL when
 * the key was deleted. Keys of watch_quiet prefixes are not told. So a
 * caller can keep the store's content in memory, moved by the changes
 * alone; a bn_store_watch_fn with rev 0 says it must read everything. */
typedef void (*bn_store_event_fn)(void *arg, uint64_t rev, const char *key, const char *value);

/* Called by list for each pair, in key order; a non-zero return stops the
 * listing and is returned by list. */
typedef int (*bn_store_list_fn)(void *arg, const char *key, const char *value);

/* A store backend. Every callback returns 0 or -errno and must leave the
 * store unchanged when it fails; err (may be NULL) gets a reason. */
struct bn_store_backend {
        const char *name;
        /* Copy the value of key into *value (malloc'd, caller frees).
         * -ENOENT when absent. Must not block for long. */
        int (*get)(void *be, const char *key, char **value);
        /* Every pair whose key starts with prefix ("" = all), in key order.
         * fn must not change the store. */
        int (*list)(void *be, const char *prefix, bn_store_list_fn fn, void *arg);
        /* Apply n operations at once, durably (persisted before it returns),
         * all or nothing. Deleting an absent key is not an error. On success
         * *rev (may be NULL) is the new revision. */
        int (*commit)(void *be, const struct bn_store_op *ops, size_t n, uint64_t *rev, char *err,
                      size_t errlen);
        /* The current revision (0 for a new, empty store). */
        uint64_t (*revision)(void *be);
        /* Free everything (the persisted data stays); stops a watch first. */
        void (*close)(void *be);

        /* Optional (NULL in a backend that one host alone uses). */
        /* A lease of ttl_s seconds: keys PUT with it go when it ends. */
        int (*lease_grant)(void *be, unsigned ttl_s, uint64_t *id, char *err, size_t errlen);
        /* Keep the lease alive for another ttl; -ENOENT when it has ended. */
        int (*lease_keepalive)(void *be, uint64_t id, char *err, size_t errlen);
        /* End the lease now (its keys go). */
        int (*lease_revoke)(void *be, uint64_t id, char *err, size_t errlen);
        /* Watch every key from revision from + 1 on: fn is called from a
         * thread of the backend's own (it must only queue work to the
         * caller's loop, never touch the store). One watch at a time. */
        int (*watch_start)(void *be, uint64_t from, bn_store_watch_fn fn, void *arg, char *err,
                           size_t errlen);
        /* Stop the watch; fn is not called once this returns. */
        void (*watch_stop)(void *be);
        /* Why the last call failed, for calls without err (get, list). */
        const char *(*last_error)(void *be);
        /* Optional: tell ev each key a watch changes (bn_store_event_fn);
         * set before watch_start. */
        void (*watch_events)(void *be, bn_store_event_fn ev, void *arg);
};

struct bn_store {
        const struct bn_store_backend *ops;
        void *be;
};

/* Open the embedded backend on state_dir (created 0700 if missing): loads
 * <state_dir>/store.json when present. A file that cannot be read or is
 * corrupt fails with err naming the file (the controller refuses to start
 * rather than forget its state). */
int bn_store_open_embedded(struct bn_store **out, const char *state_dir, char *err, size_t errlen);

/* Options of the etcd backend; every member may be 0 / NULL. */
struct bn_store_etcd_opts {
        const char *prefix; /* keys live under it in etcd; default "banana/" */
        const char *ca;     /* etcds://: the CA that signed etcd's certificate */
        const char *cert;   /* etcds://: client certificate and key, when etcd asks */
        const char *key;
        long timeout_ms; /* each request's limit; default 3000 */
        /* NULL, or NULL-terminated key prefixes (below prefix) whose changes
         * do not wake the watch: records a host keeps live (its member
         * record, its reported state) change often and ask no reconcile */
        const char *const *watch_quiet;
};

/* Open the etcd backend (store_etcd.c) on url, etcd://HOST:PORT[,...] or
 * etcds://HOST:PORT[,...]; reaches etcd once before it returns, and fails
 * with err naming each endpoint tried when none answers. */
int bn_store_open_etcd(struct bn_store **out, const char *url,
                       const struct bn_store_etcd_opts *opts, char *err, size_t errlen);
void bn_store_close(struct bn_store *s);

int bn_store_get(struct bn_store *s, const char *key, char **value);
int bn_store_list(struct bn_store *s, const char *prefix, bn_store_list_fn fn, void *arg);
int bn_store_commit(struct bn_store *s, const struct bn_store_op *ops, size_t n, uint64_t *rev,
                    char *err, size_t errlen);
int bn_store_put(struct bn_store *s, const char *key, const char *value, char *err, size_t errlen);
int bn_store_del(struct bn_store *s, const char *key, char *err, size_t errlen);
uint64_t bn_store_revision(struct bn_store *s);
/* Leases and watches (store_ops.c): -EOPNOTSUPP when the backend has none. */
int bn_store_lease_grant(struct bn_store *s, unsigned ttl_s, uint64_t *id, char *err,
                         size_t errlen);
int bn_store_lease_keepalive(struct bn_store *s, uint64_t id, char *err, size_t errlen);
int bn_store_lease_revoke(struct bn_store *s, uint64_t id, char *err, size_t errlen);
int bn_store_watch_start(struct bn_store *s, uint64_t from, bn_store_watch_fn fn, void *arg,
                         char *err, size_t errlen);
void bn_store_watch_stop(struct bn_store *s);
/* Before bn_store_watch_start: the watch also tells ev each key it changes.
 * -EOPNOTSUPP when the backend cannot. */
int bn_store_watch_events(struct bn_store *s, bn_store_event_fn ev, void *arg);
/* Why a get or list of s failed with r: the backend's reason (etcd: which
 * endpoints were tried and what each said), else strerror(-r). */
const char *bn_store_why(struct bn_store *s, int r);

#endif
