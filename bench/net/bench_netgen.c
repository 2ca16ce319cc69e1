/* bench_netgen.c: the kernel-baseline frame generator and counter of
 * bench/net: raw Ethernet frames (ethertype 0x88b5, as sim-netguest's
 * generator) on an AF_PACKET socket, sent with sendmmsg in batches of 64
 * (PACKET_QDISC_BYPASS), counted with recvmmsg.
 *   bench_netgen send IFNAME SIZE SECONDS   prints "sent=N"
 *   bench_netgen recv IFNAME MAX_SECONDS    prints "frames=N bytes=B
 *        seconds=S fps=F gbps=G" (first to last frame; stops after 1 s idle)
 * Run each in its network namespace (ip netns exec).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETHERTYPE 0x88b5
#define BATCH     64

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int open_sock(const char *ifname, int proto)
{
        struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(proto)};
        int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(proto)), one = 1, big = 64 << 20;

        sll.sll_ifindex = (int)if_nametoindex(ifname);
        if (fd < 0 || sll.sll_ifindex == 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
                fprintf(stderr, "bench_netgen: %s: %s\n", ifname, strerror(errno));
                exit(1);
        }
        setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
        setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
        return fd;
}

static int do_send(const char *ifname, size_t size, double secs)
{
        static unsigned char frames[BATCH][9216];
        struct mmsghdr m[BATCH];
        struct iovec iov[BATCH];
        unsigned long long sent = 0;
        int fd = open_sock(ifname, ETHERTYPE);
        double t0 = now();

        if (size < 60 || size > sizeof(frames[0]))
                return 2;
        for (int i = 0; i < BATCH; i++) {
                memcpy(frames[i], "\x02\x00\x00\x00\x00\x02",
                       6); /* unicast: no copy to the host stack */
                memcpy(frames[i] + 6, "\x02\x00\x00\x00\x00\x01", 6);
                frames[i][12] = ETHERTYPE >> 8;
                frames[i][13] = ETHERTYPE & 0xff;
                iov[i].iov_base = frames[i];
                iov[i].iov_len = size;
                memset(&m[i], 0, sizeof(m[i]));
                m[i].msg_hdr.msg_iov = &iov[i];
                m[i].msg_hdr.msg_iovlen = 1;
        }
        while (now() - t0 < secs) {
                int n = sendmmsg(fd, m, BATCH, 0);

                if (n < 0) {
                        if (errno == ENOBUFS || errno == EAGAIN) {
                                usleep(50);
                                continue;
                        }
                        fprintf(stderr, "bench_netgen: send: %s\n", strerror(errno));
                        return 1;
                }
                sent += (unsigned)n;
        }
        printf("sent=%llu\n", sent);
        return 0;
}

static int do_recv(const char *ifname, double max_secs)
{
        static unsigned char bufs[BATCH][9216 + 64];
        struct mmsghdr m[BATCH];
        struct iovec iov[BATCH];
        unsigned long long frames = 0, bytes = 0;
        double start = now(), t0 = 0, t1 = 0;
        int fd = open_sock(ifname, ETHERTYPE);

        for (int i = 0; i < BATCH; i++) {
                iov[i].iov_base = bufs[i];
                iov[i].iov_len = sizeof(bufs[i]);
                memset(&m[i], 0, sizeof(m[i]));
                m[i].msg_hdr.msg_iov = &iov[i];
                m[i].msg_hdr.msg_iovlen = 1;
        }
        printf("ready\n");
        fflush(stdout);
        while (now() - start < max_secs) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                int n;

                if (poll(&pfd, 1, 1000) <= 0) {
                        if (frames)
                                break; /* idle after traffic: done */
                        continue;
                }
                n = recvmmsg(fd, m, BATCH, MSG_DONTWAIT, NULL);
                if (n <= 0)
                        continue;
                if (!frames)
                        t0 = now();
                for (int i = 0; i < n; i++)
                        bytes += m[i].msg_len;
                frames += (unsigned)n;
                t1 = now();
        }
        if (t1 <= t0)
                t1 = t0 + 1e-9;
        printf("frames=%llu bytes=%llu seconds=%.3f fps=%.0f gbps=%.3f\n", frames, bytes, t1 - t0,
               frames / (t1 - t0), bytes * 8.0 / (t1 - t0) / 1e9);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc == 5 && strcmp(argv[1], "send") == 0)
                return do_send(argv[2], strtoul(argv[3], NULL, 0), atof(argv[4]));
        if (argc == 4 && strcmp(argv[1], "recv") == 0)
                return do_recv(argv[2], atof(argv[3]));
        fprintf(stderr, "usage: bench_netgen send IFNAME SIZE SECONDS | recv IFNAME MAX_SECONDS\n");
        return 2;
}
