/* SPDX-License-Identifier: Apache-2.0 */
/* Many threads select from a balancer while another client churns 1,000
 * registrations: every selection returns a live-looking instance or "none",
 * never a crash or a torn record; the cache ends exactly right. Run it under
 * ASan and TSan too (ZKDISC_SANITIZE, ZKDISC_TSAN). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "zkh.h"

ZKH_SUITE(1) /* zk: the suite's server(s); suite_init, suite_clean */

typedef struct shared {
    zkd_balancer *b;
    zkd_cache *k;
    volatile int stop;
    volatile long picks, empty, bad;
} shared;

static void *selector(void *arg)
{
    shared *s = arg;
    while (!__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST)) {
        zkd_instance *i = NULL;
        int rc = zkd_balancer_select(s->b, &i, NULL);
        if (rc == 0) {
            /* Every field of the record must be readable and consistent. */
            const char *id = zkd_instance_id(i);
            int ok = id && !strncmp(id, "c-", 2) && zkd_instance_port(i) >= 10000 &&
                     !strcmp(zkd_instance_address(i), "10.0.0.1");
            if (!ok)
                __atomic_add_fetch(&s->bad, 1, __ATOMIC_SEQ_CST);
            zkd_balancer_report_success(s->b, id);
            zkd_instance_unref(i);
            __atomic_add_fetch(&s->picks, 1, __ATOMIC_SEQ_CST);
        } else if (rc == ZKD_ENOTFOUND) {
            __atomic_add_fetch(&s->empty, 1, __ATOMIC_SEQ_CST);
        } else {
            __atomic_add_fetch(&s->bad, 1, __ATOMIC_SEQ_CST);
        }
        zkd_snapshot *snap = zkd_cache_snapshot(s->k);
        for (size_t x = 0; x < zkd_snapshot_count(snap); x++)
            if (!zkd_instance_address(zkd_snapshot_at(snap, x)))
                __atomic_add_fetch(&s->bad, 1, __ATOMIC_SEQ_CST);
        zkd_snapshot_unref(snap);
    }
    return NULL;
}

/* The cache holds exactly ids c-<from> .. c-<to - 1>. Counting alone is
 * not enough: a lagging intermediate state can have the same size. */
typedef struct holds {
    zkd_cache *k;
    int from, to;
} holds;

static int holds_exactly(void *arg)
{
    holds *h = arg;
    zkd_snapshot *s = zkd_cache_snapshot(h->k);
    int ok = zkd_snapshot_count(s) == (size_t)(h->to - h->from);
    for (int i = h->from; ok && i < h->to; i++) {
        char id[16];
        snprintf(id, sizeof id, "c-%04d", i);
        ok = zkd_snapshot_find(s, id) != NULL;
    }
    zkd_snapshot_unref(s);
    return ok;
}

static void test_select_while_churning(void)
{
    zkd_client *reader = tu_connect(zkh_connect_string(zk), 10000);
    zkd_client *writer = tu_connect(zkh_connect_string(zk), 10000);
    shared s = {0};
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(reader, "churn", NULL, NULL, &s.k, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(zkd_cache_wait_ready(s.k, 15000, NULL), 0);
    zkd_balancer_options o;
    zkd_balancer_options_init(&o);
    o.strategy = ZKD_PICK_WEIGHTED;
    CU_ASSERT_EQUAL_FATAL(zkd_balancer_new(s.k, &o, &s.b, NULL), 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, selector, &s);

    /* 1,000 registrations, each removed again 20 later: the set moves all
     * the time, between 0 and 20 instances. */
    enum { N = 1000, LIVE = 20 };
    zkd_registration *regs[N] = {0};
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "c-%04d", i);
        zkd_instance_spec spec;
        zkd_instance_spec_init(&spec);
        spec.service = "churn";
        spec.id = id;
        spec.address = "10.0.0.1";
        spec.port = 10000 + i;
        spec.weight = 1 + i % 7;
        CU_ASSERT_EQUAL_FATAL(zkd_register(writer, &spec, &regs[i], NULL), 0);
        if (i >= LIVE) {
            CU_ASSERT_EQUAL(zkd_registration_close(regs[i - LIVE], NULL), 0);
            regs[i - LIVE] = NULL;
        }
    }
    holds want = {s.k, N - LIVE, N};
    CU_ASSERT_TRUE(tu_wait_until(holds_exactly, &want, 20000));
    __atomic_store_n(&s.stop, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CU_ASSERT_EQUAL(s.bad, 0);
    CU_ASSERT(s.picks > 0);
    fprintf(stderr, "  %ld picks, %ld empty\n", s.picks, s.empty);

    for (int i = N - LIVE; i < N; i++)
        zkd_registration_close(regs[i], NULL);
    want.from = want.to = 0;
    CU_ASSERT_TRUE(tu_wait_until(holds_exactly, &want, 20000));
    zkd_balancer_close(s.b);
    zkd_cache_close(s.k);
    zkd_close(writer);
    zkd_close(reader);
}

/* Closing a cache from its own listener, and closing the client with a
 * cache still open, are both clean. */
static void close_from_listener(zkd_cache *k, const zkd_delta *d, size_t n, void *ctx)
{
    (void)d;
    (void)n;
    zkd_cache_close(k);
    __atomic_store_n((int *)ctx, 1, __ATOMIC_SEQ_CST);
}

static void test_close_paths(void)
{
    zkd_client *reader = tu_connect(zkh_connect_string(zk), 10000);
    zkd_client *writer = tu_connect(zkh_connect_string(zk), 10000);
    int closed = 0;
    zkd_cache *k = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(reader, "closing", close_from_listener, &closed, &k, NULL), 0);
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.service = "closing";
    spec.address = "10.0.0.1";
    zkd_registration *r = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_register(writer, &spec, &r, NULL), 0);
    CU_ASSERT_TRUE(tu_wait_int(&closed, 1, 15000));
    zkd_cache *left_open = NULL;
    CU_ASSERT_EQUAL(zkd_cache_open(reader, "closing", NULL, NULL, &left_open, NULL), 0);
    CU_ASSERT_EQUAL(zkd_cache_wait_ready(left_open, 15000, NULL), 0);
    zkd_cache_close(left_open);
    zkd_registration_close(r, NULL);
    zkd_close(writer);
    zkd_close(reader);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"4 threads select while 1,000 registrations churn", test_select_while_churning},
        {"cache closed from its listener; client closed after", test_close_paths},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"concurrency", suite_init, suite_clean, NULL, NULL, tests},
                             CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
