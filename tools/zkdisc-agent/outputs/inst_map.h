/* SPDX-License-Identifier: Apache-2.0 */
/* The instances an output saw in its last update, by address, each with a
 * reference and an int of the output's (a slot, say). Instances are
 * immutable, and the reference keeps any other instance from taking the
 * address of one held here, so an instance found again is unchanged: an
 * update then works out only what is new and what is gone, and costs one
 * lookup per unchanged instance, no string compared. Open addressing with
 * linear probing; loop thread only. */
#ifndef ZKDISC_AGENT_INST_MAP_H
#define ZKDISC_AGENT_INST_MAP_H

#include <stddef.h>
#include <zkdisc/zkdisc.h>

typedef struct inst_map {
    const zkd_instance **key; /* NULL: an empty place */
    int *val;
    unsigned *seen;           /* the caller's mark: which update last met it */
    size_t mask, count;       /* places - 1, instances held */
} inst_map;

/* Empties the map (every reference dropped) and frees its memory; the map
 * is then as zero-initialised. */
void inst_map_clear(inst_map *m);

/* Adds `i` (a new reference) with `val`, or sets the value of one already
 * held. 0, or -1 when out of memory (nothing changed). */
int inst_map_put(inst_map *m, const zkd_instance *i, int val);

/* The place of `i`, or -1 when it is not held. */
long inst_map_find(const inst_map *m, const zkd_instance *i);

/* Drops `i` (and its reference) when held. */
void inst_map_del(inst_map *m, const zkd_instance *i);

#endif
