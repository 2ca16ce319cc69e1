/* topo_bounds.c: the bounds on the work one topology file can cause
 * (docs/topology.md, "Bounds"), checked on libyaml's event stream before the
 * document tree is built: no NUL byte, one document, nesting depth, aliases
 * and the nodes they expand to, nodes in all. Also the report of a libyaml
 * syntax error, shared with the loader (topo_parse.c).
 */
#include "bn_topo.h"
#include "topo_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct anchor {
        char *name;
        size_t nodes; /* nodes of the anchored value, its aliases expanded */
};

struct frame {
        const char *anchor; /* owned by the event, freed at the end event */
        size_t nodes;
        yaml_event_t ev; /* the start event, kept for its anchor */
};

struct scan {
        const char *file;
        struct bn_topo_errs *errs;
        struct anchor *anchors;
        size_t n_anchors, cap_anchors;
        struct frame stack[BN_TOPO_DEPTH_MAX];
        unsigned depth;
        size_t nodes, aliases, alias_nodes;
        int oom;
};

static struct bn_topo_loc mark_loc(yaml_mark_t m)
{
        struct bn_topo_loc l = {(int)m.line + 1, (int)m.column + 1};
        return l;
}

void bn_topo_syntax_err(struct bn_topo_errs *errs, const char *file, const char *buf, size_t len,
                        yaml_parser_t *p)
{
        struct bn_topo_loc l = mark_loc(p->problem_mark);

        if (p->error == YAML_MEMORY_ERROR) {
                bn_topo_err(errs, file, l, "out of memory reading the YAML");
                return;
        }
        if (p->problem_mark.index < len && buf[p->problem_mark.index] == '\t') {
                bn_topo_err(errs, file, l,
                            "YAML syntax: a tab character: YAML indents with spaces only");
                return;
        }
        bn_topo_err(errs, file, l, "YAML syntax: %s%s%s", p->problem ? p->problem : "error",
                    p->context ? " " : "", p->context ? p->context : "");
}

static int anchor_add(struct scan *s, const char *name, size_t nodes)
{
        if (s->n_anchors == s->cap_anchors) {
                size_t cap = s->cap_anchors ? 2 * s->cap_anchors : 16;
                struct anchor *na = realloc(s->anchors, cap * sizeof(*na));
                if (!na)
                        return s->oom = 1;
                s->anchors = na;
                s->cap_anchors = cap;
        }
        if (!(s->anchors[s->n_anchors].name = strdup(name)))
                return s->oom = 1;
        s->anchors[s->n_anchors++].nodes = nodes;
        return 0;
}

/* Nodes of the latest anchor of that name (YAML lets an anchor be set
 * again); 1 when unknown (the loader reports it). */
static size_t anchor_nodes(const struct scan *s, const char *name)
{
        for (size_t i = s->n_anchors; i-- > 0;)
                if (strcmp(s->anchors[i].name, name) == 0)
                        return s->anchors[i].nodes;
        return 1;
}

/* Account for n more nodes in the value being read. */
static void add_nodes(struct scan *s, size_t n)
{
        if (s->depth)
                s->stack[s->depth - 1].nodes += n;
}

/* One event: 0 to go on, 1 when a bound is passed (error added). */
static int scan_event(struct scan *s, yaml_event_t *ev, int *docs)
{
        struct bn_topo_loc l = mark_loc(ev->start_mark);
        struct frame *f;
        size_t n;

        switch (ev->type) {
        case YAML_DOCUMENT_START_EVENT:
                if (++*docs > 1) {
                        bn_topo_err(s->errs, s->file, l,
                                    "a second YAML document ('---'): a topology file holds "
                                    "exactly one");
                        return 1;
                }
                return 0;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
                if (s->depth == BN_TOPO_DEPTH_MAX) {
                        bn_topo_err(s->errs, s->file, l, "nested deeper than %d levels",
                                    BN_TOPO_DEPTH_MAX);
                        return 1;
                }
                f = &s->stack[s->depth++];
                f->ev = *ev; /* owns the event now (its anchor) */
                ev->type = YAML_NO_EVENT;
                f->anchor = (const char *)(f->ev.type == YAML_SEQUENCE_START_EVENT
                                               ? f->ev.data.sequence_start.anchor
                                               : f->ev.data.mapping_start.anchor);
                f->nodes = 1;
                s->nodes++;
                break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
                if (!s->depth)
                        return 0;
                f = &s->stack[--s->depth];
                n = f->nodes;
                if (f->anchor && anchor_add(s, f->anchor, n))
                        return 1;
                yaml_event_delete(&f->ev);
                add_nodes(s, n);
                break;
        case YAML_SCALAR_EVENT:
                s->nodes++;
                if (ev->data.scalar.anchor &&
                    anchor_add(s, (const char *)ev->data.scalar.anchor, 1))
                        return 1;
                add_nodes(s, 1);
                break;
        case YAML_ALIAS_EVENT:
                n = anchor_nodes(s, (const char *)ev->data.alias.anchor);
                s->aliases++;
                s->alias_nodes += n;
                if (s->aliases > BN_TOPO_ALIAS_MAX || s->alias_nodes > BN_TOPO_ALIAS_NODES_MAX) {
                        bn_topo_err(s->errs, s->file, l,
                                    "too many aliases: at most %d, expanding to at most %d nodes "
                                    "in all",
                                    BN_TOPO_ALIAS_MAX, BN_TOPO_ALIAS_NODES_MAX);
                        return 1;
                }
                add_nodes(s, n);
                break;
        default:
                return 0;
        }
        if (s->nodes > BN_TOPO_NODES_MAX) {
                bn_topo_err(s->errs, s->file, l, "more than %d YAML nodes", BN_TOPO_NODES_MAX);
                return 1;
        }
        return 0;
}

int bn_topo_prescan(const char *file, const char *buf, size_t len, struct bn_topo_errs *errs)
{
        struct scan s = {.file = file, .errs = errs};
        const char *nul = memchr(buf, '\0', len);
        yaml_parser_t parser;
        yaml_event_t ev;
        int docs = 0, r = -EINVAL, stop = 0;

        if (nul) {
                struct bn_topo_loc l = {1, 1};
                for (const char *p = buf; p < nul; p++) {
                        if (*p == '\n') {
                                l.line++;
                                l.col = 1;
                        } else {
                                l.col++;
                        }
                }
                bn_topo_err(errs, file, l, "a NUL byte: a topology file is text");
                return -EINVAL;
        }
        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
        while (!stop) {
                if (!yaml_parser_parse(&parser, &ev)) {
                        bn_topo_syntax_err(errs, file, buf, len, &parser);
                        goto out;
                }
                stop = ev.type == YAML_STREAM_END_EVENT;
                if (scan_event(&s, &ev, &docs)) {
                        yaml_event_delete(&ev);
                        goto out;
                }
                yaml_event_delete(&ev);
        }
        r = 0;
out:
        if (s.oom)
                r = -ENOMEM;
        while (s.depth)
                yaml_event_delete(&s.stack[--s.depth].ev);
        for (size_t i = 0; i < s.n_anchors; i++)
                free(s.anchors[i].name);
        free(s.anchors);
        yaml_parser_delete(&parser);
        return r;
}
