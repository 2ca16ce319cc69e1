/* bn_txq.h: the framework's one TX retry queue. A wire may accept fewer
 * messages than offered (backpressure); what it refused waits here, in
 * order, and is offered again first (on port_writable, or the next time the
 * owner sends). Every class that sends on a wire uses it instead of its own
 * list. Each queued message may carry a cookie; the owner's done callback
 * hears once per message when the wire accepted it (status 0) or when the
 * queue was cleared (status < 0), e.g. to free the buffer data points to.
 *
 * Threads: a queue belongs to the loop of the port it feeds; it has no lock.
 * The bytes at msg.data must stay valid until done (or, without a done
 * callback, until the queue is empty again).
 */
#ifndef BN_TXQ_H
#define BN_TXQ_H

#include <stdbool.h>

#include "bn_wire.h"

/* status: 0 when the wire accepted the message, -errno when it was dropped
 * (bn_txq_clear). May not touch the queue. */
typedef void (*bn_txq_done_fn)(void *arg, void *cookie, int status);

struct bn_txq {
        struct bn_wire_msg *msgs; /* ring of cap entries, len from head */
        void **cookies;
        unsigned cap, head, len;
        bn_txq_done_fn done; /* may be NULL */
        void *arg;
};

/* An empty queue; room is taken (and grows) when messages are refused. */
void bn_txq_init(struct bn_txq *q, bn_txq_done_fn done, void *arg);
/* Clear (done with -ECANCELED for each message) and free the room. */
void bn_txq_fini(struct bn_txq *q);

static inline bool bn_txq_empty(const struct bn_txq *q)
{
        return q->len == 0;
}

static inline unsigned bn_txq_len(const struct bn_txq *q)
{
        return q->len;
}

/* Send n messages in order: when nothing waits, straight to port; what port
 * refuses (all of them when something waits) is queued. cookies may be NULL.
 * Returns 1 when nothing waits afterwards, 0 when messages wait, -errno when
 * port is NULL or broken (everything that was not accepted is queued; the
 * caller decides whether to bn_txq_clear) or no room was left (-ENOMEM:
 * messages from the first that found no room are not queued, done is not
 * called for them). */
int bn_txq_send(struct bn_txq *q, struct bn_wire_port *port, const struct bn_wire_msg *msgs,
                void *const *cookies, unsigned n);

/* Offer the queued messages to port again. Returns as bn_txq_send. */
int bn_txq_flush(struct bn_txq *q, struct bn_wire_port *port);

/* Drop every queued message (done with status, a -errno). Returns how many. */
unsigned bn_txq_clear(struct bn_txq *q, int status);

#endif
