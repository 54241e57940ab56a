/* Plain znode access for the CLI and applications (see node.h): reads,
 * writes with version checks, recursive delete and multi transactions. */
#include <zkdisc/node.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zkdisc/names.h>
#include <zkdisc/walk.h>

#include "clock.h"
#include "call.h"
#include "counters.h"
#include "errors.h"
#include "session.h"

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

/* A clearer message than call.c's generic one for the codes people meet. */
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

/* Shared by the waiter and the completion, like call.c's batches: the
 * completion writes into results (and the path buffers and Stats they point
 * at) even after a waiter gave up, so all of it lives on the heap. */
typedef struct multi_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int done;
    int zrc;
    zoo_op_result_t *results;
    struct Stat *stats;
    char *pathbufs;
} multi_wait;

enum { PATHBUF = 1024 };

static void multi_unref(multi_wait *m)
{
    pthread_mutex_lock(&m->mu);
    int last = --m->refs == 0;
    pthread_mutex_unlock(&m->mu);
    if (!last)
        return;
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m->results);
    free(m->stats);
    free(m->pathbufs);
    free(m);
}

static void multi_done(int rc, const void *data)
{
    multi_wait *m = (multi_wait *)data;
    pthread_mutex_lock(&m->mu);
    m->zrc = rc;
    m->done = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    multi_unref(m);
}

static const char *multi_verb(zkd_multi_kind k)
{
    static const char *verbs[] = {"create", "set", "delete", "check"};
    return (unsigned)k < 4 ? verbs[k] : "apply";
}

static int multi_wait_done(multi_wait *m, int timeout_ms)
{
    struct timespec dl = zkd__deadline(timeout_ms);
    pthread_mutex_lock(&m->mu);
    while (!m->done)
        if (pthread_cond_timedwait(&m->cv, &m->mu, &dl) == ETIMEDOUT)
            break;
    int done = m->done;
    pthread_mutex_unlock(&m->mu);
    return done;
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
    int rc = 0;
    size_t bytes = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if ((unsigned)ops[i].kind > ZKD_MULTI_CHECK)
            rc = zkd__fail(err, ZKD_EINVAL, "operation %zu has an unknown kind", i);
        else if (!(rc = zkd_validate_path(ops[i].path, err)))
            rc = check_len(ops[i].path, ops[i].len, err);
        bytes += ops[i].len + strlen(ops[i].path ? ops[i].path : "") + 64;
        if (!rc && ops[i].kind == ZKD_MULTI_CREATE && strlen(ops[i].path) + 16 > PATHBUF)
            rc = zkd__fail(err, ZKD_EINVAL, "%s: path too long", ops[i].path);
    }
    if (!rc && bytes > 1024 * 1024 - 4096)
        rc = zkd__fail(err, ZKD_ETOOBIG, "the transaction carries about %zu bytes; ZooKeeper takes at most 1 MiB per request", bytes);
    if (rc) {
        if (failed_index)
            *failed_index = 0;
        return rc;
    }

    zoo_op_t *zops = calloc(n, sizeof *zops);
    acl_buf *acls = calloc(n, sizeof *acls);
    multi_wait *m = calloc(1, sizeof *m);
    if (m) {
        m->results = calloc(n, sizeof *m->results);
        m->stats = calloc(n, sizeof *m->stats);
        m->pathbufs = calloc(n, PATHBUF);
    }
    if (!zops || !acls || !m || !m->results || !m->stats || !m->pathbufs) {
        free(zops);
        free(acls);
        if (m) {
            free(m->results);
            free(m->stats);
            free(m->pathbufs);
            free(m);
        }
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&m->mu, NULL);
    zkd__cond_init(&m->cv);
    m->refs = 1;

    for (size_t i = 0; i < n && !rc; i++) {
        const zkd_multi_op *o = &ops[i];
        int version = o->version < 0 ? -1 : o->version;
        int dlen = o->data ? (int)o->len : -1;
        switch (o->kind) {
        case ZKD_MULTI_CREATE: {
            int mode;
            if ((rc = zk_mode(o->flags, err, &mode)) || (rc = acl_build(&acls[i], o->acl, o->acl_count, err)))
                break;
            zoo_create_op_init(&zops[i], o->path, o->data, dlen, &acls[i].vec, mode,
                               m->pathbufs + i * PATHBUF, PATHBUF);
            break;
        }
        case ZKD_MULTI_SET:
            zoo_set_op_init(&zops[i], o->path, o->data, dlen, version, &m->stats[i]);
            break;
        case ZKD_MULTI_DELETE:
            zoo_delete_op_init(&zops[i], o->path, version);
            break;
        case ZKD_MULTI_CHECK:
            zoo_check_op_init(&zops[i], o->path, version);
            break;
        }
        if (rc && failed_index)
            *failed_index = i;
    }

    int64_t bytes_out = 0;
    for (size_t i = 0; i < n; i++)
        bytes_out += ops[i].data ? (int64_t)ops[i].len : 0;
    int64_t started = zkd__now_ms();
    int timeout = zkd__request_timeout_ms(c);
    if (!rc) {
        rc = zkd__wait_usable(c, timeout);
        if (rc == ZKD_ECLOSED)
            zkd__fail(err, rc, "the client is closed");
        else if (rc)
            zkd__fail(err, rc, "cannot reach ZooKeeper at %s within %d ms", zkd_client_connect_string(c), timeout);
    }
    int sent = 0;
    if (!rc) {
        zhandle_t *zh = zkd__zh_acquire(c);
        int zrc = ZINVALIDSTATE;
        if (zh) {
            m->refs++;
            zkd__count(c, ZKD_CNT_MULTI, 1);
            zkd__count(c, ZKD_CNT_BYTES_WRITTEN, (uint64_t)bytes_out);
            zrc = zoo_amulti(zh, (int)n, zops, m->results, multi_done, m);
            if (zrc != ZOK)
                m->refs--;
            zkd__zh_release(c);
        }
        if (zrc != ZOK)
            rc = zkd__fail(err, zkd__from_zk(zrc), "cannot send the transaction: %s", zkd__zk_text(zrc));
        else
            sent = 1;
    }
    if (sent) {
        int left = timeout - (int)(zkd__now_ms() - started);
        if (!multi_wait_done(m, left > 0 ? left : 1)) {
            rc = zkd__fail(err, ZKD_ETIMEDOUT, "no answer from ZooKeeper at %s within %d ms "
                           "(the transaction may or may not have been applied)",
                           zkd_client_connect_string(c), timeout);
        } else if (m->zrc == ZOK) {
            for (size_t i = 0; rcs && i < n; i++)
                rcs[i] = 0;
        } else {
            /* The first op whose result is neither ZOK nor
             * ZRUNTIMEINCONSISTENCY holds the error (DESIGN.md 7). */
            size_t bad = n;
            for (size_t i = 0; i < n; i++) {
                int e = m->results[i].err;
                if (rcs)
                    rcs[i] = e == ZOK || e == ZRUNTIMEINCONSISTENCY ? 0 : zkd__from_zk(e);
                if (bad == n && e != ZOK && e != ZRUNTIMEINCONSISTENCY)
                    bad = i;
            }
            if (bad == n) {
                rc = zkd__from_zk(m->zrc);
                if (rc == ZKD_ECONNLOSS || rc == ZKD_EEXPIRED)
                    zkd__fail(err, rc, "the connection to ZooKeeper at %s dropped during the transaction "
                              "(it may or may not have been applied): %s",
                              zkd_client_connect_string(c), zkd__zk_text(m->zrc));
                else
                    zkd__fail(err, rc, "transaction failed: %s", zkd__zk_text(m->zrc));
            } else {
                rc = zkd__from_zk(m->results[bad].err);
                if (failed_index)
                    *failed_index = bad;
                const zkd_multi_op *o = &ops[bad];
                if (rc == ZKD_ENOTFOUND)
                    zkd__fail(err, rc, "transaction rolled back: cannot %s %s: %s", multi_verb(o->kind),
                              o->path, o->kind == ZKD_MULTI_CREATE ? "its parent does not exist" : "no such node");
                else if (rc == ZKD_EEXISTS)
                    zkd__fail(err, rc, "transaction rolled back: %s already exists", o->path);
                else if (rc == ZKD_ECONFLICT)
                    zkd__fail(err, rc, "transaction rolled back: cannot %s %s: version mismatch",
                              multi_verb(o->kind), o->path);
                else
                    zkd__fail(err, rc, "transaction rolled back: cannot %s %s: %s", multi_verb(o->kind),
                              o->path, zkd__zk_text(m->results[bad].err));
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        free(acls[i].items);
    free(acls);
    free(zops);
    multi_unref(m);
    return rc;
}
