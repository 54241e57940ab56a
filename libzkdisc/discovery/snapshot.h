/* Internal: building the immutable snapshots that readers take. */
#ifndef ZKD_INTERNAL_SNAPSHOT_H
#define ZKD_INTERNAL_SNAPSHOT_H

#include <zkdisc/cache.h>

/* A snapshot of items[0..n) (each gets a new reference), sorted by id. */
zkd_snapshot *zkd__snapshot_new(const zkd_instance *const *items, size_t n, int stale);

/* Building one in place: room for n, each slot set (a new reference),
 * then sealed with the count used (sorted by id). */
zkd_snapshot *zkd__snapshot_alloc(size_t n, int stale);
void zkd__snapshot_set(zkd_snapshot *s, size_t i, const zkd_instance *inst);
zkd_snapshot *zkd__snapshot_seal(zkd_snapshot *s, size_t n);

/* The same instances with another stale flag. */
zkd_snapshot *zkd__snapshot_restale(const zkd_snapshot *s, int stale);

/* How many times the cache has swapped its snapshot, read without its lock:
 * a balancer rebuilds its views only when this changes. A snapshot taken
 * after reading n is at least as new as the n-th swap. */
uint64_t zkd__cache_swaps(const zkd_cache *k);

#endif
