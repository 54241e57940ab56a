/* SPDX-License-Identifier: Apache-2.0 */
/* A live, watch-driven view of one service's instances.
 *
 * The cache loads every instance with pipelined reads, then keeps current
 * with a children watch and one data watch per instance: a change costs one
 * getChildren plus a getData per new instance, or one getData for an update.
 * Readers take an immutable snapshot (no network, no long lock). While the
 * connection is down the last state is served, flagged stale; after a session
 * expiry the cache rebuilds on the new session and reports only the true
 * differences. A cache opened before the client's first session exists
 * (connect_in_background) is stale and empty until the session comes, then
 * loads.
 *
 * Large caches: the ZooKeeper C client re-sends every watch after a
 * reconnect in one packet, which the server refuses over 1 MB (about 16,000
 * watches). A cache whose watches would fill more than 256 KB of it drops its data
 * watches on a connection loss and, once back, checks every instance with
 * pipelined exists requests (re-reading only what changed); it is stale
 * until that pass is done.
 *
 * Snapshot directory (zkd_options.snapshot_dir): each cache writes its last
 * fresh state to <dir>/service.<service>.<8 hex>.json (atomically, at most
 * once a second), and a cache opened while ZooKeeper is unreachable starts
 * from that file, stale, until ZooKeeper answers.
 *
 * A znode that is not a readable record (empty, binary, truncated, a JSON
 * array, over ZKD_INSTANCE_MAX_BYTES) is skipped and counted, never fatal. */
#ifndef ZKDISC_CACHE_H
#define ZKDISC_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <zkdisc/export.h>
#include <zkdisc/error.h>
#include <zkdisc/client.h>
#include <zkdisc/instance.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zkd_cache zkd_cache;
typedef struct zkd_snapshot zkd_snapshot;

typedef enum zkd_delta_kind {
    ZKD_DELTA_ADDED = 1,
    ZKD_DELTA_REMOVED = 2,
    ZKD_DELTA_UPDATED = 3
} zkd_delta_kind;

/* One change. ADDED: `now` only. REMOVED: `before` only. UPDATED: both.
 * The instances are borrowed for the duration of the listener call; take
 * a reference (zkd_instance_ref) to keep one. */
typedef struct zkd_delta {
    zkd_delta_kind kind;
    const zkd_instance *before;
    const zkd_instance *now;
} zkd_delta;

/* Called on the client's dispatch thread with the changes of one step, in
 * the order they happened. Never called after zkd_cache_close returns. */
typedef void (*zkd_cache_fn)(zkd_cache *cache, const zkd_delta *deltas, size_t n, void *ctx);

/* Opens a cache on `service` (a valid name). The initial load runs in the
 * background; see zkd_cache_wait_ready. `fn` may be NULL. *out owns the
 * cache; release it with zkd_cache_close, before or after zkd_close of its
 * client (the cache keeps the client's memory until then; after zkd_close
 * it serves its last snapshot, stale, and calls `fn` no more). */
ZKD_EXPORT int zkd_cache_open(zkd_client *c, const char *service, zkd_cache_fn fn, void *ctx,
                              zkd_cache **out, zkd_error *err);

/* zkd_cache_open with flags: ZKD_CACHE_UNSTORED keeps the cache out of the
 * snapshot directory (it neither starts from nor writes a file there), for
 * short-lived caches opened on demand, such as the agent's DNS answering
 * services it does not watch. */
enum { ZKD_CACHE_UNSTORED = 1 };
ZKD_EXPORT int zkd_cache_open_flags(zkd_client *c, const char *service, int flags,
                                    zkd_cache_fn fn, void *ctx, zkd_cache **out, zkd_error *err);

/* Static discovery: a cache whose instances come from a file instead of
 * ZooKeeper, a JSON array in the shape `zkdisc -o json instances` prints
 * (Curator records; "name" defaults to `service`, "id" to "ADDRESS-PORT",
 * an optional "znode" names the node). The file is read now (an error
 * names it and the bad element), then again each time it is rewritten or
 * renamed into place (inotify on its directory); a version that does not
 * parse is refused whole and logged, and the last good one is kept, as it
 * is when the file is removed. Its snapshots are never stale. Everything
 * else, balancers included, works as for zkd_cache_open; the client only
 * lends its dispatch thread and need not be connected. */
ZKD_EXPORT int zkd_cache_open_file(zkd_client *c, const char *service, const char *path,
                                   zkd_cache_fn fn, void *ctx, zkd_cache **out, zkd_error *err);

/* The same for a fixed set given as JSON text of `len` bytes. */
ZKD_EXPORT int zkd_cache_open_static(zkd_client *c, const char *service, const char *json,
                                     size_t len, zkd_cache_fn fn, void *ctx, zkd_cache **out,
                                     zkd_error *err);

/* Waits until the initial load is done, or the snapshot file was loaded
 * (0), or timeout_ms passes (ZKD_ETIMEDOUT). Not from a zkdisc callback. */
ZKD_EXPORT int zkd_cache_wait_ready(zkd_cache *cache, int timeout_ms, zkd_error *err);

/* The current instances: a new reference to an immutable snapshot. Never
 * NULL (empty before the first load). Release with zkd_snapshot_unref. */
ZKD_EXPORT zkd_snapshot *zkd_cache_snapshot(zkd_cache *cache);

/* How many of the service's znodes are currently skipped as malformed. */
ZKD_EXPORT uint64_t zkd_cache_malformed(zkd_cache *cache);

/* The service name (owned by the cache). */
ZKD_EXPORT const char *zkd_cache_service(const zkd_cache *cache);

/* Stops the watches' effects and frees the cache, exactly once. From any
 * thread, including a zkdisc callback, before or after zkd_close of the
 * client. NULL is ignored. */
ZKD_EXPORT void zkd_cache_close(zkd_cache *cache);

/* ---- snapshots: immutable, reference-counted, safe from any thread ------ */

ZKD_EXPORT size_t zkd_snapshot_count(const zkd_snapshot *s);
/* Instances sorted by id; borrowed from the snapshot. */
ZKD_EXPORT const zkd_instance *zkd_snapshot_at(const zkd_snapshot *s, size_t i);
ZKD_EXPORT const zkd_instance *zkd_snapshot_find(const zkd_snapshot *s, const char *id);
/* Non-zero when the state may be out of date (connection lost or session
 * expired and not yet rebuilt). */
ZKD_EXPORT int zkd_snapshot_stale(const zkd_snapshot *s);
ZKD_EXPORT zkd_snapshot *zkd_snapshot_ref(zkd_snapshot *s);
ZKD_EXPORT void zkd_snapshot_unref(zkd_snapshot *s);

/* ---- without a cache --------------------------------------------------- */

/* One-shot read of a service's instances (getChildren, then all getData
 * requests pipelined). *out is a new snapshot; *malformed_out (optional)
 * counts skipped records. A missing service is an empty snapshot. */
ZKD_EXPORT int zkd_instances_query(zkd_client *c, const char *service, zkd_snapshot **out,
                                   uint64_t *malformed_out, zkd_error *err);

typedef struct zkd_service_info {
    char *name;
    size_t instances; /* children of the service node */
} zkd_service_info;

/* Every service under <root>/services with its instance count (counts read
 * pipelined). *out is a malloc'd array of *n_out entries, sorted by name;
 * release with zkd_services_free. */
ZKD_EXPORT int zkd_services_list(zkd_client *c, zkd_service_info **out, size_t *n_out,
                                 zkd_error *err);
ZKD_EXPORT void zkd_services_free(zkd_service_info *list, size_t n);

#ifdef __cplusplus
}
#endif
#endif
