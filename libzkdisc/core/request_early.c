/* SPDX-License-Identifier: Apache-2.0 */
/* Targets' early hooks: an answer or a watch event offered to the target's
 * owner on ZooKeeper's completion thread, before it is queued for the loop.
 * The owner may send its follow-up request right there: a cache re-reads
 * its children on a child event, and reads a new child's data as soon as
 * the children answer, so a create reaches its listener after one wait for
 * the dispatch thread (the listener's own) instead of three.
 *
 * A hook runs with the target held (early_busy): zkd__target_cancel waits
 * for it, so the owner cannot be freed under it. */
#include "request_impl.h"

#include "errors.h"

int zkd__target_set_early(zkd_target *t, zkd_early_handler fn)
{
    if (pthread_cond_init(&t->early_cv, NULL))
        return ZKD_ENOMEM;
    pthread_mutex_lock(&t->e->mu);
    t->early = fn;
    pthread_mutex_unlock(&t->e->mu);
    return 0;
}

/* Under e->mu: the owner, held for one hook, or NULL (none, or cancelled). */
static void *enter_locked(zkd_target *t)
{
    if (!t->early || !t->owner)
        return NULL;
    t->early_busy++;
    return t->owner;
}

static void leave(zkd_target *t)
{
    pthread_mutex_lock(&t->e->mu);
    if (--t->early_busy == 0)
        pthread_cond_broadcast(&t->early_cv);
    pthread_mutex_unlock(&t->e->mu);
}

/* A children answer's names into its result (sorted), taken from the C
 * client's reply, which frees the emptied list as the completion returns:
 * a load of 100,000 names holds one set of them at its peak, not two. */
static void take_names(zkd_req *r)
{
    if (!r->zkids)
        return;
    zkd__strings_take(&r->res.children, (struct String_vector *)r->zkids);
    r->zkids = NULL;
}

void zkd__rq_early_answer(zkd_req *r)
{
    /* t->early is set before t's first request is sent (under e->mu), so
     * it is read here without the lock. */
    zkd_target *t = r->sink == SINK_TARGET && zkd__rq_is_read(r->op.kind) ? r->t : NULL;
    void *owner = NULL;
    if (t && t->early) {
        pthread_mutex_lock(&r->e->mu);
        owner = enter_locked(t);
        pthread_mutex_unlock(&r->e->mu);
    }
    if (!owner) {
        take_names(r);
        zkd__rq_finish(r);
        return;
    }
    zkd_early ev = {.path = r->op.path, .kind = r->op.kind, .tag = r->own_tag,
                    .epoch = r->epoch, .rc = zkd__req_rc(r), .names = r->zkids,
                    .st = &r->res.stat};
    int taken = t->early(owner, &ev);
    leave(t);
    if (!taken)
        take_names(r);
    if (taken)
        zkd__rq_release(r);
    else
        zkd__rq_finish(r);
}

int zkd__rq_early_keep(zkd_target *t, zkd_req *ev, zkd_req **list)
{
    if (!t->early || !t->owner)
        return 0;
    t->early_busy++; /* its hook runs once e->mu is let go */
    ev->next = *list;
    *list = ev;
    return 1;
}

void zkd__rq_early_events(zkd_req *list)
{
    for (zkd_req *next, *ev = list; ev; ev = next) {
        next = ev->next;
        ev->next = NULL;
        zkd_target *t = ev->t;
        pthread_mutex_lock(&ev->e->mu);
        void *owner = t->owner; /* NULL: cancelled meanwhile */
        pthread_mutex_unlock(&ev->e->mu);
        zkd_early x = {.event = ev->ev_type, .path = ev->own_path};
        int taken = owner && t->early(owner, &x);
        leave(t);
        if (taken)
            zkd__rq_release(ev);
        else
            zkd__rq_finish(ev);
    }
}

void zkd__rq_early_wait_locked(zkd_target *t)
{
    while (t->early_busy)
        pthread_cond_wait(&t->early_cv, &t->e->mu);
}

void zkd__rq_early_free(zkd_target *t)
{
    if (t->early)
        pthread_cond_destroy(&t->early_cv);
}
