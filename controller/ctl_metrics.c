/* ctl_metrics.c: bananad's optional metrics listener (--metrics): GET
 * /metrics answers the Prometheus text exposition format (version 0.0.4)
 * with the counters bananactl shows, per endpoint and per wire end (drops by
 * reason), built on the main loop from the same state bananactl reads.
 *
 * HTTP is libmicrohttpd's, driven by the main loop (MHD_USE_EPOLL without an
 * internal thread: its epoll fd is one fd of the loop, and a timer expires
 * idle connections), so the listener has no thread and no lock of its own.
 * The listening socket (TCP HOST:PORT or a Unix socket) is made here and
 * handed to libmicrohttpd. No secret is exported: names, states and counters
 * only, never wire options (keys live there).
 */
#include "ctl_int.h"

#include <errno.h>
#include <grp.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bn_daemon.h"
#include "bn_endpoint.h"
#include "bn_hv.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_wire.h"

#define CTX             "metrics"
#define METRICS_CONNS   16  /* concurrent scrapers */
#define METRICS_TIMEOUT 10  /* seconds an idle connection is kept */
#define METRICS_TICK_MS 500 /* connection timeouts are checked this often */
#define METRICS_RUNS    8   /* MHD_run rounds per wake-up, at most */
#define PROM_CTYPE      "text/plain; version=0.0.4; charset=utf-8"

struct bn_metrics {
        struct bn_daemon *d;
        struct MHD_Daemon *mhd;
        int listen_fd; /* owned by mhd once it started */
        int epoll_fd;  /* mhd's, on d->loop */
        struct bn_timer *tick;
        char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
        time_t started;
};

/* ---- the exposition text ------------------------------------------------ */

/* A label value, escaped as the format says (\\, \", \n). */
static void put_label(FILE *f, const char *v)
{
        for (; *v; v++) {
                if (*v == '\\' || *v == '"')
                        fputc('\\', f);
                if (*v == '\n') {
                        fputs("\\n", f);
                        continue;
                }
                fputc(*v, f);
        }
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Ends with {endpoint="..."} or the labels so far; the caller closes. */
static void ep_sample(FILE *f, const char *metric, const struct bn_endpoint *ep,
                      const char *extra_key, const char *extra_val, uint64_t v)
{
        fprintf(f, "%s{endpoint=\"", metric);
        put_label(f, ep->name);
        if (extra_key) {
                fprintf(f, "\",%s=\"", extra_key);
                put_label(f, extra_val);
        }
        fprintf(f, "\"} %llu\n", (unsigned long long)v);
}

struct ep_pass {
        FILE *f;
        int what;
};

enum { EP_INFO, EP_MSGS, EP_BYTES, EP_DROPS, EP_ERRORS, EP_NPASS };

static int ep_write(struct bn_endpoint *ep, void *arg)
{
        struct ep_pass *p = arg;
        FILE *f = p->f;

        switch (p->what) {
        case EP_INFO: {
                enum bn_ep_state s = bn_endpoint_get_state(ep, NULL, 0);
                fputs("banana_endpoint_info{endpoint=\"", f);
                put_label(f, ep->name);
                fprintf(f, "\",kind=\"%s\",class=\"", bn_ep_kind_name(ep->kind));
                put_label(f, ep->cls ? ep->cls->name : "-");
                fprintf(f, "\",state=\"%s\"} 1\n", bn_ep_state_name(s));
                break;
        }
        case EP_MSGS:
                ep_sample(f, "banana_endpoint_messages_total", ep, "direction", "to_device",
                          ep->counters.msgs_in);
                ep_sample(f, "banana_endpoint_messages_total", ep, "direction", "from_device",
                          ep->counters.msgs_out);
                break;
        case EP_BYTES:
                ep_sample(f, "banana_endpoint_bytes_total", ep, "direction", "to_device",
                          ep->counters.bytes_in);
                ep_sample(f, "banana_endpoint_bytes_total", ep, "direction", "from_device",
                          ep->counters.bytes_out);
                break;
        case EP_DROPS:
                ep_sample(f, "banana_endpoint_drops_total", ep, NULL, NULL, ep->counters.drops);
                break;
        case EP_ERRORS:
                ep_sample(f, "banana_endpoint_errors_total", ep, NULL, NULL, ep->counters.errors);
                break;
        }
        return 0;
}

static void write_endpoints(FILE *f, struct bn_daemon *d)
{
        static const char *const names[EP_NPASS][3] = {
            {"banana_endpoint_info", "gauge",
             "An endpoint running here (always 1), with its kind, class and state."},
            {"banana_endpoint_messages_total", "counter",
             "Messages through an endpoint: to_device from its wires, from_device to them."},
            {"banana_endpoint_bytes_total", "counter", "Bytes through an endpoint, by direction."},
            {"banana_endpoint_drops_total", "counter",
             "Messages an endpoint dropped (no wire, wire refused, bad message)."},
            {"banana_endpoint_errors_total", "counter", "Errors an endpoint's device reported."},
        };
        for (int i = 0; i < EP_NPASS; i++) {
                struct ep_pass p = {.f = f, .what = i};
                family(f, names[i][0], names[i][1], names[i][2]);
                bn_ep_registry_foreach(&d->eps, ep_write, &p);
        }
}

/* The labels of a wire end: wire, type, end (0 or 1), endpoint. */
static void wire_labels(FILE *f, const struct rt_wire *w, int j)
{
        fputs("wire=\"", f);
        put_label(f, w->name);
        fputs("\",type=\"", f);
        put_label(f, w->type);
        fprintf(f, "\",end=\"%d\",endpoint=\"", j);
        put_label(f, w->end[j]);
        fputc('"', f);
}

/* metric{wire,type,end,endpoint,key="val"} VALUE */
static void end_value(FILE *f, const char *metric, const struct rt_wire *w, size_t j,
                      const char *key, const char *val, uint64_t v)
{
        fprintf(f, "%s{", metric);
        wire_labels(f, w, (int)j);
        fprintf(f, ",%s=\"%s\"} %llu\n", key, val, (unsigned long long)v);
}

/* metric{wire="...",type="..."} VALUE */
static void wire_value(FILE *f, const char *metric, const struct rt_wire *w, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void wire_value(FILE *f, const char *metric, const struct rt_wire *w, const char *fmt, ...)
{
        va_list ap;

        fprintf(f, "%s{wire=\"", metric);
        put_label(f, w->name);
        fputs("\",type=\"", f);
        put_label(f, w->type);
        fputs("\"} ", f);
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fputc('\n', f);
}

static void write_wires(FILE *f, struct bn_ctl *c)
{
        static const char *const reasons[] = {"full", "too_big", "malformed", "down", "other"};
        struct bn_wire_stats *st = calloc(c->n_wires ? c->n_wires * 2 : 1, sizeof(*st));
        char state[400];

        if (!st)
                return;
        for (size_t i = 0; i < c->n_wires; i++)
                for (int j = 0; j < 2; j++)
                        if (c->wires[i].port[j])
                                ctl_port_stats(c->wires[i].port[j], &st[2 * i + j]);

        family(f, "banana_wire_up", "gauge",
               "1 when every end of the wire on this host is open, else 0.");
        struct bn_wire_link *links = ctl_wires_links(c);
        for (size_t i = 0; i < c->n_wires; i++) {
                ctl_wire_state_link(c, &c->wires[i], links ? &links[2 * i] : NULL, state,
                                    sizeof(state));
                wire_value(f, "banana_wire_up", &c->wires[i], "%d", strcmp(state, "up") == 0);
        }
        free(links);
        family(f, "banana_wire_reconnects_total", "counter",
               "Wire ends re-opened here after their peer had gone.");
        for (size_t i = 0; i < c->n_wires; i++)
                wire_value(f, "banana_wire_reconnects_total", &c->wires[i], "%llu",
                           (unsigned long long)c->wires[i].reopens);
        family(f, "banana_wire_swaps_total", "counter", "Type swaps of a wire completed here.");
        for (size_t i = 0; i < c->n_wires; i++)
                wire_value(f, "banana_wire_swaps_total", &c->wires[i], "%llu",
                           (unsigned long long)c->wires[i].swaps);
        family(f, "banana_wire_last_swap_seconds", "gauge",
               "How long the last swap took here: from its start to the old ends closed "
               "(0: none yet).");
        for (size_t i = 0; i < c->n_wires; i++)
                wire_value(f, "banana_wire_last_swap_seconds", &c->wires[i], "%.3f",
                           (double)c->wires[i].last_swap_ms / 1000.0);
        family(f, "banana_wire_swap_wait_max_seconds", "gauge",
               "The longest a new request of the Spike here waited during a swap (quiesce to "
               "resume), over every swap of the wire.");
        for (size_t i = 0; i < c->n_wires; i++)
                wire_value(f, "banana_wire_swap_wait_max_seconds", &c->wires[i], "%.6f",
                           (double)c->wires[i].max_swap_wait_us / 1e6);
        family(f, "banana_wire_end_open", "gauge",
               "1 when this end of the wire is open here, 0 when it is local but not open.");
        for (size_t i = 0; i < c->n_wires; i++)
                for (int j = 0; j < 2; j++) {
                        const struct rt_wire *w = &c->wires[i];
                        if (!w->local[j])
                                continue;
                        fputs("banana_wire_end_open{", f);
                        wire_labels(f, w, j);
                        fprintf(f, "} %d\n", w->port[j] != NULL);
                }
        /* one group per family, as the format asks */
        family(f, "banana_wire_messages_total", "counter",
               "Messages through an open wire end: sent (accepted by the wire) and received.");
        for (size_t i = 0; i < 2 * c->n_wires; i++)
                if (c->wires[i / 2].port[i % 2]) {
                        end_value(f, "banana_wire_messages_total", &c->wires[i / 2], i % 2,
                                  "direction", "sent", st[i].msgs_out);
                        end_value(f, "banana_wire_messages_total", &c->wires[i / 2], i % 2,
                                  "direction", "received", st[i].msgs_in);
                }
        family(f, "banana_wire_bytes_total", "counter",
               "Bytes through an open wire end, by direction.");
        for (size_t i = 0; i < 2 * c->n_wires; i++)
                if (c->wires[i / 2].port[i % 2]) {
                        end_value(f, "banana_wire_bytes_total", &c->wires[i / 2], i % 2,
                                  "direction", "sent", st[i].bytes_out);
                        end_value(f, "banana_wire_bytes_total", &c->wires[i / 2], i % 2,
                                  "direction", "received", st[i].bytes_in);
                }
        family(f, "banana_wire_drops_total", "counter",
               "Messages an open wire end dropped, by reason: full (no room, peer slow), "
               "too_big, malformed (from the peer), down (peer absent), other.");
        for (size_t i = 0; i < 2 * c->n_wires; i++) {
                const uint64_t drops[] = {st[i].drop_full, st[i].drop_too_big, st[i].drop_malformed,
                                          st[i].drop_down, st[i].drop_other};
                if (!c->wires[i / 2].port[i % 2])
                        continue;
                for (size_t k = 0; k < sizeof(reasons) / sizeof(reasons[0]); k++)
                        end_value(f, "banana_wire_drops_total", &c->wires[i / 2], i % 2, "reason",
                                  reasons[k], drops[k]);
        }
        free(st);
}

/* The whole page; NULL when out of memory. */
static char *render(struct bn_metrics *m, size_t *len)
{
        struct bn_daemon *d = m->d;
        struct bn_ctl *c = d->ctl;
        char *buf = NULL;
        FILE *f = open_memstream(&buf, len);

        if (!f)
                return NULL;
        family(f, "banana_info", "gauge", "This bananad (always 1): host and version.");
        fputs("banana_info{host=\"", f);
        put_label(f, d->host);
        fputs("\",version=\"" BN_VERSION "\",hypervisor=\"", f);
        put_label(f, d->hv ? bn_hv_name(d->hv) : "none");
        fputs("\"} 1\n", f);
        family(f, "banana_start_time_seconds", "gauge",
               "When this bananad started, in seconds since the Epoch.");
        fprintf(f, "banana_start_time_seconds %lld\n", (long long)m->started);
        family(f, "banana_endpoints", "gauge", "Endpoints running here.");
        fprintf(f, "banana_endpoints %u\n", d->eps.count);
        write_endpoints(f, d);
        if (c) {
                family(f, "banana_store_revision", "gauge",
                       "Revision of the store of desired state.");
                fprintf(f, "banana_store_revision %llu\n",
                        (unsigned long long)bn_store_revision(c->store));
                family(f, "banana_wires", "gauge", "Wires with at least one end on this host.");
                fprintf(f, "banana_wires %zu\n", c->n_wires);
                write_wires(f, c);
        }
        if (fclose(f)) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* ---- HTTP ---------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
                             char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
        enum MHD_Result ret;

        if (!r) {
                if (mode == MHD_RESPMEM_MUST_FREE)
                        free(body);
                return MHD_NO;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
        ret = MHD_queue_response(conn, status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
        static char not_found[] = "not found: the metrics are at /metrics\n";
        static char bad_method[] = "only GET and HEAD\n";
        static char index_page[] = "bananad metrics: GET /metrics\n";
        struct bn_metrics *m = cls;
        size_t len = 0;
        char *body;

        (void)version;
        (void)upload_data;
        (void)con_cls;
        if (*upload_size) { /* a body: not ours to read */
                *upload_size = 0;
                return MHD_YES;
        }
        if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
                return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", bad_method,
                             strlen(bad_method), MHD_RESPMEM_PERSISTENT);
        if (strcmp(url, "/") == 0)
                return reply(conn, MHD_HTTP_OK, "text/plain", index_page, strlen(index_page),
                             MHD_RESPMEM_PERSISTENT);
        if (strcmp(url, "/metrics") != 0)
                return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", not_found, strlen(not_found),
                             MHD_RESPMEM_PERSISTENT);
        body = render(m, &len);
        if (!body)
                return MHD_NO;
        return reply(conn, MHD_HTTP_OK, PROM_CTYPE, body, len, MHD_RESPMEM_MUST_FREE);
}

static void mhd_log(void *arg, const char *fmt, va_list ap)
{
        char msg[256];

        (void)arg;
        vsnprintf(msg, sizeof(msg), fmt, ap);
        msg[strcspn(msg, "\n")] = '\0';
        bn_warn(CTX, "http: %s", msg);
}

/* Let libmicrohttpd do what is ready; a few rounds while it says more is. */
static void mhd_pump(struct bn_metrics *m)
{
        for (int i = 0; i < METRICS_RUNS; i++) {
                MHD_UNSIGNED_LONG_LONG t = 1;
                MHD_run(m->mhd);
                if (MHD_get_timeout(m->mhd, &t) != MHD_YES || t > 0)
                        break;
        }
}

static void on_epoll(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        (void)loop;
        (void)fd;
        (void)events;
        mhd_pump(arg);
}

static void on_tick(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        (void)loop;
        (void)t;
        mhd_pump(arg);
}

/* ---- the listening socket ----------------------------------------------- */

static int listen_unix(struct bn_metrics *m, const char *path, const char *group, char *err,
                       size_t errlen)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = -1, r;

        if (strlen(path) >= sizeof(sa.sun_path)) {
                snprintf(err, errlen, "unix socket path '%s' is too long", path);
                return -ENAMETOOLONG;
        }
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                r = -errno;
                snprintf(err, errlen, "socket: %s", strerror(errno));
                goto out;
        }
        unlink(path); /* a socket left by a killed bananad */
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, METRICS_CONNS)) {
                r = -errno;
                snprintf(err, errlen, "cannot listen: %s", strerror(errno));
                goto out;
        }
        snprintf(m->unix_path, sizeof(m->unix_path), "%s", path);
        /* like the control socket: root and the control group only */
        if (group) {
                struct group *g = getgrnam(group);
                if (!g || chown(path, 0, g->gr_gid)) {
                        r = g ? -errno : -ENOENT;
                        snprintf(err, errlen, "cannot give it to group '%s': %s", group,
                                 g ? strerror(errno) : "no such group");
                        goto out;
                }
        }
        if (chmod(path, group ? 0660 : 0600)) {
                r = -errno;
                snprintf(err, errlen, "chmod: %s", strerror(errno));
                goto out;
        }
        m->listen_fd = fd;
        return 0;
out:
        if (fd >= 0)
                close(fd);
        if (m->unix_path[0])
                unlink(m->unix_path);
        m->unix_path[0] = '\0';
        return r;
}

/* HOST:PORT, [V6]:PORT or :PORT (every address). */
static int listen_tcp(struct bn_metrics *m, const char *addr, char *err, size_t errlen)
{
        struct addrinfo hints = {.ai_family = AF_UNSPEC,
                                 .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
        struct addrinfo *res = NULL;
        char host[256];
        const char *colon = strrchr(addr, ':'), *port;
        size_t hl;
        int fd = -1, r, one = 1;

        if (!colon || !colon[1]) {
                snprintf(err, errlen, "'%s' is not HOST:PORT, [ADDR]:PORT, :PORT or unix:PATH",
                         addr);
                return -EINVAL;
        }
        port = colon + 1;
        hl = (size_t)(colon - addr);
        if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
                addr++;
                hl -= 2;
        }
        if (hl >= sizeof(host)) {
                snprintf(err, errlen, "host name too long");
                return -EINVAL;
        }
        memcpy(host, addr, hl);
        host[hl] = '\0';
        if ((r = getaddrinfo(hl ? host : NULL, port, &hints, &res))) {
                snprintf(err, errlen, "'%s' port '%s': %s", hl ? host : "*", port, gai_strerror(r));
                return -EINVAL;
        }
        fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    res->ai_protocol);
        if (fd < 0) {
                r = -errno;
                snprintf(err, errlen, "socket: %s", strerror(errno));
                goto out;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, METRICS_CONNS)) {
                r = -errno;
                snprintf(err, errlen, "cannot listen: %s", strerror(errno));
                goto out;
        }
        m->listen_fd = fd;
        fd = -1;
        r = 0;
out:
        if (fd >= 0)
                close(fd);
        freeaddrinfo(res);
        return r;
}

/* ---- start / stop ---------------------------------------------------------- */

void bn_metrics_stop(struct bn_metrics *m)
{
        if (!m)
                return;
        if (m->tick)
                bn_loop_timer_cancel(m->d->loop, m->tick);
        if (m->epoll_fd >= 0)
                bn_loop_del_fd(m->d->loop, m->epoll_fd);
        if (m->mhd)
                MHD_stop_daemon(m->mhd); /* closes the listening socket */
        else if (m->listen_fd >= 0)
                close(m->listen_fd);
        if (m->unix_path[0])
                unlink(m->unix_path);
        free(m);
}

int bn_metrics_start(struct bn_daemon *d, const char *addr, const char *group,
                     struct bn_metrics **out)
{
        struct bn_metrics *m = calloc(1, sizeof(*m));
        const union MHD_DaemonInfo *info;
        char err[512] = "";
        int r;

        *out = NULL;
        if (!m)
                return -ENOMEM;
        m->d = d;
        m->listen_fd = m->epoll_fd = -1;
        m->started = time(NULL);
        if (strncmp(addr, "unix:", 5) == 0)
                r = listen_unix(m, addr + 5, group, err, sizeof(err));
        else if (addr[0] == '/')
                r = listen_unix(m, addr, group, err, sizeof(err));
        else
                r = listen_tcp(m, addr, err, sizeof(err));
        if (r)
                goto fail;
        m->mhd = MHD_start_daemon(
            MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, m,
            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, m->listen_fd,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONNS, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned)METRICS_TIMEOUT, MHD_OPTION_END);
        if (!m->mhd) {
                r = -EIO;
                snprintf(err, sizeof(err), "libmicrohttpd would not start");
                goto fail;
        }
        info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info) {
                r = -EIO;
                snprintf(err, sizeof(err), "libmicrohttpd has no epoll fd");
                goto fail;
        }
        m->epoll_fd = info->epoll_fd;
        if ((r = bn_loop_add_fd(d->loop, m->epoll_fd, EPOLLIN, on_epoll, m))) {
                m->epoll_fd = -1;
                snprintf(err, sizeof(err), "cannot poll it: %s", strerror(-r));
                goto fail;
        }
        if ((r = bn_loop_timer_add(d->loop, METRICS_TICK_MS, METRICS_TICK_MS, on_tick, m,
                                   &m->tick))) {
                m->tick = NULL;
                snprintf(err, sizeof(err), "timer: %s", strerror(-r));
                goto fail;
        }
        bn_info(CTX, "serving Prometheus metrics on %s (GET /metrics)", addr);
        *out = m;
        return 0;
fail:
        bn_err(CTX, "--metrics %s: %s", addr, err[0] ? err : strerror(-r));
        bn_metrics_stop(m);
        return r;
}
