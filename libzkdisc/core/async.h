/* Internal: asynchronous reads and watches whose results are handled on the
 * dispatch thread. ZooKeeper's completion thread only copies a result and
 * posts it; the handler runs later on the dispatch thread.
 *
 * Completions and watches point at a "target", never at the module object
 * itself: a target lives until the client is torn down, and cancelling it
 * (when the module object goes away) makes late results and events no-ops.
 * ZooKeeper never forgets a watch on its own, so nothing can dangle. */
#ifndef ZKD_INTERNAL_ASYNC_H
#define ZKD_INTERNAL_ASYNC_H

#include <stdint.h>
#include <zkdisc/node.h>

typedef struct zkd_target zkd_target;

/* A watch fired: ZOO_CREATED_EVENT, ZOO_DELETED_EVENT, ZOO_CHANGED_EVENT or
 * ZOO_CHILD_EVENT on `path`. Session events are not passed on (the module
 * subscribes to the session instead). */
typedef void (*zkd_watch_handler)(void *owner, int type, const char *path);

/* Results. `rc` is 0 or a ZKD_E* code; on success `data` (NUL-terminated,
 * NULL when the node has none, len -1) or `kids` is valid for the call only;
 * the handler may take kids' items by setting kids->items to NULL. `tag` is
 * the caller's string, echoed back (for a child's name, say). */
typedef void (*zkd_data_handler)(void *owner, const char *tag, uint64_t epoch, int rc,
                                 const char *data, int len, const zkd_stat *st);
typedef void (*zkd_children_handler)(void *owner, const char *tag, uint64_t epoch, int rc,
                                     zkd_strings *kids, const zkd_stat *st);
typedef void (*zkd_stat_handler)(void *owner, const char *tag, uint64_t epoch, int rc,
                                 const zkd_stat *st);

/* A target for `owner`; freed at client teardown. NULL when out of memory. */
zkd_target *zkd__target_new(zkd_client *c, void *owner, zkd_watch_handler on_watch);

/* Dispatch thread only: from now on nothing reaches the owner. */
void zkd__target_cancel(zkd_target *t);

/* Issue a request; `watch` leaves a watch that reports to the target's
 * on_watch. Returns 0, or a ZKD_E* code when the request could not be sent
 * (no live session): then the handler is never called. */
int zkd__aget(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
              zkd_data_handler fn);
int zkd__achildren(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
                   zkd_children_handler fn);
int zkd__aexists(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
                 zkd_stat_handler fn);

/* A write (ZKD_OP_CREATE, ZKD_OP_SET or ZKD_OP_DELETE; see call.h), its
 * result handled on the dispatch thread like a read's: `st` is the node's
 * stat after a create or a set. The op's strings are copied before this
 * returns. A write whose reply is lost reports ZKD_ECONNLOSS and may have
 * been applied: the caller resolves it by reading, never by re-sending. */
struct zkd_op;
int zkd__awrite(zkd_target *t, const struct zkd_op *op, const char *tag, uint64_t epoch,
                zkd_stat_handler fn);

/* zkd__awrite, and early(early_arg, rc) on ZooKeeper's completion thread
 * right after the result is posted to the loop: for a waiting caller that
 * needs nothing but the outcome, one thread hop sooner. It must only
 * signal, never block or touch loop state. */
typedef void (*zkd_early_fn)(void *early_arg, int rc);
int zkd__awrite_early(zkd_target *t, const struct zkd_op *op, const char *tag, uint64_t epoch,
                      zkd_stat_handler fn, zkd_early_fn early, void *early_arg);

#endif
