/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: building the immutable snapshots that readers take. */
#ifndef ZKD_INTERNAL_SNAPSHOT_H
#define ZKD_INTERNAL_SNAPSHOT_H

#include <zkdisc/cache.h>

#include "ptree.h"

/* A snapshot of items[0..n) (each gets a new reference), sorted by id. */
zkd_snapshot *zkd__snapshot_new(const zkd_instance *const *items, size_t n, int stale);

/* A snapshot of a tree (it takes a new reference on it): O(1), the tree's
 * nodes are shared. NULL when out of memory. */
zkd_snapshot *zkd__snapshot_of(zkd__pnode *root, int stale);

/* A snapshot's tree: a new reference. */
zkd__pnode *zkd__snapshot_tree(const zkd_snapshot *s);

/* Writes its instances, in order, to out[0..count) (borrowed): a walk of
 * the tree, without the flat array zkd_snapshot_at makes. */
void zkd__snapshot_fill(const zkd_snapshot *s, const zkd_instance **out);

/* The same instances with another stale flag. */
zkd_snapshot *zkd__snapshot_restale(const zkd_snapshot *s, int stale);

/* How many times the cache has swapped its snapshot, read without its lock:
 * a balancer rebuilds its views only when this changes. A snapshot taken
 * after reading n is at least as new as the n-th swap. */
uint64_t zkd__cache_swaps(const zkd_cache *k);

#endif
