/* Asynchronous reads and watches delivered on the dispatch thread (async.h). */
#include "async.h"

#include <stdlib.h>
#include <string.h>
#include <zookeeper/zookeeper.h>

#include "call.h"
#include "counters.h"
#include "errors.h"
#include "session.h"

struct zkd_target {
    zkd_client *c;
    void *owner; /* NULL once cancelled; read and written on the dispatch thread */
    zkd_watch_handler on_watch;
};

typedef enum { R_DATA, R_CHILDREN, R_STAT } reply_kind;

typedef struct reply {
    zkd_target *t;
    reply_kind kind;
    void *fn;
    char *tag;
    uint64_t epoch;
    int zrc;
    int nomem;
    char *data;
    int len;
    zkd_stat st;
    zkd_strings kids;
    zkd_early_fn early; /* zkd__awrite_early */
    void *early_arg;
} reply;

typedef struct fired {
    zkd_target *t;
    int type;
    char *path;
} fired;

zkd_target *zkd__target_new(zkd_client *c, void *owner, zkd_watch_handler on_watch)
{
    zkd_target *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    *t = (zkd_target){.c = c, .owner = owner, .on_watch = on_watch};
    if (zkd__at_teardown(c, free, t) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

void zkd__target_cancel(zkd_target *t)
{
    t->owner = NULL;
}

/* ---- results ------------------------------------------------------------ */

static void reply_free(void *arg)
{
    reply *r = arg;
    free(r->tag);
    free(r->data);
    zkd_strings_free(&r->kids);
    free(r);
}

static void reply_run(void *arg)
{
    reply *r = arg;
    void *owner = r->t->owner;
    if (owner) {
        int rc = r->zrc != ZOK ? zkd__from_zk(r->zrc) : r->nomem ? ZKD_ENOMEM : 0;
        if (r->kind == R_DATA)
            ((zkd_data_handler)r->fn)(owner, r->tag, r->epoch, rc, r->data, r->len, &r->st);
        else if (r->kind == R_CHILDREN)
            ((zkd_children_handler)r->fn)(owner, r->tag, r->epoch, rc, &r->kids, &r->st);
        else
            ((zkd_stat_handler)r->fn)(owner, r->tag, r->epoch, rc, &r->st);
    }
    reply_free(r);
}

static void post_reply(reply *r, int zrc)
{
    r->zrc = zrc;
    zkd_early_fn early = r->early;
    void *early_arg = r->early_arg;
    zkd__post(r->t->c, reply_run, reply_free, r); /* r may be gone now */
    if (early)
        early(early_arg, zrc != ZOK ? zkd__from_zk(zrc) : 0);
}

static void on_data(int rc, const char *value, int len, const struct Stat *st, const void *data)
{
    reply *r = (reply *)data;
    if (rc == ZOK) {
        zkd__stat_copy(&r->st, st);
        r->len = value ? len : -1;
        if (value && len >= 0) {
            r->data = malloc((size_t)len + 1);
            if (r->data) {
                memcpy(r->data, value, (size_t)len);
                r->data[len] = '\0';
                zkd__count(r->t->c, ZKD_CNT_BYTES_READ, (uint64_t)len);
            } else {
                r->nomem = 1;
            }
        }
    }
    post_reply(r, rc);
}

static void on_children(int rc, const struct String_vector *sv, const struct Stat *st, const void *data)
{
    reply *r = (reply *)data;
    if (rc == ZOK) {
        zkd__stat_copy(&r->st, st);
        r->nomem = zkd__strings_copy(&r->kids, sv) != 0;
    }
    post_reply(r, rc);
}

static void on_stat(int rc, const struct Stat *st, const void *data)
{
    reply *r = (reply *)data;
    if (rc == ZOK && st)
        zkd__stat_copy(&r->st, st);
    post_reply(r, rc);
}

static void on_created(int rc, const char *value, const struct Stat *st, const void *data)
{
    (void)value;
    on_stat(rc, st, data);
}

static void on_deleted(int rc, const void *data)
{
    post_reply((reply *)data, rc);
}

/* ---- watches ------------------------------------------------------------ */

static void fired_free(void *arg)
{
    fired *f = arg;
    free(f->path);
    free(f);
}

static void fired_run(void *arg)
{
    fired *f = arg;
    if (f->t->owner)
        f->t->on_watch(f->t->owner, f->type, f->path);
    fired_free(f);
}

/* ZooKeeper's completion thread. Session events also arrive here; the
 * target is not ours to free, and the session subscription handles them. */
static void target_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    zkd_target *t = ctx;
    if (type == ZOO_SESSION_EVENT || !t->on_watch)
        return;
    zkd__count(t->c, ZKD_CNT_WATCHES_FIRED, 1);
    fired *f = malloc(sizeof *f);
    if (!f)
        return;
    *f = (fired){.t = t, .type = type, .path = strdup(path ? path : "")};
    if (!f->path) {
        free(f);
        return;
    }
    zkd__post(t->c, fired_run, fired_free, f);
}

/* ---- issuing ------------------------------------------------------------ */

static reply *reply_new(zkd_target *t, reply_kind kind, void *fn, const char *tag, uint64_t epoch)
{
    reply *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    *r = (reply){.t = t, .kind = kind, .fn = fn, .epoch = epoch, .len = -1};
    if (tag && !(r->tag = strdup(tag))) {
        free(r);
        return NULL;
    }
    return r;
}

static int issue(zkd_target *t, reply *r, const char *path, int watch)
{
    if (!r)
        return ZKD_ENOMEM;
    zhandle_t *zh = zkd__zh_acquire(t->c);
    int zrc = ZINVALIDSTATE;
    watcher_fn w = watch ? target_watcher : NULL;
    if (zh) {
        switch (r->kind) {
        case R_DATA:
            zkd__count(t->c, ZKD_CNT_GET_DATA, 1);
            zrc = zoo_awget(zh, path, w, t, on_data, r);
            break;
        case R_CHILDREN:
            zkd__count(t->c, ZKD_CNT_GET_CHILDREN, 1);
            zrc = zoo_awget_children2(zh, path, w, t, on_children, r);
            break;
        case R_STAT:
            zkd__count(t->c, ZKD_CNT_EXISTS, 1);
            zrc = zoo_awexists(zh, path, w, t, on_stat, r);
            break;
        }
        zkd__zh_release(t->c);
    }
    if (zrc != ZOK) {
        reply_free(r);
        return zkd__from_zk(zrc);
    }
    return 0;
}

int zkd__aget(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
              zkd_data_handler fn)
{
    return issue(t, reply_new(t, R_DATA, (void *)fn, tag, epoch), path, watch);
}

int zkd__achildren(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
                   zkd_children_handler fn)
{
    return issue(t, reply_new(t, R_CHILDREN, (void *)fn, tag, epoch), path, watch);
}

int zkd__aexists(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
                 zkd_stat_handler fn)
{
    return issue(t, reply_new(t, R_STAT, (void *)fn, tag, epoch), path, watch);
}

int zkd__awrite(zkd_target *t, const zkd_op *op, const char *tag, uint64_t epoch,
                zkd_stat_handler fn)
{
    return zkd__awrite_early(t, op, tag, epoch, fn, NULL, NULL);
}

int zkd__awrite_early(zkd_target *t, const zkd_op *op, const char *tag, uint64_t epoch,
                      zkd_stat_handler fn, zkd_early_fn early, void *early_arg)
{
    reply *r = reply_new(t, R_STAT, (void *)fn, tag, epoch);
    if (!r)
        return ZKD_ENOMEM;
    r->early = early;
    r->early_arg = early_arg;
    zhandle_t *zh = zkd__zh_acquire(t->c);
    int zrc = ZINVALIDSTATE;
    if (zh) {
        if (op->data && op->len > 0)
            zkd__count(t->c, ZKD_CNT_BYTES_WRITTEN, (uint64_t)op->len);
        switch (op->kind) {
        case ZKD_OP_CREATE:
            zkd__count(t->c, ZKD_CNT_CREATE, 1);
            zrc = zoo_acreate2(zh, op->path, op->data, op->len,
                               op->acl ? op->acl : &ZOO_OPEN_ACL_UNSAFE, op->flags, on_created, r);
            break;
        case ZKD_OP_SET:
            zkd__count(t->c, ZKD_CNT_SET_DATA, 1);
            zrc = zoo_aset(zh, op->path, op->data, op->len, op->version, on_stat, r);
            break;
        case ZKD_OP_DELETE:
            zkd__count(t->c, ZKD_CNT_REMOVE, 1);
            zrc = zoo_adelete(zh, op->path, op->version, on_deleted, r);
            break;
        default:
            zrc = ZBADARGUMENTS;
        }
        zkd__zh_release(t->c);
    }
    if (zrc != ZOK) {
        reply_free(r);
        return zkd__from_zk(zrc);
    }
    return 0;
}
