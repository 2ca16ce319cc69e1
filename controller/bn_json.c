/* bn_json.c: typed getters over json-c objects (bn_json.h): each checks the
 * member's type before it is used and fills err with what was expected.
 */
#include "bn_json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *bn_json_type_name(json_object *v)
{
        switch (json_object_get_type(v)) {
        case json_type_null:
                return "null";
        case json_type_boolean:
                return "a boolean";
        case json_type_double:
        case json_type_int:
                return "a number";
        case json_type_object:
                return "an object";
        case json_type_array:
                return "a list";
        case json_type_string:
                return "a string";
        }
        return "unknown";
}

static int wrong(const char *k, const char *want, json_object *v, char *err, size_t errlen)
{
        if (err && errlen)
                snprintf(err, errlen, "'%s' must be %s, not %s", k, want, bn_json_type_name(v));
        return -EINVAL;
}

/* Member k of o with type t: 0, -ENOENT, -EINVAL. */
static int get(json_object *o, const char *k, json_type t, const char *want, json_object **v,
               char *err, size_t errlen)
{
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, v))
                return -ENOENT;
        if (!json_object_is_type(*v, t))
                return wrong(k, want, *v, err, errlen);
        return 0;
}

int bn_json_get_strn(json_object *o, const char *k, const char **out, size_t *len, char *err,
                     size_t errlen)
{
        json_object *v;
        int r = get(o, k, json_type_string, "a string", &v, err, errlen);

        if (r)
                return r;
        *out = json_object_get_string(v);
        *len = (size_t)json_object_get_string_len(v);
        return 0;
}

int bn_json_as_str(json_object *v, const char *what, const char **out, char *err, size_t errlen)
{
        if (!json_object_is_type(v, json_type_string))
                return wrong(what, "a string", v, err, errlen);
        if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v)) {
                if (err && errlen)
                        snprintf(err, errlen, "'%s' holds a NUL character", what);
                return -EINVAL;
        }
        *out = json_object_get_string(v);
        return 0;
}

int bn_json_get_str(json_object *o, const char *k, const char **out, char *err, size_t errlen)
{
        json_object *v;

        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &v))
                return -ENOENT;
        return bn_json_as_str(v, k, out, err, errlen);
}

int bn_json_get_bool(json_object *o, const char *k, bool *out, char *err, size_t errlen)
{
        json_object *v;
        int r = get(o, k, json_type_boolean, "true or false (a JSON boolean)", &v, err, errlen);

        if (r)
                return r;
        *out = json_object_get_boolean(v);
        return 0;
}

int bn_json_get_int(json_object *o, const char *k, int64_t min, int64_t max, int64_t *out,
                    char *err, size_t errlen)
{
        json_object *v;
        int64_t x;
        int r = get(o, k, json_type_int, "an integer", &v, err, errlen);

        if (r)
                return r;
        errno = 0;
        x = json_object_get_int64(v);
        if (errno || x < min || x > max) {
                if (err && errlen)
                        snprintf(err, errlen, "'%s' must be an integer from %lld to %lld", k,
                                 (long long)min, (long long)max);
                return -EINVAL;
        }
        *out = x;
        return 0;
}

int bn_json_get_obj(json_object *o, const char *k, json_object **out, char *err, size_t errlen)
{
        return get(o, k, json_type_object, "an object", out, err, errlen);
}

int bn_json_get_arr(json_object *o, const char *k, json_object **out, char *err, size_t errlen)
{
        return get(o, k, json_type_array, "a list", out, err, errlen);
}

int bn_json_idx_str(json_object *a, size_t i, const char *what, const char **out, char *err,
                    size_t errlen)
{
        char name[96];

        snprintf(name, sizeof(name), "%s[%zu]", what, i);
        if (!json_object_is_type(a, json_type_array) || i >= json_object_array_length(a))
                return wrong(name, "a string", NULL, err, errlen);
        return bn_json_as_str(json_object_array_get_idx(a, i), name, out, err, errlen);
}

int bn_json_check_keys(json_object *o, const char *const *allowed, const char *what, char *err,
                       size_t errlen)
{
        if (!json_object_is_type(o, json_type_object))
                return 0;
        json_object_object_foreach(o, k, v)
        {
                size_t i;
                (void)v;
                for (i = 0; allowed[i] && strcmp(allowed[i], k) != 0; i++)
                        ;
                if (!allowed[i]) {
                        if (err && errlen)
                                snprintf(err, errlen, "%s: unknown member '%.64s'", what, k);
                        return -EINVAL;
                }
        }
        return 0;
}
