/* topo.c: topology model helpers: lookups, wire policy, name syntax,
 * what a diff keeps of a migrated Spike,
 * key/value lists, error collection and freeing. The YAML reader is in
 * topo_parse.c.
 */
#include "bn_topo.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bn_topo_err(struct bn_topo_errs *e, const char *file, struct bn_topo_loc loc, const char *fmt,
                 ...)
{
        char *body = NULL, *line = NULL, **nv;
        va_list ap;

        if (e->n >= BN_TOPO_MAX_ERRS)
                return;
        va_start(ap, fmt);
        if (vasprintf(&body, fmt, ap) < 0)
                body = NULL;
        va_end(ap);
        if (!body)
                return;
        if (e->n == BN_TOPO_MAX_ERRS - 1) {
                free(body);
                body = strdup("too many errors, giving up");
                if (!body)
                        return;
        }
        if (loc.line > 0) {
                if (asprintf(&line, "%s:%d:%d: %s", file ? file : "<input>", loc.line, loc.col,
                             body) < 0)
                        line = NULL;
        } else if (asprintf(&line, "%s: %s", file ? file : "<input>", body) < 0) {
                line = NULL;
        }
        free(body);
        if (!line)
                return;
        nv = realloc(e->msg, (e->n + 1) * sizeof(*nv));
        if (!nv) {
                free(line);
                return;
        }
        e->msg = nv;
        e->msg[e->n++] = line;
}

void bn_topo_errs_free(struct bn_topo_errs *e)
{
        for (size_t i = 0; i < e->n; i++)
                free(e->msg[i]);
        free(e->msg);
        e->msg = NULL;
        e->n = 0;
}

void *bn_topo_grow(void *arr, size_t n, size_t size)
{
        size_t cap;

        /* the capacity of an array of n is the power of two >= n (at least
         * 8): it is only reallocated when n reaches one */
        if (arr && (n < 8 || (n & (n - 1)) != 0))
                return arr;
        cap = n < 8 ? 8 : 2 * n;
        return realloc(arr, cap * size);
}

int bn_kvlist_add(struct bn_kvlist *l, const char *key, const char *value)
{
        struct bn_kv *nv = bn_topo_grow(l->v, l->n, sizeof(*nv));

        if (!nv)
                return -ENOMEM;
        l->v = nv;
        nv[l->n].key = strdup(key);
        nv[l->n].value = strdup(value);
        if (!nv[l->n].key || !nv[l->n].value) {
                free(nv[l->n].key);
                free(nv[l->n].value);
                return -ENOMEM;
        }
        l->n++;
        return 0;
}

const char *bn_kvlist_get(const struct bn_kvlist *l, const char *key)
{
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->v[i].key, key) == 0)
                        return l->v[i].value;
        return NULL;
}

void bn_kvlist_free(struct bn_kvlist *l)
{
        for (size_t i = 0; i < l->n; i++) {
                free(l->v[i].key);
                free(l->v[i].value);
        }
        free(l->v);
        l->v = NULL;
        l->n = 0;
}

int bn_kvlist_equal(const struct bn_kvlist *a, const struct bn_kvlist *b)
{
        if (a->n != b->n)
                return 0;
        for (size_t i = 0; i < a->n; i++) {
                const char *v = bn_kvlist_get(b, a->v[i].key);
                if (!v || strcmp(v, a->v[i].value) != 0)
                        return 0;
        }
        return 1;
}

static void policy_free(struct bn_topo_policy *p)
{
        free(p->same_host);
        free(p->same_site);
        free(p->same_domain);
        free(p->other_domain);
        memset(p, 0, sizeof(*p));
}

static void ep_clear(struct bn_topo_ep *e)
{
        free(e->name);
        free(e->home);
        free(e->location);
        free(e->cls);
        free(e->vm);
        free(e->dev);
        bn_kvlist_free(&e->params);
}

static void wire_clear(struct bn_topo_wire *w)
{
        free(w->name);
        free(w->end[0]);
        free(w->end[1]);
        free(w->type);
        bn_kvlist_free(&w->opts);
}

void bn_topo_free(struct bn_topo *t)
{
        if (!t)
                return;
        free(t->host_index.idx);
        free(t->ep_index.idx);
        free(t->wire_index.idx);
        for (size_t i = 0; i < t->n_hosts; i++) {
                free(t->hosts[i].name);
                free(t->hosts[i].site);
                free(t->hosts[i].domain);
        }
        for (size_t i = 0; i < t->n_eps; i++)
                ep_clear(&t->eps[i]);
        for (size_t i = 0; i < t->n_wires; i++)
                wire_clear(&t->wires[i]);
        free(t->hosts);
        free(t->eps);
        free(t->wires);
        policy_free(&t->policy);
        free(t->file);
        free(t);
}

/* Lookups by name: a sorted index of the items (each struct starts with its
 * char *name), made at the first lookup after the count changed, so that a
 * topology of 10,000 endpoints and wires is checked and diffed in n log n,
 * not n^2. Without memory for it, a linear search. */
static const char *name_at(const void *base, size_t stride, size_t i)
{
        const char *n = *(char *const *)((const char *)base + i * stride);
        return n ? n : "";
}

struct index_ctx {
        const void *base;
        size_t stride;
};

static int index_cmp(const void *a, const void *b, void *arg)
{
        const struct index_ctx *x = arg;

        return strcmp(name_at(x->base, x->stride, *(const size_t *)a),
                      name_at(x->base, x->stride, *(const size_t *)b));
}

static const void *find(struct bn_topo_index *ix, const void *base, size_t n, size_t stride,
                        const char *name)
{
        struct index_ctx ctx = {base, stride};
        size_t lo = 0, hi = n;

        if (ix->idx && ix->n + 1 == n) {
                /* one item appended since (a store's change): put it in place */
                const char *nn = name_at(base, stride, n - 1);
                size_t *idx = realloc(ix->idx, n * sizeof(*idx));
                size_t a = 0, z = n - 1;
                if (idx) {
                        while (a < z) {
                                size_t mid = a + (z - a) / 2;
                                if (strcmp(name_at(base, stride, idx[mid]), nn) < 0)
                                        a = mid + 1;
                                else
                                        z = mid;
                        }
                        memmove(&idx[a + 1], &idx[a], (n - 1 - a) * sizeof(*idx));
                        idx[a] = n - 1;
                        ix->idx = idx;
                        ix->n = n;
                }
        }
        if (ix->n != n || !ix->idx) {
                size_t *idx = realloc(ix->idx, (n ? n : 1) * sizeof(*idx));
                if (!idx) {
                        for (size_t i = 0; i < n; i++)
                                if (strcmp(name_at(base, stride, i), name) == 0)
                                        return (const char *)base + i * stride;
                        return NULL;
                }
                for (size_t i = 0; i < n; i++)
                        idx[i] = i;
                qsort_r(idx, n, sizeof(*idx), index_cmp, &ctx);
                ix->idx = idx;
                ix->n = n;
        }
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(name_at(base, stride, ix->idx[mid]), name);
                if (c == 0)
                        return (const char *)base + ix->idx[mid] * stride;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

const struct bn_topo_host *bn_topo_host_find(const struct bn_topo *t, const char *name)
{
        return find(&((struct bn_topo *)t)->host_index, t->hosts, t->n_hosts, sizeof(*t->hosts),
                    name);
}

const struct bn_topo_ep *bn_topo_ep_find(const struct bn_topo *t, const char *name)
{
        return find(&((struct bn_topo *)t)->ep_index, t->eps, t->n_eps, sizeof(*t->eps), name);
}

const struct bn_topo_wire *bn_topo_wire_find(const struct bn_topo *t, const char *name)
{
        return find(&((struct bn_topo *)t)->wire_index, t->wires, t->n_wires, sizeof(*t->wires),
                    name);
}

/* Remove item i of an indexed array (its fields already freed), keeping
 * the index in step: O(n), no sort. */
static void remove_at(struct bn_topo_index *ix, void *base, size_t *n, size_t stride, size_t i)
{
        char *b = base;

        memmove(b + i * stride, b + (i + 1) * stride, (*n - i - 1) * stride);
        (*n)--;
        if (!ix->idx || ix->n != *n + 1) {
                ix->n = (size_t)-1; /* not in step: made again at the next lookup */
                return;
        }
        size_t k = 0;
        for (size_t j = 0; j < ix->n; j++)
                if (ix->idx[j] != i)
                        ix->idx[k++] = ix->idx[j] > i ? ix->idx[j] - 1 : ix->idx[j];
        ix->n = k;
}

int bn_topo_ep_remove(struct bn_topo *t, const char *name)
{
        struct bn_topo_ep *e = (struct bn_topo_ep *)bn_topo_ep_find(t, name);

        if (!e)
                return -ENOENT;
        ep_clear(e);
        remove_at(&t->ep_index, t->eps, &t->n_eps, sizeof(*t->eps), (size_t)(e - t->eps));
        return 0;
}

int bn_topo_host_remove(struct bn_topo *t, const char *name)
{
        struct bn_topo_host *h = (struct bn_topo_host *)bn_topo_host_find(t, name);

        if (!h)
                return -ENOENT;
        free(h->name);
        free(h->site);
        free(h->domain);
        remove_at(&t->host_index, t->hosts, &t->n_hosts, sizeof(*t->hosts), (size_t)(h - t->hosts));
        return 0;
}

void bn_topo_policy_clear(struct bn_topo_policy *p)
{
        policy_free(p);
}

int bn_topo_wire_remove(struct bn_topo *t, const char *name)
{
        struct bn_topo_wire *w = (struct bn_topo_wire *)bn_topo_wire_find(t, name);

        if (!w)
                return -ENOENT;
        wire_clear(w);
        remove_at(&t->wire_index, t->wires, &t->n_wires, sizeof(*t->wires), (size_t)(w - t->wires));
        return 0;
}

void bn_topo_policy_defaults(struct bn_topo_policy *p)
{
        if (!p->same_host)
                p->same_host = strdup("shm");
        if (!p->same_site)
                p->same_site = strdup("vxlan");
        if (!p->same_domain)
                p->same_domain = strdup("vxlan");
        if (!p->other_domain)
                p->other_domain = strdup("vpn");
}

const char *bn_topo_policy_for_class(const char *picked, const char *cls)
{
        if (!cls || strcmp(cls, "vbd") != 0)
                return picked;
        if (strcmp(picked, "vxlan") == 0)
                return "nbd";
        if (strcmp(picked, "vpn") == 0)
                return "nbd-vpn";
        return picked;
}

static int same_attr(const char *a, const char *b)
{
        return a && b && strcmp(a, b) == 0;
}

const char *bn_topo_policy_pick(const struct bn_topo_policy *p, const char *host_a,
                                const struct bn_topo_host *ha, const char *host_b,
                                const struct bn_topo_host *hb)
{
        return bn_topo_policy_why(p, host_a, ha, host_b, hb, NULL, 0);
}

static const char *attr(const struct bn_topo_host *h, bool domain)
{
        const char *v = h ? (domain ? h->domain : h->site) : NULL;

        return v ? v : "unknown";
}

const char *bn_topo_policy_why(const struct bn_topo_policy *p, const char *host_a,
                               const struct bn_topo_host *ha, const char *host_b,
                               const struct bn_topo_host *hb, char *why, size_t len)
{
        char dummy[1];

        if (!why || !len) {
                why = dummy;
                len = sizeof(dummy);
        }
        if (strcmp(host_a, host_b) == 0) {
                snprintf(why, len, "policy: both ends are on host %s", host_a);
                return p->same_host ? p->same_host : "shm";
        }
        if (ha && hb && same_attr(ha->site, hb->site) &&
            (same_attr(ha->domain, hb->domain) || (!ha->domain && !hb->domain))) {
                snprintf(why, len, "policy: hosts %s and %s are on the same site (%s)", host_a,
                         host_b, ha->site);
                return p->same_site ? p->same_site : "vxlan";
        }
        if (ha && hb && same_attr(ha->domain, hb->domain)) {
                snprintf(why, len,
                         "policy: hosts %s and %s are in the same domain (%s), on different "
                         "sites (%s, %s)",
                         host_a, host_b, ha->domain, attr(ha, false), attr(hb, false));
                return p->same_domain ? p->same_domain : "vxlan";
        }
        snprintf(why, len, "policy: hosts %s and %s are in different domains (%s, %s)", host_a,
                 host_b, attr(ha, true), attr(hb, true));
        return p->other_domain ? p->other_domain : "vpn";
}

static int name_char(char c, const char *extra)
{
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                return 1;
        return c && strchr("._:-", c) != NULL ? 1 : (c && extra && strchr(extra, c) != NULL);
}

const char *bn_topo_check_ep_name(const char *name)
{
        size_t len = strlen(name);
        const char *comp = name;
        int ncomp = 0;

        if (len == 0)
                return "empty name";
        if (len > BN_TOPO_NAME_MAX)
                return "name longer than 255 bytes";
        for (const char *s = name;; s++) {
                if (*s == '/' || *s == '\0') {
                        size_t cl = (size_t)(s - comp);
                        if (cl == 0)
                                return "empty name component (leading, trailing or double '/')";
                        if ((cl == 1 && comp[0] == '.') ||
                            (cl == 2 && comp[0] == '.' && comp[1] == '.'))
                                return "'.' or '..' is not a name component";
                        if (cl > 63)
                                return "name component longer than 63 bytes";
                        ncomp++;
                        if (*s == '\0')
                                break;
                        comp = s + 1;
                } else if (!name_char(*s, NULL)) {
                        return "bad character (names use A-Z a-z 0-9 . _ : - and '/')";
                }
        }
        if (ncomp < 2)
                return "an endpoint name is host/something (at least two components)";
        return NULL;
}

const char *bn_topo_check_host_name(const char *name)
{
        size_t len = strlen(name);

        if (len == 0 || len > 63)
                return "a host name is 1 to 63 characters";
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return "'.' and '..' are not host names";
        for (const char *s = name; *s; s++)
                if (!name_char(*s, NULL))
                        return "bad character (host names use A-Z a-z 0-9 . _ : -)";
        return NULL;
}

const char *bn_topo_check_wire_name(const char *name)
{
        size_t len = strlen(name);

        if (len == 0)
                return "empty wire name";
        if (len > BN_TOPO_NAME_MAX)
                return "wire name longer than 255 bytes";
        for (const char *s = name; *s; s++)
                if (!name_char(*s, "/+"))
                        return "bad character in wire name (A-Z a-z 0-9 . _ : - / +)";
        return NULL;
}

const char *bn_topo_check_ident(const char *name)
{
        size_t len = strlen(name);

        if (len == 0 || len > 32)
                return "must be 1 to 32 characters";
        for (const char *s = name; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
                      *s == '-'))
                        return "must be made of a-z 0-9 _ -";
        return NULL;
}

static int parse_ulong(const char *s, unsigned long *out)
{
        char *end;

        if (!*s || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        *out = strtoul(s, &end, 10);
        return (errno || *end) ? -EINVAL : 0;
}

const char *bn_topo_check_wire_key(const char *key)
{
        if (strncmp(key, "end", 3) == 0 && (key[3] == '0' || key[3] == '1') && key[4] == '.')
                return bn_topo_check_ident(key + 5);
        return bn_topo_check_ident(key);
}

const char *bn_topo_check_wire_opt(const char *key, const char *value)
{
        unsigned long v;

        if (strncmp(key, "end", 3) == 0 && (key[3] == '0' || key[3] == '1') && key[4] == '.')
                key += 5; /* one end's: checked as for both */
        if (strcmp(key, "vni") == 0) {
                if (parse_ulong(value, &v) || v > 0xffffff)
                        return "vni must be an integer from 0 to 16777215";
        } else if (strcmp(key, "port") == 0) {
                if (parse_ulong(value, &v) || v < 1 || v > 65535)
                        return "port must be an integer from 1 to 65535";
        } else if (strcmp(key, "mtu") == 0) {
                if (parse_ulong(value, &v) || v < 68 || v > 65535)
                        return "mtu must be an integer from 68 to 65535";
        } else if (strcmp(key, "ring-pages") == 0) {
                if (parse_ulong(value, &v) || v < 1 || v > 256)
                        return "ring-pages must be an integer from 1 to 256";
        }
        return NULL;
}

char *bn_topo_home(const char *name)
{
        const char *slash = strchr(name, '/');

        return slash ? strndup(name, (size_t)(slash - name)) : strdup(name);
}

int bn_topo_split_spike(const char *name, char **vm, char **dev)
{
        const char *a = strchr(name, '/'), *b;

        *vm = *dev = NULL;
        if (!a)
                return -EINVAL;
        b = strchr(a + 1, '/');
        if (!b || strchr(b + 1, '/') || b == a + 1 || !b[1])
                return -EINVAL;
        *vm = strndup(a + 1, (size_t)(b - a - 1));
        *dev = strdup(b + 1);
        if (!*vm || !*dev) {
                free(*vm);
                free(*dev);
                *vm = *dev = NULL;
                return -ENOMEM;
        }
        return 0;
}

const char *bn_topo_spike_class(const char *dev)
{
        if (strncmp(dev, "vif", 3) == 0)
                return "vif";
        if (strncmp(dev, "vbd", 3) == 0 || strncmp(dev, "xvd", 3) == 0)
                return "vbd";
        return NULL;
}

bool bn_topo_migrated(const struct bn_topo *have, const struct bn_topo *want, const char *name)
{
        const struct bn_topo_ep *h = bn_topo_ep_find(have, name), *w = bn_topo_ep_find(want, name);

        return h && w && h->kind == BN_TOPO_SPIKE && w->kind == BN_TOPO_SPIKE &&
               w->location_default && strcmp(h->location, h->home) != 0;
}

const struct bn_topo_ep *bn_topo_as_migrated(const struct bn_topo *have, const struct bn_topo *want,
                                             const struct bn_topo_ep *w, struct bn_topo_ep *buf)
{
        const struct bn_topo_ep *h = bn_topo_ep_find(have, w->name);

        if (!bn_topo_migrated(have, want, w->name))
                return w;
        *buf = *w;
        buf->location = h->location;
        buf->epoch = h->epoch;
        return buf;
}
