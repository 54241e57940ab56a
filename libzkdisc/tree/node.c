/* SPDX-License-Identifier: Apache-2.0 */
/* Plain znode access for the CLI and applications (see node.h): reads,
 * writes with version checks, recursive delete and multi transactions. */
#include <zkdisc/node.h>

#include <stdlib.h>
#include <string.h>
#include <zkdisc/names.h>
#include <zkdisc/walk.h>

#include "errors.h"
#include "request.h"
#include "session.h"

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

int zkd_node_sync(zkd_client *c, const char *path, zkd_error *err)
{
    zkd_result res = {0};
    int rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_SYNC, .path = path}, &res, err);
    zkd__result_clear(&res);
    return rc;
}

/* ---- writing ------------------------------------------------------------ */

/* A ZooKeeper ACL_vector pointing at the caller's strings (the client only
 * reads them while it serialises the request). NULL entries: open. */
typedef struct acl_buf {
    struct ACL_vector vec;
    struct ACL *items;
} acl_buf;

static int acl_build(acl_buf *b, const zkd_acl_entry *acl, size_t n, zkd_error *err)
{
    b->items = NULL;
    if (!acl || n == 0) {
        b->vec = ZOO_OPEN_ACL_UNSAFE;
        return 0;
    }
    b->items = calloc(n, sizeof *b->items);
    if (!b->items)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!acl[i].scheme || !acl[i].id || (acl[i].perms & ~ZKD_PERM_ALL) || !acl[i].perms) {
            free(b->items);
            b->items = NULL;
            return zkd__fail(err, ZKD_EINVAL, "ACL entry %zu needs a scheme, an id and permissions", i);
        }
        b->items[i] = (struct ACL){.perms = acl[i].perms,
                                   .id = {.scheme = (char *)acl[i].scheme, .id = (char *)acl[i].id}};
    }
    b->vec = (struct ACL_vector){.count = (int32_t)n, .data = b->items};
    return 0;
}

static int zk_mode(int flags, zkd_error *err, int *mode)
{
    if (flags & ~(ZKD_CREATE_EPHEMERAL | ZKD_CREATE_SEQUENTIAL | ZKD_CREATE_CONTAINER))
        return zkd__fail(err, ZKD_EINVAL, "unknown create flags 0x%x", (unsigned)flags);
    if ((flags & ZKD_CREATE_CONTAINER) && flags != ZKD_CREATE_CONTAINER)
        return zkd__fail(err, ZKD_EINVAL, "a container node cannot be ephemeral or sequential");
    *mode = flags == ZKD_CREATE_CONTAINER ? ZOO_CONTAINER
          : (flags & ZKD_CREATE_EPHEMERAL) ? ((flags & ZKD_CREATE_SEQUENTIAL) ? ZOO_EPHEMERAL_SEQUENTIAL : ZOO_EPHEMERAL)
          : (flags & ZKD_CREATE_SEQUENTIAL) ? ZOO_PERSISTENT_SEQUENTIAL : ZOO_PERSISTENT;
    return 0;
}

static int check_len(const char *path, size_t len, zkd_error *err)
{
    if (len > 1024 * 1024 - 1024)
        return zkd__fail(err, ZKD_ETOOBIG, "%s: %zu bytes is more than a znode holds (about 1 MiB)",
                         path, len);
    return 0;
}

/* A clearer message than the request layer's generic one for the codes people meet. */
static int explain(int rc, const char *verb, const char *path, zkd_error *err)
{
    switch (rc) {
    case ZKD_EEXISTS: return zkd__fail(err, rc, "%s already exists", path);
    case ZKD_ECONFLICT: return zkd__fail(err, rc, "cannot %s %s: version mismatch (it was changed meanwhile)", verb, path);
    case ZKD_ENOAUTH: return zkd__fail(err, rc, "cannot %s %s: not authorized by its ACL", verb, path);
    case ZKD_ENOTEMPTY: return zkd__fail(err, rc, "cannot %s %s: it has children", verb, path);
    default: return rc;
    }
}

static size_t parent_len(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) : 0;
}

/* Creates every missing ancestor of `path`, pipelined (the server applies a
 * session's requests in order, so shallower ones land first). */
static int create_ancestors(zkd_client *c, const char *path, const struct ACL_vector *acl,
                            zkd_error *err)
{
    size_t n = 0;
    for (const char *p = path + 1; *p; p++)
        n += *p == '/';
    if (n == 0)
        return 0;
    zkd_op *ops = calloc(n, sizeof *ops);
    char **paths = calloc(n, sizeof *paths);
    int *rcs = calloc(n, sizeof *rcs);
    int rc = ops && paths && rcs ? 0 : zkd__fail(err, ZKD_ENOMEM, "out of memory");
    size_t k = 0;
    for (const char *p = path + 1; !rc && *p; p++) {
        if (*p != '/')
            continue;
        if (!(paths[k] = strndup(path, (size_t)(p - path)))) {
            rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
            break;
        }
        ops[k] = (zkd_op){.kind = ZKD_OP_CREATE, .path = paths[k], .acl = acl, .flags = ZOO_PERSISTENT};
        k++;
    }
    if (!rc)
        rc = zkd__call_batch(c, ops, n, NULL, rcs, err);
    for (size_t i = 0; !rc && i < n; i++)
        if (rcs[i] && rcs[i] != ZKD_EEXISTS) {
            rc = rcs[i];
            zkd__fail(err, rc, "cannot create parent %s: %s", paths[i], zkd_strerror(rc));
            explain(rc, "create parent", paths[i], err);
        }
    for (size_t i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
    free(ops);
    free(rcs);
    return rc;
}

int zkd_node_create(zkd_client *c, const char *path, const char *data, size_t len,
                    const zkd_create_options *opts, char **created_out, zkd_error *err)
{
    static const zkd_create_options defaults = {0};
    if (!opts)
        opts = &defaults;
    if (created_out)
        *created_out = NULL;
    int mode, rc;
    if (!c)
        return zkd__fail(err, ZKD_EINVAL, "no client given");
    if ((rc = zkd_validate_path(path, err)) || (rc = zk_mode(opts->flags, err, &mode)) ||
        (rc = check_len(path, len, err)))
        return rc;
    if (!strcmp(path, "/"))
        return zkd__fail(err, ZKD_EEXISTS, "/ already exists");
    acl_buf acl;
    if ((rc = acl_build(&acl, opts->acl, opts->acl_count, err)))
        return rc;
    zkd_op op = {.kind = ZKD_OP_CREATE, .path = path, .data = data, .len = data ? (int)len : -1,
                 .flags = mode, .acl = &acl.vec};
    zkd_result res = {0};
    rc = zkd__call(c, &op, &res, err);
    if (rc == ZKD_ENOTFOUND && opts->parents) {
        /* Parents get the open ACL, as the help says: the leaf's ACL on them
         * could lock the caller out of its own new path. */
        rc = create_ancestors(c, path, NULL, err);
        if (!rc)
            rc = zkd__call(c, &op, &res, err);
    }
    if (rc == ZKD_ENOTFOUND)
        zkd__fail(err, rc, "cannot create %s: its parent %.*s does not exist", path,
                  (int)(parent_len(path) ? parent_len(path) : 1), path);
    else
        explain(rc, "create", path, err);
    if (!rc && created_out) {
        *created_out = res.created;
        res.created = NULL;
    }
    zkd__result_clear(&res);
    free(acl.items);
    return rc;
}

int zkd_node_set(zkd_client *c, const char *path, const char *data, size_t len, int version,
                 zkd_stat *stat_out, zkd_error *err)
{
    int rc;
    if (!c)
        return zkd__fail(err, ZKD_EINVAL, "no client given");
    if ((rc = check_len(path ? path : "", len, err)))
        return rc;
    zkd_result res = {0};
    rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_SET, .path = path, .data = data,
                                .len = data ? (int)len : -1, .version = version < 0 ? -1 : version},
                   &res, err);
    explain(rc, "set", path, err);
    if (!rc && stat_out)
        *stat_out = res.stat;
    zkd__result_clear(&res);
    return rc;
}

int zkd_node_delete(zkd_client *c, const char *path, int version, zkd_error *err)
{
    if (!c)
        return zkd__fail(err, ZKD_EINVAL, "no client given");
    if (path && !strcmp(path, "/"))
        return zkd__fail(err, ZKD_EINVAL, "the root node cannot be deleted");
    int rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_DELETE, .path = path,
                                    .version = version < 0 ? -1 : version},
                       NULL, err);
    return explain(rc, "delete", path, err);
}

/* ---- recursive delete ---------------------------------------------------- */

typedef struct path_list {
    char **items;
    size_t count, cap;
} path_list;

static int collect_path(const zkd_walk_node *n, void *ctx)
{
    path_list *l = ctx;
    if (n->rc)
        return 0; /* unreadable: its delete will say why */
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **grown = realloc(l->items, cap * sizeof *grown);
        if (!grown)
            return ZKD_ENOMEM;
        l->items = grown;
        l->cap = cap;
    }
    if (!(l->items[l->count] = strdup(n->path)))
        return ZKD_ENOMEM;
    l->count++;
    return 0;
}

static void path_list_free(path_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

enum { DELETE_WINDOW = 500 };

/* One pass: list, then delete in reverse pre-order (children before their
 * parent). Returns ZKD_ENOTEMPTY when a node gained a child meanwhile. */
static int delete_pass(zkd_client *c, const char *path, int version, size_t *deleted,
                       zkd_error *err)
{
    path_list l = {0};
    zkd_walk_options wo;
    zkd_walk_options_init(&wo);
    int rc = zkd_walk(c, path, &wo, collect_path, &l, err);
    if (rc == ZKD_ENOMEM)
        zkd__fail(err, rc, "out of memory listing %s", path);
    zkd_op *ops = rc ? NULL : calloc(DELETE_WINDOW, sizeof *ops);
    int *rcs = rc ? NULL : calloc(DELETE_WINDOW, sizeof *rcs);
    if (!rc && (!ops || !rcs))
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    size_t end = l.count;
    while (!rc && end > 0) {
        size_t start = end > DELETE_WINDOW ? end - DELETE_WINDOW : 0;
        size_t n = end - start;
        for (size_t i = 0; i < n; i++) {
            const char *p = l.items[end - 1 - i];
            int top = !strcmp(p, path);
            ops[i] = (zkd_op){.kind = ZKD_OP_DELETE, .path = p, .version = top && version >= 0 ? version : -1};
        }
        rc = zkd__call_batch(c, ops, n, NULL, rcs, err);
        for (size_t i = 0; !rc && i < n; i++) {
            if (rcs[i] == 0)
                (*deleted)++;
            else if (rcs[i] != ZKD_ENOTFOUND) {
                rc = rcs[i];
                zkd__fail(err, rc, "cannot delete %s: %s", ops[i].path, zkd_strerror(rc));
                explain(rc, "delete", ops[i].path, err);
            }
        }
        end = start;
    }
    free(ops);
    free(rcs);
    path_list_free(&l);
    return rc;
}

int zkd_node_delete_tree(zkd_client *c, const char *path, int version, size_t *deleted_out,
                         zkd_error *err)
{
    size_t deleted = 0;
    if (deleted_out)
        *deleted_out = 0;
    if (!c)
        return zkd__fail(err, ZKD_EINVAL, "no client given");
    int rc = zkd_validate_path(path, err);
    if (rc)
        return rc;
    if (!strcmp(path, "/"))
        return zkd__fail(err, ZKD_EINVAL, "the root node cannot be deleted");
    if (version >= 0) {
        zkd_stat st;
        if ((rc = zkd_node_stat(c, path, &st, err)))
            return rc;
        if (st.version != version)
            return zkd__fail(err, ZKD_ECONFLICT, "cannot delete %s: its version is %d, not %d",
                             path, st.version, version);
    }
    for (int attempt = 0; attempt < 5; attempt++) {
        rc = delete_pass(c, path, version, &deleted, err);
        if (rc != ZKD_ENOTEMPTY)
            break;
    }
    if (rc == ZKD_ENOTFOUND && deleted > 0)
        rc = 0; /* someone else removed the rest */
    if (deleted_out)
        *deleted_out = deleted;
    return rc;
}

/* ---- multi ---------------------------------------------------------------- */

static const char *multi_verb(zkd_multi_kind k)
{
    static const char *verbs[] = {"create", "set", "delete", "check"};
    return (unsigned)k < 4 ? verbs[k] : "apply";
}

static const zkd_op_kind multi_op[] = {[ZKD_MULTI_CREATE] = ZKD_OP_CREATE,
                                       [ZKD_MULTI_SET] = ZKD_OP_SET,
                                       [ZKD_MULTI_DELETE] = ZKD_OP_DELETE,
                                       [ZKD_MULTI_CHECK] = ZKD_OP_CHECK};

static int multi_check(const zkd_multi_op *ops, size_t n, zkd_error *err)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = (unsigned)ops[i].kind > ZKD_MULTI_CHECK
                     ? zkd__fail(err, ZKD_EINVAL, "operation %zu has an unknown kind", i)
                     : zkd_validate_path(ops[i].path, err);
        if (!rc)
            rc = check_len(ops[i].path, ops[i].len, err);
        if (rc)
            return rc;
        bytes += ops[i].len + strlen(ops[i].path) + 64;
    }
    if (bytes > 1024 * 1024 - 4096)
        return zkd__fail(err, ZKD_ETOOBIG, "the transaction carries about %zu bytes; ZooKeeper "
                         "takes at most 1 MiB per request", bytes);
    return 0;
}

/* Says which op failed and why, in the transaction's own terms. */
static int multi_explain(zkd_client *c, const zkd_multi_op *o, int rc, int zrc, zkd_error *err)
{
    if (rc == ZKD_ENOTFOUND)
        return zkd__fail(err, rc, "transaction rolled back: cannot %s %s: %s", multi_verb(o->kind),
                         o->path, o->kind == ZKD_MULTI_CREATE ? "its parent does not exist" : "no such node");
    if (rc == ZKD_EEXISTS)
        return zkd__fail(err, rc, "transaction rolled back: %s already exists", o->path);
    if (rc == ZKD_ECONFLICT)
        return zkd__fail(err, rc, "transaction rolled back: cannot %s %s: version mismatch",
                         multi_verb(o->kind), o->path);
    (void)c;
    return zkd__fail(err, rc, "transaction rolled back: cannot %s %s: %s", multi_verb(o->kind),
                     o->path, zkd__zk_text(zrc));
}

int zkd_node_multi(zkd_client *c, const zkd_multi_op *ops, size_t n, int *rcs,
                   size_t *failed_index, zkd_error *err)
{
    if (failed_index)
        *failed_index = 0;
    if (!c || (!ops && n))
        return zkd__fail(err, ZKD_EINVAL, "no client or operations given");
    if (n == 0)
        return 0;
    if (n > ZKD_MULTI_MAX)
        return zkd__fail(err, ZKD_ETOOBIG, "%zu operations in one transaction; at most %d", n, ZKD_MULTI_MAX);
    int rc = multi_check(ops, n, err);
    if (rc)
        return rc;
    zkd_op *zops = calloc(n, sizeof *zops);
    acl_buf *acls = calloc(n, sizeof *acls);
    if (!zops || !acls)
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        const zkd_multi_op *o = &ops[i];
        zops[i] = (zkd_op){.kind = multi_op[o->kind], .path = o->path, .data = o->data,
                           .len = o->data ? (int)o->len : -1,
                           .version = o->version < 0 ? -1 : o->version};
        if (o->kind == ZKD_MULTI_CREATE &&
            !(rc = zk_mode(o->flags, err, &zops[i].flags)) &&
            !(rc = acl_build(&acls[i], o->acl, o->acl_count, err)))
            zops[i].acl = &acls[i].vec;
        if (rc && failed_index)
            *failed_index = i;
    }
    zkd_result res = {0};
    if (!rc) {
        rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_MULTI, .ops = zops, .nops = (int)n}, &res, err);
        for (size_t i = 0; rcs && i < n; i++) {
            int e = res.op_zrcs ? res.op_zrcs[i] : ZOK;
            rcs[i] = e == ZOK || e == ZRUNTIMEINCONSISTENCY ? 0 : zkd__from_zk(e);
        }
        if (rc && res.failed >= 0) {
            if (failed_index)
                *failed_index = (size_t)res.failed;
            multi_explain(c, &ops[res.failed], rc, res.op_zrcs[res.failed], err);
        } else if (rc == ZKD_ECONNLOSS || rc == ZKD_EEXPIRED) {
            zkd__fail(err, rc, "the connection to ZooKeeper at %s dropped during the transaction "
                      "(it may or may not have been applied)", zkd_client_connect_string(c));
        }
    }
    zkd__result_clear(&res);
    for (size_t i = 0; acls && i < n; i++)
        free(acls[i].items);
    free(acls);
    free(zops);
    return rc;
}
