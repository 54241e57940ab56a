/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: the library's own thread, an event loop of jobs and timers.
 * ZooKeeper's completion thread only posts jobs here and returns; every user
 * callback, every retry and every blocking handle operation (closing or
 * reopening a ZooKeeper handle) runs on this thread instead. Nothing on it
 * waits for the network: what must wait is a timer or a later job.
 * Timers run on CLOCK_MONOTONIC. */
#ifndef ZKD_INTERNAL_LOOP_H
#define ZKD_INTERNAL_LOOP_H

#include <pthread.h>
#include <stdint.h>

typedef struct zkd_loop zkd_loop;
typedef struct zkd_timer zkd_timer;
typedef void (*zkd_job_fn)(void *arg);

/* Starts the thread (its id in *thread_out). `on_exit(ctx)` runs on the
 * thread as its last act, after the queue is stopped, whichever thread
 * asked for the stop. */
int zkd__loop_start(zkd_loop **out, zkd_job_fn on_exit, void *ctx, pthread_t *thread_out);

/* Queues fn(arg). ZKD_ECLOSED when the loop is stopped, ZKD_ENOMEM: then
 * nothing is called (the caller drops, outside its own locks). A job still
 * queued when the thread stops is dropped on the thread: drop(arg) runs
 * (when not NULL). Never blocks. */
int zkd__loop_post(zkd_loop *l, zkd_job_fn fn, zkd_job_fn drop, void *arg);

/* Runs fn(arg) on the loop thread `delay_ms` from now (0: after the jobs
 * already queued). A timer still pending when the loop stops is dropped:
 * drop(arg) runs on the thread. Returns the timer, or NULL when the loop is
 * stopped or memory ran out (nothing is called then). Any thread. */
zkd_timer *zkd__loop_after(zkd_loop *l, int64_t delay_ms, zkd_job_fn fn, zkd_job_fn drop,
                           void *arg);

/* Loop thread only: cancels a timer that has not run yet; neither fn nor
 * drop is called. Passing a timer that already ran is a bug (a timer's fn
 * should clear its owner's pointer to it first). NULL is ignored. */
void zkd__loop_cancel(zkd_loop *l, zkd_timer *t);

/* True when called on the loop thread itself. */
int zkd__loop_on_thread(const zkd_loop *l);

/* Stops the thread. From another thread: waits for it (on_exit has run when
 * this returns) and frees `l`. From the loop thread itself: returns at
 * once; the thread finishes the current job, runs on_exit, frees `l` and
 * exits on its own. */
void zkd__loop_stop(zkd_loop *l);

#endif
