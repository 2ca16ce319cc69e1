/* bn_params.h: ordered key=value parameter lists, the options of Corms and
 * wires ("path=/srv/vm7.raw,ro=1", YAML maps, command-line flags).
 *
 * Keys are [A-Za-z0-9_.-]+; values are any bytes except ',' when parsed from
 * a string (use bn_params_set for anything else). Order is kept and a key
 * appears at most once (set replaces). Getters validate and return a clear
 * error in err (may be NULL) naming the key and what was expected.
 */
#ifndef BN_PARAMS_H
#define BN_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bn_param {
        char *key;
        char *value;
};

struct bn_params {
        struct bn_param *v;
        size_t n;
        size_t cap;
};

#define BN_PARAMS_INIT                                                                             \
        {                                                                                          \
                NULL, 0, 0                                                                         \
        }

void bn_params_init(struct bn_params *p);
/* Free every key and value; p is empty afterwards and can be reused. */
void bn_params_clear(struct bn_params *p);

/* Parse "k=v,k2=v2" and add each pair (replacing existing keys). An empty
 * string adds nothing. "k" without '=' means "k=1" (a flag). Errors:
 * -EINVAL with err "bad parameter key 'x y'" / "duplicate key 'k'" ...; p
 * is left unchanged on error. */
int bn_params_parse(struct bn_params *p, const char *s, char *err, size_t errlen);
/* Add or replace one pair (copied). -EINVAL for a bad key. */
int bn_params_set(struct bn_params *p, const char *key, const char *value);
/* Remove key; 0 or -ENOENT. */
int bn_params_unset(struct bn_params *p, const char *key);
/* Copy src into dst (dst cleared first). */
int bn_params_copy(struct bn_params *dst, const struct bn_params *src);

/* The value, or NULL when absent. */
const char *bn_params_get(const struct bn_params *p, const char *key);

/* Typed getters: when key is absent, *out = def and 0 is returned (unless
 * required is set: -ENOENT "missing parameter 'k'"). Errors -EINVAL with
 * err set: "parameter 'k': 'abc' is not an unsigned integer",
 * "parameter 'k': 70000 is out of range 1..65535", "... is not a boolean
 * (1/0, yes/no, true/false, on/off)". Unsigned integers accept decimal,
 * 0x hex, and the suffixes k, M, G (powers of 1024). */
int bn_params_get_str(const struct bn_params *p, const char *key, bool required, const char *def,
                      const char **out, char *err, size_t errlen);
int bn_params_get_uint(const struct bn_params *p, const char *key, bool required, uint64_t def,
                       uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen);
int bn_params_get_bool(const struct bn_params *p, const char *key, bool required, bool def,
                       bool *out, char *err, size_t errlen);

/* -EINVAL with err "unknown parameter 'x' (known: a, b, c)" when p holds a
 * key not in the NULL-terminated list known. "peer.<k>" (a wire's other
 * end's parameter, bn_wire_end_params) counts as k. */
int bn_params_check_known(const struct bn_params *p, const char *const *known, char *err,
                          size_t errlen);

/* "k=v,k2=v2" into buf (truncated, always NUL-terminated); returns the
 * length the full string needs, as snprintf does. */
size_t bn_params_format(const struct bn_params *p, char *buf, size_t len);

#endif
