/* nbd_tls.h: TLS for the nbd wire's STARTTLS (OpenSSL), both ends: the
 * server's context from a certificate, its key and optionally a CA that
 * client certificates must chain to; the client's from the CA the server's
 * certificate must chain to (and the name it must carry) and optionally a
 * client certificate; non-blocking read / write / handshake steps that say
 * what the socket must wait for. */
#ifndef BN_NBD_TLS_H
#define BN_NBD_TLS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ssl_st;
struct ssl_ctx_st;

struct bn_nbd_tls_cfg {
        const char *cert; /* PEM certificate (chain) of this end */
        const char *key;  /* PEM private key */
        const char *ca;   /* PEM CA: peers must present a certificate it signed; NULL: none asked */
        bool require;     /* refuse every option but STARTTLS and ABORT before TLS */
};

/* A server context (TLS 1.2 or later). -EINVAL with the reason logged. */
int bn_nbd_tls_server_ctx(struct ssl_ctx_st **out, const struct bn_nbd_tls_cfg *cfg);
/* A client context: the server is verified against cfg->ca (required);
 * cfg->cert and cfg->key, when given, are presented. */
int bn_nbd_tls_client_ctx(struct ssl_ctx_st **out, const struct bn_nbd_tls_cfg *cfg);
void bn_nbd_tls_ctx_free(struct ssl_ctx_st *ctx);
/* A client-side session on fd; the server's certificate must name peer (a
 * DNS name or an IP address). NULL when out of memory. */
struct ssl_st *bn_nbd_tls_connect(struct ssl_ctx_st *ctx, int fd, const char *peer);
/* A server-side session on fd; NULL when out of memory. */
struct ssl_st *bn_nbd_tls_accept(struct ssl_ctx_st *ctx, int fd);
void bn_nbd_tls_free(struct ssl_st *ssl);

/* One handshake step: 1 done, 0 in progress (*want: EPOLLIN and/or
 * EPOLLOUT to wait for), -EPROTO failed (the reason logged under ctx). */
int bn_nbd_tls_handshake(struct ssl_st *ssl, uint32_t *want, const char *ctx);
/* As recv/send on a non-blocking socket: bytes, 0 (read: the peer closed),
 * -EAGAIN (*want says for what), -EIO. */
ssize_t bn_nbd_tls_read(struct ssl_st *ssl, void *buf, size_t len, uint32_t *want);
ssize_t bn_nbd_tls_write(struct ssl_st *ssl, const void *buf, size_t len, uint32_t *want);
/* Decrypted bytes waiting inside the session (epoll cannot see them). */
int bn_nbd_tls_pending(struct ssl_st *ssl);

#endif
