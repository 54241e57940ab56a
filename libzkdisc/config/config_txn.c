/* SPDX-License-Identifier: Apache-2.0 */
/* Transactions and ACL changes for the configuration (see config_txn.h):
 * translations into request-layer ops, nothing more. */
#include "config_txn.h"

#include <stdlib.h>

#include "errors.h"
#include "request.h"

static const zkd_op_kind kind_op[] = {[ZKD_TXN_CHECK] = ZKD_OP_CHECK,
                                      [ZKD_TXN_CREATE] = ZKD_OP_CREATE,
                                      [ZKD_TXN_SET] = ZKD_OP_SET,
                                      [ZKD_TXN_DELETE] = ZKD_OP_DELETE};

int zkd__txn(zkd_client *c, const zkd_txn_op *ops, int n, int *failed, int *zrc_out,
             zkd_error *err)
{
    if (failed)
        *failed = -1;
    if (zrc_out)
        *zrc_out = ZOK;
    zkd_op *zops = calloc((size_t)(n > 0 ? n : 1), sizeof *zops);
    if (!zops)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        zops[i] = (zkd_op){.kind = kind_op[ops[i].kind], .path = ops[i].path,
                           .data = ops[i].data, .len = ops[i].len, .version = ops[i].version,
                           .acl = ops[i].acl};
    zkd_result res;
    int rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_MULTI, .ops = zops, .nops = n}, &res, err);
    if (rc && res.op_zrcs) {
        if (failed)
            *failed = res.failed;
        if (zrc_out)
            *zrc_out = res.failed >= 0 ? res.op_zrcs[res.failed] : ZSYSTEMERROR;
    } else if (rc && zrc_out) {
        *zrc_out = rc == ZKD_ECONNLOSS ? ZCONNECTIONLOSS : ZSYSTEMERROR;
    }
    zkd__result_clear(&res);
    free(zops);
    return rc;
}

int zkd__set_acl(zkd_client *c, const char *path, const struct ACL_vector *acl, zkd_error *err)
{
    return zkd__call(c, &(zkd_op){.kind = ZKD_OP_SET_ACL, .path = path, .acl = acl}, NULL, err);
}
