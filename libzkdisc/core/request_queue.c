/* SPDX-License-Identifier: Apache-2.0 */
/* The queue and the window: requests wait in one FIFO per client, at most
 * `window` of them are in flight, and answers come back through
 * ZooKeeper's completion thread, which only copies a result, hands it over
 * and sends queued requests into the room it left. */
#include "request_impl.h"

#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "errors.h"
#include "session.h"

enum { POLL_MS = 100 };

void zkd__rq_queue_push(engine *e, zkd_req *r)
{
    r->next = NULL;
    r->queued = 1;
    if (e->qtail)
        e->qtail->next = r;
    else
        e->qhead = r;
    e->qtail = r;
    e->queued++;
}

/* Under e->mu: takes out of the queue every request for which
 * drop(r, arg) is true; returns them as a list. */
zkd_req *zkd__rq_queue_take(engine *e, int (*drop)(const zkd_req *r, const void *arg), const void *arg)
{
    zkd_req *taken = NULL, **tp = &taken;
    zkd_req **pp = &e->qhead;
    e->qtail = NULL;
    while (*pp) {
        zkd_req *r = *pp;
        if (drop(r, arg)) {
            *pp = r->next;
            r->next = NULL;
            r->queued = 0;
            e->queued--;
            *tp = r;
            tp = &r->next;
        } else {
            e->qtail = r;
            pp = &r->next;
        }
    }
    return taken;
}

/* ---- delivering --------------------------------------------------------------------- */



/* The request is answered: to its waiter, or to its target's inbox. Not
 * under e->mu (it may post). */
void zkd__rq_finish(zkd_req *r)
{
    engine *e = r->e;
    pthread_mutex_lock(&e->mu);
    if (zkd__rq_sink_gone(r)) {
        pthread_mutex_unlock(&e->mu);
        zkd__rq_release(r);
        return;
    }
    if (r->sink == SINK_BATCH) {
        zkd_batch *b = r->b;
        r->next = NULL;
        if (b->tail)
            b->tail->next = r;
        else
            b->head = r;
        b->tail = r;
        pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&e->mu);
        return;
    }
    zkd_target *t = r->t;
    int post = zkd__rq_inbox_push(t, r);
    pthread_mutex_unlock(&e->mu);
    if (post)
        zkd__post(e->c, zkd__rq_target_run, zkd__rq_target_drop, t);
}

void zkd__rq_finish_list(zkd_req *r)
{
    for (zkd_req *next; r; r = next) {
        next = r->next;
        zkd__rq_finish(r);
    }
}

/* ---- completions (ZooKeeper's completion thread): copy, hand over ---------------- */


static void complete(zkd_req *r, int zrc)
{
    engine *e = r->e;
    zkd_req *failed = NULL;
    pthread_mutex_lock(&e->mu);
    zkd_early_fn early = r->early; /* told here, not again at release */
    void *early_arg = r->early_arg;
    r->early = NULL;
    e->inflight--;
    r->zrc = zrc;
    if (r->sink == SINK_TARGET)
        r->t->flying--;
    int stale = r->sink == SINK_TARGET && r->gen != e->gen;
    int retry = (zrc == ZCONNECTIONLOSS || zrc == ZOPERATIONTIMEOUT) && r->retry && !stale &&
                !e->dead && !zkd__rq_sink_gone(r);
    /* A retried read brings no answer to post what its target holds. */
    zkd_target *post = retry && r->sink == SINK_TARGET && zkd__rq_inbox_post(r->t) ? r->t : NULL;
    if (stale && (zrc == ZCONNECTIONLOSS || zrc == ZOPERATIONTIMEOUT))
        r->zrc = ZSESSIONEXPIRED;
    int unwatch = zkd__rq_watch_answered(e, r, zrc, stale);
    zkd__rq_pump_locked(e, &failed);
    int final = r->zrc;
    pthread_mutex_unlock(&e->mu);
    if (post)
        zkd__post(e->c, zkd__rq_target_run, zkd__rq_target_drop, post);
    if (unwatch) /* nobody wants it: the client must not keep it */
        zkd__target_forget(r->t, r->op.path);
    if (retry)
        zkd__rq_retry_later(r);
    else
        zkd__rq_early_answer(r); /* r may be gone now */
    if (early && !retry)
        early(early_arg, final == ZOK ? 0 : zkd__from_zk(final));
    zkd__rq_finish_list(failed);
}

static void on_data(int rc, const char *value, int len, const struct Stat *st, const void *data)
{
    zkd_req *r = (zkd_req *)data;
    if (rc == ZOK) {
        zkd__stat_copy(&r->res.stat, st);
        r->res.len = value ? len : -1;
        if (value && len >= 0) {
            if ((r->res.data = malloc((size_t)len + 1))) {
                memcpy(r->res.data, value, (size_t)len);
                r->res.data[len] = '\0';
                zkd__count(r->e->c, ZKD_CNT_BYTES_READ, (uint64_t)len);
            } else {
                r->nomem = 1;
            }
        }
    }
    complete(r, rc);
}

static void on_children(int rc, const struct String_vector *sv, const struct Stat *st,
                        const void *data)
{
    zkd_req *r = (zkd_req *)data;
    if (rc == ZOK) {
        zkd__stat_copy(&r->res.stat, st);
        r->zkids = sv; /* copied once the early hook has seen it (request_early.c) */
    }
    complete(r, rc);
}

static void on_acl(int rc, struct ACL_vector *acl, struct Stat *st, const void *data)
{
    zkd_req *r = (zkd_req *)data;
    if (rc == ZOK && st)
        zkd__stat_copy(&r->res.stat, st);
    size_t n = rc == ZOK && acl && acl->count > 0 ? (size_t)acl->count : 0;
    if (n && !(r->res.acl = calloc(n, sizeof *r->res.acl)))
        r->nomem = 1;
    for (size_t i = 0; r->res.acl && i < n; i++) {
        zkd_acl_entry *e = &r->res.acl[r->res.acl_count++];
        e->perms = acl->data[i].perms;
        e->scheme = strdup(acl->data[i].id.scheme);
        e->id = strdup(acl->data[i].id.id);
        if (!e->scheme || !e->id)
            r->nomem = 1;
    }
    complete(r, rc);
}

static void on_stat(int rc, const struct Stat *st, const void *data)
{
    zkd_req *r = (zkd_req *)data;
    if (rc == ZOK && st)
        zkd__stat_copy(&r->res.stat, st);
    complete(r, rc);
}

static void on_synced(int rc, const char *value, const void *data)
{
    (void)value;
    complete((zkd_req *)data, rc);
}

/* A create: the path the server made and the new node's Stat. */
static void on_created(int rc, const char *value, const struct Stat *st, const void *data)
{
    zkd_req *r = (zkd_req *)data;
    if (rc == ZOK && st)
        zkd__stat_copy(&r->res.stat, st);
    if (rc == ZOK && value)
        r->nomem = !(r->res.created = strdup(value));
    complete(r, rc);
}

static void on_void(int rc, const void *data)
{
    zkd_req *r = (zkd_req *)data;
    if (r->op.kind == ZKD_OP_MULTI && r->zres) {
        /* The first op neither ZOK nor ZRUNTIMEINCONSISTENCY holds the
         * error (DESIGN.md 7). */
        int n = r->op.nops;
        if ((r->res.op_zrcs = calloc((size_t)n + 1, sizeof *r->res.op_zrcs))) {
            for (int i = 0; i < n; i++) {
                int e = rc == ZOK ? ZOK : r->zres[i].err;
                r->res.op_zrcs[i] = e;
                if (r->res.failed < 0 && e != ZOK && e != ZRUNTIMEINCONSISTENCY)
                    r->res.failed = i;
            }
        } else if (rc == ZOK) {
            r->nomem = 1;
        }
    }
    complete(r, rc);
}

/* ---- issuing (under e->mu, the handle held) -------------------------------------------- */

static const zkd_counter op_counter[] = {
    [ZKD_OP_GET] = ZKD_CNT_GET_DATA, [ZKD_OP_CHILDREN] = ZKD_CNT_GET_CHILDREN,
    [ZKD_OP_EXISTS] = ZKD_CNT_EXISTS, [ZKD_OP_CREATE] = ZKD_CNT_CREATE,
    [ZKD_OP_SET] = ZKD_CNT_SET_DATA,  [ZKD_OP_DELETE] = ZKD_CNT_REMOVE,
    [ZKD_OP_MULTI] = ZKD_CNT_MULTI,
};

static int issue_multi(zhandle_t *zh, zkd_req *r)
{
    int n = r->op.nops;
    zoo_op_t *zops = calloc((size_t)n, sizeof *zops);
    if (!r->zres) {
        r->zres = calloc((size_t)n, sizeof *r->zres);
        r->zstats = calloc((size_t)n, sizeof *r->zstats);
        r->zpaths = calloc((size_t)n, sizeof *r->zpaths);
    }
    int zrc = zops && r->zres && r->zstats && r->zpaths ? ZOK : ZSYSTEMERROR;
    for (int i = 0; zrc == ZOK && i < n; i++) {
        const zkd_op *o = &r->op.ops[i];
        int dlen = o->data ? o->len : -1;
        switch (o->kind) {
        case ZKD_OP_CREATE: {
            size_t cap = strlen(o->path) + 16; /* room for a sequence number */
            if (!r->zpaths[i] && !(r->zpaths[i] = calloc(1, cap))) {
                zrc = ZSYSTEMERROR;
                break;
            }
            zoo_create_op_init(&zops[i], o->path, o->data, dlen,
                               o->acl ? o->acl : &ZOO_OPEN_ACL_UNSAFE, o->flags, r->zpaths[i],
                               (int)cap);
            break;
        }
        case ZKD_OP_SET:
            zoo_set_op_init(&zops[i], o->path, o->data, dlen, o->version, &r->zstats[i]);
            break;
        case ZKD_OP_DELETE: zoo_delete_op_init(&zops[i], o->path, o->version); break;
        case ZKD_OP_CHECK: zoo_check_op_init(&zops[i], o->path, o->version); break;
        default: zrc = ZBADARGUMENTS; break;
        }
    }
    if (zrc == ZSYSTEMERROR)
        r->nomem = 1;
    if (zrc == ZOK)
        zrc = zoo_amulti(zh, n, zops, r->zres, on_void, r);
    free(zops); /* serialised by now */
    return zrc;
}

static int issue(engine *e, zhandle_t *zh, zkd_req *r)
{
    const zkd_op *op = &r->op;
    /* A direct target is its watch's context: an event goes straight to it
     * (see request_watch.c for why it is never freed too early); the others
     * share the engine's (request_watch_table.c). */
    int direct = r->watch && r->t->direct;
    watcher_fn w = !r->watch ? NULL : direct ? zkd__rq_watcher : zkd__rq_table_watcher;
    void *wctx = !r->watch ? NULL : direct ? (void *)r->t : (void *)e;
    if (direct)
        e->zh = zh;
    if ((size_t)op->kind < sizeof op_counter / sizeof op_counter[0] && op->kind != ZKD_OP_CHECK)
        zkd__count(e->c, op_counter[op->kind], 1);
    uint64_t bytes = op->data && op->len > 0 ? (uint64_t)op->len : 0;
    for (int i = 0; op->kind == ZKD_OP_MULTI && i < op->nops; i++)
        bytes += op->ops[i].data && op->ops[i].len > 0 ? (uint64_t)op->ops[i].len : 0;
    if (bytes)
        zkd__count(e->c, ZKD_CNT_BYTES_WRITTEN, bytes);
    int dlen = op->data ? op->len : -1;
    switch (op->kind) {
    case ZKD_OP_GET: return zoo_awget(zh, op->path, w, wctx, on_data, r);
    case ZKD_OP_CHILDREN: return zoo_awget_children2(zh, op->path, w, wctx, on_children, r);
    case ZKD_OP_EXISTS: return zoo_awexists(zh, op->path, w, wctx, on_stat, r);
    case ZKD_OP_CREATE:
        return zoo_acreate2(zh, op->path, op->data, dlen,
                            op->acl ? op->acl : &ZOO_OPEN_ACL_UNSAFE, op->flags, on_created, r);
    case ZKD_OP_SET: return zoo_aset(zh, op->path, op->data, dlen, op->version, on_stat, r);
    case ZKD_OP_DELETE: return zoo_adelete(zh, op->path, op->version, on_void, r);
    case ZKD_OP_SET_ACL:
        return zoo_aset_acl(zh, op->path, -1, (struct ACL_vector *)op->acl, on_void, r);
    case ZKD_OP_GET_ACL: return zoo_aget_acl(zh, op->path, on_acl, r);
    case ZKD_OP_SYNC: return zoo_async(zh, op->path, on_synced, r);
    case ZKD_OP_MULTI: return issue_multi(zh, r);
    case ZKD_OP_CHECK: break;
    }
    return ZBADARGUMENTS;
}

/* Sends from the head of the queue while the window has room and the
 * session is up. A request the handle refuses (no live session) goes back
 * to the head and waits for the next CONNECTED; other refusals are answers,
 * returned in *failed for the caller to finish once it let go of e->mu. */
void zkd__rq_pump_locked(engine *e, zkd_req **failed)
{
    if (e->dead || !e->qhead || e->inflight >= e->window ||
        zkd_client_state(e->c) != ZKD_STATE_CONNECTED)
        return;
    zhandle_t *zh = zkd__zh_acquire(e->c);
    if (!zh)
        return;
    while (e->qhead && e->inflight < e->window) {
        zkd_req *r = e->qhead;
        e->qhead = r->next;
        if (!e->qhead)
            e->qtail = NULL;
        e->queued--;
        r->queued = 0;
        r->next = NULL;
        e->inflight++; /* the completion may run as soon as it is sent */
        if (r->watch && !r->t->direct && (r->wp = zkd__rq_path_get(e, r->op.path)))
            r->wp->inflight++;
        int zrc = issue(e, zh, r);
        if (zrc != ZOK && r->wp) {
            r->wp->inflight--;
            zkd__rq_path_put(e, r->wp);
            r->wp = NULL;
        }
        if (zrc == ZOK) {
            if (r->sink == SINK_TARGET)
                r->t->flying++;
            if (e->inflight > e->max_inflight)
                e->max_inflight = e->inflight;
            continue;
        }
        e->inflight--;
        if (!r->nowait && (zrc == ZINVALIDSTATE || zrc == ZCONNECTIONLOSS)) {
            r->next = e->qhead;
            r->queued = 1;
            e->qhead = r;
            if (!e->qtail)
                e->qtail = r;
            e->queued++;
            break;
        }
        r->zrc = zrc;
        r->next = *failed;
        *failed = r;
    }
    zkd__zh_release(e->c);
}

void zkd__rq_pump(engine *e)
{
    zkd_req *failed = NULL;
    pthread_mutex_lock(&e->mu);
    zkd__rq_pump_locked(e, &failed);
    pthread_mutex_unlock(&e->mu);
    zkd__rq_finish_list(failed);
}

static void poll_fire(void *arg);

static void poll_drop(void *arg)
{
    zkd__rq_engine_unref(arg);
}

/* After queueing while the session is not up: a timer looks again until
 * it is. The CONNECTED event sends the queue too, but an engine made while
 * the first session was being established may have subscribed just too
 * late to hear it. Not under e->mu. */
void zkd__rq_poll_later(engine *e)
{
    pthread_mutex_lock(&e->mu);
    int arm = !e->polling && e->qhead && !e->dead &&
              zkd_client_state(e->c) != ZKD_STATE_CONNECTED;
    if (arm) {
        e->polling = 1;
        e->refs++;
    }
    pthread_mutex_unlock(&e->mu);
    if (arm)
        zkd__after(e->c, POLL_MS, poll_fire, poll_drop, e);
}

static void poll_fire(void *arg)
{
    engine *e = arg;
    pthread_mutex_lock(&e->mu);
    e->polling = 0;
    pthread_mutex_unlock(&e->mu);
    zkd__rq_pump(e);
    zkd__rq_poll_later(e);
    zkd__rq_engine_unref(e);
}

/* Queues r (already counted by its sink) and sends what fits. */
int zkd__rq_submit_locked(engine *e, zkd_req *r, zkd_req **failed)
{
    if (e->dead)
        return ZKD_ECLOSED;
    zkd__rq_queue_push(e, r);
    zkd__rq_pump_locked(e, failed);
    return 0;
}
