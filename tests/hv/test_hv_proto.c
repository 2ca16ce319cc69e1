/* test_hv_proto.c: xensim survives hostile hv.sock clients: short, long
 * and garbage messages, requests before HELLO, a second HELLO, a guest
 * asking for Dom0-only operations, out-of-range counts, ports and domids,
 * unmaps of grants it never mapped, and fds sent to it. After each, the
 * daemon still serves a well-behaved client. */
#include "bn_guest.h"
#include "bn_hv.h"
#include "hv_testutil.h"
#include "xsim_client.h"

#include <sys/eventfd.h>
#include <sys/socket.h>

/* Send raw bytes on a fresh connection; return 1 if the daemon dropped us. */
static int raw_dropped(const char *dir, const void *buf, size_t len)
{
        char r[8192];
        int s = xsim_connect(dir);
        ssize_t n;

        CHECK(s >= 0);
        CHECK(send(s, buf, len, MSG_NOSIGNAL) == (ssize_t)len);
        n = recv(s, r, sizeof(r), 0);
        close(s);
        return n == 0;
}

static void alive(const char *dir)
{
        struct bn_guest *g;

        CHECK_EQ(bn_guest_create(&g, dir, "probe", 4), 0);
        bn_guest_destroy(g);
}

static int call(int s, uint32_t op, struct xsim_msg *m)
{
        int fds[XSIM_MAX_FDS], rc, i;

        m->op = op;
        rc = xsim_call(s, m, fds, XSIM_MAX_FDS);
        for (i = 0; i < XSIM_MAX_FDS; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        return rc;
}

int main(void)
{
        struct xsim_msg m;
        struct hv_sim sim;
        struct bn_guest *g;
        char junk[3000];
        int s, i;

        hv_sim_start(&sim, NULL);
        memset(junk, 0x41, sizeof(junk));
        CHECK(raw_dropped(sim.dir, junk, 1));
        CHECK(raw_dropped(sim.dir, junk, sizeof(junk)));
        CHECK(raw_dropped(sim.dir, junk, sizeof(struct xsim_msg))); /* bad magic */
        alive(sim.dir);

        /* Requests before HELLO / CREATE are a protocol error. */
        memset(&m, 0, sizeof(m));
        m.magic = XSIM_PROTO_MAGIC;
        m.op = XSIM_OP_GNT_MAP;
        CHECK(raw_dropped(sim.dir, &m, sizeof(m)));
        m.op = 9999;
        CHECK(raw_dropped(sim.dir, &m, sizeof(m)));

        /* A guest: no Dom0 operations, no second identity, bad arguments. */
        CHECK_EQ(bn_guest_create(&g, sim.dir, "hostile", 8), 0);
        s = xsim_connect(sim.dir);
        CHECK(s >= 0);
        memset(&m, 0, sizeof(m));
        snprintf(m.name, sizeof(m.name), "%s", "x/../y\x01");
        m.count = 4;
        CHECK_EQ(call(s, XSIM_OP_CREATE_DOMAIN, &m), 0);
        m.domid = bn_guest_domid(g);
        m.count = 1;
        CHECK_EQ(call(s, XSIM_OP_GNT_MAP, &m), -EPERM);
        CHECK_EQ(call(s, XSIM_OP_GNT_DOMAIN, &m), -EPERM);
        CHECK_EQ(call(s, XSIM_OP_GNT_UNMAP, &m), -EPERM);
        m.domid = 0x7fffffff;
        CHECK_EQ(call(s, XSIM_OP_EVTCHN_ALLOC_UNBOUND, &m), -ESRCH);
        m.domid = 0;
        m.port = 0xffffffff;
        CHECK_EQ(call(s, XSIM_OP_EVTCHN_BIND, &m), -EINVAL);
        CHECK_EQ(call(s, XSIM_OP_EVTCHN_CLOSE, &m), -EINVAL);
        CHECK_EQ(call(s, XSIM_OP_EVTCHN_PEER, &m), -EINVAL);
        for (i = 0; i < 5000; i++) { /* exhaust the port table */
                m.domid = 0;
                if (call(s, XSIM_OP_EVTCHN_ALLOC_UNBOUND, &m) < 0)
                        break;
        }
        CHECK(i < 5000);
        m.count = 4;
        CHECK(call(s, XSIM_OP_CREATE_DOMAIN, &m) < 0); /* dropped */
        close(s);
        alive(sim.dir);

        /* Dom0: huge counts, refs, unmaps of nothing; fds sent to xensim. */
        s = xsim_connect(sim.dir);
        CHECK(s >= 0);
        memset(&m, 0, sizeof(m));
        CHECK_EQ(call(s, XSIM_OP_HELLO_DOM0, &m), 0);
        m.domid = bn_guest_domid(g);
        m.count = 100000;
        CHECK_EQ(call(s, XSIM_OP_GNT_MAP, &m), -EINVAL);
        CHECK_EQ(call(s, XSIM_OP_GNT_UNMAP, &m), -EINVAL);
        m.count = XSIM_MAP_MAX;
        for (i = 0; i < (int)XSIM_MAP_MAX; i++)
                m.refs[i] = 0xffffffffu - (uint32_t)i;
        CHECK_EQ(call(s, XSIM_OP_GNT_MAP, &m), -ENOENT);
        m.count = 2;
        CHECK_EQ(call(s, XSIM_OP_GNT_UNMAP, &m), -EINVAL);
        m.domid = 0;
        CHECK_EQ(call(s, XSIM_OP_GNT_MAP, &m), -ESRCH); /* Dom0 grants nothing here */
        CHECK_EQ(call(s, XSIM_OP_GNT_DOMAIN, &m), -ESRCH);
        m.domid = 99999;
        CHECK_EQ(call(s, XSIM_OP_GNT_DOMAIN, &m), -ESRCH);
        {
                union {
                        char buf[CMSG_SPACE(sizeof(int))];
                        struct cmsghdr align;
                } cb;
                struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
                struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
                struct cmsghdr *c;
                int efd = eventfd(0, 0);

                memset(&cb, 0, sizeof(cb));
                mh.msg_control = cb.buf;
                mh.msg_controllen = sizeof(cb.buf);
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &efd, sizeof(int));
                m.magic = XSIM_PROTO_MAGIC;
                m.op = XSIM_OP_EVTCHN_CLOSE;
                m.port = 3;
                CHECK(sendmsg(s, &mh, 0) == sizeof(m));
                CHECK(recv(s, &m, sizeof(m), 0) == sizeof(m));
                CHECK_EQ(m.ret, -EINVAL);
                close(efd);
        }
        close(s);
        bn_guest_destroy(g);
        alive(sim.dir);
        hv_sim_stop(&sim);
        printf("protocol robustness tests passed\n");
        return 0;
}
