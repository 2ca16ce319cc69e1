/* test_xs_lib.c: the xss server (run by xss-testd) driven by the real
 * libxenstore: tree operations, watches (initial event, changes, removal,
 * @introduceDomain / @releaseDomain), transactions (conflict -> EAGAIN,
 * retry, abort, events at commit), permissions and quotas of a domain
 * connection, raw-socket framing (split and pipelined requests, malformed
 * and oversized messages close only that client), and 10k nodes listed
 * through XS_DIRECTORY_PART.
 *
 *   test_xs_lib PATH-TO-xss-testd
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>
#include <xen/io/xs_wire.h>

#define TIMEOUT_MS 15000

static char dir[256];

#define CHECK(c)                                                                                   \
        do {                                                                                       \
                if (!(c)) {                                                                        \
                        fprintf(stderr, "%s:%d: CHECK(%s) failed (errno: %s)\n", __FILE__,         \
                                __LINE__, #c, strerror(errno));                                    \
                        return -1;                                                                 \
                }                                                                                  \
        } while (0)

static long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pid_t start_daemon(const char *testd)
{
        char pidfile[300];
        pid_t pid = fork();
        long end;

        if (pid < 0)
                return -1;
        if (pid == 0) {
                execl(testd, testd, dir, "7:guestA", "8:guestB", (char *)NULL);
                perror("exec xss-testd");
                _exit(127);
        }
        snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
        for (end = now_ms() + TIMEOUT_MS; now_ms() < end; usleep(10000)) {
                if (access(pidfile, F_OK) == 0)
                        return pid;
                if (waitpid(pid, NULL, WNOHANG) == pid)
                        return -1;
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
}

static int stop_daemon(pid_t pid)
{
        int status = 0;
        long end;

        kill(pid, SIGTERM);
        for (end = now_ms() + TIMEOUT_MS; now_ms() < end; usleep(10000))
                if (waitpid(pid, &status, WNOHANG) == pid)
                        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
}

static struct xs_handle *open_sock(const char *name)
{
        char path[300];

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        setenv("XENSTORED_PATH", path, 1);
        return xs_open(XS_OPEN_SOCKETONLY);
}

static int ctl(const char *cmd)
{
        char path[300];
        int fd, rc;

        snprintf(path, sizeof(path), "%s/ctl", dir);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        rc = write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd) ? 0 : -1;
        close(fd);
        return rc;
}

/* The next watch event must be (path, token). */
static int expect_event(struct xs_handle *h, const char *path, const char *token)
{
        long end = now_ms() + TIMEOUT_MS;
        char **ev;
        int ok;

        while (!(ev = xs_check_watch(h))) {
                struct pollfd p = {.fd = xs_fileno(h), .events = POLLIN};

                if (errno != EAGAIN || now_ms() > end) {
                        fprintf(stderr, "no watch event (wanted %s %s)\n", path, token);
                        return -1;
                }
                poll(&p, 1, 100);
        }
        ok = strcmp(ev[XS_WATCH_PATH], path) == 0 && strcmp(ev[XS_WATCH_TOKEN], token) == 0;
        if (!ok)
                fprintf(stderr, "watch event %s %s, wanted %s %s\n", ev[XS_WATCH_PATH],
                        ev[XS_WATCH_TOKEN], path, token);
        free(ev);
        return ok ? 0 : -1;
}

static int read_is(struct xs_handle *h, xs_transaction_t t, const char *path, const char *want)
{
        unsigned len;
        char *v = xs_read(h, t, path, &len);
        int ok = v && len == strlen(want) && strcmp(v, want) == 0;

        if (!ok)
                fprintf(stderr, "read %s: got '%s', wanted '%s'\n", path, v ? v : "(null)", want);
        free(v);
        return ok;
}

static int has_entry(char **list, unsigned n, const char *name)
{
        unsigned i;

        for (i = 0; i < n; i++)
                if (strcmp(list[i], name) == 0)
                        return 1;
        return 0;
}

static int raw_connect(const char *name)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name) >=
            sizeof(sa.sun_path)) {
                close(fd);
                return -1;
        }
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                close(fd);
                fd = -1;
        }
        return fd;
}

/* Read exactly len bytes, or report EOF (0) / error (-1). */
static int raw_read(int fd, void *buf, size_t len)
{
        size_t got = 0;

        while (got < len) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                ssize_t n;

                if (poll(&p, 1, TIMEOUT_MS) != 1)
                        return -1;
                n = read(fd, (char *)buf + got, len - got);
                if (n <= 0)
                        return (int)n;
                got += (size_t)n;
        }
        return 1;
}

static int test_basic(struct xs_handle *h, struct xs_handle *d7)
{
        unsigned n;
        char **list, *p;

        CHECK(xs_write(h, XBT_NULL, "/a/b", "c", 1));
        CHECK(read_is(h, XBT_NULL, "/a/b", "c"));
        CHECK(read_is(h, XBT_NULL, "/a", ""));
        CHECK(xs_mkdir(h, XBT_NULL, "/m"));
        CHECK(xs_mkdir(h, XBT_NULL, "/m")); /* existing: fine */
        list = xs_directory(h, XBT_NULL, "/", &n);
        CHECK(list && has_entry(list, n, "a") && has_entry(list, n, "m") &&
              has_entry(list, n, "local"));
        free(list);
        list = xs_directory(h, XBT_NULL, "/a", &n);
        CHECK(list && n == 1 && strcmp(list[0], "b") == 0);
        free(list);
        CHECK(xs_rm(h, XBT_NULL, "/a"));
        CHECK(!xs_read(h, XBT_NULL, "/a/b", &n) && errno == ENOENT);
        CHECK(!xs_write(h, XBT_NULL, "bad//path", "x", 1) && errno == EINVAL);
        CHECK(!xs_write(h, XBT_NULL, "/trailing/", "x", 1) && errno == EINVAL);
        p = xs_get_domain_path(h, 7);
        CHECK(p && strcmp(p, "/local/domain/7") == 0);
        free(p);
        CHECK(read_is(h, XBT_NULL, "/local/domain/7/name", "guestA"));
        CHECK(read_is(h, XBT_NULL, "/local/domain/8/domid", "8"));
        /* A domain's relative paths live under its home. */
        CHECK(xs_write(d7, XBT_NULL, "data/x", "42", 2));
        CHECK(read_is(h, XBT_NULL, "/local/domain/7/data/x", "42"));
        CHECK(read_is(d7, XBT_NULL, "data/x", "42"));
        CHECK(xs_is_domain_introduced(h, 7) && !xs_is_domain_introduced(h, 99));
        return 0;
}

static int test_watch(struct xs_handle *h)
{
        CHECK(xs_watch(h, "/w", "tok1"));
        CHECK(expect_event(h, "/w", "tok1") == 0); /* initial event */
        CHECK(xs_write(h, XBT_NULL, "/w", "1", 1));
        CHECK(expect_event(h, "/w", "tok1") == 0);
        CHECK(xs_write(h, XBT_NULL, "/w/child", "2", 1));
        CHECK(expect_event(h, "/w/child", "tok1") == 0);
        CHECK(xs_watch(h, "/w/deep/x", "tok2"));
        CHECK(expect_event(h, "/w/deep/x", "tok2") == 0);
        CHECK(!xs_watch(h, "/w/deep/x", "tok2") && errno == EEXIST);
        CHECK(xs_rm(h, XBT_NULL, "/w"));
        CHECK(expect_event(h, "/w", "tok1") == 0);
        CHECK(expect_event(h, "/w/deep/x", "tok2") == 0); /* watch below the removed node */
        CHECK(xs_unwatch(h, "/w", "tok1"));
        CHECK(xs_unwatch(h, "/w/deep/x", "tok2"));
        CHECK(!xs_unwatch(h, "/w", "tok1") && errno == ENOENT);
        CHECK(xs_watch(h, "/sentinel", "s"));
        CHECK(expect_event(h, "/sentinel", "s") == 0);
        CHECK(xs_write(h, XBT_NULL, "/w", "3", 1));
        CHECK(xs_write(h, XBT_NULL, "/sentinel", "x", 1));
        CHECK(expect_event(h, "/sentinel", "s") == 0); /* nothing for the removed watch */
        CHECK(xs_unwatch(h, "/sentinel", "s"));
        CHECK(xs_watch(h, "/", "root"));
        CHECK(expect_event(h, "/", "root") == 0);
        CHECK(xs_write(h, XBT_NULL, "/anything/at/all", "x", 1));
        CHECK(expect_event(h, "/anything/at/all", "root") == 0);
        CHECK(xs_unwatch(h, "/", "root"));
        CHECK(xs_rm(h, XBT_NULL, "/anything") && xs_rm(h, XBT_NULL, "/w"));
        CHECK(xs_rm(h, XBT_NULL, "/sentinel"));
        return 0;
}

static int test_tx(struct xs_handle *h, struct xs_handle *h2)
{
        xs_transaction_t t;
        unsigned n;

        CHECK(xs_write(h, XBT_NULL, "/tx/v", "0", 1));
        t = xs_transaction_start(h);
        CHECK(t != XBT_NULL);
        CHECK(read_is(h, t, "/tx/v", "0"));
        CHECK(xs_write(h2, XBT_NULL, "/tx/v", "other", 5)); /* conflicting change */
        CHECK(xs_write(h, t, "/tx/v", "mine", 4));
        CHECK(read_is(h, t, "/tx/v", "mine"));
        CHECK(read_is(h2, XBT_NULL, "/tx/v", "other")); /* isolated */
        CHECK(!xs_transaction_end(h, t, false) && errno == EAGAIN);
        CHECK(read_is(h, XBT_NULL, "/tx/v", "other"));
        /* Retry succeeds. */
        t = xs_transaction_start(h);
        CHECK(t != XBT_NULL);
        CHECK(read_is(h, t, "/tx/v", "other"));
        CHECK(xs_write(h, t, "/tx/v", "mine", 4));
        CHECK(xs_write(h, t, "/tx/new/deep", "d", 1));
        CHECK(xs_transaction_end(h, t, false));
        CHECK(read_is(h, XBT_NULL, "/tx/v", "mine"));
        CHECK(read_is(h, XBT_NULL, "/tx/new/deep", "d"));
        /* Abort drops the changes. */
        t = xs_transaction_start(h);
        CHECK(xs_write(h, t, "/tx/aborted", "x", 1));
        CHECK(xs_rm(h, t, "/tx/new"));
        CHECK(xs_transaction_end(h, t, true));
        CHECK(!xs_read(h, XBT_NULL, "/tx/aborted", &n) && errno == ENOENT);
        CHECK(read_is(h, XBT_NULL, "/tx/new/deep", "d"));
        /* Events of a transaction fire at commit. */
        CHECK(xs_watch(h2, "/txw", "tw"));
        CHECK(expect_event(h2, "/txw", "tw") == 0);
        CHECK(xs_write(h, XBT_NULL, "/sentinel2", "", 0)); /* before the tx: root unchanged */
        CHECK(xs_watch(h2, "/sentinel2", "s2"));
        CHECK(expect_event(h2, "/sentinel2", "s2") == 0);
        t = xs_transaction_start(h);
        CHECK(xs_write(h, t, "/txw/a", "1", 1));
        CHECK(xs_write(h, XBT_NULL, "/sentinel2", "x", 1));
        CHECK(expect_event(h2, "/sentinel2", "s2") == 0);
        CHECK(xs_transaction_end(h, t, false));
        CHECK(expect_event(h2, "/txw/a", "tw") == 0);
        CHECK(xs_unwatch(h2, "/txw", "tw") && xs_unwatch(h2, "/sentinel2", "s2"));
        CHECK(xs_rm(h, XBT_NULL, "/tx") && xs_rm(h, XBT_NULL, "/txw"));
        CHECK(xs_rm(h, XBT_NULL, "/sentinel2"));
        return 0;
}

static int test_perms(struct xs_handle *h, struct xs_handle *d7)
{
        struct xs_permissions grant[2] = {{.id = 0, .perms = XS_PERM_NONE},
                                          {.id = 7, .perms = XS_PERM_READ | XS_PERM_WRITE}};
        struct xs_permissions *p;
        unsigned n, i;
        char name[64];

        p = xs_get_permissions(h, XBT_NULL, "/local/domain/7", &n);
        CHECK(p && n == 1 && p[0].id == 7 && p[0].perms == XS_PERM_NONE);
        free(p);
        CHECK(!xs_write(d7, XBT_NULL, "/outside", "x", 1) && errno == EACCES);
        CHECK(xs_write(d7, XBT_NULL, "/local/domain/7/mine", "1", 1));
        CHECK(xs_mkdir(h, XBT_NULL, "/shared"));
        CHECK(!xs_write(d7, XBT_NULL, "/shared/x", "1", 1) && errno == EACCES);
        CHECK(xs_set_permissions(h, XBT_NULL, "/shared", grant, 2));
        CHECK(xs_write(d7, XBT_NULL, "/shared/x", "1", 1));
        p = xs_get_permissions(h, XBT_NULL, "/shared/x", &n);
        CHECK(p && n == 2 && p[0].id == 7); /* inherited, owned by its creator */
        free(p);
        /* No 'r': no read, no value in watch events. */
        CHECK(xs_write(h, XBT_NULL, "/secret", "s", 1));
        CHECK(!xs_read(d7, XBT_NULL, "/secret", &n) && errno == EACCES);
        CHECK(!xs_read(d7, XBT_NULL, "/local/domain/8/name", &n) && errno == EACCES);
        CHECK(!xs_directory(d7, XBT_NULL, "/local/domain/8", &n) && errno == EACCES);
        CHECK(!xs_set_permissions(d7, XBT_NULL, "/secret", grant, 2) && errno == EACCES);
        CHECK(xs_watch(d7, "/secret", "sec"));
        CHECK(expect_event(d7, "/secret", "sec") == 0);
        CHECK(xs_watch(d7, "sent", "s7")); /* relative watch: relative events */
        CHECK(expect_event(d7, "sent", "s7") == 0);
        CHECK(xs_write(h, XBT_NULL, "/secret", "t", 1));
        CHECK(xs_write(h, XBT_NULL, "/local/domain/7/sent", "x", 1));
        CHECK(expect_event(d7, "sent", "s7") == 0);
        CHECK(xs_unwatch(d7, "/secret", "sec") && xs_unwatch(d7, "sent", "s7"));
        /* Node quota: a domain cannot fill the store. */
        for (i = 0; i < 1100; i++) {
                snprintf(name, sizeof(name), "q/n%u", i);
                if (!xs_write(d7, XBT_NULL, name, "v", 1))
                        break;
        }
        CHECK(i < 1100 && errno == ENOSPC);
        CHECK(xs_rm(d7, XBT_NULL, "q"));
        CHECK(xs_write(d7, XBT_NULL, "q/again", "v", 1));
        CHECK(xs_rm(d7, XBT_NULL, "q"));
        CHECK(xs_rm(h, XBT_NULL, "/shared") && xs_rm(h, XBT_NULL, "/secret"));
        return 0;
}

/* A domain's quotas: watches (E2BIG), transactions (ENOSPC), permission
 * list length, connections; and what an owner may change. */
static int test_quota(struct xs_handle *h)
{
        struct xs_permissions mine[6] = {
            {.id = 7, .perms = XS_PERM_NONE},  {.id = 8, .perms = XS_PERM_READ},
            {.id = 9, .perms = XS_PERM_READ},  {.id = 10, .perms = XS_PERM_READ},
            {.id = 11, .perms = XS_PERM_READ}, {.id = 12, .perms = XS_PERM_READ}};
        struct xs_permissions give = {.id = 8, .perms = XS_PERM_NONE};
        struct xs_handle *q = open_sock("dom7.sock"), *d8 = open_sock("dom8.sock");
        xs_transaction_t t[11];
        int fds[20], working = 0;
        unsigned i, n;
        long end;
        char tok[16];

        CHECK(q && d8);
        for (i = 0; i < 200; i++) {
                snprintf(tok, sizeof(tok), "w%u", i);
                if (!xs_watch(q, "quota", tok))
                        break;
        }
        CHECK(i < 200 && errno == E2BIG);
        for (i = 0; i < 11; i++) {
                t[i] = xs_transaction_start(q);
                if (t[i] == XBT_NULL)
                        break;
        }
        CHECK(i < 11 && errno == ENOSPC);
        /* The owner may share its node, but not give it away, nor list 6 domains. */
        CHECK(xs_write(q, XBT_NULL, "shared", "s", 1));
        CHECK(!xs_read(d8, XBT_NULL, "/local/domain/7/shared", &n) && errno == EACCES);
        CHECK(xs_set_permissions(q, XBT_NULL, "shared", mine, 2));
        CHECK(read_is(d8, XBT_NULL, "/local/domain/7/shared", "s"));
        CHECK(!xs_set_permissions(q, XBT_NULL, "shared", mine, 6) && errno == ENOSPC);
        CHECK(!xs_set_permissions(q, XBT_NULL, "shared", &give, 1) && errno == EPERM);
        CHECK(!xs_set_permissions(d8, XBT_NULL, "/local/domain/7/shared", &give, 1) &&
              errno == EACCES);
        CHECK(xs_rm(q, XBT_NULL, "shared"));
        xs_close(q); /* drops its watches and transactions */
        xs_close(d8);
        /* Connections of one domain are limited (16). */
        for (i = 0; i < 20; i++) {
                struct xsd_sockmsg m = {.type = XS_GET_DOMAIN_PATH, .req_id = i, .len = 2};
                char req[sizeof(m) + 2];

                fds[i] = raw_connect("dom7.sock");
                CHECK(fds[i] >= 0);
                memcpy(req, &m, sizeof(m));
                memcpy(req + sizeof(m), "7", 2);
                if (write(fds[i], req, sizeof(req)) != (ssize_t)sizeof(req))
                        continue; /* already closed */
        }
        for (i = 0; i < 20; i++) {
                struct xsd_sockmsg r;

                if (raw_read(fds[i], &r, sizeof(r)) == 1 && r.req_id == i)
                        working++;
        }
        for (i = 0; i < 20; i++)
                close(fds[i]); /* only now: a freed slot would admit a waiting one */
        printf("     %d of 20 extra connections of dom7 served\n", working);
        CHECK(working >= 1 && working <= 15);
        /* Closing them makes room again (once the server saw the closes). */
        for (end = now_ms() + TIMEOUT_MS;; usleep(50000)) {
                char *v;

                q = open_sock("dom7.sock");
                v = q ? xs_read(q, XBT_NULL, "name", &n) : NULL;
                xs_close(q);
                if (v) {
                        free(v);
                        break;
                }
                CHECK(now_ms() < end);
        }
        (void)h;
        return 0;
}

static int test_domains(struct xs_handle *h, struct xs_handle *d7)
{
        struct xs_permissions rel_perms[2] = {{.id = 0, .perms = XS_PERM_NONE},
                                              {.id = 7, .perms = XS_PERM_READ}};
        char path[300];
        unsigned n;
        struct xs_handle *d9;

        CHECK(xs_watch(h, "@introduceDomain", "intro"));
        CHECK(expect_event(h, "@introduceDomain", "intro") == 0);
        CHECK(xs_watch(h, "@releaseDomain", "rel"));
        CHECK(expect_event(h, "@releaseDomain", "rel") == 0);
        /* Dom0 lets domain 7 see @releaseDomain. */
        CHECK(xs_set_permissions(h, XBT_NULL, "@releaseDomain", rel_perms, 2));
        CHECK(xs_watch(d7, "@releaseDomain", "rel7"));
        CHECK(expect_event(d7, "@releaseDomain", "rel7") == 0);
        CHECK(ctl("add 9 guestC\n") == 0);
        CHECK(expect_event(h, "@introduceDomain", "intro") == 0);
        CHECK(read_is(h, XBT_NULL, "/local/domain/9/name", "guestC"));
        CHECK(xs_is_domain_introduced(h, 9));
        d9 = open_sock("dom9.sock");
        CHECK(d9);
        CHECK(read_is(d9, XBT_NULL, "name", "guestC"));
        CHECK(ctl("rm 9\n") == 0);
        CHECK(expect_event(h, "@releaseDomain", "rel") == 0);
        CHECK(expect_event(d7, "@releaseDomain", "rel7") == 0);
        CHECK(xs_unwatch(d7, "@releaseDomain", "rel7"));
        CHECK(!xs_read(h, XBT_NULL, "/local/domain/9", &n) && errno == ENOENT);
        CHECK(!xs_read(d9, XBT_NULL, "name", &n)); /* its connection is gone */
        xs_close(d9);
        snprintf(path, sizeof(path), "%s/dom9.sock", dir);
        CHECK(access(path, F_OK) < 0);
        CHECK(xs_unwatch(h, "@introduceDomain", "intro"));
        CHECK(xs_unwatch(h, "@releaseDomain", "rel"));
        return 0;
}

static int test_framing(struct xs_handle *h, const char *sockname)
{
        struct xs_permissions all_read = {.id = 0, .perms = XS_PERM_READ};
        struct xsd_sockmsg m[2] = {{.type = XS_READ, .req_id = 11, .len = 7},
                                   {.type = XS_GET_DOMAIN_PATH, .req_id = 12, .len = 2}};
        char req[64], reply[64];
        struct xsd_sockmsg r;
        size_t len = 0, i;
        int fd = raw_connect(sockname), bad, big;

        CHECK(fd >= 0);
        CHECK(xs_write(h, XBT_NULL, "/frame", "val", 3));
        CHECK(xs_set_permissions(h, XBT_NULL, "/frame", &all_read, 1));
        /* Two pipelined requests, the first split byte by byte. */
        memcpy(req, &m[0], sizeof(m[0]));
        len = sizeof(m[0]);
        memcpy(req + len, "/frame", 7);
        len += 7;
        memcpy(req + len, &m[1], sizeof(m[1]));
        len += sizeof(m[1]);
        memcpy(req + len, "7", 2);
        len += 2;
        for (i = 0; i < 20; i++)
                CHECK(write(fd, req + i, 1) == 1);
        CHECK(write(fd, req + 20, len - 20) == (ssize_t)(len - 20));
        CHECK(raw_read(fd, &r, sizeof(r)) == 1);
        CHECK(r.type == XS_READ && r.req_id == 11 && r.len == 3);
        CHECK(raw_read(fd, reply, r.len) == 1 && memcmp(reply, "val", 3) == 0);
        CHECK(raw_read(fd, &r, sizeof(r)) == 1);
        CHECK(r.type == XS_GET_DOMAIN_PATH && r.req_id == 12);
        CHECK(raw_read(fd, reply, r.len) == 1 && strcmp(reply, "/local/domain/7") == 0);
        /* An error reply names the errno and echoes req_id and tx_id. */
        memset(&r, 0, sizeof(r));
        r.type = XS_READ;
        r.req_id = 13;
        r.tx_id = 0;
        r.len = 9;
        memcpy(req, &r, sizeof(r));
        memcpy(req + sizeof(r), "/frame/x", 9);
        CHECK(write(fd, req, sizeof(r) + 9) == (ssize_t)(sizeof(r) + 9));
        CHECK(raw_read(fd, &r, sizeof(r)) == 1);
        CHECK(r.type == XS_ERROR && r.req_id == 13 && r.len == 7);
        CHECK(raw_read(fd, reply, r.len) == 1 && strcmp(reply, "ENOENT") == 0);
        /* Garbage header, and a length over XENSTORE_PAYLOAD_MAX: closed. */
        bad = raw_connect(sockname);
        big = raw_connect(sockname);
        CHECK(bad >= 0 && big >= 0);
        memset(req, 0xa5, sizeof(req));
        CHECK(write(bad, req, sizeof(req)) == (ssize_t)sizeof(req));
        CHECK(raw_read(bad, reply, 1) == 0);
        memset(&r, 0, sizeof(r));
        r.type = XS_WRITE;
        r.len = XENSTORE_PAYLOAD_MAX + 1;
        CHECK(write(big, &r, sizeof(r)) == (ssize_t)sizeof(r));
        CHECK(raw_read(big, reply, 1) == 0);
        close(bad);
        close(big);
        /* The other clients are still served. */
        CHECK(read_is(h, XBT_NULL, "/frame", "val"));
        memcpy(req, &m[1], sizeof(m[1]));
        memcpy(req + sizeof(m[1]), "8", 2);
        CHECK(write(fd, req, sizeof(m[1]) + 2) == (ssize_t)(sizeof(m[1]) + 2));
        CHECK(raw_read(fd, &r, sizeof(r)) == 1 && r.req_id == 12);
        CHECK(raw_read(fd, reply, r.len) == 1 && strcmp(reply, "/local/domain/8") == 0);
        close(fd);
        CHECK(xs_rm(h, XBT_NULL, "/frame"));
        return 0;
}

/* Many pipelined requests for large values from a client that does not
 * read at first: the server holds back (stops reading its requests) instead
 * of queueing replies without bound, and every reply arrives, in order,
 * once the client reads. */
static int test_backpressure(struct xs_handle *h, const char *sockname)
{
        enum { N = 5000, VLEN = 4000 };
        struct xs_permissions all_read = {.id = 0, .perms = XS_PERM_READ};
        struct xsd_sockmsg m = {.type = XS_READ, .len = 5};
        static char val[VLEN], buf[2 * (sizeof(m) + VLEN)];
        char req[sizeof(m) + 5];
        unsigned sent = 0, got = 0, phase1;
        size_t off = 0, rlen = 0;
        int fd = raw_connect(sockname), fl;

        CHECK(fd >= 0);
        memset(val, 'v', sizeof(val));
        CHECK(xs_write(h, XBT_NULL, "/big", val, VLEN));
        CHECK(xs_set_permissions(h, XBT_NULL, "/big", &all_read, 1));
        fl = fcntl(fd, F_GETFL);
        CHECK(fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
        for (phase1 = 1; got < N;) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};

                /* Phase 1 writes until the socket is full, reading nothing. */
                if (!phase1)
                        p.events = POLLIN | (sent < N ? POLLOUT : 0);
                CHECK(poll(&p, 1, phase1 ? 0 : TIMEOUT_MS) == 1 || phase1);
                if (phase1 && !(p.revents & POLLOUT)) {
                        printf("     %u requests written before the socket filled up\n", sent);
                        phase1 = 0;
                        continue;
                }
                if (p.revents & POLLIN) {
                        ssize_t n = read(fd, buf + rlen, sizeof(buf) - rlen);
                        struct xsd_sockmsg r;

                        CHECK(n > 0 || (n < 0 && errno == EAGAIN));
                        rlen += n > 0 ? (size_t)n : 0;
                        while (rlen >= sizeof(r)) {
                                memcpy(&r, buf, sizeof(r));
                                if (rlen < sizeof(r) + r.len)
                                        break;
                                CHECK(r.type == XS_READ && r.req_id == got && r.len == VLEN);
                                CHECK(memcmp(buf + sizeof(r), val, VLEN) == 0);
                                got++;
                                rlen -= sizeof(r) + r.len;
                                memmove(buf, buf + sizeof(r) + r.len, rlen);
                        }
                }
                if (sent < N && (p.revents & POLLOUT)) {
                        ssize_t n;

                        m.req_id = sent;
                        memcpy(req, &m, sizeof(m));
                        memcpy(req + sizeof(m), "/big", 5);
                        n = send(fd, req + off, sizeof(req) - off, MSG_NOSIGNAL);
                        CHECK(n > 0 || (n < 0 && errno == EAGAIN));
                        off += n > 0 ? (size_t)n : 0;
                        if (off == sizeof(req)) {
                                off = 0;
                                sent++;
                        }
                } else if (phase1 && sent == N) {
                        phase1 = 0;
                }
        }
        close(fd);
        CHECK(xs_rm(h, XBT_NULL, "/big"));
        return 0;
}

/* A domain that watches but never reads its events cannot make the server
 * queue without bound nor stall others: Dom0's writes all complete (events
 * beyond the limit are dropped), and the client still gets answers once it
 * reads again. */
static int test_slow_reader(struct xs_handle *h)
{
        enum { TOKLEN = 2000, WRITES = 2000 };
        static char req[sizeof(struct xsd_sockmsg) + 64 + TOKLEN], buf[8192];
        struct xsd_sockmsg m = {.type = XS_WATCH, .req_id = 1};
        size_t len = sizeof(m), rlen = 0;
        int fd = raw_connect("dom7.sock"), found = 0;
        unsigned i, events = 0;

        CHECK(fd >= 0);
        memcpy(req + len, "slow", 5);
        len += 5;
        memset(req + len, 't', TOKLEN);
        len += TOKLEN;
        req[len++] = '\0';
        m.len = (uint32_t)(len - sizeof(m));
        memcpy(req, &m, sizeof(m));
        CHECK(write(fd, req, len) == (ssize_t)len);
        for (i = 0; i < WRITES; i++)
                CHECK(xs_write(h, XBT_NULL, "/local/domain/7/slow", "x", 1));
        /* Ask something, then read until its answer shows up. */
        m.type = XS_GET_DOMAIN_PATH;
        m.req_id = 99;
        m.len = 2;
        memcpy(req, &m, sizeof(m));
        memcpy(req + sizeof(m), "7", 2);
        CHECK(write(fd, req, sizeof(m) + 2) == (ssize_t)(sizeof(m) + 2));
        while (!found) {
                struct xsd_sockmsg r;
                struct pollfd p = {.fd = fd, .events = POLLIN};
                ssize_t n;

                CHECK(poll(&p, 1, TIMEOUT_MS) == 1);
                n = read(fd, buf + rlen, sizeof(buf) - rlen);
                CHECK(n > 0);
                rlen += (size_t)n;
                while (rlen >= sizeof(r)) {
                        memcpy(&r, buf, sizeof(r));
                        CHECK(r.len <= XENSTORE_PAYLOAD_MAX);
                        if (rlen < sizeof(r) + r.len)
                                break;
                        events += r.type == XS_WATCH_EVENT;
                        found |= r.type == XS_GET_DOMAIN_PATH && r.req_id == 99;
                        rlen -= sizeof(r) + r.len;
                        memmove(buf, buf + sizeof(r) + r.len, rlen);
                }
        }
        printf("     %u of %u watch events delivered to a client that did not read\n", events,
               WRITES + 1);
        CHECK(events < WRITES + 1); /* some were dropped, not queued forever */
        close(fd);
        CHECK(xs_rm(h, XBT_NULL, "/local/domain/7/slow"));
        return 0;
}

static int test_scale(struct xs_handle *h)
{
        char path[64], val[16];
        unsigned n, i;
        char **list;
        xs_transaction_t t = XBT_NULL;

        for (i = 0; i < 10000; i++) {
                if (i % 1000 == 0) {
                        if (t != XBT_NULL)
                                CHECK(xs_transaction_end(h, t, false));
                        t = xs_transaction_start(h);
                        CHECK(t != XBT_NULL);
                }
                snprintf(path, sizeof(path), "/scale/node%05u", i);
                snprintf(val, sizeof(val), "%u", i);
                CHECK(xs_write(h, t, path, val, strlen(val)));
        }
        CHECK(xs_transaction_end(h, t, false));
        CHECK(read_is(h, XBT_NULL, "/scale/node09999", "9999"));
        /* 10000 names do not fit one reply: libxenstore uses XS_DIRECTORY_PART. */
        list = xs_directory(h, XBT_NULL, "/scale", &n);
        CHECK(list && n == 10000);
        CHECK(strcmp(list[0], "node00000") == 0 && strcmp(list[9999], "node09999") == 0);
        free(list);
        CHECK(xs_rm(h, XBT_NULL, "/scale"));
        CHECK(!xs_read(h, XBT_NULL, "/scale/node00001", &n) && errno == ENOENT);
        return 0;
}

int main(int argc, char **argv)
{
        struct xs_handle *h = NULL, *h2 = NULL, *d7 = NULL;
        pid_t pid;
        int fails = 0;

        if (argc != 2) {
                fprintf(stderr, "usage: test_xs_lib PATH-TO-xss-testd\n");
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        snprintf(dir, sizeof(dir), "/tmp/xss-test-XXXXXX");
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        pid = start_daemon(argv[1]);
        if (pid < 0) {
                fprintf(stderr, "xss-testd did not start\n");
                rmdir(dir);
                return 1;
        }
        h = open_sock("xenstored.sock");
        h2 = open_sock("xenstored.sock");
        d7 = open_sock("dom7.sock");
        if (!h || !h2 || !d7) {
                fprintf(stderr, "xs_open: %s\n", strerror(errno));
                fails++;
                goto out;
        }
#define RUN(t)                                                                                     \
        do {                                                                                       \
                int r_ = (t);                                                                      \
                printf("%s %s\n", r_ ? "FAIL" : "ok  ", #t);                                       \
                fails += r_ != 0;                                                                  \
        } while (0)
        RUN(test_basic(h, d7));
        RUN(test_watch(h));
        RUN(test_tx(h, h2));
        RUN(test_perms(h, d7));
        RUN(test_quota(h));
        RUN(test_domains(h, d7));
        RUN(test_framing(h, "xenstored.sock"));
        RUN(test_framing(h, "dom7.sock"));
        RUN(test_backpressure(h, "dom7.sock"));
        RUN(test_slow_reader(h));
        RUN(test_scale(h));
out:
        xs_close(d7);
        xs_close(h2);
        xs_close(h);
        if (stop_daemon(pid)) {
                fprintf(stderr, "xss-testd did not exit cleanly\n");
                fails++;
        }
        if (rmdir(dir) < 0) {
                fprintf(stderr, "%s not empty after the daemon stopped: %s\n", dir,
                        strerror(errno));
                fails++;
        }
        return fails ? 1 : 0;
}
