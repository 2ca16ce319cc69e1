/* test_hv_grant.c: grant tables through the xensim provider and
 * libbn_guest: map RO and RW (data visible both ways), a write through an
 * RO mapping faults, bad maps fail with the right error, revoke is -EBUSY
 * while mapped, and a grant-copy batch with bad segments gives each its
 * own status without touching neighbouring guest pages. */
#include "bn_guest.h"
#include "bn_hv.h"
#include "hv_testutil.h"

#include <stdint.h>

static void test_map(struct bn_hv *hv, struct bn_guest *g)
{
        uint32_t dom = bn_guest_domid(g), pfn, refs[2];
        struct bn_gnt *gnt;
        uint8_t *gp, *gp1, *m;
        void *addr;
        int status;
        pid_t pid;

        CHECK_EQ(bn_gnt_open(hv, &gnt), 0);
        CHECK_EQ(bn_guest_alloc_pages(g, 2, &pfn), 0);
        gp = bn_guest_page(g, pfn);
        gp1 = bn_guest_page(g, pfn + 1);
        memset(gp, 0xa5, 4096);
        memset(gp1, 0x5a, 4096);

        /* RW map of two pages: both directions visible. */
        refs[0] = (uint32_t)bn_guest_grant(g, pfn, 0, 0);
        refs[1] = (uint32_t)bn_guest_grant(g, pfn + 1, 0, 0);
        CHECK((int)refs[0] > 0 && (int)refs[1] > 0);
        CHECK_EQ(bn_gnt_map(gnt, dom, 2, refs, 1, &addr), 0);
        m = addr;
        CHECK_EQ(m[0], 0xa5);
        CHECK_EQ(m[4096 + 17], 0x5a);
        m[100] = 0x11;
        CHECK_EQ(gp[100], 0x11);
        gp1[200] = 0x22;
        CHECK_EQ(m[4096 + 200], 0x22);
        /* Revoke while mapped: busy; after unmap: fine. */
        CHECK_EQ(bn_guest_revoke(g, refs[0]), -EBUSY);
        CHECK_EQ(bn_gnt_unmap(gnt, addr, 1), -EINVAL); /* wrong count */
        CHECK_EQ(bn_gnt_unmap(gnt, addr, 2), 0);
        CHECK_EQ(bn_guest_revoke(g, refs[0]), 0);
        CHECK_EQ(bn_guest_revoke(g, refs[1]), 0);

        /* RO map: readable, a write faults, RW map of it refused. */
        refs[0] = (uint32_t)bn_guest_grant(g, pfn, 0, 1);
        CHECK((int)refs[0] > 0);
        CHECK_EQ(bn_gnt_map(gnt, dom, 1, refs, 1, &addr), -EPERM);
        CHECK_EQ(bn_gnt_map(gnt, dom, 1, refs, 0, &addr), 0);
        m = addr;
        CHECK_EQ(m[100], 0x11);
        gp[101] = 0x33;
        CHECK_EQ(m[101], 0x33);
        fflush(NULL);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                signal(SIGSEGV, SIG_DFL); /* not a sanitizer's report: die */
                signal(SIGBUS, SIG_DFL);
                *(volatile uint8_t *)(m + 5) = 1; /* must fault */
                _exit(0);
        }
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFSIGNALED(status));
        CHECK(WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
        CHECK_EQ(gp[5], 0xa5);
        CHECK_EQ(bn_guest_revoke(g, refs[0]), -EBUSY);
        CHECK_EQ(bn_gnt_unmap(gnt, addr, 1), 0);
        CHECK_EQ(bn_guest_revoke(g, refs[0]), 0);

        /* Bad maps. */
        refs[0] = (uint32_t)bn_guest_grant(g, pfn, 5, 0); /* granted to dom5 */
        CHECK_EQ(bn_gnt_map(gnt, dom, 1, refs, 0, &addr), -EPERM);
        CHECK_EQ(bn_guest_revoke(g, refs[0]), 0);
        CHECK_EQ(bn_gnt_map(gnt, dom, 1, refs, 0, &addr), -ENOENT); /* revoked */
        refs[0] = 7999;                                             /* never granted */
        CHECK_EQ(bn_gnt_map(gnt, dom, 1, refs, 0, &addr), -ENOENT);
        refs[0] = 1u << 30; /* outside the table */
        CHECK_EQ(bn_gnt_map(gnt, dom, 1, refs, 0, &addr), -ENOENT);
        refs[0] = (uint32_t)bn_guest_grant(g, pfn, 0, 0);
        CHECK_EQ(bn_gnt_map(gnt, dom + 1000, 1, refs, 0, &addr), -ESRCH);
        CHECK_EQ(bn_gnt_map(gnt, dom, 0, refs, 0, &addr), -EINVAL);
        /* All or nothing: a good and a bad ref leave the good one unpinned. */
        refs[1] = 4242;
        CHECK_EQ(bn_gnt_map(gnt, dom, 2, refs, 0, &addr), -ENOENT);
        CHECK_EQ(bn_guest_revoke(g, refs[0]), 0);
        /* A handle closed with a mapping still up unpins it. */
        refs[0] = (uint32_t)bn_guest_grant(g, pfn, 0, 0);
        CHECK_EQ(bn_gnt_map(gnt, dom, 1, refs, 1, &addr), 0);
        CHECK_EQ(bn_guest_revoke(g, refs[0]), -EBUSY);
        bn_gnt_close(gnt);
        for (int i = 0; i < 500 && bn_guest_revoke(g, refs[0]) == -EBUSY; i++)
                hv_sleep_ms(10); /* xensim sees the close asynchronously */
        CHECK_EQ(bn_guest_grant(g, pfn, 0, 0), (int)refs[0]); /* ref was freed */
        CHECK_EQ(bn_guest_revoke(g, refs[0]), 0);
        bn_guest_free_pages(g, pfn, 2);
}

static void test_copy(struct bn_hv *hv, struct bn_guest *g)
{
        uint32_t dom = bn_guest_domid(g), pfn;
        struct bn_gnt_copy_seg segs[8];
        uint8_t local[4096], back[4096], *p[3];
        struct bn_gnt *gnt;
        int rw, ro, other, i;

        CHECK_EQ(bn_gnt_open(hv, &gnt), 0);
        /* Three pages: canary, data, canary. Only the middle one is granted. */
        CHECK_EQ(bn_guest_alloc_pages(g, 3, &pfn), 0);
        for (i = 0; i < 3; i++) {
                p[i] = bn_guest_page(g, pfn + i);
                memset(p[i], 0xc0 + i, 4096);
        }
        rw = bn_guest_grant(g, pfn + 1, 0, 0);
        ro = bn_guest_grant(g, pfn + 1, 0, 1);
        other = bn_guest_grant(g, pfn + 1, 9, 0);
        CHECK(rw > 0 && ro > 0 && other > 0);
        for (i = 0; i < 4096; i++)
                local[i] = (uint8_t)(i * 7);
        memset(back, 0, sizeof(back));
        memset(segs, 0, sizeof(segs));
#define TO_GUEST(n, ref_, off_, len_)                                                              \
        segs[n].source.virt = local;                                                               \
        segs[n].dest.foreign.ref = (uint32_t)(ref_);                                               \
        segs[n].dest.foreign.offset = (off_);                                                      \
        segs[n].dest.foreign.domid = (uint16_t)dom;                                                \
        segs[n].len = (len_);                                                                      \
        segs[n].flags = BN_GNTCOPY_DEST_GREF;                                                      \
        segs[n].status = 99
        TO_GUEST(0, rw, 0, 4096);    /* ok */
        TO_GUEST(1, ro, 0, 16);      /* write into an RO grant */
        TO_GUEST(2, rw, 4000, 200);  /* past the page */
        TO_GUEST(3, other, 0, 16);   /* granted to another domain */
        TO_GUEST(4, 7777, 0, 16);    /* unknown ref */
        TO_GUEST(5, 1u << 20, 0, 8); /* out of the table */
        TO_GUEST(6, rw, 0, 16);
        segs[6].dest.foreign.domid = (uint16_t)(dom + 100); /* no such domain */
        /* from the guest: a read-only grant is fine as a source */
        segs[7].source.foreign.ref = (uint32_t)ro;
        segs[7].source.foreign.offset = 96;
        segs[7].source.foreign.domid = (uint16_t)dom;
        segs[7].dest.virt = back;
        segs[7].len = 1000;
        segs[7].flags = BN_GNTCOPY_SOURCE_GREF;
        segs[7].status = 99;
        CHECK_EQ(bn_gnt_copy(gnt, 8, segs), 0);
        CHECK_EQ(segs[0].status, BN_GNTST_OKAY);
        CHECK_EQ(segs[1].status, BN_GNTST_PERMISSION_DENIED);
        CHECK_EQ(segs[2].status, BN_GNTST_BAD_COPY_ARG);
        CHECK_EQ(segs[3].status, BN_GNTST_PERMISSION_DENIED);
        CHECK_EQ(segs[4].status, BN_GNTST_BAD_GNTREF);
        CHECK_EQ(segs[5].status, BN_GNTST_BAD_GNTREF);
        CHECK_EQ(segs[6].status, BN_GNTST_BAD_DOMAIN);
        CHECK_EQ(segs[7].status, BN_GNTST_OKAY);
        CHECK(memcmp(p[1], local, 4096) == 0);
        CHECK(memcmp(back, local + 96, 1000) == 0);
        for (i = 0; i < 4096; i++) {
                CHECK_EQ(p[0][i], 0xc0);
                CHECK_EQ(p[2][i], 0xc2);
        }
        /* After revoke, copies fail per segment. */
        CHECK_EQ(bn_guest_revoke(g, (uint32_t)rw), 0);
        TO_GUEST(0, rw, 0, 16);
        CHECK_EQ(bn_gnt_copy(gnt, 1, segs), 0);
        CHECK_EQ(segs[0].status, BN_GNTST_BAD_GNTREF);
        CHECK_EQ(bn_guest_revoke(g, (uint32_t)ro), 0);
        CHECK_EQ(bn_guest_revoke(g, (uint32_t)other), 0);
        bn_gnt_close(gnt);
        bn_guest_free_pages(g, pfn, 3);
}

/* Two handles map the same grant: it stays busy until both unmap. */
static void test_pin_count(struct bn_hv *hv, struct bn_guest *g)
{
        uint32_t dom = bn_guest_domid(g), pfn, ref;
        struct bn_gnt *a, *b;
        void *pa, *pb, *pc;

        CHECK_EQ(bn_gnt_open(hv, &a), 0);
        CHECK_EQ(bn_gnt_open(hv, &b), 0);
        CHECK_EQ(bn_guest_alloc_pages(g, 1, &pfn), 0);
        ref = (uint32_t)bn_guest_grant(g, pfn, 0, 0);
        CHECK_EQ(bn_gnt_map(a, dom, 1, &ref, 1, &pa), 0);
        CHECK_EQ(bn_gnt_map(b, dom, 1, &ref, 0, &pb), 0);
        CHECK_EQ(bn_gnt_map(b, dom, 1, &ref, 0, &pc), 0);
        *(uint8_t *)pa = 0x77;
        CHECK_EQ(*(uint8_t *)pb, 0x77);
        CHECK_EQ(bn_gnt_unmap(a, pa, 1), 0);
        CHECK_EQ(bn_gnt_unmap(b, pa, 1), -EINVAL); /* not b's mapping */
        CHECK_EQ(bn_guest_revoke(g, ref), -EBUSY);
        CHECK_EQ(bn_gnt_unmap(b, pb, 1), 0);
        CHECK_EQ(bn_guest_revoke(g, ref), -EBUSY);
        CHECK_EQ(bn_gnt_unmap(b, pc, 1), 0);
        CHECK_EQ(bn_guest_revoke(g, ref), 0);
        bn_gnt_close(a);
        bn_gnt_close(b);
        bn_guest_free_pages(g, pfn, 1);
}

/* A guest dies with a page mapped and a copy view cached: the mapping
 * stays readable (no fault in Dom0), unmap works, copies fail cleanly. */
static void test_death(struct bn_hv *hv, const char *dir)
{
        struct bn_gnt_copy_seg seg;
        struct bn_guest *g;
        struct bn_gnt *gnt;
        uint32_t pfn, ref, dom;
        uint8_t buf[64];
        void *p;
        int i;

        CHECK_EQ(bn_guest_create(&g, dir, "short-lived", 8), 0);
        dom = bn_guest_domid(g);
        CHECK_EQ(bn_gnt_open(hv, &gnt), 0);
        CHECK_EQ(bn_guest_alloc_pages(g, 1, &pfn), 0);
        memset(bn_guest_page(g, pfn), 0x3c, 4096);
        ref = (uint32_t)bn_guest_grant(g, pfn, 0, 0);
        CHECK_EQ(bn_gnt_map(gnt, dom, 1, &ref, 1, &p), 0);
        memset(&seg, 0, sizeof(seg));
        seg.source.foreign.ref = ref;
        seg.source.foreign.domid = (uint16_t)dom;
        seg.dest.virt = buf;
        seg.len = sizeof(buf);
        seg.flags = BN_GNTCOPY_SOURCE_GREF;
        CHECK_EQ(bn_gnt_copy(gnt, 1, &seg), 0);
        CHECK_EQ(seg.status, BN_GNTST_OKAY);
        CHECK_EQ(buf[10], 0x3c);
        bn_guest_destroy(g);
        for (i = 0; i < 500; i++) {
                CHECK_EQ(bn_gnt_copy(gnt, 1, &seg), 0);
                if (seg.status != BN_GNTST_OKAY)
                        break;
                hv_sleep_ms(10);
        }
        CHECK_EQ(seg.status, BN_GNTST_BAD_DOMAIN);
        CHECK_EQ(((uint8_t *)p)[100], 0x3c);
        CHECK_EQ(bn_gnt_unmap(gnt, p, 1), 0);
        CHECK_EQ(bn_gnt_map(gnt, dom, 1, &ref, 0, &p), -ESRCH);
        bn_gnt_close(gnt);
}

/* Both sides foreign: guest page to guest page. */
static void test_copy_both(struct bn_hv *hv, struct bn_guest *g)
{
        uint32_t dom = bn_guest_domid(g), pfn;
        struct bn_gnt_copy_seg seg;
        struct bn_gnt *gnt;
        int src, dst;

        CHECK_EQ(bn_gnt_open(hv, &gnt), 0);
        CHECK_EQ(bn_guest_alloc_pages(g, 2, &pfn), 0);
        memset(bn_guest_page(g, pfn), 0x61, 4096);
        src = bn_guest_grant(g, pfn, 0, 1);
        dst = bn_guest_grant(g, pfn + 1, 0, 0);
        memset(&seg, 0, sizeof(seg));
        seg.source.foreign.ref = (uint32_t)src;
        seg.source.foreign.domid = (uint16_t)dom;
        seg.source.foreign.offset = 10;
        seg.dest.foreign.ref = (uint32_t)dst;
        seg.dest.foreign.domid = (uint16_t)dom;
        seg.dest.foreign.offset = 4000;
        seg.len = 96;
        seg.flags = BN_GNTCOPY_SOURCE_GREF | BN_GNTCOPY_DEST_GREF;
        CHECK_EQ(bn_gnt_copy(gnt, 1, &seg), 0);
        CHECK_EQ(seg.status, BN_GNTST_OKAY);
        CHECK_EQ(((uint8_t *)bn_guest_page(g, pfn + 1))[4095], 0x61);
        CHECK_EQ(((uint8_t *)bn_guest_page(g, pfn + 1))[3999], 0);
        seg.len = 97; /* one byte past the destination page */
        CHECK_EQ(bn_gnt_copy(gnt, 1, &seg), 0);
        CHECK_EQ(seg.status, BN_GNTST_BAD_COPY_ARG);
        CHECK_EQ(bn_guest_revoke(g, (uint32_t)src), 0);
        CHECK_EQ(bn_guest_revoke(g, (uint32_t)dst), 0);
        bn_gnt_close(gnt);
        bn_guest_free_pages(g, pfn, 2);
}

int main(int argc, char **argv)
{
        struct bn_guest *g;
        struct hv_sim sim;
        struct bn_hv *hv;

        hv_sim_start(&sim, argc > 1 ? argv[1] : NULL);
        CHECK_EQ(bn_hv_open(&hv, "xensim", sim.dir), 0);
        CHECK(strcmp(bn_hv_name(hv), "xensim") == 0);
        CHECK_EQ(bn_hv_self_domid(hv), 0);
        CHECK_EQ(bn_guest_create(&g, sim.dir, "granter", 64), 0);
        CHECK(bn_guest_domid(g) > 0);
        test_map(hv, g);
        test_copy(hv, g);
        test_pin_count(hv, g);
        test_copy_both(hv, g);
        test_death(hv, sim.dir);
        bn_guest_destroy(g);
        bn_hv_close(hv);
        hv_sim_stop(&sim);
        printf("grant tests passed\n");
        return 0;
}
