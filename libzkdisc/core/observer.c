/* SPDX-License-Identifier: Apache-2.0 */
/* The lifetime shared by watches, caches and config watches (observer.h). */
#include "observer.h"

#include <stdlib.h>

#include "clock.h"
#include "errors.h"
#include "session.h"

int zkd__observer_open(zkd__observer *o, zkd_client *c, void *owner, zkd_watch_handler on_watch,
                       zkd_session_fn on_session, void (*free_fn)(zkd__observer *o))
{
    o->c = c;
    o->sub_id = -1;
    o->free_fn = free_fn;
    pthread_mutex_init(&o->mu, NULL);
    zkd__cond_init(&o->cv);
    zkd__client_ref(c);
    if (!(o->target = zkd__target_new(c, owner, on_watch)))
        return zkd__closing(c) ? ZKD_ECLOSED : ZKD_ENOMEM;
    if (zkd_session_subscribe(c, on_session, owner, &o->sub_id, NULL) != 0) {
        o->sub_id = -1;
        return zkd__closing(c) ? ZKD_ECLOSED : ZKD_ENOMEM;
    }
    return 0;
}

int zkd__observer_start(zkd__observer *o, void (*start)(void *owner), void *owner)
{
    if (zkd__on_dispatch_thread(o->c)) {
        start(owner);
        return 0;
    }
    return zkd__post(o->c, start, NULL, owner) ? ZKD_ECLOSED : 0;
}

void zkd__observer_enter(zkd__observer *o)
{
    o->depth++;
}

int zkd__observer_leave(zkd__observer *o)
{
    if (--o->depth || !o->closed)
        return 0;
    o->free_fn(o);
    return 1;
}

static void close_here(void *arg)
{
    zkd__observer *o = arg;
    if (o->closed)
        return;
    o->closed = 1;
    if (o->on_close)
        o->on_close(o);
    zkd__target_cancel(o->target);
    o->target = NULL;
    if (o->sub_id >= 0)
        zkd_session_unsubscribe(o->c, o->sub_id);
    o->sub_id = -1;
    if (!o->depth)
        o->free_fn(o);
}

void zkd__observer_close(zkd__observer *o)
{
    atomic_store(&o->closing, 1);
    zkd__run_on_dispatch(o->c, close_here, close_here, o);
}

void zkd__observer_set_ready(zkd__observer *o)
{
    pthread_mutex_lock(&o->mu);
    o->ready = 1;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

int zkd__observer_wait_ready(zkd__observer *o, int timeout_ms)
{
    struct timespec dl = zkd__deadline(timeout_ms);
    pthread_mutex_lock(&o->mu);
    while (!o->ready && pthread_cond_timedwait(&o->cv, &o->mu, &dl) == 0)
        ;
    int ready = o->ready;
    pthread_mutex_unlock(&o->mu);
    return ready;
}

void zkd__observer_free(zkd__observer *o, void *object)
{
    zkd_client *c = o->c;
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->cv);
    free(object);
    zkd__client_unref(c);
}
