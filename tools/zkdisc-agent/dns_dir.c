/* SPDX-License-Identifier: Apache-2.0 */
/* A children watch on <root>/services keeps the list of service names, so a
 * query for a name that does not exist costs nothing on ZooKeeper and takes
 * no cache. The watch is opened on a thread of its own (zkd_watch_open
 * waits for its first read, which must never happen on the loop); its
 * events arrive on the library's dispatch thread. */
#include "dns_dir.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"

struct dns_dir {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs, closed;
    zkd_client *zk;
    char *path;
    zkd_watch *w;
    char **names;        /* sorted (strcmp) */
    size_t n;
    int32_t cversion;
    int known;           /* names has been read at least once */
};

static void dir_unref(dns_dir *s)
{
    pthread_mutex_lock(&s->mu);
    int last = --s->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (!last)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    free(s->path);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Keeps the newest list (by the parent's cversion; -1 after a deletion). */
static void dir_store(dns_dir *s, const zkd_strings *kids, int32_t cversion)
{
    char **names = calloc(kids->count + 1, sizeof *names);
    size_t n = 0;
    for (size_t i = 0; names && i < kids->count; i++)
        if ((names[n] = strdup(kids->items[i])))
            n++;
    pthread_mutex_lock(&s->mu);
    if (names && (!s->known || cversion < 0 || cversion >= s->cversion)) {
        char **old = s->names;
        size_t oldn = s->n;
        s->names = names;
        s->n = n;
        s->cversion = cversion;
        s->known = 1;
        names = old;
        n = oldn;
    }
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void on_dir(zkd_watch *w, const zkd_watch_event *ev, void *ctx)
{
    (void)w;
    static const zkd_strings none = {0, NULL};
    if (ev->type == ZKD_WATCH_CHILDREN_CHANGED)
        dir_store(ctx, ev->children, ev->stat ? ev->stat->cversion : INT32_MAX);
    else if (ev->type == ZKD_WATCH_DELETED)
        dir_store(ctx, &none, -1);
}

/* Waits up to a second unless closed; 1 when closed. */
static int dir_pause(dns_dir *s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    pthread_mutex_lock(&s->mu);
    if (!s->closed)
        pthread_cond_timedwait(&s->cv, &s->mu, &until);
    int closed = s->closed;
    pthread_mutex_unlock(&s->mu);
    return closed;
}

static void *dir_main(void *arg)
{
    dns_dir *s = arg;
    zkd_watch *w = NULL;
    zkd_error err;
    for (int tries = 0;; tries++) {
        if (zkd_watch_open(s->zk, s->path, ZKD_WATCH_CHILDREN, on_dir, s, &w, &err) == 0)
            break;
        w = NULL;
        if (tries == 0)
            agent_log(AGENT_WARN, "dns: cannot watch %s yet (%s); all_services answers SERVFAIL meanwhile",
                      s->path, err.message);
        if (dir_pause(s))
            goto out;
    }
    pthread_mutex_lock(&s->mu);
    int closed = s->closed;
    if (!closed)
        s->w = w;
    pthread_mutex_unlock(&s->mu);
    if (closed) {
        zkd_watch_close(w);
        goto out;
    }
    /* The watch reports changes from now on; the list as it is now: */
    for (;;) {
        zkd_strings kids = {0, NULL};
        zkd_stat st;
        int rc = zkd_node_children(s->zk, s->path, &kids, &st, &err);
        if (rc == 0 || rc == ZKD_ENOTFOUND) {
            dir_store(s, &kids, rc ? -1 : st.cversion);
            zkd_strings_free(&kids);
            break;
        }
        if (dir_pause(s))
            break;
    }
out:
    dir_unref(s);
    return NULL;
}

dns_dir *dns_dir_open(zkd_client *zk)
{
    dns_dir *s = calloc(1, sizeof *s);
    const char *root = zkd_client_root(zk);
    size_t n = strlen(root) + sizeof "/services";
    s->path = malloc(n);
    snprintf(s->path, n, "%s/services", strcmp(root, "/") ? root : "");
    s->zk = zk;
    s->refs = 2; /* ours and the thread's */
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, dir_main, s) != 0) {
        s->refs = 1;
        dir_unref(s);
        return NULL;
    }
    pthread_detach(t); /* it may be waiting on ZooKeeper: dns_stop does not wait for it */
    return s;
}

void dns_dir_close(dns_dir *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->closed = 1;
    zkd_watch *w = s->w;
    s->w = NULL;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    zkd_watch_close(w);
    dir_unref(s);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, *(char *const *)b);
}

int dns_dir_has(dns_dir *s, const char *name)
{
    pthread_mutex_lock(&s->mu);
    int r = !s->known ? -1 : bsearch(name, s->names, s->n, sizeof *s->names, cmp_name) != NULL;
    pthread_mutex_unlock(&s->mu);
    return r;
}

