/* bn_loop.c: the epoll event loop, timers (one timerfd each), cross-thread
 * calls (an eventfd and a locked queue), deferred work (once per
 * iteration), adaptive polling before a sleep, and the worker pool. */
#include "bn_loop.h"
#include "bn_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

struct bn_fdreg {
        int fd;
        bn_fd_cb cb;
        void *arg;
        bool dead;
        struct bn_timer *timer; /* set for timerfds */
        struct bn_fdreg *next;  /* all / dead list */
};

struct bn_timer {
        struct bn_fdreg *reg;
        bn_timer_cb cb;
        void *arg;
        uint64_t period_ms;
        bool dead;
};

struct bn_call {
        bn_call_fn fn;
        void *arg;
        struct bn_call *next;
};

struct bn_loop {
        char name[32];
        int epfd;
        int evfd;
        struct bn_fdreg *regs;      /* live registrations */
        struct bn_fdreg *graveyard; /* removed during dispatch, freed after */
        pthread_mutex_t lock;       /* protects calls */
        struct bn_call *calls_head, *calls_tail;
        struct bn_loop_work *work_head, *work_tail; /* deferred, loop thread only */
        struct bn_loop_work *next_head, *next_tail; /* deferred to the next iteration */
        _Atomic int stop;
        _Atomic pthread_t owner;
        _Atomic bool running;
        /* adaptive polling, loop thread only */
        struct bn_loop_poller *pollers;
        unsigned poll_gen; /* bumped when a poller leaves: iterations restart */
        bool holding;      /* begin called, end not yet */
        uint32_t poll_ns, poll_max_ns;
};

uint64_t bn_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int bn_loop_new(struct bn_loop **out, const char *name)
{
        int rc = 0;
        struct bn_loop *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        snprintf(l->name, sizeof(l->name), "%s", name ? name : "loop");
        const char *pm = getenv("BANANA_POLL_MAX_NS");
        l->poll_max_ns = pm && *pm ? (uint32_t)strtoul(pm, NULL, 10) : BN_LOOP_POLL_MAX_NS;
        l->epfd = epoll_create1(EPOLL_CLOEXEC);
        l->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        pthread_mutex_init(&l->lock, NULL);
        if (l->epfd < 0 || l->evfd < 0) {
                rc = -errno;
                goto fail;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) < 0) {
                rc = -errno;
                goto fail;
        }
        *out = l;
        return 0;
fail:
        if (l->epfd >= 0)
                close(l->epfd);
        if (l->evfd >= 0)
                close(l->evfd);
        pthread_mutex_destroy(&l->lock);
        free(l);
        return rc;
}

const char *bn_loop_name(const struct bn_loop *loop)
{
        return loop->name;
}

static void free_reg(struct bn_fdreg *r)
{
        if (r->timer) {
                close(r->fd);
                free(r->timer);
        }
        free(r);
}

static void reap(struct bn_loop *l)
{
        while (l->graveyard) {
                struct bn_fdreg *r = l->graveyard;
                l->graveyard = r->next;
                free_reg(r);
        }
}

void bn_loop_free(struct bn_loop *l)
{
        if (!l)
                return;
        reap(l);
        while (l->regs) {
                struct bn_fdreg *r = l->regs;
                l->regs = r->next;
                free_reg(r);
        }
        while (l->calls_head) {
                struct bn_call *c = l->calls_head;
                l->calls_head = c->next;
                free(c);
        }
        close(l->epfd);
        close(l->evfd);
        pthread_mutex_destroy(&l->lock);
        free(l);
}

static struct bn_fdreg *find_reg(struct bn_loop *l, int fd, struct bn_fdreg ***pprev)
{
        for (struct bn_fdreg **pp = &l->regs; *pp; pp = &(*pp)->next) {
                if ((*pp)->fd == fd) {
                        if (pprev)
                                *pprev = pp;
                        return *pp;
                }
        }
        return NULL;
}

static int add_reg(struct bn_loop *l, int fd, uint32_t events, bn_fd_cb cb, void *arg,
                   struct bn_fdreg **out)
{
        if (find_reg(l, fd, NULL))
                return -EEXIST;
        struct bn_fdreg *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->fd = fd;
        r->cb = cb;
        r->arg = arg;
        struct epoll_event ev = {.events = events, .data.ptr = r};
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                int rc = -errno;
                free(r);
                return rc;
        }
        r->next = l->regs;
        l->regs = r;
        if (out)
                *out = r;
        return 0;
}

int bn_loop_add_fd(struct bn_loop *l, int fd, uint32_t events, bn_fd_cb cb, void *arg)
{
        if (fd < 0 || !cb)
                return -EINVAL;
        return add_reg(l, fd, events, cb, arg, NULL);
}

int bn_loop_mod_fd(struct bn_loop *l, int fd, uint32_t events)
{
        struct bn_fdreg *r = find_reg(l, fd, NULL);
        if (!r)
                return -ENOENT;
        struct epoll_event ev = {.events = events, .data.ptr = r};
        if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
                return -errno;
        return 0;
}

static void kill_reg(struct bn_loop *l, struct bn_fdreg **pp)
{
        struct bn_fdreg *r = *pp;
        *pp = r->next;
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, r->fd, NULL);
        r->dead = true;
        r->next = l->graveyard;
        l->graveyard = r;
}

int bn_loop_del_fd(struct bn_loop *l, int fd)
{
        struct bn_fdreg **pp;
        struct bn_fdreg *r = find_reg(l, fd, &pp);
        if (!r || r->timer)
                return -ENOENT;
        kill_reg(l, pp);
        if (!atomic_load(&l->running) || !bn_loop_in_thread(l))
                reap(l);
        return 0;
}

static void timer_fired(struct bn_loop *l, int fd, uint32_t events, void *arg)
{
        (void)events;
        struct bn_timer *t = arg;
        uint64_t n;
        if (read(fd, &n, sizeof(n)) != sizeof(n))
                return;
        t->cb(l, t, t->arg);
        if (!t->period_ms && !t->dead)
                bn_loop_timer_cancel(l, t);
}

int bn_loop_timer_add(struct bn_loop *l, uint64_t delay_ms, uint64_t period_ms, bn_timer_cb cb,
                      void *arg, struct bn_timer **out)
{
        int rc;
        if (!cb)
                return -EINVAL;
        struct bn_timer *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (fd < 0) {
                rc = -errno;
                free(t);
                return rc;
        }
        t->cb = cb;
        t->arg = arg;
        t->period_ms = period_ms;
        /* timerfd: a zero it_value disarms; a zero delay becomes 1 ns. */
        struct itimerspec its = {
            .it_value = {.tv_sec = (time_t)(delay_ms / 1000),
                         .tv_nsec = (long)(delay_ms % 1000) * 1000000L + (delay_ms ? 0 : 1)},
            .it_interval = {.tv_sec = (time_t)(period_ms / 1000),
                            .tv_nsec = (long)(period_ms % 1000) * 1000000L},
        };
        if (timerfd_settime(fd, 0, &its, NULL) < 0) {
                rc = -errno;
                goto fail;
        }
        struct bn_fdreg *r;
        rc = add_reg(l, fd, EPOLLIN, timer_fired, t, &r);
        if (rc)
                goto fail;
        r->timer = t;
        t->reg = r;
        if (out)
                *out = t;
        return 0;
fail:
        close(fd);
        free(t);
        return rc;
}

void bn_loop_timer_cancel(struct bn_loop *l, struct bn_timer *t)
{
        if (!t || t->dead)
                return;
        t->dead = true;
        struct bn_fdreg **pp;
        if (find_reg(l, t->reg->fd, &pp))
                kill_reg(l, pp);
        if (!atomic_load(&l->running) || !bn_loop_in_thread(l))
                reap(l);
}

int bn_loop_call(struct bn_loop *l, bn_call_fn fn, void *arg)
{
        struct bn_call *c = malloc(sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->fn = fn;
        c->arg = arg;
        c->next = NULL;
        pthread_mutex_lock(&l->lock);
        if (l->calls_tail)
                l->calls_tail->next = c;
        else
                l->calls_head = c;
        l->calls_tail = c;
        pthread_mutex_unlock(&l->lock);
        uint64_t one = 1;
        ssize_t w = write(l->evfd, &one, sizeof(one));
        (void)w;
        return 0;
}

struct call_wait {
        bn_call_fn fn;
        void *arg;
        pthread_mutex_t m;
        pthread_cond_t c;
        bool done;
};

static void call_wait_tramp(void *arg)
{
        struct call_wait *w = arg;
        w->fn(w->arg);
        pthread_mutex_lock(&w->m);
        w->done = true;
        pthread_cond_signal(&w->c);
        pthread_mutex_unlock(&w->m);
}

int bn_loop_call_wait(struct bn_loop *l, bn_call_fn fn, void *arg)
{
        if (bn_loop_in_thread(l)) {
                fn(arg);
                return 0;
        }
        struct call_wait w = {.fn = fn, .arg = arg, .done = false};
        pthread_mutex_init(&w.m, NULL);
        pthread_cond_init(&w.c, NULL);
        int rc = bn_loop_call(l, call_wait_tramp, &w);
        if (rc == 0) {
                pthread_mutex_lock(&w.m);
                while (!w.done)
                        pthread_cond_wait(&w.c, &w.m);
                pthread_mutex_unlock(&w.m);
        }
        pthread_mutex_destroy(&w.m);
        pthread_cond_destroy(&w.c);
        return rc;
}

void bn_loop_work_init(struct bn_loop_work *w, bn_call_fn fn, void *arg)
{
        memset(w, 0, sizeof(*w));
        w->fn = fn;
        w->arg = arg;
}

void bn_loop_defer(struct bn_loop *l, struct bn_loop_work *w)
{
        if (w->queued)
                return;
        w->queued = true;
        w->next = NULL;
        if (l->work_tail)
                l->work_tail->next = w;
        else
                l->work_head = w;
        l->work_tail = w;
}

void bn_loop_defer_next(struct bn_loop *l, struct bn_loop_work *w)
{
        if (w->queued)
                return;
        w->queued = true;
        w->next = NULL;
        if (l->next_tail)
                l->next_tail->next = w;
        else
                l->next_head = w;
        l->next_tail = w;
}

static bool unlink_work(struct bn_loop_work **head, struct bn_loop_work **tail,
                        struct bn_loop_work *w)
{
        struct bn_loop_work **pp, *prev = NULL;

        for (pp = head; *pp && *pp != w; pp = &(*pp)->next)
                prev = *pp;
        if (!*pp)
                return false;
        *pp = w->next;
        if (*tail == w)
                *tail = prev;
        return true;
}

void bn_loop_defer_cancel(struct bn_loop *l, struct bn_loop_work *w)
{
        if (!w->queued)
                return;
        if (!unlink_work(&l->work_head, &l->work_tail, w))
                unlink_work(&l->next_head, &l->next_tail, w);
        w->queued = false;
        w->next = NULL;
}

/* Deferred work, in order, including what it queues itself. */
static void run_work(struct bn_loop *l)
{
        struct bn_loop_work *w;

        while ((w = l->work_head)) {
                l->work_head = w->next;
                if (!l->work_head)
                        l->work_tail = NULL;
                w->queued = false;
                w->next = NULL;
                w->fn(w->arg);
        }
}

static void run_calls(struct bn_loop *l)
{
        uint64_t n;
        ssize_t r = read(l->evfd, &n, sizeof(n));
        (void)r;
        pthread_mutex_lock(&l->lock);
        struct bn_call *c = l->calls_head;
        l->calls_head = l->calls_tail = NULL;
        pthread_mutex_unlock(&l->lock);
        while (c) {
                struct bn_call *next = c->next;
                c->fn(c->arg);
                free(c);
                c = next;
        }
}

void bn_loop_poller_add(struct bn_loop *l, struct bn_loop_poller *p)
{
        if (p->added)
                return;
        p->added = true;
        p->next = l->pollers;
        l->pollers = p;
}

void bn_loop_poller_del(struct bn_loop *l, struct bn_loop_poller *p)
{
        if (!p->added)
                return;
        for (struct bn_loop_poller **pp = &l->pollers; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        break;
                }
        p->added = false;
        p->next = NULL;
        l->poll_gen++;
}

void bn_loop_set_poll_max_ns(struct bn_loop *l, uint32_t ns)
{
        l->poll_max_ns = ns;
        if (l->poll_ns > ns)
                l->poll_ns = ns;
}

/* An epoll_wait shorter than this returned without sleeping. */
#define BN_LOOP_SLEPT_NS 3000u

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Every poller once (begin, poll or end): true when one found work. A
 * poller that leaves during the round ends it (the list changed). */
static bool pollers_each(struct bn_loop *l, int what)
{
        unsigned gen = l->poll_gen;
        bool work = false;

        for (struct bn_loop_poller *p = l->pollers; p && gen == l->poll_gen; p = p->next) {
                if (what == 0 && p->begin)
                        p->begin(p->arg);
                else if (what == 1)
                        work |= p->poll(p->arg);
                else if (what == 2 && p->end)
                        work |= p->end(p->arg);
        }
        return work;
}

/* Poll for up to poll_ns before sleeping: true when there is work (do not
 * sleep). */
static bool poll_before_wait(struct bn_loop *l, uint64_t t0)
{
        if (!l->holding) {
                l->holding = true;
                pollers_each(l, 0);
        }
        do {
                if (pollers_each(l, 1))
                        return true;
        } while (now_ns() - t0 < l->poll_ns);
        return false;
}

/* After a wait of block_ns (polling included): grow or shrink poll_ns. */
static void poll_adapt(struct bn_loop *l, uint64_t block_ns)
{
        if (block_ns <= l->poll_ns)
                return; /* polling found it: the sweet spot */
        if (block_ns > l->poll_max_ns)
                l->poll_ns = 0; /* would have had to poll too long */
        else if (l->poll_ns < l->poll_max_ns)
                l->poll_ns =
                    l->poll_ns ? (l->poll_ns * 2 < l->poll_max_ns ? l->poll_ns * 2 : l->poll_max_ns)
                               : (4000 < l->poll_max_ns ? 4000 : l->poll_max_ns);
}

int bn_loop_run(struct bn_loop *l)
{
        int rc = 0;
        atomic_store(&l->owner, pthread_self());
        atomic_store(&l->running, true);
        while (!atomic_load(&l->stop)) {
                struct epoll_event evs[64];
                bool adapt = l->pollers && l->poll_max_ns;
                uint64_t t0 = adapt ? now_ns() : 0;
                int timeout = -1;

                if (adapt && l->poll_ns && poll_before_wait(l, t0))
                        timeout = 0;
                if (l->next_head)
                        timeout = 0;         /* work for this iteration: no sleep */
                if (timeout && l->holding) { /* about to sleep: re-arm, look once more */
                        l->holding = false;
                        if (pollers_each(l, 2))
                                timeout = 0;
                }
                uint64_t tw = adapt && timeout ? now_ns() : 0;
                int n = epoll_wait(l->epfd, evs, 64, timeout);
                if (tw) {
                        uint64_t t1 = now_ns();
                        /* a wait that did not sleep (an fd was ready) says
                         * nothing about how long polling would have had to */
                        if (t1 - tw > BN_LOOP_SLEPT_NS)
                                poll_adapt(l, t1 - t0);
                }
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        rc = -errno;
                        bn_err(l->name, "epoll_wait: %s", strerror(errno));
                        break;
                }
                for (int i = 0; i < n; i++) {
                        struct bn_fdreg *r = evs[i].data.ptr;
                        if (!r) {
                                run_calls(l);
                                continue;
                        }
                        if (r->dead)
                                continue;
                        r->cb(l, r->fd, evs[i].events, r->arg);
                }
                if (l->next_head) { /* what the last iteration left for this one */
                        if (l->work_tail)
                                l->work_tail->next = l->next_head;
                        else
                                l->work_head = l->next_head;
                        l->work_tail = l->next_tail;
                        l->next_head = l->next_tail = NULL;
                }
                run_work(l);
                reap(l);
        }
        atomic_store(&l->stop, 0);
        atomic_store(&l->running, false);
        return rc;
}

void bn_loop_stop(struct bn_loop *l)
{
        atomic_store(&l->stop, 1);
        uint64_t one = 1;
        ssize_t w = write(l->evfd, &one, sizeof(one));
        (void)w;
}

bool bn_loop_in_thread(const struct bn_loop *l)
{
        return atomic_load(&l->running) && pthread_equal(atomic_load(&l->owner), pthread_self());
}

/* ---- workers ---------------------------------------------------------- */

struct bn_workers {
        unsigned n;
        _Atomic unsigned next;
        struct bn_loop **loops;
        pthread_t *threads;
        bool *started;
};

static void *worker_main(void *arg)
{
        struct bn_loop *l = arg;
        pthread_setname_np(pthread_self(), l->name);
        bn_loop_run(l);
        return NULL;
}

int bn_workers_start(struct bn_workers **out, unsigned n, const char *name)
{
        int rc = 0;
        if (n == 0)
                return -EINVAL;
        struct bn_workers *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->n = n;
        w->loops = calloc(n, sizeof(*w->loops));
        w->threads = calloc(n, sizeof(*w->threads));
        w->started = calloc(n, sizeof(*w->started));
        if (!w->loops || !w->threads || !w->started) {
                rc = -ENOMEM;
                goto fail;
        }
        for (unsigned i = 0; i < n; i++) {
                char nm[32];
                snprintf(nm, sizeof(nm), "%.10s%u", name ? name : "worker", i);
                rc = bn_loop_new(&w->loops[i], nm);
                if (rc)
                        goto fail;
                rc = -pthread_create(&w->threads[i], NULL, worker_main, w->loops[i]);
                if (rc)
                        goto fail;
                w->started[i] = true;
        }
        *out = w;
        return 0;
fail:
        bn_workers_stop(w);
        return rc;
}

void bn_workers_stop(struct bn_workers *w)
{
        if (!w)
                return;
        for (unsigned i = 0; i < w->n; i++) {
                if (w->started && w->started[i]) {
                        bn_loop_stop(w->loops[i]);
                        pthread_join(w->threads[i], NULL);
                }
                if (w->loops && w->loops[i])
                        bn_loop_free(w->loops[i]);
        }
        free(w->loops);
        free(w->threads);
        free(w->started);
        free(w);
}

unsigned bn_workers_count(const struct bn_workers *w)
{
        return w->n;
}

struct bn_loop *bn_workers_loop(struct bn_workers *w, unsigned i)
{
        return i < w->n ? w->loops[i] : NULL;
}

struct bn_loop *bn_workers_pick(struct bn_workers *w)
{
        unsigned i = atomic_fetch_add(&w->next, 1);
        return w->loops[i % w->n];
}
