/* bn_log.h: leveled, thread-safe logging for bananad and its tools.
 *
 * Every line carries a level and a context (an endpoint name, a xenstore
 * path, a component such as "xenbus"): "bananad[123]: info: hostA/vm1/test0:
 * back-end is Connected". Lines go to stderr (foreground, tests, tools) or to
 * syslog (daemon). The level comes from $BANANA_LOG (error|warn|info|debug)
 * at bn_log_init(), or from bn_log_set_level().
 *
 * The log sink and level are the one piece of process-wide state in the
 * framework (like syslog itself); they are set once at start-up and read
 * atomically afterwards. Each line is written with one write(2)/syslog(3)
 * call, so lines of concurrent threads never interleave.
 */
#ifndef BN_LOG_H
#define BN_LOG_H

#include <stdarg.h>

enum bn_log_level {
        BN_LOG_ERROR = 0,
        BN_LOG_WARN = 1,
        BN_LOG_INFO = 2,
        BN_LOG_DEBUG = 3,
};

/* Set the program name and the sink: to_syslog=0 writes to stderr,
 * to_syslog=1 opens syslog (LOG_DAEMON). Reads $BANANA_LOG when set
 * (an invalid value is reported and ignored). May be called again. */
void bn_log_init(const char *ident, int to_syslog);

void bn_log_set_level(enum bn_log_level level);
enum bn_log_level bn_log_get_level(void);

/* "error", "warn", "info", "debug" (also "warning", and 0..3). 0 or -EINVAL. */
int bn_log_parse_level(const char *s, enum bn_log_level *out);
const char *bn_log_level_name(enum bn_log_level level);

/* Log one line. ctx may be NULL (no context). A trailing newline in fmt is
 * not needed. Never fails, never blocks for long. */
void bn_log(enum bn_log_level level, const char *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void bn_vlog(enum bn_log_level level, const char *ctx, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* 1 when a message at level would be printed (to skip costly formatting). */
int bn_log_enabled(enum bn_log_level level);

#define bn_err(ctx, ...)  bn_log(BN_LOG_ERROR, (ctx), __VA_ARGS__)
#define bn_warn(ctx, ...) bn_log(BN_LOG_WARN, (ctx), __VA_ARGS__)
#define bn_info(ctx, ...) bn_log(BN_LOG_INFO, (ctx), __VA_ARGS__)
#define bn_debug(ctx, ...)                                                                         \
        do {                                                                                       \
                if (bn_log_enabled(BN_LOG_DEBUG))                                                  \
                        bn_log(BN_LOG_DEBUG, (ctx), __VA_ARGS__);                                  \
        } while (0)

#endif
