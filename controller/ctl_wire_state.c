/* ctl_wire_state.c: what a wire's ends look like now, for status, wires,
 * the report and the metrics: each end's link state (read from the ports'
 * loops, one call per loop for all wires), the wire's state in words, and
 * its counters as JSON.
 */
#include "ctl_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bn_loop.h"
#include "bn_wire.h"

struct bn_wire_link *ctl_wires_links(struct bn_ctl *c)
{
        struct bn_wire_port **ports = calloc(2 * c->n_wires + 1, sizeof(*ports));
        struct bn_wire_link *links = calloc(2 * c->n_wires + 1, sizeof(*links));

        if (!ports || !links)
                goto fail;
        for (size_t i = 0; i < c->n_wires; i++)
                for (int j = 0; j < 2; j++)
                        ports[2 * i + (size_t)j] = c->wires[i].port[j];
        if (bn_wire_ports_link(ports, 2 * c->n_wires, links))
                goto fail;
        free(ports);
        return links;
fail:
        free(ports);
        free(links);
        return NULL;
}

void ctl_wire_state_link(struct bn_ctl *c, const struct rt_wire *w, const struct bn_wire_link *link,
                         char *buf, size_t len)
{
        int open = 0, want = 0;

        (void)c;
        if (w->old_type) {
                snprintf(buf, len, "swapping from %s", w->old_type);
                return;
        }
        for (int j = 0; j < 2; j++) {
                want += w->local[j];
                open += w->local[j] && w->port[j];
        }
        if (open == want) {
                /* every local end is open: is its link up? */
                for (int j = 0; j < 2; j++) {
                        struct bn_wire_link l;
                        if (!w->port[j])
                                continue;
                        if (link)
                                l = link[j];
                        else if (bn_wire_port_link(w->port[j], &l))
                                continue;
                        if (!l.up) {
                                snprintf(buf, len, "down: %s", l.reason);
                                return;
                        }
                }
                snprintf(buf, len, "up");
        } else if (w->error[0] && strncmp(w->error, "waiting", 7) == 0)
                snprintf(buf, len, "%s", w->error);
        else if (w->error[0])
                snprintf(buf, len, "error: %s", w->error);
        else
                snprintf(buf, len, "down");
        (void)c;
}

void ctl_wire_state(struct bn_ctl *c, const struct rt_wire *w, char *buf, size_t len)
{
        ctl_wire_state_link(c, w, NULL, buf, len);
}

struct stats_call {
        struct bn_wire_port *port;
        struct bn_wire_stats st;
};

static void stats_on_loop(void *arg)
{
        struct stats_call *sc = arg;

        bn_wire_port_stats(sc->port, &sc->st);
}

void ctl_port_stats(struct bn_wire_port *port, struct bn_wire_stats *st)
{
        struct stats_call sc = {.port = port};

        bn_loop_call_wait(port->loop, stats_on_loop, &sc);
        *st = sc.st;
}

/* {"end": 0, "up": true, "mtu": 0, "reason": "", "caps": {...}} */
static json_object *ctl_link_json(struct bn_wire_port *port, int end)
{
        json_object *o = json_object_new_object(), *caps = json_object_new_object();
        struct bn_wire_link l;

        if (!o || !caps || bn_wire_port_link(port, &l)) {
                json_object_put(o);
                json_object_put(caps);
                return NULL;
        }
        json_object_object_add(o, "end", json_object_new_int(end));
        json_object_object_add(o, "up", json_object_new_boolean(l.up));
        json_object_object_add(o, "mtu", json_object_new_int64(l.mtu));
        json_object_object_add(o, "reason", json_object_new_string(l.reason));
        json_object_object_add(caps, "ordered", json_object_new_boolean(l.caps.ordered));
        json_object_object_add(caps, "reliable", json_object_new_boolean(l.caps.reliable));
        json_object_object_add(caps, "gso", json_object_new_boolean(l.caps.gso));
        json_object_object_add(caps, "control", json_object_new_boolean(l.caps.control));
        json_object_object_add(caps, "max_msg", json_object_new_int64(l.caps.max_msg));
        json_object_object_add(o, "caps", caps);
        return o;
}

void ctl_wire_counters(struct bn_ctl *c, const struct rt_wire *w, json_object *obj)
{
        struct bn_wire_stats sum = {0}, st;
        json_object *links = json_object_new_array(), *detail;

        (void)c;
        for (int j = 0; j < 2; j++) {
                if (!w->port[j])
                        continue;
                ctl_port_stats(w->port[j], &st);
                if (links)
                        json_object_array_add(links, ctl_link_json(w->port[j], j));
                sum.msgs_out += st.msgs_out;
                sum.bytes_out += st.bytes_out;
                sum.msgs_in += st.msgs_in;
                sum.bytes_in += st.bytes_in;
                sum.drop_full += st.drop_full;
                sum.drop_too_big += st.drop_too_big;
                sum.drop_malformed += st.drop_malformed;
                sum.drop_down += st.drop_down;
                sum.drop_other += st.drop_other;
                for (unsigned k = 0; k < BN_WIRE_DETAIL_MAX && st.detail[k].name; k++)
                        bn_wire_stats_detail(&sum, st.detail[k].name, st.detail[k].n);
        }
        json_object_object_add(obj, "msgs_out", json_object_new_int64((int64_t)sum.msgs_out));
        json_object_object_add(obj, "bytes_out", json_object_new_int64((int64_t)sum.bytes_out));
        json_object_object_add(obj, "msgs_in", json_object_new_int64((int64_t)sum.msgs_in));
        json_object_object_add(obj, "bytes_in", json_object_new_int64((int64_t)sum.bytes_in));
        json_object_object_add(
            obj, "drops",
            json_object_new_int64((int64_t)(sum.drop_full + sum.drop_too_big + sum.drop_malformed +
                                            sum.drop_down + sum.drop_other)));
        if (links)
                json_object_object_add(obj, "links", links);
        json_object *why = json_object_new_object();
        if (why) {
                json_object_object_add(why, "full", json_object_new_int64((int64_t)sum.drop_full));
                json_object_object_add(why, "too_big",
                                       json_object_new_int64((int64_t)sum.drop_too_big));
                json_object_object_add(why, "malformed",
                                       json_object_new_int64((int64_t)sum.drop_malformed));
                json_object_object_add(why, "down", json_object_new_int64((int64_t)sum.drop_down));
                json_object_object_add(why, "other",
                                       json_object_new_int64((int64_t)sum.drop_other));
                json_object_object_add(obj, "drops_by_reason", why);
        }
        if ((detail = json_object_new_object())) {
                for (unsigned k = 0; k < BN_WIRE_DETAIL_MAX && sum.detail[k].name; k++)
                        json_object_object_add(detail, sum.detail[k].name,
                                               json_object_new_int64((int64_t)sum.detail[k].n));
                json_object_object_add(obj, "drops_detail", detail);
        }
}
