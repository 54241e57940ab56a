/* SPDX-License-Identifier: Apache-2.0 */
/* A cache of 100,000 instances (ZKD_CACHE_SCALE_N to change it) recovers
 * after the server restarts inside the session timeout and after a session
 * expiry. Before, the ZooKeeper client re-sent its 100,000 data watches in
 * one SetWatches packet, which the server refuses over 1 MB: the client
 * reconnected forever and the cache stayed stale. Each recovery is timed
 * and printed; a data change afterwards shows that the watches work.
 *
 * A change to one instance costs the same in a cache of 1,000 as in one of
 * 100,000: the snapshot is a persistent tree of which a change copies one
 * path. Before, every change rebuilt the whole snapshot (about 100x the
 * CPU at 100,000 as at 1,000). */
#include <sys/resource.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zookeeper/zookeeper.h>

#include "testutil.h"
#include "zkh.h"

#define SMALL_N 1000

static zkh *zk;
static zhandle_t *raw;
static int n_instances = 100000;

static volatile int raw_up;
static void raw_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh, (void)path, (void)ctx;
    if (type == ZOO_SESSION_EVENT)
        __atomic_store_n(&raw_up, state == ZOO_CONNECTED_STATE, __ATOMIC_SEQ_CST);
}

typedef struct window {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight, failed;
} window;

static void created(int rc, const char *value, const void *data)
{
    (void)value;
    window *w = (window *)data;
    pthread_mutex_lock(&w->mu);
    w->inflight--;
    w->failed += rc != ZOK && rc != ZNODEEXISTS;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Ids shaped like Curator's (UUIDs), so paths are as long as in real trees
 * (about 60 bytes): over about 16,000 of them the watches no longer fit one
 * SetWatches packet. */
#define ID_FMT "00000000-0000-4000-8000-%012d"

static void record_of(char *buf, size_t len, const char *service, int i, int port)
{
    snprintf(buf, len,
             "{\"name\":\"%s\",\"id\":\"" ID_FMT "\",\"address\":\"10.%d.%d.%d\",\"port\":%d,"
             "\"sslPort\":null,\"payload\":{\"weight\":100},\"registrationTimeUTC\":1732456789000,"
             "\"serviceType\":\"DYNAMIC\",\"uriSpec\":null}",
             service, i, (i >> 16) & 255, (i >> 8) & 255, i & 255, port);
}

static void record(char *buf, size_t len, int i, int port)
{
    record_of(buf, len, "scale", i, port);
}

/* Pipelined creates of n instances of `service`, at most 2,000 in flight. */
static int create_n(const char *service, int n)
{
    window w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    char path[128], data[512];
    zoo_create(raw, "/zkdisc", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    zoo_create(raw, "/zkdisc/services", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    snprintf(path, sizeof path, "/zkdisc/services/%s", service);
    zoo_create(raw, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&w.mu);
        while (w.inflight >= 2000)
            pthread_cond_wait(&w.cv, &w.mu);
        w.inflight++;
        pthread_mutex_unlock(&w.mu);
        snprintf(path, sizeof path, "/zkdisc/services/%s/" ID_FMT, service, i);
        record_of(data, sizeof data, service, i, 8080);
        if (zoo_acreate(raw, path, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE, 0, created, &w) != ZOK)
            created(ZSYSTEMERROR, NULL, &w);
    }
    pthread_mutex_lock(&w.mu);
    while (w.inflight > 0)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    return w.failed;
}

static void got(int rc, const char *value, int len, const struct Stat *st, const void *data)
{
    (void)value, (void)len, (void)st;
    created(rc, NULL, data);
}

/* The raw C client's pipelined read of every instance, for comparison. */
static int64_t raw_read_ms(void)
{
    struct String_vector kids;
    int64_t t0 = tu_now_ms();
    if (zoo_get_children(raw, "/zkdisc/services/scale", 0, &kids) != ZOK)
        return -1;
    window w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, kids.count, 0};
    char path[128];
    for (int i = 0; i < kids.count; i++) {
        snprintf(path, sizeof path, "/zkdisc/services/scale/%s", kids.data[i]);
        if (zoo_aget(raw, path, 0, got, &w) != ZOK)
            created(ZSYSTEMERROR, NULL, &w);
    }
    pthread_mutex_lock(&w.mu);
    while (w.inflight > 0)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    deallocate_String_vector(&kids);
    return tu_now_ms() - t0;
}

static int suite_init(void)
{
    const char *n = getenv("ZKD_CACHE_SCALE_N");
    if (n && atoi(n) > 0)
        n_instances = atoi(n);
    zoo_set_debug_level(0);
    if (!(zk = zkh_start(1)))
        return 1;
    raw = zookeeper_init(zkh_connect_string(zk), raw_watcher, 30000, NULL, NULL, 0);
    if (!raw || !tu_wait_int(&raw_up, 1, 15000))
        return 1;
    int64_t t0 = tu_now_ms();
    int failed = create_n("scale", n_instances) + create_n("small", SMALL_N);
    printf("\n    created %d instances in %lld ms\n", n_instances, (long long)(tu_now_ms() - t0));
    return failed != 0;
}

static int suite_clean(void)
{
    if (raw)
        zookeeper_close(raw);
    zkh_stop(zk);
    return 0;
}

typedef struct fresh {
    zkd_cache *k;
    size_t n;
    const char *id; /* optional: this instance has `port` */
    int port;
} fresh;

static int is_fresh(void *arg)
{
    fresh *f = arg;
    zkd_snapshot *s = zkd_cache_snapshot(f->k);
    int ok = !zkd_snapshot_stale(s) && zkd_snapshot_count(s) == f->n;
    if (ok && f->id) {
        const zkd_instance *i = zkd_snapshot_find(s, f->id);
        ok = i && zkd_instance_port(i) == f->port;
    }
    zkd_snapshot_unref(s);
    return ok;
}

/* After a recovery the data watches work again: a change reaches the cache. */
static void change_is_seen(zkd_cache *k, int i, int port)
{
    char path[128], data[512], id[64];
    snprintf(path, sizeof path, "/zkdisc/services/scale/" ID_FMT, i);
    snprintf(id, sizeof id, ID_FMT, i);
    record(data, sizeof data, i, port);
    CU_ASSERT(tu_wait_int(&raw_up, 1, 30000));
    int rc = ZCONNECTIONLOSS;
    for (int tries = 0; tries < 50 && rc == ZCONNECTIONLOSS; tries++)
        rc = zoo_set(raw, path, data, (int)strlen(data), -1);
    CU_ASSERT_EQUAL(rc, ZOK);
    fresh f = {k, (size_t)n_instances, id, port};
    CU_ASSERT(tu_wait_until(is_fresh, &f, 10000));
}

static volatile int64_t reconnected_at;
static void note_reconnect(zkd_client *c, zkd_session_event ev, void *ctx)
{
    (void)c, (void)ctx;
    if (ev == ZKD_SESSION_RECONNECTED || ev == ZKD_SESSION_REESTABLISHED)
        __atomic_store_n(&reconnected_at, tu_now_ms(), __ATOMIC_SEQ_CST);
}

static void test_recovers(void)
{
    printf("\n    raw C client, pipelined getData of %d: %lld ms", n_instances,
           (long long)raw_read_ms());
    zkd_client *c = tu_connect(zkh_connect_string(zk), 30000);
    tu_events ev;
    tu_events_subscribe(c, &ev);
    CU_ASSERT_EQUAL_FATAL(zkd_session_subscribe(c, note_reconnect, NULL, NULL, NULL), 0);
    zkd_cache *k = NULL;
    int64_t t0 = tu_now_ms();
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "scale", NULL, NULL, &k, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(zkd_cache_wait_ready(k, 120000, NULL), 0);
    fresh all = {k, (size_t)n_instances, NULL, 0};
    CU_ASSERT_FATAL(tu_wait_until(is_fresh, &all, 30000));
    int64_t load_ms = tu_now_ms() - t0;
    printf("\n    cold load of %d: %lld ms\n", n_instances, (long long)load_ms);
    /* Recovery reads about as much as a load: allow three loads' time on a
     * slow machine (a flapping client never gets there at all). */
    int recover_ms = (int)(load_ms * 3 > 30000 ? load_ms * 3 : 30000);

    /* 1. The server restarts inside the session timeout. */
    CU_ASSERT_EQUAL_FATAL(zkh_restart_server(zk, 0), 0);
    int64_t back = tu_now_ms();
    CU_ASSERT(tu_wait_until(is_fresh, &all, recover_ms));
    int64_t at = __atomic_load_n(&reconnected_at, __ATOMIC_SEQ_CST);
    printf("    fresh %lld ms after the server was back (same session; reconnected after "
           "%lld ms)\n", (long long)(tu_now_ms() - back), (long long)(at - back));
    CU_ASSERT_EQUAL(tu_events_get(&ev, ZKD_SESSION_EXPIRED), 0);
    int suspended = tu_events_get(&ev, ZKD_SESSION_SUSPENDED);
    CU_ASSERT(suspended >= 1);
    change_is_seen(k, 7, 9001);
    /* No flapping: the connection stayed up while the change went through. */
    CU_ASSERT_EQUAL(tu_events_get(&ev, ZKD_SESSION_SUSPENDED), suspended);

    /* 2. The session expires: a new one, every watch gone. */
    int64_t gone = tu_now_ms();
    CU_ASSERT_EQUAL_FATAL(tu_expire(c, zkh_connect_string(zk), 30000), 0);
    CU_ASSERT(tu_wait_until(is_fresh, &all, recover_ms));
    at = __atomic_load_n(&reconnected_at, __ATOMIC_SEQ_CST);
    printf("    fresh %lld ms after the expiry was forced (new session after %lld ms)\n",
           (long long)(tu_now_ms() - gone), (long long)(at - gone));
    change_is_seen(k, 8, 9002);

    zkd_cache_close(k);
    zkd_close(c);
}

/* ---- the cost of one change ---------------------------------------------- */

typedef struct seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int deltas;
} seen;

static void on_delta(zkd_cache *k, const zkd_delta *d, size_t n, void *ctx)
{
    (void)k, (void)d;
    seen *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->deltas += (int)n;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

size_t zkd__ptree_nodes_built(void);


typedef struct side {
    const char *service;
    int n;
    seen s;
    zkd_cache *k;
    double cpu_ms; /* the process's, over all rounds */
    size_t nodes;  /* tree nodes built, over all rounds */
    int changes;
} side;

static void side_open(zkd_client *c, side *d)
{
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, d->service, on_delta, &d->s, &d->k, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(zkd_cache_wait_ready(d->k, 120000, NULL), 0);
    fresh all = {d->k, (size_t)d->n, NULL, 0};
    CU_ASSERT_FATAL(tu_wait_until(is_fresh, &all, 60000));
}

/* Sets the data of one instance `changes` times, each once the listener
 * has seen the last. */
static int side_round(side *d, int changes)
{
    char path[128], data[512];
    int i = d->n / 2;
    snprintf(path, sizeof path, "/zkdisc/services/%s/" ID_FMT, d->service, i);
    double t0 = cpu_ms();
    size_t nodes0 = zkd__ptree_nodes_built();
    for (int c = 0; c < changes; c++) {
        pthread_mutex_lock(&d->s.mu);
        int before = d->s.deltas;
        pthread_mutex_unlock(&d->s.mu);
        record_of(data, sizeof data, d->service, i, 10000 + d->changes++);
        if (zoo_set(raw, path, data, (int)strlen(data), -1) != ZOK)
            return -1;
        int64_t deadline = tu_now_ms() + 10000;
        pthread_mutex_lock(&d->s.mu);
        while (d->s.deltas == before && tu_now_ms() < deadline) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&d->s.cv, &d->s.mu, &ts);
        }
        int ok = d->s.deltas > before;
        pthread_mutex_unlock(&d->s.mu);
        if (!ok)
            return -1;
    }
    d->cpu_ms += cpu_ms() - t0;
    d->nodes += zkd__ptree_nodes_built() - nodes0;
    return 0;
}

static void test_change_cost(void)
{
    enum { ROUNDS = 4, CHANGES = 40 };
    zkd_client *c = tu_connect(zkh_connect_string(zk), 30000);
    side small = {.service = "small", .n = SMALL_N};
    side large = {.service = "scale", .n = n_instances};
    pthread_mutex_init(&small.s.mu, NULL);
    pthread_cond_init(&small.s.cv, NULL);
    pthread_mutex_init(&large.s.mu, NULL);
    pthread_cond_init(&large.s.cv, NULL);
    side_open(c, &small);
    side_open(c, &large);
    /* Interleaved rounds: a busy moment on a shared machine weighs on both. */
    for (int r = 0; r < ROUNDS; r++) {
        CU_ASSERT_EQUAL_FATAL(side_round(&small, CHANGES), 0);
        CU_ASSERT_EQUAL_FATAL(side_round(&large, CHANGES), 0);
    }
    double per_small = small.cpu_ms / small.changes, per_large = large.cpu_ms / large.changes;
    double nodes_small = (double)small.nodes / small.changes;
    double nodes_large = (double)large.nodes / large.changes;
    printf("\n    per change: %d instances %.3f ms CPU, %.1f tree nodes; %d instances %.3f ms CPU, "
           "%.1f tree nodes\n", SMALL_N, per_small, nodes_small, n_instances, per_large, nodes_large);
    /* A path of the tree per change: one node per level. */
    CU_ASSERT(nodes_large <= nodes_small + 2);
    CU_ASSERT(nodes_large <= 4);
    /* Generous: a copy of every instance per change cost some 5x at 50,000
     * and 20x at 100,000 what it cost at 1,000; a path costs the same. */
    if (n_instances >= 20 * SMALL_N)
        CU_ASSERT(per_large <= 2.5 * per_small + 0.3);
    zkd_cache_close(small.k);
    zkd_cache_close(large.k);
    zkd_close(c);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"a cache of 100,000 recovers after a restart and after an expiry", test_recovers},
        {"a change costs as much at 100,000 instances as at 1,000", test_change_cost},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"cache_scale", suite_init, suite_clean, NULL, NULL, tests},
                             CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
