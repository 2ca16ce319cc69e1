/* ctl_hosts.c: what the hosts of a cluster tell each other, and what the
 * controller does with it. Each wire type may say what the other hosts
 * need to know of this host to open a wire of it (struct bn_wire_class
 * host_info: vpn's certificate fingerprint and underlay address); the
 * cluster publishes it in this host's member record (wire_info.TYPE,
 * ctl_cluster.c), and a wire end is opened with each end's host's values
 * as endN.KEY unless its options name them. A host that is not a member
 * gives nothing: its peers' ends wait for it (vpn: trust only a member's
 * certificate). And the wire-type policy: a host's site and domain are
 * the topology's, else the ones its bananad was started with (--site,
 * --domain, in its member record).
 */
#include "ctl_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bn_daemon.h"
#include "bn_params.h"

/* The view's record of host (member fields, "state"), or NULL. */
static json_object *view_host(struct bn_ctl *c, const char *host)
{
        json_object *hosts, *h;

        if (!c->view || !json_object_object_get_ex(c->view, "hosts", &hosts) ||
            !json_object_object_get_ex(hosts, host, &h))
                return NULL;
        return h;
}

static const char *view_str(json_object *o, const char *key)
{
        json_object *v;

        return o && json_object_object_get_ex(o, key, &v) &&
                       json_object_is_type(v, json_type_string)
                   ? json_object_get_string(v)
                   : NULL;
}

int ctl_wire_host_info(struct bn_ctl *c, const char *type, struct bn_params *out)
{
        void *ctx;
        const struct bn_wire_class *cls = bn_wire_registry_find(&c->d->wires, type, &ctx);

        if (!cls || !cls->host_info)
                return 0;
        return cls->host_info(ctx, c->opts.address, out);
}

/* endK.KEY = value unless the options set it. */
static int set_end(struct bn_params *p, unsigned k, const char *key, const char *value)
{
        char name[128];

        if (snprintf(name, sizeof(name), "end%u.%s", k, key) >= (int)sizeof(name))
                return -EINVAL;
        return bn_params_get(p, name) ? 0 : bn_params_set(p, name, value);
}

int ctl_wire_add_host_info(struct bn_ctl *c, const char *type, char *const host[2],
                           struct bn_params *p, char *why, size_t len)
{
        struct bn_params mine = BN_PARAMS_INIT;
        int r;

        if ((r = ctl_wire_host_info(c, type, &mine)) || !mine.n || !host[0] || !host[1] ||
            !strcmp(host[0], host[1]))
                goto out;
        for (unsigned k = 0; k < 2 && !r; k++) {
                json_object *info = NULL, *h;
                if (!strcmp(host[k], c->d->host)) { /* this host: its own values */
                        for (size_t i = 0; i < mine.n && !r; i++)
                                r = set_end(p, k, mine.v[i].key, mine.v[i].value);
                        continue;
                }
                if (!c->clustered)
                        continue; /* one host: what the options give, nothing else */
                h = ctl_cluster_host_up(c, host[k]) ? view_host(c, host[k]) : NULL;
                if (h && json_object_object_get_ex(h, "wire_info", &info))
                        json_object_object_get_ex(info, type, &info);
                /* a key this type publishes must come from the member or the options */
                for (size_t i = 0; i < mine.n && !r; i++) {
                        const char *v = view_str(info, mine.v[i].key);
                        char name[128];
                        snprintf(name, sizeof(name), "end%u.%s", k, mine.v[i].key);
                        if (v)
                                r = set_end(p, k, mine.v[i].key, v);
                        else if (!bn_params_get(p, name)) {
                                snprintf(why, len,
                                         "waiting for host %s: a %s wire takes its %s from that "
                                         "host's member record, and %s %s",
                                         host[k], type, mine.v[i].key, host[k],
                                         h ? "published none" : "is not a member of the cluster");
                                r = -EAGAIN;
                        }
                }
        }
out:
        bn_params_clear(&mine);
        if (r == -ENOMEM || r == -EINVAL)
                snprintf(why, len, "cannot add the hosts' wire info: %s", strerror(-r));
        return r;
}

const struct bn_topo_host *ctl_policy_host(struct bn_ctl *c, const struct bn_topo *t,
                                           const char *name, struct bn_topo_host *tmp)
{
        const struct bn_topo_host *th = t ? bn_topo_host_find(t, name) : NULL;
        json_object *h = ctl_cluster_host_up(c, name) ? view_host(c, name) : NULL;
        bool me = !strcmp(name, c->d->host);

        memset(tmp, 0, sizeof(*tmp));
        tmp->name = (char *)name;
        tmp->site = th && th->site ? th->site : (char *)(me ? c->opts.site : view_str(h, "site"));
        tmp->domain =
            th && th->domain ? th->domain : (char *)(me ? c->opts.domain : view_str(h, "domain"));
        return th || tmp->site || tmp->domain ? tmp : NULL;
}

const char *ctl_policy_pick(struct bn_ctl *c, const struct bn_topo *t, const char *a, const char *b,
                            char *why, size_t len)
{
        struct bn_topo_host ta, tb;

        return bn_topo_policy_why(&t->policy, a, ctl_policy_host(c, t, a, &ta), b,
                                  ctl_policy_host(c, t, b, &tb), why, len);
}

/* The device class of a wire's ends (a Spike's may be unknown: the Corm's). */
static const char *wire_cls(const struct bn_topo *t, const struct bn_topo_wire *w)
{
        for (unsigned k = 0; k < 2; k++) {
                const struct bn_topo_ep *e = bn_topo_ep_find(t, w->end[k]);
                if (e && e->cls)
                        return e->cls;
        }
        return NULL;
}

/* The host an end is located on (its record's location, else its home). */
static const char *end_host(const struct bn_topo *t, const char *end, char *buf, size_t len)
{
        const struct bn_topo_ep *e = bn_topo_ep_find(t, end);
        const char *slash = strchr(end, '/');

        if (e && e->location)
                return e->location;
        snprintf(buf, len, "%.*s", slash ? (int)(slash - end) : (int)strlen(end), end);
        return buf;
}

int ctl_policy_repick(struct bn_ctl *c, struct bn_topo *t)
{
        for (size_t i = 0; i < t->n_wires; i++) {
                struct bn_topo_wire *w = &t->wires[i];
                char ha[64], hb[64];
                const char *ty;
                if (!w->type_auto)
                        continue;
                ty = bn_topo_policy_for_class(
                    ctl_policy_pick(c, t, end_host(t, w->end[0], ha, sizeof(ha)),
                                    end_host(t, w->end[1], hb, sizeof(hb)), NULL, 0),
                    wire_cls(t, w));
                if (strcmp(ty, w->type) != 0) {
                        char *n = strdup(ty);
                        if (!n)
                                return -ENOMEM;
                        free(w->type);
                        w->type = n;
                }
        }
        return 0;
}

void ctl_wire_why(struct bn_ctl *c, const struct bn_topo *t, const struct bn_topo_wire *w,
                  char *buf, size_t len)
{
        char ha[64], hb[64];
        const char *ty;

        if (!w->type_auto) {
                snprintf(buf, len, "given %s", w->by_connect ? "to connect" : "in the topology");
                return;
        }
        ty = bn_topo_policy_for_class(ctl_policy_pick(c, t, end_host(t, w->end[0], ha, sizeof(ha)),
                                                      end_host(t, w->end[1], hb, sizeof(hb)), buf,
                                                      len),
                                      wire_cls(t, w));
        if (strcmp(ty, w->type) != 0) { /* the hosts' records changed since */
                size_t n = strlen(buf);
                snprintf(buf + n, len - n, "; %s now, when chosen %s", ty, w->type);
        }
}
