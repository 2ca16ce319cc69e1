/* vpn_tunnel.c: the OpenVPN 2.6 tunnels of the "vpn" wire type, one per
 * pair of hosts, and this host's certificate.
 *
 * Everything of a tunnel's process runs on the type's supervisor loop (one
 * thread of its own): writing its configuration, starting openvpn, following
 * its state through the management interface (a Unix socket, `state on`),
 * noticing its exit (a pidfd), restarting it with backoff (1 s doubling to
 * 30 s, back to 1 s once connected) and stopping it a linger period
 * (VPN_TUN_LINGER_MS) after its last wire left, unless a wire came back.
 * The tunnel is `dev tun` (L3) with point-to-point addresses from
 * 10.250.0.0/16, a /30 derived from the pair of underlay addresses (the
 * lower one is .1 and the TLS server); each wire's frames travel inside it
 * as VXLAN (vpn_wire.c). Trust: OpenVPN's --peer-fingerprint with the
 * peer's SHA-256 certificate fingerprint; cipher AES-256-GCM; OpenVPN uses
 * its data-channel offload when the kernel has it (ovpn-dco), else its
 * userspace data channel. When the tunnel's state changes, each of its ports
 * is woken through its fd, and the framework asks the port's linked again.
 */
#include "vpn_tunnel.h"

#include "bn_log.h"
#include "bn_loop.h"
#include "bn_params.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define CTX          "vpn"
#define BACKOFF_MIN  1000u
#define BACKOFF_MAX  30000u
#define MGMT_POLL_MS 200u
#ifndef VPN_TUN_LINGER_MS
#define VPN_TUN_LINGER_MS 60000u /* a tunnel without wires stays up this long */
#endif

extern char **environ;

/* Run argv (blocking), stdout to out (NULL: /dev/null); 0 or -errno/-EIO. */
static int run(char *const argv[], const char *out)
{
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int st = 0, rc;

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, out ? out : "/dev/null",
                                         O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc)
                return -rc;
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

int vpn_cert_init(struct vpn_ctx *c)
{
        char crt[256], key[256], fpf[256], line[256];
        FILE *f = NULL;
        char *eq;
        int rc = 0;

        snprintf(crt, sizeof(crt), "%s/host.crt", c->dir);
        snprintf(key, sizeof(key), "%s/host.key", c->dir);
        snprintf(fpf, sizeof(fpf), "%s/host.fp", c->dir);
        if (mkdir(c->dir, 0700) < 0 && errno != EEXIST) {
                rc = -errno;
                snprintf(c->cert_err, sizeof(c->cert_err), "cannot make %.150s: %s", c->dir,
                         strerror(errno));
                goto out;
        }
        if (access(crt, R_OK) != 0 || access(key, R_OK) != 0) {
                char *const gen[] = {"openssl",
                                     "req",
                                     "-x509",
                                     "-newkey",
                                     "ec",
                                     "-pkeyopt",
                                     "ec_paramgen_curve:prime256v1",
                                     "-nodes",
                                     "-days",
                                     "3650",
                                     "-subj",
                                     "/CN=banana",
                                     "-keyout",
                                     key,
                                     "-out",
                                     crt,
                                     NULL};
                if ((rc = run(gen, NULL)) < 0) {
                        snprintf(c->cert_err, sizeof(c->cert_err),
                                 "openssl could not make a certificate in %.120s: %s", c->dir,
                                 strerror(-rc));
                        goto out;
                }
                bn_info(CTX, "made this host's certificate %s", crt);
        }
        char *const fp[] = {"openssl", "x509", "-noout", "-fingerprint",
                            "-sha256", "-in",  crt,      NULL};
        if ((rc = run(fp, fpf)) < 0 || !(f = fopen(fpf, "r")) || !fgets(line, sizeof(line), f) ||
            !(eq = strchr(line, '=')) || strlen(eq + 1) < 95) {
                rc = rc ? rc : -EIO;
                snprintf(c->cert_err, sizeof(c->cert_err), "cannot read the fingerprint of %.150s",
                         crt);
                goto out;
        }
        snprintf(c->fp, sizeof(c->fp), "%.95s", eq + 1);
        bn_info(CTX, "this host's certificate fingerprint (SHA-256): %s", c->fp);
out:
        if (f)
                fclose(f);
        return rc;
}

/* ---- tunnels ------------------------------------------------------------ */

static void set_state(struct vpn_tun *t, bool up, const char *why)
{
        struct vpn_ctx *c = t->ctx;
        uint64_t one = 1;
        bool was;

        pthread_mutex_lock(&c->mu);
        was = atomic_exchange(&t->up, up);
        snprintf(t->why, sizeof(t->why), "%s", up ? "" : why);
        if (was != up)
                for (struct vpn_port *p = t->ports; p; p = p->next)
                        if (p->efd >= 0 && write(p->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                                bn_warn(CTX, "cannot wake a port: %s", strerror(errno));
        pthread_mutex_unlock(&c->mu);
        if (was != up)
                bn_info(CTX, "tunnel %u to %s: %s%s", t->idx, inet_ntoa(t->peer_ul),
                        up ? "up" : "down: ", up ? "" : why);
}

static void tun_spawn(struct vpn_tun *t);

/* STATE_DIR/vpn/tunIDX.WHAT; false when it does not fit (a Unix socket's
 * path has 108 bytes). */
static bool path_of(const struct vpn_tun *t, const char *what, char *buf, size_t len)
{
        int n = snprintf(buf, len, "%s/tun%u.%s", t->ctx->dir, t->idx, what);

        return n > 0 && (size_t)n < len;
}

static void mgmt_close(struct vpn_tun *t)
{
        struct bn_loop *l = bn_workers_loop(t->ctx->sup, 0);

        if (t->mfd >= 0) {
                bn_loop_del_fd(l, t->mfd);
                close(t->mfd);
        }
        t->mfd = -1;
        t->mlen = 0;
}

/* One line from the management interface: ">STATE:t,NAME,..." (pushed) or
 * "t,NAME,..." (the answer to `state`). */
static void mgmt_line(struct vpn_tun *t, char *s)
{
        char why[160], *name, *end;

        if (!strncmp(s, ">STATE:", 7))
                s += 7;
        else if (*s < '0' || *s > '9')
                return;
        if (!(name = strchr(s, ',')))
                return;
        name++;
        if ((end = strchr(name, ',')))
                *end = '\0';
        if (!strcmp(name, "CONNECTED")) {
                t->backoff_ms = BACKOFF_MIN;
                set_state(t, true, "");
                return;
        }
        snprintf(why, sizeof(why), "tunnel down: openvpn %s", name);
        set_state(t, false, why);
}

static void mgmt_readable(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        struct vpn_tun *t = arg;
        ssize_t n;
        char *nl;

        (void)loop;
        (void)events;
        n = read(fd, t->mbuf + t->mlen, sizeof(t->mbuf) - 1 - t->mlen);
        if (n <= 0) {
                mgmt_close(t); /* openvpn is going: its pidfd says so */
                return;
        }
        t->mlen += (size_t)n;
        t->mbuf[t->mlen] = '\0';
        while ((nl = strchr(t->mbuf, '\n'))) {
                *nl = '\0';
                if (nl > t->mbuf && nl[-1] == '\r')
                        nl[-1] = '\0';
                mgmt_line(t, t->mbuf);
                t->mlen -= (size_t)(nl + 1 - t->mbuf);
                memmove(t->mbuf, nl + 1, t->mlen + 1);
        }
        if (t->mlen == sizeof(t->mbuf) - 1)
                t->mlen = 0; /* a line that long is none of ours */
}

/* Connect to the management socket once openvpn made it (polled). */
static void mgmt_try(struct bn_loop *loop, struct bn_timer *tm, void *arg)
{
        struct vpn_tun *t = arg;
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        static const char hello[] = "state on\nstate\n";
        int fd;

        (void)tm;
        if (t->mfd >= 0 || t->pid <= 0)
                return;
        if (!path_of(t, "mgmt", a.sun_path, sizeof(a.sun_path)))
                return;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            write(fd, hello, sizeof(hello) - 1) != (ssize_t)sizeof(hello) - 1 ||
            fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ||
            bn_loop_add_fd(loop, fd, EPOLLIN, mgmt_readable, t) < 0) {
                if (fd >= 0)
                        close(fd);
                return; /* not yet: the timer tries again */
        }
        t->mfd = fd;
        bn_loop_timer_cancel(loop, t->timer);
        t->timer = NULL;
}

static void restart_due(struct bn_loop *loop, struct bn_timer *tm, void *arg)
{
        struct vpn_tun *t = arg;

        (void)loop;
        (void)tm;
        t->timer = NULL; /* one-shot: freed after this */
        if (!t->stopped)
                tun_spawn(t);
}

static void child_exited(struct bn_loop *loop, int fd, uint32_t events, void *arg)
{
        struct vpn_tun *t = arg;
        char why[160];
        int st = 0;

        (void)events;
        bn_loop_del_fd(loop, fd);
        close(fd);
        t->pidfd = -1;
        waitpid(t->pid, &st, 0);
        t->pid = 0;
        mgmt_close(t);
        if (t->timer)
                bn_loop_timer_cancel(loop, t->timer);
        t->timer = NULL;
        if (WIFSIGNALED(st))
                snprintf(why, sizeof(why),
                         "tunnel down: openvpn killed by signal %d, restarting in %u ms",
                         WTERMSIG(st), t->backoff_ms);
        else
                snprintf(why, sizeof(why),
                         "tunnel down: openvpn exited with status %d, restarting in %u ms",
                         WEXITSTATUS(st), t->backoff_ms);
        set_state(t, false, why);
        bn_warn(CTX, "tunnel %u to %s: %s (see %s/tun%u.log)", t->idx, inet_ntoa(t->peer_ul), why,
                t->ctx->dir, t->idx);
        bn_loop_timer_add(loop, t->backoff_ms, 0, restart_due, t, &t->timer);
        t->restarts++;
        t->backoff_ms = t->backoff_ms * 2 > BACKOFF_MAX ? BACKOFF_MAX : t->backoff_ms * 2;
}

static int write_conf(struct vpn_tun *t, const char *path)
{
        char in[INET_ADDRSTRLEN], pin[INET_ADDRSTRLEN], ul[INET_ADDRSTRLEN], pul[INET_ADDRSTRLEN];
        char mg[200], pid[256];
        const char *d = t->ctx->dir;
        FILE *f = fopen(path, "w");

        if (!f)
                return -errno;
        inet_ntop(AF_INET, &t->in, in, sizeof(in));
        inet_ntop(AF_INET, &t->peer_in, pin, sizeof(pin));
        inet_ntop(AF_INET, &t->ul, ul, sizeof(ul));
        inet_ntop(AF_INET, &t->peer_ul, pul, sizeof(pul));
        if (!path_of(t, "mgmt", mg, sizeof(mg)) || !path_of(t, "pid", pid, sizeof(pid))) {
                fclose(f);
                return -ENAMETOOLONG;
        }
        fprintf(f,
                "# made by bananad: the vpn wires' tunnel to %s\n"
                "dev bnvpn%u\ndev-type tun\nproto udp\n"
                "local %s\nlport %u\nremote %s %u\n"
                "ifconfig %s %s\ntun-mtu 1440\n"
                "%s\ncert %s/host.crt\nkey %s/host.key\npeer-fingerprint %s\n"
                "data-ciphers AES-256-GCM\n"
                "management %s unix\nwritepid %s\n"
                "ping 1\nping-restart 5\nverb 3\n",
                pul, t->idx, ul, t->port, pul, t->port, in, pin,
                t->server ? "tls-server\ndh none" : "tls-client", d, d, t->peer_fp, mg, pid);
        return fclose(f) ? -errno : 0;
}

/* An openvpn of ours left by an earlier bananad (killed before it could
 * stop it) holds the port: stop it first. Its pid file names it; its
 * command line must name our configuration. */
static void stop_stale(const struct vpn_tun *t, const char *conf)
{
        char pidf[256], cmd[512], proc[64];
        FILE *f;
        long pid = 0;
        size_t n;

        if (!path_of(t, "pid", pidf, sizeof(pidf)) || !(f = fopen(pidf, "r")))
                return;
        if (fscanf(f, "%ld", &pid) != 1)
                pid = 0;
        fclose(f);
        unlink(pidf);
        snprintf(proc, sizeof(proc), "/proc/%ld/cmdline", pid);
        if (pid <= 1 || !(f = fopen(proc, "r")))
                return;
        n = fread(cmd, 1, sizeof(cmd) - 1, f);
        fclose(f);
        for (size_t i = 0; i < n; i++)
                cmd[i] = cmd[i] ? cmd[i] : ' ';
        cmd[n] = '\0';
        if (!strstr(cmd, "openvpn") || !strstr(cmd, conf))
                return;
        bn_warn(CTX, "tunnel %u: stopping openvpn %ld left by an earlier bananad", t->idx, pid);
        kill((pid_t)pid, SIGTERM);
        for (int i = 0; i < 30 && kill((pid_t)pid, 0) == 0; i++)
                usleep(100 * 1000);
        kill((pid_t)pid, SIGKILL);
}

/* Start openvpn for t (on the supervisor loop). */
static void tun_spawn(struct vpn_tun *t)
{
        struct bn_loop *l = bn_workers_loop(t->ctx->sup, 0);
        char conf[256], log[256], mg[200], why[200];
        posix_spawn_file_actions_t fa;
        char *argv[] = {"openvpn", "--config", conf, NULL};
        int rc;

        if (!path_of(t, "conf", conf, sizeof(conf)) || !path_of(t, "log", log, sizeof(log)) ||
            !path_of(t, "mgmt", mg, sizeof(mg)) || strlen(mg) >= sizeof(struct sockaddr_un) - 2) {
                snprintf(why, sizeof(why), "tunnel down: the state directory's path is too long");
                goto fail;
        }
        stop_stale(t, conf);
        unlink(mg);
        if ((rc = write_conf(t, conf)) < 0) {
                snprintf(why, sizeof(why), "tunnel down: cannot write %.150s: %s", conf,
                         strerror(-rc));
                goto fail;
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        rc = posix_spawnp(&t->pid, "openvpn", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc) {
                t->pid = 0;
                snprintf(why, sizeof(why), "tunnel down: cannot start openvpn: %s", strerror(rc));
                goto fail;
        }
        t->pidfd = (int)syscall(SYS_pidfd_open, t->pid, 0);
        if (t->pidfd < 0 || bn_loop_add_fd(l, t->pidfd, EPOLLIN, child_exited, t) < 0) {
                kill(t->pid, SIGKILL);
                waitpid(t->pid, NULL, 0);
                t->pid = 0;
                if (t->pidfd >= 0)
                        close(t->pidfd);
                t->pidfd = -1;
                snprintf(why, sizeof(why), "tunnel down: cannot follow openvpn: %s",
                         strerror(errno));
                goto fail;
        }
        bn_info(CTX, "tunnel %u to %s: openvpn started (pid %d, %s)", t->idx, inet_ntoa(t->peer_ul),
                (int)t->pid, conf);
        set_state(t, false, "tunnel down: openvpn starting");
        bn_loop_timer_add(l, MGMT_POLL_MS, MGMT_POLL_MS, mgmt_try, t, &t->timer);
        return;
fail:
        set_state(t, false, why);
        bn_warn(CTX, "%s", why);
        bn_loop_timer_add(l, t->backoff_ms, 0, restart_due, t, &t->timer);
        t->backoff_ms = t->backoff_ms * 2 > BACKOFF_MAX ? BACKOFF_MAX : t->backoff_ms * 2;
}

static void start_call(void *arg)
{
        tun_spawn(arg);
}

int vpn_tun_start(struct vpn_tun *t)
{
        return bn_loop_call(bn_workers_loop(t->ctx->sup, 0), start_call, t);
}

/* The last wire left: stop openvpn (SIGTERM, then SIGKILL after 3 s) and
 * free t. On the supervisor loop. */
static void stop_call(void *arg)
{
        struct vpn_tun *t = arg;
        struct bn_loop *l = bn_workers_loop(t->ctx->sup, 0);
        char mg[200];

        t->stopped = true;
        if (t->timer)
                bn_loop_timer_cancel(l, t->timer);
        if (t->linger_tm)
                bn_loop_timer_cancel(l, t->linger_tm);
        mgmt_close(t);
        if (t->pidfd >= 0) {
                bn_loop_del_fd(l, t->pidfd);
                close(t->pidfd);
        }
        if (t->pid > 0) {
                kill(t->pid, SIGTERM);
                for (int i = 0; i < 30 && waitpid(t->pid, NULL, WNOHANG) == 0; i++)
                        usleep(100 * 1000);
                if (waitpid(t->pid, NULL, WNOHANG) == 0) {
                        kill(t->pid, SIGKILL);
                        waitpid(t->pid, NULL, 0);
                }
                bn_info(CTX, "tunnel %u to %s: openvpn stopped", t->idx, inet_ntoa(t->peer_ul));
        }
        if (path_of(t, "mgmt", mg, sizeof(mg)))
                unlink(mg);
        if (path_of(t, "pid", mg, sizeof(mg)))
                unlink(mg);
        free(t);
}

/* t out of the context's list when it has no wire and no linger call is
 * pending (then the caller stops it); under c->mu. */
static bool unlist_idle(struct vpn_ctx *c, struct vpn_tun *t)
{
        if (t->refs || t->linger_calls)
                return false;
        for (struct vpn_tun **tp = &c->tuns; *tp; tp = &(*tp)->next)
                if (*tp == t) {
                        *tp = t->next;
                        break;
                }
        return true;
}

/* The linger ended: stop t unless a wire took it again. On the supervisor
 * loop. */
static void linger_due(struct bn_loop *loop, struct bn_timer *tm, void *arg)
{
        struct vpn_tun *t = arg;
        struct vpn_ctx *c = t->ctx;
        bool idle;

        (void)loop;
        (void)tm;
        t->linger_tm = NULL;
        pthread_mutex_lock(&c->mu);
        idle = unlist_idle(c, t);
        pthread_mutex_unlock(&c->mu);
        if (idle) {
                bn_info(CTX, "tunnel %u to %s: no wire for %u s: stopping it", t->idx,
                        inet_ntoa(t->peer_ul), VPN_TUN_LINGER_MS / 1000u);
                stop_call(t);
        }
}

/* (Re)arm t's linger timer. On the supervisor loop; t lives until this
 * call ran (linger_calls). */
static void linger_call(void *arg)
{
        struct vpn_tun *t = arg;
        struct vpn_ctx *c = t->ctx;
        struct bn_loop *l = bn_workers_loop(c->sup, 0);
        bool idle;

        if (t->linger_tm)
                bn_loop_timer_cancel(l, t->linger_tm);
        t->linger_tm = NULL;
        pthread_mutex_lock(&c->mu);
        t->linger_calls--;
        idle = !t->refs && !t->linger_calls;
        pthread_mutex_unlock(&c->mu);
        if (idle && bn_loop_timer_add(l, VPN_TUN_LINGER_MS, 0, linger_due, t, &t->linger_tm) < 0)
                linger_due(l, NULL, t); /* no timer: stop it now */
}

void vpn_tun_put(struct vpn_tun *t)
{
        struct vpn_ctx *c = t->ctx;
        bool last;

        pthread_mutex_lock(&c->mu);
        last = --t->refs == 0;
        if (last)
                t->linger_calls++;
        pthread_mutex_unlock(&c->mu);
        if (last && bn_loop_call(bn_workers_loop(c->sup, 0), linger_call, t) < 0) {
                bn_err(CTX, "tunnel %u: cannot queue its linger (out of memory): it stays up",
                       t->idx);
                pthread_mutex_lock(&c->mu);
                t->linger_calls--; /* vpn_tun_stop_idle stops it at the latest */
                pthread_mutex_unlock(&c->mu);
        }
}

static void stop_idle_call(void *arg)
{
        struct vpn_ctx *c = arg;
        struct vpn_tun *idle = NULL, *t, *n;

        pthread_mutex_lock(&c->mu);
        for (t = c->tuns; t; t = n) {
                n = t->next;
                if (unlist_idle(c, t)) {
                        t->next = idle;
                        idle = t;
                }
        }
        pthread_mutex_unlock(&c->mu);
        for (t = idle; t; t = n) {
                n = t->next;
                stop_call(t);
        }
}

void vpn_tun_stop_idle(struct vpn_ctx *c)
{
        bn_loop_call_wait(bn_workers_loop(c->sup, 0), stop_idle_call, c);
}

int vpn_tun_get(struct vpn_ctx *c, struct in_addr ul, struct in_addr peer_ul, unsigned port,
                const char *peer_fp, struct vpn_tun **out, bool *fresh, char *err, size_t errlen)
{
        struct vpn_tun *t;
        uint32_t lo, hi, h = 2166136261u, net;

        *fresh = false;
        for (t = c->tuns; t; t = t->next)
                if (t->ul.s_addr == ul.s_addr && t->peer_ul.s_addr == peer_ul.s_addr &&
                    t->port == port)
                        break;
        if (t) {
                if (strcasecmp(t->peer_fp, peer_fp)) {
                        snprintf(err, errlen,
                                 "vpn: the tunnel to %s trusts another peer fingerprint (%.40s...)",
                                 inet_ntoa(peer_ul), t->peer_fp);
                        return -EBUSY;
                }
                t->refs++;
                *out = t;
                return 0;
        }
        if (!(t = calloc(1, sizeof(*t))))
                return -ENOMEM;
        lo = ntohl(ul.s_addr) < ntohl(peer_ul.s_addr) ? ntohl(ul.s_addr) : ntohl(peer_ul.s_addr);
        hi = lo == ntohl(ul.s_addr) ? ntohl(peer_ul.s_addr) : ntohl(ul.s_addr);
        for (int i = 0; i < 4; i++) /* FNV-1a of the pair: a /30 in 10.250.0.0/16 */
                h = (h ^ (lo >> (8 * i) & 0xff)) * 16777619u;
        for (int i = 0; i < 4; i++)
                h = (h ^ (hi >> (8 * i) & 0xff)) * 16777619u;
        t->idx = h % 16384u;
        net = 0x0afa0000u + t->idx * 4u;
        t->server = ntohl(ul.s_addr) == lo;
        t->in.s_addr = htonl(net + (t->server ? 1 : 2));
        t->peer_in.s_addr = htonl(net + (t->server ? 2 : 1));
        t->ctx = c;
        t->ul = ul;
        t->peer_ul = peer_ul;
        t->port = port;
        snprintf(t->peer_fp, sizeof(t->peer_fp), "%s", peer_fp);
        t->refs = 1;
        t->pidfd = t->mfd = -1;
        t->backoff_ms = BACKOFF_MIN;
        snprintf(t->why, sizeof(t->why), "tunnel down: openvpn not started yet");
        t->next = c->tuns;
        c->tuns = t;
        *fresh = true;
        *out = t;
        return 0;
}

/* ---- what a wire riding a tunnel uses ------------------------------------ */

const char *const vpn_tun_keys[] = {"addr", "fingerprint", "tunnel_port", NULL};

static int addr_of(const struct bn_params *params, const char *key, struct in_addr *a, char *err,
                   size_t errlen)
{
        const char *s;
        int rc = bn_params_get_str(params, key, true, NULL, &s, err, errlen);

        if (rc < 0)
                return rc;
        if (inet_pton(AF_INET, s, a) != 1 || a->s_addr == 0) {
                snprintf(err, errlen, "parameter '%s': '%s' is not an IPv4 address of a host", key,
                         s);
                return -EINVAL;
        }
        return 0;
}

int vpn_tun_parse(const struct bn_params *params, struct vpn_tun_params *v, bool need, char *err,
                  size_t errlen)
{
        int rc;

        memset(v, 0, sizeof(*v));
        if (!need) { /* addresses and fingerprint may come from the store */
                struct bn_params p = BN_PARAMS_INIT;
                static const char *const later[][2] = {
                    {"addr", "192.0.2.1"}, {"peer.addr", "192.0.2.2"}, {"peer.fingerprint", NULL}};
                rc = bn_params_copy(&p, params);
                for (size_t i = 0; !rc && i < sizeof(later) / sizeof(*later); i++)
                        if (!bn_params_get(&p, later[i][0]))
                                rc = bn_params_set(&p, later[i][0],
                                                   later[i][1] ? later[i][1] : VPN_FP_ANY);
                if (!rc)
                        rc = vpn_tun_parse(&p, v, true, err, errlen);
                else
                        snprintf(err, errlen, "out of memory");
                bn_params_clear(&p);
                memset(v, 0, sizeof(*v)); /* its strings were the copy's */
                return rc;
        }
        if ((rc = bn_params_get_uint(params, "tunnel_port", false, 1194, 1, 65535, &v->port, err,
                                     errlen)) < 0 ||
            (rc = addr_of(params, "addr", &v->ul, err, errlen)) < 0 ||
            (rc = addr_of(params, "peer.addr", &v->peer_ul, err, errlen)) < 0 ||
            (rc = bn_params_get_str(params, "peer.fingerprint", false, NULL, &v->fp, err, errlen)) <
                0)
                return rc;
        if (!v->fp) {
                snprintf(err, errlen,
                         "vpn: no certificate fingerprint for the peer (peer.fingerprint): in a "
                         "cluster it comes from the peer host's member record; else give the "
                         "other end's fingerprint option");
                return -ENOKEY;
        }
        if (strlen(v->fp) != 95 || strspn(v->fp, "0123456789abcdefABCDEF:") != 95) {
                snprintf(err, errlen,
                         "parameter 'peer.fingerprint': want a SHA-256 fingerprint "
                         "(32 hex pairs joined by ':'), not '%.100s'",
                         v->fp);
                return -EINVAL;
        }
        if (v->ul.s_addr == v->peer_ul.s_addr) {
                snprintf(err, errlen, "vpn: addr and peer.addr are the same (%s): use shm",
                         inet_ntoa(v->ul));
                return -EINVAL;
        }
        return 0;
}

int vpn_tun_join(struct vpn_ctx *c, const struct vpn_tun_params *v, struct vpn_port *p, char *err,
                 size_t errlen)
{
        struct vpn_tun *t = NULL;
        bool fresh = false;
        int rc;

        p->tun = NULL;
        p->efd = -1;
        if (!c->fp[0]) {
                snprintf(err, errlen, "vpn: this host has no certificate: %s", c->cert_err);
                return -ENOKEY;
        }
        pthread_mutex_lock(&c->mu);
        rc = vpn_tun_get(c, v->ul, v->peer_ul, (unsigned)v->port, v->fp, &t, &fresh, err, errlen);
        if (rc == 0) {
                p->tun = t;
                p->next = t->ports;
                t->ports = p;
        }
        pthread_mutex_unlock(&c->mu);
        if (rc < 0)
                return rc;
        if (fresh && (rc = vpn_tun_start(t)) < 0) {
                snprintf(err, errlen, "vpn: cannot start the tunnel: %s", strerror(-rc));
                vpn_tun_leave(c, p);
        }
        return rc;
}

void vpn_tun_wake_fd(struct vpn_ctx *c, struct vpn_port *p, int efd)
{
        pthread_mutex_lock(&c->mu);
        p->efd = efd;
        pthread_mutex_unlock(&c->mu);
}

void vpn_tun_leave(struct vpn_ctx *c, struct vpn_port *p)
{
        if (!p->tun)
                return;
        pthread_mutex_lock(&c->mu);
        for (struct vpn_port **pp = &p->tun->ports; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        break;
                }
        p->efd = -1;
        pthread_mutex_unlock(&c->mu);
        vpn_tun_put(p->tun);
        p->tun = NULL;
}

void vpn_tun_why(struct vpn_ctx *c, const struct vpn_port *p, char *buf, size_t len)
{
        pthread_mutex_lock(&c->mu);
        snprintf(buf, len, "%s", p->tun->why);
        pthread_mutex_unlock(&c->mu);
}
