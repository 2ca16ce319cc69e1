/* bn_loop.h: the epoll event loop, and the pool of worker threads that each
 * run one.
 *
 * A loop belongs to the thread that runs it (bn_loop_run). All bn_loop_*
 * functions except bn_loop_call(), bn_loop_call_wait() and bn_loop_stop()
 * must be called on that thread (or before the loop runs). Callbacks run on
 * the loop's thread, one at a time, and must not block: a callback that
 * waits stalls every device served by the loop.
 *
 * Ownership: state that a loop's callbacks use belongs to that loop's
 * thread. Another thread reaches it only through bn_loop_call_wait (or
 * bn_loop_call, whose fn must then own what arg points to until it ran),
 * and tears it down the same way, after the last fd or timer that could
 * run a callback on it was removed in that same call or an earlier one.
 * The queued call's mutex orders memory: what the caller wrote before
 * bn_loop_call_wait is visible to fn, and what fn wrote is visible to the
 * caller after it returns.
 *
 * Removing an fd or cancelling a timer from inside any callback of the same
 * loop is safe, including the callback's own fd or timer: no callback of a
 * removed fd/cancelled timer runs afterwards.
 */
#ifndef BN_LOOP_H
#define BN_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct bn_loop;
struct bn_timer;

/* events: the EPOLLIN/EPOLLOUT/... bits that are ready (EPOLLERR/EPOLLHUP
 * included as epoll reports them). */
typedef void (*bn_fd_cb)(struct bn_loop *loop, int fd, uint32_t events, void *arg);
typedef void (*bn_timer_cb)(struct bn_loop *loop, struct bn_timer *t, void *arg);
typedef void (*bn_call_fn)(void *arg);

/* name: for logs and the thread name (may be NULL). */
int bn_loop_new(struct bn_loop **out, const char *name);
/* Free a loop that is not running. Pending bn_loop_call()s are dropped
 * (not run); timers are cancelled; fds are not closed. */
void bn_loop_free(struct bn_loop *loop);
const char *bn_loop_name(const struct bn_loop *loop);

/* Watch fd for events (EPOLLIN, EPOLLOUT, EPOLLET ...). One registration per
 * fd per loop: -EEXIST if fd is already added. The loop never closes fd. */
int bn_loop_add_fd(struct bn_loop *loop, int fd, uint32_t events, bn_fd_cb cb, void *arg);
int bn_loop_mod_fd(struct bn_loop *loop, int fd, uint32_t events);
/* -ENOENT when fd is not registered. Call before close(fd). */
int bn_loop_del_fd(struct bn_loop *loop, int fd);

/* A timer that fires first after delay_ms, then every period_ms (0: once).
 * A one-shot timer is freed after its callback returns (do not cancel it
 * afterwards); *out may be NULL when the caller never cancels. */
int bn_loop_timer_add(struct bn_loop *loop, uint64_t delay_ms, uint64_t period_ms, bn_timer_cb cb,
                      void *arg, struct bn_timer **out);
/* Cancel and free a timer that has not yet fired (one-shot) or a periodic
 * one. Safe from the timer's own callback. */
void bn_loop_timer_cancel(struct bn_loop *loop, struct bn_timer *t);

/* Thread-safe: queue fn(arg) to run on the loop's thread (FIFO, never
 * inline, even when called on the loop's thread). -ENOMEM on failure. */
int bn_loop_call(struct bn_loop *loop, bn_call_fn fn, void *arg);
/* Thread-safe: run fn(arg) on the loop's thread and wait until it returned.
 * Runs fn inline when called on the loop's thread itself. The loop must be
 * running (or be run by another thread later). */
int bn_loop_call_wait(struct bn_loop *loop, bn_call_fn fn, void *arg);

/* ---- deferred work: once per loop iteration --------------------------- */

/* A piece of work that runs once after the callbacks of the current loop
 * iteration, before the loop waits again: e.g. a wire port publishing
 * everything sent during the iteration with one doorbell (batching). The
 * caller owns the struct (embedded in its state) and initialises it with
 * bn_loop_work_init. */
struct bn_loop_work {
        bn_call_fn fn;
        void *arg;
        bool queued;
        struct bn_loop_work *next;
};

void bn_loop_work_init(struct bn_loop_work *w, bn_call_fn fn, void *arg);
/* On the loop's thread: queue w (nothing if already queued). Work queued by
 * deferred work runs in the same iteration. */
void bn_loop_defer(struct bn_loop *loop, struct bn_loop_work *w);
/* On the loop's thread: queue w for the next iteration (after that
 * iteration's fd callbacks; the loop does not sleep in between): work that
 * must go on but not starve the loop's fds. Nothing if already queued. */
void bn_loop_defer_next(struct bn_loop *loop, struct bn_loop_work *w);
/* On the loop's thread: unqueue w if queued (before freeing it). */
void bn_loop_defer_cancel(struct bn_loop *loop, struct bn_loop_work *w);

/* ---- adaptive polling (in the spirit of QEMU's AioContext) ------------
 *
 * A source of work that can be looked at without a system call (a ring's
 * producer index, an io_uring completion queue) registers a poller. Before
 * the loop sleeps in epoll_wait it polls its pollers for up to poll_ns;
 * when one finds work the loop does not sleep. poll_ns adapts: a wait that
 * ended within poll_max_ns makes it grow (x2, from 4 us), a longer one
 * shrinks it to 0, so that a loop with nothing to do sleeps at once and an
 * idle daemon uses no CPU. While a loop polls its sources may hold their
 * notifications back (begin: a Xen ring leaves req_event where it is, so
 * the front-end does not ring the event channel); end is called before
 * every sleep and must re-arm them and check once more (the ring's
 * RING_FINAL_CHECK_FOR_REQUESTS), so that nothing is lost. */
struct bn_loop_poller {
        /* Look for work and do it; true when there was some. Must not block. */
        bool (*poll)(void *arg);
        /* Optional: polling starts (hold notifications back). */
        void (*begin)(void *arg);
        /* Optional: the loop is about to sleep: re-arm notifications and
         * look once more; true when there was work (then it does not sleep). */
        bool (*end)(void *arg);
        void *arg;
        bool added;
        struct bn_loop_poller *next;
};

/* On the loop's thread (or before it runs): add / remove p (owned by the
 * caller, filled in before add; removing one not added does nothing). */
void bn_loop_poller_add(struct bn_loop *loop, struct bn_loop_poller *p);
void bn_loop_poller_del(struct bn_loop *loop, struct bn_loop_poller *p);
/* Before the loop runs: the most it polls before sleeping (0: never).
 * Default BN_LOOP_POLL_MAX_NS, or $BANANA_POLL_MAX_NS. */
#define BN_LOOP_POLL_MAX_NS                                                                        \
        0u /* off: on a loaded 2-core host it cost CPU at QD1 (docs/architecture.md) */
void bn_loop_set_poll_max_ns(struct bn_loop *loop, uint32_t ns);

/* Run until bn_loop_stop(). Returns 0, or -errno if epoll fails. */
int bn_loop_run(struct bn_loop *loop);
/* Thread-safe and async-signal-safe: make bn_loop_run() return after the
 * current callback. */
void bn_loop_stop(struct bn_loop *loop);
/* True when called on the thread currently running the loop. */
bool bn_loop_in_thread(const struct bn_loop *loop);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t bn_now_ms(void);

/* ---- worker pool: N threads, each running its own loop ---------------- */

struct bn_workers;

/* Start n (>= 1) threads named "<name>N" each running a loop. */
int bn_workers_start(struct bn_workers **out, unsigned n, const char *name);
/* Stop every loop, join the threads, free. Devices must have been removed
 * from the loops before (their fds and timers deleted). */
void bn_workers_stop(struct bn_workers *w);
unsigned bn_workers_count(const struct bn_workers *w);
struct bn_loop *bn_workers_loop(struct bn_workers *w, unsigned i);
/* Thread-safe round robin: the loop a new device should use. */
struct bn_loop *bn_workers_pick(struct bn_workers *w);

#endif
