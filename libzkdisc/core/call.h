/* Internal: one ZooKeeper request issued asynchronously and waited for with
 * a deadline, so a synchronous zkdisc call can never hang. If the deadline
 * passes first, the late completion still arrives and frees the call: both
 * sides hold a reference. Never wait from ZooKeeper's completion thread. */
#ifndef ZKD_INTERNAL_CALL_H
#define ZKD_INTERNAL_CALL_H

#include <zkdisc/node.h>
#include <zookeeper/zookeeper.h>

typedef enum zkd_op_kind {
    ZKD_OP_GET,
    ZKD_OP_CHILDREN,
    ZKD_OP_EXISTS,
    ZKD_OP_CREATE,
    ZKD_OP_SET,
    ZKD_OP_DELETE
} zkd_op_kind;

typedef struct zkd_op {
    zkd_op_kind kind;
    const char *path;
    const char *data; /* CREATE, SET */
    int len;
    int version;      /* SET, DELETE: -1 for any */
    int flags;        /* CREATE: ZOO_EPHEMERAL, ... */
    const struct ACL_vector *acl; /* CREATE: NULL for open */
} zkd_op;

/* What came back; owned by the caller, released with zkd__result_clear. */
typedef struct zkd_result {
    zkd_stat stat;
    char *data;          /* GET: NUL-terminated copy, NULL if none */
    int len;             /* GET: -1 when the node has no data */
    zkd_strings children; /* CHILDREN */
    char *created;       /* CREATE: the path the server created */
} zkd_result;

/* Issues `op`, waits up to the client's request timeout, and returns 0 or a
 * ZKD_E* code with a message naming the operation and path. `res` may be
 * NULL when nothing but success matters. */
int zkd__call(zkd_client *c, const zkd_op *op, zkd_result *res, zkd_error *err);

/* Pipelined: issues all `n` ops before waiting for any, then waits for all
 * under one deadline (the request timeout). rcs[i] receives each op's ZKD_E*
 * code and res[i] (when res is not NULL) its results. Returns 0 when every
 * op got an answer (even an error answer), else ZKD_ETIMEDOUT or the error
 * that stopped the ops from being issued, with a message in err. */
int zkd__call_batch(zkd_client *c, const zkd_op *ops, size_t n, zkd_result *res, int *rcs,
                    zkd_error *err);

void zkd__result_clear(zkd_result *res);

/* Copies ZooKeeper's Stat into ours. */
void zkd__stat_copy(zkd_stat *dst, const struct Stat *src);

/* Copies and sorts a String_vector; returns ZKD_ENOMEM on failure. */
int zkd__strings_copy(zkd_strings *dst, const struct String_vector *src);

#endif
