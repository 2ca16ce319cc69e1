/* ctl_privs.c: least privilege for bananad, in two steps (libcap-ng;
 * docs/security.md says which capabilities and why).
 * 1. bn_privs_limit(), first thing, before any thread exists: keep only what
 *    set-up and running use (setup[]), in every set including the bounding
 *    set; threads made later (workers, libxenstore's reader) inherit that.
 * 2. bn_privs_drop(), once set up (hypervisor open, control socket made and
 *    given to its group, metrics port bound, state recovered): keep only
 *    what running uses (kept[]) on every thread bananad owns. Capabilities
 *    are per thread: each worker loop drops its own, through a call queued
 *    to it. (libxenstore's reader thread is not ours to call: it keeps
 *    setup[].)
 * 3. bn_privs_seccomp(), last: a seccomp allow-list (libseccomp) on every
 *    thread at once (TSYNC): systemd's @system-service set (ctl_syscalls.h),
 *    the one bananad.service names; any other system call kills bananad.
 * Also ctl_secret_key(): the option values that are never shown.
 */
#include "ctl_int.h"

#include <cap-ng.h>
#include <seccomp.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bn_daemon.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "ctl_syscalls.h"

#define CTX "privs"

/* What bananad needs after start-up: TAP devices (TUNSETIFF), bridges and
 * links (netlink) for the vif Corms made by later applies. */
static const int kept[] = {CAP_NET_ADMIN};
/* ... and during set-up too: give the control (and metrics) socket to the
 * control group; bind a metrics port under 1024; and CAP_SETPCAP, which
 * step 2 needs to take the others out of the bounding set. */
static const int setup[] = {CAP_NET_ADMIN, CAP_CHOWN, CAP_NET_BIND_SERVICE, CAP_SETPCAP};

struct drop_call {
        const int *caps;
        size_t n;
        int rc;
};

/* On the calling thread: keep exactly dc->caps. */
static void drop_here(void *arg)
{
        struct drop_call *dc = arg;

        capng_clear(CAPNG_SELECT_BOTH);
        for (size_t i = 0; i < dc->n; i++)
                if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
                                 (unsigned)dc->caps[i])) {
                        dc->rc = -EINVAL;
                        return;
                }
        if (capng_apply(CAPNG_SELECT_BOTH))
                dc->rc = -EPERM;
}

static bool have_caps(void)
{
        capng_get_caps_process();
        return capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE;
}

int bn_privs_limit(void)
{
        struct drop_call dc = {.caps = setup, .n = sizeof(setup) / sizeof(setup[0])};

        if (!have_caps())
                return 0;
        drop_here(&dc);
        if (dc.rc)
                bn_err(CTX, "cannot limit capabilities: %s", strerror(-dc.rc));
        return dc.rc;
}

int bn_privs_drop(struct bn_daemon *d)
{
        struct drop_call dc = {.caps = kept, .n = sizeof(kept) / sizeof(kept[0])};
        unsigned n = d->workers ? bn_workers_count(d->workers) : 0;
        char names[128] = "";
        int r = 0;

        if (!have_caps()) {
                bn_info(CTX, "no capabilities to drop (not root)");
                return 0;
        }
        for (unsigned i = 0; i < n && !dc.rc; i++)
                if ((r = bn_loop_call_wait(bn_workers_loop(d->workers, i), drop_here, &dc)))
                        goto out;
        if (!dc.rc)
                drop_here(&dc);
        r = dc.rc;
        for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
                const char *nm = capng_capability_to_name((unsigned)kept[i]);
                snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                         i ? ", " : "", nm ? nm : "?");
        }
out:
        if (r)
                bn_err(CTX, "cannot drop capabilities: %s", strerror(-r));
        else
                bn_info(CTX,
                        "capabilities: kept %s on the main thread and %u workers, dropped "
                        "the others (bounding set too)",
                        names, n);
        return r;
}

/* LeakSanitizer stops the world with ptrace at exit: sanitizer builds only. */
#if defined(__SANITIZE_ADDRESS__)
#define BN_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BN_SANITIZER 1
#endif
#endif

int bn_privs_seccomp(void)
{
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
        unsigned n = 0;
        int r;

        if (!ctx) {
                r = -ENOMEM;
                goto out;
        }
        if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)))
                goto out;
        for (size_t i = 0; i < sizeof(bn_syscalls) / sizeof(bn_syscalls[0]); i++) {
                int nr = seccomp_syscall_resolve_name(bn_syscalls[i]);
                if (nr < 0) /* another architecture's, or a multiplexed one */
                        continue;
                if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)))
                        goto out;
                n++;
        }
#ifdef BN_SANITIZER
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ptrace), 0)))
                goto out;
        n++;
#endif
        r = seccomp_load(ctx);
out:
        if (r)
                bn_err(CTX, "cannot load the seccomp filter: %s", strerror(-r));
        else
                bn_info(CTX,
                        "seccomp: %u system calls allowed (systemd's @system-service), any "
                        "other kills bananad",
                        n);
        seccomp_release(ctx);
        return r;
}

bool ctl_secret_key(const char *key)
{
        static const char *const words[] = {"key",    "secret", "psk",       "password",
                                            "passwd", "token",  "credential"};

        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (strcasestr(key, words[i]))
                        return true;
        return false;
}
