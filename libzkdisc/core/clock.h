/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: time for deadlines, in one place. Every deadline and timer runs
 * on CLOCK_MONOTONIC, so a step of the wall clock moves none of them. */
#ifndef ZKD_INTERNAL_CLOCK_H
#define ZKD_INTERNAL_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds on the monotonic clock (for measuring and budgets). */
int64_t zkd__now_ms(void);

/* Initialises a condition variable whose timed waits use CLOCK_MONOTONIC.
 * Every condition variable waited on with zkd__deadline must be made here. */
void zkd__cond_init(pthread_cond_t *cv);

/* The absolute CLOCK_MONOTONIC time `ms` from now, for
 * pthread_cond_timedwait on a condition made by zkd__cond_init. */
struct timespec zkd__deadline(int ms);

/* The same for an absolute monotonic time in milliseconds. */
struct timespec zkd__timespec_at(int64_t at_ms);

#endif
