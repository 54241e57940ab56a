/* SPDX-License-Identifier: Apache-2.0 */
/* Plain znode access with a deadline: the building block for the CLI's tree
 * commands. Paths are absolute inside the connect string's chroot (they do
 * not start at the zkdisc root). Each call waits at most the client's
 * request_timeout_ms and returns ZKD_ETIMEDOUT rather than hang.
 * Not to be called from a zkdisc callback while holding a lock the caller's
 * other threads need: it blocks for up to the request timeout. */
#ifndef ZKDISC_NODE_H
#define ZKDISC_NODE_H

#include <stddef.h>
#include <stdint.h>
#include <zkdisc/export.h>
#include <zkdisc/error.h>
#include <zkdisc/client.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ZooKeeper's Stat, field for field. Times are ms since the epoch. */
typedef struct zkd_stat {
    int64_t czxid, mzxid, pzxid;
    int64_t ctime, mtime;
    int32_t version, cversion, aversion;
    int64_t ephemeral_owner; /* session id owning an ephemeral node, else 0 */
    int32_t data_length;
    int32_t num_children;
} zkd_stat;

/* A list of strings; owned by whoever holds it, released with zkd_strings_free. */
typedef struct zkd_strings {
    size_t count;
    char **items;
} zkd_strings;

ZKD_EXPORT void zkd_strings_free(zkd_strings *s);

/* Frees memory the library handed over (zkd_node_get's data). */
ZKD_EXPORT void zkd_free(void *p);

/* Reads a node. *data_out receives a malloc'd copy, NUL-terminated one byte
 * past *len_out (release with zkd_free), or NULL for a node without data.
 * `stat_out` may be NULL. */
ZKD_EXPORT int zkd_node_get(zkd_client *c, const char *path, char **data_out, size_t *len_out,
                            zkd_stat *stat_out, zkd_error *err);

/* Lists a node's children, sorted byte-wise. `stat_out` may be NULL. */
ZKD_EXPORT int zkd_node_children(zkd_client *c, const char *path, zkd_strings *out,
                                 zkd_stat *stat_out, zkd_error *err);

/* Reads a node's Stat only. */
ZKD_EXPORT int zkd_node_stat(zkd_client *c, const char *path, zkd_stat *stat_out, zkd_error *err);

/* Asks the server this session is connected to to catch up with the leader
 * (ZooKeeper's sync) before it answers: a read made after it returns sees
 * every write committed before the call. `path` is named in errors only. */
ZKD_EXPORT int zkd_node_sync(zkd_client *c, const char *path, zkd_error *err);

/* ---- writing --------------------------------------------------------------
 * Writes are sent once: after a connection loss (ZKD_ECONNLOSS) the write
 * may or may not have happened (read the node to find out), and the caller
 * decides whether to retry. A write made while the session is down waits
 * for it in the client's request queue; if the request timeout passes
 * first (ZKD_ETIMEDOUT) it was never sent.
 * Errors: ZKD_ENOTFOUND (the node, or for a create its parent, is missing),
 * ZKD_EEXISTS (create: already there), ZKD_ECONFLICT (the version did not
 * match), ZKD_ENOAUTH (the ACL denies it), ZKD_ENOTEMPTY (delete: it has
 * children), ZKD_ETIMEDOUT / ZKD_ECONNLOSS; each with a message naming the
 * path. */

/* Permissions in an ACL entry (the same bits as ZooKeeper's). */
enum {
    ZKD_PERM_READ = 1,
    ZKD_PERM_WRITE = 2,
    ZKD_PERM_CREATE = 4,
    ZKD_PERM_DELETE = 8,
    ZKD_PERM_ADMIN = 16,
    ZKD_PERM_ALL = 31
};

/* One ACL entry: ("world", "anyone"), ("digest", "user:base64(sha1(user:pass))"),
 * ("ip", "127.0.0.1"), or ("auth", "") for "every identity this session has
 * authenticated as" (ZooKeeper's CREATOR_ALL with ZKD_PERM_ALL). The strings
 * are the caller's; they are copied into the request. */
typedef struct zkd_acl_entry {
    int perms;          /* ZKD_PERM_* bits */
    const char *scheme;
    const char *id;
} zkd_acl_entry;

/* Kinds of node for zkd_node_create and ZKD_MULTI_CREATE (combine SEQUENTIAL
 * with EPHEMERAL or nothing; CONTAINER stands alone). */
enum {
    ZKD_CREATE_PERSISTENT = 0,
    ZKD_CREATE_EPHEMERAL = 1,  /* goes with the session that created it */
    ZKD_CREATE_SEQUENTIAL = 2, /* the server appends a 10-digit counter to the name */
    ZKD_CREATE_CONTAINER = 4   /* removed by the server once its last child goes */
};

typedef struct zkd_create_options {
    int flags;                /* ZKD_CREATE_* */
    int parents;              /* non-zero: create missing ancestors first (persistent,
                                 empty, same ACL); ancestors that exist are fine */
    const zkd_acl_entry *acl; /* NULL: open to everyone (world:anyone, all) */
    size_t acl_count;
} zkd_create_options;

/* Creates `path` with data[0..len) (data NULL: a node without data). `opts`
 * may be NULL (persistent, no parents, open ACL). *created_out (optional)
 * receives the path the server created, which differs for a sequential
 * node; malloc'd, release with zkd_free. */
ZKD_EXPORT int zkd_node_create(zkd_client *c, const char *path, const char *data, size_t len,
                               const zkd_create_options *opts, char **created_out,
                               zkd_error *err);

/* Replaces the data of `path` when its version is `version` (-1: any
 * version); ZKD_ECONFLICT otherwise. `stat_out` (optional) receives the new
 * Stat. */
ZKD_EXPORT int zkd_node_set(zkd_client *c, const char *path, const char *data, size_t len,
                            int version, zkd_stat *stat_out, zkd_error *err);

/* Deletes `path` (no children allowed) when its version is `version` (-1:
 * any). */
ZKD_EXPORT int zkd_node_delete(zkd_client *c, const char *path, int version, zkd_error *err);

/* Deletes `path` and everything under it: lists the subtree with pipelined
 * reads (zkd_walk), then deletes deepest first with pipelined requests.
 * Nodes that vanish meanwhile are fine; a child created meanwhile is found
 * by listing again (a few times at most). With `version` >= 0 the top node's
 * version is checked before anything is deleted and again by its own delete
 * (ZKD_ECONFLICT). *deleted_out (optional) counts the nodes this call
 * deleted. Not atomic: on an error part of the subtree may be gone. */
ZKD_EXPORT int zkd_node_delete_tree(zkd_client *c, const char *path, int version,
                                    size_t *deleted_out, zkd_error *err);

/* ---- transactions ---------------------------------------------------------- */

typedef enum zkd_multi_kind {
    ZKD_MULTI_CREATE = 0,
    ZKD_MULTI_SET = 1,
    ZKD_MULTI_DELETE = 2,
    ZKD_MULTI_CHECK = 3 /* only checks that `path` has `version` */
} zkd_multi_kind;

/* One operation of a transaction. Strings and data stay the caller's. */
typedef struct zkd_multi_op {
    zkd_multi_kind kind;
    const char *path;
    const char *data;         /* CREATE, SET: data[0..len); NULL for none */
    size_t len;
    int version;              /* SET, DELETE, CHECK: the expected version, -1 for any */
    int flags;                /* CREATE: ZKD_CREATE_* */
    const zkd_acl_entry *acl; /* CREATE: NULL for open */
    size_t acl_count;
} zkd_multi_op;

/* The most operations one zkd_node_multi takes (a transaction is one
 * request, and ZooKeeper caps a request at about 1 MiB). */
#define ZKD_MULTI_MAX 1000

/* Applies ops[0..n) as one ZooKeeper multi: all of them or none. On
 * failure returns the code of the first operation that failed (the others
 * were rolled back), with a message naming it, and sets *failed_index
 * (optional) to its index; rcs[0..n) (optional) receives each operation's
 * code (0 for those that would have succeeded). Sent once, like every
 * write. */
ZKD_EXPORT int zkd_node_multi(zkd_client *c, const zkd_multi_op *ops, size_t n, int *rcs,
                              size_t *failed_index, zkd_error *err);

#ifdef __cplusplus
}
#endif
#endif
