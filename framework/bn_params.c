/* bn_params.c: ordered key=value parameter lists (see bn_params.h). */
#include "bn_params.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
        if (!err || !errlen)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
}

void bn_params_init(struct bn_params *p)
{
        p->v = NULL;
        p->n = p->cap = 0;
}

void bn_params_clear(struct bn_params *p)
{
        for (size_t i = 0; i < p->n; i++) {
                free(p->v[i].key);
                free(p->v[i].value);
        }
        free(p->v);
        bn_params_init(p);
}

static bool key_ok(const char *k, size_t len)
{
        if (len == 0 || len > 64)
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)k[i];
                if (!isalnum(c) && c != '_' && c != '.' && c != '-')
                        return false;
        }
        return true;
}

static ssize_t find(const struct bn_params *p, const char *key)
{
        for (size_t i = 0; i < p->n; i++)
                if (!strcmp(p->v[i].key, key))
                        return (ssize_t)i;
        return -1;
}

int bn_params_set(struct bn_params *p, const char *key, const char *value)
{
        if (!key || !key_ok(key, strlen(key)) || !value)
                return -EINVAL;
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        ssize_t i = find(p, key);
        if (i >= 0) {
                free(p->v[i].value);
                p->v[i].value = v;
                return 0;
        }
        if (p->n == p->cap) {
                size_t nc = p->cap ? p->cap * 2 : 8;
                struct bn_param *nv = realloc(p->v, nc * sizeof(*nv));
                if (!nv) {
                        free(v);
                        return -ENOMEM;
                }
                p->v = nv;
                p->cap = nc;
        }
        char *k = strdup(key);
        if (!k) {
                free(v);
                return -ENOMEM;
        }
        p->v[p->n].key = k;
        p->v[p->n].value = v;
        p->n++;
        return 0;
}

int bn_params_unset(struct bn_params *p, const char *key)
{
        ssize_t i = find(p, key);
        if (i < 0)
                return -ENOENT;
        free(p->v[i].key);
        free(p->v[i].value);
        memmove(&p->v[i], &p->v[i + 1], (p->n - (size_t)i - 1) * sizeof(p->v[0]));
        p->n--;
        return 0;
}

int bn_params_copy(struct bn_params *dst, const struct bn_params *src)
{
        bn_params_clear(dst);
        for (size_t i = 0; i < src->n; i++) {
                int rc = bn_params_set(dst, src->v[i].key, src->v[i].value);
                if (rc) {
                        bn_params_clear(dst);
                        return rc;
                }
        }
        return 0;
}

int bn_params_parse(struct bn_params *p, const char *s, char *err, size_t errlen)
{
        int rc = 0;
        struct bn_params tmp = BN_PARAMS_INIT;
        if (!s)
                return 0;
        rc = bn_params_copy(&tmp, p);
        if (rc)
                goto out;
        struct bn_params seen = BN_PARAMS_INIT;
        const char *cur = s;
        while (*cur) {
                const char *end = strchr(cur, ',');
                size_t len = end ? (size_t)(end - cur) : strlen(cur);
                const char *eq = memchr(cur, '=', len);
                size_t klen = eq ? (size_t)(eq - cur) : len;
                if (!key_ok(cur, klen)) {
                        seterr(err, errlen, "bad parameter key '%.*s' (expected [A-Za-z0-9_.-]+)",
                               (int)klen, cur);
                        rc = -EINVAL;
                        break;
                }
                char key[65], *val;
                memcpy(key, cur, klen);
                key[klen] = '\0';
                if (eq)
                        val = strndup(eq + 1, len - klen - 1);
                else
                        val = strdup("1");
                if (!val) {
                        rc = -ENOMEM;
                        break;
                }
                if (bn_params_get(&seen, key)) {
                        seterr(err, errlen, "duplicate parameter '%s'", key);
                        free(val);
                        rc = -EINVAL;
                        break;
                }
                rc = bn_params_set(&seen, key, "");
                if (!rc)
                        rc = bn_params_set(&tmp, key, val);
                free(val);
                if (rc)
                        break;
                if (!end)
                        break;
                cur = end + 1;
                if (!*cur) {
                        seterr(err, errlen, "trailing ',' in parameters '%s'", s);
                        rc = -EINVAL;
                        break;
                }
        }
        bn_params_clear(&seen);
        if (rc == 0) {
                bn_params_clear(p);
                *p = tmp;
                return 0;
        }
out:
        bn_params_clear(&tmp);
        return rc;
}

const char *bn_params_get(const struct bn_params *p, const char *key)
{
        ssize_t i = find(p, key);
        return i < 0 ? NULL : p->v[i].value;
}

int bn_params_get_str(const struct bn_params *p, const char *key, bool required, const char *def,
                      const char **out, char *err, size_t errlen)
{
        const char *v = bn_params_get(p, key);
        if (!v) {
                if (required) {
                        seterr(err, errlen, "missing parameter '%s'", key);
                        return -ENOENT;
                }
                v = def;
        }
        *out = v;
        return 0;
}

int bn_params_get_uint(const struct bn_params *p, const char *key, bool required, uint64_t def,
                       uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen)
{
        const char *v = bn_params_get(p, key);
        if (!v) {
                if (required) {
                        seterr(err, errlen, "missing parameter '%s'", key);
                        return -ENOENT;
                }
                *out = def;
                return 0;
        }
        if (!isdigit((unsigned char)v[0]))
                goto bad;
        errno = 0;
        char *end;
        unsigned long long x = strtoull(v, &end, 0);
        if (errno)
                goto bad;
        unsigned shift = 0;
        if (*end == 'k' || *end == 'K')
                shift = 10;
        else if (*end == 'M')
                shift = 20;
        else if (*end == 'G')
                shift = 30;
        if (shift)
                end++;
        if (*end)
                goto bad;
        if (shift && x > (UINT64_MAX >> shift))
                goto range;
        x <<= shift;
        if (x < min || x > max)
                goto range;
        *out = x;
        return 0;
bad:
        seterr(err, errlen, "parameter '%s': '%s' is not an unsigned integer", key, v);
        return -EINVAL;
range:
        seterr(err, errlen, "parameter '%s': %s is out of range %llu..%llu", key, v,
               (unsigned long long)min, (unsigned long long)max);
        return -EINVAL;
}

int bn_params_get_bool(const struct bn_params *p, const char *key, bool required, bool def,
                       bool *out, char *err, size_t errlen)
{
        static const char *const yes[] = {"1", "yes", "true", "on"};
        static const char *const no[] = {"0", "no", "false", "off"};
        const char *v = bn_params_get(p, key);
        if (!v) {
                if (required) {
                        seterr(err, errlen, "missing parameter '%s'", key);
                        return -ENOENT;
                }
                *out = def;
                return 0;
        }
        for (unsigned i = 0; i < 4; i++) {
                if (!strcasecmp(v, yes[i])) {
                        *out = true;
                        return 0;
                }
                if (!strcasecmp(v, no[i])) {
                        *out = false;
                        return 0;
                }
        }
        seterr(err, errlen,
               "parameter '%s': '%s' is not a boolean (1/0, yes/no, true/false, on/off)", key, v);
        return -EINVAL;
}

int bn_params_check_known(const struct bn_params *p, const char *const *known, char *err,
                          size_t errlen)
{
        for (size_t i = 0; i < p->n; i++) {
                bool ok = false;
                const char *key = p->v[i].key;
                if (!strncmp(key, "peer.", 5)) /* the other end's (bn_wire_end_params) */
                        key += 5;
                for (const char *const *k = known; k && *k; k++)
                        if (!strcmp(*k, key))
                                ok = true;
                if (ok)
                        continue;
                char list[256] = "";
                size_t off = 0;
                for (const char *const *k = known; k && *k && off < sizeof(list); k++) {
                        int w = snprintf(list + off, sizeof(list) - off, "%s%s",
                                         k == known ? "" : ", ", *k);
                        if (w < 0)
                                break;
                        off += (size_t)w;
                }
                seterr(err, errlen, "unknown parameter '%s' (known: %s)", p->v[i].key,
                       list[0] ? list : "none");
                return -EINVAL;
        }
        return 0;
}

size_t bn_params_format(const struct bn_params *p, char *buf, size_t len)
{
        size_t need = 0;
        for (size_t i = 0; i < p->n; i++) {
                int w = snprintf(buf && need < len ? buf + need : NULL,
                                 buf && need < len ? len - need : 0, "%s%s=%s", i ? "," : "",
                                 p->v[i].key, p->v[i].value);
                if (w > 0)
                        need += (size_t)w;
        }
        if (buf && len && p->n == 0)
                buf[0] = '\0';
        return need;
}
