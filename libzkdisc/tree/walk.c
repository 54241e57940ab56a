/* SPDX-License-Identifier: Apache-2.0 */
/* A pipelined subtree walk (see walk.h).
 *
 * The walker's thread owns every node record. Its reads go through the
 * request layer as one batch (request.h): the walker keeps up to `window`
 * of them outstanding, takes answers as they come, and reports nodes in
 * pre-order as soon as a node and everything before it are complete. Reads
 * cut off by a connection loss are sent again by the request layer; a walk
 * that gives up (timeout, callback stop) abandons the batch, and late
 * answers are dropped there. */
#include <zkdisc/walk.h>

#include <stdlib.h>
#include <string.h>
#include <zkdisc/names.h>

#include "clock.h"
#include "errors.h"
#include "request.h"
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
    zkd_batch *b;
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

static const zkd_op_kind kind_op[] = {[RQ_DATA] = ZKD_OP_GET, [RQ_KIDS] = ZKD_OP_CHILDREN,
                                      [RQ_STAT] = ZKD_OP_EXISTS};

static rq_kind op_kind(const zkd_op *op)
{
    return op->kind == ZKD_OP_GET ? RQ_DATA : op->kind == ZKD_OP_CHILDREN ? RQ_KIDS : RQ_STAT;
}

/* Hands requests from the top of the stack to the request layer while the
 * walk's window has room. Returns 0 or what refused one (it stays). */
static int issue_some(walk *w)
{
    while (w->nstack && w->inflight < w->window) {
        pending_req t = w->stack[w->nstack - 1];
        zkd_op op = {.kind = kind_op[t.kind], .path = t.node->path};
        int rc = zkd__batch_add(w->b, &op, t.node);
        if (rc)
            return rc;
        w->nstack--;
        w->inflight++;
    }
    return 0;
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
static int handle(walk *w, zkd_req *q)
{
    wnode *n = zkd__req_tag(q);
    rq_kind kind = op_kind(zkd__req_op(q));
    zkd_result *r = zkd__req_result(q);
    int rc = zkd__req_rc(q);
    w->inflight--;
    n->pending--;
    if (is_retryable(rc)) {
        /* Reads are safe to send again (on the loop thread the request
         * layer hands connection losses back instead of re-sending). */
        return push_request(w, n, kind);
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
    if (kind == RQ_DATA) {
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
    if (kind == RQ_KIDS)
        return add_children(w, n, &r->children);
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

static int refused(walk *w, int rc)
{
    if (rc == ZKD_ECONNLOSS)
        return zkd__fail(w->err, rc, "the connection to ZooKeeper at %s is down",
                         zkd_client_connect_string(w->c));
    if (rc == ZKD_ECLOSED)
        return zkd__fail(w->err, rc, "the client is closed");
    return zkd__fail(w->err, rc, "out of memory");
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
        if ((rc = issue_some(w)) && !w->inflight)
            return refused(w, rc);
        zkd_req *got = zkd__batch_wait(w->b, deadline);
        if (!got)
            return zkd__fail(w->err, ZKD_ETIMEDOUT, "no answer from ZooKeeper at %s within %d ms",
                             zkd_client_connect_string(w->c), timeout);
        /* An answer is progress: reads lost to a dropped connection are
         * re-sent inside the request layer and do not come back here. */
        deadline = zkd__now_ms() + timeout;
        for (zkd_req *next; got; got = next) {
            next = zkd__req_next(got);
            if (!rc)
                rc = handle(w, got);
            zkd__req_free(got);
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
    if (!(w.b = zkd__batch_new(c)))
        return zkd__closing(c) ? zkd__fail(err, ZKD_ECLOSED, "the client is closed")
                               : zkd__fail(err, ZKD_ENOMEM, "out of memory");
    w.root = node_new(&w, NULL, path, 0);
    if (!w.root || start_node(&w, w.root) || push_emit(&w, w.root)) {
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
        if (w.nemit == 0)
            node_free(w.root);
    } else {
        rc = run(&w);
    }
    /* Abandon what is still outstanding before the nodes (their paths) go. */
    zkd__batch_free(w.b);
    for (size_t i = 0; i < w.nemit; i++)
        node_free(w.emit[i]);
    free(w.emit);
    free(w.stack);
    return rc;
}
