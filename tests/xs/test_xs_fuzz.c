/* test_xs_fuzz.c: hostile clients against the xss server (run by
 * xss-testd). Sends tens of thousands of random requests (any type, random
 * req_id/tx_id, payloads built from paths, tokens, numbers, permission
 * strings and random bytes, sometimes without the final nul, sometimes
 * oversized) first as domain 7, then as Dom0, reading whatever comes back.
 * Afterwards the server must still answer the real libxenstore correctly and
 * exit cleanly (under ASan/UBSan: without errors or leaks).
 *
 *   test_xs_fuzz PATH-TO-xss-testd [ITERATIONS]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>
#include <xen/io/xs_wire.h>

#define TIMEOUT_MS 15000

static char dir[256];
static unsigned long long rng = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (unsigned)(rng % n);
}

static long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_sock(const char *name)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        if (fd < 0)
                return -1;
        if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name) >=
                sizeof(sa.sun_path) ||
            connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* Write buf while reading (and dropping) replies; -1 when the server
 * closed the connection. */
static int send_drain(int fd, const char *buf, size_t len)
{
        char sink[8192];
        size_t off = 0;

        while (off < len) {
                struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
                ssize_t n;

                if (poll(&p, 1, TIMEOUT_MS) != 1)
                        return -1;
                if (p.revents & POLLIN) {
                        n = read(fd, sink, sizeof(sink));
                        if (n == 0 || (n < 0 && errno != EAGAIN))
                                return -1;
                }
                if (p.revents & (POLLERR | POLLHUP))
                        return -1;
                if (p.revents & POLLOUT) {
                        n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
                        if (n < 0 && errno != EAGAIN)
                                return -1;
                        if (n > 0)
                                off += (size_t)n;
                }
        }
        while (read(fd, sink, sizeof(sink)) > 0)
                ;
        return 0;
}

static const char *const words[] = {
    "/",
    "/a",
    "/a/b",
    "a",
    "a/b/c",
    "/local/domain/7",
    "/local",
    "/local/domain",
    "data",
    "@introduceDomain",
    "@releaseDomain",
    "@bad",
    "T",
    "F",
    "0",
    "7",
    "8",
    "99",
    "r0",
    "w7",
    "b7",
    "n0",
    "n7",
    "x1",
    "print",
    "help",
    "",
    "//",
    "/a/",
    "tok",
    "/local/domain/8/name",
    "1",
    "4294967295",
    "-1",
    "/a/b/c/d/e/f",
    "../..",
};

static size_t build_payload(char *p, size_t max)
{
        size_t len = 0;
        unsigned parts = rnd(5), i;

        for (i = 0; i <= parts; i++) {
                const char *w;
                size_t l;

                if (rnd(8) == 0) { /* random bytes */
                        l = rnd(64);
                        if (len + l + 1 > max)
                                break;
                        for (size_t k = 0; k < l; k++)
                                p[len + k] = (char)rnd(256);
                } else if (rnd(40) == 0) { /* a long path */
                        l = 1 + rnd(3500);
                        if (len + l + 1 > max)
                                break;
                        for (size_t k = 0; k < l; k++)
                                p[len + k] = k % 7 == 0 ? '/' : 'x';
                } else {
                        w = words[rnd(sizeof(words) / sizeof(words[0]))];
                        l = strlen(w);
                        if (len + l + 1 > max)
                                break;
                        memcpy(p + len, w, l);
                }
                len += l;
                if (rnd(10) != 0)
                        p[len++] = '\0';
        }
        return len;
}

static int fuzz(const char *sock, unsigned iterations)
{
        static char msg[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX + 64];
        int fd = connect_sock(sock), reconnects = 0;
        unsigned i;

        if (fd < 0)
                return -1;
        for (i = 0; i < iterations; i++) {
                struct xsd_sockmsg h = {0};
                size_t plen = build_payload(msg + sizeof(h), XENSTORE_PAYLOAD_MAX);

                h.type = rnd(50) == 0 ? rnd(1000) : rnd(XS_TYPE_COUNT);
                h.req_id = rnd(0xffffffffu);
                h.tx_id = rnd(3) == 0 ? rnd(40) : 0;
                h.len = (uint32_t)plen;
                if (rnd(500) == 0)
                        h.len = XENSTORE_PAYLOAD_MAX + 1 + rnd(100000);
                memcpy(msg, &h, sizeof(h));
                if (send_drain(fd, msg, sizeof(h) + (h.len == plen ? plen : 0)) < 0) {
                        /* closed: expected after a malformed message */
                        close(fd);
                        reconnects++;
                        fd = connect_sock(sock);
                        if (fd < 0) {
                                fprintf(stderr, "%s: cannot reconnect after %u messages\n", sock,
                                        i);
                                return -1;
                        }
                }
        }
        close(fd);
        printf("%s: %u messages, %d reconnects\n", sock, iterations, reconnects);
        return 0;
}

int main(int argc, char **argv)
{
        char pidfile[300], path[300];
        unsigned iterations = argc > 2 ? (unsigned)atoi(argv[2]) : 20000;
        struct xs_handle *h = NULL;
        int fails = 0, status = 0;
        char *v = NULL;
        unsigned len;
        pid_t pid;
        long end;

        if (argc < 2) {
                fprintf(stderr, "usage: test_xs_fuzz PATH-TO-xss-testd [ITERATIONS]\n");
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        snprintf(dir, sizeof(dir), "/tmp/xss-fuzz-XXXXXX");
        if (!mkdtemp(dir))
                return 1;
        pid = fork();
        if (pid == 0) {
                execl(argv[1], argv[1], dir, "7:guestA", "8:guestB", (char *)NULL);
                _exit(127);
        }
        snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
        for (end = now_ms() + TIMEOUT_MS; access(pidfile, F_OK) < 0; usleep(10000)) {
                if (now_ms() > end || waitpid(pid, NULL, WNOHANG) == pid) {
                        fprintf(stderr, "xss-testd did not start\n");
                        kill(pid, SIGKILL);
                        waitpid(pid, NULL, 0);
                        rmdir(dir);
                        return 1;
                }
        }
        fails += fuzz("dom7.sock", iterations) != 0;
        fails += fuzz("xenstored.sock", iterations / 2) != 0;

        snprintf(path, sizeof(path), "%s/xenstored.sock", dir);
        setenv("XENSTORED_PATH", path, 1);
        h = xs_open(XS_OPEN_SOCKETONLY);
        if (!h || !xs_write(h, XBT_NULL, "/after/fuzz", "alive", 5) ||
            !(v = xs_read(h, XBT_NULL, "/after/fuzz", &len)) || strcmp(v, "alive") != 0) {
                fprintf(stderr, "server does not work after the fuzzing: %s\n", strerror(errno));
                fails++;
        }
        free(v);
        xs_close(h);

        kill(pid, SIGTERM);
        for (end = now_ms() + TIMEOUT_MS; waitpid(pid, &status, WNOHANG) != pid; usleep(10000)) {
                if (now_ms() > end) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                        break;
                }
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "xss-testd did not exit cleanly (status %#x)\n", status);
                fails++;
        }
        if (rmdir(dir) < 0) {
                fprintf(stderr, "%s: %s\n", dir, strerror(errno));
                fails++;
        }
        printf("%s\n", fails ? "FAIL" : "ok");
        return fails ? 1 : 0;
}
