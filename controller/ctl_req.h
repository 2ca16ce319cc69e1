/* ctl_req.h: parsing and checking one control request (ctl_req.c), before
 * ctl_handle runs it. */
#ifndef BN_CTL_REQ_H
#define BN_CTL_REQ_H

#include <json-c/json.h>
#include <stddef.h>

#include "bn_ctl.h"

/* One request line (without its newline) to a JSON object: 0 with *out
 * (the caller puts it); -EINVAL when it is not exactly one JSON object,
 * -EMSGSIZE when longer than BN_CTL_MSG_MAX, -ENOMEM. */
int ctl_req_parse(const char *line, size_t len, json_object **out);
/* The request names a known op and its members are the op's, each of the
 * right JSON type (strings, booleans, maps of strings): 0, or -EINVAL with
 * err saying which member and what it must be. */
int ctl_req_check(json_object *req, char *err, size_t errlen);

#endif
