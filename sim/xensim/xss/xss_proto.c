/* xss_proto.c: one handler per xs_wire.h request type. Each parses and
 * checks the payload (nul-terminated strings, path syntax, numbers), runs
 * the operation (in the request's transaction when tx_id is set and the
 * type takes part in transactions) and queues exactly one reply carrying
 * the request's req_id and tx_id: the result, "OK", or XS_ERROR with the
 * errno name libxenstore maps back (xsd_errors).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xss_int.h"

#define MAX_ARGS 8
#define PATHBUF  (XENSTORE_ABS_PATH_MAX + 64)

struct req {
        struct xss_conn *c;
        const struct xsd_sockmsg *h;
        const char *body;
        const char *argv[MAX_ARGS];
        unsigned argc;
};

static void reply(struct req *r, const void *data, uint32_t len)
{
        xss_send(r->c, r->h->type, r->h->req_id, r->h->tx_id, data, len, NULL, 0);
}

static void reply_ok(struct req *r)
{
        reply(r, "OK", 3);
}

static void reply_err(struct req *r, int err)
{
        const char *name = "EINVAL";
        size_t i;

        if (err < 0)
                err = -err;
        for (i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++) {
                if (xsd_errors[i].errnum == err) {
                        name = xsd_errors[i].errstring;
                        break;
                }
        }
        xss_send(r->c, XS_ERROR, r->h->req_id, r->h->tx_id, name, (uint32_t)strlen(name) + 1, NULL,
                 0);
}

static void reply_rc(struct req *r, int rc)
{
        if (rc)
                reply_err(r, rc);
        else
                reply_ok(r);
}

/* Split the payload in exactly n nul-terminated strings (n == 0: any
 * number up to MAX_ARGS). */
static int split(struct req *r, unsigned n)
{
        uint32_t len = r->h->len, off = 0;

        r->argc = 0;
        if (len == 0 || r->body[len - 1] != '\0')
                return -EINVAL;
        while (off < len) {
                if (r->argc == MAX_ARGS)
                        return -EINVAL;
                r->argv[r->argc++] = r->body + off;
                off += (uint32_t)strlen(r->body + off) + 1;
        }
        return n && r->argc != n ? -EINVAL : 0;
}

static int parse_domid(const char *s, uint32_t *out)
{
        char *end;
        unsigned long v;

        if (!*s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v >= 0x7ff0)
                return -EINVAL;
        *out = (uint32_t)v;
        return 0;
}

static int one_path(struct req *r, char *path)
{
        int rc = split(r, 1);

        return rc ? rc : xss_path_canon(r->c, r->argv[0], path, PATHBUF, false);
}

static void do_read(struct req *r, struct xss_view *v)
{
        char path[PATHBUF];
        const struct xss_node *n;
        int rc = one_path(r, path);

        if (!rc)
                rc = xss_tree_check_read(v, path, &n);
        if (rc)
                reply_err(r, rc);
        else
                reply(r, n->value, n->vlen);
}

static void do_write(struct req *r, struct xss_view *v)
{
        char path[PATHBUF];
        const char *nul = memchr(r->body, '\0', r->h->len);
        uint32_t off;
        int rc;

        if (!nul) {
                reply_err(r, EINVAL);
                return;
        }
        off = (uint32_t)(nul - r->body) + 1;
        rc = xss_path_canon(r->c, r->body, path, PATHBUF, false);
        if (!rc)
                rc = xss_tree_write(v, path, r->body + off, r->h->len - off, false);
        reply_rc(r, rc);
}

static void do_mkdir(struct req *r, struct xss_view *v)
{
        char path[PATHBUF];
        int rc = one_path(r, path);

        reply_rc(r, rc ? rc : xss_tree_write(v, path, "", 0, true));
}

static void do_rm(struct req *r, struct xss_view *v)
{
        char path[PATHBUF];
        int rc = one_path(r, path);

        reply_rc(r, rc ? rc : xss_tree_rm(v, path));
}

static void do_directory(struct req *r, struct xss_view *v)
{
        char path[PATHBUF], *buf = NULL;
        const struct xss_node *n;
        size_t len = 0, i;
        int rc = one_path(r, path);

        if (!rc)
                rc = xss_tree_check_read(v, path, &n);
        if (rc)
                goto out;
        for (i = 0; i < n->nchild; i++)
                len += strlen(n->child[i]) + 1;
        rc = -E2BIG;
        if (len > XENSTORE_PAYLOAD_MAX)
                goto out;
        rc = -ENOMEM;
        buf = malloc(len + 1);
        if (!buf)
                goto out;
        for (len = 0, i = 0; i < n->nchild; i++) {
                size_t l = strlen(n->child[i]) + 1;

                memcpy(buf + len, n->child[i], l);
                len += l;
        }
        reply(r, buf, (uint32_t)len);
        rc = 0;
out:
        if (rc)
                reply_err(r, rc);
        free(buf);
}

/* Request "path\0offset\0"; reply "<generation>\0" then as many children
 * (from byte offset into the list) as fit, with an extra empty string once
 * the list is complete (xenstored's format, which libxenstore expects). */
static void do_directory_part(struct req *r, struct xss_view *v)
{
        char path[PATHBUF], gen[32], *all = NULL, *out = NULL;
        const struct xss_node *n;
        size_t total = 0, i, off, glen, len, maxlen;
        char *end;
        int rc = split(r, 2);

        if (!rc)
                rc = xss_path_canon(r->c, r->argv[0], path, PATHBUF, false);
        if (!rc)
                rc = xss_tree_check_read(v, path, &n);
        if (rc)
                goto out;
        rc = -EINVAL;
        errno = 0;
        off = strtoul(r->argv[1], &end, 10);
        if (errno || *end || !*r->argv[1])
                goto out;
        rc = -ENOMEM;
        for (i = 0; i < n->nchild; i++)
                total += strlen(n->child[i]) + 1;
        all = malloc(total + 1);
        out = malloc(XENSTORE_PAYLOAD_MAX + 1);
        if (!all || !out)
                goto out;
        for (total = 0, i = 0; i < n->nchild; i++) {
                size_t l = strlen(n->child[i]) + 1;

                memcpy(all + total, n->child[i], l);
                total += l;
        }
        glen = (size_t)snprintf(gen, sizeof(gen), "%llu", (unsigned long long)n->gen) + 1;
        memcpy(out, gen, glen);
        len = 0;
        if (off < total) {
                maxlen = XENSTORE_PAYLOAD_MAX - glen - 1;
                while (off + len < total) {
                        size_t l = strlen(all + off + len) + 1;

                        if (len + l > maxlen)
                                break;
                        len += l;
                }
                memcpy(out + glen, all + off, len);
        }
        if (off + len >= total)
                out[glen + len++] = '\0';
        reply(r, out, (uint32_t)(glen + len));
        rc = 0;
out:
        if (rc)
                reply_err(r, rc);
        free(all);
        free(out);
}

static const struct xss_perms *special_perms(struct xss *s, const char *name)
{
        return strcmp(name, "@introduceDomain") == 0 ? &s->special_intro : &s->special_release;
}

static void do_get_perms(struct req *r, struct xss_view *v)
{
        char path[PATHBUF], buf[XENSTORE_PAYLOAD_MAX];
        const struct xss_perms *p;
        const struct xss_node *n;
        size_t len = 0;
        uint32_t i;
        int rc = split(r, 1);

        if (!rc)
                rc = xss_path_canon(r->c, r->argv[0], path, PATHBUF, true);
        if (rc)
                goto out;
        if (path[0] == '@') {
                p = special_perms(v->s, path);
                if (!(xss_perms_for(r->c, p) & XSS_PERM_R))
                        rc = -EACCES;
        } else {
                rc = xss_tree_check_read(v, path, &n);
                p = rc ? NULL : &n->perms;
        }
        if (rc)
                goto out;
        for (i = 0; i < p->n && len + 16 < sizeof(buf); i++)
                len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%c%u", p->p[i].perm,
                                        p->p[i].id) +
                       1;
        rc = i < p->n ? -E2BIG : 0;
        if (!rc)
                reply(r, buf, (uint32_t)len);
out:
        if (rc)
                reply_err(r, rc);
}

static void do_set_perms(struct req *r, struct xss_view *v)
{
        char path[PATHBUF];
        struct xss_perms p = {0};
        const char *nul = memchr(r->body, '\0', r->h->len);
        uint32_t off;
        int rc = -EINVAL;

        if (!nul)
                goto out;
        off = (uint32_t)(nul - r->body) + 1;
        rc = xss_path_canon(r->c, r->body, path, PATHBUF, true);
        if (!rc)
                rc = xss_perms_parse(&p, r->body + off, r->h->len - off);
        if (rc)
                goto out;
        if (path[0] == '@') {
                struct xss_perms *sp = (struct xss_perms *)special_perms(v->s, path);

                rc = -EACCES;
                if (!r->c->priv)
                        goto out;
                xss_perms_free(sp);
                *sp = p;
                p.p = NULL;
                rc = 0;
                goto out;
        }
        rc = xss_tree_set_perms(v, path, &p);
out:
        xss_perms_free(&p);
        reply_rc(r, rc);
}

static void do_watch(struct req *r, bool add)
{
        char path[PATHBUF];
        int rc = split(r, 2);
        bool rel;

        if (!rc)
                rc = xss_path_canon(r->c, r->argv[0], path, PATHBUF, true);
        if (rc)
                goto out;
        rel = r->argv[0][0] != '/' && r->argv[0][0] != '@';
        rc = add ? xss_watch_add(r->c, path, r->argv[1], rel)
                 : xss_watch_del(r->c, path, r->argv[1]);
out:
        reply_rc(r, rc);
        if (!rc && add) {
                struct xss_watch *w;

                /* The initial event, right after the acknowledgement. */
                for (w = r->c->watches; w; w = w->next) {
                        if (strcmp(w->path, path) == 0 && strcmp(w->token, r->argv[1]) == 0) {
                                xss_watch_send(r->c, w, path);
                                break;
                        }
                }
        }
}

static void do_tx_start(struct req *r)
{
        char buf[16];
        uint32_t id;
        int rc = r->h->tx_id ? -EBUSY : xss_tx_start(r->c, &id);

        if (rc) {
                reply_err(r, rc);
                return;
        }
        reply(r, buf, (uint32_t)snprintf(buf, sizeof(buf), "%u", id) + 1);
}

static void do_tx_end(struct req *r, struct xss_tx *tx)
{
        int rc = split(r, 1);

        if (!rc && strcmp(r->argv[0], "T") && strcmp(r->argv[0], "F"))
                rc = -EINVAL;
        if (!rc && !tx)
                rc = -ENOENT;
        if (!rc)
                rc = xss_tx_end(tx, r->argv[0][0] == 'T');
        reply_rc(r, rc);
}

/* XS_GET_DOMAIN_PATH, XS_IS_DOMAIN_INTRODUCED, XS_INTRODUCE, XS_RELEASE,
 * XS_RESUME: domains come and go through xss_domain_add/remove, so these
 * report, acknowledge or (release) remove what the daemon set up. */
static void do_domain(struct req *r)
{
        char buf[48];
        uint32_t domid = 0;
        int rc = split(r, r->h->type == XS_INTRODUCE ? 3 : 1);
        bool known;

        if (!rc)
                rc = parse_domid(r->argv[0], &domid);
        if (rc)
                goto out;
        known = domid == 0 || xss_domain_find(r->c->s, domid);
        switch (r->h->type) {
        case XS_GET_DOMAIN_PATH:
                reply(r, buf, (uint32_t)snprintf(buf, sizeof(buf), "/local/domain/%u", domid) + 1);
                return;
        case XS_IS_DOMAIN_INTRODUCED:
                reply(r, known ? "T" : "F", 2);
                return;
        default:
                break;
        }
        rc = -EACCES;
        if (!r->c->priv)
                goto out;
        rc = known ? 0 : -ENOENT;
        if (r->h->type == XS_INTRODUCE)
                rc = known ? 0 : -EINVAL; /* xensim creates domains, not xenstore */
        else if (r->h->type == XS_RELEASE && known)
                rc = domid == 0 ? -EINVAL : xss_domain_release(r->c->s, domid);
out:
        reply_rc(r, rc);
}

static void do_control(struct req *r)
{
        int rc = split(r, 0);

        if (!rc && !r->c->priv)
                rc = -EACCES;
        if (rc)
                goto out;
        if (strcmp(r->argv[0], "print") == 0 && r->argc >= 2) {
                xss_logf(r->c->s, XSS_LOG_INFO, "control: %s", r->argv[1]);
        } else if (strcmp(r->argv[0], "help") == 0) {
                static const char help[] = "Supported commands:\nhelp\nprint <string>\n";

                reply(r, help, sizeof(help));
                return;
        } else {
                rc = -EINVAL;
        }
out:
        reply_rc(r, rc);
}

static bool in_tx_type(uint32_t t)
{
        return t == XS_READ || t == XS_WRITE || t == XS_MKDIR || t == XS_RM || t == XS_DIRECTORY ||
               t == XS_DIRECTORY_PART || t == XS_GET_PERMS || t == XS_SET_PERMS ||
               t == XS_TRANSACTION_END;
}

void xss_handle(struct xss_conn *c, const struct xsd_sockmsg *hdr, const char *body)
{
        struct req r = {.c = c, .h = hdr, .body = body};
        struct xss_view v = {.s = c->s, .conn = c};

        if (hdr->tx_id && in_tx_type(hdr->type)) {
                v.tx = xss_tx_find(c, hdr->tx_id);
                if (!v.tx && hdr->type != XS_TRANSACTION_END) {
                        reply_err(&r, ENOENT);
                        return;
                }
                /* Bound what a domain's transaction may track (xenstored:
                 * quota-transaction-nodes). */
                if (v.tx && !c->priv && hdr->type != XS_TRANSACTION_END &&
                    v.tx->access.n + v.tx->overlay.n >= XSS_Q_TX_NODES) {
                        reply_err(&r, ENOSPC);
                        return;
                }
        }
        switch (hdr->type) {
        case XS_READ:
                do_read(&r, &v);
                break;
        case XS_WRITE:
                do_write(&r, &v);
                break;
        case XS_MKDIR:
                do_mkdir(&r, &v);
                break;
        case XS_RM:
                do_rm(&r, &v);
                break;
        case XS_DIRECTORY:
                do_directory(&r, &v);
                break;
        case XS_DIRECTORY_PART:
                do_directory_part(&r, &v);
                break;
        case XS_GET_PERMS:
                do_get_perms(&r, &v);
                break;
        case XS_SET_PERMS:
                do_set_perms(&r, &v);
                break;
        case XS_WATCH:
        case XS_UNWATCH:
                do_watch(&r, hdr->type == XS_WATCH);
                break;
        case XS_TRANSACTION_START:
                do_tx_start(&r);
                break;
        case XS_TRANSACTION_END:
                do_tx_end(&r, v.tx);
                break;
        case XS_GET_DOMAIN_PATH:
        case XS_IS_DOMAIN_INTRODUCED:
        case XS_INTRODUCE:
        case XS_RELEASE:
        case XS_RESUME:
                do_domain(&r);
                break;
        case XS_RESET_WATCHES:
                xss_watch_free_all(c);
                xss_tx_free_all(c);
                reply_ok(&r);
                break;
        case XS_CONTROL:
                do_control(&r);
                break;
        case XS_SET_TARGET:
                reply_err(&r, ENOSYS);
                break;
        default: /* XS_WATCH_EVENT, XS_ERROR, the removed XS_RESTRICT */
                reply_err(&r, EINVAL);
                break;
        }
}
