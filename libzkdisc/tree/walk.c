/* A pipelined subtree walk (see walk.h).
 *
 * The walker's thread owns every node record. ZooKeeper's completion thread
 * only copies an answer into its request and appends the request to the
 * mailbox; the walker takes answers from there, keeps up to `window`
 * requests in flight, and reports nodes in pre-order as soon as a node and
 * everything before it are complete. The mailbox is shared with the
 * completions and freed by whoever lets go last, so a walk that gives up
 * (timeout, callback stop) leaves nothing dangling. */
#include <zkdisc/walk.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zkdisc/names.h>
#include <zookeeper/zookeeper.h>

#include "clock.h"
#include "call.h"
#include "counters.h"
#include "errors.h"
#include "session.h"

enum { DEFAULT_WINDOW = 512, MAX_WINDOW = 4096 };

typedef enum { RQ_DATA, RQ_KIDS, RQ_STAT } rq_kind;

typedef struct wnode wnode;

struct wnode {
    char *path;
    const char *name;
    int depth;
    int want_data;
    int list;      /* list children (depth allows) */
    int pending;   /* requests queued or in flight */
    int rc;        /* error other than "gone" */
    int gone;      /* vanished between listing and reading */
    int have_data;
    zkd_stat stat;
    char *data;
    int len;
    zkd_strings kids;
    int listed;
    wnode **children;
    size_t nchildren;
};

typedef struct mailbox mailbox;

typedef struct req {
    struct req *next;
    mailbox *mb;
    wnode *node; /* touched by the walker only */
    rq_kind kind;
    int zrc;
    int nomem;
    zkd_stat stat;
    char *data;
    int len;
    zkd_strings kids;
} req;

struct mailbox {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;      /* the walker plus one per request in flight */
    int abandoned; /* the walker left: completions free their requests */
    req *head, *tail;
};

/* ---- the mailbox (any thread) -------------------------------------------- */

static void req_free(req *r)
{
    free(r->data);
    zkd_strings_free(&r->kids);
    free(r);
}

static void mb_unref(mailbox *mb)
{
    pthread_mutex_lock(&mb->mu);
    int last = --mb->refs == 0;
    pthread_mutex_unlock(&mb->mu);
    if (!last)
        return;
    for (req *r = mb->head, *next; r; r = next) {
        next = r->next;
        req_free(r);
    }
    pthread_mutex_destroy(&mb->mu);
    pthread_cond_destroy(&mb->cv);
    free(mb);
}

static void deliver(req *r, int zrc)
{
    mailbox *mb = r->mb;
    r->zrc = zrc;
    pthread_mutex_lock(&mb->mu);
    if (mb->abandoned) {
        pthread_mutex_unlock(&mb->mu);
        req_free(r);
    } else {
        r->next = NULL;
        if (mb->tail)
            mb->tail->next = r;
        else
            mb->head = r;
        mb->tail = r;
        pthread_cond_signal(&mb->cv);
        pthread_mutex_unlock(&mb->mu);
    }
    mb_unref(mb);
}

static void on_data(int rc, const char *value, int len, const struct Stat *st, const void *data)
{
    req *r = (req *)data;
    if (rc == ZOK) {
        zkd__stat_copy(&r->stat, st);
        r->len = value ? len : -1;
        if (value && len >= 0) {
            if ((r->data = malloc((size_t)len + 1))) {
                memcpy(r->data, value, (size_t)len);
                r->data[len] = '\0';
            } else {
                r->nomem = 1;
            }
        }
    }
    deliver(r, rc);
}

static void on_kids(int rc, const struct String_vector *sv, const struct Stat *st, const void *data)
{
    req *r = (req *)data;
    if (rc == ZOK) {
        zkd__stat_copy(&r->stat, st);
        r->nomem = zkd__strings_copy(&r->kids, sv) != 0;
    }
    deliver(r, rc);
}

static void on_stat(int rc, const struct Stat *st, const void *data)
{
    req *r = (req *)data;
    if (rc == ZOK && st)
        zkd__stat_copy(&r->stat, st);
    deliver(r, rc);
}

/* ---- the walker's state ---------------------------------------------------- */

typedef struct pending_req {
    wnode *node;
    rq_kind kind;
} pending_req;

typedef struct walk {
    zkd_client *c;
    const zkd_walk_options *o;
    zkd_walk_fn fn;
    void *ctx;
    zkd_error *err;
    mailbox *mb;
    int window;
    int inflight;
    pending_req *stack; /* requests to issue, top last */
    size_t nstack, capstack;
    wnode **emit; /* nodes to report, top last */
    size_t nemit, capemit;
    wnode *root;
    int root_done;
} walk;

static void node_free(wnode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nchildren; i++)
        node_free(n->children[i]);
    free(n->children);
    free(n->path);
    free(n->data);
    zkd_strings_free(&n->kids);
    free(n);
}

static int push_request(walk *w, wnode *n, rq_kind kind)
{
    if (w->nstack == w->capstack) {
        size_t cap = w->capstack ? w->capstack * 2 : 256;
        pending_req *grown = realloc(w->stack, cap * sizeof *grown);
        if (!grown)
            return ZKD_ENOMEM;
        w->stack = grown;
        w->capstack = cap;
    }
    w->stack[w->nstack++] = (pending_req){n, kind};
    n->pending++;
    return 0;
}

static int push_emit(walk *w, wnode *n)
{
    if (w->nemit == w->capemit) {
        size_t cap = w->capemit ? w->capemit * 2 : 256;
        wnode **grown = realloc(w->emit, cap * sizeof *grown);
        if (!grown)
            return ZKD_ENOMEM;
        w->emit = grown;
        w->capemit = cap;
    }
    w->emit[w->nemit++] = n;
    return 0;
}

static int excluded(const walk *w, const char *path)
{
    for (const char *const *x = w->o->exclude; x && *x; x++)
        if (!strcmp(*x, path))
            return 1;
    return 0;
}

static wnode *node_new(walk *w, const char *parent, const char *name, int depth)
{
    wnode *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    size_t pl = parent ? strlen(parent) : 0;
    size_t nl = strlen(name);
    if (!parent) {
        n->path = strdup(name);
    } else if ((n->path = malloc(pl + nl + 2))) {
        int root = !strcmp(parent, "/");
        memcpy(n->path, parent, root ? 0 : pl);
        n->path[root ? 0 : pl] = '/';
        memcpy(n->path + (root ? 1 : pl + 1), name, nl + 1);
    }
    if (!n->path) {
        free(n);
        return NULL;
    }
    const char *slash = strrchr(n->path, '/');
    n->name = slash ? slash + 1 : n->path;
    n->depth = depth;
    n->len = -1;
    n->list = w->o->max_depth < 0 || depth < w->o->max_depth;
    n->want_data = w->o->data_filter ? w->o->data_filter(n->path, depth, w->o->data_filter_ctx) != 0
                                     : w->o->want_data;
    return n;
}

/* The first request for a node: its data (whose Stat says whether it has
 * children worth listing), else the list of children, else its Stat. */
static int start_node(walk *w, wnode *n)
{
    return push_request(w, n, n->want_data ? RQ_DATA : n->list ? RQ_KIDS : RQ_STAT);
}

/* ---- issuing ------------------------------------------------------------------ */

static const zkd_counter kind_counter[] = {[RQ_DATA] = ZKD_CNT_GET_DATA,
                                           [RQ_KIDS] = ZKD_CNT_GET_CHILDREN,
                                           [RQ_STAT] = ZKD_CNT_EXISTS};

/* Issues from the top of the stack while the window has room. Returns 0,
 * or the ZooKeeper code that refused a request (it stays on the stack). */
static int issue_some(walk *w)
{
    if (!w->nstack || w->inflight >= w->window)
        return ZOK;
    zhandle_t *zh = zkd__zh_acquire(w->c);
    if (!zh)
        return ZINVALIDSTATE;
    int zrc = ZOK;
    while (w->nstack && w->inflight < w->window) {
        pending_req t = w->stack[w->nstack - 1];
        req *r = calloc(1, sizeof *r);
        if (!r) {
            zrc = ZSYSTEMERROR;
            break;
        }
        r->mb = w->mb;
        r->node = t.node;
        r->kind = t.kind;
        r->len = -1;
        pthread_mutex_lock(&w->mb->mu);
        w->mb->refs++;
        pthread_mutex_unlock(&w->mb->mu);
        zkd__count(w->c, kind_counter[t.kind], 1);
        switch (t.kind) {
        case RQ_DATA: zrc = zoo_aget(zh, t.node->path, 0, on_data, r); break;
        case RQ_KIDS: zrc = zoo_aget_children2(zh, t.node->path, 0, on_kids, r); break;
        case RQ_STAT: zrc = zoo_aexists(zh, t.node->path, 0, on_stat, r); break;
        }
        if (zrc != ZOK) {
            pthread_mutex_lock(&w->mb->mu);
            w->mb->refs--;
            pthread_mutex_unlock(&w->mb->mu);
            free(r);
            break;
        }
        w->nstack--;
        w->inflight++;
    }
    zkd__zh_release(w->c);
    return zrc;
}

/* ---- answers -------------------------------------------------------------------- */

static int is_retryable(int rc)
{
    return rc == ZKD_ECONNLOSS || rc == ZKD_EEXPIRED;
}

static int root_error(walk *w, wnode *n, int rc)
{
    if (rc == ZKD_ENOTFOUND)
        return zkd__fail(w->err, rc, "%s: no such node", n->path);
    if (rc == ZKD_ENOAUTH)
        return zkd__fail(w->err, rc, "cannot read %s: not authorized by its ACL", n->path);
    if (rc == ZKD_ENOMEM)
        return zkd__fail(w->err, rc, "out of memory reading %s", n->path);
    return zkd__fail(w->err, rc, "cannot read %s: %s", n->path, zkd_strerror(rc));
}

/* Takes the children's names from the answer and queues them. */
static int add_children(walk *w, wnode *n, zkd_strings *kids)
{
    n->kids = *kids;
    memset(kids, 0, sizeof *kids);
    n->listed = 1;
    if (!n->kids.count)
        return 0;
    n->children = calloc(n->kids.count, sizeof *n->children);
    if (!n->children)
        return ZKD_ENOMEM;
    for (size_t i = 0; i < n->kids.count; i++) {
        wnode *k = node_new(w, n->path, n->kids.items[i], n->depth + 1);
        if (!k)
            return ZKD_ENOMEM;
        n->children[n->nchildren++] = k;
        if (excluded(w, k->path))
            k->gone = 1;
    }
    /* Reverse order onto the stack: the first child is issued first. */
    for (size_t i = n->nchildren; i-- > 0;)
        if (!n->children[i]->gone) {
            int rc = start_node(w, n->children[i]);
            if (rc)
                return rc;
        }
    return 0;
}

/* Handles one answer. Returns 0 or an error that ends the walk. */
static int handle(walk *w, req *r)
{
    wnode *n = r->node;
    int rc = r->zrc != ZOK ? zkd__from_zk(r->zrc) : r->nomem ? ZKD_ENOMEM : 0;
    w->inflight--;
    n->pending--;
    if (is_retryable(rc)) {
        /* Reads are safe to send again once the connection is back. */
        return push_request(w, n, r->kind);
    }
    if (rc == ZKD_ENOTFOUND) {
        if (n == w->root)
            return root_error(w, n, rc);
        n->gone = 1;
        return 0;
    }
    if (rc) {
        if (n == w->root || rc == ZKD_ENOMEM)
            return root_error(w, n, rc);
        n->rc = rc;
        memset(&n->stat, 0, sizeof n->stat);
        return 0;
    }
    n->stat = r->stat;
    if (r->kind == RQ_DATA) {
        n->have_data = 1;
        n->data = r->data;
        n->len = r->len;
        r->data = NULL;
        if (n->list && r->stat.num_children > 0)
            return push_request(w, n, RQ_KIDS);
        if (n->list)
            n->listed = 1;
        return 0;
    }
    if (r->kind == RQ_KIDS)
        return add_children(w, n, &r->kids);
    return 0;
}

/* Reports every node that is complete and next in pre-order. */
static int emit_ready(walk *w)
{
    while (w->nemit) {
        wnode *n = w->emit[w->nemit - 1];
        if (n->pending)
            return 0;
        w->nemit--;
        if (n->gone) {
            node_free(n);
            continue;
        }
        zkd_walk_node v = {.path = n->path, .name = n == w->root && !strcmp(n->path, "/") ? "" : n->name,
                           .depth = n->depth, .rc = n->rc, .stat = n->stat,
                           .data = n->have_data && n->len >= 0 ? n->data : NULL,
                           .len = n->have_data && n->len > 0 ? (size_t)n->len : 0,
                           .has_data = n->have_data, .children = &n->kids, .listed = n->listed};
        int rc = w->fn(&v, w->ctx);
        /* The children are next; this record is done. */
        for (size_t i = n->nchildren; !rc && i-- > 0;) {
            if ((rc = push_emit(w, n->children[i])))
                rc = zkd__fail(w->err, rc, "out of memory");
            else
                n->children[i] = NULL;
        }
        node_free(n);
        if (rc)
            return rc;
    }
    return 0;
}

/* Waits for answers until the deadline; moves them to *out. */
static req *take_answers(walk *w, int64_t deadline)
{
    mailbox *mb = w->mb;
    pthread_mutex_lock(&mb->mu);
    while (!mb->head) {
        int64_t left = deadline - zkd__now_ms();
        if (left <= 0)
            break;
        struct timespec dl = zkd__deadline(left);
        if (pthread_cond_timedwait(&mb->cv, &mb->mu, &dl) == ETIMEDOUT && !mb->head)
            break;
    }
    req *got = mb->head;
    mb->head = mb->tail = NULL;
    pthread_mutex_unlock(&mb->mu);
    return got;
}

static int run(walk *w)
{
    int timeout = zkd__request_timeout_ms(w->c);
    int64_t deadline = zkd__now_ms() + timeout;
    for (;;) {
        int rc = emit_ready(w);
        if (rc)
            return rc;
        if (!w->nemit && !w->inflight)
            return 0;
        int zrc = issue_some(w);
        if (zrc != ZOK && !w->inflight) {
            /* Nothing in flight and the handle refuses requests: wait for a
             * usable session within the deadline. */
            int left = (int)(deadline - zkd__now_ms());
            rc = zkd__wait_usable(w->c, left);
            if (rc == ZKD_ECLOSED)
                return zkd__fail(w->err, rc, "the client is closed");
            if (rc || zkd__now_ms() >= deadline)
                return zkd__fail(w->err, ZKD_ETIMEDOUT, "no answer from ZooKeeper at %s within %d ms",
                                 zkd_client_connect_string(w->c), timeout);
            if (zkd__on_dispatch_thread(w->c) && issue_some(w) != ZOK)
                return zkd__fail(w->err, ZKD_ECONNLOSS, "the connection to ZooKeeper at %s is down",
                                 zkd_client_connect_string(w->c));
            continue;
        }
        if (!w->inflight)
            continue;
        req *got = take_answers(w, deadline);
        if (!got)
            return zkd__fail(w->err, ZKD_ETIMEDOUT, "no answer from ZooKeeper at %s within %d ms",
                             zkd_client_connect_string(w->c), timeout);
        /* Only a real answer is progress: connection-loss answers come back
         * on every failed reconnect, and counting them would walk forever
         * against a server that died mid-walk. */
        for (req *r = got; r; r = r->next)
            if (!is_retryable(zkd__from_zk(r->zrc))) {
                deadline = zkd__now_ms() + timeout;
                break;
            }
        rc = 0;
        for (req *r = got, *next; r; r = next) {
            next = r->next;
            if (!rc)
                rc = handle(w, r);
            if (r->zrc != ZOK)
                ; /* counted as a request already */
            else if (r->kind == RQ_DATA && r->len > 0)
                zkd__count(w->c, ZKD_CNT_BYTES_READ, (uint64_t)r->len);
            req_free(r);
        }
        if (rc)
            return rc;
    }
}

void zkd_walk_options_init(zkd_walk_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_depth = -1;
}

int zkd_walk(zkd_client *c, const char *path, const zkd_walk_options *opts, zkd_walk_fn fn,
             void *ctx, zkd_error *err)
{
    zkd_walk_options defaults;
    if (!opts) {
        zkd_walk_options_init(&defaults);
        opts = &defaults;
    }
    if (!c || !fn)
        return zkd__fail(err, ZKD_EINVAL, "no client or callback given");
    int rc = zkd_validate_path(path, err);
    if (rc)
        return rc;
    walk w = {.c = c, .o = opts, .fn = fn, .ctx = ctx, .err = err};
    w.window = opts->window > 0 ? opts->window : DEFAULT_WINDOW;
    if (w.window > MAX_WINDOW)
        w.window = MAX_WINDOW;
    w.mb = calloc(1, sizeof *w.mb);
    if (!w.mb)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    pthread_mutex_init(&w.mb->mu, NULL);
    zkd__cond_init(&w.mb->cv);
    w.mb->refs = 1;
    w.root = node_new(&w, NULL, path, 0);
    if (!w.root || start_node(&w, w.root) || push_emit(&w, w.root)) {
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
        if (w.nemit == 0)
            node_free(w.root);
    } else {
        rc = zkd__wait_usable(c, zkd__request_timeout_ms(c));
        if (rc == ZKD_ECLOSED)
            zkd__fail(err, rc, "the client is closed");
        else if (rc && !zkd__on_dispatch_thread(c))
            zkd__fail(err, rc = ZKD_ETIMEDOUT, "cannot reach ZooKeeper at %s within %d ms",
                      zkd_client_connect_string(c), zkd__request_timeout_ms(c));
        else
            rc = run(&w);
    }
    /* Abandon what is still in flight; its answers free themselves. */
    pthread_mutex_lock(&w.mb->mu);
    w.mb->abandoned = 1;
    pthread_mutex_unlock(&w.mb->mu);
    for (size_t i = 0; i < w.nemit; i++)
        node_free(w.emit[i]);
    free(w.emit);
    free(w.stack);
    mb_unref(w.mb);
    return rc;
}
