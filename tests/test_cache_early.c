/* SPDX-License-Identifier: Apache-2.0 */
/* A create reaches a cache's listener after one wait for the dispatch
 * thread, not three: the child event's re-read of the children and the new
 * child's getData go out from ZooKeeper's completion thread (the request
 * layer's early hook). And with that path racing the dispatch thread, a
 * burst of creates and deletes is seen exactly once each, and so is a
 * change of each member after it (its index of members remade). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zookeeper/zookeeper.h>

#include "testutil.h"
#include "zkh.h"

ZKH_SUITE(1) /* zk: the suite's server(s); suite_init, suite_clean */

static zhandle_t *raw_open(void)
{
    zhandle_t *zh = tu_raw_open(zkh_connect_string(zk));
    CU_ASSERT_FATAL(zh != NULL);
    return zh;
}

static void make_service(zhandle_t *zh, const char *service)
{
    char path[256];
    zoo_create(zh, "/zkdisc", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    zoo_create(zh, "/zkdisc/services", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    snprintf(path, sizeof path, "/zkdisc/services/%s", service);
    zoo_create(zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
}

static void record_port(char *data, size_t len, const char *service, int i, int port)
{
    snprintf(data, len,
             "{\"name\":\"%s\",\"id\":\"i-%d\",\"address\":\"10.0.%d.%d\",\"port\":%d,"
             "\"sslPort\":null,\"payload\":null,\"registrationTimeUTC\":1,"
             "\"serviceType\":\"DYNAMIC\",\"uriSpec\":null}",
             service, i, (i >> 8) & 255, i & 255, port);
}

static void record(char *data, size_t len, const char *service, int i)
{
    record_port(data, len, service, i, 8080);
}

static int create_one(zhandle_t *zh, const char *service, int i)
{
    char path[256], data[512];
    snprintf(path, sizeof path, "/zkdisc/services/%s/i-%d", service, i);
    record(data, sizeof data, service, i);
    return zoo_create(zh, path, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
}

/* ---- the dispatch thread held up -------------------------------------------- */

typedef struct seen {
    pthread_mutex_t mu;
    int added[1000], removed[1000], updated[1000], other;
} seen;

static void seen_fn(zkd_cache *k, const zkd_delta *d, size_t n, void *ctx)
{
    (void)k;
    seen *s = ctx;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        const zkd_instance *inst = d[i].now ? d[i].now : d[i].before;
        int id = atoi(zkd_instance_id(inst) + 2);
        if (id < 0 || id >= 1000)
            s->other++;
        else if (d[i].kind == ZKD_DELTA_UPDATED)
            s->updated[id]++;
        else if (d[i].kind == ZKD_DELTA_ADDED)
            s->added[id]++;
        else
            s->removed[id]++;
    }
    pthread_mutex_unlock(&s->mu);
}

static int seen_added(seen *s, int id)
{
    pthread_mutex_lock(&s->mu);
    int n = s->added[id];
    pthread_mutex_unlock(&s->mu);
    return n;
}

static int seven_added(void *arg)
{
    return seen_added(arg, 7) > 0;
}

typedef struct reads {
    zkd_client *c;
    zkd_counters before;
} reads;

/* The create's getChildren and its child's getData have gone out. */
static int read_sent(void *arg)
{
    reads *r = arg;
    zkd_counters now;
    zkd_client_counters(r->c, &now);
    return now.get_children > r->before.get_children && now.get_data > r->before.get_data;
}

/* While the dispatch thread is busy in another cache's listener, a create
 * in this cache's service is still re-listed and its data read (old code:
 * nothing is sent until the dispatch thread is free); the listener hears
 * of it once the thread is free. */
static void test_reads_without_dispatch(void)
{
    zhandle_t *zh = raw_open();
    make_service(zh, "held");
    make_service(zh, "early");
    zkd_client *c = tu_connect(zkh_connect_string(zk), 10000);
    tu_hold h = TU_HOLD_INIT;
    seen s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    zkd_cache *kh = NULL, *ke = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "held", tu_hold_fn, &h, &kh, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "early", seen_fn, &s, &ke, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(zkd_cache_wait_ready(kh, 20000, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(zkd_cache_wait_ready(ke, 20000, NULL), 0);

    CU_ASSERT_EQUAL(create_one(zh, "held", 1), ZOK); /* the dispatch thread stops in tu_hold_fn */
    CU_ASSERT_TRUE_FATAL(tu_wait_until(tu_hold_held, &h, 15000));

    reads r = {.c = c};
    zkd_client_counters(c, &r.before);
    CU_ASSERT_EQUAL(create_one(zh, "early", 7), ZOK);
    CU_ASSERT(tu_wait_until(read_sent, &r, 5000));
    CU_ASSERT_EQUAL(seen_added(&s, 7), 0); /* the listener waits for its thread */

    tu_hold_release(&h);
    CU_ASSERT(tu_wait_until(seven_added, &s, 10000));
    CU_ASSERT_EQUAL(seen_added(&s, 7), 1);
    zkd_snapshot *snap = zkd_cache_snapshot(ke);
    CU_ASSERT_EQUAL(zkd_snapshot_count(snap), 1);
    zkd_snapshot_unref(snap);
    zkd_cache_close(kh);
    zkd_cache_close(ke);
    zkd_close(c);
    zookeeper_close(zh);
}

/* ---- a burst racing the early path ------------------------------------------ */

static void written(int rc, const char *value, const void *data)
{
    (void)value;
    if (rc != ZOK)
        __atomic_add_fetch((int *)data, 1000000, __ATOMIC_SEQ_CST);
    __atomic_add_fetch((int *)data, 1, __ATOMIC_SEQ_CST);
}

static void deleted(int rc, const void *data)
{
    written(rc, NULL, data);
}

static void set_done(int rc, const struct Stat *st, const void *data)
{
    (void)st;
    written(rc, NULL, data);
}

/* Every instance of the cache's snapshot has port 9000. */
static int all_on_9000(void *arg)
{
    zkd_snapshot *s = zkd_cache_snapshot(arg);
    int ok = zkd_snapshot_count(s) > 0;
    for (size_t i = 0; ok && i < zkd_snapshot_count(s); i++)
        ok = zkd_instance_port(zkd_snapshot_at(s, i)) == 9000;
    zkd_snapshot_unref(s);
    return ok;
}

static void acreate(zhandle_t *zh, const char *service, int i, int *done)
{
    char path[256], data[512];
    snprintf(path, sizeof path, "/zkdisc/services/%s/i-%d", service, i);
    record(data, sizeof data, service, i);
    CU_ASSERT_EQUAL(zoo_acreate(zh, path, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE, 0,
                                written, done),
                    ZOK);
}

typedef struct want {
    zkd_cache *k;
    int n;        /* ids i-0..i-(n-1) are considered */
    int odd_gone; /* below `first`, the odd ones are gone */
    int first;
} want;

/* The cache holds exactly the ids the tree holds. */
static int cache_holds(void *arg)
{
    want *w = arg;
    zkd_snapshot *s = zkd_cache_snapshot(w->k);
    size_t n = 0;
    int ok = 1;
    for (int i = 0; ok && i < w->n; i++) {
        char id[32];
        snprintf(id, sizeof id, "i-%d", i);
        int in = !(w->odd_gone && i < w->first && i % 2);
        n += in;
        ok = !zkd_snapshot_find(s, id) == !in;
    }
    ok = ok && zkd_snapshot_count(s) == n;
    zkd_snapshot_unref(s);
    return ok;
}

/* Pipelined creates, then deletes of half of them interleaved with new
 * creates: the cache ends equal to the tree, and its listener heard of
 * each create and each delete exactly once. */
static void test_burst(void)
{
    enum { FIRST = 300, MORE = 300 };
    zhandle_t *zh = raw_open();
    make_service(zh, "burst");
    zkd_client *c = tu_connect(zkh_connect_string(zk), 10000);
    seen *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    zkd_cache *k = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "burst", seen_fn, s, &k, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(zkd_cache_wait_ready(k, 20000, NULL), 0);

    int done = 0;
    for (int i = 0; i < FIRST; i++)
        acreate(zh, "burst", i, &done);
    CU_ASSERT(tu_wait_int(&done, FIRST, 20000));
    want w = {k, FIRST, 0, FIRST};
    CU_ASSERT(tu_wait_until(cache_holds, &w, 20000));

    done = 0;
    for (int i = 0; i < MORE; i++) {
        if (i % 2) {
            char path[256];
            snprintf(path, sizeof path, "/zkdisc/services/burst/i-%d", i);
            CU_ASSERT_EQUAL(zoo_adelete(zh, path, -1, deleted, &done), ZOK);
        }
        acreate(zh, "burst", FIRST + i, &done);
    }
    CU_ASSERT(tu_wait_int(&done, MORE + MORE / 2, 20000));
    w = (want){k, FIRST + MORE, 1, FIRST};
    CU_ASSERT(tu_wait_until(cache_holds, &w, 20000));
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < FIRST + MORE; i++) {
        CU_ASSERT_EQUAL(s->added[i], 1);
        CU_ASSERT_EQUAL(s->removed[i], i < FIRST && i % 2 ? 1 : 0);
    }
    CU_ASSERT_EQUAL(s->other, 0);
    pthread_mutex_unlock(&s->mu);

    /* Members came and went in that burst, then only went (the cache's
     * index of them was remade each time): each survivor's new record is
     * found and reported once. */
    enum { LAST = 10 };
    done = 0;
    for (int i = FIRST + MORE - LAST; i < FIRST + MORE; i++) {
        char path[256];
        snprintf(path, sizeof path, "/zkdisc/services/burst/i-%d", i);
        CU_ASSERT_EQUAL(zoo_adelete(zh, path, -1, deleted, &done), ZOK);
    }
    CU_ASSERT(tu_wait_int(&done, LAST, 20000));
    w = (want){k, FIRST + MORE - LAST, 1, FIRST};
    CU_ASSERT(tu_wait_until(cache_holds, &w, 20000));
    done = 0;
    int survivors = 0;
    for (int i = 0; i < FIRST + MORE - LAST; i++) {
        if (i < FIRST && i % 2)
            continue;
        char path[256], data[512];
        snprintf(path, sizeof path, "/zkdisc/services/burst/i-%d", i);
        record_port(data, sizeof data, "burst", i, 9000);
        CU_ASSERT_EQUAL(zoo_aset(zh, path, data, (int)strlen(data), -1, set_done, &done), ZOK);
        survivors++;
    }
    CU_ASSERT(tu_wait_int(&done, survivors, 20000));
    CU_ASSERT(tu_wait_until(all_on_9000, k, 20000));
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < FIRST + MORE; i++)
        CU_ASSERT_EQUAL(s->updated[i], (i < FIRST && i % 2) || i >= FIRST + MORE - LAST ? 0 : 1);
    pthread_mutex_unlock(&s->mu);
    zkd_cache_close(k);
    zkd_close(c);
    zookeeper_close(zh);
    free(s);
}

int main(void)
{
    zoo_set_debug_level(0);
    CU_TestInfo tests[] = {
        {"a create is read while the dispatch thread is busy", test_reads_without_dispatch},
        {"a burst of creates and deletes, then a change of each, is seen exactly once each", test_burst},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"cache_early", suite_init, suite_clean, NULL, NULL, tests},
                             CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
