/* main.c: the xensim daemon: a userspace Xen for machines without one.
 *
 *   xensim --dir DIR [--foreground] [--pidfile F] [-v|-q]
 *
 * Serves, from one epoll loop: the xenstore protocol on DIR/xenstored.sock
 * (Dom0) and DIR/dom<ID>.sock (each simulated domain), through the xss
 * library; and the hypervisor protocol (domains, grant tables, event
 * channels) on DIR/hv.sock (xensim_proto.h). Without --foreground it
 * forks and returns once every socket is ready. On SIGTERM / SIGINT it
 * releases every domain, unlinks its sockets, its pidfile and DIR (when it
 * created DIR), and exits 0. Logs go to stderr. */
#include "xensim.h"
#include "xss.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { TAG_SIGNAL = 1, TAG_XSS = 2, TAG_LISTEN = 3 };

void xlog(const struct xsim *x, int level, const char *fmt, ...)
{
        static const char *const names[] = {"error", "warning", "info", "debug"};
        struct timespec ts;
        char buf[1024];
        va_list ap;

        if (level > x->loglevel)
                return;
        clock_gettime(CLOCK_REALTIME, &ts);
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        fprintf(stderr, "%lld.%03ld xensim[%d] %s: %s\n", (long long)ts.tv_sec,
                ts.tv_nsec / 1000000, (int)getpid(), names[level], buf);
}

/* xss's log lines, at its levels (0 error .. 3 debug, as ours). */
static void xss_log(void *opaque, int level, const char *msg)
{
        if (level < XLOG_ERR)
                level = XLOG_ERR;
        if (level > XLOG_DEBUG)
                level = XLOG_DEBUG;
        xlog(opaque, level, "xenstore: %s", msg);
}

static void usage(FILE *f)
{
        fprintf(f, "usage: xensim --dir DIR [--foreground] [--pidfile FILE] [-v] [-q]\n"
                   "  a userspace Xen: xenstore on DIR/xenstored.sock, hypervisor on "
                   "DIR/hv.sock\n");
}

static int write_pidfile(const char *path)
{
        char buf[32];
        int fd, n, rc = 0;

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
        if (write(fd, buf, (size_t)n) != n)
                rc = -EIO;
        close(fd);
        return rc;
}

static int run(struct xsim *x, int sfd)
{
        struct epoll_event evs[64];
        int n, i, rc;

        for (;;) {
                n = epoll_wait(x->epfd, evs, 64, -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        xlog(x, XLOG_ERR, "epoll_wait: %s", strerror(errno));
                        return -errno;
                }
                for (i = 0; i < n; i++) {
                        uint64_t tag = evs[i].data.u64;

                        if (tag == TAG_SIGNAL) {
                                struct signalfd_siginfo si;

                                if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                                        xlog(x, XLOG_INFO, "signal %u: shutting down",
                                             si.ssi_signo);
                                        return 0;
                                }
                        } else if (tag == TAG_XSS) {
                                rc = xss_dispatch(x->xss);
                                if (rc < 0)
                                        xlog(x, XLOG_WARN, "xenstore dispatch: %s", strerror(-rc));
                        } else if (tag == TAG_LISTEN) {
                                hvsrv_accept(x);
                        } else {
                                hvsrv_client_event(x, evs[i].data.ptr, evs[i].events);
                        }
                }
        }
}

static void raise_nofile(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"foreground", no_argument, NULL, 'f'},
                                             {"pidfile", required_argument, NULL, 'p'},
                                             {"verbose", no_argument, NULL, 'v'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        struct epoll_event ev = {.events = EPOLLIN};
        const char *dir = NULL, *pidfile = NULL;
        int foreground = 0, made_dir = 0, wrote_pid = 0, sfd = -1, ready[2] = {-1, -1};
        char path[PATH_MAX], abspid[PATH_MAX];
        struct xsim *x = NULL;
        sigset_t mask;
        int c, rc = 1;
        uint32_t id;

        x = calloc(1, sizeof(*x));
        if (!x)
                return 1;
        x->loglevel = XLOG_INFO;
        x->epfd = x->listen_fd = x->chan_fd = x->chan_ro_fd = -1;
        while ((c = getopt_long(argc, argv, "d:fp:vqh", opts, NULL)) != -1) {
                switch (c) {
                case 'd':
                        dir = optarg;
                        break;
                case 'f':
                        foreground = 1;
                        break;
                case 'p':
                        pidfile = optarg;
                        break;
                case 'v':
                        x->loglevel = XLOG_DEBUG;
                        break;
                case 'q':
                        x->loglevel = XLOG_WARN;
                        break;
                case 'h':
                        usage(stdout);
                        free(x);
                        return 0;
                default:
                        usage(stderr);
                        free(x);
                        return 2;
                }
        }
        if (!dir || optind != argc || strlen(dir) > 80) {
                usage(stderr);
                fprintf(stderr, "xensim: --dir is required (at most 80 characters: socket "
                                "paths must fit sun_path)\n");
                free(x);
                return 2;
        }
        if (pidfile && pidfile[0] != '/' && getcwd(abspid, sizeof(abspid) - strlen(pidfile) - 2)) {
                strcat(abspid, "/");
                strcat(abspid, pidfile);
                pidfile = abspid;
        }
        x->dir = dir;
        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        if (!foreground) {
                pid_t pid;
                char b = 0;

                if (pipe2(ready, O_CLOEXEC) < 0) {
                        perror("xensim: pipe");
                        goto out;
                }
                pid = fork();
                if (pid < 0) {
                        perror("xensim: fork");
                        goto out;
                }
                if (pid > 0) { /* parent: wait for the daemon to be ready */
                        close(ready[1]);
                        rc = read(ready[0], &b, 1) == 1 && b == 'R' ? 0 : 1;
                        close(ready[0]);
                        free(x);
                        return rc;
                }
                close(ready[0]);
                ready[0] = -1;
                setsid();
        }
        raise_nofile();
        if (mkdir(dir, 0755) == 0)
                made_dir = 1;
        else if (errno != EEXIST) {
                xlog(x, XLOG_ERR, "mkdir %s: %s", dir, strerror(errno));
                goto out;
        }
        x->epfd = epoll_create1(EPOLL_CLOEXEC);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (x->epfd < 0 || sfd < 0) {
                xlog(x, XLOG_ERR, "epoll/signalfd: %s", strerror(errno));
                goto out;
        }
        ev.data.u64 = TAG_SIGNAL;
        epoll_ctl(x->epfd, EPOLL_CTL_ADD, sfd, &ev);
        if (chan_init(x) < 0 || dom_create_dom0(x) < 0)
                goto out;
        snprintf(path, sizeof(path), "%s/xenstored.sock", dir);
        rc = xss_create(&x->xss, path);
        if (rc < 0) {
                xlog(x, XLOG_ERR, "xenstore server on %s: %s", path, strerror(-rc));
                rc = 1;
                goto out;
        }
        rc = 1;
        xss_set_log(x->xss, xss_log, x);
        ev.data.u64 = TAG_XSS;
        if (epoll_ctl(x->epfd, EPOLL_CTL_ADD, xss_fd(x->xss), &ev) < 0) {
                xlog(x, XLOG_ERR, "epoll add xenstore: %s", strerror(errno));
                goto out;
        }
        if (hvsrv_start(x) < 0)
                goto out;
        if (pidfile && write_pidfile(pidfile) < 0) {
                xlog(x, XLOG_ERR, "pidfile %s: %s", pidfile, strerror(errno));
                goto out;
        }
        wrote_pid = !!pidfile;
        xlog(x, XLOG_INFO, "ready in %s", dir);
        if (ready[1] >= 0) {
                int devnull = open("/dev/null", O_RDWR);

                if (write(ready[1], "R", 1) != 1)
                        xlog(x, XLOG_WARN, "cannot signal readiness");
                close(ready[1]);
                ready[1] = -1;
                if (devnull >= 0) {
                        dup2(devnull, 0);
                        dup2(devnull, 1);
                        close(devnull);
                }
        }
        rc = run(x, sfd) < 0 ? 1 : 0;
out:
        hvsrv_stop(x);
        for (id = XSIM_MAX_DOMID - 1; id > 0; id--)
                if (x->doms[id])
                        dom_release(x, x->doms[id]);
        if (x->doms[0]) {
                free(x->doms[0]->ports);
                free(x->doms[0]);
        }
        if (x->xss)
                xss_destroy(x->xss);
        chan_fini(x);
        if (wrote_pid)
                unlink(pidfile);
        if (made_dir && rmdir(dir) < 0)
                xlog(x, XLOG_WARN, "rmdir %s: %s", dir, strerror(errno));
        if (sfd >= 0)
                close(sfd);
        if (x->epfd >= 0)
                close(x->epfd);
        if (ready[1] >= 0)
                close(ready[1]);
        xlog(x, XLOG_INFO, "exit %d", rc);
        free(x);
        return rc;
}
