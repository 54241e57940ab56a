/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to the request layer (request.h is its interface), split by
 * concern:
 *   request.c         a request, its result, its release
 *   request_engine.c  one engine per client: its life and the session's events
 *   request_queue.c   the queue, the window, sending and completions
 *   request_watch.c   direct targets' watches: the C client's entries only
 *   request_watch_table.c  other targets' watches: a table behind one watcher
 *   request_retry.c   re-sending reads cut off by a connection loss
 *   request_batch.c   synchronous batches and the waiting calls
 *   request_target.c  targets and their inboxes
 *   request_early.c   targets' early hooks (answers and events on the completion thread)
 *
 * One engine per client, one mutex (e->mu) for all of its state: the queue,
 * the window, the targets' inboxes and reference counts, the batches' done
 * lists, and the armed watches (table and counts). Lock order: the client's own
 * mutex (held by zkd__post/zkd__after while they may run a drop function)
 * comes before e->mu, so nothing here posts, sets a timer or asks the
 * client anything that locks while holding e->mu. */
#ifndef ZKD_INTERNAL_REQUEST_IMPL_H
#define ZKD_INTERNAL_REQUEST_IMPL_H

#include <pthread.h>
#include <stdint.h>

#include "path_table.h"
#include "request.h"

typedef struct engine engine;
typedef struct wpath wpath;
typedef struct wreg wreg;

typedef enum { SINK_BATCH, SINK_TARGET } sink_kind;
typedef enum { H_DATA, H_CHILDREN, H_STAT, H_RESULT, H_EVENT } handler_kind;

struct zkd_req {
    zkd_req *next; /* in the queue, a batch's done list or a target's inbox */
    engine *e;
    zkd_op op;
    char *own_path, *own_data, *own_tag; /* a target's request owns its strings */
    struct ACL_vector own_acl;           /* and a CREATE's ACL (a deep copy) */
    int watch;
    int retry;    /* a read, re-sent after a connection loss */
    int nowait;   /* made on the loop thread: fail rather than wait for it */
    int queued;   /* in e's queue */
    unsigned gen; /* target requests: the session they were made in */
    int attempts;
    sink_kind sink;
    zkd_batch *b;
    void *tag;
    zkd_target *t;
    handler_kind hk;
    void *fn;
    uint64_t epoch;
    int ev_type; /* H_EVENT */
    wpath *wp;   /* a table target's watched read in flight: in wp->inflight */
    const struct String_vector *zkids; /* CHILDREN: the C client's, taken after the early hook */
    zkd_early_fn early; /* zkd__awrite_early: told on the completion thread */
    void *early_arg;
    int zrc, nomem;
    zkd_result res;
    zoo_op_result_t *zres; /* MULTI: written by the client library */
    struct Stat *zstats;
    char **zpaths;
};

struct zkd_batch {
    engine *e;
    pthread_cond_t cv;
    int refs;      /* the waiter plus one per request not yet released */
    int abandoned; /* the waiter left: answers are dropped */
    int nowait;
    zkd_req *head, *tail;
};

struct wreg { /* one target's armed watches on one path */
    wreg *pnext;         /* the path's next registration */
    wreg *tnext, **tprev; /* in the target's list */
    wpath *p;
    zkd_target *t;
    unsigned kinds;
};

struct wpath {
    zkd__plink link; /* first: in the engine's table; link.path is path */
    wreg *regs;
    int inflight; /* watched reads of this path sent and not yet answered */
    char path[];
};

struct zkd_target {
    engine *e;
    void *owner; /* NULL once cancelled */
    zkd_watch_handler on_watch;
    int refs;    /* the owner, each request, a posted job */
    int posted;
    zkd_req *head, *tail; /* answers and events to run on the loop */
    /* Requests of this target at the ZooKeeper client, and answers held in
     * the inbox unposted: while many are in flight (a cold load, a
     * recovery) the loop is woken once per INBOX_BATCH answers, not once
     * per answer, since each wake-up costs two system calls on two threads
     * (a third of a cold load's CPU); an answer that leaves fewer in flight
     * posts at once, so a lone read is never held. */
    int flying, held;
    wreg *regs;  /* table targets: the watches armed */
    int direct;  /* made by zkd__target_new_direct (request_watch.c) */
    zkd_target *post_next;
    zkd_early_handler early; /* request_early.c */
    int early_busy;          /* hooks running now */
    pthread_cond_t early_cv; /* zkd__target_cancel waits there for them */
    zkd_target *tnext, **tprev; /* in e->targets */
    /* The ZooKeeper client names the target as its watches' context: it is
     * freed only once no watch can name it (request_watch.c). `armed`
     * counts watches on the current handle, at least as many as there
     * are; `old_held`: it may be named on an expired handle not yet closed. */
    int armed;
    int old_held;
};

struct engine {
    engine *next_engine; /* in the list of every client's engine */
    zkd_client *c;
    pthread_mutex_t mu;
    int refs; /* the client, each batch, each target */
    int dead; /* the client was torn down */
    int window, inflight, max_inflight, queued;
    int polling; /* a poll timer is set */
    zkd_req *qhead, *qtail;
    unsigned gen;
    zkd__ptable paths;   /* table targets' watched paths (wpath) */
    zkd_target *targets; /* every target not yet freed */
    long armed;          /* the sum of the targets' positive `armed` */
    zhandle_t *zh;       /* the handle the armed watches are on; NULL after an expiry */
    int old_open;        /* an expired handle may still name targets */
};

/* request.c */
int zkd__rq_is_read(zkd_op_kind k);
zkd_req *zkd__rq_new(engine *e, const zkd_op *op);
/* Frees a request and lets go of its batch or target. Not under e->mu. */
void zkd__rq_release(zkd_req *r);
void zkd__rq_release_list(zkd_req *r);
/* Under e->mu: nobody wants the answer any more. */
int zkd__rq_sink_gone(const zkd_req *r);

/* request_engine.c */
engine *zkd__rq_engine_get(zkd_client *c);
void zkd__rq_engine_unref(engine *e);

/* request_queue.c */
void zkd__rq_queue_push(engine *e, zkd_req *r);
zkd_req *zkd__rq_queue_take(engine *e, int (*drop)(const zkd_req *r, const void *arg),
                            const void *arg);
void zkd__rq_pump_locked(engine *e, zkd_req **failed);
void zkd__rq_pump(engine *e);
void zkd__rq_poll_later(engine *e);
int zkd__rq_submit_locked(engine *e, zkd_req *r, zkd_req **failed);
void zkd__rq_finish(zkd_req *r);
void zkd__rq_finish_list(zkd_req *r);

/* request_watch_table.c */
wpath *zkd__rq_path_get(engine *e, const char *path);
void zkd__rq_path_put(engine *e, wpath *p);
void zkd__rq_reg_unlink(engine *e, wreg *g);
void zkd__rq_table_arm(engine *e, zkd_req *r);
int zkd__rq_table_forget(zkd_target *t, const char *path);
void zkd__rq_forget_all_watches(engine *e);
void zkd__rq_table_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx);

/* request_watch.c */
/* Under e->mu: a watched read was answered with `zrc` (`stale`: in an
 * older session). 1 when the caller, once it let go of e->mu and before
 * finishing r, must take the watch back (zkd__target_forget). */
int zkd__rq_watch_answered(engine *e, zkd_req *r, int zrc, int stale);
/* Under e->mu: the session expired; its handle's watches are no longer
 * counted, but their targets are kept until zkd__rq_watches_closed. */
void zkd__rq_watches_expired(engine *e);
/* Under e->mu: the expired handle is closed (with `all`: every handle, at
 * teardown): no watch names a target any more. Returns the targets that
 * can be freed now (a list by tnext), for zkd__rq_target_free_list. */
zkd_target *zkd__rq_watches_closed(engine *e, int all);
void zkd__rq_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx);

/* request_retry.c */
void zkd__rq_retry_later(zkd_req *r);

/* request_batch.c */
void zkd__rq_batch_unref(zkd_batch *b);

/* request_target.c */
int zkd__rq_inbox_push(zkd_target *t, zkd_req *r);
int zkd__rq_inbox_post(zkd_target *t);
void zkd__rq_target_run(void *arg);
void zkd__rq_target_drop(void *arg);
void zkd__rq_target_unref(zkd_target *t);
/* Under e->mu: nothing holds t and no watch names it: unlinks it, 1 when
 * the caller must free it (zkd__rq_target_free, once it let go of e->mu). */
int zkd__rq_target_unused(zkd_target *t);
void zkd__rq_target_free(zkd_target *t);
void zkd__rq_target_free_list(zkd_target *t);

/* request_early.c */
/* complete(): the answer to the target's early hook, else to the loop. */
void zkd__rq_early_answer(zkd_req *r);
/* The watcher, under e->mu: keeps a fired event for t's early hook (1),
 * on *list, to be run by zkd__rq_early_events once e->mu is let go. */
int zkd__rq_early_keep(zkd_target *t, zkd_req *ev, zkd_req **list);
void zkd__rq_early_events(zkd_req *list);
/* zkd__target_cancel, under e->mu, owner cleared: waits for running hooks. */
void zkd__rq_early_wait_locked(zkd_target *t);
void zkd__rq_early_free(zkd_target *t);

#endif
