/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: the client's session, as the library's modules see it. */
#ifndef ZKD_INTERNAL_SESSION_H
#define ZKD_INTERNAL_SESSION_H

#include <zkdisc/client.h>
#include <zookeeper/zookeeper.h>
#include "loop.h"

/* The current ZooKeeper handle, held under a read lock so it cannot be
 * swapped (after an expiry) or closed while a request is being issued.
 * Returns NULL (nothing held) when there is no live handle. Pair every
 * non-NULL result with zkd__zh_release. Hold it only to issue asynchronous
 * calls, never while waiting for their results. */
zhandle_t *zkd__zh_acquire(zkd_client *c);
void zkd__zh_release(zkd_client *c);

/* Runs fn(arg) on the client's loop thread (see loop.h for drop). */
int zkd__post(zkd_client *c, zkd_job_fn fn, zkd_job_fn drop, void *arg);

/* Runs fn(arg) on the loop thread delay_ms from now (monotonic); see
 * zkd__loop_after for drop and the result. zkd__cancel: loop thread only. */
zkd_timer *zkd__after(zkd_client *c, int64_t delay_ms, zkd_job_fn fn, zkd_job_fn drop, void *arg);
void zkd__cancel(zkd_client *c, zkd_timer *t);

/* Per-client module state, made once on first use by make(c) (which may
 * subscribe to the session and register teardown hooks). */
typedef enum zkd_slot { ZKD_SLOT_REGISTRY, ZKD_SLOT_CONFIG, ZKD_SLOT_COUNT } zkd_slot;
void *zkd__slot(zkd_client *c, zkd_slot which, void *(*make)(zkd_client *c));

/* Runs fn(arg) when the client is torn down, after its ZooKeeper handle is
 * closed (so no completion or watch can still arrive), newest first. Module
 * state that ZooKeeper callbacks may reference is freed this way. */
int zkd__at_teardown(zkd_client *c, zkd_job_fn fn, void *arg);

/* Forgets a hook added by zkd__at_teardown (the same fn and arg), for an
 * object closed before its client. 1 when found (fn will not run), 0 when
 * not (the client's teardown has taken it: fn has run or is running). */
int zkd__teardown_cancel(zkd_client *c, zkd_job_fn fn, void *arg);

/* References to the client's memory. zkd_close ends the session and tears
 * down module state, but the zkd_client struct lives until its last
 * reference goes: every open object holds one, so an object closed after
 * its client still finds the client (closing, its loop gone: posts are
 * dropped, zkd__run_on_dispatch runs `dropped` on the caller's thread). */
void zkd__client_ref(zkd_client *c);
void zkd__client_unref(zkd_client *c);

/* Runs fn(arg) on the dispatch thread and waits until it has run; on the
 * dispatch thread itself it runs at once. When the client is closing and
 * the job is dropped, dropped(arg) (if not NULL) runs instead and the wait
 * ends as well. This is how module objects are closed from any thread: on
 * the dispatch thread nothing of theirs can be running concurrently. */
void zkd__run_on_dispatch(zkd_client *c, zkd_job_fn fn, zkd_job_fn dropped, void *arg);

/* True on the client's dispatch thread. */
int zkd__on_dispatch_thread(const zkd_client *c);

/* True while zkd_close is tearing the client down. */
int zkd__closing(const zkd_client *c);

int zkd__request_timeout_ms(const zkd_client *c);

/* While connected, the ZooKeeper client re-resolves the connect string's
 * host names at most this often (and at once whenever it has no
 * connection). */
enum { ZKD_RESOLVE_EVERY_MS = 60000 };

/* 1 when the client authenticates with credentials. */
int zkd__client_has_auth(const zkd_client *c);

/* options.snapshot_dir (owned by the client), or NULL. */
const char *zkd__snapshot_dir(const zkd_client *c);

/* Waits up to timeout_ms for a connected session (0). On the dispatch
 * thread it does not wait: 0 when connected, else ZKD_ECONNLOSS. */
int zkd__wait_usable(zkd_client *c, int timeout_ms);

void zkd__log(zkd_client *c, zkd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The session's id and password, for the tests' forced-expiry trick. */
int zkd__client_id(zkd_client *c, clientid_t *out);

/* How many clients exist and are not yet torn down (for tests). */
int zkd__live_clients(void);

#endif
