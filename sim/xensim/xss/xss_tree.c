/* xss_tree.c: the xenstore tree: a string hash table of nodes keyed by
 * absolute path, each node holding its value, permission list and the base
 * names of its children; path syntax checks; permission parsing and the
 * xenstored access rule; and the tree operations (write, mkdir, rm,
 * set_perms) done through a view (see xss_tx.c) so they work the same inside
 * and outside a transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xss_int.h"

/* ---- hash table ---- */

static size_t hash_str(const char *s)
{
        size_t h = 1469598103934665603ull;

        while (*s) {
                h ^= (unsigned char)*s++;
                h *= 1099511628211ull;
        }
        return h;
}

int xss_htab_init(struct xss_htab *t, size_t nb)
{
        t->b = calloc(nb, sizeof(*t->b));
        t->nb = nb;
        t->n = 0;
        return t->b ? 0 : -ENOMEM;
}

struct xss_hent *xss_htab_get(const struct xss_htab *t, const char *key)
{
        struct xss_hent *e;

        for (e = t->b[hash_str(key) % t->nb]; e; e = e->next)
                if (strcmp(e->key, key) == 0)
                        return e;
        return NULL;
}

static void htab_grow(struct xss_htab *t)
{
        size_t nb = t->nb * 2, i;
        struct xss_hent **b = calloc(nb, sizeof(*b));

        if (!b)
                return; /* keep working with longer chains */
        for (i = 0; i < t->nb; i++) {
                struct xss_hent *e = t->b[i], *next;

                for (; e; e = next) {
                        size_t k = hash_str(e->key) % nb;

                        next = e->next;
                        e->next = b[k];
                        b[k] = e;
                }
        }
        free(t->b);
        t->b = b;
        t->nb = nb;
}

int xss_htab_put(struct xss_htab *t, struct xss_hent *e)
{
        size_t k;

        if (t->n >= t->nb)
                htab_grow(t);
        k = hash_str(e->key) % t->nb;
        e->next = t->b[k];
        t->b[k] = e;
        t->n++;
        return 0;
}

struct xss_hent *xss_htab_del(struct xss_htab *t, const char *key)
{
        struct xss_hent **pp;

        for (pp = &t->b[hash_str(key) % t->nb]; *pp; pp = &(*pp)->next) {
                struct xss_hent *e = *pp;

                if (strcmp(e->key, key) == 0) {
                        *pp = e->next;
                        t->n--;
                        return e;
                }
        }
        return NULL;
}

void xss_htab_fini(struct xss_htab *t, void (*free_fn)(struct xss_hent *))
{
        size_t i;

        if (!t->b)
                return;
        for (i = 0; i < t->nb; i++) {
                struct xss_hent *e = t->b[i], *next;

                for (; e; e = next) {
                        next = e->next;
                        free_fn(e);
                }
        }
        free(t->b);
        t->b = NULL;
        t->n = 0;
}

/* ---- permissions ---- */

int xss_perms_copy(struct xss_perms *dst, const struct xss_perms *src)
{
        dst->p = malloc(src->n * sizeof(*dst->p));
        if (!dst->p)
                return -ENOMEM;
        memcpy(dst->p, src->p, src->n * sizeof(*dst->p));
        dst->n = src->n;
        return 0;
}

void xss_perms_free(struct xss_perms *p)
{
        free(p->p);
        p->p = NULL;
        p->n = 0;
}

/* A list of nul-terminated "<r|w|b|n><domid>" strings filling buf exactly. */
int xss_perms_parse(struct xss_perms *out, const char *buf, uint32_t len)
{
        uint32_t n = 0, i, off;
        int rc = -EINVAL;

        out->p = NULL;
        out->n = 0;
        if (len == 0 || buf[len - 1] != '\0')
                goto out;
        for (i = 0; i < len; i++)
                n += buf[i] == '\0';
        out->p = calloc(n, sizeof(*out->p));
        if (!out->p) {
                rc = -ENOMEM;
                goto out;
        }
        for (off = 0, i = 0; i < n; i++) {
                const char *e = buf + off;
                size_t l = strlen(e);
                char *end;
                unsigned long id;

                if (l < 2 || !strchr("rwbn", e[0]) || e[1] < '0' || e[1] > '9')
                        goto out;
                errno = 0;
                id = strtoul(e + 1, &end, 10);
                if (errno || *end || id > 0xffff)
                        goto out;
                out->p[i].perm = e[0];
                out->p[i].id = (uint32_t)id;
                off += (uint32_t)l + 1;
        }
        out->n = n;
        rc = 0;
out:
        if (rc)
                xss_perms_free(out);
        return rc;
}

static unsigned perm_bits(char c)
{
        switch (c) {
        case 'r':
                return XSS_PERM_R;
        case 'w':
                return XSS_PERM_W;
        case 'b':
                return XSS_PERM_R | XSS_PERM_W;
        default:
                return 0;
        }
}

/* xenstored's rule: Dom0 and the owner get everything; a later entry naming
 * the domain decides; otherwise the first entry's access applies. */
unsigned xss_perms_for(const struct xss_conn *c, const struct xss_perms *p)
{
        uint32_t i;

        if (c->priv || p->n == 0 || p->p[0].id == c->domid)
                return XSS_PERM_R | XSS_PERM_W;
        for (i = 1; i < p->n; i++)
                if (p->p[i].id == c->domid)
                        return perm_bits(p->p[i].perm);
        return perm_bits(p->p[0].perm);
}

/* ---- paths ---- */

static bool valid_char(char ch)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '-' || ch == '/' || ch == '_' || ch == '@';
}

/* Make an absolute path of a client's path (relative ones are under the
 * connection's /local/domain/<id>) and check its syntax and length. */
int xss_path_canon(const struct xss_conn *c, const char *in, char *out, size_t outsz,
                   bool allow_special)
{
        size_t len = strlen(in), i;

        if (len == 0)
                return -EINVAL;
        if (in[0] == '@') {
                if (!allow_special ||
                    (strcmp(in, "@introduceDomain") && strcmp(in, "@releaseDomain")))
                        return -EINVAL;
                snprintf(out, outsz, "%s", in);
                return 0;
        }
        if (in[0] == '/') {
                if (len > XENSTORE_ABS_PATH_MAX || len >= outsz)
                        return -EINVAL;
                memcpy(out, in, len + 1);
        } else {
                if (len > XENSTORE_REL_PATH_MAX)
                        return -EINVAL;
                if ((size_t)snprintf(out, outsz, "%s/%s", c->home, in) >= outsz)
                        return -EINVAL;
                len = strlen(out);
                if (len > XENSTORE_ABS_PATH_MAX)
                        return -EINVAL;
        }
        for (i = 0; i < len; i++) {
                if (!valid_char(out[i]))
                        return -EINVAL;
                if (out[i] == '/' && out[i + 1] == '/')
                        return -EINVAL;
        }
        if (len > 1 && out[len - 1] == '/')
                return -EINVAL;
        return 0;
}

bool xss_path_is_child(const char *child, const char *parent)
{
        size_t l = strlen(parent);

        if (parent[0] == '@')
                return strcmp(child, parent) == 0;
        if (strcmp(parent, "/") == 0)
                return child[0] == '/';
        return strncmp(child, parent, l) == 0 && (child[l] == '\0' || child[l] == '/');
}

/* Parent of an absolute path other than "/" (written into out). */
static void path_parent(const char *path, char *out)
{
        const char *slash = strrchr(path, '/');
        size_t l = (size_t)(slash - path);

        if (l == 0)
                l = 1;
        memcpy(out, path, l);
        out[l] = '\0';
}

/* ---- nodes ---- */

struct xss_node *xss_node_new(const char *path, const struct xss_perms *perms)
{
        struct xss_node *n = calloc(1, sizeof(*n));

        if (!n)
                return NULL;
        n->h.key = strdup(path);
        if (!n->h.key || (perms && xss_perms_copy(&n->perms, perms))) {
                xss_node_free(n);
                return NULL;
        }
        return n;
}

struct xss_node *xss_node_dup(const struct xss_node *src)
{
        struct xss_node *n = xss_node_new(src->h.key, &src->perms);
        uint32_t i;

        if (!n)
                return NULL;
        n->gen = src->gen;
        if (xss_node_set_value(n, src->value, src->vlen))
                goto fail;
        for (i = 0; i < src->nchild; i++)
                if (xss_node_add_child(n, src->child[i]))
                        goto fail;
        return n;
fail:
        xss_node_free(n);
        return NULL;
}

void xss_node_free(struct xss_node *n)
{
        uint32_t i;

        if (!n)
                return;
        for (i = 0; i < n->nchild; i++)
                free(n->child[i]);
        free(n->child);
        free(n->value);
        xss_perms_free(&n->perms);
        free(n->h.key);
        free(n);
}

void xss_node_free_hent(struct xss_hent *h)
{
        xss_node_free((struct xss_node *)h);
}

int xss_node_set_value(struct xss_node *n, const char *v, uint32_t len)
{
        char *nv = malloc(len + 1);

        if (!nv)
                return -ENOMEM;
        if (len)
                memcpy(nv, v, len);
        nv[len] = '\0';
        free(n->value);
        n->value = nv;
        n->vlen = len;
        return 0;
}

int xss_node_add_child(struct xss_node *n, const char *base)
{
        char *dup;

        if (n->nchild == n->cchild) {
                uint32_t nc = n->cchild ? n->cchild * 2 : 4;
                char **c = realloc(n->child, nc * sizeof(*c));

                if (!c)
                        return -ENOMEM;
                n->child = c;
                n->cchild = nc;
        }
        dup = strdup(base);
        if (!dup)
                return -ENOMEM;
        n->child[n->nchild++] = dup;
        return 0;
}

void xss_node_del_child(struct xss_node *n, const char *base)
{
        uint32_t i;

        for (i = 0; i < n->nchild; i++) {
                if (strcmp(n->child[i], base) == 0) {
                        free(n->child[i]);
                        memmove(&n->child[i], &n->child[i + 1],
                                (n->nchild - i - 1) * sizeof(n->child[0]));
                        n->nchild--;
                        return;
                }
        }
}

void xss_account(struct xss *s, uint32_t owner, int delta)
{
        struct xss_domain *d = xss_domain_find(s, owner);

        if (!d)
                return;
        d->nodes += delta;
        if (d->nodes < 0)
                d->nodes = 0;
}

int xss_tree_init(struct xss *s)
{
        struct xss_perm p0 = {.id = 0, .perm = 'n'};
        struct xss_perms perms = {.n = 1, .p = &p0};
        struct xss_node *root;
        int rc = xss_htab_init(&s->nodes, 1024);

        if (rc)
                return rc;
        root = xss_node_new("/", &perms);
        if (!root || xss_node_set_value(root, "", 0)) {
                xss_node_free(root);
                return -ENOMEM;
        }
        root->gen = ++s->gen;
        return xss_htab_put(&s->nodes, &root->h);
}

/* ---- operations through a view ---- */

/* Nearest existing ancestor of a missing path (the root always exists). */
static struct xss_node *existing_ancestor(struct xss_view *v, const char *path, char *buf)
{
        struct xss_node *n = NULL;

        strcpy(buf, path);
        while (!n && strcmp(buf, "/") != 0) {
                path_parent(buf, buf);
                n = xss_view_lookup(v, buf);
        }
        return n ? n : xss_view_lookup(v, "/");
}

/* 0 with *out set; -ENOENT if missing (and the parent is readable, so the
 * absence is no secret); -EACCES otherwise. */
int xss_tree_check_read(struct xss_view *v, const char *path, const struct xss_node **out)
{
        char buf[XENSTORE_ABS_PATH_MAX + 64];
        const struct xss_node *n = xss_view_lookup(v, path);

        *out = n;
        if (!n) {
                n = existing_ancestor(v, path, buf);
                return n && (xss_perms_for(v->conn, &n->perms) & XSS_PERM_R) ? -ENOENT : -EACCES;
        }
        return xss_perms_for(v->conn, &n->perms) & XSS_PERM_R ? 0 : -EACCES;
}

static int quota_nodes(struct xss_view *v, int more)
{
        struct xss_domain *d;

        if (v->conn->priv)
                return 0;
        d = xss_domain_find(v->s, v->conn->domid);
        if (d && d->nodes + (v->tx ? v->tx->new_nodes : 0) + more > XSS_Q_NODES)
                return -ENOSPC;
        return 0;
}

/* Create the missing nodes down to path: each inherits its parent's
 * permissions, owned by the creating domain when it is unprivileged. */
static int create_path(struct xss_view *v, const char *path, char *buf)
{
        struct xss_node *anc = existing_ancestor(v, path, buf);
        size_t pos = strlen(buf);
        int rc, count = 0;
        size_t i;

        if (!(xss_perms_for(v->conn, &anc->perms) & XSS_PERM_W))
                return -EACCES;
        for (i = pos; path[i]; i++)
                count += path[i] == '/';
        if (pos == 1)
                count++; /* ancestor is "/": first component has no extra '/' */
        rc = quota_nodes(v, count);
        if (rc)
                return rc;
        while (strcmp(buf, path) != 0) {
                struct xss_node *parent = xss_view_mut(v, buf), *n;
                size_t start = strlen(buf) + (strcmp(buf, "/") ? 1 : 0);
                size_t end = start;

                if (!parent)
                        return -ENOMEM;
                while (path[end] && path[end] != '/')
                        end++;
                memcpy(buf, path, end);
                buf[end] = '\0';
                n = xss_node_new(buf, &parent->perms);
                if (!n || xss_node_set_value(n, "", 0)) {
                        xss_node_free(n);
                        return -ENOMEM;
                }
                if (!v->conn->priv)
                        n->perms.p[0].id = v->conn->domid;
                rc = xss_node_add_child(parent, buf + start);
                if (rc) {
                        xss_node_free(n);
                        return rc;
                }
                xss_view_touch(v, parent);
                rc = xss_view_insert(v, n);
                if (rc)
                        return rc;
        }
        return 0;
}

int xss_tree_write(struct xss_view *v, const char *path, const char *val, uint32_t vlen,
                   bool mkdir_only)
{
        char buf[XENSTORE_ABS_PATH_MAX + 64];
        struct xss_node *n = xss_view_lookup(v, path);
        int rc;

        if (!v->conn->priv && vlen > XSS_Q_ENTRY_SIZE)
                return -ENOSPC;
        if (n) {
                if (!(xss_perms_for(v->conn, &n->perms) & XSS_PERM_W))
                        return -EACCES;
                if (mkdir_only)
                        return 0;
        } else {
                rc = create_path(v, path, buf);
                if (rc)
                        return rc;
        }
        n = xss_view_mut(v, path);
        if (!n)
                return -ENOMEM;
        if (!mkdir_only) {
                rc = xss_node_set_value(n, val, vlen);
                if (rc)
                        return rc;
        }
        xss_view_touch(v, n);
        xss_view_event(v, path, false, &n->perms);
        return 0;
}

int xss_tree_rm(struct xss_view *v, const char *path)
{
        char buf[XENSTORE_ABS_PATH_MAX + 64];
        struct xss_node *n = xss_view_lookup(v, path), *parent;
        struct xss_perms perms = {0};
        char **todo = NULL;
        size_t ntodo = 0, ctodo = 0, i;
        int rc;

        if (strcmp(path, "/") == 0)
                return -EINVAL;
        path_parent(path, buf);
        if (!n) {
                const struct xss_node *dummy;

                /* xenstored: removing a missing node is fine if its parent exists. */
                if (xss_view_lookup(v, buf))
                        return 0;
                return xss_tree_check_read(v, path, &dummy);
        }
        if (!(xss_perms_for(v->conn, &n->perms) & XSS_PERM_W))
                return -EACCES;
        rc = xss_perms_copy(&perms, &n->perms);
        if (rc)
                goto out;
        /* Collect the subtree breadth-first (no recursion: paths may be deep). */
        rc = -ENOMEM;
        todo = malloc(sizeof(*todo) * 16);
        if (!todo || !(todo[0] = strdup(path)))
                goto out;
        ctodo = 16;
        ntodo = 1;
        for (i = 0; i < ntodo; i++) {
                struct xss_node *c = xss_view_lookup(v, todo[i]);
                uint32_t k;

                for (k = 0; c && k < c->nchild; k++) {
                        char *p;

                        if (ntodo == ctodo) {
                                char **nt = realloc(todo, sizeof(*todo) * ctodo * 2);

                                if (!nt)
                                        goto out;
                                todo = nt;
                                ctodo *= 2;
                        }
                        if (asprintf(&p, "%s/%s", todo[i], c->child[k]) < 0)
                                goto out;
                        todo[ntodo++] = p;
                }
        }
        for (i = ntodo; i-- > 0;)
                xss_view_delete(v, todo[i]);
        parent = xss_view_mut(v, buf);
        if (parent) {
                xss_node_del_child(parent, strrchr(path, '/') + 1);
                xss_view_touch(v, parent);
        }
        xss_view_event(v, path, true, &perms);
        rc = 0;
out:
        for (i = 0; i < ntodo; i++)
                free(todo[i]);
        free(todo);
        xss_perms_free(&perms);
        return rc;
}

int xss_tree_set_perms(struct xss_view *v, const char *path, const struct xss_perms *p)
{
        const struct xss_node *ro;
        struct xss_node *n;
        struct xss_perms np;
        int rc = xss_tree_check_read(v, path, &ro);

        if (rc == -EACCES && ro)
                rc = 0; /* the owner may chmod what it cannot read */
        if (rc)
                return rc;
        if (!v->conn->priv) {
                if (ro->perms.p[0].id != v->conn->domid)
                        return -EACCES;
                if (p->n > XSS_Q_PERMS)
                        return -ENOSPC;
                if (p->p[0].id != ro->perms.p[0].id)
                        return -EPERM; /* an unprivileged domain cannot give nodes away */
        }
        n = xss_view_mut(v, path);
        if (!n)
                return -ENOMEM;
        rc = xss_perms_copy(&np, p);
        if (rc)
                return rc;
        if (!v->tx) {
                xss_account(v->s, n->perms.p[0].id, -1);
                xss_account(v->s, np.p[0].id, 1);
        }
        xss_perms_free(&n->perms);
        n->perms = np;
        xss_view_touch(v, n);
        xss_view_event(v, path, false, &n->perms);
        return 0;
}
