/* fuzz_ctl_req.c: libFuzzer target over the control protocol's request
 * reader: one line as a client could send it, parsed (ctl_req_parse) and
 * checked against the op's schema (ctl_req_check) as bananad does before an
 * op runs. Invariants: a request that passes the check has a string "op"
 * and only members of the types its op takes. */
#include <json-c/json.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bn_json.h"
#include "ctl_req.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
        json_object *req = NULL;
        char err[512];
        const char *op = NULL, *s;
        size_t n;
        bool b;

        if (ctl_req_parse((const char *)data, size, &req))
                return 0;
        if (ctl_req_check(req, err, sizeof(err)) == 0) {
                if (bn_json_get_str(req, "op", &op, NULL, 0) || !op)
                        abort();
                if (bn_json_get_bool(req, "prune", &b, NULL, 0) == -EINVAL)
                        abort();
                if (bn_json_get_str(req, "name", &s, NULL, 0) == -EINVAL ||
                    bn_json_get_str(req, "wire", &s, NULL, 0) == -EINVAL ||
                    bn_json_get_strn(req, "content", &s, &n, NULL, 0) == -EINVAL)
                        abort(); /* content may hold NULs, but is a string */
        } else if (!err[0]) {
                abort(); /* a refusal always says why */
        }
        json_object_put(req);
        return 0;
}
