/* store_ops.c: the generic wrappers of the store's optional parts (leases
 * and watches), which a backend may not have: -EOPNOTSUPP then, with err
 * saying which backend it is.
 */
#include "bn_store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int unsupported(struct bn_store *s, const char *what, char *err, size_t errlen)
{
        if (err && errlen)
                snprintf(err, errlen, "the %s store has no %s", s->ops->name, what);
        return -EOPNOTSUPP;
}

int bn_store_lease_grant(struct bn_store *s, unsigned ttl_s, uint64_t *id, char *err, size_t errlen)
{
        if (!s->ops->lease_grant)
                return unsupported(s, "leases", err, errlen);
        return s->ops->lease_grant(s->be, ttl_s, id, err, errlen);
}

int bn_store_lease_keepalive(struct bn_store *s, uint64_t id, char *err, size_t errlen)
{
        if (!s->ops->lease_keepalive)
                return unsupported(s, "leases", err, errlen);
        return s->ops->lease_keepalive(s->be, id, err, errlen);
}

int bn_store_lease_revoke(struct bn_store *s, uint64_t id, char *err, size_t errlen)
{
        if (!s->ops->lease_revoke)
                return unsupported(s, "leases", err, errlen);
        return s->ops->lease_revoke(s->be, id, err, errlen);
}

int bn_store_watch_start(struct bn_store *s, uint64_t from, bn_store_watch_fn fn, void *arg,
                         char *err, size_t errlen)
{
        if (!s->ops->watch_start)
                return unsupported(s, "watch", err, errlen);
        return s->ops->watch_start(s->be, from, fn, arg, err, errlen);
}

const char *bn_store_why(struct bn_store *s, int r)
{
        const char *w = s->ops->last_error ? s->ops->last_error(s->be) : NULL;

        return w && *w ? w : strerror(-r);
}

int bn_store_watch_events(struct bn_store *s, bn_store_event_fn ev, void *arg)
{
        if (!s->ops->watch_events)
                return -EOPNOTSUPP;
        s->ops->watch_events(s->be, ev, arg);
        return 0;
}

void bn_store_watch_stop(struct bn_store *s)
{
        if (s->ops->watch_stop)
                s->ops->watch_stop(s->be);
}
