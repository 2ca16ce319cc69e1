/* bn_topo.h: the topology model (hosts, endpoints, wires, wire policy) and
 * its YAML parser. docs/topology.md is the user-facing reference of the
 * schema; this header is the C view of the same thing.
 *
 * A topology is parsed whole: either every error is collected (one
 * "file:line:column: what is wrong" string each, several per file) and no
 * topology is returned, or the topology is returned with no error.
 * Conventions: 0 or -errno; strings are owned by the struct that holds them.
 */
#ifndef BN_TOPO_H
#define BN_TOPO_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define BN_TOPO_NAME_MAX 255 /* longest endpoint or wire name */
#define BN_TOPO_MAX_ERRS 64  /* errors collected before giving up */
/* Bounds on the work one file can cause (docs/topology.md), checked while
 * reading: refused with file:line:column when passed. */
#define BN_TOPO_DEPTH_MAX       32     /* nesting of mappings and lists */
#define BN_TOPO_ALIAS_MAX       1000   /* aliases (*name) in a file */
#define BN_TOPO_ALIAS_NODES_MAX 10000  /* nodes the aliases expand to, in all */
#define BN_TOPO_NODES_MAX       500000 /* nodes written in the file */
#define BN_TOPO_ITEMS_MAX       50000  /* hosts, endpoints, wires: each */

/* Where something was written in the file (1-based; 0 = not from a file). */
struct bn_topo_loc {
        int line;
        int col;
};

/* An ordered list of key = value strings (class parameters, wire options). */
struct bn_kv {
        char *key;
        char *value;
};
struct bn_kvlist {
        struct bn_kv *v;
        size_t n;
};

struct bn_topo_host {
        char *name;
        char *site;   /* may be NULL: unknown site */
        char *domain; /* may be NULL: unknown administrative domain */
        struct bn_topo_loc loc;
};

enum bn_topo_kind { BN_TOPO_SPIKE = 0, BN_TOPO_CORM = 1 };

struct bn_topo_ep {
        char *name;     /* hierarchical, rooted at its home host: hostA/vm7/vif0 */
        char *home;     /* first component of name */
        char *location; /* host it runs on now (defaults to home) */
        enum bn_topo_kind kind;
        char *cls;               /* device class: vif, vbd, test, ... */
        char *vm;                /* spikes: VM name or UUID (second component) */
        char *dev;               /* spikes: device (third component): vif0, vbd0 */
        struct bn_kvlist params; /* corms (and spikes): class parameters */
        struct bn_topo_loc loc;
        struct bn_topo_loc cls_loc;
        bool by_connect;       /* made by bananactl connect, not declared by a topology */
        uint32_t epoch;        /* spikes: incarnation, bumped by each migration (store only) */
        bool location_default; /* a file gave no location (it is the home) */
};

struct bn_topo_wire {
        char *name;
        char *end[2];
        char *type;                    /* always set after parsing (policy fills it) */
        bool type_auto;                /* type was chosen by the policy */
        struct bn_kvlist opts;         /* vni, port, mtu, ... */
        struct bn_topo_loc loc;        /* the wire's name */
        struct bn_topo_loc end_loc[2]; /* each end (the name's when absent) */
        struct bn_topo_loc type_loc;   /* its type (the name's when absent) */
        bool by_connect;               /* made by bananactl connect, not by a topology */
};

/* Default wire type by placement of the two ends' locations. */
struct bn_topo_policy {
        char *same_host;    /* default "shm" */
        char *same_site;    /* default "vxlan" */
        char *same_domain;  /* default "vxlan": same domain, other site */
        char *other_domain; /* default "vpn" */
};

/* Private to the find functions: a sorted index of one array. */
struct bn_topo_index {
        size_t *idx;
        size_t n; /* items indexed (rebuilt when the count differs) */
};

/* The find functions index by name: an item's name must not change once
 * looked up (add items, do not rename them). */
struct bn_topo {
        char *file; /* name used in error messages */
        struct bn_topo_host *hosts;
        size_t n_hosts;
        struct bn_topo_ep *eps;
        size_t n_eps;
        struct bn_topo_wire *wires;
        size_t n_wires;
        struct bn_topo_policy policy;
        struct bn_topo_index host_index, ep_index, wire_index;
};

/* Collected error messages, each "file:line:column: what is wrong". */
struct bn_topo_errs {
        char **msg;
        size_t n;
};

/* Parse YAML text. On success *out is the topology and returns 0. On a
 * topology error returns -EINVAL with errs filled (at least one); on
 * allocation failure -ENOMEM. errs must be zeroed by the caller and freed
 * with bn_topo_errs_free() in every case. */
int bn_topo_parse(const char *file, const char *buf, size_t len, struct bn_topo **out,
                  struct bn_topo_errs *errs);
/* Same, reading the file at path (an unreadable file is one error). */
int bn_topo_parse_file(const char *path, struct bn_topo **out, struct bn_topo_errs *errs);

void bn_topo_free(struct bn_topo *t);
void bn_topo_errs_free(struct bn_topo_errs *e);
/* Append one error "file:line:column: fmt..." (line 0 omits line:column). */
void bn_topo_err(struct bn_topo_errs *e, const char *file, struct bn_topo_loc loc, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

/* ---- model helpers (config/topo.c) ---- */

const struct bn_topo_host *bn_topo_host_find(const struct bn_topo *t, const char *name);
const struct bn_topo_ep *bn_topo_ep_find(const struct bn_topo *t, const char *name);
const struct bn_topo_wire *bn_topo_wire_find(const struct bn_topo *t, const char *name);
/* For a diff of want (a file) against have (the store): a Spike that
 * migrated away from its home (docs/migration.md) which want declares
 * without a location stays where it runs, with its epoch and its wires'
 * types, rather than being moved back by an apply. bn_topo_migrated: is
 * name such a Spike; bn_topo_as_migrated: w as it should be stored (buf
 * filled when that differs from w). */
bool bn_topo_migrated(const struct bn_topo *have, const struct bn_topo *want, const char *name);
const struct bn_topo_ep *bn_topo_as_migrated(const struct bn_topo *have, const struct bn_topo *want,
                                             const struct bn_topo_ep *w, struct bn_topo_ep *buf);
/* Remove (and free) the endpoint or wire named name: 0, or -ENOENT. The
 * lookup index stays in step, and one item appended after a lookup is put
 * in place at the next one, so a topology kept in memory and changed an
 * item at a time costs O(n) a change, not a sort. */
int bn_topo_ep_remove(struct bn_topo *t, const char *name);
int bn_topo_wire_remove(struct bn_topo *t, const char *name);
int bn_topo_host_remove(struct bn_topo *t, const char *name);
/* Free the policy's members (all NULL after). */
void bn_topo_policy_clear(struct bn_topo_policy *p);

/* Wire type the policy picks for two hosts (host records may be NULL when
 * unknown: then hosts are compared by name only and differ as another
 * domain). Returns a string owned by the policy. */
const char *bn_topo_policy_pick(const struct bn_topo_policy *p, const char *host_a,
                                const struct bn_topo_host *ha, const char *host_b,
                                const struct bn_topo_host *hb);
/* The same, with why (may be NULL) told the reason: "policy: hosts h1 and
 * h2 are in different domains (a, b)". */
const char *bn_topo_policy_why(const struct bn_topo_policy *p, const char *host_a,
                               const struct bn_topo_host *ha, const char *host_b,
                               const struct bn_topo_host *hb, char *why, size_t len);
void bn_topo_policy_defaults(struct bn_topo_policy *p);
/* The type the policy's pick means for a wire of class cls (NULL:
 * unknown): a disk (vbd) needs an ordered, reliable stream, so where the
 * policy says vxlan it gets nbd, where it says vpn nbd-vpn (nbd inside the
 * hosts' tunnel); any other pick, and any other class, keeps the pick. */
const char *bn_topo_policy_for_class(const char *picked, const char *cls);

/* Name syntax (the framework's, bn_endpoint.h). An endpoint name is 2+
 * components of 1..63 [A-Za-z0-9._:-], separated by '/', no "." or ".."
 * component, at most BN_TOPO_NAME_MAX bytes. A wire name uses the same characters plus '/' and '+'.
 * A type or class name is [a-z0-9_-]{1,32}. Each returns NULL when valid, else a static string
 * saying what is wrong. */
const char *bn_topo_check_ep_name(const char *name);
const char *bn_topo_check_wire_name(const char *name);
const char *bn_topo_check_host_name(const char *name);
const char *bn_topo_check_ident(const char *name);
/* Check a wire option's value (vni, port, mtu are numbers in range; others
 * are free strings). NULL when valid. */
const char *bn_topo_check_wire_opt(const char *key, const char *value);
/* NULL if key may name a wire option: an identifier, for both ends, or
 * "end0." / "end1." and one, for that end only (bn_wire_end_params); else
 * why not. In YAML an end's options may also be a map: end0: {addr: ...}. */
const char *bn_topo_check_wire_key(const char *key);

/* Spike fields from a name host/vm/dev: fills vm and dev (malloc'd) and
 * returns 0, or -EINVAL when the name does not have three components. */
int bn_topo_split_spike(const char *name, char **vm, char **dev);
/* Default class of a spike device ("vif3" -> "vif", "vbd0"/"xvda" -> "vbd"),
 * or NULL when the device name does not say. */
const char *bn_topo_spike_class(const char *dev);
/* Home host of an endpoint name (malloc'd first component), NULL on ENOMEM. */
char *bn_topo_home(const char *name);

/* Room for item n of an array of n items of size bytes (arr may be NULL when
 * n is 0): arr or its realloc (grown by doubling: n additions cost n log n,
 * not n^2), NULL on ENOMEM (arr is then unchanged). */
void *bn_topo_grow(void *arr, size_t n, size_t size);

int bn_kvlist_add(struct bn_kvlist *l, const char *key, const char *value);
const char *bn_kvlist_get(const struct bn_kvlist *l, const char *key);
void bn_kvlist_free(struct bn_kvlist *l);
/* 1 when both lists hold the same pairs (order ignored), else 0. */
int bn_kvlist_equal(const struct bn_kvlist *a, const struct bn_kvlist *b);

#endif
