/* SPDX-License-Identifier: Apache-2.0 */
/* Walking a subtree with pipelined reads: many getChildren/getData requests
 * in flight at once (a bounded window), instead of one round trip per node.
 * The building block of the CLI's tree, find, grep, du, export and ls -R.
 *
 * Order: the callback sees the nodes in pre-order, a parent before its
 * children and siblings sorted byte-wise, whatever order the answers come
 * in. Requests are issued in that order too, so memory stays proportional
 * to the window and the widest fan-out, not to the tree.
 *
 * The walk is not a snapshot: ZooKeeper has none. A node that vanishes
 * between being listed and being read is left out silently; one created
 * after its parent was listed is not seen. */
#ifndef ZKDISC_WALK_H
#define ZKDISC_WALK_H

#include <stddef.h>
#include <zkdisc/export.h>
#include <zkdisc/error.h>
#include <zkdisc/client.h>
#include <zkdisc/node.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One node as the callback sees it. Everything is valid during the call
 * only (copy what you keep). */
typedef struct zkd_walk_node {
    const char *path;  /* absolute path */
    const char *name;  /* its last component; "" for "/" */
    int depth;         /* 0 for the walk's start node */
    /* 0, or the ZKD_E* code that kept this node from being read (usually
     * ZKD_ENOAUTH: its ACL denies READ). Then stat is zeroed, there is no
     * data and no children: the walk does not descend. */
    int rc;
    zkd_stat stat;
    const char *data;  /* with data wanted: NUL-terminated one past len; NULL when
                          the node has no data or data was not asked for */
    size_t len;
    int has_data;      /* 1 when data was read for this node */
    const zkd_strings *children; /* sorted names; empty when not listed */
    int listed;        /* 1 when children were listed (0 past max_depth) */
} zkd_walk_node;

/* Called once per node, on the caller's thread. Non-zero stops the walk,
 * and zkd_walk returns that value. */
typedef int (*zkd_walk_fn)(const zkd_walk_node *node, void *ctx);

typedef struct zkd_walk_options {
    /* Levels below the start node to visit: -1 for all (the default), 0
     * for the start node alone. Nodes at max_depth are reported with their
     * Stat (numChildren) but not listed. */
    int max_depth;
    /* Read every node's data (getData) as well as its children. */
    int want_data;
    /* Or decide per node (overrides want_data when set): non-zero to read
     * the data of `path` at `depth`. Called on the caller's thread. */
    int (*data_filter)(const char *path, int depth, void *ctx);
    void *data_filter_ctx;
    /* Subtrees to leave out, absolute paths (e.g. "/zookeeper"); NULL-ended
     * array, or NULL. The start node itself is never left out. */
    const char *const *exclude;
    /* Requests in flight at once; 0: 512. */
    int window;
} zkd_walk_options;

/* Fills `o` with the defaults: all levels, no data, window 512. */
ZKD_EXPORT void zkd_walk_options_init(zkd_walk_options *o);

/* Walks the subtree at `path`. Returns 0 when every node was visited;
 * ZKD_ENOTFOUND (or the start node's own error, e.g. ZKD_ENOAUTH) when the
 * start node cannot be read; ZKD_ETIMEDOUT when no answer came for the
 * request timeout; the callback's non-zero value when it stopped the walk.
 * Reads lost to a dropped connection are sent again while the deadline
 * allows. Blocks the calling thread; may be called from a zkdisc callback
 * (it then keeps other callbacks waiting). `opts` may be NULL. */
ZKD_EXPORT int zkd_walk(zkd_client *c, const char *path, const zkd_walk_options *opts,
                        zkd_walk_fn fn, void *ctx, zkd_error *err);

#ifdef __cplusplus
}
#endif
#endif
