/* SPDX-License-Identifier: Apache-2.0 */
/* Operators' actions on any instance: remove it, drain or undrain it. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <zkdisc/names.h>
#include <zkdisc/registry.h>

#include "request.h"
#include "errors.h"
#include "json_text.h"
#include "paths.h"

/* An operator acts on instances other writers made, so the id is any one
 * path component ZooKeeper accepts, not only the names zkdisc writes. */
static int instance_path(zkd_client *c, const char *service, const char *id, char **out,
                         zkd_error *err)
{
    int rc = zkd_validate_name("service", service, err);
    if (!rc && (!id || !*id || strchr(id, '/')))
        rc = zkd__fail(err, ZKD_EINVAL, "instance \"%s\" is not a znode name", id ? id : "");
    if (!rc && !(*out = zkd__instance_path(c, service, id)))
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    if (!rc && (rc = zkd_validate_path(*out, err)) != 0)
        free(*out);
    return rc;
}

int zkd_instance_remove(zkd_client *c, const char *service, const char *id, zkd_error *err)
{
    char *path;
    int rc = instance_path(c, service, id, &path, err);
    if (rc)
        return rc;
    rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_DELETE, .path = path, .version = -1}, NULL, err);
    if (rc == ZKD_ENOTFOUND)
        zkd__fail(err, rc, "instance \"%s\" of service %s is not registered", id, service);
    free(path);
    return rc;
}

/* The record with "enabled" set; other fields, known or not, untouched.
 * An enabled record drops the key: Curator's compatibility-mode readers
 * then see exactly the fields they know. */
static int with_enabled(const char *data, size_t len, int enabled, char **out, zkd_error *err)
{
    json_error_t jerr;
    json_t *o = data ? json_loadb(data, len, 0, &jerr) : NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        return zkd__fail(err, ZKD_EBADDATA, "the instance's record is not a JSON object; not changing it");
    }
    if (enabled)
        json_object_del(o, "enabled");
    else
        json_object_set_new(o, "enabled", json_false());
    *out = zkd__json_dump(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return *out ? 0 : zkd__fail(err, ZKD_ENOMEM, "out of memory");
}

int zkd_instance_set_enabled(zkd_client *c, const char *service, const char *id, int enabled,
                             zkd_error *err)
{
    char *path;
    int rc = instance_path(c, service, id, &path, err);
    if (rc)
        return rc;
    rc = ZKD_ECONFLICT;
    for (int attempt = 0; rc == ZKD_ECONFLICT && attempt < 10; attempt++) {
        zkd_result cur = {0};
        char *json = NULL;
        rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_GET, .path = path}, &cur, err);
        if (rc == ZKD_ENOTFOUND)
            zkd__fail(err, rc, "instance \"%s\" of service %s is not registered", id, service);
        if (!rc)
            rc = with_enabled(cur.data, (size_t)(cur.len > 0 ? cur.len : 0), enabled, &json, err);
        if (!rc)
            rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_SET, .path = path, .data = json,
                                        .len = (int)strlen(json), .version = cur.stat.version},
                           NULL, err);
        free(json);
        zkd__result_clear(&cur); /* on a conflict it changed under us: read again */
    }
    if (!rc)
        zkd_error_clear(err);
    free(path);
    return rc;
}
