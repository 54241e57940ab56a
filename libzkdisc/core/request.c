/* SPDX-License-Identifier: Apache-2.0 */
/* The request layer's requests and their results (see request.h and
 * request_impl.h for how the layer is split). */
#include "request_impl.h"

#include <stdlib.h>
#include <string.h>
#include <zkdisc/names.h>

#include "errors.h"
#include "session.h"

/* ---- small helpers -------------------------------------------------------- */

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

void zkd__strings_take(zkd_strings *dst, struct String_vector *src)
{
    dst->count = 0;
    dst->items = NULL;
    if (!src || src->count <= 0 || !src->data)
        return;
    dst->items = src->data;
    dst->count = (size_t)src->count;
    src->data = NULL;
    src->count = 0;
    qsort(dst->items, dst->count, sizeof *dst->items, cmp_str);
}

void zkd__result_clear(zkd_result *res)
{
    free(res->data);
    free(res->created);
    free(res->op_zrcs);
    zkd_strings_free(&res->children);
    zkd__acl_free(res->acl, res->acl_count);
    memset(res, 0, sizeof *res);
    res->failed = -1;
}

void zkd__acl_free(zkd_acl_entry *entries, size_t n)
{
    for (size_t i = 0; entries && i < n; i++) {
        free((char *)entries[i].scheme);
        free((char *)entries[i].id);
    }
    free(entries);
}

int zkd__rq_is_read(zkd_op_kind k)
{
    return k == ZKD_OP_GET || k == ZKD_OP_CHILDREN || k == ZKD_OP_EXISTS || k == ZKD_OP_GET_ACL ||
           k == ZKD_OP_SYNC;
}

static const char *op_name(zkd_op_kind k)
{
    static const char *names[] = {"get", "list children of", "stat", "create", "set", "delete",
                                  "check", "commit a transaction on", "set the ACL of",
                                  "get the ACL of", "sync"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "use";
}

int zkd__describe(zkd_client *c, const zkd_op *op, int zrc, zkd_error *err)
{
    int code = zkd__from_zk(zrc);
    const char *path = op->kind == ZKD_OP_MULTI ? (op->nops ? op->ops[0].path : "/") : op->path;
    switch (code) {
    case ZKD_ENOTFOUND:
        return zkd__fail(err, code, "%s: no such node", path);
    case ZKD_EEXPIRED:
    case ZKD_ECONNLOSS:
        return zkd__fail(err, code, "cannot %s %s: %s (ZooKeeper at %s)%s", op_name(op->kind),
                         path, zkd__zk_text(zrc), zkd_client_connect_string(c),
                         code == ZKD_ECONNLOSS && !zkd__rq_is_read(op->kind)
                             ? "; it may or may not have been done"
                             : "");
    default:
        return zkd__fail(err, code, "cannot %s %s: %s", op_name(op->kind), path, zkd__zk_text(zrc));
    }
}

/* ---- requests --------------------------------------------------------------- */

zkd_req *zkd__rq_new(engine *e, const zkd_op *op)
{
    zkd_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->e = e;
    r->op = *op;
    r->res.len = -1;
    r->res.failed = -1;
    return r;
}


/* Frees a request and lets go of its batch or target. Not under e->mu. */
void zkd__rq_release(zkd_req *r)
{
    if (r->early) /* never completed (dropped on expiry, close, cancel): say so */
        r->early(r->early_arg, ZKD_ECLOSED);
    zkd__result_clear(&r->res);
    free(r->own_path);
    free(r->own_data);
    free(r->own_tag);
    if (r->own_acl.data)
        deallocate_ACL_vector(&r->own_acl);
    free(r->zres);
    free(r->zstats);
    for (int i = 0; r->zpaths && i < r->op.nops; i++)
        free(r->zpaths[i]);
    free(r->zpaths);
    zkd_batch *b = r->sink == SINK_BATCH ? r->b : NULL;
    zkd_target *t = r->sink == SINK_TARGET ? r->t : NULL;
    free(r);
    if (b)
        zkd__rq_batch_unref(b);
    if (t)
        zkd__rq_target_unref(t);
}

void zkd__rq_release_list(zkd_req *r)
{
    for (zkd_req *next; r; r = next) {
        next = r->next;
        zkd__rq_release(r);
    }
}

/* Under e->mu: nobody wants the answer any more. */
int zkd__rq_sink_gone(const zkd_req *r)
{
    return r->sink == SINK_BATCH ? r->b->abandoned : r->t->owner == NULL;
}

zkd_req *zkd__req_next(const zkd_req *r) { return r->next; }
void *zkd__req_tag(const zkd_req *r) { return r->tag; }
const zkd_op *zkd__req_op(const zkd_req *r) { return &r->op; }
int zkd__req_zrc(const zkd_req *r) { return r->zrc; }
zkd_result *zkd__req_result(zkd_req *r) { return &r->res; }
void zkd__req_free(zkd_req *r) { zkd__rq_release(r); }

int zkd__req_rc(const zkd_req *r)
{
    if (r->zrc == ZOK)
        return r->nomem ? ZKD_ENOMEM : 0;
    if (r->op.kind == ZKD_OP_MULTI && r->res.failed >= 0)
        return zkd__from_zk(r->res.op_zrcs[r->res.failed]);
    return zkd__from_zk(r->zrc);
}
