/* SPDX-License-Identifier: Apache-2.0 */
/* Synchronous batches: requests answered to one waiting thread, and the
 * waiting calls built on them (zkd__call, zkd__call_batch). */
#include "request_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zkdisc/names.h>

#include "clock.h"
#include "errors.h"
#include "session.h"

zkd_batch *zkd__batch_new(zkd_client *c)
{
    zkd_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    if (!(b->e = zkd__rq_engine_get(c))) {
        free(b);
        return NULL;
    }
    zkd__cond_init(&b->cv);
    b->refs = 1;
    /* On the loop thread nothing that needs the loop (a retry's timer, the
     * next CONNECTED) can come while we wait. */
    b->nowait = zkd__on_dispatch_thread(c);
    return b;
}

void zkd__rq_batch_unref(zkd_batch *b)
{
    engine *e = b->e;
    pthread_mutex_lock(&e->mu);
    int last = --b->refs == 0;
    pthread_mutex_unlock(&e->mu);
    if (!last)
        return;
    pthread_cond_destroy(&b->cv);
    free(b);
    zkd__rq_engine_unref(e);
}

int zkd__batch_add(zkd_batch *b, const zkd_op *op, void *tag)
{
    engine *e = b->e;
    if (b->nowait && zkd_client_state(e->c) != ZKD_STATE_CONNECTED)
        return ZKD_ECONNLOSS;
    zkd_req *r = zkd__rq_new(e, op);
    if (!r)
        return ZKD_ENOMEM;
    r->sink = SINK_BATCH;
    r->b = b;
    r->tag = tag;
    r->nowait = b->nowait;
    r->retry = zkd__rq_is_read(op->kind) && !b->nowait;
    zkd_req *failed = NULL;
    pthread_mutex_lock(&e->mu);
    b->refs++;
    int rc = zkd__rq_submit_locked(e, r, &failed);
    if (rc)
        b->refs--;
    pthread_mutex_unlock(&e->mu);
    if (rc)
        free(r);
    zkd__rq_finish_list(failed);
    zkd__rq_poll_later(e);
    return rc;
}

zkd_req *zkd__batch_wait(zkd_batch *b, int64_t deadline_ms)
{
    engine *e = b->e;
    struct timespec dl = zkd__timespec_at(deadline_ms);
    pthread_mutex_lock(&e->mu);
    while (!b->head)
        if (pthread_cond_timedwait(&b->cv, &e->mu, &dl) == ETIMEDOUT)
            break;
    zkd_req *got = b->head;
    b->head = b->tail = NULL;
    pthread_mutex_unlock(&e->mu);
    return got;
}

static int in_batch(const zkd_req *r, const void *b)
{
    return r->sink == SINK_BATCH && r->b == b;
}

void zkd__batch_free(zkd_batch *b)
{
    if (!b)
        return;
    engine *e = b->e;
    pthread_mutex_lock(&e->mu);
    b->abandoned = 1;
    /* Not sent yet: never will be (their strings are the caller's). */
    zkd_req *queued = zkd__rq_queue_take(e, in_batch, b);
    zkd_req *done = b->head;
    b->head = b->tail = NULL;
    pthread_mutex_unlock(&e->mu);
    zkd__rq_release_list(queued);
    zkd__rq_release_list(done);
    zkd__rq_batch_unref(b);
}

/* ---- waiting callers --------------------------------------------------------------------------- */

static int check_paths(const zkd_op *op, zkd_error *err)
{
    if (op->kind != ZKD_OP_MULTI)
        return zkd_validate_path(op->path, err);
    for (int i = 0; i < op->nops; i++) {
        int rc = check_paths(&op->ops[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

static int describe_req(zkd_client *c, const zkd_op *op, zkd_req *r, zkd_error *err)
{
    int rc = zkd__req_rc(r);
    if (rc == ZKD_ENOMEM && r->zrc == ZOK)
        return zkd__fail(err, rc, "out of memory reading %s", op->path ? op->path : "/");
    if (op->kind == ZKD_OP_MULTI && r->res.failed >= 0)
        return zkd__describe(c, &op->ops[r->res.failed], r->res.op_zrcs[r->res.failed], err);
    return zkd__describe(c, op, r->zrc, err);
}

int zkd__call_batch(zkd_client *c, const zkd_op *ops, size_t n, zkd_result *res, int *rcs,
                    zkd_error *err)
{
    int writes = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = check_paths(&ops[i], err);
        if (rc)
            return rc;
        writes |= !zkd__rq_is_read(ops[i].kind);
    }
    for (size_t i = 0; res && i < n; i++) {
        memset(&res[i], 0, sizeof res[i]);
        res[i].failed = -1;
    }
    zkd_batch *b = zkd__batch_new(c);
    if (!b)
        return zkd__closing(c) ? zkd__fail(err, ZKD_ECLOSED, "the client is closed")
                               : zkd__fail(err, ZKD_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        if ((rc = zkd__batch_add(b, &ops[i], (void *)(uintptr_t)i)))
            rc = rc == ZKD_ECONNLOSS
                     ? zkd__fail(err, rc, "the connection to ZooKeeper at %s is down",
                                 zkd_client_connect_string(c))
                     : zkd__fail(err, rc, rc == ZKD_ECLOSED ? "the client is closed" : "out of memory");
    int timeout = zkd__request_timeout_ms(c);
    int64_t deadline = zkd__now_ms() + timeout;
    size_t answered = 0;
    int first_rc = 0;
    for (zkd_req *got; !rc && answered < n && (got = zkd__batch_wait(b, deadline));) {
        for (zkd_req *next; got; got = next) {
            next = got->next;
            size_t i = (size_t)(uintptr_t)got->tag;
            int r = zkd__req_rc(got);
            rcs[i] = r;
            if (r && !first_rc)
                first_rc = describe_req(c, &ops[i], got, err);
            if (res) {
                res[i] = got->res;
                memset(&got->res, 0, sizeof got->res);
                if (r && ops[i].kind != ZKD_OP_MULTI) /* a MULTI says which op failed */
                    zkd__result_clear(&res[i]);
            }
            zkd__req_free(got);
            answered++;
        }
        /* The timeout is for silence, not for the whole batch: a listing
         * of 100,000 that keeps being answered may take longer. */
        deadline = zkd__now_ms() + timeout;
    }
    zkd__batch_free(b);
    if (!rc && answered < n) {
        for (size_t i = 0; res && i < n; i++)
            zkd__result_clear(&res[i]);
        rc = zkd__fail(err, ZKD_ETIMEDOUT, "no answer from ZooKeeper at %s within %d ms%s",
                       zkd_client_connect_string(c), timeout,
                       writes ? " (the change may or may not have been made)" : "");
    }
    return rc;
}

int zkd__call(zkd_client *c, const zkd_op *op, zkd_result *res, zkd_error *err)
{
    int rc1 = 0;
    zkd_result tmp;
    int rc = zkd__call_batch(c, op, 1, res ? res : &tmp, &rc1, err);
    if (!res && !rc)
        zkd__result_clear(&tmp);
    return rc ? rc : rc1;
}
