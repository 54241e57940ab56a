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

#ifdef __cplusplus
}
#endif
#endif
