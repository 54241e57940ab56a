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

/* A target for `owner`; freed at client teardown. NULL when out of memory.
 * A cancelled target is reused by the client's next zkd__target_new, so
 * open/close cycles keep memory flat; replies meant for an earlier owner
 * are dropped, but a watch it left armed may still fire to the new owner
 * (an event on a path it does not know: ignore it). Forget watches before
 * cancelling to keep that rare. */
zkd_target *zkd__target_new(zkd_client *c, void *owner, zkd_watch_handler on_watch);

/* Dispatch thread only: from now on nothing reaches the owner. */
void zkd__target_cancel(zkd_target *t);

/* Removes, locally and without asking the server, the watches this target
 * holds on `path` (data, exists and child), so the ZooKeeper client no
 * longer re-sends them after a reconnect. 0 also when there were none. */
int zkd__target_forget(zkd_target *t, const char *path);

/* Issue a request; `watch` leaves a watch that reports to the target's
 * on_watch. Returns 0, or a ZKD_E* code when the request could not be sent
 * (no live session): then the handler is never called. */
int zkd__aget(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
              zkd_data_handler fn);
int zkd__achildren(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
                   zkd_children_handler fn);
int zkd__aexists(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
                 zkd_stat_handler fn);

#endif
