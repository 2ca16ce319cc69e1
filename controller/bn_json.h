/* bn_json.h: typed access to JSON values from clients and files (json-c).
 * Every value that comes from outside (a control request, store.json, a
 * stored record) is read through these: each checks the type before use and
 * says what was wrong ("'prune' must be a boolean, not a string"), so a null
 * or a number where a string belongs is an error, never a NULL dereference.
 *
 * Getters of member k of object o: 0 with *out set; -ENOENT when absent
 * (*out unchanged, err untouched); -EINVAL when present with another type
 * (err, when not NULL, names the member, what it must be and what it is).
 * A JSON null counts as present: {"x": null} is an error for every type.
 */
#ifndef BN_JSON_H
#define BN_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "a string", "null", "a number", ... for messages. */
const char *bn_json_type_name(json_object *v);

int bn_json_get_str(json_object *o, const char *k, const char **out, char *err, size_t errlen);
/* Same, with the string's length (it may hold NUL bytes: "\u0000"). */
int bn_json_get_strn(json_object *o, const char *k, const char **out, size_t *len, char *err,
                     size_t errlen);
int bn_json_get_bool(json_object *o, const char *k, bool *out, char *err, size_t errlen);
/* An integer (not a float, not a numeric string) in [min, max]. */
int bn_json_get_int(json_object *o, const char *k, int64_t min, int64_t max, int64_t *out,
                    char *err, size_t errlen);
int bn_json_get_obj(json_object *o, const char *k, json_object **out, char *err, size_t errlen);
int bn_json_get_arr(json_object *o, const char *k, json_object **out, char *err, size_t errlen);

/* Item i of array a as a string: 0, or -EINVAL naming what[i]. */
int bn_json_idx_str(json_object *a, size_t i, const char *what, const char **out, char *err,
                    size_t errlen);
/* v itself as a string without NUL bytes: 0, or -EINVAL naming what. */
int bn_json_as_str(json_object *v, const char *what, const char **out, char *err, size_t errlen);

/* Every member of o is named in allowed (NULL-terminated): 0, or -EINVAL
 * naming the first unknown member of what. */
int bn_json_check_keys(json_object *o, const char *const *allowed, const char *what, char *err,
                       size_t errlen);

#endif
