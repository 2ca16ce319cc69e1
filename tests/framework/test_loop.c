/* test_loop.c: bn_loop and bn_workers: fd callbacks, removal from inside a
 * callback, one-shot and periodic timers, cross-thread calls, call_wait,
 * deferred work (once per iteration, after the iteration's callbacks),
 * adaptive polling (no lost wake-up while notifications are held back; an
 * idle loop stops polling). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "bn_log.h"
#include "bn_loop.h"
#include "fw_test.h"

struct ctx {
        int reads;
        int pipefd[2];
        int oneshot, periodic;
        struct bn_timer *per;
        _Atomic int calls;
        pthread_t call_thread;
        struct bn_loop *loop;
};

static void on_read(struct bn_loop *l, int fd, uint32_t ev, void *arg)
{
        struct ctx *c = arg;
        char buf[16];
        CHECK(ev & EPOLLIN);
        ssize_t n = read(fd, buf, sizeof(buf));
        CHECK(n > 0);
        c->reads++;
        /* remove ourselves from inside our own callback */
        CHECK(bn_loop_del_fd(l, fd) == 0);
}

static void on_oneshot(struct bn_loop *l, struct bn_timer *t, void *arg)
{
        (void)l;
        (void)t;
        struct ctx *c = arg;
        c->oneshot++;
}

static void on_periodic(struct bn_loop *l, struct bn_timer *t, void *arg)
{
        struct ctx *c = arg;
        c->periodic++;
        if (c->periodic == 3) {
                bn_loop_timer_cancel(l, t); /* from its own callback */
                bn_loop_stop(l);
        }
}

static void count_call(void *arg)
{
        struct ctx *c = arg;
        CHECK(bn_loop_in_thread(c->loop));
        atomic_fetch_add(&c->calls, 1);
}

static void *caller(void *arg)
{
        struct ctx *c = arg;
        for (int i = 0; i < 1000; i++)
                CHECK(bn_loop_call(c->loop, count_call, c) == 0);
        return NULL;
}

/* Deferred work: two fds ready in one iteration each queue the same work
 * (it runs once, after both), a cancelled one never runs, and work queued
 * by work runs in the same iteration. */
struct dctx {
        struct bn_loop *loop;
        int fds[2][2];
        int cbs, cbs_at_work, work_runs, chained, cancelled;
        struct bn_loop_work work, chain, gone;
};

static void d_work(void *arg)
{
        struct dctx *d = arg;
        d->work_runs++;
        d->cbs_at_work = d->cbs;
        bn_loop_defer(d->loop, &d->chain);
}

static void d_chain(void *arg)
{
        struct dctx *d = arg;
        d->chained++;
        bn_loop_stop(d->loop);
}

static void d_gone(void *arg)
{
        ((struct dctx *)arg)->cancelled++;
}

static void d_read(struct bn_loop *l, int fd, uint32_t ev, void *arg)
{
        struct dctx *d = arg;
        char b;
        (void)ev;
        CHECK(read(fd, &b, 1) == 1);
        d->cbs++;
        bn_loop_defer(l, &d->work);
        bn_loop_defer(l, &d->gone);
        bn_loop_defer_cancel(l, &d->gone);
}

static void test_defer(void)
{
        struct dctx d = {0};
        CHECK(bn_loop_new(&d.loop, "defer") == 0);
        bn_loop_work_init(&d.work, d_work, &d);
        bn_loop_work_init(&d.chain, d_chain, &d);
        bn_loop_work_init(&d.gone, d_gone, &d);
        for (int i = 0; i < 2; i++) {
                CHECK(pipe(d.fds[i]) == 0);
                CHECK(write(d.fds[i][1], "x", 1) == 1);
                CHECK(bn_loop_add_fd(d.loop, d.fds[i][0], EPOLLIN, d_read, &d) == 0);
        }
        CHECK(bn_loop_run(d.loop) == 0);
        CHECK(d.cbs == 2);
        CHECK(d.work_runs == 1);   /* once for both callbacks */
        CHECK(d.cbs_at_work == 2); /* after both */
        CHECK(d.chained == 1);
        CHECK(d.cancelled == 0);
        CHECK(!d.work.queued && !d.chain.queued && !d.gone.queued);
        for (int i = 0; i < 2; i++) {
                bn_loop_del_fd(d.loop, d.fds[i][0]);
                close(d.fds[i][0]);
                close(d.fds[i][1]);
        }
        bn_loop_free(d.loop);
}

static void set_flag(void *arg)
{
        *(int *)arg = 42;
}

/* A source like a Xen ring: the producer bumps prod and rings the bell
 * only when the consumer armed (its req_event); the loop's poller holds the
 * arming back while it polls. */
struct psrc {
        _Atomic unsigned prod, cons;
        _Atomic bool armed;
        int bell;
        unsigned polls, begins, ends, idle_polls;
        _Atomic bool idle;
        struct bn_loop *loop;
};

static bool p_take(struct psrc *s)
{
        unsigned p = atomic_load(&s->prod), c = atomic_load(&s->cons);

        if (p == c)
                return false;
        atomic_store(&s->cons, p);
        return true;
}

static bool p_poll(void *arg)
{
        struct psrc *s = arg;

        s->polls++;
        if (atomic_load(&s->idle))
                s->idle_polls++;
        return p_take(s);
}

static void p_begin(void *arg)
{
        struct psrc *s = arg;

        s->begins++;
        atomic_store(&s->armed, false);
}

static bool p_end(void *arg)
{
        struct psrc *s = arg;

        s->ends++;
        atomic_store(&s->armed, true); /* then look once more: nothing is lost */
        return p_take(s);
}

static void p_bell(struct bn_loop *l, int fd, uint32_t ev, void *arg)
{
        uint64_t n;
        (void)l;
        (void)ev;
        CHECK(read(fd, &n, sizeof(n)) == sizeof(n));
        p_take(arg);
}

static void p_stop(void *arg)
{
        bn_loop_stop(arg);
}

static void *p_run(void *arg)
{
        struct psrc *s = arg;

        bn_loop_run(s->loop);
        return NULL;
}

static void test_poll(void)
{
        struct psrc s = {.bell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
        struct bn_loop_poller p = {.poll = p_poll, .begin = p_begin, .end = p_end, .arg = &s};
        struct timespec t0, t1;
        pthread_t th;

        atomic_store(&s.armed, true);
        CHECK(bn_loop_new(&s.loop, "poll") == 0);
        bn_loop_set_poll_max_ns(s.loop, 200000);
        CHECK(bn_loop_add_fd(s.loop, s.bell, EPOLLIN, p_bell, &s) == 0);
        bn_loop_poller_add(s.loop, &p);
        CHECK(pthread_create(&th, NULL, p_run, &s) == 0);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (unsigned i = 1; i <= 5000; i++) { /* each one taken, none waits for ever */
                unsigned spins = 0;
                atomic_store(&s.prod, i);
                if (atomic_load(&s.armed)) {
                        uint64_t one = 1;
                        CHECK(write(s.bell, &one, sizeof(one)) == sizeof(one));
                }
                while (atomic_load(&s.cons) != i && spins++ < 200000000u)
                        ;
                CHECK(atomic_load(&s.cons) == i);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        usleep(50000); /* the last poll window ends */
        atomic_store(&s.idle, true);
        usleep(300000); /* idle: the loop sleeps, it does not poll */
        CHECK(bn_loop_call_wait(s.loop, p_stop, s.loop) == 0);
        pthread_join(th, NULL);
        fprintf(stderr, "poll: 5000 hand-offs in %.1f ms, %u polls, %u begins, %u ends, %u idle\n",
                (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
                s.polls, s.begins, s.ends, s.idle_polls);
        CHECK(s.begins > 0);           /* it did poll (and hold the bell back) */
        CHECK(s.ends + 1 >= s.begins); /* every hold ended before a sleep */
        CHECK(s.idle_polls < 100);     /* idle: poll_ns shrank to 0 */
        bn_loop_poller_del(s.loop, &p);
        bn_loop_del_fd(s.loop, s.bell);
        bn_loop_free(s.loop);
        close(s.bell);
}

int main(void)
{
        bn_log_init("test_loop", 0);
        struct ctx c = {0};
        struct bn_loop *l;
        CHECK(bn_loop_new(&l, "test") == 0);
        c.loop = l;

        /* fds */
        CHECK(pipe(c.pipefd) == 0);
        CHECK(bn_loop_add_fd(l, c.pipefd[0], EPOLLIN, on_read, &c) == 0);
        CHECK(bn_loop_add_fd(l, c.pipefd[0], EPOLLIN, on_read, &c) == -EEXIST);
        CHECK(bn_loop_mod_fd(l, 12345, EPOLLIN) == -ENOENT);
        CHECK(write(c.pipefd[1], "x", 1) == 1);
        CHECK(write(c.pipefd[1], "y", 1) == 1);

        /* timers */
        CHECK(bn_loop_timer_add(l, 0, 0, on_oneshot, &c, NULL) == 0);
        CHECK(bn_loop_timer_add(l, 20, 0, on_oneshot, &c, NULL) == 0);
        struct bn_timer *never;
        CHECK(bn_loop_timer_add(l, 60000, 0, on_oneshot, &c, &never) == 0);
        bn_loop_timer_cancel(l, never);
        CHECK(bn_loop_timer_add(l, 30, 10, on_periodic, &c, &c.per) == 0);

        /* cross-thread calls, queued before the loop runs */
        CHECK(pthread_create(&c.call_thread, NULL, caller, &c) == 0);
        pthread_join(c.call_thread, NULL);

        CHECK(bn_loop_run(l) == 0);
        CHECK(c.reads == 1); /* removed after the first read */
        CHECK(c.oneshot == 2);
        CHECK(c.periodic == 3);
        CHECK(atomic_load(&c.calls) == 1000);
        close(c.pipefd[0]);
        close(c.pipefd[1]);
        bn_loop_free(l);

        test_defer();
        test_poll();

        /* workers: call_wait runs on the worker's thread and waits */
        struct bn_workers *w;
        CHECK(bn_workers_start(&w, 3, "tw") == 0);
        CHECK(bn_workers_count(w) == 3);
        struct bn_loop *a = bn_workers_pick(w), *b = bn_workers_pick(w), *d = bn_workers_pick(w);
        CHECK(a != b && b != d && a != d);
        CHECK(bn_workers_pick(w) == a);
        for (unsigned i = 0; i < 3; i++) {
                int flag = 0;
                CHECK(bn_loop_call_wait(bn_workers_loop(w, i), set_flag, &flag) == 0);
                CHECK(flag == 42);
                struct ctx c2 = {0};
                c2.loop = bn_workers_loop(w, i);
                CHECK(bn_loop_call_wait(c2.loop, count_call, &c2) == 0);
                CHECK(atomic_load(&c2.calls) == 1);
        }
        CHECK(bn_workers_loop(w, 3) == NULL);
        bn_workers_stop(w);
        FW_DONE();
}
