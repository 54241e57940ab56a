/* SPDX-License-Identifier: Apache-2.0 */
/* Armed watches of direct targets (zkd__target_new_direct: a cache, with a
 * data watch per instance). The ZooKeeper client already keeps one watcher
 * entry per (path, watcher function, context), one-shot, and calls it once
 * per event whatever kinds of watch it had there; so the layer keeps no
 * table for them: a watched read names its target as the context, an event
 * goes straight to that target, and forgetting removes that target's entry
 * only. The owner forgets what it no longer wants before it cancels: an
 * entry left behind keeps its target (below) until it fires.
 *
 * One context per target, not per path: on every session event the client
 * copies its watchers into one list deduplicated by (function, context) with
 * a linear search, so a context per watched path would make each session
 * event quadratic in the number of watches.
 *
 * Lifetime. The client may call the watcher with a target as long as an
 * entry names it or an event collected from one is waiting on its
 * completion thread. So a target is freed only when, besides nothing holding
 * it (refs), `armed` is 0 and `old_held` clear:
 * - `armed` goes up for every watched read answered with a code for which
 *   the client turns its watch on (before the completion runs), and down by
 *   one for each event delivered (each takes at least one entry away) and
 *   for each zoo_remove_watches that removed something (at least one entry):
 *   it is never below the number of entries (and collected events) naming
 *   the target. It can be above: a second watched read of a path already
 *   watched adds no entry, a deletion clears a data and a child watch at
 *   once. A cancelled target so counted stays (about 100 bytes, and
 *   nothing reaches its owner) until its handle is closed: the session's
 *   end or the client's. Counting exactly would take the table back.
 * - An expiry closes the handle later, off the loop: the targets with
 *   watches on it are `old_held` until the next connected session (the
 *   new handle is installed only after the old one is closed), and events
 *   from the old handle (zh no longer e->zh) are dropped uncounted.
 * - Session events name every context, freed or not: never touched. */
#include "request_impl.h"

#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "errors.h"
#include "session.h"

/* Under e->mu. */
static void armed_add(engine *e, zkd_target *t, int d)
{
    long before = t->armed > 0 ? t->armed : 0;
    t->armed += d;
    e->armed += (t->armed > 0 ? t->armed : 0) - before;
}

/* Under e->mu: counts a direct target's watch turned on; 1 when the target
 * was cancelled meanwhile (the watch must go, or each late answer to a
 * closed cache would leave an entry and the target behind). */
static int arm(engine *e, zkd_req *r)
{
    if (r->gen == e->gen) {
        armed_add(e, r->t, 1);
        return zkd__rq_sink_gone(r);
    }
    if (e->old_open) /* on the expired handle, still open */
        r->t->old_held = 1;
    return 0;
}

int zkd__rq_watch_answered(engine *e, zkd_req *r, int zrc, int stale)
{
    wpath *wp = r->wp;
    r->wp = NULL;
    if (wp)
        wp->inflight--;
    /* For these codes the ZooKeeper client turned the watch on before the
     * completion ran, whatever became of the request or its target. */
    int on = r->watch && (zrc == ZOK || (zrc == ZNONODE && r->op.kind == ZKD_OP_EXISTS));
    int unwatch = 0;
    if (on && r->t->direct)
        unwatch = arm(e, r); /* counted, whatever became of it */
    else if (on && !stale && !zkd__rq_sink_gone(r))
        zkd__rq_table_arm(e, r);
    if (wp)
        zkd__rq_path_put(e, wp);
    return unwatch;
}

void zkd__rq_watches_expired(engine *e)
{
    for (zkd_target *t = e->targets; t; t = t->tnext) {
        if (t->armed > 0)
            t->old_held = 1;
        t->armed = 0;
    }
    e->armed = 0;
    e->zh = NULL;
    e->old_open = 1;
}

zkd_target *zkd__rq_watches_closed(engine *e, int all)
{
    zkd_target *unused = NULL;
    for (zkd_target *t = e->targets, *next; t; t = next) {
        next = t->tnext;
        t->old_held = 0;
        if (all)
            t->armed = 0;
        if (zkd__rq_target_unused(t)) {
            t->tnext = unused;
            unused = t;
        }
    }
    if (all) {
        e->armed = 0;
        e->zh = NULL;
    }
    e->old_open = 0;
    return unused;
}

int zkd__target_forget(zkd_target *t, const char *path)
{
    if (!t->direct)
        return zkd__rq_table_forget(t, path);
    engine *e = t->e;
    /* The count goes down only if the handle used is the one counted, and
     * stayed so: no expiry in between (e->gen). Not nested in the handle's
     * lock: e->mu comes first (the pump takes the handle under it). */
    pthread_mutex_lock(&e->mu);
    zhandle_t *counted = e->zh;
    unsigned gen = e->gen;
    pthread_mutex_unlock(&e->mu);
    zhandle_t *zh = zkd__zh_acquire(e->c);
    if (!zh)
        return ZKD_ECONNLOSS;
    /* The synchronous call: with `local` it never waits for the server (and
     * the 3.8 client's asynchronous one mistakes its data for a synchronous
     * completion's). Only this target's entry goes: another target's watch
     * on the path stays. */
    int zrc = zoo_remove_watches(zh, path, ZWATCHTYPE_ANY, zkd__rq_watcher, t, 1);
    zkd__zh_release(e->c);
    pthread_mutex_lock(&e->mu);
    if (zrc == ZOK && zh == counted && gen == e->gen)
        armed_add(e, t, -1);
    pthread_mutex_unlock(&e->mu);
    return zrc == ZOK || zrc == ZNOWATCHER ? 0 : zkd__from_zk(zrc);
}

/* ---- watch events (completion thread) ------------------------------------------------ */

static zkd_req *event_new(engine *e, zkd_target *t, int type, const char *path)
{
    zkd_req *ev = calloc(1, sizeof *ev);
    if (ev && !(ev->own_path = strdup(path))) {
        free(ev);
        return NULL;
    }
    if (ev) {
        ev->e = e;
        ev->sink = SINK_TARGET;
        ev->t = t;
        ev->hk = H_EVENT;
        ev->ev_type = type;
        ev->res.failed = -1;
    }
    return ev;
}

/* The watcher of every watched read, its context the target. The client
 * calls it once per event and target however many of its watches the event
 * took: a target's inbox never holds more events than it had watches, and
 * the loop's queue at most one job per target. */
void zkd__rq_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)state;
    if (type == ZOO_SESSION_EVENT || !path)
        return; /* ctx may be a freed target's: see the top */
    zkd_target *t = ctx;
    engine *e = t->e;
    zkd_req *ev = t->on_watch ? event_new(e, t, type, path) : NULL;
    zkd_req *early = NULL;
    pthread_mutex_lock(&e->mu);
    int current = zh == e->zh;
    if (current)
        armed_add(e, t, -1);
    int fired = current && t->owner && ev;
    int post = 0;
    if (fired) {
        t->refs++;
        if (!zkd__rq_early_keep(t, ev, &early))
            post = zkd__rq_inbox_push(t, ev);
        ev = NULL;
    }
    int gone = zkd__rq_target_unused(t);
    pthread_mutex_unlock(&e->mu);
    if (ev) { /* not delivered: it holds no reference */
        free(ev->own_path);
        free(ev);
    }
    if (fired)
        zkd__count(e->c, ZKD_CNT_WATCHES_FIRED, 1);
    zkd__rq_early_events(early);
    if (post)
        zkd__post(e->c, zkd__rq_target_run, zkd__rq_target_drop, t);
    if (gone)
        zkd__rq_target_free(t);
}

size_t zkd__watched_paths(zkd_client *c)
{
    engine *e = zkd__rq_engine_get(c);
    if (!e)
        return 0;
    pthread_mutex_lock(&e->mu);
    size_t n = e->paths.count + (size_t)e->armed;
    pthread_mutex_unlock(&e->mu);
    zkd__rq_engine_unref(e);
    return n;
}
