/* Locking a service (see acl.h): a persistent service node whose ACL lets
 * only named identities register into it. */
#include <zkdisc/acl.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zkdisc/names.h>
#include <zookeeper/zookeeper.h>

#include "errors.h"
#include "paths.h"
#include "request.h"

enum { MAX_IDS = 64 };

/* ZooKeeper marks a container with this ephemeral owner. */
#define CONTAINER_OWNER INT64_MIN

typedef struct lock_acl {
    struct ACL items[1 + 2 * MAX_IDS];
    char *ids[2 * MAX_IDS];
    size_t nids;
    struct ACL_vector vec;
} lock_acl;

static void lock_acl_free(lock_acl *a)
{
    for (size_t i = 0; i < a->nids; i++)
        free(a->ids[i]);
}

static int add_ids(lock_acl *a, const char *const *list, size_t n, int perms, const char *what,
                   zkd_error *err)
{
    if (n > MAX_IDS)
        return zkd__fail(err, ZKD_EINVAL, "at most %d %s identities", MAX_IDS, what);
    for (size_t i = 0; i < n; i++) {
        zkd_error e;
        int rc = zkd_digest_identity(list[i], &a->ids[a->nids], &e);
        if (rc)
            return zkd__fail(err, rc, "%s identity %zu: %s", what, i + 1, e.message);
        a->items[a->vec.count++] = (struct ACL){perms, {"digest", a->ids[a->nids++]}};
    }
    return 0;
}

static int build(lock_acl *a, const char *const *allow, size_t n_allow, const char *const *admins,
                 size_t n_admins, zkd_error *err)
{
    memset(a, 0, sizeof *a);
    a->vec.data = a->items;
    a->items[a->vec.count++] = (struct ACL){ZOO_PERM_READ, {"world", "anyone"}};
    if (n_allow + n_admins == 0)
        return zkd__fail(err, ZKD_EINVAL, "locking needs at least one allowed or admin identity");
    int rc = add_ids(a, allow, n_allow, ZOO_PERM_CREATE | ZOO_PERM_DELETE, "allowed", err);
    return rc ? rc : add_ids(a, admins, n_admins, ZOO_PERM_ALL, "admin", err);
}

/* Instances anyone may still change (world WRITE): registered before the lock. */
static size_t count_open(zkd_client *c, const char *svc)
{
    zkd_result res = {0};
    size_t open = 0;
    if (zkd__call(c, &(zkd_op){.kind = ZKD_OP_CHILDREN, .path = svc}, &res, NULL))
        return 0;
    for (size_t i = 0; i < res.children.count; i++) {
        char *p = malloc(strlen(svc) + strlen(res.children.items[i]) + 2);
        zkd_result a = {0};
        if (p) {
            sprintf(p, "%s/%s", svc, res.children.items[i]);
            if (!zkd__call(c, &(zkd_op){.kind = ZKD_OP_GET_ACL, .path = p}, &a, NULL))
                for (size_t k = 0; k < a.acl_count; k++)
                    if (!strcmp(a.acl[k].scheme, "world") && (a.acl[k].perms & ZKD_PERM_WRITE)) {
                        open++;
                        break;
                    }
        }
        zkd__result_clear(&a);
        free(p);
    }
    zkd__result_clear(&res);
    return open;
}

/* The service node with `acl`, persistent: created (parents open, as a
 * registration makes them), replaced when it is an empty container, or its
 * ACL set. */
static int apply(zkd_client *c, const char *service, const char *svc,
                 const struct ACL_vector *acl, zkd_error *err)
{
    zkd_result st = {0};
    int rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_EXISTS, .path = svc}, &st, err);
    if (rc == ZKD_ENOTFOUND) {
        char *services = zkd__services_path(c);
        const char *root = zkd_client_root(c);
        zkd_op ops[3] = {{.kind = ZKD_OP_CREATE, .path = root},
                         {.kind = ZKD_OP_CREATE, .path = services},
                         {.kind = ZKD_OP_CREATE, .path = svc, .acl = acl}};
        zkd_result res[3];
        memset(res, 0, sizeof res);
        int rcs[3];
        rc = services ? zkd__call_batch(c, ops, 3, res, rcs, err) : ZKD_ENOMEM;
        for (int i = 0; i < 3; i++)
            zkd__result_clear(&res[i]);
        free(services);
        if (!rc && rcs[2] == ZKD_EEXISTS) /* made meanwhile: decide again */
            return apply(c, service, svc, acl, err);
        if (!rc && rcs[2])
            rc = zkd__fail(err, rcs[2], "cannot create %s: %s", svc, zkd_strerror(rcs[2]));
        return rc;
    }
    if (rc)
        return rc;
    if (st.stat.ephemeral_owner == CONTAINER_OWNER) {
        if (st.stat.num_children > 0)
            return zkd__fail(err, ZKD_ECONFLICT,
                             "service %s has %d instance%s under a container node, which ZooKeeper "
                             "removes with its ACL once empty; lock it while no instance is "
                             "registered (or before the first registers)",
                             service, st.stat.num_children, st.stat.num_children == 1 ? "" : "s");
        zkd_op ops[2] = {{.kind = ZKD_OP_DELETE, .path = svc, .version = st.stat.version},
                         {.kind = ZKD_OP_CREATE, .path = svc, .acl = acl}};
        zkd_result res = {0};
        rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_MULTI, .ops = ops, .nops = 2}, &res, err);
        zkd__result_clear(&res);
        if (rc == ZKD_ECONFLICT || rc == ZKD_ENOTEMPTY || rc == ZKD_ENOTFOUND)
            return apply(c, service, svc, acl, err); /* changed meanwhile */
        return rc;
    }
    return zkd__call(c, &(zkd_op){.kind = ZKD_OP_SET_ACL, .path = svc, .acl = acl}, NULL, err);
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
    char *svc = rc ? NULL : zkd__service_path(c, service);
    if (!rc && !svc)
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    if (!rc)
        rc = apply(c, service, svc, &a.vec, err);
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
