/* SPDX-License-Identifier: Apache-2.0 */
/* Node, children and subtree watches, re-armed on every event (watch.h).
 *
 * Every piece of state below is read and written on the client's dispatch
 * thread only: replies and watch events reach it through a request-layer
 * target (request.h), session events through a session subscription, and
 * open/close hand their work over as jobs. Each covered node is an entry
 * (hashed by path) that remembers what was last read; a watch event or a
 * reply only ever causes a fresh read, and events are the difference
 * between two reads. Each entry has at most one read of each kind
 * outstanding (a second wish while one is out marks it "again"), and the
 * request layer's window keeps a large recursive watch pipelined without
 * flooding the server.
 *
 * Lifetime: observer.h's, shared with caches and config watches. */
#include <zkdisc/watch.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zkdisc/names.h>
#include <zookeeper/zookeeper.h>

#include "clock.h"
#include "errors.h"
#include "observer.h"
#include "path_table.h"
#include "request.h"
#include "session.h"

typedef enum { K_DATA = 0, K_KIDS = 1, K_EXISTS = 2, K_COUNT } kind;
typedef enum { S_IDLE = 0, S_INFLIGHT } rstate;

typedef struct entry {
    zkd__plink link; /* first: in the watch's table; link.path is the node's path (owned) */
    uint64_t gen;
    int exists;
    int announce;    /* report CREATED when it is first found to exist */
    int kids_wanted;
    int kids_known;
    zkd_stat stat;
    zkd_strings kids;
    rstate st[K_COUNT];
    int again[K_COUNT];
} entry;

struct zkd_watch {
    zkd__observer o; /* first: the observer is the watch */
    char *root;
    int flags;
    zkd_watch_fn fn;
    void *ctx;

    zkd__ptable entries;
    _Atomic size_t existing;
    uint64_t next_gen;

    int inflight;

    int started;  /* the start job ran (a session event may come before it) */
    int synced;   /* the first full read is done: report changes from now on */

    /* under o.mu, for the opener, with o.ready */
    int open_rc;
    uint64_t progress;
};

const char *zkd_watch_event_name(zkd_watch_event_type t)
{
    switch (t) {
    case ZKD_WATCH_CREATED: return "created";
    case ZKD_WATCH_DELETED: return "deleted";
    case ZKD_WATCH_CHANGED: return "changed";
    case ZKD_WATCH_CHILDREN_CHANGED: return "children";
    }
    return "unknown";
}

/* ---- entries ------------------------------------------------------------ */


static entry *lookup(zkd_watch *w, const char *path)
{
    return (entry *)zkd__ptable_find(&w->entries, path);
}

static void entry_free(entry *e)
{
    free((char *)e->link.path);
    zkd_strings_free(&e->kids);
    free(e);
}

static entry *entry_add(zkd_watch *w, const char *path, int announce)
{
    entry *e = calloc(1, sizeof *e);
    if (!e || !(e->link.path = strdup(path))) {
        free(e);
        return NULL;
    }
    if (zkd__ptable_add(&w->entries, &e->link)) {
        entry_free(e);
        return NULL;
    }
    e->gen = ++w->next_gen;
    e->announce = announce;
    e->kids_wanted = (w->flags & ZKD_WATCH_RECURSIVE) ||
                     ((w->flags & ZKD_WATCH_CHILDREN) && !strcmp(path, w->root));
    return e;
}

static void entry_unlink(zkd_watch *w, entry *e)
{
    zkd__ptable_remove(&w->entries, &e->link);
}

static char *child_path(const char *parent, const char *name)
{
    size_t pl = strlen(parent), nl = strlen(name);
    int root = !strcmp(parent, "/");
    char *p = malloc(pl + nl + 2);
    if (!p)
        return NULL;
    memcpy(p, parent, root ? 0 : pl);
    p[root ? 0 : pl] = '/';
    memcpy(p + (root ? 1 : pl + 1), name, nl + 1);
    return p;
}

/* ---- reporting ------------------------------------------------------------ */

static void emit(zkd_watch *w, const zkd_watch_event *ev)
{
    if (w->o.closed || !w->synced)
        return;
    w->fn(w, ev, w->ctx);
}

static void emit_simple(zkd_watch *w, zkd_watch_event_type type, const char *path,
                        const zkd_stat *st, const char *data, int len)
{
    zkd_watch_event ev = {.type = type, .path = path, .stat = st,
                          .data = len >= 0 ? data : NULL, .len = len > 0 ? (size_t)len : 0};
    emit(w, &ev);
}

/* Drops the entries under `e` (not e itself), deepest first, reporting the
 * ones still believed to exist as deleted. */
static void drop_child(zkd_watch *w, const char *parent, const char *name);

static void drop_below(zkd_watch *w, entry *e)
{
    for (size_t i = 0; i < e->kids.count; i++)
        drop_child(w, e->link.path, e->kids.items[i]);
    zkd_strings_free(&e->kids);
    e->kids_known = 0;
}

/* Drops the entry of parent/name and everything under it, reporting the
 * ones still believed to exist as deleted. */
static void drop_child(zkd_watch *w, const char *parent, const char *name)
{
    char *p = child_path(parent, name);
    entry *k = p ? lookup(w, p) : NULL;
    free(p);
    if (!k)
        return;
    drop_below(w, k);
    entry_unlink(w, k);
    if (k->exists) {
        atomic_fetch_sub(&w->existing, 1);
        emit_simple(w, ZKD_WATCH_DELETED, k->link.path, NULL, NULL, -1);
    }
    entry_free(k);
}

/* ---- reading ------------------------------------------------------------------ */

static void on_data(void *owner, const char *tag, uint64_t epoch, int rc, const char *data, int len,
                    const zkd_stat *st);
static void on_kids(void *owner, const char *tag, uint64_t epoch, int rc, zkd_strings *kids,
                    const zkd_stat *st);
static void on_exists(void *owner, const char *tag, uint64_t epoch, int rc, const zkd_stat *st);

static void settle(zkd_watch *w);

/* Reads (and so re-arms) kind k of the entry: now, or once the read of
 * that kind already out is back. The request layer queues what does not
 * fit its window and sends it when the session is up. */
static void want(zkd_watch *w, entry *e, kind k)
{
    if (e->st[k] == S_INFLIGHT) {
        e->again[k] = 1;
        return;
    }
    int rc = k == K_DATA ? zkd__aget(w->o.target, e->link.path, 1, e->link.path, e->gen, on_data)
           : k == K_KIDS ? zkd__achildren(w->o.target, e->link.path, 1, e->link.path, e->gen, on_kids)
                         : zkd__aexists(w->o.target, e->link.path, 1, e->link.path, e->gen, on_exists);
    if (rc) {
        if (rc != ZKD_ECLOSED)
            zkd__log(w->o.c, ZKD_LOG_ERROR, "watch %s: %s; %s is no longer watched", w->root,
                     zkd_strerror(rc), e->link.path);
        return;
    }
    e->st[k] = S_INFLIGHT;
    w->inflight++;
}

/* Cut off by a connection loss (on the loop thread) or an expiry: read
 * again; the request layer sends it when the session is back. */
static int retryable(int rc)
{
    return rc == ZKD_ECONNLOSS || rc == ZKD_EEXPIRED;
}

/* Common start of a reply: finds the entry it is for (NULL when it was
 * dropped meanwhile) and marks the read done. */
static entry *reply_entry(zkd_watch *w, const char *tag, uint64_t epoch, kind k, int rc, int *again)
{
    w->inflight--;
    pthread_mutex_lock(&w->o.mu);
    w->progress++;
    pthread_mutex_unlock(&w->o.mu);
    entry *e = lookup(w, tag);
    if (!e || e->gen != epoch)
        return NULL;
    e->st[k] = S_IDLE;
    *again = e->again[k];
    e->again[k] = 0;
    if (rc == ZKD_ECLOSED) {
        *again = 0;
        return NULL;
    }
    if (retryable(rc)) {
        want(w, e, k); /* sent again once the session is back */
        *again = 0;
        return NULL;
    }
    return e;
}

static void open_failed(zkd_watch *w, int rc)
{
    pthread_mutex_lock(&w->o.mu);
    if (!w->o.ready && !w->open_rc)
        w->open_rc = rc;
    pthread_cond_broadcast(&w->o.cv);
    pthread_mutex_unlock(&w->o.mu);
}

static void on_data(void *owner, const char *tag, uint64_t epoch, int rc, const char *data, int len,
                    const zkd_stat *st)
{
    zkd_watch *w = owner;
    int again = 0;
    zkd__observer_enter(&w->o);
    entry *e = reply_entry(w, tag, epoch, K_DATA, rc, &again);
    if (!e) {
        /* dropped, or queued again */
    } else if (rc == 0) {
        if (!e->exists) {
            e->exists = 1;
            atomic_fetch_add(&w->existing, 1);
            if (e->announce || w->synced)
                emit_simple(w, ZKD_WATCH_CREATED, e->link.path, st, data, len);
        } else if (st->czxid != e->stat.czxid || st->mzxid > e->stat.mzxid) {
            emit_simple(w, ZKD_WATCH_CHANGED, e->link.path, st, data, len);
        }
        e->announce = 0;
        e->stat = *st;
        if (e->kids_wanted && !e->kids_known)
            want(w, e, K_KIDS);
    } else if (rc == ZKD_ENOTFOUND) {
        if (e->kids_wanted)
            drop_below(w, e);
        if (e->exists) {
            e->exists = 0;
            atomic_fetch_sub(&w->existing, 1);
            emit_simple(w, ZKD_WATCH_DELETED, e->link.path, NULL, NULL, -1);
        }
        memset(&e->stat, 0, sizeof e->stat);
        e->announce = 1;
        want(w, e, K_EXISTS); /* an exists watch sees it come back */
    } else {
        if (!strcmp(e->link.path, w->root))
            open_failed(w, rc);
        zkd__log(w->o.c, ZKD_LOG_WARN, "watch: cannot read %s: %s", e->link.path, zkd_strerror(rc));
    }
    if (e && again)
        want(w, e, K_DATA);
    settle(w);
}

static void on_exists(void *owner, const char *tag, uint64_t epoch, int rc, const zkd_stat *st)
{
    (void)st;
    zkd_watch *w = owner;
    int again = 0;
    zkd__observer_enter(&w->o);
    entry *e = reply_entry(w, tag, epoch, K_EXISTS, rc, &again);
    if (e && (rc == 0 || again))
        want(w, e, K_DATA); /* it is there (again): read it */
    else if (e && rc && rc != ZKD_ENOTFOUND)
        zkd__log(w->o.c, ZKD_LOG_WARN, "watch: cannot check %s: %s", e->link.path, zkd_strerror(rc));
    settle(w);
}

/* added = b - a, removed = a - b; both sorted (strcmp). */
static int diff(const zkd_strings *a, const zkd_strings *b, zkd_strings *added, zkd_strings *removed)
{
    added->items = calloc(b->count + 1, sizeof(char *));
    removed->items = calloc(a->count + 1, sizeof(char *));
    added->count = removed->count = 0;
    if (!added->items || !removed->items)
        return ZKD_ENOMEM;
    size_t i = 0, j = 0;
    while (i < a->count || j < b->count) {
        int c = i == a->count ? 1 : j == b->count ? -1 : strcmp(a->items[i], b->items[j]);
        if (c < 0)
            removed->items[removed->count++] = a->items[i++];
        else if (c > 0)
            added->items[added->count++] = b->items[j++];
        else
            i++, j++;
    }
    return 0;
}

static void on_kids(void *owner, const char *tag, uint64_t epoch, int rc, zkd_strings *kids,
                    const zkd_stat *st)
{
    zkd_watch *w = owner;
    int again = 0;
    zkd__observer_enter(&w->o);
    entry *e = reply_entry(w, tag, epoch, K_KIDS, rc, &again);
    if (e && rc == 0) {
        zkd_strings added = {0}, removed = {0};
        if (diff(&e->kids, kids, &added, &removed) == 0) {
            if (e->kids_known && (w->flags & ZKD_WATCH_CHILDREN) && (added.count || removed.count)) {
                zkd_watch_event ev = {.type = ZKD_WATCH_CHILDREN_CHANGED, .path = e->link.path, .stat = st,
                                      .children = kids, .added = &added, .removed = &removed};
                emit(w, &ev);
            }
            if (w->flags & ZKD_WATCH_RECURSIVE) {
                for (size_t i = 0; i < removed.count; i++)
                    drop_child(w, e->link.path, removed.items[i]);
                for (size_t i = 0; i < added.count; i++) {
                    char *p = child_path(e->link.path, added.items[i]);
                    entry *k = p ? lookup(w, p) : NULL;
                    if (p && !k)
                        k = entry_add(w, p, w->synced);
                    free(p);
                    if (k)
                        want(w, k, K_DATA);
                    else
                        zkd__log(w->o.c, ZKD_LOG_ERROR, "watch %s: out of memory", w->root);
                }
            }
        }
        free(added.items);
        free(removed.items);
        /* Keep the new list (the handler may take kids' items). */
        zkd_strings_free(&e->kids);
        e->kids = *kids;
        kids->items = NULL;
        kids->count = 0;
        e->kids_known = 1;
    } else if (e && rc == ZKD_ENOTFOUND) {
        e->kids_known = 0; /* the data read reports the deletion */
        want(w, e, K_DATA);
    } else if (e && rc) {
        zkd__log(w->o.c, ZKD_LOG_WARN, "watch: cannot list %s: %s", e->link.path, zkd_strerror(rc));
    }
    if (e && again)
        want(w, e, K_KIDS);
    settle(w);
}

static void on_fired(void *owner, int type, const char *path)
{
    zkd_watch *w = owner;
    zkd__observer_enter(&w->o);
    entry *e = lookup(w, path);
    if (e) {
        if (type == ZOO_CHILD_EVENT)
            want(w, e, K_KIDS);
        else
            want(w, e, K_DATA);
    }
    settle(w);
}

/* ---- lifecycle -------------------------------------------------------------------- */

static void watch_free(zkd__observer *o)
{
    zkd_watch *w = (zkd_watch *)o;
    for (size_t i = 0; i < w->entries.nbuckets; i++)
        for (zkd__plink *l = w->entries.buckets[i], *next; l; l = next) {
            next = l->hnext;
            entry_free((entry *)l);
        }
    zkd__ptable_clear(&w->entries);
    free(w->root);
    zkd__observer_free(o, w);
}

/* The end of each handler: free a watch closed from inside it, and notice
 * the end of the first read. */
static void settle(zkd_watch *w)
{
    if (zkd__observer_leave(&w->o))
        return;
    if (w->started && !w->synced && !w->inflight) {
        w->synced = 1;
        zkd__observer_set_ready(&w->o);
    }
}

static void on_session(zkd_client *c, zkd_session_event ev, void *ctx)
{
    (void)c;
    zkd_watch *w = ctx;
    zkd__observer_enter(&w->o);
    if (ev == ZKD_SESSION_REESTABLISHED) {
        /* Every watch went with the old session: read everything again. */
        for (size_t i = 0; i < w->entries.nbuckets; i++)
            for (entry *e = (entry *)w->entries.buckets[i]; e; e = (entry *)e->link.hnext) {
                for (int k = 0; k < K_COUNT; k++)
                    if (e->st[k] == S_INFLIGHT)
                        e->again[k] = 1;
                want(w, e, K_DATA);
                if (e->kids_wanted && e->kids_known)
                    want(w, e, K_KIDS);
            }
    }
    settle(w);
}

static void start_here(void *arg)
{
    zkd_watch *w = arg;
    if (w->o.closed)
        return;
    zkd__observer_enter(&w->o);
    w->started = 1;
    entry *e = entry_add(w, w->root, 0);
    if (!e)
        open_failed(w, ZKD_ENOMEM);
    else
        want(w, e, K_DATA);
    settle(w);
}

void zkd_watch_close(zkd_watch *w)
{
    if (w)
        zkd__observer_close(&w->o);
}

size_t zkd_watch_count(const zkd_watch *w)
{
    return atomic_load(&((zkd_watch *)w)->existing);
}

static int wait_ready(zkd_watch *w, int timeout_ms)
{
    pthread_mutex_lock(&w->o.mu);
    uint64_t seen = w->progress;
    for (;;) {
        if (w->o.ready || w->open_rc)
            break;
        struct timespec dl = zkd__deadline(timeout_ms);
        int r = 0;
        while (!w->o.ready && !w->open_rc && w->progress == seen && r != ETIMEDOUT)
            r = pthread_cond_timedwait(&w->o.cv, &w->o.mu, &dl);
        if (w->o.ready || w->open_rc)
            break;
        if (w->progress == seen) { /* a whole timeout without an answer */
            pthread_mutex_unlock(&w->o.mu);
            return ZKD_ETIMEDOUT;
        }
        seen = w->progress;
    }
    int rc = w->open_rc;
    pthread_mutex_unlock(&w->o.mu);
    return rc;
}

int zkd_watch_open(zkd_client *c, const char *path, int flags, zkd_watch_fn fn, void *ctx,
                   zkd_watch **out, zkd_error *err)
{
    if (out)
        *out = NULL;
    if (!c || !fn || !out)
        return zkd__fail(err, ZKD_EINVAL, "no client, callback or place for the watch given");
    int rc = zkd_validate_path(path, err);
    if (rc)
        return rc;
    if (flags & ~(ZKD_WATCH_CHILDREN | ZKD_WATCH_RECURSIVE))
        return zkd__fail(err, ZKD_EINVAL, "unknown watch flags 0x%x", (unsigned)flags);
    zkd_watch *w = calloc(1, sizeof *w);
    char *root = strdup(path);
    if (!w || !root) {
        free(w);
        free(root);
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    }
    w->root = root;
    w->flags = flags;
    w->fn = fn;
    w->ctx = ctx;
    if ((rc = zkd__observer_open(&w->o, c, w, on_fired, on_session, watch_free)) ||
        (rc = zkd__observer_start(&w->o, start_here, w))) {
        zkd_watch_close(w);
        return zkd__fail(err, rc, rc == ZKD_ECLOSED ? "the client is closed" : "out of memory");
    }
    if (zkd__on_dispatch_thread(c)) {
        *out = w;
        return 0;
    }
    rc = wait_ready(w, zkd__request_timeout_ms(c));
    if (rc) {
        zkd_watch_close(w);
        if (rc == ZKD_ETIMEDOUT)
            return zkd__fail(err, rc, "no answer from ZooKeeper at %s within %d ms while arming "
                             "the watch on %s", zkd_client_connect_string(c),
                             zkd__request_timeout_ms(c), path);
        if (rc == ZKD_ENOAUTH)
            return zkd__fail(err, rc, "cannot watch %s: not authorized by its ACL", path);
        return zkd__fail(err, rc, "cannot watch %s: %s", path, zkd_strerror(rc));
    }
    *out = w;
    return 0;
}
