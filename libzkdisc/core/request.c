/* The one request layer (see request.h).
 *
 * One engine per client, one mutex (e->mu) for all of its state: the queue,
 * the window, the targets' inboxes and reference counts, the batches' done
 * lists, and the table of armed watches. Lock order: the client's own
 * mutex (held by zkd__post/zkd__after while they may run a drop function)
 * comes before e->mu, so nothing here posts, sets a timer or asks the
 * client anything that locks while holding e->mu. */
#include "paths.h"
#include "request.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zkdisc/names.h>

#include "clock.h"
#include "counters.h"
#include "errors.h"
#include "session.h"

enum { DEFAULT_WINDOW = 1024, RETRY_FIRST_MS = 20, RETRY_MAX_MS = 1000, POLL_MS = 100 };
enum { W_DATA = 1, W_CHILD = 2 };

typedef struct engine engine;
typedef struct wpath wpath;
typedef struct wreg wreg;

typedef enum { SINK_BATCH, SINK_TARGET } sink_kind;
typedef enum { H_DATA, H_CHILDREN, H_STAT, H_RESULT, H_EVENT } handler_kind;

struct zkd_req {
    zkd_req *next; /* in the queue, a batch's done list or a target's inbox */
    engine *e;
    zkd_op op;
    char *own_path, *own_data, *own_tag; /* a target's request owns its strings */
    struct ACL_vector own_acl;           /* and a CREATE's ACL (a deep copy) */
    int watch;
    int retry;    /* a read, re-sent after a connection loss */
    int nowait;   /* made on the loop thread: fail rather than wait for it */
    int queued;   /* in e's queue */
    unsigned gen; /* target requests: the session they were made in */
    int attempts;
    sink_kind sink;
    zkd_batch *b;
    void *tag;
    zkd_target *t;
    handler_kind hk;
    void *fn;
    uint64_t epoch;
    int ev_type; /* H_EVENT */
    wpath *wp;   /* a watched read in flight: counted in wp->inflight */
    zkd_early_fn early; /* zkd__awrite_early: told on the completion thread */
    void *early_arg;
    int zrc, nomem;
    zkd_result res;
    zoo_op_result_t *zres; /* MULTI: written by the client library */
    struct Stat *zstats;
    char **zpaths;
};

struct zkd_batch {
    engine *e;
    pthread_cond_t cv;
    int refs;      /* the waiter plus one per request not yet released */
    int abandoned; /* the waiter left: answers are dropped */
    int nowait;
    zkd_req *head, *tail;
};

struct wreg { /* one target's armed watches on one path */
    wreg *pnext;         /* the path's next registration */
    wreg *tnext, **tprev; /* in the target's list */
    wpath *p;
    zkd_target *t;
    unsigned kinds;
};

struct wpath {
    wpath *hnext;
    wreg *regs;
    int inflight; /* watched reads of this path sent and not yet answered */
    char path[];
};

struct zkd_target {
    engine *e;
    void *owner; /* NULL once cancelled */
    zkd_watch_handler on_watch;
    int refs;    /* the owner, each request, a posted job */
    int posted;
    zkd_req *head, *tail; /* answers and events to run on the loop */
    wreg *regs;
    zkd_target *post_next;
};

struct engine {
    engine *next_engine; /* in the list of every client's engine */
    zkd_client *c;
    pthread_mutex_t mu;
    int refs; /* the client, each batch, each target */
    int dead; /* the client was torn down */
    int window, inflight, max_inflight, queued;
    int polling; /* a poll timer is set */
    zkd_req *qhead, *qtail;
    unsigned gen;
    wpath **buckets;
    size_t nbuckets, npaths;
};

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

static int is_read(zkd_op_kind k)
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
                         code == ZKD_ECONNLOSS && !is_read(op->kind)
                             ? "; it may or may not have been done"
                             : "");
    default:
        return zkd__fail(err, code, "cannot %s %s: %s", op_name(op->kind), path, zkd__zk_text(zrc));
    }
}

/* ---- requests --------------------------------------------------------------- */

static zkd_req *req_new(engine *e, const zkd_op *op)
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

static void batch_unref(zkd_batch *b);
static void target_unref(zkd_target *t);

/* Frees a request and lets go of its batch or target. Not under e->mu. */
static void req_release(zkd_req *r)
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
        batch_unref(b);
    if (t)
        target_unref(t);
}

static void release_list(zkd_req *r)
{
    for (zkd_req *next; r; r = next) {
        next = r->next;
        req_release(r);
    }
}

/* Under e->mu: nobody wants the answer any more. */
static int sink_gone(const zkd_req *r)
{
    return r->sink == SINK_BATCH ? r->b->abandoned : r->t->owner == NULL;
}

zkd_req *zkd__req_next(const zkd_req *r) { return r->next; }
void *zkd__req_tag(const zkd_req *r) { return r->tag; }
const zkd_op *zkd__req_op(const zkd_req *r) { return &r->op; }
int zkd__req_zrc(const zkd_req *r) { return r->zrc; }
zkd_result *zkd__req_result(zkd_req *r) { return &r->res; }
void zkd__req_free(zkd_req *r) { req_release(r); }

int zkd__req_rc(const zkd_req *r)
{
    if (r->zrc == ZOK)
        return r->nomem ? ZKD_ENOMEM : 0;
    if (r->op.kind == ZKD_OP_MULTI && r->res.failed >= 0)
        return zkd__from_zk(r->res.op_zrcs[r->res.failed]);
    return zkd__from_zk(r->zrc);
}

/* ---- the engine ---------------------------------------------------------------- */

static void engine_unref(engine *e)
{
    pthread_mutex_lock(&e->mu);
    int last = --e->refs == 0;
    pthread_mutex_unlock(&e->mu);
    if (!last)
        return;
    free(e->buckets);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

static void queue_push(engine *e, zkd_req *r)
{
    r->next = NULL;
    r->queued = 1;
    if (e->qtail)
        e->qtail->next = r;
    else
        e->qhead = r;
    e->qtail = r;
    e->queued++;
}

/* Under e->mu: takes out of the queue every request for which
 * drop(r, arg) is true; returns them as a list. */
static zkd_req *queue_take(engine *e, int (*drop)(const zkd_req *r, const void *arg), const void *arg)
{
    zkd_req *taken = NULL, **tp = &taken;
    zkd_req **pp = &e->qhead;
    e->qtail = NULL;
    while (*pp) {
        zkd_req *r = *pp;
        if (drop(r, arg)) {
            *pp = r->next;
            r->next = NULL;
            r->queued = 0;
            e->queued--;
            *tp = r;
            tp = &r->next;
        } else {
            e->qtail = r;
            pp = &r->next;
        }
    }
    return taken;
}

/* ---- the table of armed watches (under e->mu) --------------------------------- */


static wpath **path_slot(engine *e, const char *path)
{
    if (!e->nbuckets)
        return NULL;
    wpath **pp = &e->buckets[zkd__path_hash(path) & (e->nbuckets - 1)];
    while (*pp && strcmp((*pp)->path, path))
        pp = &(*pp)->hnext;
    return pp;
}

static void grow_paths(engine *e)
{
    size_t n = e->nbuckets ? e->nbuckets * 2 : 64;
    wpath **b = calloc(n, sizeof *b);
    if (!b)
        return; /* chains grow longer instead */
    for (size_t i = 0; i < e->nbuckets; i++)
        for (wpath *p = e->buckets[i], *next; p; p = next) {
            next = p->hnext;
            size_t j = zkd__path_hash(p->path) & (n - 1);
            p->hnext = b[j];
            b[j] = p;
        }
    free(e->buckets);
    e->buckets = b;
    e->nbuckets = n;
}

/* The path's entry, made when missing; NULL when out of memory. */
static wpath *path_get(engine *e, const char *path)
{
    if (e->npaths >= e->nbuckets)
        grow_paths(e);
    wpath **pp = path_slot(e, path);
    if (!pp)
        return NULL;
    if (!*pp) {
        size_t n = strlen(path) + 1;
        wpath *p = calloc(1, sizeof *p + n);
        if (!p)
            return NULL;
        memcpy(p->path, path, n);
        *pp = p;
        e->npaths++;
    }
    return *pp;
}

/* Frees the path's entry once nothing is armed or in flight there. */
static void path_put(engine *e, wpath *p)
{
    if (p->regs || p->inflight)
        return;
    wpath **pp = path_slot(e, p->path);
    *pp = p->hnext;
    e->npaths--;
    free(p);
}

static void reg_unlink(engine *e, wreg *g)
{
    *g->tprev = g->tnext;
    if (g->tnext)
        g->tnext->tprev = g->tprev;
    wpath *p = g->p;
    wreg **rp = &p->regs;
    while (*rp != g)
        rp = &(*rp)->pnext;
    *rp = g->pnext;
    free(g);
    path_put(e, p);
}

/* A watched read came back well: its target hears of the next event there. */
static void arm(engine *e, zkd_req *r)
{
    unsigned kind = r->op.kind == ZKD_OP_CHILDREN ? W_CHILD : W_DATA;
    wpath *p = path_get(e, r->op.path);
    if (!p)
        return;
    wreg *g = p->regs;
    while (g && g->t != r->t)
        g = g->pnext;
    if (!g) {
        if (!(g = calloc(1, sizeof *g))) {
            path_put(e, p);
            return;
        }
        g->p = p;
        g->t = r->t;
        g->pnext = p->regs;
        p->regs = g;
        g->tnext = r->t->regs;
        g->tprev = &r->t->regs;
        if (g->tnext)
            g->tnext->tprev = &g->tnext;
        r->t->regs = g;
    }
    g->kinds |= kind;
}

static void engine_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx);

int zkd__target_forget(zkd_target *t, const char *path)
{
    engine *e = t->e;
    wreg *mine = NULL;
    int others = 0;
    pthread_mutex_lock(&e->mu);
    wpath **pp = path_slot(e, path);
    /* A watched read in flight has its watch in the C client already (it
     * is turned on before the completion runs): it counts as another user. */
    if (pp && *pp && (*pp)->inflight)
        others = 1;
    for (wreg *g = pp && *pp ? (*pp)->regs : NULL; g; g = g->pnext) {
        if (g->t == t)
            mine = g;
        else
            others = 1;
    }
    if (mine)
        reg_unlink(e, mine);
    pthread_mutex_unlock(&e->mu);
    if (!mine || others)
        return 0; /* another object still needs ZooKeeper's watch there */
    zhandle_t *zh = zkd__zh_acquire(e->c);
    if (!zh)
        return ZKD_ECONNLOSS;
    /* The synchronous call: with `local` it never waits for the server (and
     * the 3.8 client's asynchronous one mistakes its data for a synchronous
     * completion's). */
    int zrc = zoo_remove_watches(zh, path, ZWATCHTYPE_ANY, engine_watcher, e, 1);
    zkd__zh_release(e->c);
    return zrc == ZOK || zrc == ZNOWATCHER ? 0 : zkd__from_zk(zrc);
}

static void forget_all_watches(engine *e)
{
    for (size_t i = 0; i < e->nbuckets; i++) {
        wpath *p = e->buckets[i];
        while (p) {
            wpath *next = p->hnext;
            size_t n = 0;
            for (wreg *g = p->regs; g; g = g->pnext)
                n++;
            /* The last unlink frees p, unless a watched read is in flight
             * (its request points at p): do not read p after it. */
            while (n--)
                reg_unlink(e, p->regs);
            p = next;
        }
    }
}

/* ---- delivering --------------------------------------------------------------------- */

static void target_run(void *arg);
static void target_drop(void *arg);

/* Under e->mu: appends to the target's inbox; 1 when the target needs a job. */
static int inbox_push(zkd_target *t, zkd_req *r)
{
    r->next = NULL;
    if (t->tail)
        t->tail->next = r;
    else
        t->head = r;
    t->tail = r;
    if (t->posted)
        return 0;
    t->posted = 1;
    t->refs++;
    return 1;
}

/* The request is answered: to its waiter, or to its target's inbox. Not
 * under e->mu (it may post). */
static void finish(zkd_req *r)
{
    engine *e = r->e;
    pthread_mutex_lock(&e->mu);
    if (sink_gone(r)) {
        pthread_mutex_unlock(&e->mu);
        req_release(r);
        return;
    }
    if (r->sink == SINK_BATCH) {
        zkd_batch *b = r->b;
        r->next = NULL;
        if (b->tail)
            b->tail->next = r;
        else
            b->head = r;
        b->tail = r;
        pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&e->mu);
        return;
    }
    zkd_target *t = r->t;
    int post = inbox_push(t, r);
    pthread_mutex_unlock(&e->mu);
    if (post)
        zkd__post(e->c, target_run, target_drop, t);
}

static void finish_list(zkd_req *r)
{
    for (zkd_req *next; r; r = next) {
        next = r->next;
        finish(r);
    }
}

/* ---- completions (ZooKeeper's completion thread): copy, hand over ---------------- */

static void pump_locked(engine *e, zkd_req **failed);
static void retry_later(zkd_req *r);

static void complete(zkd_req *r, int zrc)
{
    engine *e = r->e;
    zkd_req *failed = NULL;
    pthread_mutex_lock(&e->mu);
    zkd_early_fn early = r->early; /* told here, not again at release */
    void *early_arg = r->early_arg;
    r->early = NULL;
    e->inflight--;
    r->zrc = zrc;
    int stale = r->sink == SINK_TARGET && r->gen != e->gen;
    int retry = (zrc == ZCONNECTIONLOSS || zrc == ZOPERATIONTIMEOUT) && r->retry && !stale &&
                !e->dead && !sink_gone(r);
    if (stale && (zrc == ZCONNECTIONLOSS || zrc == ZOPERATIONTIMEOUT))
        r->zrc = ZSESSIONEXPIRED;
    wpath *wp = r->wp;
    r->wp = NULL;
    if (wp)
        wp->inflight--;
    if (r->watch && !stale && !sink_gone(r) &&
        (zrc == ZOK || (zrc == ZNONODE && r->op.kind == ZKD_OP_EXISTS)))
        arm(e, r);
    if (wp)
        path_put(e, wp);
    pump_locked(e, &failed);
    int final = r->zrc;
    pthread_mutex_unlock(&e->mu);
    if (retry)
        retry_later(r);
    else
        finish(r); /* r may be gone now */
    if (early && !retry)
        early(early_arg, final == ZOK ? 0 : zkd__from_zk(final));
    finish_list(failed);
}

static void on_data(int rc, const char *value, int len, const struct Stat *st, const void *data)
{
    zkd_req *r = (zkd_req *)data;
    if (rc == ZOK) {
        zkd__stat_copy(&r->res.stat, st);
        r->res.len = value ? len : -1;
        if (value && len >= 0) {
            if ((r->res.data = malloc((size_t)len + 1))) {
                memcpy(r->res.data, value, (size_t)len);
                r->res.data[len] = '\0';
                zkd__count(r->e->c, ZKD_CNT_BYTES_READ, (uint64_t)len);
            } else {
                r->nomem = 1;
            }
        }
    }
    complete(r, rc);
}

static void on_children(int rc, const struct String_vector *sv, const struct Stat *st,
                        const void *data)
{
    zkd_req *r = (zkd_req *)data;
    if (rc == ZOK) {
        zkd__stat_copy(&r->res.stat, st);
        r->nomem = zkd__strings_copy(&r->res.children, sv) != 0;
    }
    complete(r, rc);
}

static void on_acl(int rc, struct ACL_vector *acl, struct Stat *st, const void *data)
{
    zkd_req *r = (zkd_req *)data;
    if (rc == ZOK && st)
        zkd__stat_copy(&r->res.stat, st);
    size_t n = rc == ZOK && acl && acl->count > 0 ? (size_t)acl->count : 0;
    if (n && !(r->res.acl = calloc(n, sizeof *r->res.acl)))
        r->nomem = 1;
    for (size_t i = 0; r->res.acl && i < n; i++) {
        zkd_acl_entry *e = &r->res.acl[r->res.acl_count++];
        e->perms = acl->data[i].perms;
        e->scheme = strdup(acl->data[i].id.scheme);
        e->id = strdup(acl->data[i].id.id);
        if (!e->scheme || !e->id)
            r->nomem = 1;
    }
    complete(r, rc);
}

static void on_stat(int rc, const struct Stat *st, const void *data)
{
    zkd_req *r = (zkd_req *)data;
    if (rc == ZOK && st)
        zkd__stat_copy(&r->res.stat, st);
    complete(r, rc);
}

/* A create: the path the server made and the new node's Stat. */
static void on_created(int rc, const char *value, const struct Stat *st, const void *data)
{
    zkd_req *r = (zkd_req *)data;
    if (rc == ZOK && st)
        zkd__stat_copy(&r->res.stat, st);
    if (rc == ZOK && value)
        r->nomem = !(r->res.created = strdup(value));
    complete(r, rc);
}

static void on_synced(int rc, const char *value, const void *data)
{
    (void)value;
    complete((zkd_req *)data, rc);
}

static void on_void(int rc, const void *data)
{
    zkd_req *r = (zkd_req *)data;
    if (r->op.kind == ZKD_OP_MULTI && r->zres) {
        /* The first op neither ZOK nor ZRUNTIMEINCONSISTENCY holds the
         * error (DESIGN.md 7). */
        int n = r->op.nops;
        if ((r->res.op_zrcs = calloc((size_t)n + 1, sizeof *r->res.op_zrcs))) {
            for (int i = 0; i < n; i++) {
                int e = rc == ZOK ? ZOK : r->zres[i].err;
                r->res.op_zrcs[i] = e;
                if (r->res.failed < 0 && e != ZOK && e != ZRUNTIMEINCONSISTENCY)
                    r->res.failed = i;
            }
        } else if (rc == ZOK) {
            r->nomem = 1;
        }
    }
    complete(r, rc);
}

/* ---- watch events (completion thread) ------------------------------------------------ */

static void post_targets(engine *e, zkd_target *t)
{
    for (zkd_target *next; t; t = next) {
        next = t->post_next;
        zkd__post(e->c, target_run, target_drop, t);
    }
}

/* One watcher for the whole client (ZooKeeper keeps a watcher once per path
 * and context, so a path costs the client library one entry whatever the
 * number of targets). The event goes to each target armed there, once per
 * armed watch: a target's inbox never holds more events than it has
 * watches, and the loop's queue at most one job per target. */
static void engine_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    engine *e = ctx;
    if (type == ZOO_SESSION_EVENT || !path)
        return;
    unsigned kinds = type == ZOO_CHILD_EVENT     ? W_CHILD
                   : type == ZOO_DELETED_EVENT ? W_DATA | W_CHILD
                                               : W_DATA;
    zkd_target *to_post = NULL;
    uint64_t fired = 0;
    pthread_mutex_lock(&e->mu);
    wpath **pp = path_slot(e, path);
    wreg *g = pp && *pp ? (*pp)->regs : NULL;
    while (g) {
        wreg *next = g->pnext;
        if (g->kinds & kinds) {
            g->kinds &= ~kinds;
            zkd_target *t = g->t;
            zkd_req *ev = calloc(1, sizeof *ev);
            if (ev && (ev->own_path = strdup(path))) {
                ev->e = e;
                ev->sink = SINK_TARGET;
                ev->t = t;
                ev->hk = H_EVENT;
                ev->ev_type = type;
                ev->res.failed = -1;
                t->refs++;
                fired++;
                if (inbox_push(t, ev)) {
                    t->post_next = to_post;
                    to_post = t;
                }
            } else {
                free(ev);
            }
            if (!g->kinds)
                reg_unlink(e, g);
        }
        g = next;
    }
    pthread_mutex_unlock(&e->mu);
    if (fired)
        zkd__count(e->c, ZKD_CNT_WATCHES_FIRED, fired);
    post_targets(e, to_post);
}

/* ---- issuing (under e->mu, the handle held) -------------------------------------------- */

static const zkd_counter op_counter[] = {
    [ZKD_OP_GET] = ZKD_CNT_GET_DATA, [ZKD_OP_CHILDREN] = ZKD_CNT_GET_CHILDREN,
    [ZKD_OP_EXISTS] = ZKD_CNT_EXISTS, [ZKD_OP_CREATE] = ZKD_CNT_CREATE,
    [ZKD_OP_SET] = ZKD_CNT_SET_DATA,  [ZKD_OP_DELETE] = ZKD_CNT_REMOVE,
    [ZKD_OP_MULTI] = ZKD_CNT_MULTI,
};

static int issue_multi(zhandle_t *zh, zkd_req *r)
{
    int n = r->op.nops;
    zoo_op_t *zops = calloc((size_t)n, sizeof *zops);
    if (!r->zres) {
        r->zres = calloc((size_t)n, sizeof *r->zres);
        r->zstats = calloc((size_t)n, sizeof *r->zstats);
        r->zpaths = calloc((size_t)n, sizeof *r->zpaths);
    }
    int zrc = zops && r->zres && r->zstats && r->zpaths ? ZOK : ZSYSTEMERROR;
    for (int i = 0; zrc == ZOK && i < n; i++) {
        const zkd_op *o = &r->op.ops[i];
        int dlen = o->data ? o->len : -1;
        switch (o->kind) {
        case ZKD_OP_CREATE: {
            size_t cap = strlen(o->path) + 16; /* room for a sequence number */
            if (!r->zpaths[i] && !(r->zpaths[i] = calloc(1, cap))) {
                zrc = ZSYSTEMERROR;
                break;
            }
            zoo_create_op_init(&zops[i], o->path, o->data, dlen,
                               o->acl ? o->acl : &ZOO_OPEN_ACL_UNSAFE, o->flags, r->zpaths[i],
                               (int)cap);
            break;
        }
        case ZKD_OP_SET:
            zoo_set_op_init(&zops[i], o->path, o->data, dlen, o->version, &r->zstats[i]);
            break;
        case ZKD_OP_DELETE: zoo_delete_op_init(&zops[i], o->path, o->version); break;
        case ZKD_OP_CHECK: zoo_check_op_init(&zops[i], o->path, o->version); break;
        default: zrc = ZBADARGUMENTS; break;
        }
    }
    if (zrc == ZSYSTEMERROR)
        r->nomem = 1;
    if (zrc == ZOK)
        zrc = zoo_amulti(zh, n, zops, r->zres, on_void, r);
    free(zops); /* serialised by now */
    return zrc;
}

static int issue(engine *e, zhandle_t *zh, zkd_req *r)
{
    const zkd_op *op = &r->op;
    watcher_fn w = r->watch ? engine_watcher : NULL;
    void *wctx = r->watch ? e : NULL;
    if ((size_t)op->kind < sizeof op_counter / sizeof op_counter[0] && op->kind != ZKD_OP_CHECK)
        zkd__count(e->c, op_counter[op->kind], 1);
    uint64_t bytes = op->data && op->len > 0 ? (uint64_t)op->len : 0;
    for (int i = 0; op->kind == ZKD_OP_MULTI && i < op->nops; i++)
        bytes += op->ops[i].data && op->ops[i].len > 0 ? (uint64_t)op->ops[i].len : 0;
    if (bytes)
        zkd__count(e->c, ZKD_CNT_BYTES_WRITTEN, bytes);
    int dlen = op->data ? op->len : -1;
    switch (op->kind) {
    case ZKD_OP_GET: return zoo_awget(zh, op->path, w, wctx, on_data, r);
    case ZKD_OP_CHILDREN: return zoo_awget_children2(zh, op->path, w, wctx, on_children, r);
    case ZKD_OP_EXISTS: return zoo_awexists(zh, op->path, w, wctx, on_stat, r);
    case ZKD_OP_CREATE:
        return zoo_acreate2(zh, op->path, op->data, dlen,
                            op->acl ? op->acl : &ZOO_OPEN_ACL_UNSAFE, op->flags, on_created, r);
    case ZKD_OP_SET: return zoo_aset(zh, op->path, op->data, dlen, op->version, on_stat, r);
    case ZKD_OP_DELETE: return zoo_adelete(zh, op->path, op->version, on_void, r);
    case ZKD_OP_SET_ACL:
        return zoo_aset_acl(zh, op->path, -1, (struct ACL_vector *)op->acl, on_void, r);
    case ZKD_OP_GET_ACL: return zoo_aget_acl(zh, op->path, on_acl, r);
    case ZKD_OP_SYNC: return zoo_async(zh, op->path, on_synced, r);
    case ZKD_OP_MULTI: return issue_multi(zh, r);
    case ZKD_OP_CHECK: break;
    }
    return ZBADARGUMENTS;
}

/* Sends from the head of the queue while the window has room and the
 * session is up. A request the handle refuses (no live session) goes back
 * to the head and waits for the next CONNECTED; other refusals are answers,
 * returned in *failed for the caller to finish once it let go of e->mu. */
static void pump_locked(engine *e, zkd_req **failed)
{
    if (e->dead || !e->qhead || e->inflight >= e->window ||
        zkd_client_state(e->c) != ZKD_STATE_CONNECTED)
        return;
    zhandle_t *zh = zkd__zh_acquire(e->c);
    if (!zh)
        return;
    while (e->qhead && e->inflight < e->window) {
        zkd_req *r = e->qhead;
        e->qhead = r->next;
        if (!e->qhead)
            e->qtail = NULL;
        e->queued--;
        r->queued = 0;
        r->next = NULL;
        e->inflight++; /* the completion may run as soon as it is sent */
        if (r->watch && (r->wp = path_get(e, r->op.path)))
            r->wp->inflight++;
        int zrc = issue(e, zh, r);
        if (zrc != ZOK && r->wp) {
            r->wp->inflight--;
            path_put(e, r->wp);
            r->wp = NULL;
        }
        if (zrc == ZOK) {
            if (e->inflight > e->max_inflight)
                e->max_inflight = e->inflight;
            continue;
        }
        e->inflight--;
        if (!r->nowait && (zrc == ZINVALIDSTATE || zrc == ZCONNECTIONLOSS)) {
            r->next = e->qhead;
            r->queued = 1;
            e->qhead = r;
            if (!e->qtail)
                e->qtail = r;
            e->queued++;
            break;
        }
        r->zrc = zrc;
        r->next = *failed;
        *failed = r;
    }
    zkd__zh_release(e->c);
}

static void pump(engine *e)
{
    zkd_req *failed = NULL;
    pthread_mutex_lock(&e->mu);
    pump_locked(e, &failed);
    pthread_mutex_unlock(&e->mu);
    finish_list(failed);
}

static void poll_fire(void *arg);

static void poll_drop(void *arg)
{
    engine_unref(arg);
}

/* After queueing while the session is not up: a timer looks again until
 * it is. The CONNECTED event sends the queue too, but an engine made while
 * the first session was being established may have subscribed just too
 * late to hear it. Not under e->mu. */
static void poll_later(engine *e)
{
    pthread_mutex_lock(&e->mu);
    int arm = !e->polling && e->qhead && !e->dead &&
              zkd_client_state(e->c) != ZKD_STATE_CONNECTED;
    if (arm) {
        e->polling = 1;
        e->refs++;
    }
    pthread_mutex_unlock(&e->mu);
    if (arm)
        zkd__after(e->c, POLL_MS, poll_fire, poll_drop, e);
}

static void poll_fire(void *arg)
{
    engine *e = arg;
    pthread_mutex_lock(&e->mu);
    e->polling = 0;
    pthread_mutex_unlock(&e->mu);
    pump(e);
    poll_later(e);
    engine_unref(e);
}

/* Queues r (already counted by its sink) and sends what fits. */
static int submit_locked(engine *e, zkd_req *r, zkd_req **failed)
{
    if (e->dead)
        return ZKD_ECLOSED;
    queue_push(e, r);
    pump_locked(e, failed);
    return 0;
}

/* ---- retries ------------------------------------------------------------------------------ */

static void retry_fire(void *arg)
{
    zkd_req *r = arg;
    engine *e = r->e;
    zkd_req *failed = NULL;
    pthread_mutex_lock(&e->mu);
    if (e->dead || sink_gone(r)) {
        pthread_mutex_unlock(&e->mu);
        req_release(r);
        return;
    }
    if (r->sink == SINK_TARGET && r->gen != e->gen) {
        r->zrc = ZSESSIONEXPIRED;
        pthread_mutex_unlock(&e->mu);
        finish(r);
        return;
    }
    zkd__result_clear(&r->res);
    r->res.len = -1;
    r->nomem = 0;
    queue_push(e, r);
    pump_locked(e, &failed);
    pthread_mutex_unlock(&e->mu);
    finish_list(failed);
}

/* The loop stopped before the retry: the client is closing. Runs where the
 * loop drops it, possibly under the client's mutex: no posting. */
static void retry_drop(void *arg)
{
    zkd_req *r = arg;
    pthread_mutex_lock(&r->e->mu);
    int keep = r->sink == SINK_BATCH && !sink_gone(r);
    pthread_mutex_unlock(&r->e->mu);
    r->zrc = ZCLOSING;
    if (keep)
        finish(r);
    else
        req_release(r);
}

static void retry_later(zkd_req *r)
{
    int shift = r->attempts < 6 ? r->attempts : 6;
    int delay = RETRY_FIRST_MS << shift;
    if (delay > RETRY_MAX_MS)
        delay = RETRY_MAX_MS;
    r->attempts++;
    zkd__after(r->e->c, delay, retry_fire, retry_drop, r);
}

/* ---- the session ------------------------------------------------------------------------- */

static int is_target_req(const zkd_req *r, const void *arg)
{
    (void)arg;
    return r->sink == SINK_TARGET;
}

/* Loop thread. An expiry took every watch and every request of the old
 * session with it: targets hear ZKD_EEXPIRED for what they still had
 * queued (they read again on REESTABLISHED); waiting callers' requests
 * stay queued for the new session. */
static void on_session(zkd_client *c, zkd_session_event ev, void *ctx)
{
    (void)c;
    engine *e = ctx;
    if (ev == ZKD_SESSION_EXPIRED) {
        pthread_mutex_lock(&e->mu);
        e->gen++;
        forget_all_watches(e);
        zkd_req *old = queue_take(e, is_target_req, NULL);
        pthread_mutex_unlock(&e->mu);
        for (zkd_req *r = old; r; r = r->next)
            r->zrc = ZSESSIONEXPIRED;
        finish_list(old);
    } else if (ev == ZKD_SESSION_CONNECTED || ev == ZKD_SESSION_RECONNECTED ||
               ev == ZKD_SESSION_REESTABLISHED) {
        pump(e);
    }
}

static int any_req(const zkd_req *r, const void *arg)
{
    (void)r;
    (void)arg;
    return 1;
}

/* Each client's engine, found by its client. Not in a zkd__slot: modules
 * make targets from inside their own slot's make function, and the slots'
 * lock is not recursive. Lock order: engines_mu before the client's own
 * locks (making an engine subscribes and adds a teardown hook). */
static pthread_mutex_t engines_mu = PTHREAD_MUTEX_INITIALIZER;
static engine *engines;

/* The client's teardown, after its handle is closed: nothing is sent any
 * more; waiting callers hear ZKD_ECLOSED. */
static void engine_teardown(void *arg)
{
    engine *e = arg;
    pthread_mutex_lock(&engines_mu);
    for (engine **pp = &engines; *pp; pp = &(*pp)->next_engine)
        if (*pp == e) {
            *pp = e->next_engine;
            break;
        }
    pthread_mutex_unlock(&engines_mu);
    pthread_mutex_lock(&e->mu);
    e->dead = 1;
    forget_all_watches(e);
    zkd_req *rest = queue_take(e, any_req, NULL);
    pthread_mutex_unlock(&e->mu);
    for (zkd_req *r = rest, *next; r; r = next) {
        next = r->next;
        r->zrc = ZCLOSING;
        if (r->sink == SINK_BATCH)
            finish(r);
        else
            req_release(r);
    }
    engine_unref(e);
}

static engine *engine_make(zkd_client *c)
{
    engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->c = c;
    e->refs = 1;
    e->window = DEFAULT_WINDOW;
    pthread_mutex_init(&e->mu, NULL);
    if (zkd__at_teardown(c, engine_teardown, e) != 0) {
        pthread_mutex_destroy(&e->mu);
        free(e);
        return NULL;
    }
    /* Teardown frees e; subscriptions die with the client. */
    zkd_session_subscribe(c, on_session, e, NULL, NULL);
    return e;
}

/* The client's engine with a reference for the caller, or NULL when the
 * client is closing (or out of memory). */
static engine *engine_get(zkd_client *c)
{
    if (zkd__closing(c))
        return NULL;
    pthread_mutex_lock(&engines_mu);
    engine *e = engines;
    while (e && e->c != c)
        e = e->next_engine;
    if (!e && (e = engine_make(c))) {
        e->next_engine = engines;
        engines = e;
    }
    if (e) {
        pthread_mutex_lock(&e->mu);
        e->refs++;
        pthread_mutex_unlock(&e->mu);
    }
    pthread_mutex_unlock(&engines_mu);
    return e;
}

void zkd__request_set_window(zkd_client *c, int n)
{
    engine *e = engine_get(c);
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    e->window = n > 0 ? n : DEFAULT_WINDOW;
    e->max_inflight = e->inflight;
    pthread_mutex_unlock(&e->mu);
    pump(e);
    engine_unref(e);
}

size_t zkd__watched_paths(zkd_client *c)
{
    engine *e = engine_get(c);
    if (!e)
        return 0;
    pthread_mutex_lock(&e->mu);
    size_t n = e->npaths;
    pthread_mutex_unlock(&e->mu);
    engine_unref(e);
    return n;
}

void zkd__request_stats(zkd_client *c, int *max_inflight, int *inflight, int *queued)
{
    engine *e = engine_get(c);
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    if (max_inflight)
        *max_inflight = e->max_inflight;
    if (inflight)
        *inflight = e->inflight;
    if (queued)
        *queued = e->queued;
    pthread_mutex_unlock(&e->mu);
    engine_unref(e);
}

/* ---- batches: answers to a waiting thread --------------------------------------------------- */

zkd_batch *zkd__batch_new(zkd_client *c)
{
    zkd_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    if (!(b->e = engine_get(c))) {
        free(b);
        return NULL;
    }
    zkd__cond_init(&b->cv);
    b->refs = 1;
    /* On the loop thread nothing that needs the loop (a retry's timer, the
     * next CONNECTED) can come while we wait. */
    b->nowait = zkd__on_dispatch_thread(c);
    return b;
}

static void batch_unref(zkd_batch *b)
{
    engine *e = b->e;
    pthread_mutex_lock(&e->mu);
    int last = --b->refs == 0;
    pthread_mutex_unlock(&e->mu);
    if (!last)
        return;
    pthread_cond_destroy(&b->cv);
    free(b);
    engine_unref(e);
}

int zkd__batch_add(zkd_batch *b, const zkd_op *op, void *tag)
{
    engine *e = b->e;
    if (b->nowait && zkd_client_state(e->c) != ZKD_STATE_CONNECTED)
        return ZKD_ECONNLOSS;
    zkd_req *r = req_new(e, op);
    if (!r)
        return ZKD_ENOMEM;
    r->sink = SINK_BATCH;
    r->b = b;
    r->tag = tag;
    r->nowait = b->nowait;
    r->retry = is_read(op->kind) && !b->nowait;
    zkd_req *failed = NULL;
    pthread_mutex_lock(&e->mu);
    b->refs++;
    int rc = submit_locked(e, r, &failed);
    if (rc)
        b->refs--;
    pthread_mutex_unlock(&e->mu);
    if (rc)
        free(r);
    finish_list(failed);
    poll_later(e);
    return rc;
}

zkd_req *zkd__batch_wait(zkd_batch *b, int64_t deadline_ms)
{
    engine *e = b->e;
    struct timespec dl = zkd__timespec_at(deadline_ms);
    pthread_mutex_lock(&e->mu);
    while (!b->head)
        if (pthread_cond_timedwait(&b->cv, &e->mu, &dl) == ETIMEDOUT)
            break;
    zkd_req *got = b->head;
    b->head = b->tail = NULL;
    pthread_mutex_unlock(&e->mu);
    return got;
}

static int in_batch(const zkd_req *r, const void *b)
{
    return r->sink == SINK_BATCH && r->b == b;
}

void zkd__batch_free(zkd_batch *b)
{
    if (!b)
        return;
    engine *e = b->e;
    pthread_mutex_lock(&e->mu);
    b->abandoned = 1;
    /* Not sent yet: never will be (their strings are the caller's). */
    zkd_req *queued = queue_take(e, in_batch, b);
    zkd_req *done = b->head;
    b->head = b->tail = NULL;
    pthread_mutex_unlock(&e->mu);
    release_list(queued);
    release_list(done);
    batch_unref(b);
}

/* ---- waiting callers --------------------------------------------------------------------------- */

static int check_paths(const zkd_op *op, zkd_error *err)
{
    if (op->kind != ZKD_OP_MULTI)
        return zkd_validate_path(op->path, err);
    for (int i = 0; i < op->nops; i++) {
        int rc = check_paths(&op->ops[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

static int describe_req(zkd_client *c, const zkd_op *op, zkd_req *r, zkd_error *err)
{
    int rc = zkd__req_rc(r);
    if (rc == ZKD_ENOMEM && r->zrc == ZOK)
        return zkd__fail(err, rc, "out of memory reading %s", op->path ? op->path : "/");
    if (op->kind == ZKD_OP_MULTI && r->res.failed >= 0)
        return zkd__describe(c, &op->ops[r->res.failed], r->res.op_zrcs[r->res.failed], err);
    return zkd__describe(c, op, r->zrc, err);
}

int zkd__call_batch(zkd_client *c, const zkd_op *ops, size_t n, zkd_result *res, int *rcs,
                    zkd_error *err)
{
    int writes = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = check_paths(&ops[i], err);
        if (rc)
            return rc;
        writes |= !is_read(ops[i].kind);
    }
    for (size_t i = 0; res && i < n; i++) {
        memset(&res[i], 0, sizeof res[i]);
        res[i].failed = -1;
    }
    zkd_batch *b = zkd__batch_new(c);
    if (!b)
        return zkd__closing(c) ? zkd__fail(err, ZKD_ECLOSED, "the client is closed")
                               : zkd__fail(err, ZKD_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        if ((rc = zkd__batch_add(b, &ops[i], (void *)(uintptr_t)i)))
            rc = rc == ZKD_ECONNLOSS
                     ? zkd__fail(err, rc, "the connection to ZooKeeper at %s is down",
                                 zkd_client_connect_string(c))
                     : zkd__fail(err, rc, rc == ZKD_ECLOSED ? "the client is closed" : "out of memory");
    int timeout = zkd__request_timeout_ms(c);
    int64_t deadline = zkd__now_ms() + timeout;
    size_t answered = 0;
    int first_rc = 0;
    for (zkd_req *got; !rc && answered < n && (got = zkd__batch_wait(b, deadline));) {
        for (zkd_req *next; got; got = next) {
            next = got->next;
            size_t i = (size_t)(uintptr_t)got->tag;
            int r = zkd__req_rc(got);
            rcs[i] = r;
            if (r && !first_rc)
                first_rc = describe_req(c, &ops[i], got, err);
            if (res) {
                res[i] = got->res;
                memset(&got->res, 0, sizeof got->res);
                if (r && ops[i].kind != ZKD_OP_MULTI) /* a MULTI says which op failed */
                    zkd__result_clear(&res[i]);
            }
            zkd__req_free(got);
            answered++;
        }
        /* The timeout is for silence, not for the whole batch: a listing
         * of 100,000 that keeps being answered may take longer. */
        deadline = zkd__now_ms() + timeout;
    }
    zkd__batch_free(b);
    if (!rc && answered < n) {
        for (size_t i = 0; res && i < n; i++)
            zkd__result_clear(&res[i]);
        rc = zkd__fail(err, ZKD_ETIMEDOUT, "no answer from ZooKeeper at %s within %d ms%s",
                       zkd_client_connect_string(c), timeout,
                       writes ? " (the change may or may not have been made)" : "");
    }
    return rc;
}

int zkd__call(zkd_client *c, const zkd_op *op, zkd_result *res, zkd_error *err)
{
    int rc1 = 0;
    zkd_result tmp;
    int rc = zkd__call_batch(c, op, 1, res ? res : &tmp, &rc1, err);
    if (!res && !rc)
        zkd__result_clear(&tmp);
    return rc ? rc : rc1;
}

/* ---- targets ---------------------------------------------------------------------------------- */

zkd_target *zkd__target_new(zkd_client *c, void *owner, zkd_watch_handler on_watch)
{
    zkd_target *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (!(t->e = engine_get(c))) {
        free(t);
        return NULL;
    }
    t->owner = owner;
    t->on_watch = on_watch;
    t->refs = 1;
    return t;
}

static void target_unref(zkd_target *t)
{
    engine *e = t->e;
    pthread_mutex_lock(&e->mu);
    int last = --t->refs == 0;
    pthread_mutex_unlock(&e->mu);
    if (!last)
        return;
    free(t);
    engine_unref(e);
}

static int of_target(const zkd_req *r, const void *t)
{
    return r->sink == SINK_TARGET && r->t == t;
}

void zkd__target_cancel(zkd_target *t)
{
    if (!t)
        return;
    engine *e = t->e;
    pthread_mutex_lock(&e->mu);
    t->owner = NULL;
    while (t->regs)
        reg_unlink(e, t->regs);
    zkd_req *queued = queue_take(e, of_target, t);
    pthread_mutex_unlock(&e->mu);
    release_list(queued);
    target_unref(t);
}

static void run_one(zkd_target *t, zkd_req *r)
{
    void *owner = t->owner;
    int rc = zkd__req_rc(r);
    const char *tag = r->own_tag;
    switch (r->hk) {
    case H_EVENT: t->on_watch(owner, r->ev_type, r->own_path); break;
    case H_DATA:
        ((zkd_data_handler)r->fn)(owner, tag, r->epoch, rc, rc ? NULL : r->res.data,
                                  rc ? -1 : r->res.len, &r->res.stat);
        break;
    case H_CHILDREN:
        ((zkd_children_handler)r->fn)(owner, tag, r->epoch, rc, &r->res.children, &r->res.stat);
        break;
    case H_STAT: ((zkd_stat_handler)r->fn)(owner, tag, r->epoch, rc, &r->res.stat); break;
    case H_RESULT: ((zkd_result_handler)r->fn)(owner, tag, r->epoch, rc, &r->res); break;
    }
}

/* Loop thread: everything that came for the target, in arrival order. The
 * owner may cancel the target from any handler: the rest is dropped. */
static void target_run(void *arg)
{
    zkd_target *t = arg;
    engine *e = t->e;
    pthread_mutex_lock(&e->mu);
    zkd_req *items = t->head;
    t->head = t->tail = NULL;
    t->posted = 0;
    pthread_mutex_unlock(&e->mu);
    for (zkd_req *next; items; items = next) {
        next = items->next;
        if (t->owner && (items->hk != H_EVENT || t->on_watch))
            run_one(t, items);
        req_release(items);
    }
    target_unref(t);
}

static void target_drop(void *arg)
{
    zkd_target *t = arg;
    engine *e = t->e;
    pthread_mutex_lock(&e->mu);
    zkd_req *items = t->head;
    t->head = t->tail = NULL;
    t->posted = 0;
    pthread_mutex_unlock(&e->mu);
    release_list(items);
    target_unref(t);
}

static int target_submit_req(zkd_target *t, zkd_req *r, const zkd_op *op, int watch,
                             const char *tag, uint64_t epoch, handler_kind hk, void *fn);

static int target_submit(zkd_target *t, const zkd_op *op, int watch, const char *tag,
                         uint64_t epoch, handler_kind hk, void *fn)
{
    zkd_req *r = req_new(t->e, op);
    if (!r)
        return ZKD_ENOMEM;
    return target_submit_req(t, r, op, watch, tag, epoch, hk, fn);
}

static int target_submit_early(zkd_target *t, const zkd_op *op, const char *tag, uint64_t epoch,
                               void *fn, zkd_early_fn early, void *early_arg)
{
    zkd_req *r = req_new(t->e, op);
    if (!r)
        return ZKD_ENOMEM;
    r->early = early;
    r->early_arg = early_arg;
    return target_submit_req(t, r, op, 0, tag, epoch, H_STAT, fn);
}

/* A deep copy of an ACL for a request that outlives its caller's; 1 when
 * out of memory (what was copied is freed with the request). */
static int copy_acl(struct ACL_vector *dst, const struct ACL_vector *src)
{
    if (allocate_ACL_vector(dst, src->count) || (src->count && !dst->data))
        return 1;
    for (int32_t i = 0; i < src->count; i++) {
        dst->data[i].perms = src->data[i].perms;
        dst->data[i].id.scheme = strdup(src->data[i].id.scheme);
        dst->data[i].id.id = strdup(src->data[i].id.id);
        if (!dst->data[i].id.scheme || !dst->data[i].id.id)
            return 1;
    }
    return 0;
}

/* Takes r (made by req_new for op) and queues it for t; on failure r is
 * freed and the handler will never run. */
static int target_submit_req(zkd_target *t, zkd_req *r, const zkd_op *op, int watch,
                             const char *tag, uint64_t epoch, handler_kind hk, void *fn)
{
    engine *e = t->e;
    r->sink = SINK_TARGET;
    r->t = t;
    r->watch = watch && is_read(op->kind);
    r->retry = is_read(op->kind);
    r->hk = hk;
    r->fn = fn;
    r->epoch = epoch;
    int oom = !(r->own_path = strdup(op->path ? op->path : "/")) ||
              (tag && !(r->own_tag = strdup(tag)));
    if (!oom && op->data && op->len > 0) {
        oom = !(r->own_data = malloc((size_t)op->len));
        if (!oom)
            memcpy(r->own_data, op->data, (size_t)op->len);
    }
    if (!oom && op->kind == ZKD_OP_CREATE && op->acl) {
        oom = copy_acl(&r->own_acl, op->acl);
        r->op.acl = &r->own_acl;
    }
    if (oom) {
        free(r->own_path);
        free(r->own_tag);
        free(r->own_data);
        if (r->own_acl.data)
            deallocate_ACL_vector(&r->own_acl);
        free(r);
        return ZKD_ENOMEM;
    }
    r->op.path = r->own_path;
    if (op->data)
        r->op.data = op->len > 0 ? r->own_data : "";
    zkd_req *failed = NULL;
    pthread_mutex_lock(&e->mu);
    r->gen = e->gen;
    t->refs++;
    int rc = submit_locked(e, r, &failed);
    if (rc)
        t->refs--;
    pthread_mutex_unlock(&e->mu);
    if (rc) {
        free(r->own_path);
        free(r->own_tag);
        free(r->own_data);
        if (r->own_acl.data)
            deallocate_ACL_vector(&r->own_acl);
        free(r);
    }
    finish_list(failed);
    poll_later(e);
    return rc;
}

int zkd__aget(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
              zkd_data_handler fn)
{
    zkd_op op = {.kind = ZKD_OP_GET, .path = path};
    return target_submit(t, &op, watch, tag, epoch, H_DATA, (void *)fn);
}

int zkd__achildren(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
                   zkd_children_handler fn)
{
    zkd_op op = {.kind = ZKD_OP_CHILDREN, .path = path};
    return target_submit(t, &op, watch, tag, epoch, H_CHILDREN, (void *)fn);
}

int zkd__aexists(zkd_target *t, const char *path, int watch, const char *tag, uint64_t epoch,
                 zkd_stat_handler fn)
{
    zkd_op op = {.kind = ZKD_OP_EXISTS, .path = path};
    return target_submit(t, &op, watch, tag, epoch, H_STAT, (void *)fn);
}

int zkd__awrite(zkd_target *t, const zkd_op *op, const char *tag, uint64_t epoch,
                zkd_stat_handler fn)
{
    return zkd__awrite_early(t, op, tag, epoch, fn, NULL, NULL);
}

int zkd__awrite_early(zkd_target *t, const zkd_op *op, const char *tag, uint64_t epoch,
                      zkd_stat_handler fn, zkd_early_fn early, void *early_arg)
{
    if (op->kind != ZKD_OP_CREATE && op->kind != ZKD_OP_SET && op->kind != ZKD_OP_DELETE)
        return ZKD_EINVAL;
    return target_submit_early(t, op, tag, epoch, (void *)fn, early, early_arg);
}

int zkd__arequest(zkd_target *t, const zkd_op *op, const char *tag, uint64_t epoch,
                  zkd_result_handler fn)
{
    if (op->kind == ZKD_OP_MULTI || op->kind == ZKD_OP_CHECK)
        return ZKD_EINVAL;
    return target_submit(t, op, 0, tag, epoch, H_RESULT, (void *)fn);
}
