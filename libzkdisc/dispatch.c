/* The dispatch thread: a FIFO of jobs run one at a time. */
#include "dispatch.h"

#include <pthread.h>
#include <stdlib.h>
#include <zkdisc/error.h>

typedef struct job {
    struct job *next;
    zkd_job_fn fn, drop;
    void *arg;
} job;

struct zkd_dispatch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    int stopping;
    int self_stop; /* stop was asked from the thread itself: it cleans up */
    pthread_t thread;
    zkd_job_fn on_exit;
    void *ctx;
};

static void drop_all(job *j)
{
    while (j) {
        job *next = j->next;
        if (j->drop)
            j->drop(j->arg);
        free(j);
        j = next;
    }
}

static void *dispatch_main(void *arg)
{
    zkd_dispatch *d = arg;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->head && !d->stopping)
            pthread_cond_wait(&d->cv, &d->mu);
        if (d->stopping)
            break;
        job *j = d->head;
        d->head = j->next;
        if (!d->head)
            d->tail = NULL;
        pthread_mutex_unlock(&d->mu);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&d->mu);
    }
    job *rest = d->head;
    d->head = d->tail = NULL;
    int self_stop = d->self_stop;
    pthread_mutex_unlock(&d->mu);

    drop_all(rest);
    d->on_exit(d->ctx);
    /* on_exit may have posted (and had dropped) more work; nothing is queued now. */
    if (self_stop) {
        pthread_mutex_destroy(&d->mu);
        pthread_cond_destroy(&d->cv);
        free(d);
    }
    return NULL;
}

int zkd__dispatch_start(zkd_dispatch **out, zkd_job_fn on_exit, void *ctx)
{
    zkd_dispatch *d = calloc(1, sizeof *d);
    if (!d)
        return ZKD_ENOMEM;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    d->on_exit = on_exit;
    d->ctx = ctx;
    if (pthread_create(&d->thread, NULL, dispatch_main, d) != 0) {
        pthread_mutex_destroy(&d->mu);
        pthread_cond_destroy(&d->cv);
        free(d);
        return ZKD_ENOMEM;
    }
    *out = d;
    return 0;
}

int zkd__dispatch_post(zkd_dispatch *d, zkd_job_fn fn, zkd_job_fn drop, void *arg)
{
    job *j = malloc(sizeof *j);
    if (!j) {
        if (drop)
            drop(arg);
        return ZKD_ENOMEM;
    }
    *j = (job){.fn = fn, .drop = drop, .arg = arg};
    pthread_mutex_lock(&d->mu);
    if (d->stopping) {
        pthread_mutex_unlock(&d->mu);
        drop_all(j);
        return ZKD_ECLOSED;
    }
    if (d->tail)
        d->tail->next = j;
    else
        d->head = j;
    d->tail = j;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    return 0;
}

int zkd__dispatch_on_thread(const zkd_dispatch *d)
{
    return pthread_equal(pthread_self(), d->thread);
}

void zkd__dispatch_stop(zkd_dispatch *d)
{
    int self = zkd__dispatch_on_thread(d);
    pthread_mutex_lock(&d->mu);
    d->stopping = 1;
    d->self_stop = self;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    if (self) {
        pthread_detach(d->thread);
        return;
    }
    pthread_join(d->thread, NULL);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
}
