/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: the balancer's down-instance table, a hash by instance id.
 *
 * Readers (zkd__down_until) take no lock: they probe an open-addressing
 * table whose slots are atomic pointers to entries whose down mark is
 * atomic, inside a read section of the table's epoch. Writers (the error and
 * success reports) take the table's mutex; no reader ever does. Entries are
 * never removed in place: a sweep builds a smaller table of the entries that
 * still say something (a down mark or an error within the window), swaps it
 * in and retires the old one. */
#ifndef ZKD_INTERNAL_DOWN_TABLE_H
#define ZKD_INTERNAL_DOWN_TABLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "epoch.h"

typedef struct down_slots down_slots;

typedef struct zkd__down_table {
    _Atomic(down_slots *) cur;
    /* The latest down mark ever set and still kept: when `now` is past it,
     * nothing is down and readers skip the lookups. 0: none. */
    _Atomic int64_t latest_until;
    zkd__epoch *epoch; /* the owner's; read sections span the lookups */
    pthread_mutex_t mu; /* writers */
    size_t used;        /* entries in cur (writers) */
    int64_t swept_at;
    int threshold, window_ms, down_ms;
} zkd__down_table;

/* 0, or ZKD_ENOMEM. */
int zkd__down_init(zkd__down_table *t, zkd__epoch *epoch, int threshold, int window_ms, int down_ms);
/* No reader may be inside; frees the current table (retired ones go with
 * the epoch). */
void zkd__down_destroy(zkd__down_table *t);

/* A cheap, stable hash of an id (the balancer keeps one per candidate). */
uint64_t zkd__down_hash(const char *id);

/* When the instance is down until (0: not marked). Call inside a read
 * section of t->epoch. */
int64_t zkd__down_until(zkd__down_table *t, uint64_t hash, const char *id);

/* The latest down mark kept (0: none): nothing is down at a `now` past it,
 * so one atomic load lets readers skip the clock and every lookup. */
static inline int64_t zkd__down_latest(zkd__down_table *t)
{
    return atomic_load_explicit(&t->latest_until, memory_order_relaxed);
}

void zkd__down_error(zkd__down_table *t, const char *id, int64_t now);
void zkd__down_success(zkd__down_table *t, const char *id);

/* How many ids the table holds (tests). */
size_t zkd__down_count(zkd__down_table *t);

#endif
