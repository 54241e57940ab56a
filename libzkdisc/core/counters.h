/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: counting requests as they are issued (see zkdisc/counters.h). */
#ifndef ZKD_INTERNAL_COUNTERS_H
#define ZKD_INTERNAL_COUNTERS_H

#include <stdint.h>
#include <zkdisc/counters.h>

typedef enum zkd_counter {
    ZKD_CNT_GET_DATA,
    ZKD_CNT_GET_CHILDREN,
    ZKD_CNT_EXISTS,
    ZKD_CNT_CREATE,
    ZKD_CNT_SET_DATA,
    ZKD_CNT_REMOVE,
    ZKD_CNT_MULTI,
    ZKD_CNT_WATCHES_FIRED,
    ZKD_CNT_BYTES_READ,
    ZKD_CNT_BYTES_WRITTEN,
    ZKD_CNT_COUNT
} zkd_counter;

/* Adds `n` to one of the client's counters; lock-free, any thread. */
void zkd__count(zkd_client *c, zkd_counter which, uint64_t n);

#endif
