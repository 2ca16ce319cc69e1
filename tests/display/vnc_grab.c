/* vnc_grab.c: a VNC viewer for the display tests, built on libvncclient
 * (Debian's libvncclient, the client half of LibVNCServer: the protocol,
 * authentication and decoding are its, not ours). It connects to a VNC
 * server (a Unix socket path, or HOST:PORT with --password-file), waits
 * for a WIDTHxHEIGHT frame and writes it as a binary PPM; with --frames N
 * it instead prints "frame K T" for each update whose pixel (0,0) shows a
 * new frame number K (its green byte, as sim-dispguest draws it), T the
 * CLOCK_MONOTONIC time in microseconds, until N were seen.
 *   vnc-grab SERVER WxH OUT.ppm [--password-file F] [--frames N] */
#include <rfb/rfbclient.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char password[128];
static unsigned want_w, want_h, frames_left;
static int last_k = -1;
static bool bench, done;

static char *get_password(rfbClient *cl)
{
        (void)cl;
        return strdup(password);
}

static void quiet(const char *fmt, ...)
{
        (void)fmt;
}

static void errlog(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fputs("vnc-grab: libvncclient: ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
}

static double now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Pixels of the update in progress: a resize alone brings none. */
static uint64_t covered;

static void got_rect(rfbClient *cl, int x, int y, int w, int h)
{
        (void)cl;
        (void)x;
        (void)y;
        covered += (uint64_t)w * (uint64_t)h;
}

static void got_update(rfbClient *cl)
{
        uint64_t got = covered;
        covered = 0;
        if ((unsigned)cl->width != want_w || (unsigned)cl->height != want_h || !got)
                return;
        if (!bench && got < (uint64_t)want_w * want_h)
                return; /* not the whole screen yet */
        if (!bench) {
                done = true;
                return;
        }
        int k = cl->frameBuffer[1]; /* R, G, B, X: the green byte of (0,0) */
        if (k != last_k) {
                last_k = k;
                printf("frame %d %.0f\n", k, now_us());
                fflush(stdout);
                if (--frames_left == 0)
                        done = true;
        }
}

int main(int argc, char **argv)
{
        if (argc < 4 || sscanf(argv[2], "%ux%u", &want_w, &want_h) != 2) {
                fprintf(stderr, "usage: vnc-grab SERVER WxH OUT.ppm [--password-file F] "
                                "[--frames N]\n");
                return 2;
        }
        for (int i = 4; i + 1 < argc; i += 2) {
                if (!strcmp(argv[i], "--password-file")) {
                        FILE *f = fopen(argv[i + 1], "r");
                        if (!f || !fgets(password, sizeof(password), f)) {
                                fprintf(stderr, "vnc-grab: cannot read %s\n", argv[i + 1]);
                                return 1;
                        }
                        fclose(f);
                        password[strcspn(password, "\r\n")] = 0;
                } else if (!strcmp(argv[i], "--frames")) {
                        frames_left = (unsigned)atoi(argv[i + 1]);
                        bench = frames_left > 0;
                }
        }
        rfbClientLog = quiet;
        rfbClientErr = errlog;
        rfbClient *cl = rfbGetClient(8, 3, 4);
        cl->GetPassword = get_password;
        cl->FinishedFrameBufferUpdate = got_update;
        cl->GotFrameBufferUpdate = got_rect;
        cl->appData.encodingsString = "raw";
        char *colon = strrchr(argv[1], ':');
        free(cl->serverHost); /* rfbGetClient's default */
        if (argv[1][0] == '/' || !colon) {
                cl->serverHost = strdup(argv[1]);
                cl->serverPort = 0;
        } else {
                cl->serverHost = strndup(argv[1], (size_t)(colon - argv[1]));
                cl->serverPort = atoi(colon + 1);
        }
        int one = 1;
        char *args[] = {"vnc-grab", NULL};
        if (!rfbInitClient(cl, &one, args)) { /* frees cl on failure */
                fprintf(stderr, "vnc-grab: cannot connect to %s\n", argv[1]);
                return 1;
        }
        double end = now_us() + 60e6;
        while (!done && now_us() < end) {
                int n = WaitForMessage(cl, 100000);
                if (n < 0 || (n > 0 && !HandleRFBServerMessage(cl))) {
                        fprintf(stderr, "vnc-grab: the server closed the connection\n");
                        free(cl->frameBuffer); /* the client's to free */
                        rfbClientCleanup(cl);
                        return 1;
                }
        }
        if (!done) {
                fprintf(stderr, "vnc-grab: no %ux%u frame within 60 s (server shows %dx%d)\n",
                        want_w, want_h, cl->width, cl->height);
                free(cl->frameBuffer);
                rfbClientCleanup(cl);
                return 1;
        }
        int rc = 0;
        if (!bench) {
                FILE *f = fopen(argv[3], "wb");
                if (!f)
                        return 1;
                fprintf(f, "P6\n%u %u\n255\n", want_w, want_h);
                for (size_t p = 0; p < (size_t)want_w * want_h; p++)
                        fwrite(cl->frameBuffer + p * 4, 1, 3, f);
                rc = fclose(f) ? 1 : 0;
        }
        free(cl->frameBuffer);
        rfbClientCleanup(cl);
        return rc;
}
