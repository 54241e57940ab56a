/* Internal: the library's own thread. ZooKeeper's completion thread only
 * posts jobs here and returns; every user callback and every blocking step
 * (closing or reopening a ZooKeeper handle) runs on this thread instead. */
#ifndef ZKD_INTERNAL_DISPATCH_H
#define ZKD_INTERNAL_DISPATCH_H

typedef struct zkd_dispatch zkd_dispatch;
typedef void (*zkd_job_fn)(void *arg);

/* Starts the thread. `on_exit(ctx)` runs on the thread as its last act,
 * after the queue is stopped, whichever thread asked for the stop. */
int zkd__dispatch_start(zkd_dispatch **out, zkd_job_fn on_exit, void *ctx);

/* Queues fn(arg). If the queue is stopped, `drop(arg)` (when not NULL) is
 * called at once instead and ZKD_ECLOSED returned; a job still queued when
 * the thread stops is dropped the same way. Never blocks. */
int zkd__dispatch_post(zkd_dispatch *d, zkd_job_fn fn, zkd_job_fn drop, void *arg);

/* True when called on the dispatch thread itself. */
int zkd__dispatch_on_thread(const zkd_dispatch *d);

/* Stops the thread. From another thread: waits for it (on_exit has run when
 * this returns) and frees `d`. From the dispatch thread itself: returns at
 * once; the thread finishes the current job, runs on_exit, frees `d` and
 * exits on its own. */
void zkd__dispatch_stop(zkd_dispatch *d);

#endif
