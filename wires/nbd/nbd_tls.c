/* nbd_tls.c: OpenSSL for the NBD server's STARTTLS: context, sessions and
 * non-blocking steps (nbd_tls.h). */
#include "nbd_tls.h"
#include "bn_log.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>
#include <sys/epoll.h>
#include <openssl/x509v3.h>

static const char *tls_why(void)
{
        static _Thread_local char buf[160];
        unsigned long e = ERR_get_error();

        if (!e)
                return "no reason given";
        ERR_error_string_n(e, buf, sizeof(buf));
        ERR_clear_error();
        return buf;
}

/* A context with this end's certificate and key (both or neither) and a CA
 * that the peer's certificate must chain to (NULL: none asked). */
static int tls_ctx(SSL_CTX **out, const SSL_METHOD *method, const struct bn_nbd_tls_cfg *cfg)
{
        SSL_CTX *ctx = NULL;
        const char *what = "context";
        int r = -EINVAL;

        *out = NULL;
        if (!cfg->cert != !cfg->key) {
                bn_err("nbd-tls", "a certificate needs its key, and a key its certificate");
                return -EINVAL;
        }
        ctx = SSL_CTX_new(method);
        if (!ctx)
                goto out;
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        what = cfg->cert;
        if (cfg->cert && SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1)
                goto out;
        what = cfg->key;
        if (cfg->key && (SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1 ||
                         SSL_CTX_check_private_key(ctx) != 1))
                goto out;
        if (cfg->ca) {
                what = cfg->ca;
                if (SSL_CTX_load_verify_locations(ctx, cfg->ca, NULL) != 1)
                        goto out;
                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
        *out = ctx;
        ctx = NULL;
        r = 0;
out:
        if (r < 0)
                bn_err("nbd-tls", "%s: %s", what ? what : "?", tls_why());
        SSL_CTX_free(ctx);
        return r;
}

int bn_nbd_tls_server_ctx(SSL_CTX **out, const struct bn_nbd_tls_cfg *cfg)
{
        if (!cfg->cert) {
                bn_err("nbd-tls", "the server needs a certificate and its key");
                *out = NULL;
                return -EINVAL;
        }
        return tls_ctx(out, TLS_server_method(), cfg);
}

int bn_nbd_tls_client_ctx(SSL_CTX **out, const struct bn_nbd_tls_cfg *cfg)
{
        if (!cfg->ca) {
                bn_err("nbd-tls", "the client needs the CA the server's certificate chains to");
                *out = NULL;
                return -EINVAL;
        }
        return tls_ctx(out, TLS_client_method(), cfg);
}

void bn_nbd_tls_ctx_free(SSL_CTX *ctx)
{
        SSL_CTX_free(ctx);
}

SSL *bn_nbd_tls_accept(SSL_CTX *ctx, int fd)
{
        SSL *ssl = SSL_new(ctx);

        if (ssl && SSL_set_fd(ssl, fd) != 1) {
                SSL_free(ssl);
                return NULL;
        }
        if (ssl)
                SSL_set_accept_state(ssl);
        return ssl;
}

SSL *bn_nbd_tls_connect(SSL_CTX *ctx, int fd, const char *peer)
{
        SSL *ssl = SSL_new(ctx);
        X509_VERIFY_PARAM *vp;

        if (!ssl)
                return NULL;
        vp = SSL_get0_param(ssl);
        /* an IP address is checked as one, a name as a DNS name */
        if (SSL_set_fd(ssl, fd) != 1 ||
            (X509_VERIFY_PARAM_set1_ip_asc(vp, peer) != 1 && SSL_set1_host(ssl, peer) != 1)) {
                SSL_free(ssl);
                return NULL;
        }
        if (!strchr(peer, ':') && strspn(peer, "0123456789.") != strlen(peer))
                SSL_set_tlsext_host_name(ssl, peer);
        SSL_set_connect_state(ssl);
        return ssl;
}

void bn_nbd_tls_free(SSL *ssl)
{
        SSL_free(ssl);
}

/* What SSL_get_error says to wait for; false when it is a failure. */
static bool tls_want(SSL *ssl, int ret, uint32_t *want)
{
        switch (SSL_get_error(ssl, ret)) {
        case SSL_ERROR_WANT_READ:
                *want = EPOLLIN;
                return true;
        case SSL_ERROR_WANT_WRITE:
                *want = EPOLLIN | EPOLLOUT;
                return true;
        default:
                return false;
        }
}

int bn_nbd_tls_handshake(SSL *ssl, uint32_t *want, const char *ctx)
{
        int ret = SSL_do_handshake(ssl);

        *want = 0;
        if (ret == 1)
                return 1;
        if (tls_want(ssl, ret, want))
                return 0;
        bn_warn(ctx, "TLS handshake failed: %s", tls_why());
        return -EPROTO;
}

ssize_t bn_nbd_tls_read(SSL *ssl, void *buf, size_t len, uint32_t *want)
{
        int ret = SSL_read(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);

        *want = 0;
        if (ret > 0)
                return ret;
        if (SSL_get_error(ssl, ret) == SSL_ERROR_ZERO_RETURN)
                return 0;
        if (tls_want(ssl, ret, want))
                return -EAGAIN;
        ERR_clear_error();
        return -EIO;
}

ssize_t bn_nbd_tls_write(SSL *ssl, const void *buf, size_t len, uint32_t *want)
{
        int ret = SSL_write(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);

        *want = 0;
        if (ret > 0)
                return ret;
        if (tls_want(ssl, ret, want))
                return -EAGAIN;
        ERR_clear_error();
        return -EIO;
}

int bn_nbd_tls_pending(SSL *ssl)
{
        return SSL_pending(ssl);
}
