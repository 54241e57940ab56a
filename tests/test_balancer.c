/* SPDX-License-Identifier: Apache-2.0 */
/* The balancer: distribution of every strategy, round-robin past INT_MAX,
 * weighted ratios, filters, drained instances, the down-instance policy
 * on an injected clock, and the O(1) read path: 10,000 instances with 100
 * ids down, and two threads picking while views and the down table are
 * rebuilt under them. A second suite, on a real server from the harness,
 * checks that select() follows the cache's snapshot swaps. */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zkdisc/zkdisc.h>

#include "instance_impl.h"
#include "snapshot.h"
#include "testutil.h"
#include "zkh.h"

void zkd__balancer_set_counter(zkd_balancer *b, uint64_t value);
size_t zkd__balancer_tracked(zkd_balancer *b);

static zkd_instance *make(const char *id, int weight, const char *zone, const char *meta, int enabled)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"name\":\"svc\",\"id\":\"%s\",\"address\":\"10.0.0.1\",\"port\":80,"
             "\"payload\":{\"weight\":%d%s%s%s,\"metadata\":{%s}}%s}",
             id, weight, zone ? ",\"zone\":\"" : "", zone ? zone : "", zone ? "\"" : "",
             meta ? meta : "", enabled ? "" : ",\"enabled\":false");
    zkd_instance *i = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_instance_parse("svc", id, json, strlen(json), &i, NULL), 0);
    return i;
}

static zkd_snapshot *snap_of(zkd_instance **items, size_t n)
{
    zkd_snapshot *s = zkd__snapshot_new((const zkd_instance *const *)items, n, 0);
    for (size_t i = 0; i < n; i++)
        zkd_instance_unref(items[i]);
    return s;
}

static zkd_balancer *balancer(zkd_strategy st, const char *zone, const char *const *meta)
{
    zkd_balancer_options o;
    zkd_balancer_options_init(&o);
    o.strategy = st;
    o.zone = zone;
    o.meta = meta;
    o.seed = 12345;
    zkd_balancer *b = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_balancer_new(NULL, &o, &b, NULL), 0);
    return b;
}

/* Picks `rounds` times; counts[i] is how often instance "iN" came back. */
static void tally(zkd_balancer *b, zkd_snapshot *s, int rounds, int *counts, int n)
{
    memset(counts, 0, (size_t)n * sizeof *counts);
    for (int r = 0; r < rounds; r++) {
        zkd_instance *got = NULL;
        CU_ASSERT_EQUAL_FATAL(zkd_balancer_select_from(b, s, &got, NULL), 0);
        int idx = zkd_instance_id(got)[1] - '0';
        if (idx >= 0 && idx < n)
            counts[idx]++;
        zkd_instance_unref(got);
    }
}

static zkd_snapshot *four_equal(void)
{
    zkd_instance *items[4] = {make("i0", 100, NULL, NULL, 1), make("i1", 100, NULL, NULL, 1),
                              make("i2", 100, NULL, NULL, 1), make("i3", 100, NULL, NULL, 1)};
    return snap_of(items, 4);
}

static void test_round_robin_even(void)
{
    zkd_snapshot *s = four_equal();
    zkd_balancer *b = balancer(ZKD_PICK_ROUND_ROBIN, NULL, NULL);
    int counts[4];
    tally(b, s, 400, counts, 4);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(counts[i], 100);
    zkd_balancer_close(b);
    zkd_snapshot_unref(s);
}

static void test_round_robin_past_int_max(void)
{
    zkd_snapshot *s = four_equal();
    zkd_balancer *b = balancer(ZKD_PICK_ROUND_ROBIN, NULL, NULL);
    zkd__balancer_set_counter(b, (uint64_t)INT_MAX - 10);
    int counts[4];
    tally(b, s, 400, counts, 4); /* crosses 2^31 and keeps the cycle */
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(counts[i], 100);
    zkd__balancer_set_counter(b, UINT64_MAX - 10); /* and the 64-bit wrap */
    tally(b, s, 400, counts, 4);
    for (int i = 0; i < 4; i++)
        CU_ASSERT(counts[i] >= 99 && counts[i] <= 101);
    zkd_balancer_close(b);
    zkd_snapshot_unref(s);
}

static void test_random_spread(void)
{
    zkd_snapshot *s = four_equal();
    zkd_balancer *b = balancer(ZKD_PICK_RANDOM, NULL, NULL);
    int counts[4];
    tally(b, s, 40000, counts, 4);
    for (int i = 0; i < 4; i++) /* 10000 expected; 5% is > 8 standard deviations */
        CU_ASSERT(counts[i] > 9500 && counts[i] < 10500);
    zkd_balancer_close(b);
    zkd_snapshot_unref(s);
}

/* Weights 100:300:600 → 10%:30%:60%, within ±2 percentage points over 50,000
 * picks (the standard deviation is about 0.2 points). */
static void test_weighted_ratios(void)
{
    zkd_instance *items[4] = {make("i0", 100, NULL, NULL, 1), make("i1", 300, NULL, NULL, 1),
                              make("i2", 600, NULL, NULL, 1), make("i3", 0, NULL, NULL, 1)};
    zkd_snapshot *s = snap_of(items, 4);
    zkd_balancer *b = balancer(ZKD_PICK_WEIGHTED, NULL, NULL);
    int counts[4];
    tally(b, s, 50000, counts, 4);
    CU_ASSERT(counts[0] > 4000 && counts[0] < 6000);
    CU_ASSERT(counts[1] > 14000 && counts[1] < 16000);
    CU_ASSERT(counts[2] > 29000 && counts[2] < 31000);
    CU_ASSERT_EQUAL(counts[3], 0); /* weight 0 is never picked */
    zkd_balancer_close(b);
    zkd_snapshot_unref(s);
}

static void test_sticky_until_it_leaves(void)
{
    zkd_snapshot *s = four_equal();
    zkd_balancer *b = balancer(ZKD_PICK_STICKY, NULL, NULL);
    zkd_instance *first = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_balancer_select_from(b, s, &first, NULL), 0);
    int counts[4];
    tally(b, s, 100, counts, 4);
    int idx = zkd_instance_id(first)[1] - '0';
    CU_ASSERT_EQUAL(counts[idx], 100);
    /* The chosen one leaves: a new one is chosen and kept. */
    zkd_instance *rest[3];
    size_t n = 0;
    for (size_t i = 0; i < 4; i++)
        if ((int)i != idx)
            rest[n++] = zkd_instance_ref(zkd_snapshot_at(s, i));
    zkd_snapshot *s2 = snap_of(rest, n);
    tally(b, s2, 50, counts, 4);
    CU_ASSERT_EQUAL(counts[idx], 0);
    int holders = 0;
    for (int i = 0; i < 4; i++)
        holders += counts[i] == 50;
    CU_ASSERT_EQUAL(holders, 1);
    zkd_instance_unref(first);
    zkd_balancer_close(b);
    zkd_snapshot_unref(s);
    zkd_snapshot_unref(s2);
}

static void test_filters_and_drained(void)
{
    zkd_instance *items[4] = {make("i0", 100, "eu-1", "\"tier\":\"gold\"", 1),
                              make("i1", 100, "eu-1", "\"tier\":\"silver\"", 1),
                              make("i2", 100, "us-1", "\"tier\":\"gold\"", 1),
                              make("i3", 100, "eu-1", "\"tier\":\"gold\"", 0)};
    zkd_snapshot *s = snap_of(items, 4);
    int counts[4];
    zkd_balancer *b = balancer(ZKD_PICK_ROUND_ROBIN, "eu-1", NULL);
    tally(b, s, 100, counts, 4);
    CU_ASSERT_EQUAL(counts[0], 50);
    CU_ASSERT_EQUAL(counts[1], 50);
    CU_ASSERT_EQUAL(counts[2] + counts[3], 0); /* other zone; drained */
    zkd_balancer_close(b);
    const char *gold[] = {"tier=gold", NULL};
    b = balancer(ZKD_PICK_RANDOM, "eu-1", gold);
    tally(b, s, 100, counts, 4);
    CU_ASSERT_EQUAL(counts[0], 100);
    zkd_balancer_close(b);
    const char *none[] = {"tier=platinum", NULL};
    b = balancer(ZKD_PICK_ROUND_ROBIN, NULL, none);
    zkd_instance *got = NULL;
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_balancer_select_from(b, s, &got, &err), ZKD_ENOTFOUND);
    zkd_balancer_close(b);
    zkd_snapshot_unref(s);
}

static int64_t fake_now;
static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static void test_down_policy(void)
{
    zkd_snapshot *s = four_equal();
    zkd_balancer_options o;
    zkd_balancer_options_init(&o);
    o.error_threshold = 3;
    o.error_window_ms = 1000;
    o.down_ms = 5000;
    o.clock = fake_clock;
    zkd_balancer *b = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_balancer_new(NULL, &o, &b, NULL), 0);
    fake_now = 100000;

    /* Three errors spread wider than the window: not down. */
    zkd_balancer_report_error(b, "i1");
    fake_now += 600;
    zkd_balancer_report_error(b, "i1");
    fake_now += 600;
    zkd_balancer_report_error(b, "i1");
    CU_ASSERT_FALSE(zkd_balancer_is_down(b, "i1"));
    /* A success breaks the run. */
    zkd_balancer_report_success(b, "i1");
    zkd_balancer_report_error(b, "i1");
    zkd_balancer_report_error(b, "i1");
    CU_ASSERT_FALSE(zkd_balancer_is_down(b, "i1"));
    /* The third error within the window: down for down_ms. */
    fake_now += 10;
    zkd_balancer_report_error(b, "i1");
    CU_ASSERT_TRUE(zkd_balancer_is_down(b, "i1"));
    int counts[4];
    tally(b, s, 300, counts, 4);
    CU_ASSERT_EQUAL(counts[1], 0);
    CU_ASSERT_EQUAL(counts[0] + counts[2] + counts[3], 300);
    fake_now += 4999;
    CU_ASSERT_TRUE(zkd_balancer_is_down(b, "i1"));
    fake_now += 2;
    CU_ASSERT_FALSE(zkd_balancer_is_down(b, "i1"));
    tally(b, s, 400, counts, 4);
    CU_ASSERT_EQUAL(counts[1], 100);

    /* Every instance down: fall back to all of them. */
    for (int i = 0; i < 4; i++) {
        char id[4] = {'i', (char)('0' + i), 0};
        for (int k = 0; k < 3; k++)
            zkd_balancer_report_error(b, id);
        CU_ASSERT_TRUE(zkd_balancer_is_down(b, id));
    }
    tally(b, s, 400, counts, 4);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(counts[i], 100);
    zkd_balancer_close(b);
    zkd_snapshot_unref(s);
}

/* Ids that failed long ago are forgotten: the table holds only ids with a
 * recent error or an active down mark, however many ids come and go. */
static void test_down_table_is_bounded(void)
{
    zkd_balancer_options o;
    zkd_balancer_options_init(&o);
    o.error_threshold = 2;
    o.error_window_ms = 1000;
    o.down_ms = 5000;
    o.clock = fake_clock;
    zkd_balancer *b = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_balancer_new(NULL, &o, &b, NULL), 0);
    fake_now = 500000;
    zkd_balancer_report_error(b, "keep");
    zkd_balancer_report_error(b, "keep"); /* down until +5 s */
    for (int i = 0; i < 10000; i++) {
        char id[32];
        snprintf(id, sizeof id, "gone-%d", i);
        zkd_balancer_report_error(b, id); /* one error each: never down */
        fake_now += 2;
    }
    /* 20 s later every one-off error is out of its window. */
    CU_ASSERT(zkd__balancer_tracked(b) < 1100); /* only ~the last window's worth */
    CU_ASSERT_TRUE(zkd_balancer_is_down(b, "keep") == 0); /* its 5 s are over too */
    fake_now += 100000;
    for (int i = 0; i < 100; i++) {
        char id[32];
        snprintf(id, sizeof id, "late-%d", i);
        zkd_balancer_report_error(b, id);
    }
    CU_ASSERT(zkd__balancer_tracked(b) <= 128);
    zkd_balancer_close(b);
}


/* ---- the O(1) read path ---------------------------------------------------- */

/* Instances "n00000".."n<count-1>", weight 100 each. */
static zkd_snapshot *numbered(int count, int weight_step)
{
    zkd_instance **items = calloc((size_t)count, sizeof *items);
    for (int i = 0; i < count; i++) {
        char id[16];
        snprintf(id, sizeof id, "n%05d", i);
        items[i] = make(id, weight_step ? weight_step * (i % 10 + 1) : 100, NULL, NULL, 1);
    }
    zkd_snapshot *s = snap_of(items, (size_t)count);
    free(items);
    return s;
}

/* Ten weights 10:20:...:100 over 220,000 picks: each share within 7% of
 * its weight's (4.5 standard deviations for the lightest). Then the two
 * marked down get nothing and the rest keep their proportions. */
static void test_weights_honoured_with_down(void)
{
    zkd_snapshot *s = numbered(10, 10);
    zkd_balancer_options o;
    zkd_balancer_options_init(&o);
    o.strategy = ZKD_PICK_WEIGHTED;
    o.seed = 99;
    o.clock = fake_clock;
    fake_now = 1000;
    zkd_balancer *b = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_balancer_new(NULL, &o, &b, NULL), 0);
    for (int round = 0; round < 2; round++) {
        int counts[10] = {0}, total_weight = 0;
        for (int i = 0; i < 10; i++)
            total_weight += round && (i == 4 || i == 9) ? 0 : 10 * (i + 1);
        for (int r = 0; r < 220000; r++) {
            zkd_instance *got = NULL;
            CU_ASSERT_EQUAL_FATAL(zkd_balancer_select_from(b, s, &got, NULL), 0);
            counts[atoi(zkd_instance_id(got) + 1)]++;
            zkd_instance_unref(got);
        }
        for (int i = 0; i < 10; i++) {
            if (round && (i == 4 || i == 9)) {
                CU_ASSERT_EQUAL(counts[i], 0);
                continue;
            }
            double expected = 220000.0 * 10 * (i + 1) / total_weight;
            CU_ASSERT(counts[i] > expected * 0.93 && counts[i] < expected * 1.07);
        }
        for (int k = 0; k < 3; k++) { /* down for the second round */
            zkd_balancer_report_error(b, "n00004");
            zkd_balancer_report_error(b, "n00009");
        }
    }
    zkd_balancer_close(b);
    zkd_snapshot_unref(s);
}

/* 10,000 instances, every 100th marked down (100 ids in the table): no
 * strategy ever returns a down one, round-robin's load does not pile onto
 * the neighbours of the down ones. (How fast a pick is lives in
 * zkdisc-bench, not in a timed test.) */
static void test_down_skipped_at_scale(void)
{
    zkd_snapshot *s = numbered(10000, 0);
    fake_now = 5000;
    for (zkd_strategy st = ZKD_PICK_ROUND_ROBIN; st <= ZKD_PICK_STICKY; st++) {
        zkd_balancer_options o;
        zkd_balancer_options_init(&o);
        o.strategy = st;
        o.seed = 7;
        o.clock = fake_clock;
        zkd_balancer *b = NULL;
        CU_ASSERT_EQUAL_FATAL(zkd_balancer_new(NULL, &o, &b, NULL), 0);
        for (int d = 0; d < 10000; d += 100) {
            char id[16];
            snprintf(id, sizeof id, "n%05d", d);
            for (int k = 0; k < 3; k++)
                zkd_balancer_report_error(b, id);
        }
        CU_ASSERT_EQUAL(zkd__balancer_tracked(b), 100);
        static int counts[10000];
        memset(counts, 0, sizeof counts);
        int picks = 0, downs = 0;
        for (; picks < 10000; picks++) {
            zkd_instance *got = NULL;
            CU_ASSERT_EQUAL_FATAL(zkd_balancer_select_from(b, s, &got, NULL), 0);
            int idx = atoi(zkd_instance_id(got) + 1);
            counts[idx]++;
            downs += idx % 100 == 0;
            zkd_instance_unref(got);
        }
        CU_ASSERT_EQUAL(picks, 10000);
        CU_ASSERT_EQUAL(downs, 0);
        if (st == ZKD_PICK_ROUND_ROBIN) {
            int most = 0;
            for (int i = 0; i < 10000; i++)
                most = counts[i] > most ? counts[i] : most;
            CU_ASSERT(most <= 3); /* 1 each, plus 100 re-drawn picks spread at random */
        }
        zkd_balancer_close(b);
    }
    zkd_snapshot_unref(s);
}

/* The table grows and shrinks under lookups: 5,000 ids down at once are
 * all found; once their marks pass, a sweep forgets them. */
static void test_down_table_grows_and_sweeps(void)
{
    zkd_balancer_options o;
    zkd_balancer_options_init(&o);
    o.error_threshold = 1;
    o.error_window_ms = 1000;
    o.down_ms = 2000;
    o.clock = fake_clock;
    zkd_balancer *b = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_balancer_new(NULL, &o, &b, NULL), 0);
    fake_now = 900000;
    char id[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "many-%d", i);
        zkd_balancer_report_error(b, id);
    }
    CU_ASSERT_EQUAL(zkd__balancer_tracked(b), 5000);
    int found = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "many-%d", i);
        found += zkd_balancer_is_down(b, id);
    }
    CU_ASSERT_EQUAL(found, 5000);
    CU_ASSERT_FALSE(zkd_balancer_is_down(b, "many-5000"));
    fake_now += 3000;
    zkd_balancer_report_error(b, "fresh");
    CU_ASSERT_EQUAL(zkd__balancer_tracked(b), 1);
    CU_ASSERT_TRUE(zkd_balancer_is_down(b, "fresh"));
    zkd_balancer_close(b);
}

/* The balancer keeps only the snapshot it picks from: once it has moved to
 * another, the one it left is released before select_from returns. */
static void test_old_snapshot_let_go(void)
{
    zkd_instance *only_old = make("i0", 100, NULL, NULL, 1);
    zkd_instance *both = make("i1", 100, NULL, NULL, 1);
    zkd_instance *olds[2] = {zkd_instance_ref(only_old), zkd_instance_ref(both)};
    zkd_instance *news[1] = {zkd_instance_ref(both)};
    zkd_snapshot *s1 = snap_of(olds, 2), *s2 = snap_of(news, 1);
    zkd_balancer *b = balancer(ZKD_PICK_ROUND_ROBIN, NULL, NULL);
    zkd_instance *got = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_balancer_select_from(b, s1, &got, NULL), 0);
    zkd_instance_unref(got);
    zkd_snapshot_unref(s1); /* now the balancer's view holds it */
    CU_ASSERT_EQUAL(atomic_load(&only_old->refs), 2);
    CU_ASSERT_EQUAL_FATAL(zkd_balancer_select_from(b, s2, &got, NULL), 0);
    zkd_instance_unref(got);
    CU_ASSERT_EQUAL(atomic_load(&only_old->refs), 1); /* ours alone: s1 is gone */
    zkd_balancer_close(b);
    zkd_snapshot_unref(s2);
    zkd_instance_unref(only_old);
    zkd_instance_unref(both);
}

/* ---- two threads --------------------------------------------------------- */

static _Atomic int64_t shared_now;
static int64_t shared_clock(void *ctx)
{
    (void)ctx;
    return atomic_load(&shared_now);
}

typedef struct race {
    zkd_balancer *b;
    zkd_snapshot *snaps[2]; /* the second lacks every 7th instance */
    int which;              /* the thread's first snapshot */
    _Atomic int stop;
    long picks, wrong;
} race;

/* Picks, switching snapshots every 500 picks so views are rebuilt and
 * retired under the other thread; every pick must come from the snapshot
 * asked for and never be one of the ids held down. */
static void *racer(void *arg)
{
    race *r = arg;
    for (long k = 0; k < 20000; k++) {
        const zkd_snapshot *s = r->snaps[(k / 500 + r->which) % 2];
        zkd_instance *got = NULL;
        if (zkd_balancer_select_from(r->b, s, &got, NULL) != 0) {
            r->wrong++;
            continue;
        }
        const char *id = zkd_instance_id(got);
        if (zkd_snapshot_find(s, id) != got || atoi(id + 1) % 10 == 3)
            r->wrong++;
        zkd_instance_unref(got);
        r->picks++;
    }
    return NULL;
}

/* Meanwhile ids come and go in the down table, forcing sweeps and grows. */
static void *churner(void *arg)
{
    race *r = arg;
    for (int i = 0; !atomic_load(&r->stop); i++) {
        char id[32];
        snprintf(id, sizeof id, "gone-%d", i);
        zkd_balancer_report_error(r->b, id);
        zkd_balancer_report_success(r->b, "n00003");
        if (i % 64 == 0)
            atomic_fetch_add(&shared_now, 10);
    }
    return NULL;
}

static void test_two_threads(void)
{
    zkd_instance *all[300], *some[300];
    size_t nsome = 0;
    for (int i = 0; i < 300; i++) {
        char id[16];
        snprintf(id, sizeof id, "n%05d", i);
        all[i] = make(id, 10 * (i % 5), NULL, NULL, 1);
        if (i % 7)
            some[nsome++] = zkd_instance_ref(all[i]);
    }
    zkd_snapshot *a = snap_of(all, 300), *s2 = snap_of(some, nsome);
    for (zkd_strategy st = ZKD_PICK_ROUND_ROBIN; st <= ZKD_PICK_STICKY; st++) {
        zkd_balancer_options o;
        zkd_balancer_options_init(&o);
        o.strategy = st;
        o.error_threshold = 3;
        o.error_window_ms = 100;
        o.down_ms = INT_MAX; /* the churner moves the clock */
        o.clock = shared_clock;
        atomic_store(&shared_now, 1000);
        race r1 = {.snaps = {a, s2}, .which = 0}, r2 = {.snaps = {a, s2}, .which = 1};
        CU_ASSERT_EQUAL_FATAL(zkd_balancer_new(NULL, &o, &r1.b, NULL), 0);
        r2.b = r1.b;
        for (int i = 3; i < 300; i += 10) { /* ids ending in 3: down for the whole test */
            char id[16];
            snprintf(id, sizeof id, "n%05d", i);
            for (int k = 0; k < 3; k++)
                zkd_balancer_report_error(r1.b, id);
        }
        pthread_t t1, t2, tc;
        pthread_create(&tc, NULL, churner, &r1);
        pthread_create(&t1, NULL, racer, &r1);
        pthread_create(&t2, NULL, racer, &r2);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
        atomic_store(&r1.stop, 1);
        pthread_join(tc, NULL);
        CU_ASSERT_EQUAL(r1.picks + r2.picks, 40000);
        CU_ASSERT_EQUAL(r1.wrong + r2.wrong, 0);
        CU_ASSERT(zkd__balancer_tracked(r1.b) < 2000); /* swept as it went */
        zkd_balancer_close(r1.b);
    }
    zkd_snapshot_unref(a);
    zkd_snapshot_unref(s2);
}

/* ---- over a live cache ------------------------------------------------------ */

static zkh *zk;

static int cache_suite_init(void)
{
    zk = zkh_start(1);
    return zk ? 0 : 1;
}

static int cache_suite_clean(void)
{
    zkh_stop(zk);
    return 0;
}

typedef struct cache_state {
    zkd_cache *k;
    const char *gone;    /* must not be in the snapshot */
    const char *drained; /* must be in it, drained */
} cache_state;

static int cache_shows(void *arg)
{
    cache_state *st = arg;
    zkd_snapshot *s = zkd_cache_snapshot(st->k);
    const zkd_instance *d = st->drained ? zkd_snapshot_find(s, st->drained) : NULL;
    int ok = (!st->gone || !zkd_snapshot_find(s, st->gone)) && (!st->drained || (d && !zkd_instance_enabled(d)));
    zkd_snapshot_unref(s);
    return ok;
}

/* Picks `rounds` times from the cache; returns how many distinct ids came
 * back and whether `never` was among them. */
static int picks_include(zkd_balancer *b, int rounds, const char *never, char *last, size_t lastlen)
{
    int seen_never = 0;
    for (int r = 0; r < rounds; r++) {
        zkd_instance *got = NULL;
        CU_ASSERT_EQUAL_FATAL(zkd_balancer_select(b, &got, NULL), 0);
        seen_never |= never && !strcmp(zkd_instance_id(got), never);
        snprintf(last, lastlen, "%s", zkd_instance_id(got));
        zkd_instance_unref(got);
    }
    return seen_never;
}

/* select() follows the cache: once the cache's snapshot lacks a removed
 * instance or shows a drained one, no pick returns it (the view is rebuilt
 * on the cache's swap, not on a timer), and a sticky choice that is still
 * there survives the rebuilds. */
static void test_select_follows_the_cache(void)
{
    zkd_client *writer = tu_connect(zkh_connect_string(zk), 10000);
    zkd_client *reader = tu_connect(zkh_connect_string(zk), 10000);
    const char *ids[4] = {"a0", "a1", "a2", "a3"};
    zkd_registration *regs[4];
    for (int i = 0; i < 4; i++) {
        zkd_instance_spec spec;
        zkd_instance_spec_init(&spec);
        spec.service = "bal";
        spec.id = ids[i];
        spec.address = "10.0.0.1";
        spec.port = 8000 + i;
        CU_ASSERT_EQUAL_FATAL(zkd_register(writer, &spec, &regs[i], NULL), 0);
    }
    cache_state st = {0};
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(reader, "bal", NULL, NULL, &st.k, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(zkd_cache_wait_ready(st.k, 15000, NULL), 0);
    zkd_balancer_options o;
    zkd_balancer_options_init(&o);
    zkd_balancer *rr = NULL, *sticky = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_balancer_new(st.k, &o, &rr, NULL), 0);
    o.strategy = ZKD_PICK_STICKY;
    CU_ASSERT_EQUAL_FATAL(zkd_balancer_new(st.k, &o, &sticky, NULL), 0);

    char kept[16], last[16];
    picks_include(sticky, 1, NULL, kept, sizeof kept);
    /* Remove one that is not the sticky choice, then drain another. */
    int gone = !strcmp(kept, "a1") ? 2 : 1, drained = !strcmp(kept, "a3") ? 0 : 3;
    if (drained == gone)
        drained = 0;
    CU_ASSERT_EQUAL(picks_include(rr, 40, ids[gone], last, sizeof last), 1); /* present before */
    CU_ASSERT_EQUAL_FATAL(zkd_registration_close(regs[gone], NULL), 0);
    regs[gone] = NULL;
    st.gone = ids[gone];
    CU_ASSERT_TRUE_FATAL(tu_wait_until(cache_shows, &st, 15000));
    CU_ASSERT_EQUAL(picks_include(rr, 300, ids[gone], last, sizeof last), 0);
    CU_ASSERT_EQUAL(picks_include(sticky, 50, ids[gone], last, sizeof last), 0);
    CU_ASSERT_STRING_EQUAL(last, kept);

    CU_ASSERT_EQUAL_FATAL(zkd_instance_set_enabled(writer, "bal", ids[drained], 0, NULL), 0);
    st.drained = ids[drained];
    CU_ASSERT_TRUE_FATAL(tu_wait_until(cache_shows, &st, 15000));
    CU_ASSERT_EQUAL(picks_include(rr, 300, ids[drained], last, sizeof last), 0);
    CU_ASSERT_EQUAL(picks_include(sticky, 50, ids[drained], last, sizeof last), 0);
    CU_ASSERT_STRING_EQUAL(last, kept);

    zkd_balancer_close(rr);
    zkd_balancer_close(sticky);
    zkd_cache_close(st.k);
    for (int i = 0; i < 4; i++)
        if (regs[i])
            zkd_registration_close(regs[i], NULL);
    zkd_close(reader);
    zkd_close(writer);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"round-robin is even", test_round_robin_even},
        {"round-robin past INT_MAX and 2^64", test_round_robin_past_int_max},
        {"random spreads evenly", test_random_spread},
        {"weighted follows the weights", test_weighted_ratios},
        {"sticky keeps its instance until it leaves", test_sticky_until_it_leaves},
        {"zone and metadata filters; drained skipped", test_filters_and_drained},
        {"down-instance policy on an injected clock", test_down_policy},
        {"the down-instance table stays bounded", test_down_table_is_bounded},
        {"weights honoured, also with instances down", test_weights_honoured_with_down},
        {"10,000 instances, 100 down: skipped, O(1)", test_down_skipped_at_scale},
        {"the down table grows under lookups and sweeps", test_down_table_grows_and_sweeps},
        {"the snapshot left behind is released at once", test_old_snapshot_let_go},
        {"two threads pick while views and the table change", test_two_threads},
        CU_TEST_INFO_NULL,
    };
    CU_TestInfo cache_tests[] = {
        {"select follows the cache's removals and drains", test_select_follows_the_cache},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"balancer", NULL, NULL, NULL, NULL, tests},
                             {"balancer over a cache", cache_suite_init, cache_suite_clean, NULL, NULL,
                              cache_tests},
                             CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
