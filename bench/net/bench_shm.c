/* bench_shm.c: the shm wire micro-benchmark: frames per second and Gbit/s
 * through one shm wire between two processes (a producer that waits for
 * space when the ring is full, a consumer that waits for frames), batches of
 * 32. Prints one line:
 *   shm size=64 frames=N seconds=S fps=F gbps=G kicks=K
 * usage: bench_shm [--size BYTES] [--seconds S] [--ring BYTES]
 */
#include "shm_port.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TYPE_DATA 1
#define TYPE_STOP 2

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct rx {
        unsigned long long frames, bytes;
        int stop;
};

static int on_frame(void *arg, uint16_t type, const void *meta, size_t ml, const void *d,
                    size_t len)
{
        struct rx *r = arg;

        (void)meta;
        (void)ml;
        (void)d;
        if (type == TYPE_STOP) {
                r->stop = 1;
                return 1;
        }
        r->frames++;
        r->bytes += len;
        return 0;
}

static int consumer(const char *path, size_t size)
{
        struct bn_shm_port *p;
        struct bn_shm_stats st;
        struct rx r = {0};
        double t0 = 0, t1;

        if (bn_shm_connect(path, "bench consumer", 10000, &p) < 0)
                return 2;
        while (!r.stop) {
                int n = bn_shm_port_recv(p, 64, on_frame, &r);

                if (n < 0)
                        return 3;
                if (n > 0 && t0 == 0)
                        t0 = now();
                if (n == 0 && bn_shm_port_wait(p, BN_SHM_WANT_RX, 10000) <= 0)
                        return 4;
        }
        t1 = now();
        bn_shm_port_stats(p, &st);
        printf("shm size=%zu frames=%llu seconds=%.3f fps=%.0f gbps=%.3f kicks=%llu\n", size,
               r.frames, t1 - t0, r.frames / (t1 - t0), r.bytes * 8.0 / (t1 - t0) / 1e9,
               (unsigned long long)st.kicks_sent);
        fflush(stdout);
        bn_shm_port_close(p);
        return 0;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {{"size", 1, NULL, 's'},
                                             {"seconds", 1, NULL, 't'},
                                             {"ring", 1, NULL, 'r'},
                                             {NULL, 0, NULL, 0}};
        size_t size = 64;
        double secs = 3;
        uint32_t ring = 0;
        char path[108];
        static char buf[BN_SHM_FRAME_MAX];
        struct bn_shm_port *p;
        int c, lfd, status;
        pid_t pid;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                if (c == 's')
                        size = strtoul(optarg, NULL, 0);
                else if (c == 't')
                        secs = atof(optarg);
                else if (c == 'r')
                        ring = (uint32_t)strtoul(optarg, NULL, 0);
                else
                        return 2;
        }
        if (size == 0 || size > BN_SHM_FRAME_MAX)
                return 2;
        snprintf(path, sizeof(path), "@banana-bench-shm-%d", (int)getpid());
        lfd = bn_shm_listen(path);
        if (lfd < 0)
                return 1;
        pid = fork();
        if (pid == 0) {
                close(lfd);
                fflush(stdout);
                _exit(consumer(path, size));
        }
        if (bn_shm_accept(lfd, "bench producer", ring, &p) < 0) {
                kill(pid, SIGKILL);
                return 1;
        }
        close(lfd);
        memset(buf, 0x5a, size);
        {
                struct iovec iov = {.iov_base = buf, .iov_len = size};
                double t0 = now();
                unsigned long long sent = 0;

                while (now() - t0 < secs) {
                        for (int i = 0; i < 32; i++) {
                                int rc = bn_shm_port_send(p, TYPE_DATA, NULL, 0, &iov, 1, false);

                                if (rc == -ENOBUFS) {
                                        bn_shm_port_flush(p);
                                        if (bn_shm_port_wait(p, BN_SHM_WANT_SPACE, 10000) <= 0)
                                                goto out;
                                        continue;
                                }
                                if (rc < 0)
                                        goto out;
                                sent++;
                        }
                        bn_shm_port_flush(p);
                }
                while (bn_shm_port_send(p, TYPE_STOP, NULL, 0, &iov, 1, false) == -ENOBUFS) {
                        bn_shm_port_flush(p);
                        bn_shm_port_wait(p, BN_SHM_WANT_SPACE, 10000);
                }
                bn_shm_port_flush(p);
        }
out:
        waitpid(pid, &status, 0);
        bn_shm_port_close(p);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
