/* hvsrv.c: xensim's hv.sock server: accepts connections, reads one
 * fixed-size request at a time (xensim_proto.h), dispatches it to the
 * domain / grant / event-channel code and answers with SCM_RIGHTS fds. A
 * malformed request disconnects that client only; a guest's disconnect
 * releases its domain. */
#include "xensim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int hvsrv_start(struct xsim *x)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 3};
        int rc;

        if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/hv.sock", x->dir) >=
            sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        unlink(sa.sun_path);
        x->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (x->listen_fd < 0)
                goto fail;
        if (bind(x->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(x->listen_fd, 128) < 0)
                goto fail;
        if (epoll_ctl(x->epfd, EPOLL_CTL_ADD, x->listen_fd, &ev) < 0)
                goto fail;
        xlog(x, XLOG_INFO, "hypervisor socket %s", sa.sun_path);
        return 0;
fail:
        rc = -errno;
        xlog(x, XLOG_ERR, "hypervisor socket %s: %s", sa.sun_path, strerror(errno));
        return rc;
}

static void client_drop(struct xsim *x, struct xsim_client *c, const char *why)
{
        xlog(x, c->kind == XC_GUEST ? XLOG_INFO : XLOG_DEBUG, "client fd %d (%s%u) gone: %s", c->fd,
             c->kind == XC_GUEST ? "dom" : "dom0 handle, dom", c->dom ? c->dom->domid : 0, why);
        epoll_ctl(x->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        dom_unpin_all(x, c);
        if (c->kind == XC_GUEST && c->dom)
                dom_release(x, c->dom);
        else if (c->kind == XC_DOM0 && c->dom)
                evtchn_close_all(x, c->dom, c);
        close(c->fd);
        *c->pprev = c->next;
        if (c->next)
                c->next->pprev = c->pprev;
        free(c->pins);
        free(c);
}

void hvsrv_stop(struct xsim *x)
{
        char path[4200];

        while (x->clients)
                client_drop(x, x->clients, "shutdown");
        if (x->listen_fd >= 0) {
                close(x->listen_fd);
                snprintf(path, sizeof(path), "%s/hv.sock", x->dir);
                unlink(path);
        }
        x->listen_fd = -1;
}

void hvsrv_accept(struct xsim *x)
{
        struct epoll_event ev = {.events = EPOLLIN};
        struct xsim_client *c;
        int fd;

        for (;;) {
                fd = accept4(x->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                xlog(x, XLOG_WARN, "accept on hv.sock: %s", strerror(errno));
                        return;
                }
                c = calloc(1, sizeof(*c));
                if (!c) {
                        close(fd);
                        continue;
                }
                c->fd = fd;
                ev.data.ptr = c;
                if (epoll_ctl(x->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        xlog(x, XLOG_WARN, "epoll add: %s", strerror(errno));
                        close(fd);
                        free(c);
                        continue;
                }
                c->next = x->clients;
                if (c->next)
                        c->next->pprev = &c->next;
                c->pprev = &x->clients;
                x->clients = c;
        }
}

static int reply(struct xsim_client *c, struct xsim_msg *m, const int *fds, int nfds)
{
        union {
                char buf[CMSG_SPACE(sizeof(int) * XSIM_MAX_FDS)];
                struct cmsghdr align;
        } cb;
        struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        struct cmsghdr *cm;

        if (m->ret < 0)
                nfds = 0;
        if (nfds > 0) {
                memset(&cb, 0, sizeof(cb));
                mh.msg_control = cb.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
                cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
                memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
        }
        if (sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(*m))
                return -errno ? -errno : -EIO;
        return 0;
}

/* Handle one request; returns <0 to drop the client (protocol violation). */
static int dispatch(struct xsim *x, struct xsim_client *c, struct xsim_msg *m)
{
        int fds[XSIM_MAX_FDS], nfds = 0, rc = 0;
        struct xsim_dom *d;

        if (c->kind == XC_NEW && m->op != XSIM_OP_HELLO_DOM0 && m->op != XSIM_OP_CREATE_DOMAIN)
                return -EPROTO;
        if (c->kind != XC_NEW && (m->op == XSIM_OP_HELLO_DOM0 || m->op == XSIM_OP_CREATE_DOMAIN))
                return -EPROTO;
        switch (m->op) {
        case XSIM_OP_HELLO_DOM0:
                c->kind = XC_DOM0;
                c->dom = x->doms[0];
                fds[nfds++] = x->chan_ro_fd;
                m->a[0] = XSIM_CHAN_SLOTS;
                break;
        case XSIM_OP_CREATE_DOMAIN:
                m->name[XSIM_NAME_MAX - 1] = 0;
                rc = dom_create(x, c, m->name, m->count, &d);
                if (rc < 0)
                        break;
                c->kind = XC_GUEST;
                c->dom = d;
                m->domid = d->domid;
                fds[nfds++] = d->mem_fd;
                fds[nfds++] = d->gt_fd;
                fds[nfds++] = x->chan_ro_fd;
                m->a[0] = XSIM_CHAN_SLOTS;
                m->a[1] = XSIM_GT_ENTRIES;
                m->count = d->pages;
                break;
        case XSIM_OP_GNT_MAP:
                if (c->kind != XC_DOM0) {
                        rc = -EPERM;
                        break;
                }
                rc = dom_gnt_map(x, c, m->domid, m->count, m->refs, !!(m->flags & XSIM_F_WRITABLE));
                if (rc == 0) {
                        d = dom_get(x, m->domid);
                        fds[nfds++] = (m->flags & XSIM_F_WRITABLE) ? d->mem_fd : d->mem_ro_fd;
                }
                break;
        case XSIM_OP_GNT_UNMAP:
                if (c->kind != XC_DOM0) {
                        rc = -EPERM;
                        break;
                }
                rc = dom_gnt_unmap(x, c, m->domid, m->count, m->refs,
                                   !!(m->flags & XSIM_F_WRITABLE));
                break;
        case XSIM_OP_GNT_DOMAIN:
                d = dom_get(x, m->domid);
                if (c->kind != XC_DOM0)
                        rc = -EPERM;
                else if (!d || m->domid == 0)
                        rc = -ESRCH;
                else {
                        fds[nfds++] = d->gt_ro_fd;
                        fds[nfds++] = d->mem_fd;
                        m->a[1] = XSIM_GT_ENTRIES;
                        m->count = d->pages;
                }
                break;
        case XSIM_OP_EVTCHN_ALLOC_UNBOUND:
                rc = evtchn_alloc_unbound(x, c, m->domid, &m->port, &fds[0]);
                nfds = 1;
                break;
        case XSIM_OP_EVTCHN_BIND:
                rc = evtchn_bind(x, c, m->domid, m->port, &m->port, &fds[0], &fds[1], &m->a[2],
                                 &m->a[3]);
                nfds = 2;
                break;
        case XSIM_OP_EVTCHN_PEER:
                rc = evtchn_peer(x, c, m->port, &fds[0], &m->a[2], &m->a[3]);
                nfds = 1;
                break;
        case XSIM_OP_EVTCHN_CLOSE:
                rc = evtchn_close(x, c, m->port);
                break;
        default:
                return -EPROTO;
        }
        m->ret = rc;
        return reply(c, m, fds, nfds);
}

void hvsrv_client_event(struct xsim *x, struct xsim_client *c, uint32_t events)
{
        union {
                char buf[CMSG_SPACE(sizeof(int) * 8)];
                struct cmsghdr align;
        } cb;
        struct xsim_msg m;
        struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        struct cmsghdr *cm;
        ssize_t n;
        int rc, i;

        for (;;) {
                mh.msg_control = cb.buf;
                mh.msg_controllen = sizeof(cb.buf);
                n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                        if (events & (EPOLLHUP | EPOLLERR))
                                client_drop(x, c, "hang-up");
                        return;
                }
                /* Clients have no business passing fds: close any. */
                for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
                        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
                                for (i = 0; i < (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                                     i++)
                                        close(((int *)CMSG_DATA(cm))[i]);
                if (n <= 0) {
                        client_drop(x, c, n == 0 ? "closed" : strerror(errno));
                        return;
                }
                if ((size_t)n != sizeof(m) || m.magic != XSIM_PROTO_MAGIC ||
                    (mh.msg_flags & MSG_TRUNC)) {
                        xlog(x, XLOG_WARN, "client fd %d: malformed request (%zd bytes)", c->fd, n);
                        client_drop(x, c, "protocol error");
                        return;
                }
                rc = dispatch(x, c, &m);
                if (rc < 0) {
                        xlog(x, XLOG_WARN, "client fd %d: op %u: %s", c->fd, m.op, strerror(-rc));
                        client_drop(x, c, "protocol error");
                        return;
                }
        }
}
