/* test_hv_xl.c: the toolstack helpers and xenbus state helpers of
 * libbn_guest on xensim's xenstore: bn_sim_xl_add_device writes the
 * front-end and back-end directories with libxl's keys and permissions
 * (checked from Dom0 and from the guest's own connection); state waits are
 * watch-driven and fail with -EPIPE / -ETIMEDOUT; remove deletes both. */
#include "bn_guest.h"
#include "bn_hv.h"
#include "hv_testutil.h"

#include <pthread.h>
#include <xenstore.h>

static char *rd(struct xs_handle *xs, const char *dir, const char *key)
{
        char path[256];
        unsigned int len;

        snprintf(path, sizeof(path), "%s/%s", dir, key);
        return xs_read(xs, XBT_NULL, path, &len);
}

static void check_key(struct xs_handle *xs, const char *dir, const char *key, const char *want)
{
        char *v = rd(xs, dir, key);

        if (!v || strcmp(v, want)) {
                fprintf(stderr, "%s/%s = '%s', expected '%s'\n", dir, key, v ? v : "(none)", want);
                exit(1);
        }
        free(v);
}

static void check_perms(struct xs_handle *xs, const char *path, uint32_t owner, uint32_t reader)
{
        struct xs_permissions *p;
        unsigned int n;

        p = xs_get_permissions(xs, XBT_NULL, path, &n);
        CHECK(p != NULL);
        CHECK_EQ(n, 2);
        CHECK_EQ(p[0].id, owner);
        CHECK_EQ(p[0].perms, XS_PERM_NONE);
        CHECK_EQ(p[1].id, reader);
        CHECK_EQ(p[1].perms, XS_PERM_READ);
        free(p);
}

struct later {
        struct xs_handle *xs;
        char path[256];
        const char *val;
};

static void *write_later(void *arg)
{
        struct later *l = arg;

        hv_sleep_ms(200);
        CHECK(xs_write(l->xs, XBT_NULL, l->path, l->val, (unsigned)strlen(l->val)));
        return NULL;
}

int main(void)
{
        static const char *const extra[] = {"mac", "00:16:3e:00:00:01", "bridge", "br0", NULL};
        char fe[128], be[128], path[160];
        struct xs_handle *xs, *gxs;
        struct later l;
        struct bn_guest *g;
        struct hv_sim sim;
        struct bn_hv *hv;
        pthread_t th;
        uint32_t dom;
        char val[16];

        hv_sim_start(&sim, NULL);
        CHECK_EQ(bn_hv_open(&hv, "xensim", sim.dir), 0);
        xs = bn_hv_xs_open(hv);
        CHECK(xs != NULL);
        CHECK_EQ(bn_guest_create(&g, sim.dir, "xl-guest", 16), 0);
        dom = bn_guest_domid(g);
        gxs = bn_guest_xs(g);
        CHECK(gxs != NULL);
        snprintf(fe, sizeof(fe), "/local/domain/%u/device/vif/0", dom);
        snprintf(be, sizeof(be), "/local/domain/0/backend/vif/%u/0", dom);
        snprintf(val, sizeof(val), "%u", dom);

        CHECK_EQ(bn_sim_xl_add_device(xs, dom, 0, "vif", 0, extra), 0);
        check_key(xs, fe, "backend", be);
        check_key(xs, fe, "backend-id", "0");
        check_key(xs, fe, "state", "1");
        check_key(xs, fe, "handle", "0");
        check_key(xs, be, "frontend", fe);
        check_key(xs, be, "frontend-id", val);
        check_key(xs, be, "state", "1");
        check_key(xs, be, "online", "1");
        check_key(xs, be, "handle", "0");
        check_key(xs, be, "mac", "00:16:3e:00:00:01");
        check_key(xs, be, "bridge", "br0");
        check_perms(xs, fe, dom, 0);
        check_perms(xs, be, 0, dom);
        snprintf(path, sizeof(path), "%s/state", be);
        check_perms(xs, path, 0, dom);

        /* The guest reads both sides, writes only its own. */
        check_key(gxs, be, "mac", "00:16:3e:00:00:01");
        check_key(gxs, fe, "backend", be);
        CHECK_EQ(bn_guest_xb_set_state(g, fe, XenbusStateInitialised), 0);
        CHECK_EQ(bn_guest_xb_get_state(g, fe), XenbusStateInitialised);
        CHECK(!xs_write(gxs, XBT_NULL, path, "4", 1));
        CHECK_EQ(errno, EACCES);
        CHECK_EQ(bn_guest_xb_get_state(g, be), XenbusStateInitialising);

        /* Waits. */
        CHECK_EQ(bn_guest_xb_wait_state(g, be, XenbusStateInitialising, 1000), 0);
        CHECK_EQ(bn_guest_xb_wait_state(g, be, XenbusStateConnected, 300), -ETIMEDOUT);
        l.xs = xs;
        snprintf(l.path, sizeof(l.path), "%s", path);
        l.val = "4";
        CHECK_EQ(pthread_create(&th, NULL, write_later, &l), 0);
        CHECK_EQ(bn_guest_xb_wait_state(g, be, XenbusStateConnected, 10000), 0);
        pthread_join(th, NULL);
        l.val = "5";
        CHECK_EQ(pthread_create(&th, NULL, write_later, &l), 0);
        CHECK_EQ(bn_guest_xb_wait_state(g, be, XenbusStateReconfigured, 10000), -EPIPE);
        pthread_join(th, NULL);
        CHECK_EQ(bn_guest_xb_wait_state(g, be, XenbusStateClosing, 1000), 0);

        /* Re-adding replaces, removing deletes both directories. */
        CHECK_EQ(bn_sim_xl_add_device(xs, dom, 0, "vif", 0, NULL), 0);
        check_key(xs, be, "state", "1");
        CHECK(rd(xs, be, "mac") == NULL);
        CHECK_EQ(bn_sim_xl_remove_device(xs, dom, 0, "vif", 0), 0);
        CHECK(rd(xs, fe, "backend") == NULL);
        CHECK(rd(xs, be, "frontend") == NULL);
        CHECK_EQ(bn_sim_xl_add_device(xs, dom, 0, "bad/type", 0, NULL), -EINVAL);

        bn_guest_destroy(g);
        xs_close(xs);
        bn_hv_close(hv);
        hv_sim_stop(&sim);
        printf("xl / xenbus tests passed\n");
        return 0;
}
