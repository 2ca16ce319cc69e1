/* xss_stub.c: TEMPORARY stand-in for the xss xenstore server library, used
 * only while sim/xensim/xss/ (helper "xs") does not define xss_dep yet. It
 * listens on the sockets and closes every connection: no xenstore service.
 * Deleted once the real library is committed. */
#include "xss.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct xss {
        int epfd;
        int lfd[4096];
        char path[4096][108];
};

static int stub_listen(struct xss *s, uint32_t slot, const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = slot};
        int fd;

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        unlink(path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0 ||
            epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                int rc = -errno;

                if (fd >= 0)
                        close(fd);
                return rc;
        }
        s->lfd[slot] = fd;
        snprintf(s->path[slot], sizeof(s->path[slot]), "%s", path);
        return 0;
}

static void stub_close(struct xss *s, uint32_t slot)
{
        if (s->lfd[slot] >= 0) {
                close(s->lfd[slot]);
                unlink(s->path[slot]);
                s->lfd[slot] = -1;
        }
}

int xss_create(struct xss **out, const char *dom0_sock)
{
        struct xss *s = calloc(1, sizeof(*s));
        int i, rc;

        if (!s)
                return -ENOMEM;
        for (i = 0; i < 4096; i++)
                s->lfd[i] = -1;
        s->epfd = epoll_create1(EPOLL_CLOEXEC);
        rc = stub_listen(s, 0, dom0_sock);
        if (rc < 0) {
                xss_destroy(s);
                return rc;
        }
        *out = s;
        return 0;
}

void xss_destroy(struct xss *s)
{
        int i;

        for (i = 0; i < 4096; i++)
                stub_close(s, (uint32_t)i);
        if (s->epfd >= 0)
                close(s->epfd);
        free(s);
}

int xss_fd(struct xss *s)
{
        return s->epfd;
}

int xss_dispatch(struct xss *s)
{
        struct epoll_event ev[16];
        int n, i, fd;

        n = epoll_wait(s->epfd, ev, 16, 0);
        for (i = 0; i < n; i++)
                while ((fd = accept(s->lfd[ev[i].data.u32], NULL, NULL)) >= 0)
                        close(fd);
        return 0;
}

int xss_domain_add(struct xss *s, uint32_t domid, const char *name, const char *sock_path)
{
        (void)name;
        if (domid == 0 || domid >= 4096)
                return -ENOSPC;
        return stub_listen(s, domid, sock_path);
}

int xss_domain_remove(struct xss *s, uint32_t domid)
{
        if (domid == 0 || domid >= 4096)
                return -ENOENT;
        stub_close(s, domid);
        return 0;
}
