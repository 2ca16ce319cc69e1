/* corm_vnc.c: the display Corm's VNC server (libvncserver): the
 * connectors' last frames, served to any VNC viewer as one screen with the
 * connectors side by side, left to right in their order, top-aligned
 * (a single connector's frame is the screen as it is). Where it listens is a Corm
 * parameter: vnc-socket=PATH (a Unix socket, mode 0600, no password: the
 * file's permissions are the access control) and/or vnc-port=N with
 * vnc-password-file=FILE (TCP on 127.0.0.1 only, VNC authentication with
 * the file's first line). libvncserver's sockets are served by the Corm's
 * loop: each readable fd, and each new frame, runs rfbProcessEvents with
 * no wait, so the VNC state has the loop as its one owner like the rest. */
#include "displ_corm.h"

#include <errno.h>
#include <rfb/rfb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bn_endpoint.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_params.h"

#define VNC_DEFAULT_W 640
#define VNC_DEFAULT_H 480

struct displ_vnc {
        struct bn_endpoint *ep;
        rfbScreenInfoPtr screen;
        uint8_t *blank; /* the frame shown before the guest's first one */
        char *passwords[2];
        int unix_fd, tcp_fd;
        char unix_path[108];
        /* each connector's last frame (the Corm's), and the screen that
         * shows them side by side when more than one has shown one */
        uint8_t *cpx[BN_DISPL_CONN_MAX];
        uint32_t cw[BN_DISPL_CONN_MAX], ch[BN_DISPL_CONN_MAX];
        uint8_t *side;
};

static void vnc_events(struct displ_vnc *v)
{
        if (v->screen)
                rfbProcessEvents(v->screen, 0);
}

static void fd_ready(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        (void)loop;
        (void)fd;
        (void)events;
        vnc_events(arg);
}

static void client_gone(rfbClientPtr cl)
{
        struct displ_vnc *v = cl->screen->screenData;
        intptr_t fd = (intptr_t)cl->clientData;
        bn_loop_del_fd(v->ep->loop, (int)fd);
        bn_info(v->ep->name, "vnc: a viewer left");
}

static enum rfbNewClientAction new_client(rfbClientPtr cl)
{
        struct displ_vnc *v = cl->screen->screenData;
        cl->clientData = (void *)(intptr_t)cl->sock;
        cl->clientGoneHook = client_gone;
        if (bn_loop_add_fd(v->ep->loop, cl->sock, EPOLLIN, fd_ready, v))
                return RFB_CLIENT_REFUSE;
        bn_info(v->ep->name, "vnc: a viewer connected");
        return RFB_CLIENT_ACCEPT;
}

static void unix_ready(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        (void)loop;
        (void)events;
        struct displ_vnc *v = arg;
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
                return;
        if (!rfbNewClient(v->screen, c))
                close(c); /* refused (logged by the hook) */
}

static int listen_unix(struct displ_vnc *v, const char *path, char *err, size_t errlen)
{
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(a.sun_path)) {
                snprintf(err, errlen, "parameter 'vnc-socket': path too long");
                return -ENAMETOOLONG;
        }
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        unlink(path);
        mode_t old = umask(0177);
        int rc = bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 8) ? -errno : 0;
        umask(old);
        if (!rc)
                rc = bn_loop_add_fd(v->ep->loop, fd, EPOLLIN, unix_ready, v);
        if (rc) {
                snprintf(err, errlen, "vnc-socket %s: %s", path, strerror(-rc));
                close(fd);
                return rc;
        }
        v->unix_fd = fd;
        snprintf(v->unix_path, sizeof(v->unix_path), "%s", path);
        return 0;
}

static int read_password(const char *file, char **out, char *err, size_t errlen)
{
        char line[128] = "";
        FILE *f = fopen(file, "r");
        if (!f || !fgets(line, sizeof(line), f)) {
                snprintf(err, errlen, "vnc-password-file %s: %s", file,
                         f ? "empty" : strerror(errno));
                if (f)
                        fclose(f);
                return -EINVAL;
        }
        fclose(f);
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) {
                snprintf(err, errlen, "vnc-password-file %s: the first line is empty", file);
                return -EINVAL;
        }
        *out = strdup(line);
        return *out ? 0 : -ENOMEM;
}

void displ_vnc_close(struct displ_vnc *v)
{
        if (!v)
                return;
        if (v->unix_fd >= 0) {
                bn_loop_del_fd(v->ep->loop, v->unix_fd);
                close(v->unix_fd);
                unlink(v->unix_path);
        }
        if (v->tcp_fd >= 0)
                bn_loop_del_fd(v->ep->loop, v->tcp_fd);
        if (v->screen) {
                rfbShutdownServer(v->screen, TRUE); /* clients gone: hooks unregister */
                rfbScreenCleanup(v->screen);
        }
        free(v->passwords[0]);
        free(v->blank);
        free(v->side);
        free(v);
}

int displ_vnc_check(const struct bn_params *p, char *err, size_t errlen)
{
        uint64_t port;
        const char *pw;
        int rc = bn_params_get_uint(p, "vnc-port", false, 0, 1, 65535, &port, err, errlen);
        if (!rc)
                rc = bn_params_get_str(p, "vnc-password-file", false, NULL, &pw, err, errlen);
        if (!rc && port && !pw) {
                snprintf(err, errlen,
                         "parameter 'vnc-port' needs 'vnc-password-file': a VNC "
                         "port is served with a password only");
                rc = -EINVAL;
        }
        return rc;
}

int displ_vnc_open(struct bn_endpoint *ep, const struct bn_params *p, struct displ_vnc **out,
                   char *err, size_t errlen)
{
        const char *sock, *pwfile;
        uint64_t port;
        struct displ_vnc *v = NULL;
        int rc = displ_vnc_check(p, err, errlen);
        *out = NULL;
        if (rc)
                goto out;
        bn_params_get_str(p, "vnc-socket", false, NULL, &sock, err, errlen);
        bn_params_get_str(p, "vnc-password-file", false, NULL, &pwfile, err, errlen);
        bn_params_get_uint(p, "vnc-port", false, 0, 1, 65535, &port, err, errlen);
        if (!sock && !port)
                goto out; /* no VNC: snapshots only */
        v = calloc(1, sizeof(*v));
        if (!v) {
                rc = -ENOMEM;
                goto out;
        }
        v->ep = ep;
        v->unix_fd = v->tcp_fd = -1;
        if (pwfile && (rc = read_password(pwfile, &v->passwords[0], err, errlen)))
                goto out;
        v->blank = calloc(1, VNC_DEFAULT_W * VNC_DEFAULT_H * 4);
        rfbLogEnable(0); /* its messages would go to stderr, not our log */
        v->screen = rfbGetScreen(NULL, NULL, VNC_DEFAULT_W, VNC_DEFAULT_H, 8, 3, 4);
        if (!v->blank || !v->screen) {
                snprintf(err, errlen, "libvncserver: cannot make a screen");
                rc = -ENOMEM;
                goto out;
        }
        rfbScreenInfoPtr s = v->screen;
        s->screenData = v;
        s->desktopName = "banana display";
        s->frameBuffer = (char *)v->blank;
        /* our pixels are XRGB8888 little endian: B, G, R, X in memory */
        s->serverFormat.redShift = 16;
        s->serverFormat.greenShift = 8;
        s->serverFormat.blueShift = 0;
        /* no cursor: libvncserver would draw its default one into our
         * frame (the guest's pixels, and the snapshot's) */
        s->cursor = NULL;
        s->alwaysShared = TRUE;
        s->deferUpdateTime = 0;
        s->newClientHook = new_client;
        s->autoPort = FALSE;
        s->port = port ? (int)port : 0;
        s->ipv6port = 0;
        s->listenInterface = htonl(INADDR_LOOPBACK);
        if (v->passwords[0]) {
                s->authPasswdData = v->passwords;
                s->passwordCheck = rfbCheckPasswordByList;
        }
        rfbInitServer(s);
        if (port) {
                if (s->listenSock == RFB_INVALID_SOCKET) {
                        snprintf(err, errlen, "vnc-port %llu on 127.0.0.1: cannot listen",
                                 (unsigned long long)port);
                        rc = -EADDRINUSE;
                        goto out;
                }
                if ((rc = bn_loop_add_fd(ep->loop, s->listenSock, EPOLLIN, fd_ready, v)))
                        goto out;
                v->tcp_fd = s->listenSock;
        }
        if (sock && (rc = listen_unix(v, sock, err, errlen)))
                goto out;
        bn_info(ep->name, "vnc: serving the connectors on %s%s%s%s", sock ? sock : "",
                sock && port ? " and " : "", port ? "127.0.0.1:" : "",
                port ? bn_params_get(p, "vnc-port") : "");
        *out = v;
        v = NULL;
out:
        displ_vnc_close(v);
        return rc;
}

/* The screen's size for the connectors' frames side by side. */
static void layout(const struct displ_vnc *v, uint32_t *w, uint32_t *h)
{
        *w = *h = 0;
        for (unsigned i = 0; i < BN_DISPL_CONN_MAX; i++) {
                *w += v->cw[i];
                *h = v->ch[i] > *h ? v->ch[i] : *h;
        }
}

/* Connector conn's pixels into the side-by-side screen. */
static void compose(struct displ_vnc *v, unsigned conn, uint32_t sw)
{
        uint32_t x = 0;
        for (unsigned i = 0; i < conn; i++)
                x += v->cw[i];
        for (uint32_t y = 0; y < v->ch[conn]; y++)
                memcpy(v->side + ((size_t)y * sw + x) * 4,
                       v->cpx[conn] + (size_t)y * v->cw[conn] * 4, (size_t)v->cw[conn] * 4);
}

void displ_vnc_frame(struct displ_vnc *v, unsigned conn, uint8_t *px, uint32_t w, uint32_t h)
{
        if (!v || conn >= BN_DISPL_CONN_MAX)
                return;
        rfbScreenInfoPtr s = v->screen;
        bool moved = v->cw[conn] != w || v->ch[conn] != h;
        uint32_t sw, sh;
        v->cpx[conn] = px;
        v->cw[conn] = w;
        v->ch[conn] = h;
        layout(v, &sw, &sh);
        bool alone = w == sw && h == sh; /* only this connector shows: its pixels as they are */
        uint8_t *fb = alone ? px : v->side;
        if (!alone && (moved || !v->side)) {
                uint8_t *side = calloc((size_t)sw * sh, 4);
                if (!side)
                        return; /* the viewers keep the last screen */
                free(v->side);
                fb = v->side = side;
                for (unsigned i = 0; i < BN_DISPL_CONN_MAX; i++)
                        if (v->cpx[i])
                                compose(v, i, sw);
        } else if (!alone) {
                compose(v, conn, sw);
        }
        if ((uint32_t)s->width != sw || (uint32_t)s->height != sh)
                rfbNewFramebuffer(s, (char *)fb, (int)sw, (int)sh, 8, 3, 4);
        s->frameBuffer = (char *)fb;
        s->serverFormat.redShift = 16; /* rfbNewFramebuffer resets the format */
        s->serverFormat.greenShift = 8;
        s->serverFormat.blueShift = 0;
        rfbMarkRectAsModified(s, 0, 0, (int)sw, (int)sh);
        vnc_events(v);
}
