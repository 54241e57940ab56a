/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: filling zkd_error and translating ZooKeeper's return codes. */
#ifndef ZKD_INTERNAL_ERRORS_H
#define ZKD_INTERNAL_ERRORS_H

#include <zkdisc/error.h>

/* Records `code` and a formatted message in `err` (if not NULL); returns code
 * so callers can write `return zkd__fail(err, ZKD_EINVAL, "...")`. */
int zkd__fail(zkd_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The ZKD_E* code for a ZooKeeper C client return code (ZOK -> 0). */
int zkd__from_zk(int zrc);

/* ZooKeeper's own text for its return code. */
const char *zkd__zk_text(int zrc);

#endif
