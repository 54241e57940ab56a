/* SPDX-License-Identifier: Apache-2.0 */
/* One engine per client: made on first use, found by its client, told of
 * the session's events, torn down with the client. */
#include "request_impl.h"

#include <stdlib.h>

#include "errors.h"
#include "session.h"

enum { DEFAULT_WINDOW = 1024 };

/* ---- the engine ---------------------------------------------------------------- */

void zkd__rq_engine_unref(engine *e)
{
    pthread_mutex_lock(&e->mu);
    int last = --e->refs == 0;
    pthread_mutex_unlock(&e->mu);
    if (!last)
        return;
    zkd__ptable_clear(&e->paths);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

/* ---- the session ------------------------------------------------------------------------- */

static int is_target_req(const zkd_req *r, const void *arg)
{
    (void)arg;
    return r->sink == SINK_TARGET;
}

/* Loop thread. An expiry took every watch and every request of the old
 * session with it: targets hear ZKD_EEXPIRED for what they still had
 * queued (they read again on REESTABLISHED); waiting callers' requests
 * stay queued for the new session. */
static void on_session(zkd_client *c, zkd_session_event ev, void *ctx)
{
    (void)c;
    engine *e = ctx;
    if (ev == ZKD_SESSION_EXPIRED) {
        pthread_mutex_lock(&e->mu);
        e->gen++;
        zkd__rq_forget_all_watches(e);
        zkd__rq_watches_expired(e);
        zkd_req *old = zkd__rq_queue_take(e, is_target_req, NULL);
        pthread_mutex_unlock(&e->mu);
        for (zkd_req *r = old; r; r = r->next)
            r->zrc = ZSESSIONEXPIRED;
        zkd__rq_finish_list(old);
    } else if (ev == ZKD_SESSION_CONNECTED || ev == ZKD_SESSION_RECONNECTED ||
               ev == ZKD_SESSION_REESTABLISHED) {
        /* A handle that expired is closed before the next one connects. */
        pthread_mutex_lock(&e->mu);
        zkd_target *unused = e->old_open ? zkd__rq_watches_closed(e, 0) : NULL;
        pthread_mutex_unlock(&e->mu);
        zkd__rq_target_free_list(unused);
        zkd__rq_pump(e);
    }
}

static int any_req(const zkd_req *r, const void *arg)
{
    (void)r;
    (void)arg;
    return 1;
}

/* Each client's engine, found by its client. Not in a zkd__slot: modules
 * make targets from inside their own slot's make function, and the slots'
 * lock is not recursive. Lock order: engines_mu before the client's own
 * locks (making an engine subscribes and adds a teardown hook). */
static pthread_mutex_t engines_mu = PTHREAD_MUTEX_INITIALIZER;
static engine *engines;

/* The client's teardown, after its handle is closed: nothing is sent any
 * more; waiting callers hear ZKD_ECLOSED. */
static void engine_teardown(void *arg)
{
    engine *e = arg;
    pthread_mutex_lock(&engines_mu);
    for (engine **pp = &engines; *pp; pp = &(*pp)->next_engine)
        if (*pp == e) {
            *pp = e->next_engine;
            break;
        }
    pthread_mutex_unlock(&engines_mu);
    pthread_mutex_lock(&e->mu);
    e->dead = 1;
    zkd__rq_forget_all_watches(e);
    zkd_target *unused = zkd__rq_watches_closed(e, 1);
    zkd_req *rest = zkd__rq_queue_take(e, any_req, NULL);
    pthread_mutex_unlock(&e->mu);
    zkd__rq_target_free_list(unused);
    for (zkd_req *r = rest, *next; r; r = next) {
        next = r->next;
        r->zrc = ZCLOSING;
        if (r->sink == SINK_BATCH)
            zkd__rq_finish(r);
        else
            zkd__rq_release(r);
    }
    zkd__rq_engine_unref(e);
}

static engine *engine_make(zkd_client *c)
{
    engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->c = c;
    e->refs = 1;
    e->window = DEFAULT_WINDOW;
    pthread_mutex_init(&e->mu, NULL);
    if (zkd__at_teardown(c, engine_teardown, e) != 0) {
        pthread_mutex_destroy(&e->mu);
        free(e);
        return NULL;
    }
    /* Teardown frees e; subscriptions die with the client. */
    zkd_session_subscribe(c, on_session, e, NULL, NULL);
    return e;
}

/* The client's engine with a reference for the caller, or NULL when the
 * client is closing (or out of memory). */
engine *zkd__rq_engine_get(zkd_client *c)
{
    if (zkd__closing(c))
        return NULL;
    pthread_mutex_lock(&engines_mu);
    engine *e = engines;
    while (e && e->c != c)
        e = e->next_engine;
    if (!e && (e = engine_make(c))) {
        e->next_engine = engines;
        engines = e;
    }
    if (e) {
        pthread_mutex_lock(&e->mu);
        e->refs++;
        pthread_mutex_unlock(&e->mu);
    }
    pthread_mutex_unlock(&engines_mu);
    return e;
}

void zkd__request_set_window(zkd_client *c, int n)
{
    engine *e = zkd__rq_engine_get(c);
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    e->window = n > 0 ? n : DEFAULT_WINDOW;
    e->max_inflight = e->inflight;
    pthread_mutex_unlock(&e->mu);
    zkd__rq_pump(e);
    zkd__rq_engine_unref(e);
}

void zkd__request_stats(zkd_client *c, int *max_inflight, int *inflight, int *queued)
{
    engine *e = zkd__rq_engine_get(c);
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    if (max_inflight)
        *max_inflight = e->max_inflight;
    if (inflight)
        *inflight = e->inflight;
    if (queued)
        *queued = e->queued;
    pthread_mutex_unlock(&e->mu);
    zkd__rq_engine_unref(e);
}
