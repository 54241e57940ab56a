/* SPDX-License-Identifier: Apache-2.0 */
/* The table of armed watches of targets made by zkd__target_new: which
 * target hears of which path's next event, behind one ZooKeeper watcher
 * (context: the engine) for the whole client. Their owners need not forget
 * their watches before cancelling: the C client keeps one entry per path
 * whatever the number of targets come and gone. Targets made by
 * zkd__target_new_direct keep nothing here (request_watch.c). */
#include "request_impl.h"

#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "errors.h"
#include "session.h"

enum { W_DATA = 1, W_CHILD = 2 };

static wpath *path_find(engine *e, const char *path)
{
    return (wpath *)zkd__ptable_find(&e->paths, path);
}

/* The path's entry, made when missing; NULL when out of memory. */
wpath *zkd__rq_path_get(engine *e, const char *path)
{
    wpath *p = path_find(e, path);
    if (p)
        return p;
    size_t n = strlen(path) + 1;
    if (!(p = calloc(1, sizeof *p + n)))
        return NULL;
    memcpy(p->path, path, n);
    p->link.path = p->path;
    if (zkd__ptable_add(&e->paths, &p->link)) {
        free(p);
        return NULL;
    }
    return p;
}

/* Frees the path's entry once nothing is armed or in flight there. */
void zkd__rq_path_put(engine *e, wpath *p)
{
    if (p->regs || p->inflight)
        return;
    zkd__ptable_remove(&e->paths, &p->link);
    free(p);
}

void zkd__rq_reg_unlink(engine *e, wreg *g)
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
    zkd__rq_path_put(e, p);
}

/* A watched read came back well: its target hears of the next event there. */
void zkd__rq_table_arm(engine *e, zkd_req *r)
{
    unsigned kind = r->op.kind == ZKD_OP_CHILDREN ? W_CHILD : W_DATA;
    wpath *p = zkd__rq_path_get(e, r->op.path);
    if (!p)
        return;
    wreg *g = p->regs;
    while (g && g->t != r->t)
        g = g->pnext;
    if (!g) {
        if (!(g = calloc(1, sizeof *g))) {
            zkd__rq_path_put(e, p);
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


int zkd__rq_table_forget(zkd_target *t, const char *path)
{
    engine *e = t->e;
    wreg *mine = NULL;
    int others = 0;
    pthread_mutex_lock(&e->mu);
    wpath *p = path_find(e, path);
    /* A watched read in flight has its watch in the C client already (it
     * is turned on before the completion runs): it counts as another user. */
    if (p && p->inflight)
        others = 1;
    for (wreg *g = p ? p->regs : NULL; g; g = g->pnext) {
        if (g->t == t)
            mine = g;
        else
            others = 1;
    }
    if (mine)
        zkd__rq_reg_unlink(e, mine);
    pthread_mutex_unlock(&e->mu);
    if (!mine || others)
        return 0; /* another object still needs ZooKeeper's watch there */
    zhandle_t *zh = zkd__zh_acquire(e->c);
    if (!zh)
        return ZKD_ECONNLOSS;
    /* The synchronous call: with `local` it never waits for the server (and
     * the 3.8 client's asynchronous one mistakes its data for a synchronous
     * completion's). */
    int zrc = zoo_remove_watches(zh, path, ZWATCHTYPE_ANY, zkd__rq_table_watcher, e, 1);
    zkd__zh_release(e->c);
    return zrc == ZOK || zrc == ZNOWATCHER ? 0 : zkd__from_zk(zrc);
}

void zkd__rq_forget_all_watches(engine *e)
{
    for (size_t i = 0; i < e->paths.nbuckets; i++) {
        wpath *p = (wpath *)e->paths.buckets[i];
        while (p) {
            wpath *next = (wpath *)p->link.hnext;
            size_t n = 0;
            for (wreg *g = p->regs; g; g = g->pnext)
                n++;
            /* The last unlink frees p, unless a watched read is in flight
             * (its request points at p): do not read p after it. */
            while (n--)
                zkd__rq_reg_unlink(e, p->regs);
            p = next;
        }
    }
}

/* ---- watch events (completion thread) ------------------------------------------------ */

static void post_targets(engine *e, zkd_target *t)
{
    for (zkd_target *next; t; t = next) {
        next = t->post_next;
        zkd__post(e->c, zkd__rq_target_run, zkd__rq_target_drop, t);
    }
}

/* One watcher for the whole client (ZooKeeper keeps a watcher once per path
 * and context, so a path costs the client library one entry whatever the
 * number of targets). The event goes to each target armed there, once per
 * armed watch: a target's inbox never holds more events than it has
 * watches, and the loop's queue at most one job per target. */
void zkd__rq_table_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
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
    zkd_req *early = NULL;
    uint64_t fired = 0;
    pthread_mutex_lock(&e->mu);
    wpath *p = path_find(e, path);
    wreg *g = p ? p->regs : NULL;
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
                if (!zkd__rq_early_keep(t, ev, &early) && zkd__rq_inbox_push(t, ev)) {
                    t->post_next = to_post;
                    to_post = t;
                }
            } else {
                free(ev);
            }
            if (!g->kinds)
                zkd__rq_reg_unlink(e, g);
        }
        g = next;
    }
    pthread_mutex_unlock(&e->mu);
    if (fired)
        zkd__count(e->c, ZKD_CNT_WATCHES_FIRED, fired);
    zkd__rq_early_events(early);
    post_targets(e, to_post);
}
