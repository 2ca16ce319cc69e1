/* ctl_top.c: `bananactl top`: a live per-wire view of rates (messages and
 * bytes each way, drops), refreshed each second from bananad's `wires`
 * replies, in human units (k/M for messages, KiB/MiB/GiB for bytes). In a
 * terminal each refresh redraws the screen; otherwise (a pipe, a test) the
 * refreshes follow each other. --json: one JSON object a refresh.
 */
#include "ctl_top.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TOP_MAX_WIRES 4096

struct top_row {
        char name[256];
        long long v[5]; /* msgs_out, msgs_in, bytes_out, bytes_in, drops */
};

static const char *const fields[5] = {"msgs_out", "msgs_in", "bytes_out", "bytes_in", "drops"};

static long long field(json_object *o, const char *k)
{
        json_object *v;

        return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static const char *str(json_object *o, const char *k)
{
        json_object *v;

        return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
                   ? json_object_get_string(v)
                   : "-";
}

/* 1234567 -> "1.2M"; bytes (binary) -> "1.2MiB". */
static void human(char *buf, size_t len, double v, bool bytes)
{
        static const char *const dec[] = {"", "k", "M", "G", "T"};
        static const char *const bin[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        double base = bytes ? 1024.0 : 1000.0;
        int i = 0;

        while ((v < 0 ? -v : v) >= base && i < 4) {
                v /= base;
                i++;
        }
        if (i == 0)
                snprintf(buf, len, "%.0f%s", v, bytes ? bin[0] : dec[0]);
        else
                snprintf(buf, len, "%.1f%s", v, bytes ? bin[i] : dec[i]);
}

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The previous sample of a wire, or NULL. */
static const struct top_row *prev_of(const struct top_row *prev, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(prev[i].name, name) == 0)
                        return &prev[i];
        return NULL;
}

static void show(json_object *wires, const struct top_row *prev, size_t nprev, double dt, bool json,
                 bool tty)
{
        size_t n = json_object_array_length(wires);
        json_object *out = json ? json_object_new_array() : NULL;

        if (!json) {
                if (tty)
                        fputs("\033[H\033[2J", stdout);
                printf("bananactl top: %zu wire(s), rates per second over %.1f s (Ctrl-C stops)\n",
                       n, dt);
                printf("%-28s %-6s %-10s %9s %9s %11s %11s %8s\n", "WIRE", "TYPE", "STATE",
                       "MSG/S OUT", "MSG/S IN", "OUT/S", "IN/S", "DROPS/S");
        }
        for (size_t i = 0; i < n; i++) {
                json_object *w = json_object_array_get_idx(wires, i);
                const struct top_row *p = prev_of(prev, nprev, str(w, "name"));
                double r[5];
                char h[5][32];
                for (int k = 0; k < 5; k++) {
                        long long d = p ? field(w, fields[k]) - p->v[k] : 0;
                        r[k] = d > 0 && dt > 0 ? (double)d / dt : 0; /* a reset: 0 */
                        human(h[k], sizeof(h[k]), r[k], k == 2 || k == 3);
                }
                if (json) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "name", json_object_new_string(str(w, "name")));
                        json_object_object_add(o, "type", json_object_new_string(str(w, "type")));
                        json_object_object_add(o, "state", json_object_new_string(str(w, "state")));
                        for (int k = 0; k < 5; k++) {
                                char key[32];
                                snprintf(key, sizeof(key), "%s_per_s", fields[k]);
                                json_object_object_add(o, key, json_object_new_double(r[k]));
                        }
                        json_object_array_add(out, o);
                } else {
                        char state[11];
                        snprintf(state, sizeof(state), "%s", str(w, "state"));
                        printf("%-28s %-6s %-10s %9s %9s %11s %11s %8s\n", str(w, "name"),
                               str(w, "type"), state, h[0], h[1], h[2], h[3], h[4]);
                }
        }
        if (json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "interval_s", json_object_new_double(dt));
                json_object_object_add(o, "wires", out);
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                json_object_put(o);
        } else if (!tty) {
                printf("\n");
        }
        fflush(stdout);
}

int bn_ctl_top(int argc, char **argv, const char *path, bn_ctl_call_fn call, bool json)
{
        static const struct option longopts[] = {{"count", required_argument, NULL, 'n'},
                                                 {NULL, 0, NULL, 0}};
        struct top_row *prev = NULL, *cur = NULL;
        size_t nprev = 0;
        long count = -1; /* forever */
        double t_prev = 0;
        bool tty = isatty(STDOUT_FILENO);
        int opt, rc = 0;

        optind = 0; /* glibc: start again, argv[0] is "top" */
        while ((opt = getopt_long(argc, argv, "+n:", longopts, NULL)) != -1) {
                char *end;
                if (opt != 'n' || (count = strtol(optarg, &end, 10), *end || count < 1)) {
                        fprintf(stderr, "usage: bananactl top [-n COUNT]\n");
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "bananactl: top: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        prev = calloc(TOP_MAX_WIRES, sizeof(*prev));
        cur = calloc(TOP_MAX_WIRES, sizeof(*cur));
        if (!prev || !cur) {
                rc = 1;
                goto out;
        }
        /* one sample more than refreshes: the first only sets the baseline */
        for (long i = 0; count < 0 || i <= count; i++) {
                json_object *req = json_object_new_object(), *reply, *ok, *wires;
                struct top_row *t;
                size_t n;
                double t_now;
                json_object_object_add(req, "op", json_object_new_string("wires"));
                reply = call(path, req);
                json_object_put(req);
                t_now = now_s();
                if (!reply) {
                        rc = 1;
                        goto out;
                }
                if (!json_object_object_get_ex(reply, "ok", &ok) || !json_object_get_boolean(ok) ||
                    !json_object_object_get_ex(reply, "wires", &wires) ||
                    !json_object_is_type(wires, json_type_array)) {
                        fprintf(stderr, "bananactl: %s\n", str(reply, "error"));
                        json_object_put(reply);
                        rc = 1;
                        goto out;
                }
                if (i > 0)
                        show(wires, prev, nprev, t_now - t_prev, json, tty);
                n = json_object_array_length(wires);
                if (n > TOP_MAX_WIRES)
                        n = TOP_MAX_WIRES;
                for (size_t k = 0; k < n; k++) {
                        json_object *w = json_object_array_get_idx(wires, k);
                        snprintf(cur[k].name, sizeof(cur[k].name), "%s", str(w, "name"));
                        for (int f = 0; f < 5; f++)
                                cur[k].v[f] = field(w, fields[f]);
                }
                json_object_put(reply);
                t = prev;
                prev = cur;
                cur = t;
                nprev = n;
                t_prev = t_now;
                if (count < 0 || i < count)
                        sleep(1);
        }
out:
        free(prev);
        free(cur);
        return rc;
}
