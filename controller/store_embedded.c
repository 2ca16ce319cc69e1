/* store_embedded.c: the embedded store backend: a sorted array of key/value
 * strings in memory, persisted as one JSON file <state_dir>/store.json
 * ({"format": "banana-store-1", "revision": N, "data": {key: value}})
 * atomically: write store.json.tmp, fsync it, rename over store.json, fsync
 * the directory. Also the generic bn_store_* wrappers.
 */
#include "bn_store.h"

#include "bn_json.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_FILE   "store.json"
#define STORE_TMP    "store.json.tmp"
#define STORE_FORMAT "banana-store-1"

struct kv {
        char *key;
        char *value;
};

struct emb {
        char *dir;
        struct kv *v;
        size_t n;
        uint64_t rev;
};

static void kv_free_all(struct kv *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(v[i].key);
                free(v[i].value);
        }
        free(v);
}

/* Index of key, or -(insertion point) - 1. */
static long find(const struct kv *v, size_t n, const char *key)
{
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(v[mid].key, key);
                if (c == 0)
                        return (long)mid;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -(long)lo - 1;
}

/* Set key=value in a sorted array (takes no ownership of the strings). */
static int arr_put(struct kv **v, size_t *n, const char *key, const char *value)
{
        long i = find(*v, *n, key);
        char *val = strdup(value), *k;
        struct kv *nv;
        size_t at;

        if (!val)
                return -ENOMEM;
        if (i >= 0) {
                free((*v)[i].value);
                (*v)[i].value = val;
                return 0;
        }
        k = strdup(key);
        nv = realloc(*v, (*n + 1) * sizeof(**v));
        if (!k || !nv) {
                free(k);
                free(val);
                if (nv)
                        *v = nv;
                return -ENOMEM;
        }
        *v = nv;
        at = (size_t)(-i - 1);
        memmove(&nv[at + 1], &nv[at], (*n - at) * sizeof(*nv));
        nv[at].key = k;
        nv[at].value = val;
        (*n)++;
        return 0;
}

static void arr_del(struct kv *v, size_t *n, const char *key)
{
        long i = find(v, *n, key);

        if (i < 0)
                return;
        free(v[i].key);
        free(v[i].value);
        memmove(&v[i], &v[i + 1], (*n - (size_t)i - 1) * sizeof(*v));
        (*n)--;
}

static int write_all(int fd, const char *buf, size_t len)
{
        while (len) {
                ssize_t w = write(fd, buf, len);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -errno;
                buf += w;
                len -= (size_t)w;
        }
        return 0;
}

/* Persist (v, n, rev) atomically. */
static int persist(struct emb *e, const struct kv *v, size_t n, uint64_t rev, char *err,
                   size_t errlen)
{
        json_object *root = json_object_new_object(), *data = json_object_new_object();
        char tmp[4096], final[4096];
        const char *text;
        int fd = -1, dfd = -1, r = -ENOMEM;

        snprintf(tmp, sizeof(tmp), "%s/%s", e->dir, STORE_TMP);
        snprintf(final, sizeof(final), "%s/%s", e->dir, STORE_FILE);
        if (!root || !data)
                goto out;
        for (size_t i = 0; i < n; i++)
                if (json_object_object_add(data, v[i].key, json_object_new_string(v[i].value)))
                        goto out;
        json_object_object_add(root, "format", json_object_new_string(STORE_FORMAT));
        json_object_object_add(root, "revision", json_object_new_int64((int64_t)rev));
        json_object_object_add(root, "data", data);
        data = NULL;
        text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
        if (!text)
                goto out;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
                r = -errno;
                snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(-r));
                goto out;
        }
        if ((r = write_all(fd, text, strlen(text))) || (r = write_all(fd, "\n", 1)) ||
            (fsync(fd) < 0 && (r = -errno))) {
                snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(-r));
                unlink(tmp);
                goto out;
        }
        if (rename(tmp, final) < 0) {
                r = -errno;
                snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, final, strerror(-r));
                unlink(tmp);
                goto out;
        }
        dfd = open(e->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0) {
                r = -errno;
                snprintf(err, errlen, "cannot fsync %s: %s", e->dir, strerror(-r));
                goto out;
        }
        r = 0;
out:
        if (r == -ENOMEM && err && !err[0])
                snprintf(err, errlen, "out of memory writing the store");
        if (fd >= 0)
                close(fd);
        if (dfd >= 0)
                close(dfd);
        json_object_put(data);
        json_object_put(root);
        return r;
}

static const char *const store_members[] = {"format", "revision", "data", NULL};

static int load(struct emb *e, char *err, size_t errlen)
{
        char path[4096], why[256] = "";
        json_object *root = NULL, *data = NULL;
        const char *fmt = NULL;
        int64_t rev = 0;
        int r = 0;

        snprintf(path, sizeof(path), "%s/%s", e->dir, STORE_FILE);
        if (access(path, F_OK) < 0)
                return errno == ENOENT ? 0 : -errno;
        root = json_object_from_file(path);
        if (!root) {
                snprintf(why, sizeof(why), "%s", json_util_get_last_err());
        } else if (!json_object_is_type(root, json_type_object)) {
                snprintf(why, sizeof(why), "the file holds %s, not an object",
                         bn_json_type_name(root));
        } else if (bn_json_check_keys(root, store_members, "the file", why, sizeof(why)) ||
                   bn_json_get_str(root, "format", &fmt, why, sizeof(why)) ||
                   bn_json_get_int(root, "revision", 0, INT64_MAX, &rev, why, sizeof(why)) ||
                   bn_json_get_obj(root, "data", &data, why, sizeof(why))) {
                if (!why[0])
                        snprintf(why, sizeof(why), "format, revision and data are required");
        } else if (strcmp(fmt, STORE_FORMAT) != 0) {
                snprintf(why, sizeof(why), "format '%.64s', this banana reads %s", fmt,
                         STORE_FORMAT);
        }
        if (why[0]) {
                snprintf(err, errlen, "%s is not a banana store (%s)", path, why);
                r = -EBADMSG;
                goto out;
        }
        json_object_object_foreach(data, k, val)
        {
                const char *v;
                if (bn_json_as_str(val, k, &v, why, sizeof(why))) {
                        snprintf(err, errlen, "%s: the value of %s", path, why);
                        r = -EBADMSG;
                        goto out;
                }
                if ((r = arr_put(&e->v, &e->n, k, v)))
                        goto out;
        }
        e->rev = (uint64_t)rev;
out:
        json_object_put(root);
        return r;
}

static int emb_get(void *be, const char *key, char **value)
{
        struct emb *e = be;
        long i = find(e->v, e->n, key);

        if (i < 0)
                return -ENOENT;
        *value = strdup(e->v[i].value);
        return *value ? 0 : -ENOMEM;
}

static int emb_list(void *be, const char *prefix, bn_store_list_fn fn, void *arg)
{
        struct emb *e = be;
        size_t plen = strlen(prefix);
        long i = find(e->v, e->n, prefix);

        for (size_t j = i >= 0 ? (size_t)i : (size_t)(-i - 1); j < e->n; j++) {
                int r;
                if (strncmp(e->v[j].key, prefix, plen) != 0)
                        break;
                if ((r = fn(arg, e->v[j].key, e->v[j].value)))
                        return r;
        }
        return 0;
}

static int emb_commit(void *be, const struct bn_store_op *ops, size_t n, uint64_t *rev, char *err,
                      size_t errlen)
{
        struct emb *e = be;
        struct kv *nv = calloc(e->n ? e->n : 1, sizeof(*nv));
        size_t nn = 0;
        int r = -ENOMEM;

        if (!nv)
                goto out;
        for (; nn < e->n; nn++) {
                nv[nn].key = strdup(e->v[nn].key);
                nv[nn].value = strdup(e->v[nn].value);
                if (!nv[nn].key || !nv[nn].value) {
                        nn++;
                        goto out;
                }
        }
        for (size_t i = 0; i < n; i++) {
                if (ops[i].kind == BN_STORE_EXPECT) {
                        /* against the state before the commit, as etcd's compares */
                        long at = find(e->v, e->n, ops[i].key);
                        if (ops[i].value ? at < 0 || strcmp(e->v[at].value, ops[i].value) != 0
                                         : at >= 0) {
                                snprintf(err, errlen, "'%s' is %s", ops[i].key,
                                         at < 0         ? "absent"
                                         : ops[i].value ? "not as expected"
                                                        : "taken");
                                r = -ECANCELED;
                                goto out;
                        }
                        continue;
                }
                if (ops[i].lease) {
                        snprintf(err, errlen, "the embedded store has no leases");
                        r = -EOPNOTSUPP;
                        goto out;
                }
                if (ops[i].kind == BN_STORE_PUT) {
                        if (!ops[i].value) {
                                r = -EINVAL;
                                goto out;
                        }
                        if ((r = arr_put(&nv, &nn, ops[i].key, ops[i].value)))
                                goto out;
                } else {
                        arr_del(nv, &nn, ops[i].key);
                }
        }
        if ((r = persist(e, nv, nn, e->rev + 1, err, errlen)))
                goto out;
        kv_free_all(e->v, e->n);
        e->v = nv;
        e->n = nn;
        nv = NULL;
        e->rev++;
        if (rev)
                *rev = e->rev;
        r = 0;
out:
        if (nv)
                kv_free_all(nv, nn);
        return r;
}

static uint64_t emb_revision(void *be)
{
        return ((struct emb *)be)->rev;
}

static void emb_close(void *be)
{
        struct emb *e = be;

        kv_free_all(e->v, e->n);
        free(e->dir);
        free(e);
}

static const struct bn_store_backend embedded_backend = {
    .name = "embedded",
    .get = emb_get,
    .list = emb_list,
    .commit = emb_commit,
    .revision = emb_revision,
    .close = emb_close,
};

int bn_store_open_embedded(struct bn_store **out, const char *state_dir, char *err, size_t errlen)
{
        struct bn_store *s = calloc(1, sizeof(*s));
        struct emb *e = calloc(1, sizeof(*e));
        int r = -ENOMEM;

        *out = NULL;
        if (!s || !e || !(e->dir = strdup(state_dir)))
                goto out;
        if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
                r = -errno;
                snprintf(err, errlen, "cannot create state directory %s: %s", state_dir,
                         strerror(-r));
                goto out;
        }
        if ((r = load(e, err, errlen)))
                goto out;
        s->ops = &embedded_backend;
        s->be = e;
        *out = s;
        s = NULL;
        e = NULL;
out:
        if (e)
                emb_close(e);
        free(s);
        return r;
}

void bn_store_close(struct bn_store *s)
{
        if (!s)
                return;
        s->ops->close(s->be);
        free(s);
}

int bn_store_get(struct bn_store *s, const char *key, char **value)
{
        return s->ops->get(s->be, key, value);
}

int bn_store_list(struct bn_store *s, const char *prefix, bn_store_list_fn fn, void *arg)
{
        return s->ops->list(s->be, prefix, fn, arg);
}

int bn_store_commit(struct bn_store *s, const struct bn_store_op *ops, size_t n, uint64_t *rev,
                    char *err, size_t errlen)
{
        char dummy[8];

        if (!err) {
                err = dummy;
                errlen = sizeof(dummy);
        }
        err[0] = '\0';
        return s->ops->commit(s->be, ops, n, rev, err, errlen);
}

int bn_store_put(struct bn_store *s, const char *key, const char *value, char *err, size_t errlen)
{
        struct bn_store_op op = {BN_STORE_PUT, key, value};

        return bn_store_commit(s, &op, 1, NULL, err, errlen);
}

int bn_store_del(struct bn_store *s, const char *key, char *err, size_t errlen)
{
        struct bn_store_op op = {BN_STORE_DEL, key, NULL};

        return bn_store_commit(s, &op, 1, NULL, err, errlen);
}

uint64_t bn_store_revision(struct bn_store *s)
{
        return s->ops->revision(s->be);
}
