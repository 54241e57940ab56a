/* SPDX-License-Identifier: Apache-2.0 */
/* zkdisc-bench's cache scale measures (bench_cache.c). */
#ifndef ZKDISC_BENCH_CACHE_H
#define ZKDISC_BENCH_CACHE_H

#include <stddef.h>

/* Where a result goes: the bench's table (a ratio to `baseline` when it is
 * not 0). */
typedef void (*bench_cache_row_fn)(const char *group, const char *what, double value,
                                   const char *unit, double baseline);

/* For each of sizes[0..nsizes): a cache of that many instances, the time
 * from a setData of one of them to the cache's listener and the process's
 * CPU per change, against a raw data watch + getData in the same run
 * (interleaved rounds of `changes` changes), then the heap per cached
 * instance. Ends with the growth from the first size to the last. 0, or -1
 * with a message in err. */
int bench_cache_changes(const char *zk, const int *sizes, int nsizes, int changes,
                        bench_cache_row_fn row, char *err, size_t errlen);

#endif
