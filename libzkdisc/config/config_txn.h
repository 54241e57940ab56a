/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: the configuration's transactions and ACL changes, in its own
 * terms, sent through the request layer (request.h) as a MULTI and a
 * SET_ACL. Writes are never resent: after ZKD_ETIMEDOUT or ZKD_ECONNLOSS
 * the outcome is unknown. */
#ifndef ZKD_INTERNAL_CONFIG_TXN_H
#define ZKD_INTERNAL_CONFIG_TXN_H

#include <zkdisc/client.h>
#include <zookeeper/zookeeper.h>

typedef enum zkd_txn_kind { ZKD_TXN_CHECK, ZKD_TXN_CREATE, ZKD_TXN_SET, ZKD_TXN_DELETE } zkd_txn_kind;

typedef struct zkd_txn_op {
    zkd_txn_kind kind;
    const char *path;
    const char *data; /* CREATE, SET */
    int len;
    int version;      /* CHECK, SET, DELETE: -1 for any */
    const struct ACL_vector *acl; /* CREATE: NULL for open */
} zkd_txn_op;

/* Commits ops[0..n) as one transaction. 0 when it committed. Otherwise the
 * ZKD_E* code of the op that failed, its index in *failed (-1 when the
 * request itself failed: timeout, connection loss, no session) and the
 * ZooKeeper return code in *zrc_out (both optional), with a message in err
 * naming the op and its path. */
int zkd__txn(zkd_client *c, const zkd_txn_op *ops, int n, int *failed, int *zrc_out,
             zkd_error *err);

/* Sets the ACL of `path` (any version). */
int zkd__set_acl(zkd_client *c, const char *path, const struct ACL_vector *acl, zkd_error *err);

#endif
