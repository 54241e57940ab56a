/* Plain znode reads for the CLI and applications (see node.h). */
#include <zkdisc/node.h>

#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "errors.h"

void zkd_free(void *p) { free(p); }

void zkd_strings_free(zkd_strings *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->count; i++)
        free(s->items[i]);
    free(s->items);
    s->items = NULL;
    s->count = 0;
}

int zkd_node_get(zkd_client *c, const char *path, char **data_out, size_t *len_out,
                 zkd_stat *stat_out, zkd_error *err)
{
    zkd_result res = {0};
    int rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_GET, .path = path}, &res, err);
    if (rc)
        return rc;
    if (stat_out)
        *stat_out = res.stat;
    if (len_out)
        *len_out = res.len > 0 ? (size_t)res.len : 0;
    if (data_out) {
        *data_out = res.data;
        res.data = NULL;
    }
    zkd__result_clear(&res);
    return 0;
}

int zkd_node_children(zkd_client *c, const char *path, zkd_strings *out, zkd_stat *stat_out,
                      zkd_error *err)
{
    zkd_result res = {0};
    int rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_CHILDREN, .path = path}, &res, err);
    if (rc)
        return rc;
    if (stat_out)
        *stat_out = res.stat;
    *out = res.children;
    memset(&res.children, 0, sizeof res.children);
    zkd__result_clear(&res);
    return 0;
}

int zkd_node_stat(zkd_client *c, const char *path, zkd_stat *stat_out, zkd_error *err)
{
    zkd_result res = {0};
    int rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_EXISTS, .path = path}, &res, err);
    if (rc == 0 && stat_out)
        *stat_out = res.stat;
    zkd__result_clear(&res);
    return rc;
}
