/* SPDX-License-Identifier: Apache-2.0 */
/* Client-side load balancing over a cache's snapshot.
 *
 * Selection never touches the network and never waits on the cache or on a
 * reporting thread: once per snapshot the balancer builds what a pick needs
 * (the candidates that pass its filters, the weight table) and swaps it in
 * when the cache's snapshot changes; a pick is then O(1) and takes no lock.
 * The first pick after a change rebuilds (O(instances)) while other threads
 * go on picking from the previous snapshot. Drained (enabled=false)
 * instances are skipped; filters narrow by zone and metadata.
 *
 * Callers report errors: an instance with error_threshold errors within
 * error_window_ms is skipped for down_ms, locally. A pick that lands on a
 * down instance draws again (4 times) and then tries the next 32
 * candidates; when all of those are down too, the pick stands (better an
 * instance that may fail than none). So with up to 33 candidates, all
 * candidates are used again exactly when every one is down; in a larger
 * service where most are down, some picks land on down instances.
 *
 * Thread-safe: any number of threads may select and report while the cache
 * updates. The balancer holds a reference to the last snapshot it picked
 * from until it picks from another or is freed. */
#ifndef ZKDISC_BALANCER_H
#define ZKDISC_BALANCER_H

#include <stdint.h>
#include <zkdisc/export.h>
#include <zkdisc/error.h>
#include <zkdisc/cache.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zkd_balancer zkd_balancer;

typedef enum zkd_strategy {
    ZKD_PICK_ROUND_ROBIN = 0, /* a 64-bit counter: no overflow, no skew */
    ZKD_PICK_RANDOM = 1,
    ZKD_PICK_WEIGHTED = 2,    /* by payload "weight" (default 100; 0 never, unless all are 0) */
    ZKD_PICK_STICKY = 3       /* the same instance until it leaves, is drained or goes down */
} zkd_strategy;

/* Milliseconds on a monotonic clock; injectable for tests. */
typedef int64_t (*zkd_clock_fn)(void *ctx);

typedef struct zkd_balancer_options {
    zkd_strategy strategy;      /* default round-robin */
    const char *zone;           /* only this zone; NULL: any */
    const char *const *meta;    /* NULL-terminated "key=value" filters, all must match */
    int error_threshold;        /* default 3; 0 turns the down-instance policy off */
    int error_window_ms;        /* default 10000 */
    int down_ms;                /* default 30000 */
    zkd_clock_fn clock;         /* NULL: CLOCK_MONOTONIC_COARSE (a tick of a few ms) */
    void *clock_ctx;
    uint64_t seed;              /* for random and weighted; 0: from the OS */
} zkd_balancer_options;

ZKD_EXPORT void zkd_balancer_options_init(zkd_balancer_options *opts);

/* A balancer over `cache` (which must outlive it; NULL for a balancer used
 * only with zkd_balancer_select_from). Strings in opts are copied. */
ZKD_EXPORT int zkd_balancer_new(zkd_cache *cache, const zkd_balancer_options *opts,
                                zkd_balancer **out, zkd_error *err);

/* Picks from the cache's current snapshot. *out is a new reference
 * (zkd_instance_unref). ZKD_ENOTFOUND when nothing matches. */
ZKD_EXPORT int zkd_balancer_select(zkd_balancer *b, zkd_instance **out, zkd_error *err);

/* Picks from a given snapshot (a one-shot query's, say). O(1) when called
 * again with the same snapshot; a different one (or alternating with
 * zkd_balancer_select) rebuilds the balancer's view, O(instances). */
ZKD_EXPORT int zkd_balancer_select_from(zkd_balancer *b, const zkd_snapshot *s,
                                        zkd_instance **out, zkd_error *err);

/* The caller's verdict on a request to instance `id`. Reports take a lock
 * of their own (selection never does); a success for an id with no errors
 * on record takes none. */
ZKD_EXPORT void zkd_balancer_report_error(zkd_balancer *b, const char *id);
ZKD_EXPORT void zkd_balancer_report_success(zkd_balancer *b, const char *id);

/* Non-zero while `id` is marked down. */
ZKD_EXPORT int zkd_balancer_is_down(zkd_balancer *b, const char *id);

/* Frees the balancer. No other call on it may be running or start. */
ZKD_EXPORT void zkd_balancer_close(zkd_balancer *b);

#ifdef __cplusplus
}
#endif
#endif
