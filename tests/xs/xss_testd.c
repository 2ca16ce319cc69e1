/* xss_testd.c: a tiny daemon running the xss xenstore server for tests.
 *
 *   xss-testd DIR [ID:NAME ...]
 *
 * Listens on DIR/xenstored.sock (Dom0) and DIR/dom<ID>.sock for each domain
 * given, reads commands from the FIFO DIR/ctl ("add ID NAME", "rm ID", one
 * per line), writes its pid to DIR/pid once everything listens, and exits
 * cleanly (removing its sockets, the FIFO and the pid file) on SIGTERM or
 * SIGINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xss.h"

struct testd {
        const char *dir;
        struct xss *xs;
        char ctlbuf[256];
        size_t ctllen;
};

static int add_domain(struct testd *t, unsigned id, const char *name)
{
        char sock[4096];
        int rc;

        snprintf(sock, sizeof(sock), "%s/dom%u.sock", t->dir, id);
        rc = xss_domain_add(t->xs, id, name, sock);
        if (rc)
                fprintf(stderr, "xss-testd: add dom%u (%s): %s\n", id, name, strerror(-rc));
        return rc;
}

static void ctl_line(struct testd *t, char *line)
{
        unsigned id;
        char name[128];
        int rc;

        if (sscanf(line, "add %u %127s", &id, name) == 2) {
                add_domain(t, id, name);
        } else if (sscanf(line, "rm %u", &id) == 1) {
                rc = xss_domain_remove(t->xs, id);
                if (rc)
                        fprintf(stderr, "xss-testd: rm dom%u: %s\n", id, strerror(-rc));
        } else {
                fprintf(stderr, "xss-testd: unknown command '%s'\n", line);
        }
}

static void ctl_read(struct testd *t, int fd)
{
        ssize_t n = read(fd, t->ctlbuf + t->ctllen, sizeof(t->ctlbuf) - 1 - t->ctllen);
        char *nl;

        if (n <= 0)
                return;
        t->ctllen += (size_t)n;
        t->ctlbuf[t->ctllen] = '\0';
        while ((nl = strchr(t->ctlbuf, '\n'))) {
                *nl = '\0';
                ctl_line(t, t->ctlbuf);
                t->ctllen -= (size_t)(nl + 1 - t->ctlbuf);
                memmove(t->ctlbuf, nl + 1, t->ctllen + 1);
        }
        if (t->ctllen == sizeof(t->ctlbuf) - 1)
                t->ctllen = 0; /* garbage without newline: drop */
}

int main(int argc, char **argv)
{
        struct testd t = {0};
        char path[4096], tmp[4096], ctl[4096];
        struct epoll_event ev, evs[8];
        sigset_t mask;
        int ep = -1, sfd = -1, cfd = -1, rc = 1, i;
        FILE *f;

        if (argc < 2) {
                fprintf(stderr, "usage: xss-testd DIR [ID:NAME ...]\n");
                return 2;
        }
        t.dir = argv[1];
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        snprintf(path, sizeof(path), "%s/xenstored.sock", t.dir);
        if (xss_create(&t.xs, path)) {
                fprintf(stderr, "xss-testd: cannot serve %s\n", path);
                goto out;
        }
        for (i = 2; i < argc; i++) {
                unsigned id;
                char name[128];

                if (sscanf(argv[i], "%u:%127s", &id, name) != 2 || add_domain(&t, id, name)) {
                        fprintf(stderr, "xss-testd: bad domain '%s'\n", argv[i]);
                        goto out;
                }
        }
        snprintf(ctl, sizeof(ctl), "%s/ctl", t.dir);
        unlink(ctl);
        if (mkfifo(ctl, 0600) < 0 || (cfd = open(ctl, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
                fprintf(stderr, "xss-testd: %s: %s\n", ctl, strerror(errno));
                goto out;
        }
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (sfd < 0 || ep < 0)
                goto out;
        ev.events = EPOLLIN;
        ev.data.fd = xss_fd(t.xs);
        epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
        ev.data.fd = sfd;
        epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
        ev.data.fd = cfd;
        epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);

        snprintf(tmp, sizeof(tmp), "%s/pid.tmp", t.dir);
        snprintf(path, sizeof(path), "%s/pid", t.dir);
        f = fopen(tmp, "w");
        if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) || rename(tmp, path)) {
                fprintf(stderr, "xss-testd: cannot write %s\n", path);
                goto out;
        }
        for (;;) {
                int n = epoll_wait(ep, evs, 8, -1);

                if (n < 0 && errno != EINTR)
                        goto out;
                for (i = 0; i < n; i++) {
                        if (evs[i].data.fd == sfd) {
                                rc = 0;
                                goto out;
                        }
                        if (evs[i].data.fd == cfd)
                                ctl_read(&t, cfd);
                        else if (xss_dispatch(t.xs) < 0)
                                goto out;
                }
        }
out:
        xss_destroy(t.xs);
        if (cfd >= 0) {
                close(cfd);
                unlink(ctl);
        }
        if (sfd >= 0)
                close(sfd);
        if (ep >= 0)
                close(ep);
        snprintf(path, sizeof(path), "%s/pid", t.dir);
        unlink(path);
        return rc;
}
