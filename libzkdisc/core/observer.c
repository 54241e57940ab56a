/* SPDX-License-Identifier: Apache-2.0 */
/* The lifetime shared by watches, caches and config watches (observer.h). */
#include "observer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "errors.h"
#include "session.h"
#include "snapshot_store.h"

void zkd__observer_hold(zkd__observer *o)
{
    atomic_fetch_add(&o->refs, 1);
}

void zkd__observer_release(zkd__observer *o)
{
    if (atomic_fetch_sub(&o->refs, 1) == 1)
        o->free_fn(o);
}

/* The client's teardown, after its handle is closed: no reply or event can
 * reach the target any more, so its memory may return now. */
static void at_teardown(void *arg)
{
    zkd__observer *o = arg;
    zkd__target_cancel(o->target);
    o->target = NULL;
    if (o->on_teardown)
        o->on_teardown(o);
    zkd__observer_release(o);
}

void zkd__observer_init(zkd__observer *o, zkd_client *c, void (*free_fn)(zkd__observer *o))
{
    o->c = c;
    o->sub_id = -1;
    o->free_fn = free_fn;
    atomic_init(&o->refs, 1);
    pthread_mutex_init(&o->mu, NULL);
    zkd__cond_init(&o->cv);
    zkd__client_ref(c);
}

/* Why something could not be made: the client closing, else memory. */
static int refused(zkd_client *c)
{
    return zkd__closing(c) ? ZKD_ECLOSED : ZKD_ENOMEM;
}

int zkd__observer_attach(zkd__observer *o, void *owner, zkd_watch_handler on_watch,
                         zkd_early_handler early, zkd_session_fn on_session)
{
    zkd_client *c = o->c;
    if (zkd__at_teardown(c, at_teardown, o) != 0)
        return refused(c);
    o->hooked = 1;
    zkd__observer_hold(o); /* the hook's */
    o->target = o->direct ? zkd__target_new_direct(c, owner, on_watch)
                          : zkd__target_new(c, owner, on_watch);
    if (!o->target || (early && zkd__target_set_early(o->target, early) != 0))
        return refused(c);
    if (zkd_session_subscribe(c, on_session, owner, &o->sub_id, NULL) != 0) {
        o->sub_id = -1;
        return refused(c);
    }
    return 0;
}

int zkd__observer_open(zkd__observer *o, zkd_client *c, void *owner, zkd_watch_handler on_watch,
                       zkd_session_fn on_session, void (*free_fn)(zkd__observer *o))
{
    zkd__observer_init(o, c, free_fn);
    return zkd__observer_attach(o, owner, on_watch, NULL, on_session);
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
    zkd__observer_hold(o);
}

int zkd__observer_leave(zkd__observer *o)
{
    int closed = o->closed;
    zkd__observer_release(o);
    return closed;
}

static void close_here(void *arg)
{
    zkd__observer *o = arg;
    if (o->closed)
        return;
    o->closed = 1;
    if (o->on_close)
        o->on_close(o);
    /* Still set during a handler of ours (the answer being handled holds
     * it), which may go on sending into the cancelled target. */
    zkd__target_cancel(o->target);
    if (o->sub_id >= 0)
        zkd_session_unsubscribe(o->c, o->sub_id);
    o->sub_id = -1;
    if (o->hooked && zkd__teardown_cancel(o->c, at_teardown, o))
        zkd__observer_release(o); /* the hook's */
    zkd__observer_release(o);     /* the handle's */
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

/* ---- snapshot persistence ----------------------------------------------------- */

int zkd__observer_persist(zkd__observer *o, const char *kind, const char *noun, const char *name)
{
    if (!zkd__snapshot_dir(o->c))
        return 0;
    size_t n = strlen(noun) + strlen(name) + 2;
    o->store_name = zkd__store_name(o->c, kind, name);
    o->store_what = malloc(n);
    if (!o->store_name || !o->store_what) {
        zkd__observer_unpersist(o);
        return ZKD_ENOMEM;
    }
    snprintf(o->store_what, n, "%s %s", noun, name);
    return 0;
}

void zkd__observer_unpersist(zkd__observer *o)
{
    free(o->store_name);
    free(o->store_what);
    o->store_name = o->store_what = NULL;
}

void zkd__observer_store(zkd__observer *o, const char *text, size_t len)
{
    zkd_error err;
    if (!o->store_name)
        return;
    if (!text)
        zkd__log(o->c, ZKD_LOG_WARN, "out of memory writing the snapshot of %s", o->store_what);
    else if (zkd__store_write(zkd__snapshot_dir(o->c), o->store_name, text, len, &err))
        zkd__log(o->c, ZKD_LOG_WARN, "cannot write the snapshot of %s: %s", o->store_what,
                 err.message);
}

char *zkd__observer_load(zkd__observer *o, size_t max, size_t *len)
{
    char *text = NULL;
    zkd_error err;
    if (!o->store_name)
        return NULL;
    int rc = zkd__store_read(zkd__snapshot_dir(o->c), o->store_name, max, &text, len, &err);
    if (rc && rc != ZKD_ENOTFOUND)
        zkd__log(o->c, ZKD_LOG_WARN, "ignoring the snapshot of %s: %s", o->store_what, err.message);
    return rc ? NULL : text;
}

void zkd__observer_load_refused(zkd__observer *o, const char *why)
{
    zkd__log(o->c, ZKD_LOG_WARN, "ignoring the snapshot of %s: %s/%s: %s", o->store_what,
             zkd__snapshot_dir(o->c), o->store_name, why);
}

void zkd__observer_unstore(zkd__observer *o)
{
    zkd_error err;
    if (o->store_name && zkd__store_remove(zkd__snapshot_dir(o->c), o->store_name, &err))
        zkd__log(o->c, ZKD_LOG_WARN, "cannot remove the snapshot of %s: %s", o->store_what,
                 err.message);
}

void zkd__observer_free(zkd__observer *o, void *object)
{
    zkd_client *c = o->c;
    zkd__observer_unpersist(o);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->cv);
    free(object);
    zkd__client_unref(c);
}
