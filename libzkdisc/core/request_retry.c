/* SPDX-License-Identifier: Apache-2.0 */
/* Retries: a read cut off by a connection loss is sent again, with
 * backoff, on a loop timer. */
#include "request_impl.h"

#include "session.h"

enum { RETRY_FIRST_MS = 20, RETRY_MAX_MS = 1000 };

static void retry_fire(void *arg)
{
    zkd_req *r = arg;
    engine *e = r->e;
    zkd_req *failed = NULL;
    pthread_mutex_lock(&e->mu);
    if (e->dead || zkd__rq_sink_gone(r)) {
        pthread_mutex_unlock(&e->mu);
        zkd__rq_release(r);
        return;
    }
    if (r->sink == SINK_TARGET && r->gen != e->gen) {
        r->zrc = ZSESSIONEXPIRED;
        pthread_mutex_unlock(&e->mu);
        zkd__rq_finish(r);
        return;
    }
    zkd__result_clear(&r->res);
    r->res.len = -1;
    r->nomem = 0;
    zkd__rq_queue_push(e, r);
    zkd__rq_pump_locked(e, &failed);
    pthread_mutex_unlock(&e->mu);
    zkd__rq_finish_list(failed);
}

/* The loop stopped before the retry: the client is closing. Runs where the
 * loop drops it, possibly under the client's mutex: no posting. */
static void retry_drop(void *arg)
{
    zkd_req *r = arg;
    pthread_mutex_lock(&r->e->mu);
    int keep = r->sink == SINK_BATCH && !zkd__rq_sink_gone(r);
    pthread_mutex_unlock(&r->e->mu);
    r->zrc = ZCLOSING;
    if (keep)
        zkd__rq_finish(r);
    else
        zkd__rq_release(r);
}

void zkd__rq_retry_later(zkd_req *r)
{
    int shift = r->attempts < 6 ? r->attempts : 6;
    int delay = RETRY_FIRST_MS << shift;
    if (delay > RETRY_MAX_MS)
        delay = RETRY_MAX_MS;
    r->attempts++;
    zkd__after(r->e->c, delay, retry_fire, retry_drop, r);
}
