/* SPDX-License-Identifier: Apache-2.0 */
/* Locking a service (see acl.h): a persistent service node whose ACL lets
 * only named identities register into it, holding the admins' digest ids.
 *
 * Why in its data: ZooKeeper shows a digest ACL's hashes only to an
 * identity with ADMIN on the node ("ops:x" to everyone else), and a
 * registrant must not have ADMIN on its service (it could unlock it). The
 * registrant puts the admins in each instance's ACL, so it reads them from
 * the service node, which only the admins may write once it is locked. */
#include <zkdisc/acl.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <zkdisc/names.h>
#include <zookeeper/zookeeper.h>

#include "errors.h"
#include "paths.h"
#include "request.h"

enum { MAX_IDS = 64 };

typedef struct lock_acl {
    struct ACL svc_items[1 + 2 * MAX_IDS];
    struct ACL_vector svc;
    char *ids[2 * MAX_IDS];
    size_t nids;
    char *doc;      /* the service node's data: {"admins": [digest ids]} */
    json_t *admins;
} lock_acl;

static void lock_acl_free(lock_acl *a)
{
    for (size_t i = 0; i < a->nids; i++)
        free(a->ids[i]);
    json_decref(a->admins);
    free(a->doc);
}

static int add_ids(lock_acl *a, const char *const *list, size_t n, int admin, zkd_error *err)
{
    const char *what = admin ? "admin" : "allowed";
    if (n > MAX_IDS)
        return zkd__fail(err, ZKD_EINVAL, "at most %d %s identities", MAX_IDS, what);
    for (size_t i = 0; i < n; i++) {
        zkd_error e;
        int rc = zkd_digest_identity(list[i], &a->ids[a->nids], &e);
        if (rc)
            return zkd__fail(err, rc, "%s identity %zu: %s", what, i + 1, e.message);
        char *id = a->ids[a->nids++];
        int perms = admin ? ZOO_PERM_ALL : ZOO_PERM_CREATE | ZOO_PERM_DELETE;
        a->svc_items[a->svc.count++] = (struct ACL){perms, {"digest", id}};
        if (admin)
            json_array_append_new(a->admins, json_string(id));
    }
    return 0;
}

static int build(lock_acl *a, const char *const *allow, size_t n_allow, const char *const *admins,
                 size_t n_admins, zkd_error *err)
{
    memset(a, 0, sizeof *a);
    a->svc.data = a->svc_items;
    a->admins = json_array();
    a->svc_items[a->svc.count++] = (struct ACL){ZOO_PERM_READ, {"world", "anyone"}};
    if (!a->admins)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    if (n_allow + n_admins == 0)
        return zkd__fail(err, ZKD_EINVAL, "locking needs at least one allowed or admin identity");
    int rc = add_ids(a, allow, n_allow, 0, err);
    if (!rc)
        rc = add_ids(a, admins, n_admins, 1, err);
    json_t *doc = rc ? NULL : json_pack("{s:O}", "admins", a->admins);
    if (!rc && !(a->doc = json_dumps(doc, JSON_COMPACT)))
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    json_decref(doc);
    return rc;
}

/* Instances anyone may still change (world WRITE): registered before the lock. */
static size_t count_open(zkd_client *c, const char *svc)
{
    zkd_result res = {0};
    size_t open = 0;
    if (zkd__call(c, &(zkd_op){.kind = ZKD_OP_CHILDREN, .path = svc}, &res, NULL))
        return 0;
    for (size_t i = 0; i < res.children.count; i++) {
        char *p = zkd__path_join(svc, res.children.items[i]);
        zkd_result a = {0};
        if (p && !zkd__call(c, &(zkd_op){.kind = ZKD_OP_GET_ACL, .path = p}, &a, NULL))
            for (size_t k = 0; k < a.acl_count; k++)
                if (!strcmp(a.acl[k].scheme, "world") && (a.acl[k].perms & ZKD_PERM_WRITE)) {
                    open++;
                    break;
                }
        zkd__result_clear(&a);
        free(p);
    }
    zkd__result_clear(&res);
    return open;
}

/* Creates `path` persistent with `acl` and `data`, and its missing
 * ancestors (open, empty), pipelined. 0, ZKD_EEXISTS, or an error. */
static int create_with_parents(zkd_client *c, const char *path, const struct ACL_vector *acl,
                               const char *data, zkd_error *err)
{
    zkd_op ops[8];
    char *paths[8];
    int n = 0;
    for (const char *s = strchr(path + 1, '/'); s && n < 7; s = strchr(s + 1, '/')) {
        paths[n] = strndup(path, (size_t)(s - path));
        ops[n] = (zkd_op){.kind = ZKD_OP_CREATE, .path = paths[n]};
        n++;
    }
    paths[n] = NULL;
    ops[n++] = (zkd_op){.kind = ZKD_OP_CREATE, .path = path, .acl = acl, .data = data,
                        .len = data ? (int)strlen(data) : 0};
    zkd_result res[8];
    int rcs[8];
    memset(res, 0, sizeof res);
    int rc = zkd__call_batch(c, ops, (size_t)n, res, rcs, err);
    for (int i = 0; i < n; i++) {
        zkd__result_clear(&res[i]);
        free(paths[i]);
    }
    if (!rc && rcs[n - 1] && rcs[n - 1] != ZKD_EEXISTS)
        rc = zkd__fail(err, rcs[n - 1], "cannot create %s: %s", path, zkd_strerror(rcs[n - 1]));
    return rc ? rc : rcs[n - 1];
}

/* 1 when world may write `svc`: not locked (a container a registration
 * made, or a node opened again). */
static int world_writes(zkd_client *c, const char *svc)
{
    zkd_result a = {0};
    int open = 1;
    if (zkd__call(c, &(zkd_op){.kind = ZKD_OP_GET_ACL, .path = svc}, &a, NULL) == 0) {
        open = 0;
        for (size_t k = 0; k < a.acl_count; k++)
            open |= !strcmp(a.acl[k].scheme, "world") && (a.acl[k].perms & ZKD_PERM_WRITE);
    }
    zkd__result_clear(&a);
    return open;
}

/* The service node, persistent, with the lock's ACL and data: created;
 * or, with no instance, deleted and created again in one transaction
 * (ZooKeeper does not tell a client whether a node is a container, which
 * it removes once empty, ACL and all); or, locked already (persistent
 * since), its ACL and data set in place, which only an admin may. A node
 * with instances that anyone may write may be a container: refused. */
static int apply(zkd_client *c, const char *service, const char *svc, const lock_acl *a,
                 zkd_error *err)
{
    int len = (int)strlen(a->doc);
    for (int attempt = 0; attempt < 5; attempt++) {
        zkd_result st = {0};
        int rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_EXISTS, .path = svc}, &st, err);
        if (rc == ZKD_ENOTFOUND) {
            rc = create_with_parents(c, svc, &a->svc, a->doc, err);
            if (rc != ZKD_EEXISTS)
                return rc;
            continue; /* made meanwhile: decide again */
        }
        if (rc)
            return rc;
        if (st.stat.num_children > 0) {
            if (world_writes(c, svc))
                return zkd__fail(
                    err, ZKD_ECONFLICT,
                    "service %s has %d instance%s under a node a registration made, a container "
                    "that ZooKeeper removes with its ACL once empty; lock it while none is "
                    "registered (or before the first registers)",
                    service, st.stat.num_children, st.stat.num_children == 1 ? "" : "s");
            rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_SET, .path = svc, .data = a->doc, .len = len,
                                        .version = -1},
                           NULL, err);
            return rc ? rc : zkd__call(c, &(zkd_op){.kind = ZKD_OP_SET_ACL, .path = svc, .acl = &a->svc},
                                       NULL, err);
        }
        zkd_op ops[2] = {{.kind = ZKD_OP_DELETE, .path = svc, .version = st.stat.version},
                         {.kind = ZKD_OP_CREATE, .path = svc, .acl = &a->svc, .data = a->doc, .len = len}};
        zkd_result res = {0};
        rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_MULTI, .ops = ops, .nops = 2}, &res, err);
        zkd__result_clear(&res);
        if (rc != ZKD_ECONFLICT && rc != ZKD_ENOTEMPTY && rc != ZKD_ENOTFOUND)
            return rc;
        /* changed meanwhile (an instance came, or the server removed it) */
    }
    return zkd__fail(err, ZKD_ECONFLICT, "%s keeps changing; try again", svc);
}

int zkd_service_lock(zkd_client *c, const char *service, const char *const *allow, size_t n_allow,
                     const char *const *admins, size_t n_admins, size_t *open_out, zkd_error *err)
{
    if (!c)
        return zkd__fail(err, ZKD_EINVAL, "no client given");
    int rc = zkd_validate_name("service", service, err);
    if (rc)
        return rc;
    lock_acl a;
    rc = build(&a, allow, n_allow, admins, n_admins, err);
    char *svc = zkd__service_path(c, service);
    if (!rc && !svc)
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    if (!rc)
        rc = apply(c, service, svc, &a, err);
    if (!rc && open_out)
        *open_out = count_open(c, svc);
    if (!rc)
        zkd_error_clear(err);
    free(svc);
    lock_acl_free(&a);
    return rc;
}

int zkd_service_unlock(zkd_client *c, const char *service, zkd_error *err)
{
    if (!c)
        return zkd__fail(err, ZKD_EINVAL, "no client given");
    int rc = zkd_validate_name("service", service, err);
    char *svc = rc ? NULL : zkd__service_path(c, service);
    if (!rc && !svc)
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    if (!rc)
        rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_SET_ACL, .path = svc, .acl = &ZOO_OPEN_ACL_UNSAFE},
                       NULL, err);
    if (rc == ZKD_ENOTFOUND)
        zkd__fail(err, rc, "service %s has no node: nothing to unlock", service);
    free(svc);
    return rc;
}
