/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: the one request layer. Every ZooKeeper request the library makes
 * (reads, writes, multi, setACL, the walk's reads, the watches' re-reads)
 * goes through one asynchronous engine per client:
 *
 * - One window: at most `window` requests are in flight per client; more
 *   wait in a FIFO queue, and nothing is sent while the session is not
 *   connected (the queue is sent when it is).
 * - One retry rule: a read cut off by a connection loss is sent again, with
 *   backoff (loop timers), as long as its caller waits (a deadline) or, for
 *   a target's read, as long as its session lives. A write is never sent
 *   twice: a lost reply is ZKD_ECONNLOSS, "outcome unknown", and the caller
 *   resolves it by reading. A request that could not be sent at all stays
 *   queued.
 * - Results go either to a waiting caller (zkd__call, zkd__call_batch, a
 *   zkd_batch) or, for a target, to its inbox: one job per target on the
 *   loop drains replies and watch events in the order they arrived.
 * - Watches: a target's watch events are kept per target (at most one per
 *   armed watch), so the loop's queue holds at most one job per live target
 *   whatever the event rate.
 *
 * ZooKeeper's completion thread only copies a result, hands it over and
 * sends queued requests into the room it left; it never waits. */
#ifndef ZKD_INTERNAL_REQUEST_H
#define ZKD_INTERNAL_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <zkdisc/node.h>
#include <zookeeper/zookeeper.h>

typedef enum zkd_op_kind {
    ZKD_OP_GET,
    ZKD_OP_CHILDREN,
    ZKD_OP_EXISTS,
    ZKD_OP_CREATE,
    ZKD_OP_SET,
    ZKD_OP_DELETE,
    ZKD_OP_CHECK,   /* inside a MULTI only: the node has `version` */
    ZKD_OP_MULTI,   /* ops[0..nops): CREATE, SET, DELETE, CHECK; all or none */
    ZKD_OP_SET_ACL, /* `acl` on `path`, any version */
    ZKD_OP_GET_ACL, /* a read: the ACL and Stat of `path` into res->acl */
    ZKD_OP_SYNC     /* the server catches up with the leader for `path` */
} zkd_op_kind;

typedef struct zkd_op {
    zkd_op_kind kind;
    const char *path; /* MULTI: unused */
    const char *data; /* CREATE, SET */
    int len;
    int version;      /* SET, DELETE, CHECK: -1 for any */
    int flags;        /* CREATE: ZOO_EPHEMERAL, ... */
    const struct ACL_vector *acl; /* CREATE: NULL for open; SET_ACL: the ACL */
    const struct zkd_op *ops;     /* MULTI */
    int nops;
} zkd_op;

/* What came back; owned by the caller, released with zkd__result_clear. */
typedef struct zkd_result {
    zkd_stat stat;
    char *data;           /* GET: NUL-terminated copy, NULL if none */
    int len;              /* GET: -1 when the node has no data */
    zkd_strings children; /* CHILDREN */
    char *created;        /* CREATE: the path the server created */
    int *op_zrcs;         /* MULTI: each op's ZooKeeper code (nops of them) */
    int failed;           /* MULTI: index of the op that failed, -1 for none */
    zkd_acl_entry *acl;   /* GET_ACL: acl_count entries, strings owned (zkd__acl_free) */
    size_t acl_count;
} zkd_result;

/* ---- waiting callers ----------------------------------------------------- */

/* Sends `op`, waits up to the client's request timeout (monotonic), and
 * returns 0 or a ZKD_E* code with a message naming the operation and path.
 * `res` may be NULL when nothing but success matters. A MULTI that failed
 * returns the failing op's code (res->failed says which). */
int zkd__call(zkd_client *c, const zkd_op *op, zkd_result *res, zkd_error *err);

/* Pipelined: queues all `n` ops at once, then waits for all under one
 * deadline (the request timeout). rcs[i] receives each op's ZKD_E* code and
 * res[i] (when res is not NULL) its results. Returns 0 when every op got an
 * answer (even an error answer), else ZKD_ETIMEDOUT, ZKD_ECLOSED or what
 * kept the ops from being queued, with a message in err. On the loop thread
 * (a callback) nothing is waited for that needs the loop: ZKD_ECONNLOSS at
 * once when the session is down, and reads are not re-sent. */
int zkd__call_batch(zkd_client *c, const zkd_op *ops, size_t n, zkd_result *res, int *rcs,
                    zkd_error *err);

/* A set of requests answered to one waiting thread, in any order: the walk
 * keeps a window of them and takes answers as they come. */
typedef struct zkd_batch zkd_batch;
typedef struct zkd_req zkd_req;

/* NULL when out of memory or the client is closed. */
zkd_batch *zkd__batch_new(zkd_client *c);

/* Queues `op` (its strings and data are the caller's and must stay valid
 * until it is answered or the batch is freed). `tag` comes back with the
 * answer. 0, or ZKD_ENOMEM, ZKD_ECLOSED, or on the loop thread ZKD_ECONNLOSS
 * when the session is down. */
int zkd__batch_add(zkd_batch *b, const zkd_op *op, void *tag);

/* Waits until some requests are answered or the monotonic deadline (ms, as
 * zkd__now_ms) passes; returns the answered ones as a list (zkd__req_next),
 * each to be released with zkd__req_free, or NULL at the deadline. */
zkd_req *zkd__batch_wait(zkd_batch *b, int64_t deadline_ms);

/* Abandons what is still outstanding (its answers are dropped) and frees. */
void zkd__batch_free(zkd_batch *b);

zkd_req *zkd__req_next(const zkd_req *r);
void *zkd__req_tag(const zkd_req *r);
const zkd_op *zkd__req_op(const zkd_req *r);
int zkd__req_rc(const zkd_req *r);     /* 0 or ZKD_E* */
int zkd__req_zrc(const zkd_req *r);    /* ZooKeeper's code */
zkd_result *zkd__req_result(zkd_req *r); /* the caller may take its pointers */
void zkd__req_free(zkd_req *r);

/* A message for a failed op (as zkd__call writes it); returns `code`. */
int zkd__describe(zkd_client *c, const zkd_op *op, int zrc, zkd_error *err);

/* ---- targets: results and watch events as jobs on the loop --------------- */

/* Completions and watches point at a "target", never at the module object
 * itself. Cancelling the target (when the module object goes away) makes
 * late results and events no-ops, and its memory returns once the last
 * answer in flight for it has come back. */
typedef struct zkd_target zkd_target;

/* A watch fired: ZOO_CREATED_EVENT, ZOO_DELETED_EVENT, ZOO_CHANGED_EVENT or
 * ZOO_CHILD_EVENT on `path`. Session events are not passed on (the module
 * subscribes to the session instead). */
typedef void (*zkd_watch_handler)(void *owner, int type, const char *path);

/* Results, on the loop thread. `rc` is 0 or a ZKD_E* code (a target's read
 * cut off by a connection loss is sent again; ZKD_EEXPIRED when its session
 * ended first); on success `data` (NUL-terminated, NULL when the node has
 * none, len -1) or `kids` is valid for the call only; the handler may take
 * kids' items by setting kids->items to NULL. `tag` is the caller's string,
 * echoed back (for a child's name, say). */
typedef void (*zkd_data_handler)(void *owner, const char *tag, uint64_t epoch, int rc,
                                 const char *data, int len, const zkd_stat *st);
typedef void (*zkd_children_handler)(void *owner, const char *tag, uint64_t epoch, int rc,
                                     zkd_strings *kids, const zkd_stat *st);
typedef void (*zkd_stat_handler)(void *owner, const char *tag, uint64_t epoch, int rc,
                                 const zkd_stat *st);
/* Any op but MULTI (zkd__arequest); the handler may take res's pointers. */
typedef void (*zkd_result_handler)(void *owner, const char *tag, uint64_t epoch, int rc,
                                   zkd_result *res);

/* A target for `owner`. NULL when out of memory or the client is closed. */
zkd_target *zkd__target_new(zkd_client *c, void *owner, zkd_watch_handler on_watch);

/* The same for an owner that forgets (zkd__target_forget) every watch it
 * no longer wants before it cancels, as a cache does: the layer then keeps
 * nothing per watched path (the ZooKeeper client's own entry names the
 * target). A watch left armed at the cancel keeps that entry, and the
 * target's memory, until it fires or the session ends. */
zkd_target *zkd__target_new_direct(zkd_client *c, void *owner, zkd_watch_handler on_watch);

/* From now on nothing reaches the owner; its queued requests are dropped.
 * Loop thread, or any thread once the client's loop is gone. Once. */
void zkd__target_cancel(zkd_target *t);

/* Removes, locally and without asking the server, the watches this target
 * holds on `path` (data, exists and child), so the ZooKeeper client no
 * longer re-sends them after a reconnect. Another target's watches on the
 * path stay (with zkd__target_new, the client's entry then stays too). A
 * direct target's watched read of `path` still in flight arms its watch
 * when answered. 0 also when there were none. */
int zkd__target_forget(zkd_target *t, const char *path);

/* About how many watches this client holds (what its ZooKeeper client
 * would re-send in one SetWatches after a reconnect): the paths watched
 * through zkd__target_new targets, plus direct targets' watches (a data
 * and a child watch on one path, or two direct targets' watches on it,
 * count two). Never fewer than there are; more when a direct target read
 * a path it already watched, or a deletion took a data and a child watch
 * of one at once (until the session ends). */
size_t zkd__watched_paths(zkd_client *c);

/* Queue a request; `watch` leaves a watch that reports to the target's
 * on_watch. Returns 0 (the handler will be called exactly once, unless the
 * target is cancelled first) or a ZKD_E* code when the request cannot be
 * queued (then the handler is never called). `path` and `tag` are copied. */
int zkd__aget(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
              zkd_data_handler fn);
int zkd__achildren(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
                   zkd_children_handler fn);
int zkd__aexists(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
                 zkd_stat_handler fn);
/* Any single op, writes included (sent once). `path`, `data` and a
 * CREATE's `acl` are copied. */
int zkd__arequest(zkd_target *t, const zkd_op *op, const char *tag, uint64_t epoch,
                  zkd_result_handler fn);

/* A write (ZKD_OP_CREATE, ZKD_OP_SET or ZKD_OP_DELETE; see call.h), its
 * result handled on the dispatch thread like a read's: `st` is the node's
 * stat after a create or a set. The op's strings are copied before this
 * returns. A write whose reply is lost reports ZKD_ECONNLOSS and may have
 * been applied: the caller resolves it by reading, never by re-sending. */
int zkd__awrite(zkd_target *t, const zkd_op *op, const char *tag, uint64_t epoch,
                zkd_stat_handler fn);

/* zkd__awrite, and early(early_arg, rc) on ZooKeeper's completion thread
 * right after the result is handed to the loop: for a waiting caller that
 * needs nothing but the outcome, one thread hop sooner. It must only
 * signal, never block or touch loop state. */
typedef void (*zkd_early_fn)(void *early_arg, int rc);
int zkd__awrite_early(zkd_target *t, const zkd_op *op, const char *tag, uint64_t epoch,
                      zkd_stat_handler fn, zkd_early_fn early, void *early_arg);

/* ---- a waiting caller's create, on its own thread --------------------------- */

enum { ZKD__NOT_SENT = 1 };

/* Creates `path` (open ACL, `flags` as zoo_create's) with the C client's
 * synchronous call on the caller's thread, one thread hop sooner than
 * zkd__call: 0 and the new node's stat in *st, a ZKD_E* code (as zkd__call
 * would give; ZKD_ECONNLOSS: outcome unknown), or ZKD__NOT_SENT when it
 * could not be sent that way (no session, requests queued, the window
 * full, or a session timeout beyond the request timeout): then use the
 * queue. Not on the loop thread. */
int zkd__create_now(zkd_client *c, const char *path, const char *data, int len, int flags,
                    zkd_stat *st);

/* A target's early hook: answers and watch events handed to the owner on
 * ZooKeeper's completion thread, before they would be queued for the loop,
 * so that a follow-up request goes out one thread hop sooner. */
typedef struct zkd_early {
    int event;          /* a watch fired: its type (ZOO_CHILD_EVENT, ...); 0 for an answer */
    const char *path;   /* the event's path, or the read's */
    zkd_op_kind kind;   /* an answer: the read's kind */
    const char *tag;    /* an answer: as zkd_data_handler's */
    uint64_t epoch;
    int rc;
    /* ZKD_OP_CHILDREN: the children as the server sent them, unsorted and
     * not yet copied (valid for the call): a hook that needs a few of them
     * need not wait for the copy and sort of all of them. */
    const struct String_vector *names;
    const zkd_stat *st;
} zkd_early;

/* Returns 1 when it took the answer or event (nothing reaches the loop for
 * it), 0 to have it handled on the loop as usual. It runs on ZooKeeper's
 * completion thread and may send requests (zkd__aget, ...), but must never
 * call user code or wait for the loop. It may take a lock of the owner's
 * that is never held while waiting for the loop or cancelling the target:
 * zkd__target_cancel waits for a hook that is running. */
typedef int (*zkd_early_handler)(void *owner, const zkd_early *ev);

/* Sets t's early hook, once, before any of t's requests is sent. */
int zkd__target_set_early(zkd_target *t, zkd_early_handler fn);

/* ---- helpers and test hooks ----------------------------------------------- */

void zkd__result_clear(zkd_result *res);

/* Frees entries[0..n) and their strings (as GET_ACL's result holds them). */
void zkd__acl_free(zkd_acl_entry *entries, size_t n);

/* Copies ZooKeeper's Stat into ours. */
void zkd__stat_copy(zkd_stat *dst, const struct Stat *src);

/* Copies and sorts a String_vector; returns ZKD_ENOMEM on failure. */
int zkd__strings_copy(zkd_strings *dst, const struct String_vector *src);

/* Takes src's strings and array (malloc'd by the C client) and sorts them;
 * src is left empty, so the client's deallocation after the completion
 * frees nothing. */
void zkd__strings_take(zkd_strings *dst, struct String_vector *src);

/* Tests: set the window (n > 0), and read the most requests ever in
 * flight at once, the requests in flight now, and the queue's length. */
void zkd__request_set_window(zkd_client *c, int n);
void zkd__request_stats(zkd_client *c, int *max_inflight, int *inflight, int *queued);

#endif
