/* bn_log.c: leveled logging to stderr or syslog (see bn_log.h). */
#include "bn_log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

/* The one process-wide logging state (documented in bn_log.h). */
static _Atomic int log_level = BN_LOG_INFO;
static _Atomic int log_syslog;
static char log_ident[32] = "banana";

static const char *const level_names[] = {"error", "warn", "info", "debug"};

const char *bn_log_level_name(enum bn_log_level level)
{
        if ((unsigned)level > BN_LOG_DEBUG)
                return "?";
        return level_names[level];
}

int bn_log_parse_level(const char *s, enum bn_log_level *out)
{
        if (!s)
                return -EINVAL;
        for (unsigned i = 0; i <= BN_LOG_DEBUG; i++) {
                if (!strcasecmp(s, level_names[i])) {
                        *out = (enum bn_log_level)i;
                        return 0;
                }
        }
        if (!strcasecmp(s, "warning")) {
                *out = BN_LOG_WARN;
                return 0;
        }
        if (s[0] >= '0' && s[0] <= '3' && s[1] == '\0') {
                *out = (enum bn_log_level)(s[0] - '0');
                return 0;
        }
        return -EINVAL;
}

void bn_log_init(const char *ident, int to_syslog)
{
        if (ident)
                snprintf(log_ident, sizeof(log_ident), "%s", ident);
        atomic_store(&log_syslog, to_syslog ? 1 : 0);
        if (to_syslog)
                openlog(log_ident, LOG_PID, LOG_DAEMON);
        const char *env = getenv("BANANA_LOG");
        if (env && *env) {
                enum bn_log_level l;
                if (bn_log_parse_level(env, &l) == 0)
                        bn_log_set_level(l);
                else
                        bn_warn("log", "ignoring BANANA_LOG='%s' (error|warn|info|debug)", env);
        }
}

void bn_log_set_level(enum bn_log_level level)
{
        if ((unsigned)level > BN_LOG_DEBUG)
                level = BN_LOG_DEBUG;
        atomic_store(&log_level, (int)level);
}

enum bn_log_level bn_log_get_level(void)
{
        return (enum bn_log_level)atomic_load(&log_level);
}

int bn_log_enabled(enum bn_log_level level)
{
        return (int)level <= atomic_load(&log_level);
}

void bn_vlog(enum bn_log_level level, const char *ctx, const char *fmt, va_list ap)
{
        if (!bn_log_enabled(level))
                return;
        int saved = errno;
        char msg[1024];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        size_t ml = strlen(msg);
        while (ml && msg[ml - 1] == '\n')
                msg[--ml] = '\0';
        if (atomic_load(&log_syslog)) {
                static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
                syslog(prio[level], "%s: %s%s%s", bn_log_level_name(level), ctx ? ctx : "",
                       ctx ? ": " : "", msg);
        } else {
                char line[1200];
                int n =
                    snprintf(line, sizeof(line), "%s[%d]: %s: %s%s%s\n", log_ident, (int)getpid(),
                             bn_log_level_name(level), ctx ? ctx : "", ctx ? ": " : "", msg);
                if (n < 0)
                        goto out;
                if ((size_t)n >= sizeof(line)) {
                        n = sizeof(line) - 1;
                        line[n - 1] = '\n';
                }
                ssize_t w = write(STDERR_FILENO, line, (size_t)n);
                (void)w;
        }
out:
        errno = saved;
}

void bn_log(enum bn_log_level level, const char *ctx, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        bn_vlog(level, ctx, fmt, ap);
        va_end(ap);
}
