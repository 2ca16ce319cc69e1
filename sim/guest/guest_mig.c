/* guest_mig.c: the simulated guest's side of a live migration
 * (docs/migration.md, controller/ctl_migrate.c): the toolstack asks by
 * writing control/migrate = <destination xensim dir> in the guest's
 * domain; the guest answers in control/migrate-state and is told
 * control/migrate-go = "go" or "abort".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>

#include "bn_guest.h"

static void key_path(struct bn_guest *g, const char *key, char *path, size_t len)
{
        snprintf(path, len, "/local/domain/%u/control/%s", bn_guest_domid(g), key);
}

static char *read_key(struct bn_guest *g, const char *key)
{
        char path[96];
        unsigned len;

        key_path(g, key, path, sizeof(path));
        return xs_read(bn_guest_xs(g), XBT_NULL, path, &len);
}

int bn_guest_mig_state(struct bn_guest *g, const char *state)
{
        char path[96];

        key_path(g, "migrate-state", path, sizeof(path));
        return xs_write(bn_guest_xs(g), XBT_NULL, path, state, (unsigned)strlen(state)) ? 0 : -EIO;
}

int bn_guest_mig_asked(struct bn_guest *g, char *dir, size_t len)
{
        char *v = read_key(g, "migrate"), path[96];
        int r = 0;

        if (v && *v) {
                if (strlen(v) >= len) {
                        r = -ENAMETOOLONG;
                } else {
                        snprintf(dir, len, "%s", v);
                        r = 1;
                }
                /* taken: not asked again if the guest stays */
                key_path(g, "migrate", path, sizeof(path));
                xs_write(bn_guest_xs(g), XBT_NULL, path, "", 0);
        }
        free(v);
        return r;
}

int bn_guest_mig_wait_go(struct bn_guest *g, int timeout_ms)
{
        struct timespec pause = {0, 1000000}; /* 1 ms */

        for (int i = 0; i < timeout_ms; i++) {
                char *v = read_key(g, "migrate-go");
                int r = !v ? -ENOENT : !strcmp(v, "go") ? 1 : !strcmp(v, "abort") ? 0 : -EAGAIN;
                free(v);
                if (r == 1 || r == 0)
                        return r;
                nanosleep(&pause, NULL);
        }
        return -ETIMEDOUT;
}
