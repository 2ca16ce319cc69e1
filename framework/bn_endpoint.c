/* bn_endpoint.c: endpoint names, endpoints, the endpoint registry and
 * Corm creation (see bn_endpoint.h). */
#include "bn_endpoint.h"
#include "bn_devclass.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_wire.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool comp_char_ok(unsigned char c)
{
        return isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-';
}

int bn_name_validate(const char *name, char *err, size_t errlen)
{
        char dummy[1];
        if (!err) {
                err = dummy;
                errlen = sizeof(dummy);
        }
        if (!name || !*name) {
                snprintf(err, errlen, "empty name");
                return -EINVAL;
        }
        size_t len = strlen(name);
        if (len >= BN_NAME_MAX) {
                snprintf(err, errlen, "name longer than %u bytes", BN_NAME_MAX - 1);
                return -EINVAL;
        }
        unsigned ncomp = 0;
        const char *c = name;
        while (1) {
                const char *slash = strchr(c, '/');
                size_t cl = slash ? (size_t)(slash - c) : strlen(c);
                if (cl == 0) {
                        snprintf(err, errlen, "empty component at offset %zu in '%s'",
                                 (size_t)(c - name), name);
                        return -EINVAL;
                }
                if (cl >= BN_NAME_COMPONENT_MAX) {
                        snprintf(err, errlen, "component '%.*s' longer than %u bytes", (int)cl, c,
                                 BN_NAME_COMPONENT_MAX - 1);
                        return -EINVAL;
                }
                if ((cl == 1 && c[0] == '.') || (cl == 2 && c[0] == '.' && c[1] == '.')) {
                        snprintf(err, errlen, "component '%.*s' not allowed", (int)cl, c);
                        return -EINVAL;
                }
                for (size_t i = 0; i < cl; i++) {
                        if (!comp_char_ok((unsigned char)c[i])) {
                                if (isprint((unsigned char)c[i]))
                                        snprintf(err, errlen,
                                                 "character '%c' not allowed in component '%.*s' "
                                                 "(allowed: A-Z a-z 0-9 . _ : -)",
                                                 c[i], (int)cl, c);
                                else
                                        snprintf(err, errlen,
                                                 "byte 0x%02x not allowed in component %u",
                                                 (unsigned char)c[i], ncomp + 1);
                                return -EINVAL;
                        }
                }
                ncomp++;
                if (!slash)
                        break;
                c = slash + 1;
        }
        if (ncomp < 2) {
                snprintf(err, errlen, "name '%s' needs a host and a device (host/...)", name);
                return -EINVAL;
        }
        return 0;
}

int bn_name_host(const char *name, char *host, size_t len)
{
        if (bn_name_validate(name, NULL, 0))
                return -EINVAL;
        size_t hl = (size_t)(strchr(name, '/') - name);
        if (hl + 1 > len)
                return -ENAMETOOLONG;
        memcpy(host, name, hl);
        host[hl] = '\0';
        return 0;
}

void bn_name_sanitize_component(const char *in, char *out, size_t len)
{
        if (!len)
                return;
        size_t max = len - 1;
        if (max > BN_NAME_COMPONENT_MAX - 1)
                max = BN_NAME_COMPONENT_MAX - 1;
        size_t i = 0;
        for (; in && in[i] && i < max; i++)
                out[i] = comp_char_ok((unsigned char)in[i]) ? in[i] : '_';
        out[i] = '\0';
        if (!strcmp(out, "") || !strcmp(out, ".") || !strcmp(out, "..")) {
                if (len >= 2) {
                        out[0] = '_';
                        out[1] = '\0';
                }
        }
}

const char *bn_ep_state_name(enum bn_ep_state s)
{
        switch (s) {
        case BN_EP_DOWN:
                return "down";
        case BN_EP_READY:
                return "ready";
        case BN_EP_CONNECTED:
                return "connected";
        case BN_EP_ERROR:
                return "error";
        }
        return "?";
}

const char *bn_ep_kind_name(enum bn_ep_kind k)
{
        return k == BN_EP_SPIKE ? "spike" : "corm";
}

int bn_endpoint_new(struct bn_endpoint **out, const char *name, enum bn_ep_kind kind,
                    const struct bn_devclass *cls, struct bn_loop *loop, size_t priv_size,
                    char *err, size_t errlen)
{
        int rc = bn_name_validate(name, err, errlen);
        if (rc)
                return rc;
        struct bn_endpoint *ep = calloc(1, sizeof(*ep));
        if (!ep)
                return -ENOMEM;
        if (priv_size) {
                ep->priv = calloc(1, priv_size);
                if (!ep->priv) {
                        free(ep);
                        return -ENOMEM;
                }
        }
        snprintf(ep->name, sizeof(ep->name), "%s", name);
        ep->kind = kind;
        ep->cls = cls;
        ep->loop = loop;
        ep->state = BN_EP_DOWN;
        bn_params_init(&ep->params);
        pthread_mutex_init(&ep->lock, NULL);
        *out = ep;
        return 0;
}

void bn_endpoint_free(struct bn_endpoint *ep)
{
        if (!ep)
                return;
        bn_params_clear(&ep->params);
        pthread_mutex_destroy(&ep->lock);
        free(ep->ports);
        free(ep->priv);
        free(ep);
}

void bn_endpoint_set_state(struct bn_endpoint *ep, enum bn_ep_state st)
{
        pthread_mutex_lock(&ep->lock);
        ep->state = st;
        if (st != BN_EP_ERROR)
                ep->error[0] = '\0';
        pthread_mutex_unlock(&ep->lock);
}

void bn_endpoint_set_error(struct bn_endpoint *ep, const char *fmt, ...)
{
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        pthread_mutex_lock(&ep->lock);
        ep->state = BN_EP_ERROR;
        snprintf(ep->error, sizeof(ep->error), "%s", msg);
        pthread_mutex_unlock(&ep->lock);
        atomic_fetch_add(&ep->counters.errors, 1);
        bn_err(ep->name, "%s", msg);
}

enum bn_ep_state bn_endpoint_get_state(struct bn_endpoint *ep, char *msg, size_t len)
{
        pthread_mutex_lock(&ep->lock);
        enum bn_ep_state st = ep->state;
        if (msg && len)
                snprintf(msg, len, "%s", ep->error);
        pthread_mutex_unlock(&ep->lock);
        return st;
}

int bn_endpoint_attach_port(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        /* a Spike holds one port; two only during a swap (the new one standby) */
        if (ep->kind == BN_EP_SPIKE && ep->nports >= (port->standby ? 2u : 1u))
                return -EBUSY;
        if (ep->nports == ep->ports_cap) {
                unsigned nc = ep->ports_cap ? ep->ports_cap * 2 : 4;
                struct bn_wire_port **np = realloc(ep->ports, nc * sizeof(*np));
                if (!np)
                        return -ENOMEM;
                ep->ports = np;
                ep->ports_cap = nc;
        }
        ep->ports[ep->nports++] = port;
        return 0;
}

void bn_endpoint_detach_port(struct bn_endpoint *ep, struct bn_wire_port *port)
{
        for (unsigned i = 0; i < ep->nports; i++) {
                if (ep->ports[i] == port) {
                        memmove(&ep->ports[i], &ep->ports[i + 1],
                                (ep->nports - i - 1) * sizeof(ep->ports[0]));
                        ep->nports--;
                        return;
                }
        }
}

struct bn_wire_port *bn_endpoint_port(struct bn_endpoint *ep)
{
        return ep->nports ? ep->ports[0] : NULL;
}

int bn_endpoint_send(struct bn_endpoint *ep, const struct bn_wire_msg *msgs, unsigned n)
{
        struct bn_wire_port *port = bn_endpoint_port(ep);
        if (!port) {
                atomic_fetch_add(&ep->counters.drops, n);
                return -ENOTCONN;
        }
        return bn_wire_send(port, msgs, n);
}

/* ---- registry --------------------------------------------------------- */

void bn_ep_registry_init(struct bn_ep_registry *r)
{
        memset(r, 0, sizeof(*r));
}

void bn_ep_registry_fini(struct bn_ep_registry *r)
{
        if (r->head)
                bn_warn("endpoints", "%u endpoint(s) still registered at exit", r->count);
        memset(r, 0, sizeof(*r));
}

void bn_ep_registry_set_watch(struct bn_ep_registry *r, bn_ep_watch_fn fn, void *arg)
{
        r->watch = fn;
        r->watch_arg = arg;
}

int bn_ep_registry_add(struct bn_ep_registry *r, struct bn_endpoint *ep)
{
        if (bn_ep_registry_find(r, ep->name))
                return -EEXIST;
        ep->next = NULL;
        struct bn_endpoint **pp = &r->head;
        while (*pp)
                pp = &(*pp)->next;
        *pp = ep;
        r->count++;
        if (r->watch)
                r->watch(r->watch_arg, ep, true);
        return 0;
}

int bn_ep_registry_remove(struct bn_ep_registry *r, struct bn_endpoint *ep)
{
        for (struct bn_endpoint **pp = &r->head; *pp; pp = &(*pp)->next) {
                if (*pp == ep) {
                        if (r->watch)
                                r->watch(r->watch_arg, ep, false);
                        *pp = ep->next;
                        ep->next = NULL;
                        r->count--;
                        return 0;
                }
        }
        return -ENOENT;
}

struct bn_endpoint *bn_ep_registry_find(const struct bn_ep_registry *r, const char *name)
{
        for (struct bn_endpoint *ep = r->head; ep; ep = ep->next)
                if (!strcmp(ep->name, name))
                        return ep;
        return NULL;
}

int bn_ep_registry_foreach(const struct bn_ep_registry *r,
                           int (*fn)(struct bn_endpoint *ep, void *arg), void *arg)
{
        for (struct bn_endpoint *ep = r->head; ep; ep = ep->next) {
                int rc = fn(ep, arg);
                if (rc)
                        return rc;
        }
        return 0;
}

/* ---- Corms ------------------------------------------------------------- */

struct corm_call {
        struct bn_endpoint *ep;
        const struct bn_params *params;
        char *err;
        size_t errlen;
        int rc;
};

static void corm_open_on_loop(void *arg)
{
        struct corm_call *c = arg;
        c->rc = c->ep->cls->corm_open(c->ep, c->params, c->err, c->errlen);
}

static void corm_close_on_loop(void *arg)
{
        struct bn_endpoint *ep = arg;
        if (ep->cls->corm_close)
                ep->cls->corm_close(ep);
}

int bn_corm_create(struct bn_ep_registry *r, const struct bn_devclass *cls, const char *name,
                   struct bn_loop *loop, const struct bn_params *params, struct bn_endpoint **out,
                   char *err, size_t errlen)
{
        char why[256] = "";
        struct bn_endpoint *ep = NULL;
        int rc;
        if (!cls->corm_open) {
                snprintf(err, errlen, "corm %s: class %s has no Corms", name, cls->name);
                return -EOPNOTSUPP;
        }
        rc = bn_endpoint_new(&ep, name, BN_EP_CORM, cls, loop, cls->corm_priv_size, why,
                             sizeof(why));
        if (rc)
                goto fail;
        if (bn_ep_registry_find(r, name)) {
                snprintf(why, sizeof(why), "an endpoint of that name exists");
                rc = -EEXIST;
                goto fail;
        }
        if (params) {
                rc = bn_params_copy(&ep->params, params);
                if (rc)
                        goto fail;
        }
        struct corm_call c = {.ep = ep, .params = &ep->params, .err = why, .errlen = sizeof(why)};
        rc = bn_loop_call_wait(loop, corm_open_on_loop, &c);
        if (!rc)
                rc = c.rc;
        if (rc)
                goto fail;
        bn_endpoint_set_state(ep, BN_EP_READY);
        rc = bn_ep_registry_add(r, ep);
        if (rc) {
                bn_loop_call_wait(loop, corm_close_on_loop, ep);
                snprintf(why, sizeof(why), "cannot register: %s", strerror(-rc));
                goto fail;
        }
        bn_info(ep->name, "corm of class %s is ready", cls->name);
        *out = ep;
        return 0;
fail:
        if (err)
                snprintf(err, errlen, "corm %s (class %s): %s", name, cls->name,
                         why[0] ? why : strerror(-rc));
        bn_endpoint_free(ep);
        return rc;
}

/* A question about ep's ports, answered on ep->loop (their owner): the last
 * port (want NULL), or whether want is one of them. */
struct port_query {
        struct bn_endpoint *ep;
        const struct bn_wire_port *want;
        struct bn_wire_port *port;
};

static void port_query_on_loop(void *arg)
{
        struct port_query *q = arg;
        struct bn_endpoint *ep = q->ep;

        q->port = NULL;
        for (unsigned i = ep->nports; i-- > 0;) {
                if (!q->want || ep->ports[i] == q->want) {
                        q->port = ep->ports[i];
                        return;
                }
        }
}

static struct bn_wire_port *port_query(struct bn_endpoint *ep, const struct bn_wire_port *want)
{
        struct port_query q = {.ep = ep, .want = want};

        if (bn_loop_call_wait(ep->loop, port_query_on_loop, &q))
                return NULL;
        return q.port;
}

void bn_endpoint_close_ports(struct bn_endpoint *ep)
{
        struct bn_wire_port *p;

        while ((p = port_query(ep, NULL)))
                bn_wire_port_close(p);
}

bool bn_endpoint_has_ports(struct bn_endpoint *ep)
{
        return port_query(ep, NULL) != NULL;
}

bool bn_endpoint_holds_port(struct bn_endpoint *ep, const struct bn_wire_port *port)
{
        return port && port_query(ep, port) == port;
}

void bn_corm_destroy(struct bn_ep_registry *r, struct bn_endpoint *ep)
{
        bn_endpoint_close_ports(ep);
        bn_loop_call_wait(ep->loop, corm_close_on_loop, ep);
        bn_ep_registry_remove(r, ep);
        bn_info(ep->name, "corm closed");
        bn_endpoint_free(ep);
}
