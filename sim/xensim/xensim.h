/* xensim.h: internal structures of the xensim daemon (the userspace Xen):
 * the daemon state, hv.sock clients, domains (memory, grant table, pins) and
 * event-channel ports. Shared by main.c, hvsrv.c, domain.c, evtchn.c. */
#ifndef XENSIM_H
#define XENSIM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "xensim_proto.h"

struct xss;

#define XSIM_MAX_DOMID 0x7ff0u /* DOMID_FIRST_RESERVED */

enum { XLOG_ERR, XLOG_WARN, XLOG_INFO, XLOG_DEBUG };

/* A grant pinned by a Dom0 connection (count of maps of that ref). */
struct xsim_pin {
        uint32_t domid, ref;
        uint32_t writable;
        uint32_t n;
};

enum xsim_client_kind { XC_NEW, XC_DOM0, XC_GUEST };

struct xsim_client {
        struct xsim_client *next, **pprev;
        int fd;
        enum xsim_client_kind kind;
        struct xsim_dom *dom; /* the domain this connection acts as */
        struct xsim_pin *pins;
        uint32_t npins, cappins;
        int ev_tag; /* epoll tag type, see hvsrv.c */
};

enum xsim_port_state { XP_FREE, XP_UNBOUND, XP_INTERDOMAIN };

struct xsim_port {
        enum xsim_port_state state;
        int efd; /* the port's receive eventfd */
        struct xsim_client *owner;
        uint32_t remote_dom, remote_port;
        uint32_t slot, cookie;
};

struct xsim_dom {
        uint32_t domid;
        char name[XSIM_NAME_MAX];
        uint32_t pages;
        int mem_fd, mem_ro_fd; /* -1 for Dom0 */
        int gt_fd, gt_ro_fd;
        uint8_t *gt;                 /* XSIM_GT_BYTES, RW */
        uint16_t *rd_pins, *wr_pins; /* per ref */
        struct xsim_client *owner;   /* the guest's connection */
        struct xsim_port *ports;     /* XSIM_MAX_PORTS, port 0 unused */
};

struct xsim {
        const char *dir;
        int loglevel;
        int epfd;
        struct xss *xss;
        int listen_fd;
        struct xsim_client *clients;
        struct xsim_dom *doms[XSIM_MAX_DOMID];
        uint32_t next_domid;
        int chan_fd, chan_ro_fd;
        uint32_t *chan;       /* XSIM_CHAN_SLOTS cookies */
        uint32_t chan_next;   /* slot search hint */
        uint32_t cookie_next; /* never 0 */
};

void xlog(const struct xsim *x, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* hvsrv.c */
int hvsrv_start(struct xsim *x);
void hvsrv_stop(struct xsim *x);
void hvsrv_accept(struct xsim *x);
void hvsrv_client_event(struct xsim *x, struct xsim_client *c, uint32_t events);

/* domain.c */
int dom_create_dom0(struct xsim *x);
int dom_create(struct xsim *x, struct xsim_client *owner, const char *name, uint32_t pages,
               struct xsim_dom **out);
void dom_release(struct xsim *x, struct xsim_dom *d);
int dom_gnt_map(struct xsim *x, struct xsim_client *c, uint32_t domid, uint32_t count,
                uint32_t *refs, int writable);
int dom_gnt_unmap(struct xsim *x, struct xsim_client *c, uint32_t domid, uint32_t count,
                  const uint32_t *refs, int writable);
void dom_unpin_all(struct xsim *x, struct xsim_client *c);
struct xsim_dom *dom_get(struct xsim *x, uint32_t domid);

/* evtchn.c */
int chan_init(struct xsim *x);
void chan_fini(struct xsim *x);
int evtchn_alloc_unbound(struct xsim *x, struct xsim_client *c, uint32_t remote_dom, uint32_t *port,
                         int *efd);
int evtchn_bind(struct xsim *x, struct xsim_client *c, uint32_t rdom, uint32_t rport,
                uint32_t *port, int *efd, int *peer_efd, uint32_t *slot, uint32_t *cookie);
int evtchn_peer(struct xsim *x, struct xsim_client *c, uint32_t port, int *peer_efd, uint32_t *slot,
                uint32_t *cookie);
int evtchn_close(struct xsim *x, struct xsim_client *c, uint32_t port);
/* Close every port of d (owned by c only, when c is not NULL). */
void evtchn_close_all(struct xsim *x, struct xsim_dom *d, struct xsim_client *c);

#endif
