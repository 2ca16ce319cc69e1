/* ctl_top.h: `bananactl top` (ctl_top.c), a live per-wire view of rates. */
#ifndef BN_CTL_TOP_H
#define BN_CTL_TOP_H

#include <json-c/json.h>
#include <stdbool.h>

/* Send a request to bananad at path; the parsed reply, or NULL (said on
 * stderr). bananactl's own. */
typedef json_object *(*bn_ctl_call_fn)(const char *path, json_object *req);

/* argv[0] is "top"; options: -n COUNT (refreshes, then exit; default:
 * until interrupted). Exit code: 0, 1 (bananad unreachable or refused),
 * 2 (usage). */
int bn_ctl_top(int argc, char **argv, const char *path, bn_ctl_call_fn call, bool json);

#endif
