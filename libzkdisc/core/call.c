/* ZooKeeper requests waited for with a deadline (see call.h). Each batch is
 * shared by its waiter and its completions; whoever lets go last frees it. */
#include "clock.h"
#include "call.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zkdisc/names.h>

#include "counters.h"
#include "errors.h"
#include "session.h"

typedef struct batch batch;

typedef struct slot {
    batch *b;
    int zrc;
    int nomem;
    zkd_result res;
} slot;

struct batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t refs;        /* the waiter plus one per issued op */
    size_t outstanding; /* issued ops not yet completed */
    size_t n;
    slot slots[];
};

static const char *op_name(zkd_op_kind k)
{
    static const char *names[] = {"get", "list children of", "stat", "create", "set", "delete"};
    return names[k];
}

void zkd__stat_copy(zkd_stat *d, const struct Stat *s)
{
    *d = (zkd_stat){.czxid = s->czxid, .mzxid = s->mzxid, .pzxid = s->pzxid,
                    .ctime = s->ctime, .mtime = s->mtime, .version = s->version,
                    .cversion = s->cversion, .aversion = s->aversion,
                    .ephemeral_owner = s->ephemeralOwner, .data_length = s->dataLength,
                    .num_children = s->numChildren};
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int zkd__strings_copy(zkd_strings *dst, const struct String_vector *src)
{
    dst->count = 0;
    dst->items = NULL;
    if (!src || src->count <= 0)
        return 0;
    dst->items = calloc((size_t)src->count, sizeof *dst->items);
    if (!dst->items)
        return ZKD_ENOMEM;
    for (int i = 0; i < src->count; i++) {
        dst->items[i] = strdup(src->data[i]);
        if (!dst->items[i]) {
            dst->count = (size_t)i;
            zkd_strings_free(dst);
            return ZKD_ENOMEM;
        }
    }
    dst->count = (size_t)src->count;
    qsort(dst->items, dst->count, sizeof *dst->items, cmp_str);
    return 0;
}

void zkd__result_clear(zkd_result *res)
{
    free(res->data);
    free(res->created);
    zkd_strings_free(&res->children);
    memset(res, 0, sizeof *res);
}

static void unref(batch *b, size_t n)
{
    pthread_mutex_lock(&b->mu);
    b->refs -= n;
    int last = b->refs == 0;
    pthread_mutex_unlock(&b->mu);
    if (!last)
        return;
    for (size_t i = 0; i < b->n; i++)
        zkd__result_clear(&b->slots[i].res);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b);
}

static void finish(slot *s, int zrc)
{
    batch *b = s->b;
    pthread_mutex_lock(&b->mu);
    s->zrc = zrc;
    if (--b->outstanding == 0)
        pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    unref(b, 1);
}

/* ---- completions (ZooKeeper's completion thread): copy and signal ------- */

static void on_data(int rc, const char *value, int len, const struct Stat *st, const void *data)
{
    slot *s = (slot *)data;
    if (rc == ZOK) {
        zkd__stat_copy(&s->res.stat, st);
        s->res.len = value ? len : -1;
        if (value && len >= 0) {
            s->res.data = malloc((size_t)len + 1);
            if (s->res.data) {
                memcpy(s->res.data, value, (size_t)len);
                s->res.data[len] = '\0';
            } else {
                s->nomem = 1;
            }
        }
    }
    finish(s, rc);
}

static void on_children(int rc, const struct String_vector *sv, const struct Stat *st, const void *data)
{
    slot *s = (slot *)data;
    if (rc == ZOK) {
        zkd__stat_copy(&s->res.stat, st);
        s->nomem = zkd__strings_copy(&s->res.children, sv) != 0;
    }
    finish(s, rc);
}

static void on_stat(int rc, const struct Stat *st, const void *data)
{
    slot *s = (slot *)data;
    if (rc == ZOK && st)
        zkd__stat_copy(&s->res.stat, st);
    finish(s, rc);
}

static void on_string(int rc, const char *value, const void *data)
{
    slot *s = (slot *)data;
    if (rc == ZOK && value)
        s->nomem = !(s->res.created = strdup(value));
    finish(s, rc);
}

static void on_void(int rc, const void *data)
{
    finish((slot *)data, rc);
}

static const zkd_counter op_counter[] = {
    [ZKD_OP_GET] = ZKD_CNT_GET_DATA,   [ZKD_OP_CHILDREN] = ZKD_CNT_GET_CHILDREN,
    [ZKD_OP_EXISTS] = ZKD_CNT_EXISTS,  [ZKD_OP_CREATE] = ZKD_CNT_CREATE,
    [ZKD_OP_SET] = ZKD_CNT_SET_DATA,   [ZKD_OP_DELETE] = ZKD_CNT_REMOVE,
};

static int issue(zkd_client *c, zhandle_t *zh, const zkd_op *op, slot *s)
{
    zkd__count(c, op_counter[op->kind], 1);
    if (op->data && op->len > 0)
        zkd__count(c, ZKD_CNT_BYTES_WRITTEN, (uint64_t)op->len);
    switch (op->kind) {
    case ZKD_OP_GET: return zoo_aget(zh, op->path, 0, on_data, s);
    case ZKD_OP_CHILDREN: return zoo_aget_children2(zh, op->path, 0, on_children, s);
    case ZKD_OP_EXISTS: return zoo_aexists(zh, op->path, 0, on_stat, s);
    case ZKD_OP_CREATE:
        return zoo_acreate(zh, op->path, op->data, op->len,
                           op->acl ? op->acl : &ZOO_OPEN_ACL_UNSAFE, op->flags, on_string, s);
    case ZKD_OP_SET: return zoo_aset(zh, op->path, op->data, op->len, op->version, on_stat, s);
    case ZKD_OP_DELETE: return zoo_adelete(zh, op->path, op->version, on_void, s);
    }
    return ZBADARGUMENTS;
}

static int wait_all(batch *b, int timeout_ms)
{
    struct timespec dl = zkd__deadline(timeout_ms);
    pthread_mutex_lock(&b->mu);
    while (b->outstanding)
        if (pthread_cond_timedwait(&b->cv, &b->mu, &dl) == ETIMEDOUT)
            break;
    int done = b->outstanding == 0;
    pthread_mutex_unlock(&b->mu);
    return done;
}

static int describe(zkd_client *c, const zkd_op *op, int zrc, zkd_error *err)
{
    int code = zkd__from_zk(zrc);
    switch (code) {
    case ZKD_ENOTFOUND:
        return zkd__fail(err, code, "%s: no such node", op->path);
    case ZKD_EEXPIRED:
    case ZKD_ECONNLOSS:
        return zkd__fail(err, code, "cannot %s %s: %s (ZooKeeper at %s)", op_name(op->kind),
                         op->path, zkd__zk_text(zrc), zkd_client_connect_string(c));
    default:
        return zkd__fail(err, code, "cannot %s %s: %s", op_name(op->kind), op->path,
                         zkd__zk_text(zrc));
    }
}

static batch *batch_new(size_t n)
{
    batch *b = calloc(1, sizeof *b + n * sizeof(slot));
    if (!b)
        return NULL;
    pthread_mutex_init(&b->mu, NULL);
    zkd__cond_init(&b->cv);
    b->n = n;
    b->refs = 1;
    for (size_t i = 0; i < n; i++)
        b->slots[i].b = b;
    return b;
}

/* Issues every op under one hold of the handle; returns how many went out
 * and leaves the first refusal's code in *zrc_out. */
static size_t issue_all(zkd_client *c, batch *b, const zkd_op *ops, size_t n, int *zrc_out)
{
    zhandle_t *zh = zkd__zh_acquire(c);
    size_t issued = 0;
    *zrc_out = zh ? ZOK : ZINVALIDSTATE;
    for (; zh && issued < n; issued++) {
        pthread_mutex_lock(&b->mu);
        b->refs++;
        b->outstanding++;
        pthread_mutex_unlock(&b->mu);
        int zrc = issue(c, zh, &ops[issued], &b->slots[issued]);
        if (zrc != ZOK) {
            pthread_mutex_lock(&b->mu);
            b->refs--;
            b->outstanding--;
            pthread_mutex_unlock(&b->mu);
            *zrc_out = zrc;
            break;
        }
    }
    if (zh)
        zkd__zh_release(c);
    return issued;
}

static int all_reads(const zkd_op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ops[i].kind != ZKD_OP_GET && ops[i].kind != ZKD_OP_CHILDREN && ops[i].kind != ZKD_OP_EXISTS)
            return 0;
    return 1;
}

/* One attempt: issue everything, wait for everything. 1 when all answered
 * (rcs filled), 0 on timeout or when the ops could not be sent (*rc set). */
static int attempt(zkd_client *c, const zkd_op *ops, size_t n, zkd_result *res, int *rcs,
                   int timeout_ms, int *rc, zkd_error *err)
{
    batch *b = batch_new(n);
    if (!b) {
        *rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
        return 0;
    }
    int zrc;
    size_t issued = issue_all(c, b, ops, n, &zrc);
    if (!wait_all(b, timeout_ms)) {
        unref(b, 1);
        *rc = zkd__fail(err, ZKD_ETIMEDOUT, "no answer from ZooKeeper at %s within %d ms",
                        zkd_client_connect_string(c), zkd__request_timeout_ms(c));
        return 0;
    }
    if (issued < n) {
        *rc = describe(c, &ops[issued], zrc, err);
        unref(b, 1);
        return 0;
    }
    int first_rc = 0;
    for (size_t i = 0; i < n; i++) {
        slot *s = &b->slots[i];
        int r = s->zrc != ZOK ? zkd__from_zk(s->zrc) : s->nomem ? ZKD_ENOMEM : 0;
        rcs[i] = r;
        if (r && !first_rc) {
            first_rc = r;
            if (r == ZKD_ENOMEM)
                zkd__fail(err, r, "out of memory reading %s", ops[i].path);
            else
                describe(c, &ops[i], s->zrc, err);
        }
        if (s->res.len > 0)
            zkd__count(c, ZKD_CNT_BYTES_READ, (uint64_t)s->res.len);
        if (res && !r) {
            res[i] = s->res; /* hand the copies over */
            memset(&s->res, 0, sizeof s->res);
        } else if (res) {
            memset(&res[i], 0, sizeof res[i]);
        }
    }
    unref(b, 1);
    *rc = 0;
    return 1;
}

static int lost_connection(const int *rcs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rcs[i] == ZKD_ECONNLOSS)
            return 1;
    return 0;
}

int zkd__call_batch(zkd_client *c, const zkd_op *ops, size_t n, zkd_result *res, int *rcs,
                    zkd_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = zkd_validate_path(ops[i].path, err);
        if (rc)
            return rc;
    }
    /* A request made while the connection is down waits for it, within the
     * request timeout; reads (idempotent) are sent again when the connection
     * drops under them. Writes are not: a lost reply may hide a success. */
    int64_t deadline = zkd__now_ms() + zkd__request_timeout_ms(c);
    int reads = all_reads(ops, n);
    for (;;) {
        int left = (int)(deadline - zkd__now_ms());
        int rc = zkd__wait_usable(c, left);
        if (rc == ZKD_ECLOSED)
            return zkd__fail(err, rc, "the client is closed");
        left = (int)(deadline - zkd__now_ms());
        if (left <= 0)
            left = 1;
        if (!attempt(c, ops, n, res, rcs, left, &rc, err))
            return rc;
        if (!reads || !lost_connection(rcs, n) || zkd__now_ms() >= deadline)
            return 0;
        for (size_t i = 0; res && i < n; i++)
            zkd__result_clear(&res[i]);
    }
}

int zkd__call(zkd_client *c, const zkd_op *op, zkd_result *res, zkd_error *err)
{
    int rc1;
    int rc = zkd__call_batch(c, op, 1, res, &rc1, err);
    return rc ? rc : rc1;
}
