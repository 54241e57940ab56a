/* SPDX-License-Identifier: Apache-2.0 */
/* Targets: what a module's requests and watches report to, and their
 * inboxes, drained by one job per target on the loop. */
#include "request_impl.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "session.h"

/* While a target has INBOX_HOLD requests or more in flight, its inbox is
 * posted once per INBOX_BATCH arrivals (see zkd_target.flying). */
enum { INBOX_HOLD = 32, INBOX_BATCH = 32 };

/* Under e->mu: appends to the target's inbox; 1 when the target needs a job. */
int zkd__rq_inbox_push(zkd_target *t, zkd_req *r)
{
    r->next = NULL;
    if (t->tail)
        t->tail->next = r;
    else
        t->head = r;
    t->tail = r;
    if (t->posted)
        return 0;
    if (t->flying >= INBOX_HOLD && ++t->held < INBOX_BATCH)
        return 0; /* the answers still coming will post it */
    return zkd__rq_inbox_post(t);
}

/* Under e->mu: 1 when the target's inbox holds something not yet posted
 * (the caller then posts its job). */
int zkd__rq_inbox_post(zkd_target *t)
{
    if (t->posted || !t->head)
        return 0;
    t->held = 0;
    t->posted = 1;
    t->refs++;
    return 1;
}

zkd_target *zkd__target_new(zkd_client *c, void *owner, zkd_watch_handler on_watch)
{
    zkd_target *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (!(t->e = zkd__rq_engine_get(c))) {
        free(t);
        return NULL;
    }
    t->owner = owner;
    t->on_watch = on_watch;
    t->refs = 1;
    engine *e = t->e;
    pthread_mutex_lock(&e->mu);
    t->tnext = e->targets;
    t->tprev = &e->targets;
    if (t->tnext)
        t->tnext->tprev = &t->tnext;
    e->targets = t;
    pthread_mutex_unlock(&e->mu);
    return t;
}

zkd_target *zkd__target_new_direct(zkd_client *c, void *owner, zkd_watch_handler on_watch)
{
    zkd_target *t = zkd__target_new(c, owner, on_watch);
    if (t)
        t->direct = 1; /* before any request: read without e->mu */
    return t;
}

int zkd__rq_target_unused(zkd_target *t)
{
    if (t->refs || t->armed > 0 || t->old_held)
        return 0;
    *t->tprev = t->tnext;
    if (t->tnext)
        t->tnext->tprev = t->tprev;
    return 1;
}

void zkd__rq_target_free(zkd_target *t)
{
    engine *e = t->e;
    zkd__rq_early_free(t);
    free(t);
    zkd__rq_engine_unref(e);
}

void zkd__rq_target_free_list(zkd_target *t)
{
    for (zkd_target *next; t; t = next) {
        next = t->tnext;
        zkd__rq_target_free(t);
    }
}

void zkd__rq_target_unref(zkd_target *t)
{
    engine *e = t->e;
    pthread_mutex_lock(&e->mu);
    t->refs--;
    int gone = zkd__rq_target_unused(t);
    pthread_mutex_unlock(&e->mu);
    if (gone)
        zkd__rq_target_free(t);
}

static int of_target(const zkd_req *r, const void *t)
{
    return r->sink == SINK_TARGET && r->t == t;
}

void zkd__target_cancel(zkd_target *t)
{
    if (!t)
        return;
    engine *e = t->e;
    pthread_mutex_lock(&e->mu);
    t->owner = NULL; /* events still on their way are dropped (request_watch.c) */
    zkd__rq_early_wait_locked(t);
    while (t->regs)
        zkd__rq_reg_unlink(e, t->regs);
    zkd_req *queued = zkd__rq_queue_take(e, of_target, t);
    zkd_req *held = t->posted ? NULL : t->head; /* no job will take them now */
    if (held)
        t->head = t->tail = NULL;
    pthread_mutex_unlock(&e->mu);
    zkd__rq_release_list(queued);
    zkd__rq_release_list(held);
    zkd__rq_target_unref(t);
}

static void run_one(zkd_target *t, zkd_req *r)
{
    void *owner = t->owner;
    int rc = zkd__req_rc(r);
    const char *tag = r->own_tag;
    switch (r->hk) {
    case H_EVENT: t->on_watch(owner, r->ev_type, r->own_path); break;
    case H_DATA:
        ((zkd_data_handler)r->fn)(owner, tag, r->epoch, rc, rc ? NULL : r->res.data,
                                  rc ? -1 : r->res.len, &r->res.stat);
        break;
    case H_CHILDREN:
        ((zkd_children_handler)r->fn)(owner, tag, r->epoch, rc, &r->res.children, &r->res.stat);
        break;
    case H_STAT: ((zkd_stat_handler)r->fn)(owner, tag, r->epoch, rc, &r->res.stat); break;
    case H_RESULT: ((zkd_result_handler)r->fn)(owner, tag, r->epoch, rc, &r->res); break;
    }
}

/* Everything in the target's inbox, taken out of it; the next arrival
 * posts the target's job again. */
static zkd_req *take_inbox(zkd_target *t)
{
    engine *e = t->e;
    pthread_mutex_lock(&e->mu);
    zkd_req *items = t->head;
    t->head = t->tail = NULL;
    t->posted = 0;
    pthread_mutex_unlock(&e->mu);
    return items;
}

/* Loop thread: everything that came for the target, in arrival order. The
 * owner may cancel the target from any handler: the rest is dropped. */
void zkd__rq_target_run(void *arg)
{
    zkd_target *t = arg;
    zkd_req *items = take_inbox(t);
    for (zkd_req *next; items; items = next) {
        next = items->next;
        if (t->owner && (items->hk != H_EVENT || t->on_watch))
            run_one(t, items);
        zkd__rq_release(items);
    }
    zkd__rq_target_unref(t);
}

void zkd__rq_target_drop(void *arg)
{
    zkd_target *t = arg;
    zkd__rq_release_list(take_inbox(t));
    zkd__rq_target_unref(t);
}

static int target_submit_req(zkd_target *t, zkd_req *r, const zkd_op *op, int watch,
                             const char *tag, uint64_t epoch, handler_kind hk, void *fn);

static int target_submit(zkd_target *t, const zkd_op *op, int watch, const char *tag,
                         uint64_t epoch, handler_kind hk, void *fn)
{
    zkd_req *r = zkd__rq_new(t->e, op);
    if (!r)
        return ZKD_ENOMEM;
    return target_submit_req(t, r, op, watch, tag, epoch, hk, fn);
}

static int target_submit_early(zkd_target *t, const zkd_op *op, const char *tag, uint64_t epoch,
                               void *fn, zkd_early_fn early, void *early_arg)
{
    zkd_req *r = zkd__rq_new(t->e, op);
    if (!r)
        return ZKD_ENOMEM;
    r->early = early;
    r->early_arg = early_arg;
    return target_submit_req(t, r, op, 0, tag, epoch, H_STAT, fn);
}

/* A deep copy of an ACL for a request that outlives its caller's; 1 when
 * out of memory (what was copied is freed with the request). */
static int copy_acl(struct ACL_vector *dst, const struct ACL_vector *src)
{
    if (allocate_ACL_vector(dst, src->count) || (src->count && !dst->data))
        return 1;
    for (int32_t i = 0; i < src->count; i++) {
        dst->data[i].perms = src->data[i].perms;
        dst->data[i].id.scheme = strdup(src->data[i].id.scheme);
        dst->data[i].id.id = strdup(src->data[i].id.id);
        if (!dst->data[i].id.scheme || !dst->data[i].id.id)
            return 1;
    }
    return 0;
}

/* Takes r (made by zkd__rq_new for op) and queues it for t; on failure r is
 * freed and the handler will never run. */
static int target_submit_req(zkd_target *t, zkd_req *r, const zkd_op *op, int watch,
                             const char *tag, uint64_t epoch, handler_kind hk, void *fn)
{
    engine *e = t->e;
    r->sink = SINK_TARGET;
    r->t = t;
    r->watch = watch && zkd__rq_is_read(op->kind);
    r->retry = zkd__rq_is_read(op->kind);
    r->hk = hk;
    r->fn = fn;
    r->epoch = epoch;
    int oom = !(r->own_path = strdup(op->path ? op->path : "/")) ||
              (tag && !(r->own_tag = strdup(tag)));
    if (!oom && op->data && op->len > 0) {
        oom = !(r->own_data = malloc((size_t)op->len));
        if (!oom)
            memcpy(r->own_data, op->data, (size_t)op->len);
    }
    if (!oom && op->kind == ZKD_OP_CREATE && op->acl) {
        oom = copy_acl(&r->own_acl, op->acl);
        r->op.acl = &r->own_acl;
    }
    if (oom) {
        free(r->own_path);
        free(r->own_tag);
        free(r->own_data);
        if (r->own_acl.data)
            deallocate_ACL_vector(&r->own_acl);
        free(r);
        return ZKD_ENOMEM;
    }
    r->op.path = r->own_path;
    if (op->data)
        r->op.data = op->len > 0 ? r->own_data : "";
    zkd_req *failed = NULL;
    pthread_mutex_lock(&e->mu);
    r->gen = e->gen;
    t->refs++;
    int rc = zkd__rq_submit_locked(e, r, &failed);
    if (rc)
        t->refs--;
    pthread_mutex_unlock(&e->mu);
    if (rc) {
        free(r->own_path);
        free(r->own_tag);
        free(r->own_data);
        if (r->own_acl.data)
            deallocate_ACL_vector(&r->own_acl);
        free(r);
    }
    zkd__rq_finish_list(failed);
    zkd__rq_poll_later(e);
    return rc;
}

int zkd__aget(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
              zkd_data_handler fn)
{
    zkd_op op = {.kind = ZKD_OP_GET, .path = path};
    return target_submit(t, &op, watch, tag, epoch, H_DATA, (void *)fn);
}

int zkd__achildren(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
                   zkd_children_handler fn)
{
    zkd_op op = {.kind = ZKD_OP_CHILDREN, .path = path};
    return target_submit(t, &op, watch, tag, epoch, H_CHILDREN, (void *)fn);
}

int zkd__aexists(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
                 zkd_stat_handler fn)
{
    zkd_op op = {.kind = ZKD_OP_EXISTS, .path = path};
    return target_submit(t, &op, watch, tag, epoch, H_STAT, (void *)fn);
}

int zkd__awrite(zkd_target *t, const zkd_op *op, const char *tag, uint64_t epoch,
                zkd_stat_handler fn)
{
    return zkd__awrite_early(t, op, tag, epoch, fn, NULL, NULL);
}

int zkd__awrite_early(zkd_target *t, const zkd_op *op, const char *tag, uint64_t epoch,
                      zkd_stat_handler fn, zkd_early_fn early, void *early_arg)
{
    if (op->kind != ZKD_OP_CREATE && op->kind != ZKD_OP_SET && op->kind != ZKD_OP_DELETE)
        return ZKD_EINVAL;
    return target_submit_early(t, op, tag, epoch, (void *)fn, early, early_arg);
}

int zkd__arequest(zkd_target *t, const zkd_op *op, const char *tag, uint64_t epoch,
                  zkd_result_handler fn)
{
    if (op->kind == ZKD_OP_MULTI || op->kind == ZKD_OP_CHECK)
        return ZKD_EINVAL;
    return target_submit(t, op, 0, tag, epoch, H_RESULT, (void *)fn);
}
