/* bn_xenbus_int.h: internals shared by bn_xenbus.c (the state machine) and
 * bn_xenbus_helpers.c (class helpers). Not for use outside framework/. */
#ifndef BN_XENBUS_INT_H
#define BN_XENBUS_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "bn_endpoint.h"
#include "bn_xenbus.h"

#define BN_XB_PATH_MAX  256
#define BN_XB_TYPES_MAX 16

struct bn_xb_type {
        char type[32];
        char path[BN_XB_PATH_MAX];
        char token[40];
        const struct bn_devclass *cls;
};

struct bn_xb_dev {
        struct bn_xenbus *xb;
        const struct bn_devclass *cls;
        uint64_t serial;
        char type[32];
        uint32_t fe_domid, devid;
        char be_path[BN_XB_PATH_MAX];
        char fe_path[BN_XB_PATH_MAX];
        char token[32];
        char name[BN_NAME_MAX]; /* log context: the endpoint name once known */
        struct bn_endpoint *ep;
        struct bn_gnt *gnt;
        struct bn_evtchn *evtchn;
        int fe_state;               /* last seen, -1 unknown */
        enum xenbus_state be_state; /* last written */
        bool probed, connected, failed, dead, online, fe_watched;
        /* The back-end node said Connected when this bananad found the
         * device (it was restarted): re-attach without leaving Connected. */
        bool reattach;
        /* This connect takes back a front-end that stayed Connected while
         * bananad was away (set from reattach, cleared after connect). */
        bool resuming;
        /* bn_xenbus_detach is letting go of the device (the class's
         * disconnect keeps what a restart needs, e.g. its ring journal). */
        bool detaching;
        /* dev->ep is in the registry. Not yet for a new incarnation of a
         * Spike another device of the same guest holds (libxl's localhost
         * migration): it takes the name when its front-end connects, and
         * the name goes back to the older one if it goes first. */
        bool registered;
        struct bn_xb_dev *next;
};

struct bn_xenbus {
        struct bn_xenbus_config cfg;
        char host[BN_NAME_COMPONENT_MAX];
        struct xs_handle *xs;
        char dom_path[128];
        struct bn_xb_type types[BN_XB_TYPES_MAX];
        unsigned ntypes;
        struct bn_xb_dev *devs;
        unsigned ndevs;
        uint64_t serial;
        bool stopping; /* stop_all: no name is given back */
};

const char *bn_xb_state_name(int st);
/* Remove the device's ring journal, if any (bn_xb_journal.c). */
void bn_xb_journal_remove(struct bn_xb_dev *dev);
/* At start: remove the journals of devices that went away while no
 * bananad was running (their back-end directory is gone). */
void bn_xb_journal_sweep(struct bn_xenbus *xb);
char *bn_xb_xs_read(struct bn_xenbus *xb, const char *path);
/* Strict unsigned decimal, <= max. */
int bn_xb_parse_uint(const char *s, uint64_t max, uint64_t *out);
void bn_xb_fatal_v(struct bn_xb_dev *dev, int err, const char *fmt, va_list ap);
/* Read and validate frontend / frontend-id into dev->fe_path; fatal on
 * error (returns -errno). */
int bn_xb_check_frontend(struct bn_xb_dev *dev);
/* Create and register the Spike endpoint of dev (a new incarnation of a
 * Spike a live device holds is created with the next epoch, not yet
 * registered: bn_xb_take_name). */
int bn_xb_make_endpoint(struct bn_xb_dev *dev);
/* Before connecting dev: when its endpoint is not registered (a new
 * incarnation), the holder of the name gives it up (removed from the
 * registry: its wire ends close, fenced) and dev's endpoint is added (its
 * wires open on it). Main thread. */
void bn_xb_take_name(struct bn_xb_dev *dev);
/* Unregister dev's endpoint (it goes); an older incarnation still alive
 * (a migration that did not finish) gets the name back. Main thread. */
void bn_xb_drop_name(struct bn_xb_dev *dev);

#endif
