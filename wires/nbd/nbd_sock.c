/* nbd_sock.c: listening and connecting for "tcp:HOST:PORT" and
 * "unix:PATH" addresses (nbd_sock.h). */
#include "nbd_sock.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* addr -> a sockaddr; 0 or -EINVAL. */
static int parse(const char *addr, struct sockaddr_storage *ss, socklen_t *len, bool passive)
{
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                                 .ai_flags =
                                     AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
        struct addrinfo *ai = NULL;
        char host[128], *port;
        size_t hl;

        if (strncmp(addr, "unix:", 5) == 0) {
                struct sockaddr_un *un = (struct sockaddr_un *)ss;

                if (addr[5] == 0 || strlen(addr + 5) >= sizeof(un->sun_path))
                        return -EINVAL;
                memset(un, 0, sizeof(*un));
                un->sun_family = AF_UNIX;
                strcpy(un->sun_path, addr + 5);
                *len = sizeof(*un);
                return 0;
        }
        if (strncmp(addr, "tcp:", 4) != 0 ||
            snprintf(host, sizeof(host), "%s", addr + 4) >= (int)sizeof(host))
                return -EINVAL;
        port = strrchr(host, ':');
        if (!port || port[1] == 0)
                return -EINVAL;
        *port++ = 0;
        hl = strlen(host);
        if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
                host[hl - 1] = 0;
                memmove(host, host + 1, hl - 1);
        }
        if (getaddrinfo(host[0] ? host : NULL, port, &hints, &ai) != 0 || !ai)
                return -EINVAL;
        memcpy(ss, ai->ai_addr, ai->ai_addrlen);
        *len = ai->ai_addrlen;
        freeaddrinfo(ai);
        return 0;
}

int bn_nbd_listen(const char *addr, bool freebind, int *port, char *unix_path, size_t unix_len)
{
        struct sockaddr_storage ss, got;
        socklen_t len = 0, gl = sizeof(got);
        int fd = -1, one = 1, r;

        *port = 0;
        if (unix_len)
                unix_path[0] = 0;
        r = parse(addr, &ss, &len, true);
        if (r < 0)
                return r;
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (ss.ss_family == AF_UNIX)
                unlink(((struct sockaddr_un *)&ss)->sun_path);
        else
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (freebind && ss.ss_family != AF_UNIX &&
            setsockopt(fd, ss.ss_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
                       ss.ss_family == AF_INET6 ? IPV6_FREEBIND : IP_FREEBIND, &one,
                       sizeof(one)) < 0)
                goto fail;
        if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0)
                goto fail;
        if (ss.ss_family == AF_UNIX)
                snprintf(unix_path, unix_len, "%s", ((struct sockaddr_un *)&ss)->sun_path);
        else if (getsockname(fd, (struct sockaddr *)&got, &gl) == 0)
                *port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                        : ((struct sockaddr_in *)&got)->sin_port);
        return fd;
fail:
        r = -errno;
        close(fd);
        return r;
}

int bn_nbd_dial(const char *addr, bool *in_progress)
{
        struct sockaddr_storage ss;
        socklen_t len = 0;
        int fd, one = 1, r;

        *in_progress = false;
        r = parse(addr, &ss, &len, false);
        if (r < 0)
                return r;
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (ss.ss_family != AF_UNIX)
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
                if (errno != EINPROGRESS) {
                        r = -errno;
                        close(fd);
                        return r;
                }
                *in_progress = true;
        }
        return fd;
}
