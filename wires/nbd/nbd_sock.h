/* nbd_sock.h: the nbd wire's socket addresses, "tcp:HOST:PORT" (HOST
 * numeric, IPv6 in brackets) or "unix:PATH", for the server's listening
 * socket and the client's connection. Both sockets are non-blocking. */
#ifndef BN_NBD_SOCK_H
#define BN_NBD_SOCK_H

#include <stdbool.h>
#include <stddef.h>

/* A listening socket. *port: the TCP port bound (0 for Unix); unix_path
 * (unix_len bytes): the path bound, to unlink at the end ("" for TCP).
 * freebind: a TCP address that is not (yet) this host's may be bound
 * (IP_FREEBIND: a tunnel's address before the tunnel is up). Returns the
 * fd, or -errno (-EINVAL for a bad address). */
int bn_nbd_listen(const char *addr, bool freebind, int *port, char *unix_path, size_t unix_len);
/* A connect started: the fd, with *in_progress when the connection is not
 * made yet (wait for EPOLLOUT, then SO_ERROR); or -errno. */
int bn_nbd_dial(const char *addr, bool *in_progress);

#endif
