/* xss_watch.c: watches of a connection and the firing of XS_WATCH_EVENT
 * messages. A watch on P fires for a change to P or below it; the removal
 * of a subtree also fires the watches set below the removed node (with
 * their own path). A connection sees an event only if it may read the
 * changed node (for a removal: the node as it was). The special watches
 * @introduceDomain / @releaseDomain fire when the daemon adds or removes a
 * domain, to connections allowed by the special node's permissions (Dom0
 * only, unless Dom0 granted more with XS_SET_PERMS).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xss_int.h"

static void watch_free(struct xss_watch *w)
{
        free(w->path);
        free(w->token);
        free(w);
}

int xss_watch_add(struct xss_conn *c, const char *path, const char *token, bool rel)
{
        struct xss_domain *d = c->priv ? NULL : xss_domain_find(c->s, c->domid);
        struct xss_watch *w, **pp;

        for (pp = &c->watches; *pp; pp = &(*pp)->next)
                if (strcmp((*pp)->path, path) == 0 && strcmp((*pp)->token, token) == 0)
                        return -EEXIST;
        if (d && d->watches >= XSS_Q_WATCHES)
                return -E2BIG;
        w = calloc(1, sizeof(*w));
        if (!w || !(w->path = strdup(path)) || !(w->token = strdup(token))) {
                if (w)
                        watch_free(w);
                return -ENOMEM;
        }
        w->rel = rel;
        *pp = w; /* keep registration order */
        if (d)
                d->watches++;
        return 0;
}

int xss_watch_del(struct xss_conn *c, const char *path, const char *token)
{
        struct xss_domain *d = c->priv ? NULL : xss_domain_find(c->s, c->domid);
        struct xss_watch **pp;

        for (pp = &c->watches; *pp; pp = &(*pp)->next) {
                struct xss_watch *w = *pp;

                if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0) {
                        *pp = w->next;
                        watch_free(w);
                        if (d && d->watches > 0)
                                d->watches--;
                        return 0;
                }
        }
        return -ENOENT;
}

void xss_watch_free_all(struct xss_conn *c)
{
        struct xss_domain *d = c->priv ? NULL : xss_domain_find(c->s, c->domid);

        while (c->watches) {
                struct xss_watch *w = c->watches;

                c->watches = w->next;
                watch_free(w);
                if (d && d->watches > 0)
                        d->watches--;
        }
}

/* Queue one event; paths of relative watches are reported relative. */
void xss_watch_send(struct xss_conn *c, const struct xss_watch *w, const char *path)
{
        size_t hl = strlen(c->home);
        const char *rep = path;

        if (w->rel && strncmp(path, c->home, hl) == 0 && path[hl] == '/')
                rep = path + hl + 1;
        if (c->out_bytes > XSS_OUT_DROP_EVENT) {
                /* Log the first drop and then every 1000th: no log flood. */
                if (c->dropped++ % 1000 == 0)
                        xss_logf(c->s, XSS_LOG_WARN,
                                 "dom%u: client does not read its events, dropped %llu so far "
                                 "(now %.200s, token %.64s)",
                                 c->domid, (unsigned long long)c->dropped, path, w->token);
                return;
        }
        xss_send(c, XS_WATCH_EVENT, 0, 0, rep, (uint32_t)strlen(rep) + 1, w->token,
                 (uint32_t)strlen(w->token) + 1);
}

void xss_fire(struct xss *s, const struct xss_event *ev)
{
        struct xss_conn *c, *next;

        for (c = s->conns; c; c = next) {
                const struct xss_watch *w, *wn;
                bool may_read;

                next = c->next; /* c may be closed (out of memory) below */
                if (c->dead || !c->watches)
                        continue;
                may_read = xss_perms_for(c, &ev->perms) & XSS_PERM_R;
                for (w = c->watches; w && !c->dead; w = wn) {
                        const char *p = NULL;

                        wn = w->next; /* w is freed if c is closed */
                        if (w->path[0] == '@')
                                continue;
                        if (xss_path_is_child(ev->path, w->path))
                                p = ev->path;
                        else if (ev->rm && xss_path_is_child(w->path, ev->path))
                                p = w->path;
                        if (p && may_read)
                                xss_watch_send(c, w, p);
                }
        }
}

void xss_fire_special(struct xss *s, const char *name, const struct xss_perms *p)
{
        struct xss_conn *c, *next;

        for (c = s->conns; c; c = next) {
                const struct xss_watch *w, *wn;

                next = c->next;
                if (c->dead || !(xss_perms_for(c, p) & XSS_PERM_R))
                        continue;
                for (w = c->watches; w && !c->dead; w = wn) {
                        wn = w->next;
                        if (strcmp(w->path, name) == 0)
                                xss_watch_send(c, w, name);
                }
        }
}
