/* shm_rendezvous.c: how two processes meet on a shm wire. The listening
 * end binds a SOCK_SEQPACKET Unix socket at a path (or "@name" in the
 * abstract namespace); for each connecting peer it creates a region and
 * sends one message: a struct hello (magic, version, ring size) with the
 * memfd and both doorbells attached (SCM_RIGHTS). The connection then stays
 * open, carrying nothing: its end of file tells either side that the other
 * died.
 */
#include "shm_port.h"
#include "shm_ring.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct hello {
        uint64_t magic;
        uint32_t version;
        uint32_t ring_size;
};

static int make_addr(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
        size_t n = strlen(path);

        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        if (n == 0 || n >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        memcpy(sa->sun_path, path, n);
        if (path[0] == '@')
                sa->sun_path[0] = '\0';
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '@' ? 0 : 1));
        return 0;
}

int bn_shm_listen(const char *path)
{
        struct sockaddr_un sa;
        socklen_t len;
        int fd, rc;

        rc = make_addr(path, &sa, &len);
        if (rc < 0)
                return rc;
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 16) < 0) {
                rc = -errno;
                fprintf(stderr, "shm wire: listen on %s: %s\n", path, strerror(errno));
                close(fd);
                return rc;
        }
        return fd;
}

int bn_shm_accept(int listen_fd, const char *name, uint32_t ring_size, struct bn_shm_port **out)
{
        struct hello h = {.magic = BN_SHM_MAGIC, .version = BN_SHM_VERSION};
        int conn = -1, memfd = -1, bell[2] = {-1, -1}, rc;
        union {
                char buf[CMSG_SPACE(3 * sizeof(int))];
                struct cmsghdr align;
        } u;
        struct iovec iov = {.iov_base = &h, .iov_len = sizeof(h)};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = u.buf,
                             .msg_controllen = sizeof(u.buf)};
        struct cmsghdr *c;
        int fds[3];

        if (ring_size == 0)
                ring_size = BN_SHM_RING_DEFAULT;
        if (!bn_shm_ring_size_ok(ring_size))
                return -EINVAL;
        h.ring_size = ring_size;
        conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0)
                return -errno;
        rc = bn_shm_region_create(name, ring_size, &memfd);
        if (rc < 0)
                goto fail;
        bell[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        bell[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (bell[0] < 0 || bell[1] < 0) {
                rc = -errno;
                goto fail;
        }
        fds[0] = memfd;
        fds[1] = bell[0];
        fds[2] = bell[1];
        memset(u.buf, 0, sizeof(u.buf));
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(fds));
        memcpy(CMSG_DATA(c), fds, sizeof(fds));
        if (sendmsg(conn, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof(h)) {
                rc = -errno;
                fprintf(stderr, "shm wire %s: handing the region to the peer: %s\n", name,
                        strerror(errno));
                goto fail;
        }
        return bn_shm_port_from_fds(name, 0, ring_size, memfd, bell[0], bell[1], conn, false, out);
fail:
        if (conn >= 0)
                close(conn);
        if (memfd >= 0)
                close(memfd);
        if (bell[0] >= 0)
                close(bell[0]);
        if (bell[1] >= 0)
                close(bell[1]);
        return rc;
}

int bn_shm_connect_start(const char *path)
{
        struct sockaddr_un sa;
        socklen_t len;
        int fd, rc;

        rc = make_addr(path, &sa, &len);
        if (rc < 0)
                return rc;
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* A Unix connect completes at once (or fails): nothing in progress. */
        if (connect(fd, (struct sockaddr *)&sa, len) == 0)
                return fd;
        rc = -errno;
        close(fd);
        return rc == -EAGAIN ? -ECONNREFUSED : rc;
}

static int connect_retry(const char *path, int timeout_ms)
{
        struct timespec t0, t;
        int fd;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                fd = bn_shm_connect_start(path);
                if (fd >= 0 || (fd != -ENOENT && fd != -ECONNREFUSED))
                        return fd;
                clock_gettime(CLOCK_MONOTONIC, &t);
                if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >=
                    timeout_ms)
                        return fd;
                usleep(10000);
        }
}

int bn_shm_connect(const char *path, const char *name, int timeout_ms, struct bn_shm_port **out)
{
        struct pollfd pfd;
        int fd, rc;

        fd = connect_retry(path, timeout_ms);
        if (fd < 0) {
                fprintf(stderr, "shm wire %s: connect to %s: %s\n", name, path, strerror(-fd));
                return fd;
        }
        pfd.fd = fd;
        pfd.events = POLLIN;
        rc = poll(&pfd, 1, timeout_ms > 0 ? timeout_ms : 1);
        if (rc <= 0) {
                rc = rc == 0 ? -ETIMEDOUT : -errno;
                fprintf(stderr, "shm wire %s: no region from %s: %s\n", name, path, strerror(-rc));
                close(fd);
                return rc;
        }
        return bn_shm_connect_finish(fd, name, out);
}

int bn_shm_connect_finish(int fd, const char *name, struct bn_shm_port **out)
{
        struct hello h;
        union {
                char buf[CMSG_SPACE(3 * sizeof(int))];
                struct cmsghdr align;
        } u;
        struct iovec iov = {.iov_base = &h, .iov_len = sizeof(h)};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = u.buf,
                             .msg_controllen = sizeof(u.buf)};
        struct cmsghdr *c;
        int fds[3] = {-1, -1, -1}, nfds = 0, rc, i;
        ssize_t n;

        n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0) {
                rc = -errno;
                goto fail;
        }
        for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                        if (nfds > 3)
                                nfds = 3;
                        memcpy(fds, CMSG_DATA(c), (size_t)nfds * sizeof(int));
                }
        }
        if (n != (ssize_t)sizeof(h) || nfds != 3 || (msg.msg_flags & MSG_CTRUNC) ||
            h.magic != BN_SHM_MAGIC || h.version != BN_SHM_VERSION ||
            !bn_shm_ring_size_ok(h.ring_size)) {
                fprintf(stderr, "shm wire %s: bad hello from the listening end\n", name);
                rc = -EPROTO;
                goto fail;
        }
        return bn_shm_port_from_fds(name, 1, h.ring_size, fds[0], fds[2], fds[1], fd, true, out);
fail:
        for (i = 0; i < 3; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        close(fd);
        return rc;
}
