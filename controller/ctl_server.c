/* ctl_server.c: the control socket of bananad: a Unix stream socket that
 * admits root and one group (mode 0660, chowned to the group; 0600 without
 * a group), newline-delimited JSON requests read without blocking on the
 * main loop, one reply each. A line over BN_CTL_MSG_MAX bytes or one that
 * is not a JSON object gets an error reply and that client is closed; the
 * daemon keeps serving. A client that does not read its replies is not read
 * either (past OUT_HIGH pending) and is closed past OUT_MAX; accept()
 * failing at the open-file limit pauses accepting and logs once a while. Also bn_controller_start /
 * bn_controller_stop.
 */
#include "ctl_int.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef BN_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "bn_daemon.h"
#include "bn_xenbus.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "ctl_req.h"

#define CTX      "control"
#define READ_MAX (64u * 1024u)
/* Replies queued and not yet read by the client: past OUT_HIGH its further
 * requests wait (bananad stops reading it) until the client reads; past
 * OUT_MAX (one huge reply) it is closed. */
#define OUT_HIGH (1u << 20)
#define OUT_MAX  (2u * BN_CTL_MSG_MAX)
/* accept() failing for want of resources (the open-file limit): stop
 * accepting for ACCEPT_PAUSE_MS, log once per ACCEPT_LOG_S. */
#define ACCEPT_PAUSE_MS 200
#define ACCEPT_LOG_S    10
#define READS_PER_CB    16 /* reads of one client per callback: others get a turn */

struct ctl_client {
        struct bn_ctl *c;
        int fd;
        char *in;
        size_t in_len, in_cap;
        char *out;
        size_t out_len, out_off, out_cap;
        uint64_t id;     /* to find it again when an apply's parse is done */
        bool busy;       /* an apply or diff of it is being parsed */
        bool unwatched;  /* not in the loop (it hung up and nothing to wait for) */
        uint32_t events; /* what the loop watches for it */
        bool closing;    /* close once out is flushed */
        bool eof;        /* the client sent all it will send */
        struct ctl_client *next;
};

static void accept_resume(struct bn_loop *loop, struct bn_timer *t, void *arg);

static void client_free(struct ctl_client *cl)
{
        struct ctl_client **pp;

        for (pp = &cl->c->clients; *pp; pp = &(*pp)->next)
                if (*pp == cl) {
                        *pp = cl->next;
                        break;
                }
        if (!cl->unwatched)
                bn_loop_del_fd(cl->c->d->loop, cl->fd);
        close(cl->fd);
        free(cl->in);
        free(cl->out);
        if (cl->c->accept_paused && !cl->c->accept_timer)
                accept_resume(cl->c->d->loop, NULL, cl->c); /* an fd is free again */
        free(cl);
}

static size_t pending(const struct ctl_client *cl)
{
        return cl->out_len - cl->out_off;
}

static bool can_read(const struct ctl_client *cl)
{
        return !cl->closing && !cl->eof && !cl->busy && pending(cl) <= OUT_HIGH;
}

/* Watch what the client's state asks for: EPOLLOUT while replies are
 * pending, EPOLLIN while it may send more (not paused). */
static void client_cb(struct bn_loop *loop, int fd, uint32_t events, void *arg);

static void client_watch(struct ctl_client *cl)
{
        uint32_t ev = (pending(cl) ? EPOLLOUT : 0) | (can_read(cl) ? EPOLLIN : 0);
        struct bn_loop *loop = cl->c->d->loop;

        if (cl->eof && !ev) {
                /* hung up, waiting for its apply's reply: a hang-up stays
                 * ready, so leave the loop instead of being woken for it */
                if (!cl->unwatched && bn_loop_del_fd(loop, cl->fd) == 0)
                        cl->unwatched = true;
                return;
        }
        if (cl->unwatched) {
                if (bn_loop_add_fd(loop, cl->fd, ev, client_cb, cl) == 0) {
                        cl->unwatched = false;
                        cl->events = ev;
                }
                return;
        }
        if (ev != cl->events && bn_loop_mod_fd(loop, cl->fd, ev) == 0)
                cl->events = ev;
}

/* Write what is queued, without blocking; -1 when the client is gone
 * (freed). */
static int client_flush(struct ctl_client *cl)
{
        while (pending(cl)) {
                ssize_t n = write(cl->fd, cl->out + cl->out_off, pending(cl));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return 0;
                if (n < 0) {
                        client_free(cl);
                        return -1;
                }
                cl->out_off += (size_t)n;
        }
        cl->out_off = cl->out_len = 0;
        return 0;
}

static int client_queue(struct ctl_client *cl, json_object *reply)
{
        const char *text = reply ? json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN)
                                 : "{\"ok\":false,\"error\":\"out of memory\"}";
        size_t len = strlen(text);

        if (cl->out_off && cl->out_len + len + 1 > cl->out_cap) { /* drop what was written */
                memmove(cl->out, cl->out + cl->out_off, pending(cl));
                cl->out_len -= cl->out_off;
                cl->out_off = 0;
        }
        if (cl->out_len + len + 1 > OUT_MAX) {
                bn_warn(CTX, "client fd %d: %zu bytes of replies not read; closing it", cl->fd,
                        cl->out_len + len + 1);
                json_object_put(reply);
                cl->closing = true;
                cl->out_len = cl->out_off = 0;
                return -EMSGSIZE;
        }
        if (cl->out_len + len + 1 > cl->out_cap) { /* grown by doubling */
                size_t cap = cl->out_cap ? cl->out_cap : 4096;
                char *nb;
                while (cap < cl->out_len + len + 1)
                        cap *= 2;
                nb = realloc(cl->out, cap);
                if (!nb) {
                        json_object_put(reply);
                        return -ENOMEM;
                }
                cl->out = nb;
                cl->out_cap = cap;
        }
        memcpy(cl->out + cl->out_len, text, len);
        cl->out[cl->out_len + len] = '\n';
        cl->out_len += len + 1;
        json_object_put(reply);
        return 0;
}

/* A protocol violation: say why, then close this client only. */
static void client_refuse(struct ctl_client *cl, const char *why)
{
        bn_warn(CTX, "client fd %d: %s; closing it", cl->fd, why);
        client_queue(cl, ctl_reply_error("%s", why));
        cl->closing = true;
}

static void client_job_done(struct bn_ctl *c, uint64_t id, json_object *reply);

/* Handle the complete lines in cl->in while the client reads its replies
 * (at most OUT_HIGH pending). */
static void client_lines(struct ctl_client *cl)
{
        size_t start = 0;
        char *nl;

        while (!cl->closing && !cl->busy && pending(cl) <= OUT_HIGH &&
               (nl = memchr(cl->in + start, '\n', cl->in_len - start)) != NULL) {
                size_t len = (size_t)(nl - (cl->in + start));
                json_object *req, *reply;

                if (len == 0) {
                        start++;
                        continue;
                }
                if (len > BN_CTL_MSG_MAX) {
                        client_refuse(cl, "message too large");
                        break;
                }
                if (ctl_req_parse(cl->in + start, len, &req)) {
                        client_refuse(cl, "malformed request: not one JSON object per line");
                        break;
                }
                start += len + 1;
                if (ctl_apply_async(cl->c, req, cl->id, client_job_done, &reply) == 0) {
                        if (reply)
                                client_queue(cl, reply);
                        else
                                cl->busy = true; /* its next requests wait for this one */
                } else {
                        client_queue(cl, ctl_handle(cl->c, req));
                }
                json_object_put(req);
        }
        memmove(cl->in, cl->in + start, cl->in_len - start);
        cl->in_len -= start;
        if (!cl->closing && cl->in_len > BN_CTL_MSG_MAX && !memchr(cl->in, '\n', cl->in_len)) {
                char why[96];
                snprintf(why, sizeof(why), "message too large (more than %u bytes)",
                         BN_CTL_MSG_MAX);
                client_refuse(cl, why);
        }
}

/* Answer what can be answered, write what can be written, then close the
 * client or wait for it. */
static void client_step(struct ctl_client *cl)
{
        for (;;) {
                client_lines(cl);
                if (client_flush(cl) < 0)
                        return;
                /* stopped because replies were pending, and they are gone
                 * (not while an apply of it is parsed: its reply comes later) */
                if (pending(cl) || cl->closing || cl->busy || !memchr(cl->in, '\n', cl->in_len))
                        break;
        }
        if ((cl->closing || cl->eof) && !pending(cl) && !cl->busy) {
                client_free(cl); /* refused, or it said all and got every reply */
                return;
        }
        client_watch(cl);
}

/* An apply or diff parsed on its thread is answered (main loop). */
static void client_job_done(struct bn_ctl *c, uint64_t id, json_object *reply)
{
        struct ctl_client *cl;

        for (cl = c->clients; cl && cl->id != id; cl = cl->next)
                ;
        if (!cl) {
                json_object_put(reply); /* it left before the answer */
                return;
        }
        cl->busy = false;
        client_queue(cl, reply);
        client_step(cl);
}

static void client_cb(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        struct ctl_client *cl = arg;

        (void)loop;
        (void)fd;
        if ((events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN))
                cl->eof = true; /* nothing left to read; replies may still go */
        for (int i = 0; i < READS_PER_CB && can_read(cl); i++) {
                ssize_t n;
                if (cl->in_cap - cl->in_len < READ_MAX) {
                        char *nb = realloc(cl->in, cl->in_cap + READ_MAX);
                        if (!nb) {
                                client_free(cl);
                                return;
                        }
                        cl->in = nb;
                        cl->in_cap += READ_MAX;
                }
                n = read(cl->fd, cl->in + cl->in_len, READ_MAX);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        break;
                if (n <= 0) {
                        cl->eof = true; /* answer what was complete, then close */
                        break;
                }
                cl->in_len += (size_t)n;
                client_lines(cl);
        }
        client_step(cl);
}

static void accept_resume(struct bn_loop *loop, struct bn_timer *t, void *arg)
{
        struct bn_ctl *c = arg;

        (void)t;
        c->accept_timer = NULL;
        if (c->accept_paused && c->listen_fd >= 0 &&
            bn_loop_mod_fd(loop, c->listen_fd, EPOLLIN) == 0)
                c->accept_paused = false;
}

/* accept() failed for want of a resource (the open-file limit): log once
 * per ACCEPT_LOG_S with how many failed since. At the fd limit the spare
 * fd is given up to accept the waiting client and close it at once (it
 * sees the connection closed instead of hanging in the backlog, and the
 * loop does not spin on a listening socket that stays readable). Without a
 * spare, stop accepting for ACCEPT_PAUSE_MS (a timer needs an fd too: if
 * none can be made, until a client leaves). Returns true to try again. */
static bool accept_backoff(struct bn_ctl *c, int err)
{
        time_t now = time(NULL);

        c->accept_fails++;
        if (now - c->accept_logged >= ACCEPT_LOG_S) {
                bn_warn(CTX,
                        "accept: %s (%lu time%s since the last message); clients are "
                        "turned away until fds are free",
                        strerror(err), c->accept_fails, c->accept_fails == 1 ? "" : "s");
                c->accept_logged = now;
                c->accept_fails = 0;
        }
        if ((err == EMFILE || err == ENFILE) && c->spare_fd >= 0) {
                int cfd;
                close(c->spare_fd);
                cfd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (cfd >= 0)
                        close(cfd);
                c->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                return cfd >= 0;
        }
        if (c->accept_paused)
                return false;
        if (bn_loop_mod_fd(c->d->loop, c->listen_fd, 0) == 0)
                c->accept_paused = true;
        if (!c->accept_timer)
                bn_loop_timer_add(c->d->loop, ACCEPT_PAUSE_MS, 0, accept_resume, c,
                                  &c->accept_timer);
        return false;
}

static void accept_cb(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        struct bn_ctl *c = arg;

        (void)events;
        for (int i = 0; i < 64; i++) {
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                struct ctl_client *cl;
                if (cfd < 0) {
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                            errno == ENOMEM) {
                                if (accept_backoff(c, errno))
                                        continue;
                        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                                   errno != ECONNABORTED)
                                bn_warn(CTX, "accept: %s", strerror(errno));
                        return;
                }
                cl = calloc(1, sizeof(*cl));
                if (!cl) {
                        close(cfd);
                        continue;
                }
                cl->c = c;
                cl->fd = cfd;
                cl->id = ++c->next_client;
                cl->events = EPOLLIN;
                if (bn_loop_add_fd(loop, cfd, EPOLLIN, client_cb, cl) < 0) {
                        close(cfd);
                        free(cl);
                        continue;
                }
                cl->next = c->clients;
                c->clients = cl;
        }
}

/* Bind the control socket at path with the right owner and mode. */
static int listen_socket(struct bn_ctl *c, const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct stat st;
        char dir[sizeof(sa.sun_path)];
        gid_t gid = (gid_t)-1;
        mode_t old;
        int fd = -1, r;

        if (strlen(path) >= sizeof(sa.sun_path)) {
                bn_err(CTX, "control socket path too long: %s", path);
                return -ENAMETOOLONG;
        }
        if (c->opts.control_group) {
                struct group *g = getgrnam(c->opts.control_group);
                if (!g) {
                        bn_err(CTX, "control group '%s' does not exist", c->opts.control_group);
                        return -ENOENT;
                }
                gid = g->gr_gid;
        }
        snprintf(dir, sizeof(dir), "%s", path);
        if (strrchr(dir, '/') && strrchr(dir, '/') != dir) {
                *strrchr(dir, '/') = '\0';
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        bn_warn(CTX, "cannot create %s: %s", dir, strerror(errno));
        }
        strcpy(sa.sun_path, path);
        if (lstat(path, &st) == 0) {
                int probe;
                if (!S_ISSOCK(st.st_mode)) {
                        bn_err(CTX, "%s exists and is not a socket", path);
                        return -EEXIST;
                }
                probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
                        close(probe);
                        bn_err(CTX, "%s is in use by another bananad", path);
                        return -EADDRINUSE;
                }
                if (probe >= 0)
                        close(probe);
                unlink(path); /* stale, from a daemon that died */
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                r = -errno;
                bn_err(CTX, "socket: %s", strerror(-r));
                return r;
        }
        old = umask(0177);
        r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r < 0) {
                r = -errno;
                bn_err(CTX, "bind %s: %s", path, strerror(-r));
                goto fail;
        }
        if (gid != (gid_t)-1 && (chown(path, (uid_t)-1, gid) < 0 || chmod(path, 0660) < 0)) {
                r = -errno;
                bn_err(CTX, "cannot give %s to group %s: %s", path, c->opts.control_group,
                       strerror(-r));
                goto fail_unlink;
        }
        if (listen(fd, 64) < 0) {
                r = -errno;
                bn_err(CTX, "listen %s: %s", path, strerror(-r));
                goto fail_unlink;
        }
        if ((r = bn_loop_add_fd(c->d->loop, fd, EPOLLIN, accept_cb, c)) < 0)
                goto fail_unlink;
        c->listen_fd = fd;
        c->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC); /* see accept_backoff */
        bn_info(CTX, "listening on %s (mode %s)", path, gid != (gid_t)-1 ? "0660" : "0600");
        return 0;
fail_unlink:
        unlink(path);
fail:
        close(fd);
        return r;
}

int bn_controller_start(struct bn_daemon *d, const struct bn_ctl_opts *opts)
{
        struct bn_ctl *c = calloc(1, sizeof(*c));
        struct bn_topo *t = NULL;
        char err[512] = "";
        int r;

        if (!c)
                return -ENOMEM;
        c->d = d;
        c->listen_fd = -1;
        c->spare_fd = -1;
        pthread_mutex_init(&c->down_mu, NULL);
        pthread_mutex_init(&c->ev_mu, NULL);
        c->ev_tail = &c->ev_head;
        c->started = time(NULL);
        c->opts.ready_fd = -1;
        if (opts)
                c->opts = *opts;
        d->ctl = c;
        if (c->opts.store_url) {
                struct bn_store_etcd_opts eo = {.ca = c->opts.store_ca,
                                                .cert = c->opts.store_cert,
                                                .key = c->opts.store_key,
                                                .timeout_ms = c->opts.store_timeout_ms,
                                                .watch_quiet = ctl_live_prefixes};
                r = bn_store_open_etcd(&c->store, c->opts.store_url, &eo, err, sizeof(err));
        } else {
                r = bn_store_open_embedded(&c->store,
                                           d->state_dir[0] ? d->state_dir : BN_CTL_DEFAULT_STATEDIR,
                                           err, sizeof(err));
        }
        if (r) {
                bn_err(CTX, "store: %s", err[0] ? err : strerror(-r));
                goto fail;
        }
        if ((r = ctl_desired_load(c, &t, err, sizeof(err)))) {
                bn_err(CTX, "%s: refusing to start on a store it cannot read (fix or move %s)", err,
                       d->state_dir[0] ? d->state_dir : BN_CTL_DEFAULT_STATEDIR);
                goto fail;
        }
        bn_topo_free(t);
        if (c->opts.store_url)
                bn_info(CTX, "store: etcd at %s, revision %llu", c->opts.store_url,
                        (unsigned long long)bn_store_revision(c->store));
        else
                bn_info(CTX, "store: embedded in %s at revision %llu", d->state_dir,
                        (unsigned long long)bn_store_revision(c->store));
        if ((r = bn_ctl_register_wires(&d->wires)))
                goto fail;
        if ((r = ctl_cluster_start(c)))
                goto fail;
        bn_ep_registry_set_watch(&d->eps, ctl_ep_watch, c);
        d->wires.on_down = ctl_port_down;
        d->wires.on_down_arg = d;
        bn_xenbus_set_loop_for(d->xenbus, ctl_loop_for, c);
        bn_xenbus_set_name_for(d->xenbus, ctl_name_for, c);
        ctl_reconcile(c);
        if (c->clustered) {
                ctl_migrate_recover(c);
                ctl_swap_corm_recover(c);
        }
        if ((r = listen_socket(c, d->control[0] ? d->control : BN_CTL_DEFAULT_SOCKET)))
                goto fail;
#ifdef BN_HAVE_SYSTEMD
        if (c->opts.notify)
                sd_notify(0, "READY=1\nSTATUS=serving the control socket");
#endif
        if (c->opts.ready_fd >= 0) {
                ssize_t w = write(c->opts.ready_fd, "R", 1);
                (void)w;
                close(c->opts.ready_fd);
                c->opts.ready_fd = -1;
        }
        return 0;
fail:
        bn_controller_stop(d);
        return r;
}

void bn_controller_stop(struct bn_daemon *d)
{
        struct bn_ctl *c = d->ctl;

        if (!c)
                return;
#ifdef BN_HAVE_SYSTEMD
        if (c->opts.notify)
                sd_notify(0, "STOPPING=1");
#endif
        while (c->clients)
                client_free(c->clients);
        ctl_jobs_stop(c);
        if (c->listen_fd >= 0) {
                bn_loop_del_fd(d->loop, c->listen_fd);
                close(c->listen_fd);
                unlink(d->control[0] ? d->control : BN_CTL_DEFAULT_SOCKET);
        }
        if (c->spare_fd >= 0)
                close(c->spare_fd);
        bn_ep_registry_set_watch(&d->eps, NULL, NULL);
        d->wires.on_down = NULL;
        bn_xenbus_set_loop_for(d->xenbus, NULL, NULL);
        bn_xenbus_set_name_for(d->xenbus, NULL, NULL);
        ctl_migrate_stop(c);
        ctl_swap_corm_stop(c);
        if (c->reopen_pending)
                bn_loop_timer_cancel(d->loop, c->reopen_timer);
        if (c->accept_timer)
                bn_loop_timer_cancel(d->loop, c->accept_timer);
        c->accept_timer = NULL;
        c->reopen_pending = false;
        if (c->store)
                ctl_cluster_stop(c); /* no watch report after this */
        ctl_teardown(c);             /* every port closed: no ctl_port_down after this */
        bn_store_close(c->store);
        d->ctl = NULL;
        ctl_desired_free(c);
        pthread_mutex_destroy(&c->ev_mu);
        pthread_mutex_destroy(&c->down_mu);
        free(c);
}
