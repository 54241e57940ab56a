/* SPDX-License-Identifier: Apache-2.0 */
/* The library's event loop: a FIFO of jobs and a heap of timers on
 * CLOCK_MONOTONIC, run one at a time on one thread (see loop.h). */
#include "loop.h"

#include <pthread.h>
#include <stdlib.h>
#include <zkdisc/error.h>

#include "clock.h"

typedef struct job {
    struct job *next;
    zkd_job_fn fn, drop;
    void *arg;
} job;

struct zkd_timer {
    int64_t at;
    uint64_t seq; /* FIFO among timers due at the same millisecond */
    size_t pos;   /* index in the heap */
    zkd_job_fn fn, drop;
    void *arg;
};

struct zkd_loop {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    zkd_timer **heap;
    size_t nheap, capheap;
    uint64_t seq;
    int stopping;
    int self_stop; /* stop was asked from the thread itself: it cleans up */
    pthread_t thread;
    zkd_job_fn on_exit;
    void *ctx;
};

/* ---- the timer heap (under mu) ----------------------------------------- */

static int before(const zkd_timer *a, const zkd_timer *b)
{
    return a->at != b->at ? a->at < b->at : a->seq < b->seq;
}

static void heap_set(zkd_loop *l, size_t i, zkd_timer *t)
{
    l->heap[i] = t;
    t->pos = i;
}

static void sift_up(zkd_loop *l, size_t i)
{
    zkd_timer *t = l->heap[i];
    while (i > 0 && before(t, l->heap[(i - 1) / 2])) {
        heap_set(l, i, l->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(l, i, t);
}

static void sift_down(zkd_loop *l, size_t i)
{
    zkd_timer *t = l->heap[i];
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= l->nheap)
            break;
        if (k + 1 < l->nheap && before(l->heap[k + 1], l->heap[k]))
            k++;
        if (!before(l->heap[k], t))
            break;
        heap_set(l, i, l->heap[k]);
        i = k;
    }
    heap_set(l, i, t);
}

static void heap_remove(zkd_loop *l, zkd_timer *t)
{
    size_t i = t->pos;
    zkd_timer *last = l->heap[--l->nheap];
    if (last == t)
        return;
    heap_set(l, i, last);
    sift_up(l, i);
    sift_down(l, last->pos);
}

/* ---- the thread --------------------------------------------------------- */

static void drop_jobs(job *j)
{
    while (j) {
        job *next = j->next;
        if (j->drop)
            j->drop(j->arg);
        free(j);
        j = next;
    }
}

/* Takes the next thing to run (a due timer first, then a job) into *fn and
 * *arg; waits while there is none. 0 when the loop stops. Holds mu. */
static int next_work(zkd_loop *l, zkd_job_fn *fn, void **arg)
{
    for (;;) {
        if (l->stopping)
            return 0;
        int64_t now = zkd__now_ms();
        if (l->nheap && l->heap[0]->at <= now) {
            zkd_timer *t = l->heap[0];
            heap_remove(l, t);
            *fn = t->fn;
            *arg = t->arg;
            free(t);
            return 1;
        }
        if (l->head) {
            job *j = l->head;
            l->head = j->next;
            if (!l->head)
                l->tail = NULL;
            *fn = j->fn;
            *arg = j->arg;
            free(j);
            return 1;
        }
        if (l->nheap) {
            struct timespec dl = zkd__timespec_at(l->heap[0]->at);
            pthread_cond_timedwait(&l->cv, &l->mu, &dl);
        } else {
            pthread_cond_wait(&l->cv, &l->mu);
        }
    }
}

static void *loop_main(void *arg)
{
    zkd_loop *l = arg;
    zkd_job_fn fn;
    void *farg;
    pthread_mutex_lock(&l->mu);
    while (next_work(l, &fn, &farg)) {
        pthread_mutex_unlock(&l->mu);
        fn(farg);
        pthread_mutex_lock(&l->mu);
    }
    job *rest = l->head;
    l->head = l->tail = NULL;
    int self_stop = l->self_stop;
    pthread_mutex_unlock(&l->mu);

    /* Jobs first, timers after: a dropped job (an object's close) may still
     * cancel its timers, which must be in the heap then. */
    drop_jobs(rest);
    pthread_mutex_lock(&l->mu);
    zkd_timer **timers = l->heap;
    size_t ntimers = l->nheap;
    l->heap = NULL;
    l->nheap = l->capheap = 0;
    pthread_mutex_unlock(&l->mu);
    for (size_t i = 0; i < ntimers; i++) {
        if (timers[i]->drop)
            timers[i]->drop(timers[i]->arg);
        free(timers[i]);
    }
    free(timers);
    l->on_exit(l->ctx);
    /* on_exit may have posted (and had dropped) more work; nothing is queued now. */
    if (self_stop) {
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
        free(l);
    }
    return NULL;
}

int zkd__loop_start(zkd_loop **out, zkd_job_fn on_exit, void *ctx, pthread_t *thread_out)
{
    zkd_loop *l = calloc(1, sizeof *l);
    if (!l)
        return ZKD_ENOMEM;
    pthread_mutex_init(&l->mu, NULL);
    zkd__cond_init(&l->cv);
    l->on_exit = on_exit;
    l->ctx = ctx;
    if (pthread_create(&l->thread, NULL, loop_main, l) != 0) {
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
        free(l);
        return ZKD_ENOMEM;
    }
    *thread_out = l->thread;
    *out = l;
    return 0;
}

int zkd__loop_post(zkd_loop *l, zkd_job_fn fn, zkd_job_fn drop, void *arg)
{
    job *j = malloc(sizeof *j);
    if (!j)
        return ZKD_ENOMEM;
    *j = (job){.fn = fn, .drop = drop, .arg = arg};
    pthread_mutex_lock(&l->mu);
    if (l->stopping) {
        pthread_mutex_unlock(&l->mu);
        free(j);
        return ZKD_ECLOSED;
    }
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

zkd_timer *zkd__loop_after(zkd_loop *l, int64_t delay_ms, zkd_job_fn fn, zkd_job_fn drop,
                           void *arg)
{
    zkd_timer *t = malloc(sizeof *t);
    pthread_mutex_lock(&l->mu);
    if (t && !l->stopping && l->nheap == l->capheap) {
        size_t cap = l->capheap ? l->capheap * 2 : 16;
        zkd_timer **grown = realloc(l->heap, cap * sizeof *grown);
        if (grown) {
            l->heap = grown;
            l->capheap = cap;
        }
    }
    if (!t || l->stopping || l->nheap == l->capheap) {
        pthread_mutex_unlock(&l->mu);
        free(t);
        return NULL;
    }
    *t = (zkd_timer){.at = zkd__now_ms() + (delay_ms > 0 ? delay_ms : 0), .seq = l->seq++,
                     .fn = fn, .drop = drop, .arg = arg};
    l->heap[l->nheap] = t;
    t->pos = l->nheap++;
    sift_up(l, t->pos);
    if (l->heap[0] == t)
        pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return t;
}

void zkd__loop_cancel(zkd_loop *l, zkd_timer *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&l->mu);
    heap_remove(l, t);
    pthread_mutex_unlock(&l->mu);
    free(t);
}

int zkd__loop_on_thread(const zkd_loop *l)
{
    return pthread_equal(pthread_self(), l->thread);
}

void zkd__loop_stop(zkd_loop *l)
{
    int self = zkd__loop_on_thread(l);
    pthread_mutex_lock(&l->mu);
    l->stopping = 1;
    l->self_stop = self;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (self) {
        pthread_detach(l->thread);
        return;
    }
    pthread_join(l->thread, NULL);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}
