/* Asynchronous reads and watches delivered on the dispatch thread (async.h). */
#include "async.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zookeeper/zookeeper.h>

#include "call.h"
#include "counters.h"
#include "errors.h"
#include "session.h"

struct zkd_target {
    zkd_client *c;
    _Atomic(void *) owner; /* NULL once cancelled */
    zkd_watch_handler on_watch; /* never changes: a target is reused only with the same one */
    _Atomic uint64_t gen; /* bumped on reuse, before the owner is set: replies meant for an
                             older owner are dropped */
    struct zkd_target *spare; /* next cancelled target waiting for reuse (under spares_mu) */
    int is_spare;
};

/* Cancelled targets, kept for the next owner on the same client: ZooKeeper
 * may still hold watches that point at one, so it cannot be freed before
 * the client's teardown, but reusing it keeps a client's memory flat over
 * any number of open/close cycles. */
static pthread_mutex_t spares_mu = PTHREAD_MUTEX_INITIALIZER;
static zkd_target *spares;

static void spare_unlink(zkd_target *t)
{
    for (zkd_target **p = &spares; *p; p = &(*p)->spare)
        if (*p == t) {
            *p = t->spare;
            t->is_spare = 0;
            return;
        }
}

typedef enum { R_DATA, R_CHILDREN, R_STAT } reply_kind;

typedef struct reply {
    zkd_target *t;
    uint64_t gen;
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
} reply;

typedef struct fired {
    zkd_target *t;
    int type;
    char *path;
} fired;

static void target_free(void *arg)
{
    zkd_target *t = arg;
    pthread_mutex_lock(&spares_mu);
    if (t->is_spare)
        spare_unlink(t);
    pthread_mutex_unlock(&spares_mu);
    free(t);
}

static zkd_target *spare_take(zkd_client *c, zkd_watch_handler on_watch)
{
    pthread_mutex_lock(&spares_mu);
    zkd_target *t = spares;
    while (t && (t->c != c || t->on_watch != on_watch))
        t = t->spare;
    if (t)
        spare_unlink(t);
    pthread_mutex_unlock(&spares_mu);
    return t;
}

zkd_target *zkd__target_new(zkd_client *c, void *owner, zkd_watch_handler on_watch)
{
    zkd_target *t = spare_take(c, on_watch);
    if (t) {
        atomic_fetch_add(&t->gen, 1);
        atomic_store(&t->owner, owner);
        return t;
    }
    t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->c = c;
    t->on_watch = on_watch;
    atomic_init(&t->gen, 0);
    atomic_init(&t->owner, owner);
    if (zkd__at_teardown(c, target_free, t) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

void zkd__target_cancel(zkd_target *t)
{
    atomic_store(&t->owner, NULL);
    if (zkd__closing(t->c))
        return; /* the teardown frees it */
    pthread_mutex_lock(&spares_mu);
    t->spare = spares;
    spares = t;
    t->is_spare = 1;
    pthread_mutex_unlock(&spares_mu);
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
    /* The owner first: a new owner is set only after the generation moved. */
    void *owner = atomic_load(&r->t->owner);
    if (atomic_load(&r->t->gen) != r->gen)
        owner = NULL;
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
    zkd__post(r->t->c, reply_run, reply_free, r);
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
    void *owner = atomic_load(&f->t->owner);
    if (owner)
        f->t->on_watch(owner, f->type, f->path);
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
    *r = (reply){.t = t, .gen = atomic_load(&t->gen), .kind = kind, .fn = fn, .epoch = epoch, .len = -1};
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

int zkd__target_forget(zkd_target *t, const char *path)
{
    zhandle_t *zh = zkd__zh_acquire(t->c);
    if (!zh)
        return ZKD_ECONNLOSS;
    /* The synchronous call: with `local` it never waits for the server (and
     * the asynchronous one mistakes its data for a synchronous completion). */
    int zrc = zoo_remove_watches(zh, path, ZWATCHTYPE_ANY, target_watcher, t, 1);
    zkd__zh_release(t->c);
    return zrc == ZOK || zrc == ZNOWATCHER ? 0 : zkd__from_zk(zrc);
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
