/* ctl_req.c: reading one control request: a line of text to a JSON object
 * (ctl_req_parse) and the check of its members against the operation's
 * schema (ctl_req_check): which members an op takes and the JSON type of
 * each, so the operations only ever see values of the right type. Kept free
 * of daemon state so the fuzz target (tests/controller/fuzz_ctl_req.c) runs
 * it as bananad does.
 */
#include "ctl_req.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bn_json.h"

enum arg_type { A_STR, A_BOOL, A_STRMAP };

struct arg {
        const char *name;
        enum arg_type type;
};

struct op_schema {
        const char *op;
        struct arg args[6]; /* name NULL ends */
};

static const struct op_schema schemas[] = {
    {"status", {{NULL, A_STR}}},
    {"endpoints", {{"name", A_STR}, {NULL, A_STR}}},
    {"wires", {{"name", A_STR}, {NULL, A_STR}}},
    {"connect",
     {{"a", A_STR},
      {"b", A_STR},
      {"type", A_STR},
      {"name", A_STR},
      {"options", A_STRMAP},
      {NULL, A_STR}}},
    {"disconnect", {{"wire", A_STR}, {NULL, A_STR}}},
    {"swap", {{"wire", A_STR}, {"type", A_STR}, {"options", A_STRMAP}, {NULL, A_STR}}},
    {"apply",
     {{"file", A_STR},
      {"content", A_STR},
      {"prune", A_BOOL},
      {"generation", A_STR},
      {NULL, A_STR}}},
    {"diff", {{"file", A_STR}, {"content", A_STR}, {"prune", A_BOOL}, {NULL, A_STR}}},
    {"migrate", {{"vm", A_STR}, {"to", A_STR}, {"fail_at", A_STR}, {NULL, A_STR}}},
    {"migration", {{"vm", A_STR}, {NULL, A_STR}}},
    {"store-export", {{NULL, A_STR}}},
    {"store-import", {{"content", A_STR}, {NULL, A_STR}}},
    {"snapshot", {{"endpoint", A_STR}, {"format", A_STR}, {NULL, A_STR}}},
    {"swap-corm",
     {{"wire", A_STR}, {"corm", A_STR}, {"rate", A_STR}, {"abort", A_BOOL}, {NULL, A_STR}}},
    {"corm-swap", {{"wire", A_STR}, {NULL, A_STR}}},
};

static int only_space(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
                        return 0;
        return 1;
}

int ctl_req_parse(const char *line, size_t len, json_object **out)
{
        json_tokener *tok;
        json_object *req = NULL;
        int r = -EINVAL;

        *out = NULL;
        if (len > (size_t)BN_CTL_MSG_MAX)
                return -EMSGSIZE;
        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        req = json_tokener_parse_ex(tok, line, (int)len);
        if (req && json_tokener_get_error(tok) == json_tokener_success &&
            only_space(line + json_tokener_get_parse_end(tok),
                       len - json_tokener_get_parse_end(tok)) &&
            json_object_is_type(req, json_type_object)) {
                *out = req;
                req = NULL;
                r = 0;
        }
        json_object_put(req);
        json_tokener_free(tok);
        return r;
}

/* The content of apply/diff may hold any byte (the topology parser reports
 * a NUL with its line and column); every other string must not. */
static int check_arg(json_object *req, const struct arg *a, char *err, size_t errlen)
{
        json_object *v;
        const char *s;
        size_t n;
        bool b;
        int r;

        switch (a->type) {
        case A_BOOL:
                r = bn_json_get_bool(req, a->name, &b, err, errlen);
                break;
        case A_STR:
                if (strcmp(a->name, "content") == 0)
                        r = bn_json_get_strn(req, a->name, &s, &n, err, errlen);
                else
                        r = bn_json_get_str(req, a->name, &s, err, errlen);
                break;
        case A_STRMAP:
                r = bn_json_get_obj(req, a->name, &v, err, errlen);
                if (r)
                        break;
                json_object_object_foreach(v, k, val)
                {
                        char why[192];
                        if (bn_json_as_str(val, k, &s, why, sizeof(why))) {
                                snprintf(err, errlen, "%s: %s", a->name, why);
                                return -EINVAL;
                        }
                }
                break;
        default:
                r = -EINVAL;
        }
        return r == -ENOENT ? 0 : r;
}

int ctl_req_check(json_object *req, char *err, size_t errlen)
{
        const struct op_schema *sc = NULL;
        const char *op;
        int r;

        if ((r = bn_json_get_str(req, "op", &op, err, errlen)) == -ENOENT)
                snprintf(err, errlen, "request has no \"op\"");
        if (r)
                return -EINVAL;
        for (size_t i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++)
                if (strcmp(schemas[i].op, op) == 0)
                        sc = &schemas[i];
        if (!sc) {
                snprintf(err, errlen,
                         "unknown op '%.64s' (known: status, endpoints, wires, connect, "
                         "disconnect, swap, apply, diff, migrate, migration, store-export, "
                         "store-import, snapshot, swap-corm, corm-swap)",
                         op);
                return -EINVAL;
        }
        json_object_object_foreach(req, k, v)
        {
                const struct arg *a = sc->args;
                char why[256] = "";
                (void)v;
                if (strcmp(k, "op") == 0)
                        continue;
                while (a->name && strcmp(a->name, k) != 0)
                        a++;
                if (!a->name) {
                        snprintf(err, errlen, "%s: unknown argument '%.64s'", op, k);
                        return -EINVAL;
                }
                if (check_arg(req, a, why, sizeof(why))) {
                        snprintf(err, errlen, "%s: %s", op, why);
                        return -EINVAL;
                }
        }
        return 0;
}
