/* SPDX-License-Identifier: Apache-2.0 */
/* One-shot reads without a cache: a service's instances, and the list of
 * services with their instance counts. Both read the children first, then
 * send every per-child request before waiting for any (one batch). */
#include <stdlib.h>
#include <string.h>
#include <zkdisc/cache.h>
#include <zkdisc/names.h>

#include "request.h"
#include "errors.h"
#include "paths.h"
#include "session.h"
#include "snapshot.h"

/* Reads `parent`'s children, then issues `kind` on each child in one batch.
 * *kids and *res (count kids->count) belong to the caller. A missing parent
 * is an empty list. */
static int fan_out(zkd_client *c, const char *parent, zkd_op_kind kind, zkd_strings *kids,
                   zkd_result **res, int **rcs, zkd_error *err)
{
    *res = NULL;
    *rcs = NULL;
    int rc = zkd_node_children(c, parent, kids, NULL, err);
    if (rc == ZKD_ENOTFOUND) {
        zkd_error_clear(err);
        kids->count = 0;
        kids->items = NULL;
        return 0;
    }
    if (rc || kids->count == 0)
        return rc;
    zkd_op *ops = calloc(kids->count, sizeof *ops);
    char **paths = calloc(kids->count, sizeof *paths);
    *res = calloc(kids->count, sizeof **res);
    *rcs = calloc(kids->count, sizeof **rcs);
    rc = ops && paths && *res && *rcs ? 0 : zkd__fail(err, ZKD_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < kids->count; i++) {
        paths[i] = zkd__path_join(parent, kids->items[i]);
        if (!paths[i])
            rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
        ops[i] = (zkd_op){.kind = kind, .path = paths[i]};
    }
    if (!rc)
        rc = zkd__call_batch(c, ops, kids->count, *res, *rcs, err);
    for (size_t i = 0; paths && i < kids->count; i++)
        free(paths[i]);
    free(paths);
    free(ops);
    return rc;
}

static void fan_out_free(zkd_strings *kids, zkd_result *res, int *rcs)
{
    for (size_t i = 0; res && i < kids->count; i++)
        zkd__result_clear(&res[i]);
    free(res);
    free(rcs);
    zkd_strings_free(kids);
}

int zkd_instances_query(zkd_client *c, const char *service, zkd_snapshot **out,
                        uint64_t *malformed_out, zkd_error *err)
{
    int rc = zkd_validate_name("service", service, err);
    if (rc)
        return rc;
    char *path = zkd__service_path(c, service);
    if (!path)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    zkd_strings kids = {0};
    zkd_result *res;
    int *rcs;
    rc = fan_out(c, path, ZKD_OP_GET, &kids, &res, &rcs, err);
    free(path);
    zkd_instance **live = calloc(kids.count ? kids.count : 1, sizeof *live);
    size_t n = 0;
    uint64_t malformed = 0;
    if (!rc && !live)
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < kids.count; i++) {
        if (rcs[i]) /* gone between the two reads */
            continue;
        zkd_error perr;
        int prc = zkd_instance_parse(service, kids.items[i], res[i].data,
                                     res[i].len > 0 ? (size_t)res[i].len : 0, &live[n], &perr);
        if (prc == 0)
            n++;
        else if (prc == ZKD_EBADDATA) {
            malformed++;
            zkd__log(c, ZKD_LOG_WARN, "skipping %s/%s: %s", service, kids.items[i], perr.message);
        }
    }
    if (!rc && !(*out = zkd__snapshot_new((const zkd_instance *const *)live, n, 0)))
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        zkd_instance_unref(live[i]);
    free(live);
    fan_out_free(&kids, res, rcs);
    if (!rc && malformed_out)
        *malformed_out = malformed;
    return rc;
}

void zkd_services_free(zkd_service_info *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        free(list[i].name);
    free(list);
}

int zkd_services_list(zkd_client *c, zkd_service_info **out, size_t *n_out, zkd_error *err)
{
    char *path = zkd__services_path(c);
    if (!path)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    zkd_strings kids = {0};
    zkd_result *res;
    int *rcs;
    int rc = fan_out(c, path, ZKD_OP_EXISTS, &kids, &res, &rcs, err);
    free(path);
    zkd_service_info *list = calloc(kids.count ? kids.count : 1, sizeof *list);
    size_t n = 0;
    if (!rc && !list)
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < kids.count; i++) {
        if (rcs[i])
            continue; /* removed between the two reads */
        list[n].name = kids.items[i];
        kids.items[i] = NULL; /* taken */
        list[n++].instances = (size_t)res[i].stat.num_children;
    }
    fan_out_free(&kids, res, rcs);
    if (rc) {
        zkd_services_free(list, n);
        return rc;
    }
    *out = list;
    *n_out = n;
    return 0;
}
