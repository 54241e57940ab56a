/* SPDX-License-Identifier: Apache-2.0 */
/* Watching a node, its children or a whole subtree, with the watches armed
 * again after every event.
 *
 * ZooKeeper's watches fire once; this client (3.8) has no persistent or
 * recursive watches. A zkd_watch keeps what it last read of every node it
 * covers and, on each event, reads the node again (which arms the next
 * watch) and reports the difference. So nothing is missed between an event
 * and the re-arm: a change made meanwhile shows up in the read. A recursive
 * watch covers a subtree by a data watch and a child watch on every node,
 * adding both to children that appear later.
 *
 * Connection losses inside the session: the ZooKeeper client re-arms the
 * watches itself; reads that were cut off are sent again. After a session
 * expiry every watch is gone: on ZKD_SESSION_REESTABLISHED the watch reads
 * everything again and reports what changed while it was blind (a node
 * deleted and re-created meanwhile shows as changed at most; several data
 * changes collapse into one event).
 *
 * Threads: events are delivered on the client's dispatch thread, one at a
 * time, never on ZooKeeper's completion thread; a callback may call any
 * zkdisc function, including zkd_watch_close on its own watch. */
#ifndef ZKDISC_WATCH_H
#define ZKDISC_WATCH_H

#include <stddef.h>
#include <zkdisc/export.h>
#include <zkdisc/error.h>
#include <zkdisc/client.h>
#include <zkdisc/node.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zkd_watch zkd_watch;

/* What to watch (flags for zkd_watch_open). */
enum {
    ZKD_WATCH_DATA = 0,      /* the node itself: created, changed, deleted (always on) */
    ZKD_WATCH_CHILDREN = 1,  /* also the list of the node's children */
    ZKD_WATCH_RECURSIVE = 2  /* every node under it too, including ones created later */
};

typedef enum zkd_watch_event_type {
    ZKD_WATCH_CREATED = 1,  /* the node appeared (recursive: a new descendant) */
    ZKD_WATCH_DELETED = 2,  /* the node is gone */
    ZKD_WATCH_CHANGED = 3,  /* its data changed (or it was re-created) */
    ZKD_WATCH_CHILDREN_CHANGED = 4 /* ZKD_WATCH_CHILDREN: its list of children changed */
} zkd_watch_event_type;

/* "created", "deleted", "changed", "children"; never NULL. */
ZKD_EXPORT const char *zkd_watch_event_name(zkd_watch_event_type t);

/* One event; valid during the callback only. */
typedef struct zkd_watch_event {
    zkd_watch_event_type type;
    const char *path;
    const zkd_stat *stat;  /* after the change; NULL for DELETED */
    const char *data;      /* CREATED, CHANGED: the data now (NUL-terminated one past
                              len), NULL when the node has none */
    size_t len;
    /* CHILDREN_CHANGED: the names now, and which came and went (sorted). */
    const zkd_strings *children;
    const zkd_strings *added;
    const zkd_strings *removed;
} zkd_watch_event;

typedef void (*zkd_watch_fn)(zkd_watch *w, const zkd_watch_event *ev, void *ctx);

/* Starts watching `path` (which may not exist yet: its creation is an
 * event). Reads the current state and arms the watches before returning, so
 * every change made after zkd_watch_open returns is reported; the current
 * state itself is not reported (read it from zkd_watch_count or with
 * zkd_node_get). A recursive watch on a large subtree reads it pipelined.
 * Called from a zkdisc callback it cannot wait: it returns at once and
 * arms in the background. On success *out owns the watch: release it with
 * zkd_watch_close. Errors: ZKD_EINVAL (path, flags), ZKD_ENOAUTH (the
 * node's ACL denies reading it), ZKD_ETIMEDOUT (no answer within the
 * request timeout, while the reads kept stalling). */
ZKD_EXPORT int zkd_watch_open(zkd_client *c, const char *path, int flags, zkd_watch_fn fn,
                              void *ctx, zkd_watch **out, zkd_error *err);

/* How many existing nodes the watch covers now (1 or 0 without
 * ZKD_WATCH_RECURSIVE). Any thread. */
ZKD_EXPORT size_t zkd_watch_count(const zkd_watch *w);

/* Stops the watch and frees it, all of it. After it returns no callback
 * runs for it (from inside its own callback: none after that callback
 * returns). Call it exactly once per watch, from any thread, before or
 * after zkd_close of its client: zkd_close stops the watches still open
 * (no callback runs after it), and this frees them. NULL is ignored. */
ZKD_EXPORT void zkd_watch_close(zkd_watch *w);

#ifdef __cplusplus
}
#endif
#endif
