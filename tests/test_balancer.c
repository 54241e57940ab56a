/* The balancer: distribution of every strategy, round-robin past INT_MAX,
 * weighted ratios, filters, drained instances, and the down-instance policy
 * on an injected clock. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <zkdisc/zkdisc.h>

#include "snapshot.h"
#include "testutil.h"

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
    zkd_balancer_free(b);
    zkd_snapshot_release(s);
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
    zkd_balancer_free(b);
    zkd_snapshot_release(s);
}

static void test_random_spread(void)
{
    zkd_snapshot *s = four_equal();
    zkd_balancer *b = balancer(ZKD_PICK_RANDOM, NULL, NULL);
    int counts[4];
    tally(b, s, 40000, counts, 4);
    for (int i = 0; i < 4; i++) /* 10000 expected; 5% is > 8 standard deviations */
        CU_ASSERT(counts[i] > 9500 && counts[i] < 10500);
    zkd_balancer_free(b);
    zkd_snapshot_release(s);
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
    zkd_balancer_free(b);
    zkd_snapshot_release(s);
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
    zkd_balancer_free(b);
    zkd_snapshot_release(s);
    zkd_snapshot_release(s2);
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
    zkd_balancer_free(b);
    const char *gold[] = {"tier=gold", NULL};
    b = balancer(ZKD_PICK_RANDOM, "eu-1", gold);
    tally(b, s, 100, counts, 4);
    CU_ASSERT_EQUAL(counts[0], 100);
    zkd_balancer_free(b);
    const char *none[] = {"tier=platinum", NULL};
    b = balancer(ZKD_PICK_ROUND_ROBIN, NULL, none);
    zkd_instance *got = NULL;
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_balancer_select_from(b, s, &got, &err), ZKD_ENOTFOUND);
    zkd_balancer_free(b);
    zkd_snapshot_release(s);
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
    zkd_balancer_free(b);
    zkd_snapshot_release(s);
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
    zkd_balancer_free(b);
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
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"balancer", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
