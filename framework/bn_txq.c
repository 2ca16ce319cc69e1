/* bn_txq.c: the TX retry queue (see bn_txq.h): a growable ring of refused
 * wire messages with their cookies, offered to the wire again in order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bn_txq.h"

#define TXQ_DEFAULT_CAP 16u

void bn_txq_init(struct bn_txq *q, bn_txq_done_fn done, void *arg)
{
        memset(q, 0, sizeof(*q)); /* room is taken when a message is refused */
        q->done = done;
        q->arg = arg;
}

void bn_txq_fini(struct bn_txq *q)
{
        bn_txq_clear(q, -ECANCELED);
        free(q->msgs);
        free(q->cookies);
        q->msgs = NULL;
        q->cookies = NULL;
        q->cap = q->head = 0;
}

/* Make room for at least want messages, keeping their order. */
static int grow(struct bn_txq *q, unsigned want)
{
        unsigned cap = q->cap ? q->cap : TXQ_DEFAULT_CAP;
        struct bn_wire_msg *msgs = NULL;
        void **cookies = NULL;
        int rc = -ENOMEM;

        while (cap < want) {
                if (cap > (1u << 30))
                        goto out;
                cap *= 2;
        }
        if (cap == q->cap)
                return 0;
        msgs = malloc((size_t)cap * sizeof(*msgs));
        cookies = malloc((size_t)cap * sizeof(*cookies));
        if (!msgs || !cookies)
                goto out;
        for (unsigned i = 0; i < q->len; i++) {
                unsigned at = (q->head + i) % q->cap;
                msgs[i] = q->msgs[at];
                cookies[i] = q->cookies[at];
        }
        free(q->msgs);
        free(q->cookies);
        q->msgs = msgs;
        q->cookies = cookies;
        msgs = NULL;
        cookies = NULL;
        q->cap = cap;
        q->head = 0;
        rc = 0;
out:
        free(msgs);
        free(cookies);
        return rc;
}

static void accepted(struct bn_txq *q, void *const *cookies, unsigned n)
{
        if (!q->done)
                return;
        for (unsigned i = 0; i < n; i++)
                q->done(q->arg, cookies ? cookies[i] : NULL, 0);
}

int bn_txq_flush(struct bn_txq *q, struct bn_wire_port *port)
{
        while (q->len) {
                unsigned run = q->cap - q->head < q->len ? q->cap - q->head : q->len;
                int rc;

                if (!port)
                        return -ENOTCONN;
                rc = bn_wire_send(port, q->msgs + q->head, run);
                if (rc < 0)
                        return rc;
                if (rc == 0)
                        return 0;
                /* advance first: done may free what the message points to */
                unsigned at = q->head;
                q->head = (q->head + (unsigned)rc) % q->cap;
                q->len -= (unsigned)rc;
                accepted(q, q->cookies + at, (unsigned)rc);
        }
        q->head = 0;
        return 1;
}

int bn_txq_send(struct bn_txq *q, struct bn_wire_port *port, const struct bn_wire_msg *msgs,
                void *const *cookies, unsigned n)
{
        unsigned sent = 0;
        int rc = 0;

        if (q->len)
                rc = bn_txq_flush(q, port);
        if (!q->len && port && n) {
                rc = bn_wire_send(port, msgs, n);
                if (rc > 0) {
                        sent = (unsigned)rc;
                        accepted(q, cookies, sent);
                }
        }
        if (sent < n && grow(q, q->len + (n - sent)) < 0)
                return -ENOMEM;
        for (unsigned i = sent; i < n; i++) {
                unsigned at = (q->head + q->len) % q->cap;
                q->msgs[at] = msgs[i];
                q->cookies[at] = cookies ? cookies[i] : NULL;
                q->len++;
        }
        if (!port)
                return -ENOTCONN;
        if (rc < 0)
                return rc;
        return q->len ? 0 : 1;
}

unsigned bn_txq_clear(struct bn_txq *q, int status)
{
        unsigned n = q->len;

        while (q->len) {
                void *cookie = q->cookies[q->head];

                q->head = (q->head + 1) % q->cap;
                q->len--;
                if (q->done)
                        q->done(q->arg, cookie, status);
        }
        q->head = 0;
        return n;
}
