/* SPDX-License-Identifier: Apache-2.0 */
/* What a tree watch (tree/watch.c), a service cache (discovery/cache.c) and
 * a config watch (config/config_watch.c) share: one lifetime.
 *
 * - A request-layer target for their reads and watch events, and a session
 *   subscription; both deliver on the dispatch thread.
 * - A reference on the client, so the observer may be closed before or
 *   after it.
 * - A close that takes effect on the dispatch thread (or on the closing
 *   thread once the client's loop is gone, when nothing of ours can run):
 *   the target is cancelled and the subscription ended there, so no reply,
 *   event or session change reaches the observer afterwards. Closed from
 *   inside one of its own handlers (its listener closing it), the memory
 *   goes when that handler returns: every handler is bracketed by
 *   zkd__observer_enter and zkd__observer_leave.
 * - A "ready" flag its opener and readers wait on, under `mu`, which also
 *   guards whatever else the module serves to other threads. */
#ifndef ZKD_INTERNAL_OBSERVER_H
#define ZKD_INTERNAL_OBSERVER_H

#include <pthread.h>
#include <stdatomic.h>

#include "request.h"

typedef struct zkd__observer zkd__observer;

struct zkd__observer {
    zkd_client *c;
    zkd_target *target; /* NULL once closed */
    int sub_id;         /* -1: none */
    int depth;          /* dispatch thread: our handlers on the stack */
    int closed;         /* dispatch thread: cut off; freed when depth is back to 0 */
    _Atomic int closing; /* the user closed it (any thread): tell nobody any more */
    void (*on_close)(zkd__observer *o); /* the module's own, before the target goes; may be NULL */
    void (*free_fn)(zkd__observer *o);  /* frees the module's object (zkd__observer_free) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;
};

/* Sets o up for the module object `owner` (o lies inside it): a client
 * reference, the target (events to on_watch) and the subscription. 0, or
 * ZKD_ENOMEM / ZKD_ECLOSED with nothing left to undo but the module's own
 * memory. */
int zkd__observer_open(zkd__observer *o, zkd_client *c, void *owner, zkd_watch_handler on_watch,
                       zkd_session_fn on_session, void (*free_fn)(zkd__observer *o));

/* The start job, on the dispatch thread (at once when called there). 0, or
 * ZKD_ECLOSED: then close the observer. */
int zkd__observer_start(zkd__observer *o, void (*start)(void *owner), void *owner);

/* Around every handler (reply, event, session, job) that may call the
 * listener. leave returns 1 when the observer was closed meanwhile and is
 * freed: the caller returns without touching it. */
void zkd__observer_enter(zkd__observer *o);
int zkd__observer_leave(zkd__observer *o);

/* Any thread, once: see above. */
void zkd__observer_close(zkd__observer *o);

/* Readers: ready (it wakes zkd__observer_wait_ready), and waiting for it;
 * 1 ready, 0 at the timeout. */
void zkd__observer_set_ready(zkd__observer *o);
int zkd__observer_wait_ready(zkd__observer *o, int timeout_ms);

/* The end of the module's free_fn: frees `object` (which holds o) and lets
 * go of the client. */
void zkd__observer_free(zkd__observer *o, void *object);

#endif
