/* xss_int.h: internal structures of the xenstore server library shared by
 * xss_tree.c (nodes, paths, permissions), xss_tx.c (transactions and the
 * tx-aware view of the tree), xss_watch.c (watches and events),
 * xss_proto.c (request handlers) and xss_conn.c (sockets, buffering,
 * domains). Not part of the public API (xss.h).
 */
#ifndef BN_XSS_INT_H
#define BN_XSS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <xen/io/xs_wire.h>

#include "xss.h"

/* Quotas applied to unprivileged domains (defaults of C xenstored). */
#define XSS_Q_NODES        1000          /* nodes owned by a domain */
#define XSS_Q_ENTRY_SIZE   2048          /* bytes of one node's value */
#define XSS_Q_WATCHES      128           /* watches of a domain */
#define XSS_Q_TX           10            /* open transactions of a domain */
#define XSS_Q_TX_NODES     1024          /* nodes one transaction of a domain tracks */
#define XSS_Q_PERMS        5             /* entries in one node's permission list */
#define XSS_Q_CONNS        16            /* connections of one domain */
#define XSS_OUT_STOP_READ  (64 * 1024)   /* stop reading requests above */
#define XSS_OUT_DROP_EVENT (1024 * 1024) /* drop watch events above */

#define XSS_HDR_LEN ((uint32_t)sizeof(struct xsd_sockmsg))

enum xss_log_level { XSS_LOG_ERROR, XSS_LOG_WARN, XSS_LOG_INFO, XSS_LOG_DEBUG };

/* One entry of a permission list: 'r', 'w', 'b' (both) or 'n' (none). */
struct xss_perm {
        uint32_t id;
        char perm;
};

struct xss_perms {
        uint32_t n;
        struct xss_perm *p; /* p[0]: owner and default for everybody else */
};

/* Intrusive hash table keyed by a string. */
struct xss_hent {
        char *key;
        struct xss_hent *next;
};

struct xss_htab {
        struct xss_hent **b;
        size_t nb, n;
};

/* A node: also used for transaction-local copies and tombstones. */
struct xss_node {
        struct xss_hent h; /* h.key: the absolute path */
        char *value;
        uint32_t vlen;
        struct xss_perms perms;
        char **child; /* base names, in creation order */
        uint32_t nchild, cchild;
        uint64_t gen; /* changes whenever value, perms or children change */
        bool deleted; /* tombstone (transaction overlay only) */
};

/* A change to report to watchers: written/created, or removed (subtree). */
struct xss_event {
        struct xss_event *next;
        char *path;
        bool rm;
        struct xss_perms perms; /* of the node, to decide who may see it */
};

struct xss_conn;
struct xss_domain;

struct xss_tx {
        struct xss_tx *next;
        uint32_t id;
        struct xss_conn *conn;
        struct xss_htab overlay; /* path -> struct xss_node (copy/tombstone) */
        struct xss_htab access;  /* path -> struct xss_acc (gen first seen) */
        struct xss_event *ev_head, **ev_tail;
        int new_nodes; /* nodes created minus removed, for the quota */
};

struct xss_acc {
        struct xss_hent h;
        uint64_t gen; /* 0: did not exist */
};

struct xss_watch {
        struct xss_watch *next;
        char *path; /* absolute or @special */
        char *token;
        bool rel; /* report paths relative to the domain's home */
};

enum xss_ep_kind { XSS_EP_LISTEN, XSS_EP_CONN };

struct xss_ep {
        enum xss_ep_kind kind;
};

struct xss_listener {
        struct xss_ep ep;
        int fd;
        char *path;
        uint32_t domid;
        bool priv;
        struct xss_listener *next_dead; /* s->dead_lis */
};

struct xss_outmsg {
        struct xss_outmsg *next;
        uint32_t len, off;
        char data[]; /* header + payload */
};

struct xss_conn {
        struct xss_ep ep;
        struct xss_conn *next; /* s->conns or s->dead */
        struct xss *s;
        int fd;
        uint32_t domid;
        bool priv;
        bool dead;
        bool reading; /* EPOLLIN enabled */
        bool writing; /* EPOLLOUT enabled */
        char in[XSS_HDR_LEN + XENSTORE_PAYLOAD_MAX];
        uint32_t inlen;
        struct xss_outmsg *out_head, **out_tail;
        size_t out_bytes;
        uint64_t dropped; /* watch events not queued (client too slow) */
        struct xss_watch *watches;
        struct xss_tx *txs;
        char home[32]; /* "/local/domain/<id>" */
};

struct xss_domain {
        struct xss_domain *next;
        uint32_t domid;
        char *name;
        struct xss_listener *lis;
        int nodes, watches, txs, conns;
};

struct xss {
        int epfd;
        struct xss_listener *dom0;
        struct xss_htab nodes;
        uint64_t gen;
        uint32_t next_txid;
        struct xss_conn *conns, *dead;
        struct xss_listener *dead_lis;
        struct xss_conn sys;                 /* the server itself acting as Dom0 (domain setup) */
        char body[XENSTORE_PAYLOAD_MAX + 1]; /* the request being handled */
        struct xss_domain *domains;
        struct xss_perms special_intro, special_release;
        int in_dispatch;
        void (*log_fn)(void *opaque, int level, const char *msg);
        void *log_opaque;
};

/* A way of looking at the tree: directly, or through a transaction. */
struct xss_view {
        struct xss *s;
        struct xss_tx *tx; /* NULL: the committed tree */
        struct xss_conn *conn;
};

/* xss_conn.c */
void xss_logf(struct xss *s, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int xss_send(struct xss_conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id, const void *p1,
             uint32_t l1, const void *p2, uint32_t l2);
void xss_conn_close(struct xss_conn *c, const char *why);
struct xss_domain *xss_domain_find(struct xss *s, uint32_t domid);
int xss_domain_release(struct xss *s, uint32_t domid);

/* xss_tree.c */
int xss_htab_init(struct xss_htab *t, size_t nb);
struct xss_hent *xss_htab_get(const struct xss_htab *t, const char *key);
int xss_htab_put(struct xss_htab *t, struct xss_hent *e); /* key must be absent */
struct xss_hent *xss_htab_del(struct xss_htab *t, const char *key);
void xss_htab_fini(struct xss_htab *t, void (*free_fn)(struct xss_hent *));

int xss_perms_copy(struct xss_perms *dst, const struct xss_perms *src);
void xss_perms_free(struct xss_perms *p);
int xss_perms_parse(struct xss_perms *out, const char *buf, uint32_t len);   /* "r0\0b7\0" */
unsigned xss_perms_for(const struct xss_conn *c, const struct xss_perms *p); /* 1:r 2:w */
#define XSS_PERM_R 1u
#define XSS_PERM_W 2u

int xss_path_canon(const struct xss_conn *c, const char *in, char *out, size_t outsz,
                   bool allow_special);
bool xss_path_is_child(const char *child, const char *parent); /* or equal */

struct xss_node *xss_node_new(const char *path, const struct xss_perms *perms);
struct xss_node *xss_node_dup(const struct xss_node *n);
void xss_node_free(struct xss_node *n);
void xss_node_free_hent(struct xss_hent *h);
int xss_node_set_value(struct xss_node *n, const char *v, uint32_t len);
int xss_node_add_child(struct xss_node *n, const char *base);
void xss_node_del_child(struct xss_node *n, const char *base);
void xss_account(struct xss *s, uint32_t owner, int delta);

int xss_tree_init(struct xss *s);
/* Tree operations through a view; they return 0 or -errno and record
 * events (fired at once, or at commit within a transaction). */
int xss_tree_check_read(struct xss_view *v, const char *path, const struct xss_node **out);
int xss_tree_write(struct xss_view *v, const char *path, const char *val, uint32_t vlen,
                   bool mkdir_only);
int xss_tree_rm(struct xss_view *v, const char *path);
int xss_tree_set_perms(struct xss_view *v, const char *path, const struct xss_perms *p);

/* xss_tx.c */
struct xss_node *xss_view_lookup(struct xss_view *v, const char *path);
struct xss_node *xss_view_mut(struct xss_view *v, const char *path);
int xss_view_insert(struct xss_view *v, struct xss_node *n);
void xss_view_delete(struct xss_view *v, const char *path);
void xss_view_touch(struct xss_view *v, struct xss_node *n);
void xss_view_event(struct xss_view *v, const char *path, bool rm, const struct xss_perms *p);
int xss_tx_start(struct xss_conn *c, uint32_t *id);
struct xss_tx *xss_tx_find(struct xss_conn *c, uint32_t id);
int xss_tx_end(struct xss_tx *tx, bool commit);
void xss_tx_free_all(struct xss_conn *c);

/* xss_watch.c */
int xss_watch_add(struct xss_conn *c, const char *path, const char *token, bool rel);
int xss_watch_del(struct xss_conn *c, const char *path, const char *token);
void xss_watch_free_all(struct xss_conn *c);
void xss_watch_send(struct xss_conn *c, const struct xss_watch *w, const char *path);
void xss_fire(struct xss *s, const struct xss_event *ev);
void xss_fire_special(struct xss *s, const char *name, const struct xss_perms *p);

/* xss_proto.c */
void xss_handle(struct xss_conn *c, const struct xsd_sockmsg *hdr, const char *body);

#endif
