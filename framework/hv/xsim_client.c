/* xsim_client.c: hv.sock client (request / reply with SCM_RIGHTS) and the
 * event-channel port set shared by the xensim provider and libbn_guest. */
#include "xsim_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <xenstore.h>

const char *xsim_dir(const char *sim_dir)
{
        const char *env;

        if (sim_dir && *sim_dir)
                return sim_dir;
        env = getenv("XENSIM_DIR");
        if (env && *env)
                return env;
        return "/run/xensim";
}

int xsim_connect(const char *dir)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd, rc;

        if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/hv.sock", dir) >=
            sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                rc = -errno;
                close(fd);
                return rc;
        }
        return fd;
}

int xsim_call(int sock, struct xsim_msg *m, int *fds, int max_fds)
{
        union {
                char buf[CMSG_SPACE(sizeof(int) * XSIM_MAX_FDS)];
                struct cmsghdr align;
        } cb;
        struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        struct cmsghdr *c;
        uint32_t op = m->op;
        ssize_t n;
        int i;

        for (i = 0; i < max_fds; i++)
                fds[i] = -1;
        m->magic = XSIM_PROTO_MAGIC;
        m->ret = 0;
        do
                n = send(sock, m, sizeof(*m), MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if ((size_t)n != sizeof(*m))
                return -EPROTO;
        mh.msg_control = cb.buf;
        mh.msg_controllen = sizeof(cb.buf);
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                int nf, *pf;

                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                nf = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                pf = (int *)CMSG_DATA(c);
                for (i = 0; i < nf; i++) {
                        if (i < max_fds)
                                fds[i] = pf[i];
                        else
                                close(pf[i]);
                }
        }
        if (n == 0)
                return -ECONNRESET;
        if ((size_t)n != sizeof(*m) || m->magic != XSIM_PROTO_MAGIC || m->op != op)
                return -EPROTO;
        if (m->ret > 0)
                return -EPROTO;
        return m->ret;
}

struct xs_handle *xsim_xs_open(const char *path)
{
        static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;
        struct xs_handle *xs;
        char *old = NULL;
        const char *cur;
        int err;

        pthread_mutex_lock(&env_lock);
        cur = getenv("XENSTORED_PATH");
        if (cur)
                old = strdup(cur);
        setenv("XENSTORED_PATH", path, 1);
        xs = xs_open(XS_OPEN_SOCKETONLY);
        err = errno;
        if (old)
                setenv("XENSTORED_PATH", old, 1);
        else
                unsetenv("XENSTORED_PATH");
        pthread_mutex_unlock(&env_lock);
        free(old);
        errno = err;
        return xs;
}

const uint32_t *xsim_chan_map(int fd)
{
        void *p = mmap(NULL, XSIM_CHAN_BYTES, PROT_READ, MAP_SHARED, fd, 0);

        return p == MAP_FAILED ? NULL : p;
}

void xsim_chan_unmap(const uint32_t *chan)
{
        if (chan)
                munmap((void *)chan, XSIM_CHAN_BYTES);
}

int xsim_ports_init(struct xsim_ports *ps, int sock, const uint32_t *chan)
{
        memset(ps, 0, sizeof(*ps));
        ps->sock = sock;
        ps->chan = chan;
        ps->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (ps->epfd < 0)
                return -errno;
        return 0;
}

static void port_clear(struct xsim_port *p)
{
        if (p->rx_fd >= 0)
                close(p->rx_fd);
        if (p->tx_fd >= 0)
                close(p->tx_fd);
        p->rx_fd = p->tx_fd = -1;
}

void xsim_ports_fini(struct xsim_ports *ps)
{
        uint32_t i;

        for (i = 0; i < ps->nport; i++)
                port_clear(&ps->port[i]);
        free(ps->port);
        if (ps->epfd >= 0)
                close(ps->epfd);
        ps->port = NULL;
        ps->nport = 0;
        ps->epfd = -1;
}

static struct xsim_port *port_get(struct xsim_ports *ps, uint32_t port)
{
        if (port >= ps->nport || ps->port[port].rx_fd < 0)
                return NULL;
        return &ps->port[port];
}

/* Record a new port with its receive eventfd (and maybe its peer's). */
static int port_add(struct xsim_ports *ps, uint32_t port, int rx, int tx, uint32_t slot,
                    uint32_t cookie)
{
        struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u32 = port};
        uint32_t i;

        if (port >= XSIM_MAX_PORTS)
                return -EPROTO;
        if (port >= ps->nport) {
                uint32_t n = port + 16 > XSIM_MAX_PORTS ? XSIM_MAX_PORTS : port + 16;
                struct xsim_port *np = realloc(ps->port, n * sizeof(*np));

                if (!np)
                        return -ENOMEM;
                for (i = ps->nport; i < n; i++)
                        np[i].rx_fd = np[i].tx_fd = -1;
                ps->port = np;
                ps->nport = n;
        }
        if (ps->port[port].rx_fd >= 0)
                return -EPROTO;
        if (epoll_ctl(ps->epfd, EPOLL_CTL_ADD, rx, &ev) < 0)
                return -errno;
        ps->port[port] = (struct xsim_port){rx, tx, slot, cookie};
        return 0;
}

int xsim_ports_alloc_unbound(struct xsim_ports *ps, uint32_t remote_domid)
{
        struct xsim_msg m = {.op = XSIM_OP_EVTCHN_ALLOC_UNBOUND, .domid = remote_domid};
        int fds[1], rc;

        rc = xsim_call(ps->sock, &m, fds, 1);
        if (rc == 0 && fds[0] < 0)
                rc = -EPROTO;
        if (rc == 0)
                rc = port_add(ps, m.port, fds[0], -1, 0, 0);
        if (rc < 0) {
                if (fds[0] >= 0)
                        close(fds[0]);
                return rc;
        }
        return (int)m.port;
}

int xsim_ports_bind(struct xsim_ports *ps, uint32_t domid, uint32_t remote_port)
{
        struct xsim_msg m = {.op = XSIM_OP_EVTCHN_BIND, .domid = domid, .port = remote_port};
        int fds[2], rc;

        rc = xsim_call(ps->sock, &m, fds, 2);
        if (rc == 0 && (fds[0] < 0 || fds[1] < 0 || m.a[2] >= XSIM_CHAN_SLOTS))
                rc = -EPROTO;
        if (rc == 0)
                rc = port_add(ps, m.port, fds[0], fds[1], m.a[2], m.a[3]);
        if (rc < 0) {
                if (fds[0] >= 0)
                        close(fds[0]);
                if (fds[1] >= 0)
                        close(fds[1]);
                return rc;
        }
        return (int)m.port;
}

int xsim_ports_close(struct xsim_ports *ps, uint32_t port)
{
        struct xsim_msg m = {.op = XSIM_OP_EVTCHN_CLOSE, .port = port};
        struct xsim_port *p = port_get(ps, port);
        int rc;

        if (!p)
                return -EINVAL;
        rc = xsim_call(ps->sock, &m, NULL, 0);
        epoll_ctl(ps->epfd, EPOLL_CTL_DEL, p->rx_fd, NULL);
        port_clear(p);
        return rc;
}

/* Ask xensim for the peer of a port allocated unbound. */
static int port_fetch_peer(struct xsim_ports *ps, uint32_t port, struct xsim_port *p)
{
        struct xsim_msg m = {.op = XSIM_OP_EVTCHN_PEER, .port = port};
        int fd, rc;

        rc = xsim_call(ps->sock, &m, &fd, 1);
        if (rc == 0 && (fd < 0 || m.a[2] >= XSIM_CHAN_SLOTS))
                rc = -EPROTO;
        if (rc < 0) {
                if (fd >= 0)
                        close(fd);
                return rc;
        }
        p->tx_fd = fd;
        p->slot = m.a[2];
        p->cookie = m.a[3];
        return 0;
}

int xsim_ports_notify(struct xsim_ports *ps, uint32_t port)
{
        struct xsim_port *p = port_get(ps, port);
        uint64_t one = 1;
        int rc;

        if (!p)
                return -EINVAL;
        if (p->tx_fd >= 0 && __atomic_load_n(&ps->chan[p->slot], __ATOMIC_ACQUIRE) != p->cookie) {
                /* The channel broke; the port may since have been re-bound. */
                close(p->tx_fd);
                p->tx_fd = -1;
        }
        if (p->tx_fd < 0) {
                rc = port_fetch_peer(ps, port, p);
                if (rc < 0)
                        return rc;
        }
        if (write(p->tx_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                return -errno;
        return 0;
}

int xsim_ports_pending(struct xsim_ports *ps)
{
        struct epoll_event ev[64];
        uint64_t cnt;
        int n, i;

        for (;;) {
                while (ps->iready < ps->nready) {
                        uint32_t port = ps->ready[ps->iready++];
                        struct xsim_port *p = port_get(ps, port);

                        if (!p)
                                continue; /* closed since epoll reported it */
                        /* Clear the eventfd; the port stays disarmed (masked)
                         * until xsim_ports_unmask() re-arms it. */
                        if (read(p->rx_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
                                return -errno;
                        return (int)port;
                }
                n = epoll_wait(ps->epfd, ev, 64, 0);
                if (n < 0)
                        return errno == EINTR ? -EAGAIN : -errno;
                if (n == 0)
                        return -EAGAIN;
                for (i = 0; i < n; i++)
                        ps->ready[i] = ev[i].data.u32;
                ps->nready = (uint32_t)n;
                ps->iready = 0;
        }
}

int xsim_ports_unmask(struct xsim_ports *ps, uint32_t port)
{
        struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u32 = port};
        struct xsim_port *p = port_get(ps, port);

        if (!p)
                return -EINVAL;
        if (epoll_ctl(ps->epfd, EPOLL_CTL_MOD, p->rx_fd, &ev) < 0)
                return -errno;
        return 0;
}
