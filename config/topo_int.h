/* topo_int.h: what config/'s files share and nothing else uses. */
#ifndef BN_TOPO_INT_H
#define BN_TOPO_INT_H

#include <stddef.h>
#include <yaml.h>

#include "bn_topo.h"

/* Check the bounds of docs/topology.md on the event stream of buf (what
 * the tree would cost is known before it is built): no NUL byte, one
 * document, nesting depth, aliases and what they expand to, nodes. 0 when
 * within them, -EINVAL with errors (file:line:column), -ENOMEM. */
int bn_topo_prescan(const char *file, const char *buf, size_t len, struct bn_topo_errs *errs);
/* A libyaml error of parser p as an error of errs, naming a tab as such
 * (libyaml says "found character that cannot start any token"). */
void bn_topo_syntax_err(struct bn_topo_errs *errs, const char *file, const char *buf, size_t len,
                        yaml_parser_t *p);

#endif
