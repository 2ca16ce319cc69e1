/* test_endpoint.c: endpoint names (valid and invalid), the endpoint
 * registry, device-class registry, and a Corm of the test class wired to
 * nothing. */
#include <errno.h>
#include <string.h>

#include "bn_devclass.h"
#include "bn_endpoint.h"
#include "bn_log.h"
#include "bn_loop.h"
#include "bn_wire.h"
#include "fw_test.h"

static int count_ep(struct bn_endpoint *ep, void *arg)
{
        (void)ep;
        (*(int *)arg)++;
        return 0;
}

static int watched;
static void watch(void *arg, struct bn_endpoint *ep, bool added)
{
        (void)arg;
        (void)ep;
        watched += added ? 1 : 100;
}

int main(void)
{
        bn_log_init("test_endpoint", 0);
        char err[256];
        static const char *const good[] = {
            "hostA/vm7/vif0", "hostB/br0", "hostB/disk/images/vm7.raw", "h/a:b-c_d.e", "10.0.0.1/x",
        };
        for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                int rc = bn_name_validate(good[i], err, sizeof(err));
                if (rc)
                        fprintf(stderr, "%s: %s\n", good[i], err);
                CHECK(rc == 0);
        }
        struct {
                const char *name, *why;
        } bad[] = {
            {"", "empty name"},
            {"hostA", "needs a host and a device"},
            {"/hostA/vm", "empty component at offset 0"},
            {"hostA/vm/", "empty component"},
            {"hostA//vm", "empty component at offset 6"},
            {"hostA/v m", "character ' ' not allowed"},
            {"hostA/../x", "'..' not allowed"},
            {"hostA/./x", "'.' not allowed"},
            {"hostA/vm\n", "byte 0x0a"},
            {"hostA/v*", "character '*'"},
        };
        for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                CHECK(bn_name_validate(bad[i].name, err, sizeof(err)) == -EINVAL);
                if (!strstr(err, bad[i].why))
                        fprintf(stderr, "'%s': got '%s', want '%s'\n", bad[i].name, err,
                                bad[i].why);
                CHECK(strstr(err, bad[i].why));
        }
        char longname[400];
        memset(longname, 'a', sizeof(longname));
        longname[5] = '/';
        longname[sizeof(longname) - 1] = '\0';
        CHECK(bn_name_validate(longname, err, sizeof(err)) == -EINVAL);
        CHECK(strstr(err, "longer than 255"));
        longname[100] = '\0';
        CHECK(bn_name_validate(longname, err, sizeof(err)) == -EINVAL);
        CHECK(strstr(err, "longer than 63"));
        CHECK(bn_name_validate(NULL, NULL, 0) == -EINVAL);

        char host[64], comp[64];
        CHECK(bn_name_host("hostA/vm7/vif0", host, sizeof(host)) == 0 && !strcmp(host, "hostA"));
        CHECK(bn_name_host("hostA/vm7/vif0", host, 3) == -ENAMETOOLONG);
        bn_name_sanitize_component("my vm/7", comp, sizeof(comp));
        CHECK(!strcmp(comp, "my_vm_7"));
        bn_name_sanitize_component("..", comp, sizeof(comp));
        CHECK(!strcmp(comp, "_"));

        /* registries */
        extern const struct bn_devclass bn_test_class;
        struct bn_devclass_registry dr;
        bn_devclass_registry_init(&dr);
        CHECK(bn_devclass_register(&dr, &bn_test_class) == 0);
        CHECK(bn_devclass_register(&dr, &bn_test_class) == -EEXIST);
        CHECK(bn_devclass_find(&dr, "test") == &bn_test_class);
        CHECK(bn_devclass_find_backend(&dr, "test") == &bn_test_class);
        CHECK(bn_devclass_find(&dr, "nope") == NULL);

        struct bn_workers *w;
        CHECK(bn_workers_start(&w, 1, "tw") == 0);
        struct bn_ep_registry r;
        bn_ep_registry_init(&r);
        bn_ep_registry_set_watch(&r, watch, NULL);
        struct bn_endpoint *c1, *c2, *x;
        struct bn_params p = BN_PARAMS_INIT;
        CHECK(bn_corm_create(&r, &bn_test_class, "hostB/sink0", bn_workers_pick(w), &p, &c1, err,
                             sizeof(err)) == 0);
        CHECK(bn_corm_create(&r, &bn_test_class, "hostB/sink0", bn_workers_pick(w), &p, &x, err,
                             sizeof(err)) == -EEXIST);
        CHECK(strstr(err, "hostB/sink0") && strstr(err, "exists"));
        CHECK(bn_corm_create(&r, &bn_test_class, "bad name", bn_workers_pick(w), &p, &x, err,
                             sizeof(err)) == -EINVAL);
        CHECK(bn_params_parse(&p, "color=red", NULL, 0) == 0);
        CHECK(bn_corm_create(&r, &bn_test_class, "hostB/sink1", bn_workers_pick(w), &p, &x, err,
                             sizeof(err)) == -EINVAL);
        CHECK(strstr(err, "unknown parameter 'color'"));
        bn_params_clear(&p);
        CHECK(bn_corm_create(&r, &bn_test_class, "hostB/sink2", bn_workers_pick(w), &p, &c2, err,
                             sizeof(err)) == 0);
        CHECK(bn_endpoint_get_state(c1, NULL, 0) == BN_EP_READY);
        CHECK(bn_ep_registry_find(&r, "hostB/sink2") == c2);
        int n = 0;
        bn_ep_registry_foreach(&r, count_ep, &n);
        CHECK(n == 2 && r.count == 2);
        struct bn_wire_msg m = {.type = 1};
        CHECK(bn_endpoint_send(c1, &m, 1) == -ENOTCONN);
        CHECK(atomic_load(&c1->counters.drops) == 1);
        bn_endpoint_set_error(c1, "disk %s vanished", "x");
        char msg[64];
        CHECK(bn_endpoint_get_state(c1, msg, sizeof(msg)) == BN_EP_ERROR);
        CHECK(!strcmp(msg, "disk x vanished"));
        bn_corm_destroy(&r, c1);
        bn_corm_destroy(&r, c2);
        CHECK(r.count == 0 && r.head == NULL);
        CHECK(watched == 2 + 200);
        bn_ep_registry_fini(&r);
        bn_workers_stop(w);
        FW_DONE();
}
