/* Internal: time for deadlines, in one place. */
#ifndef ZKD_INTERNAL_CLOCK_H
#define ZKD_INTERNAL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds on the monotonic clock (for measuring and budgets). */
int64_t zkd__now_ms(void);

/* The absolute CLOCK_REALTIME time `ms` from now, as pthread_cond_timedwait
 * wants it. */
struct timespec zkd__deadline(int ms);

#endif
