/* SPDX-License-Identifier: Apache-2.0 */
/* Request counters per client: what the library asked of ZooKeeper. Tests
 * and the benchmark read them to check that a change costs O(changed). */
#ifndef ZKDISC_COUNTERS_H
#define ZKDISC_COUNTERS_H

#include <stdint.h>
#include <zkdisc/export.h>
#include <zkdisc/client.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zkd_counters {
    uint64_t get_data;     /* getData requests */
    uint64_t get_children; /* getChildren requests */
    uint64_t exists;       /* exists requests */
    uint64_t create;
    uint64_t set_data;
    uint64_t remove;       /* delete requests */
    uint64_t multi;        /* multi transactions */
    uint64_t watches_fired; /* node and child watch events received */
    uint64_t bytes_read;    /* data bytes received in getData replies */
    uint64_t bytes_written; /* data bytes sent in create/setData/multi */
} zkd_counters;

/* Copies the client's counters (since it was created) into *out. */
ZKD_EXPORT void zkd_client_counters(zkd_client *c, zkd_counters *out);

#ifdef __cplusplus
}
#endif
#endif
