/* bananactl.c: the command-line client of bananad's control socket
 * (docs/cli.md). One request per run: builds the JSON request, sends it as
 * one line, reads the one-line reply and prints it as a table (default) or
 * as JSON (--json). Exit codes: 0 ok, 1 refused (or bananad unreachable),
 * 2 usage.
 */
#include <errno.h>
#include <arpa/nameser.h>
#include <getopt.h>
#include <json-c/json.h>
#include <resolv.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bn_ctl.h"
#include "ctl_top.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE   2

static void usage(FILE *f)
{
        fprintf(
            f,
            "usage: bananactl [--control PATH] [--json] COMMAND [ARGS]\n"
            "commands:\n"
            "  status                         daemon, host, store, what is available\n"
            "  endpoints [NAME]               endpoints with state and counters\n"
            "  wires [NAME]                   wires with type, ends, state, counters\n"
            "  connect A B [--wire TYPE] [--name WIRE] [-o KEY=VALUE]...\n"
            "                                 wire endpoint A to endpoint B\n"
            "  disconnect WIRE|ENDPOINT       remove a wire (or every wire at an endpoint)\n"
            "  swap WIRE TYPE [-o KEY=VALUE]... [--no-options]\n"
            "                                 change a wire's type live, make before break\n"
            "                                 (-o: the new type's options instead of the\n"
            "                                 wire's; --no-options: none)\n"
            "  apply [--prune] [--generation N] FILE\n"
            "                                 make the topology in FILE the desired state\n"
            "                                 (--prune: remove what connect made too;\n"
            "                                 --generation: only if the desired state is\n"
            "                                 still at generation N, as diff --json said)\n"
            "  diff [--prune] FILE            what apply FILE would change\n"
            "  top [-n COUNT]                 live per-wire rates, refreshed each second\n"
            "  store export                   the desired state as JSON, on stdout\n"
            "  store import FILE              an export into this (empty) store\n"
            "  snapshot ENDPOINT FILE         what a display Corm shows, in FILE (PNG; .ppm: PPM)\n"
            "  migrate VM --to HOST [--fail-at STEP]\n"
            "                                 live-migrate simulated guest VM (run on its host)\n"
            "                                 with its topology; --fail-at pre-copy|\n"
            "                                 stop-and-copy|switch injects a fault (rollback)\n"
            "  swap-corm WIRE NEW_CORM [--rate BYTES_PER_S] | swap-corm --abort WIRE\n"
            "                                 move a disk wire's Corm end to NEW_CORM (a file\n"
            "                                 Corm on this host) once it holds the same bytes\n"
            "                                 (copy while mirroring writes, then switch)\n"
            "The socket is $BANANA_CONTROL, else %s.\n",
            BN_CTL_DEFAULT_SOCKET);
}

static char *read_file(const char *path, size_t max, size_t *lenp)
{
        FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
        size_t len = 0, cap = 0;
        char *buf = NULL;

        if (!f) {
                fprintf(stderr, "bananactl: cannot open %s: %s\n", path, strerror(errno));
                return NULL;
        }
        for (;;) {
                size_t n;
                if (cap - len < 65536) {
                        char *nb = realloc(buf, cap + 65536 + 1);
                        if (!nb)
                                break;
                        buf = nb;
                        cap += 65536;
                }
                n = fread(buf + len, 1, cap - len, f);
                len += n;
                if (n == 0)
                        break;
                if (len > max) {
                        fprintf(stderr, "bananactl: %s is larger than %zu bytes\n", path, max);
                        free(buf);
                        buf = NULL;
                        break;
                }
        }
        if (buf && ferror(f)) {
                fprintf(stderr, "bananactl: cannot read %s\n", path);
                free(buf);
                buf = NULL;
        }
        if (buf) {
                buf[len] = '\0';
                *lenp = len;
        }
        if (f != stdin)
                fclose(f);
        return buf;
}

/* Send req, return the parsed reply (NULL with a message on failure). */
static json_object *call(const char *path, json_object *req)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
        size_t len = strlen(text), off = 0, cap = 0, got = 0;
        char *buf = NULL, *nl = NULL;
        json_object *reply = NULL;
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "bananactl: control socket path too long\n");
                return NULL;
        }
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                fprintf(stderr, "bananactl: cannot reach bananad at %s: %s\n", path,
                        strerror(errno));
                if (fd >= 0)
                        close(fd);
                return NULL;
        }
        while (off <= len) {
                const char *p = off < len ? text + off : "\n";
                size_t n = off < len ? len - off : 1;
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0) {
                        fprintf(stderr, "bananactl: sending to bananad: %s\n", strerror(errno));
                        goto out;
                }
                off += (size_t)w;
        }
        while (!nl) {
                ssize_t n;
                if (cap - got < 65536) {
                        char *nb = realloc(buf, cap + 65536 + 1);
                        if (!nb)
                                goto out;
                        buf = nb;
                        cap += 65536;
                }
                n = read(fd, buf + got, cap - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        fprintf(stderr, "bananactl: bananad closed the connection without a "
                                        "reply\n");
                        goto out;
                }
                buf[got + (size_t)n] = '\0';
                nl = memchr(buf + got, '\n', (size_t)n);
                got += (size_t)n;
                if (got > BN_CTL_MSG_MAX) {
                        fprintf(stderr, "bananactl: reply too large\n");
                        goto out;
                }
        }
        *nl = '\0';
        reply = json_tokener_parse(buf);
        if (!reply || !json_object_is_type(reply, json_type_object)) {
                fprintf(stderr, "bananactl: bananad sent a malformed reply\n");
                json_object_put(reply);
                reply = NULL;
        }
out:
        free(buf);
        close(fd);
        return reply;
}

static const char *s(json_object *o, const char *k)
{
        json_object *v;

        if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
                return "-";
        return json_object_get_string(v);
}

static long long num(json_object *o, const char *k)
{
        json_object *v;

        return json_object_object_get_ex(o, k, &v) ? (long long)json_object_get_int64(v) : 0;
}

static json_object *arr(json_object *o, const char *k)
{
        json_object *v;

        if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_array))
                return NULL;
        return v;
}

static void print_status(json_object *r)
{
        json_object *st, *a;

        printf("host:       %s\n", s(r, "host"));
        printf("pid:        %lld\n", num(r, "pid"));
        printf("hypervisor: %s\n", s(r, "hypervisor"));
        printf("uptime:     %llds\n", num(r, "uptime"));
        if (json_object_object_get_ex(r, "store", &st))
                printf("store:      %s, revision %lld\n", s(st, "backend"), num(st, "revision"));
        printf("endpoints:  %lld running\n", num(r, "endpoints"));
        printf("wires:      %lld on this host\n", num(r, "wires"));
        printf("classes:   ");
        a = arr(r, "classes");
        for (size_t i = 0; a && i < json_object_array_length(a); i++)
                printf(" %s", json_object_get_string(json_object_array_get_idx(a, i)));
        printf("\nwire types:");
        a = arr(r, "wire_types");
        for (size_t i = 0; a && i < json_object_array_length(a); i++)
                printf(" %s", json_object_get_string(json_object_array_get_idx(a, i)));
        printf("\n");
        if (!(a = arr(r, "hosts")))
                return; /* one host */
        if (json_object_object_get_ex(r, "store", &st))
                printf("store reachable: %s\n", strcmp(s(st, "reachable"), "false") ? "yes" : "no");
        printf("%-20s %-5s %-16s %-20s %9s %9s\n", "HOST", "STATE", "ADDRESS", "LAST SEEN",
               "ENDPOINTS", "WIRES");
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *h = json_object_array_get_idx(a, i);
                char seen[32] = "never";
                time_t t = (time_t)num(h, "last_seen");
                struct tm tm;
                if (t > 0 && gmtime_r(&t, &tm))
                        strftime(seen, sizeof(seen), "%Y-%m-%d %H:%M:%SZ", &tm);
                printf("%-20s %-5s %-16s %-20s %9lld %9lld\n", s(h, "host"), s(h, "state"),
                       s(h, "address"), seen, num(h, "endpoints"), num(h, "wires"));
        }
}

static void print_endpoints(json_object *r)
{
        json_object *a = arr(r, "endpoints");

        printf("%-32s %-5s %-5s %-10s %-10s %10s %10s %8s  %s\n", "NAME", "KIND", "CLASS",
               "LOCATION", "STATE", "MSGS_IN", "MSGS_OUT", "DROPS", "WIRES");
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *e = json_object_array_get_idx(a, i), *w = arr(e, "wires");
                printf("%-32s %-5s %-5s %-10s %-10s %10lld %10lld %8lld  ", s(e, "name"),
                       s(e, "kind"), s(e, "class"), s(e, "location"), s(e, "state"),
                       num(e, "msgs_in"), num(e, "msgs_out"), num(e, "drops"));
                for (size_t j = 0; w && j < json_object_array_length(w); j++)
                        printf("%s%s", j ? "," : "",
                               json_object_get_string(json_object_array_get_idx(w, j)));
                if (!w || !json_object_array_length(w))
                        printf("-");
                if (strcmp(s(e, "error"), "-") != 0)
                        printf("  (%s)", s(e, "error"));
                printf("\n");
        }
}

static void print_wires(json_object *r)
{
        json_object *a = arr(r, "wires");

        printf("%-24s %-6s %-28s %-28s %10s %10s %8s  %s\n", "NAME", "TYPE", "END A", "END B",
               "MSGS_OUT", "MSGS_IN", "DROPS", "STATE");
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *w = json_object_array_get_idx(a, i), *ends = arr(w, "ends");
                printf("%-24s %-6s %-28s %-28s %10lld %10lld %8lld  %s\n", s(w, "name"),
                       s(w, "type"),
                       ends ? json_object_get_string(json_object_array_get_idx(ends, 0)) : "-",
                       ends ? json_object_get_string(json_object_array_get_idx(ends, 1)) : "-",
                       num(w, "msgs_out"), num(w, "msgs_in"), num(w, "drops"), s(w, "state"));
                json_object *pol;
                if (json_object_object_get_ex(w, "policy", &pol) && json_object_get_boolean(pol))
                        printf("%-24s %-6s why: %s\n", "", "", s(w, "why"));
        }
}

static void print_changes(json_object *r, bool applied)
{
        json_object *a = arr(r, "changes"), *p = arr(r, "problems");
        size_t n = a ? json_object_array_length(a) : 0;

        for (size_t i = 0; i < n; i++) {
                json_object *c = json_object_array_get_idx(a, i);
                const char *ch = s(c, "change");
                char sign = strcmp(ch, "create") == 0 ? '+' : strcmp(ch, "remove") == 0 ? '-' : '~';
                printf("%c %-6s %-8s %s  %s\n", sign, ch, s(c, "kind"), s(c, "name"),
                       s(c, "detail"));
        }
        if (!n)
                printf("no change\n");
        else if (applied)
                printf("%zu change%s applied (store revision %lld)\n", n, n == 1 ? "" : "s",
                       num(r, "revision"));
        for (size_t i = 0; p && i < json_object_array_length(p); i++)
                printf("problem: %s\n", json_object_get_string(json_object_array_get_idx(p, i)));
}

/* Build the request from the command line; NULL on a usage error. */
static json_object *build(int argc, char **argv, const char **cmd)
{
        json_object *req = json_object_new_object();
        const char *c;

        if (argc < 1) {
                fprintf(stderr, "bananactl: missing command\n");
                goto usage;
        }
        c = *cmd = argv[0];
        json_object_object_add(req, "op", json_object_new_string(c));
        if (strcmp(c, "status") == 0 || strcmp(c, "endpoints") == 0 || strcmp(c, "wires") == 0) {
                if (argc > 2 || (argc == 2 && strcmp(c, "status") == 0))
                        goto extra;
                if (argc == 2)
                        json_object_object_add(req, "name", json_object_new_string(argv[1]));
        } else if (strcmp(c, "connect") == 0) {
                json_object *opts = json_object_new_object();
                int pos = 0;
                for (int i = 1; i < argc; i++) {
                        const char *a = argv[i];
                        if ((strcmp(a, "--wire") == 0 || strcmp(a, "--type") == 0) &&
                            i + 1 < argc) {
                                json_object_object_add(req, "type",
                                                       json_object_new_string(argv[++i]));
                        } else if (strcmp(a, "--name") == 0 && i + 1 < argc) {
                                json_object_object_add(req, "name",
                                                       json_object_new_string(argv[++i]));
                        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--option") == 0) &&
                                   i + 1 < argc) {
                                char *kv = argv[++i], *eq = strchr(kv, '=');
                                if (!eq || eq == kv) {
                                        fprintf(stderr, "bananactl: option '%s' is not KEY=VALUE\n",
                                                kv);
                                        json_object_put(opts);
                                        goto usage;
                                }
                                *eq = '\0';
                                json_object_object_add(opts, kv, json_object_new_string(eq + 1));
                                *eq = '=';
                        } else if (i + 1 == argc &&
                                   (strcmp(a, "--wire") == 0 || strcmp(a, "--type") == 0 ||
                                    strcmp(a, "--name") == 0 || strcmp(a, "-o") == 0 ||
                                    strcmp(a, "--option") == 0)) {
                                fprintf(stderr, "bananactl: connect: %s needs a value (%s)\n", a,
                                        a[2] == 'n'   ? "a wire name"
                                        : a[1] == 'o' ? "KEY=VALUE"
                                        : a[2] == 'o' ? "KEY=VALUE"
                                                      : "a wire type");
                                json_object_put(opts);
                                goto usage;
                        } else if (a[0] == '-') {
                                fprintf(stderr, "bananactl: connect: unknown flag '%s'\n", a);
                                json_object_put(opts);
                                goto usage;
                        } else if (pos < 2) {
                                json_object_object_add(req, pos++ ? "b" : "a",
                                                       json_object_new_string(a));
                        } else {
                                json_object_put(opts);
                                goto extra;
                        }
                }
                json_object_object_add(req, "options", opts);
                if (pos != 2) {
                        fprintf(stderr, "bananactl: connect needs two endpoints\n");
                        goto usage;
                }
        } else if (strcmp(c, "snapshot") == 0) {
                if (argc != 3) {
                        fprintf(stderr, "bananactl: snapshot needs an endpoint and a file\n");
                        goto usage;
                }
                json_object_object_add(req, "endpoint", json_object_new_string(argv[1]));
                size_t fl = strlen(argv[2]);
                bool ppm = fl > 4 && strcmp(argv[2] + fl - 4, ".ppm") == 0;
                json_object_object_add(req, "format", json_object_new_string(ppm ? "ppm" : "png"));
        } else if (strcmp(c, "disconnect") == 0) {
                if (argc != 2) {
                        fprintf(stderr, "bananactl: disconnect needs one wire\n");
                        goto usage;
                }
                json_object_object_add(req, "wire", json_object_new_string(argv[1]));
        } else if (strcmp(c, "swap") == 0) {
                json_object *opts = NULL;
                if (argc < 3 || argv[1][0] == '-' || argv[2][0] == '-') {
                        fprintf(stderr, "bananactl: swap needs a wire and a type\n");
                        goto usage;
                }
                json_object_object_add(req, "wire", json_object_new_string(argv[1]));
                json_object_object_add(req, "type", json_object_new_string(argv[2]));
                for (int i = 3; i < argc; i++) {
                        const char *a = argv[i];
                        char *eq;
                        if (!opts && !(opts = json_object_new_object()))
                                goto usage;
                        if (strcmp(a, "--no-options") == 0)
                                continue;
                        if ((strcmp(a, "-o") != 0 && strcmp(a, "--option") != 0) || i + 1 >= argc ||
                            !(eq = strchr(argv[i + 1], '=')) || eq == argv[i + 1]) {
                                fprintf(stderr, "bananactl: swap: '%s' is not -o KEY=VALUE\n", a);
                                json_object_put(opts);
                                goto usage;
                        }
                        *eq = '\0';
                        json_object_object_add(opts, argv[i + 1], json_object_new_string(eq + 1));
                        *eq = '=';
                        i++;
                }
                if (opts)
                        json_object_object_add(req, "options", opts);
        } else if (strcmp(c, "store") == 0) {
                /* moving the desired state between stores (ctl_store_move.c) */
                if (argc == 2 && strcmp(argv[1], "export") == 0) {
                        json_object_object_add(req, "op", json_object_new_string("store-export"));
                        *cmd = "store-export";
                } else if (argc == 3 && strcmp(argv[1], "import") == 0) {
                        size_t clen = 0;
                        char *content = read_file(argv[2], BN_CTL_MSG_MAX / 2, &clen);
                        if (!content) {
                                json_object_put(req);
                                *cmd = NULL; /* refused, not usage */
                                return NULL;
                        }
                        json_object_object_add(req, "op", json_object_new_string("store-import"));
                        json_object_object_add(req, "content",
                                               json_object_new_string_len(content, (int)clen));
                        free(content);
                        *cmd = "store-import";
                } else {
                        fprintf(stderr, "bananactl: store export | store import FILE\n");
                        goto usage;
                }
        } else if (strcmp(c, "apply") == 0 || strcmp(c, "diff") == 0) {
                const char *file = NULL;
                size_t clen = 0;
                char *content;
                for (int i = 1; i < argc; i++) {
                        if (strcmp(argv[i], "--prune") == 0) {
                                json_object_object_add(req, "prune", json_object_new_boolean(1));
                        } else if (strcmp(argv[i], "--generation") == 0 &&
                                   strcmp(c, "apply") == 0) {
                                if (++i == argc || !argv[i][0] ||
                                    strspn(argv[i], "0123456789") != strlen(argv[i])) {
                                        fprintf(stderr,
                                                "bananactl: apply --generation needs a number\n");
                                        goto usage;
                                }
                                json_object_object_add(req, "generation",
                                                       json_object_new_string(argv[i]));
                        } else if (argv[i][0] == '-' && argv[i][1]) {
                                fprintf(stderr, "bananactl: %s: unknown flag '%s'\n", c, argv[i]);
                                goto usage;
                        } else if (!file) {
                                file = argv[i];
                        } else {
                                goto extra;
                        }
                }
                if (!file) {
                        fprintf(stderr, "bananactl: %s needs one file\n", c);
                        goto usage;
                }
                content = read_file(file, BN_CTL_MSG_MAX / 2, &clen);
                if (!content) {
                        json_object_put(req);
                        *cmd = NULL; /* refused, not usage */
                        return NULL;
                }
                json_object_object_add(req, "file", json_object_new_string(file));
                json_object_object_add(req, "content",
                                       json_object_new_string_len(content, (int)clen));
                free(content); /* sent whole: bananad reports a NUL byte where it is */
        } else if (strcmp(c, "migrate") == 0) {
                const char *vm = NULL;
                for (int i = 1; i < argc; i++) {
                        if ((strcmp(argv[i], "--to") == 0 || strcmp(argv[i], "--fail-at") == 0) &&
                            i + 1 < argc) {
                                json_object_object_add(req, argv[i][2] == 't' ? "to" : "fail_at",
                                                       json_object_new_string(argv[i + 1]));
                                i++;
                        } else if (argv[i][0] == '-' || vm) {
                                fprintf(stderr,
                                        "bananactl: migrate VM --to HOST [--fail-at STEP]\n");
                                goto usage;
                        } else {
                                vm = argv[i];
                        }
                }
                if (!vm || !json_object_object_get_ex(req, "to", NULL)) {
                        fprintf(stderr, "bananactl: migrate needs a VM and --to HOST\n");
                        goto usage;
                }
                json_object_object_add(req, "vm", json_object_new_string(vm));
        } else if (strcmp(c, "swap-corm") == 0) {
                const char *pos[2] = {NULL, NULL};
                int npos = 0;
                bool ab = false;
                for (int i = 1; i < argc; i++) {
                        if (strcmp(argv[i], "--abort") == 0) {
                                ab = true;
                        } else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc) {
                                json_object_object_add(req, "rate",
                                                       json_object_new_string(argv[++i]));
                        } else if (argv[i][0] == '-' || npos == 2) {
                                goto swap_corm_usage;
                        } else {
                                pos[npos++] = argv[i];
                        }
                }
                if (npos != (ab ? 1 : 2))
                        goto swap_corm_usage;
                json_object_object_add(req, "wire", json_object_new_string(pos[0]));
                if (ab)
                        json_object_object_add(req, "abort", json_object_new_boolean(1));
                else
                        json_object_object_add(req, "corm", json_object_new_string(pos[1]));
        } else {
                fprintf(stderr, "bananactl: unknown command '%s'\n", c);
                goto usage;
        }
        return req;
swap_corm_usage:
        fprintf(stderr, "bananactl: swap-corm WIRE NEW_CORM [--rate BYTES_PER_S] | swap-corm "
                        "--abort WIRE\n");
        goto usage;
extra:
        fprintf(stderr, "bananactl: too many arguments for %s\n", c);
usage:
        json_object_put(req);
        usage(stderr);
        return NULL;
}

/* After migrate or swap-corm started: follow its steps (op: migration or
 * corm-swap, asked of key = value every 20 ms, at most 60 s or 10 min),
 * printing each as it is done; 0 when done, else EXIT_REFUSED. */
static int follow_steps(const char *path, const char *op, const char *key, const char *value,
                        int polls, bool json)
{
        json_object *req = json_object_new_object(), *r = NULL;
        size_t shown = 0;
        int rc = EXIT_REFUSED;

        if (!req)
                return rc;
        json_object_object_add(req, "op", json_object_new_string(op));
        json_object_object_add(req, key, json_object_new_string(value));
        for (int i = 0; i < polls; i++) {
                json_object *log, *ok;
                const char *step;
                json_object_put(r);
                if (!(r = call(path, req)) || !json_object_object_get_ex(r, "ok", &ok) ||
                    !json_object_get_boolean(ok)) {
                        fprintf(stderr, "bananactl: %s\n", r ? s(r, "error") : "no answer");
                        break;
                }
                log = arr(r, "log");
                for (; !json && log && shown < json_object_array_length(log); shown++)
                        printf("%s\n",
                               json_object_get_string(json_object_array_get_idx(log, shown)));
                fflush(stdout);
                step = s(r, "step");
                if (!strcmp(step, "done") || !strcmp(step, "failed")) {
                        if (json)
                                printf("%s\n",
                                       json_object_to_json_string_ext(r, JSON_C_TO_STRING_PRETTY));
                        else if (!strcmp(step, "failed"))
                                fprintf(stderr, "bananactl: %s %s: %s\n", op, value,
                                        s(r, "result"));
                        rc = strcmp(step, "done") == 0 ? 0 : EXIT_REFUSED;
                        break;
                }
                usleep(20000);
        }
        json_object_put(r);
        json_object_put(req);
        return rc;
}

/* Decode a snapshot reply's base64 data into path; 0 or EXIT_REFUSED. */
static int write_snapshot(json_object *reply, const char *path)
{
        const char *b64 = s(reply, "data");
        size_t n = strlen(b64), want = (size_t)num(reply, "bytes");
        unsigned char *buf = malloc(n / 4 * 3 + 3);
        int rc = EXIT_REFUSED;
        FILE *f = NULL;
        if (!buf || n % 4 || b64_pton(b64, buf, n / 4 * 3 + 3) < (int)want) {
                fprintf(stderr, "bananactl: the snapshot in the reply is not valid base64\n");
                goto out;
        }
        f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, want, f) != want || fflush(f)) {
                fprintf(stderr, "bananactl: cannot write %s: %s\n", path, strerror(errno));
                goto out;
        }
        printf("snapshot: %zu bytes of %s in %s\n", want, s(reply, "format"), path);
        rc = 0;
out:
        if (f)
                fclose(f);
        free(buf);
        return rc;
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
            {"control", required_argument, NULL, 'c'},
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char *path = getenv("BANANA_CONTROL"), *cmd = "";
        json_object *req, *reply, *ok;
        bool json = false;
        int opt, rc, nargs;

        if (!path || !*path)
                path = BN_CTL_DEFAULT_SOCKET;
        /* '+': stop at the command, so its flags (connect --wire) are its own */
        while ((opt = getopt_long(argc, argv, "+c:jh", longopts, NULL)) != -1) {
                switch (opt) {
                case 'c':
                        path = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return EXIT_USAGE;
                }
        }
        /* --json is a global flag, but docs/cli.md also writes it after the
         * command (wires --json): take it wherever it is */
        nargs = optind;
        for (int i = optind; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else
                        argv[nargs++] = argv[i];
        }
        argc = nargs;
        if (optind < argc && strcmp(argv[optind], "top") == 0) /* ctl_top.c */
                return bn_ctl_top(argc - optind, argv + optind, path, call, json);
        req = build(argc - optind, argv + optind, &cmd);
        if (!req)
                return cmd ? EXIT_USAGE : EXIT_REFUSED;
        reply = call(path, req);
        json_object_put(req);
        if (!reply)
                return EXIT_REFUSED;
        rc = json_object_object_get_ex(reply, "ok", &ok) && json_object_get_boolean(ok)
                 ? 0
                 : EXIT_REFUSED;
        if (!rc && strcmp(cmd, "migrate") == 0) {
                rc = follow_steps(path, "migration", "vm", s(reply, "vm"), 3000, json);
        } else if (!rc && strcmp(cmd, "swap-corm") == 0 &&
                   json_object_object_get_ex(reply, "wire", NULL)) {
                rc = follow_steps(path, "corm-swap", "wire", s(reply, "wire"), 30000, json);
        } else if (json) {
                printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PRETTY));
        } else if (rc) {
                json_object *errs = arr(reply, "errors");
                fprintf(stderr, "bananactl: %s\n", s(reply, "error"));
                for (size_t i = 0; errs && i < json_object_array_length(errs); i++)
                        fprintf(stderr, "%s\n",
                                json_object_get_string(json_object_array_get_idx(errs, i)));
        } else if (strcmp(cmd, "status") == 0) {
                print_status(reply);
        } else if (strcmp(cmd, "endpoints") == 0) {
                print_endpoints(reply);
        } else if (strcmp(cmd, "wires") == 0) {
                print_wires(reply);
        } else if (strcmp(cmd, "apply") == 0 || strcmp(cmd, "diff") == 0) {
                print_changes(reply, strcmp(cmd, "apply") == 0);
                if (arr(reply, "problems") && json_object_array_length(arr(reply, "problems")))
                        rc = EXIT_REFUSED;
        } else if (strcmp(cmd, "connect") == 0) {
                printf("connected: wire %s (%s)\n", s(reply, "wire"), s(reply, "type"));
        } else if (strcmp(cmd, "disconnect") == 0) {
                json_object *a = arr(reply, "removed");
                for (size_t i = 0; a && i < json_object_array_length(a); i++)
                        printf("removed wire %s\n",
                               json_object_get_string(json_object_array_get_idx(a, i)));
                a = arr(reply, "removed_endpoints");
                for (size_t i = 0; a && i < json_object_array_length(a); i++)
                        printf("removed endpoint %s (made by connect, no wire left)\n",
                               json_object_get_string(json_object_array_get_idx(a, i)));
        } else if (strcmp(cmd, "swap") == 0) {
                printf("wire %s: %s -> %s\n", s(reply, "wire"), s(reply, "from"), s(reply, "type"));
        } else if (strcmp(cmd, "store-export") == 0) {
                json_object_object_del(reply, "ok");
                printf("%s\n",
                       json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PRETTY |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
        } else if (strcmp(cmd, "snapshot") == 0) {
                rc = write_snapshot(reply, argv[argc - 1]);
        } else if (strcmp(cmd, "store-import") == 0) {
                printf("imported %lld keys (store revision %lld)\n", num(reply, "imported"),
                       num(reply, "revision"));
        }
        json_object_put(reply);
        return rc;
}
