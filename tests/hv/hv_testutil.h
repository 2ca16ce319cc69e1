/* hv_testutil.h: helpers for the 'hv' test suite: start a private xensim
 * in a mktemp directory (stopped by PID at the end, checked to leave
 * nothing behind), and a tiny assertion vocabulary. Header-only. */
#ifndef HV_TESTUTIL_H
#define HV_TESTUTIL_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* CHECK, CHECK_EQ: tests/bn_check.h, fatal (exit(1) at the first failure) */
#define BN_CHECK_FATAL
#include "../bn_check.h"

struct hv_sim {
        char dir[64];
        char pidfile[96];
        pid_t pid;
};

/* The running xensim, killed at exit if a check failed before the stop. */
static pid_t hv_sim_pid;

static inline void hv_sim_atexit(void)
{
        if (hv_sim_pid > 1)
                kill(hv_sim_pid, SIGTERM);
}

static inline void hv_sleep_ms(int ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
}

/* Start xensim (path from $XENSIM, else argv-provided) in a new temp dir. */
static inline void hv_sim_start(struct hv_sim *s, const char *xensim)
{
        char base[] = "/tmp/hvtest.XXXXXX", cmd[512];
        FILE *f;
        int rc;

        if (!xensim)
                xensim = getenv("XENSIM");
        CHECK(xensim != NULL);
        CHECK(mkdtemp(base) != NULL);
        snprintf(s->dir, sizeof(s->dir), "%s/sim", base);
        snprintf(s->pidfile, sizeof(s->pidfile), "%s/xensim.pid", base);
        snprintf(cmd, sizeof(cmd), "%s --dir %s --pidfile %s -q", xensim, s->dir, s->pidfile);
        rc = system(cmd); /* returns once every socket is ready */
        CHECK_EQ(rc, 0);
        f = fopen(s->pidfile, "r");
        CHECK(f != NULL);
        CHECK(fscanf(f, "%d", &s->pid) == 1);
        fclose(f);
        CHECK(s->pid > 1);
        hv_sim_pid = s->pid;
        atexit(hv_sim_atexit);
        setenv("XENSIM_DIR", s->dir, 1);
}

/* SIGTERM by PID, wait until it is gone, check it cleaned up. */
static inline void hv_sim_stop(struct hv_sim *s)
{
        char base[64];
        int i;

        CHECK(kill(s->pid, SIGTERM) == 0);
        hv_sim_pid = 0;
        for (i = 0; i < 3000 && kill(s->pid, 0) == 0; i++)
                hv_sleep_ms(10);
        CHECK(kill(s->pid, 0) < 0 && errno == ESRCH);
        CHECK(access(s->dir, F_OK) < 0);     /* it removed its dir */
        CHECK(access(s->pidfile, F_OK) < 0); /* and its pidfile */
        snprintf(base, sizeof(base), "%s", s->dir);
        *strrchr(base, '/') = 0;
        CHECK(rmdir(base) == 0);
}

#endif
