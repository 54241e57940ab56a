/* SPDX-License-Identifier: Apache-2.0 */
/* What a tree watch (tree/watch.c), a service cache (discovery/cache.c) and
 * a config watch (config/config_watch.c) share: one lifetime.
 *
 * - A request-layer target for their reads and watch events, and a session
 *   subscription; both deliver on the dispatch thread.
 * - A reference on the client, so the observer may be closed before or
 *   after it.
 * - The client's teardown (a client closed first) cancels the target, so
 *   its memory returns at once; the observer's waits for its close.
 * - A close that takes effect on the dispatch thread (or on the closing
 *   thread once the client's loop is gone, when nothing of ours can run):
 *   the target is cancelled and the subscription ended there, so no reply,
 *   event or session change reaches the observer afterwards.
 * - References: the user's handle, the teardown hook, each handler running
 *   (zkd__observer_enter/leave: a listener may close its own observer) and
 *   each job the module posted (hold/release). The memory goes with the
 *   last.
 * - A "ready" flag its opener and readers wait on, under `mu`, which also
 *   guards whatever else the module serves to other threads.
 * - Optionally, its state on disk (zkd__observer_persist): one file in the
 *   client's snapshot directory, written, read and removed with the same
 *   log lines for every module; the module says what the text is and when
 *   to write it. */
#ifndef ZKD_INTERNAL_OBSERVER_H
#define ZKD_INTERNAL_OBSERVER_H

#include <pthread.h>
#include <stdatomic.h>

#include "request.h"

typedef struct zkd__observer zkd__observer;

struct zkd__observer {
    zkd_client *c;
    zkd_target *target; /* NULL once the client's teardown took it */
    int sub_id;         /* -1: none */
    _Atomic int refs;
    int closed;          /* dispatch thread: cut off */
    int hooked;          /* the teardown hook is set */
    int direct;          /* set before attach: zkd__target_new_direct (request.h) */
    _Atomic int closing; /* the user closed it (any thread): tell nobody any more */
    /* The module's own, may be NULL: on_close on the dispatch thread before
     * the target goes (timers, forgetting watches); on_teardown with it. */
    void (*on_close)(zkd__observer *o);
    void (*on_teardown)(zkd__observer *o);
    void (*free_fn)(zkd__observer *o); /* frees the module's object (zkd__observer_free) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;
    char *store_name; /* its snapshot file (snapshot_store.h), or NULL */
    char *store_what; /* what the file holds, for log lines: "service NAME" */
};

/* Sets o up (o lies inside the module's object): a reference on the client
 * and one for the user's handle. Then zkd__observer_attach for an observer
 * of ZooKeeper (a static cache has neither target nor subscription). */
void zkd__observer_init(zkd__observer *o, zkd_client *c, void (*free_fn)(zkd__observer *o));

/* The teardown hook, the target for `owner` (events to on_watch, answers
 * and events first to `early` when not NULL: request.h), then the session
 * subscription (on_close, on_teardown set beforehand). 0, or ZKD_ENOMEM /
 * ZKD_ECLOSED: then zkd__observer_close undoes what was made. */
int zkd__observer_attach(zkd__observer *o, void *owner, zkd_watch_handler on_watch,
                         zkd_early_handler early, zkd_session_fn on_session);

/* Both. */
int zkd__observer_open(zkd__observer *o, zkd_client *c, void *owner, zkd_watch_handler on_watch,
                       zkd_session_fn on_session, void (*free_fn)(zkd__observer *o));

/* The start job, on the dispatch thread (at once when called there). 0, or
 * ZKD_ECLOSED: then close the observer. */
int zkd__observer_start(zkd__observer *o, void (*start)(void *owner), void *owner);

/* Around every handler (reply, event, session, job) that may call the
 * listener. leave returns 1 when the observer was closed meanwhile (and may
 * be freed): the caller returns without touching it. */
void zkd__observer_enter(zkd__observer *o);
int zkd__observer_leave(zkd__observer *o);

/* A reference for a posted job, and its end (which may free). */
void zkd__observer_hold(zkd__observer *o);
void zkd__observer_release(zkd__observer *o);

/* Any thread, once: see above. */
void zkd__observer_close(zkd__observer *o);

/* Readers: ready (it wakes zkd__observer_wait_ready), and waiting for it;
 * 1 ready, 0 at the timeout. */
void zkd__observer_set_ready(zkd__observer *o);
int zkd__observer_wait_ready(zkd__observer *o, int timeout_ms);

/* Snapshot persistence, with o->c set: the file of `kind` and `name`
 * (zkd__store_name); `noun` names the state in log lines ("service"). 0
 * also without a snapshot directory (then nothing is stored), or
 * ZKD_ENOMEM. zkd__observer_unpersist frees what it made (observer_free
 * does too). */
int zkd__observer_persist(zkd__observer *o, const char *kind, const char *noun, const char *name);
void zkd__observer_unpersist(zkd__observer *o);

/* Writes text[0..len) as the file; a failure (text NULL: out of memory) is
 * logged. Nothing without a file. */
void zkd__observer_store(zkd__observer *o, const char *text, size_t len);

/* The file's text, NUL-terminated after *len bytes (the caller frees it),
 * or NULL: no file, none written yet, or one that cannot be read (logged,
 * as is one larger than max bytes). */
char *zkd__observer_load(zkd__observer *o, size_t max, size_t *len);

/* Logs that the file read is not usable, and why. */
void zkd__observer_load_refused(zkd__observer *o, const char *why);

/* Removes the file (the state is gone); a failure is logged. */
void zkd__observer_unstore(zkd__observer *o);

/* The end of the module's free_fn: frees `object` (which holds o) and lets
 * go of the client. */
void zkd__observer_free(zkd__observer *o, void *object);

#endif
