/* SPDX-License-Identifier: Apache-2.0 */
/* Watching configuration against a real ZooKeeper server: versions in
 * strictly increasing order across a forced session expiry and a server
 * restart, a burst of publishes, the count of skipped versions, the snapshot
 * file served while ZooKeeper is down, deletion, closing from inside the
 * callback, and closing after the client (nothing of the client touched
 * after its memory is gone; run under ASan). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config_impl.h"
#include "session.h"
#include "snapshot_store.h"
#include "testutil.h"
#include "zkh.h"

ZKH_SUITE(1) /* zk: the suite's server(s); suite_init, suite_clean */

/* ---- a recording listener ------------------------------------------------------- */

#define MAX_SEEN 512

typedef struct recorder {
    pthread_mutex_t mu;
    int n;
    int64_t version[MAX_SEEN]; /* 0: the app was deleted */
    uint64_t skipped[MAX_SEEN];
    int stale[MAX_SEEN];
    int on_dispatch[MAX_SEEN];
    zkd_client *c;
    /* gap test: block inside the first delivery until released */
    volatile int block_first, blocked, release;
    /* close-from-callback test: close the watch on this version */
    int64_t close_on;
} recorder;

static void recorder_init(recorder *r, zkd_client *c)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->c = c;
}

static void record(zkd_config_watch *w, const zkd_config_version *v, uint64_t skipped, void *ctx)
{
    recorder *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (r->n < MAX_SEEN) {
        r->version[r->n] = v ? zkd_config_version_number(v) : 0;
        r->skipped[r->n] = skipped;
        r->stale[r->n] = v ? zkd_config_version_stale(v) : 0;
        r->on_dispatch[r->n] = zkd__on_dispatch_thread(r->c);
        r->n++;
    }
    pthread_mutex_unlock(&r->mu);
    if (r->block_first && __atomic_load_n(&r->blocked, __ATOMIC_SEQ_CST) == 0) {
        __atomic_store_n(&r->blocked, 1, __ATOMIC_SEQ_CST);
        tu_wait_int(&r->release, 1, 30000);
    }
    if (v && r->close_on && zkd_config_version_number(v) == r->close_on)
        zkd_config_watch_close(w);
}

static int recorded(recorder *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static int last_recorded_is(void *arg)
{
    void **a = arg;
    recorder *r = a[0];
    pthread_mutex_lock(&r->mu);
    int ok = r->n > 0 && r->version[r->n - 1] == *(int64_t *)a[1];
    pthread_mutex_unlock(&r->mu);
    return ok;
}

/* The listener has been told of `version` (the watch serves a version just
 * before it calls the listener). */
static void wait_recorded(recorder *r, int64_t version)
{
    void *args[2] = {r, &version};
    CU_ASSERT_TRUE_FATAL(tu_wait_until(last_recorded_is, args, 15000));
}

/* Strictly increasing, skipped counts consistent, all on the dispatch
 * thread; returns the last version. */
static int64_t check_order(recorder *r)
{
    pthread_mutex_lock(&r->mu);
    int64_t prev = 0;
    for (int i = 0; i < r->n; i++) {
        CU_ASSERT_TRUE(r->on_dispatch[i]);
        if (r->version[i] <= prev)
            fprintf(stderr, "delivery %d: version %lld after %lld\n", i,
                    (long long)r->version[i], (long long)prev);
        CU_ASSERT(r->version[i] > prev);
        if (i > 0)
            CU_ASSERT_EQUAL(r->skipped[i], (uint64_t)(r->version[i] - prev - 1));
        prev = r->version[i];
    }
    pthread_mutex_unlock(&r->mu);
    return prev;
}

static zkd_client *connect_with(int session_ms, const char *snapdir, int background)
{
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zkh_connect_string(zk);
    o.session_timeout_ms = session_ms;
    o.connect_timeout_ms = 15000;
    o.request_timeout_ms = 20000;
    o.snapshot_dir = snapdir;
    o.connect_in_background = background;
    zkd_client *c = NULL;
    zkd_error err;
    int rc = zkd_connect(&o, &c, &err);
    if (rc)
        fprintf(stderr, "connect: %s\n", err.message);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return c;
}

static int64_t publish(zkd_client *c, const char *app, int n)
{
    char doc[64];
    snprintf(doc, sizeof doc, "{\"n\":%d,\"db\":{\"pool\":%d}}", n, n * 10);
    int64_t v = 0;
    zkd_error err;
    int rc = zkd_config_publish(c, app, doc, strlen(doc), NULL, &v, &err);
    if (rc)
        fprintf(stderr, "publish %s: %s\n", app, err.message);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return v;
}

static void wait_version(zkd_config_watch *w, int64_t v, int timeout_ms)
{
    zkd_error err;
    int rc = zkd_config_watch_wait(w, v, timeout_ms, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
}

/* ---- order across expiry and restart ---------------------------------------------- */

static int is_stale(void *arg) { return zkd_config_watch_stale(arg); }
static int seen_expired(void *arg) { return tu_events_get(arg, ZKD_SESSION_EXPIRED) > 0; }
static int seen_reestablished(void *arg)
{
    return tu_events_get(arg, ZKD_SESSION_REESTABLISHED) > 0;
}

static void test_expiry_and_restart(void)
{
    zkd_client *pub = connect_with(30000, NULL, 0);
    /* A short session timeout: the client pings often, so it learns of the
     * forced expiry quickly. A restart that outlasts it is an expiry rather
     * than a reconnect; the order must hold either way. */
    zkd_client *c = connect_with(6000, NULL, 0);
    tu_events ev;
    tu_events_subscribe(c, &ev);
    recorder r;
    recorder_init(&r, c);
    zkd_config_watch *w;
    CU_ASSERT_EQUAL_FATAL(zkd_config_watch_open(c, "watched", record, &r, &w, NULL), 0);
    for (int i = 1; i <= 3; i++)
        publish(pub, "watched", i);
    wait_version(w, 3, 15000);

    /* A forced expiry, with publishes racing the new session. The trick can
     * miss on a loaded machine (our client reconnects before the borrowed
     * handle closes the session): then it is tried again. */
    int expired = 0;
    for (int attempt = 0; attempt < 3 && !expired; attempt++) {
        CU_ASSERT_EQUAL_FATAL(tu_force_expiry(c, zkh_connect_string(zk), 15000), 0);
        if (attempt == 0) {
            publish(pub, "watched", 4);
            publish(pub, "watched", 5);
        }
        expired = tu_wait_until(seen_expired, &ev, 15000);
    }
    CU_ASSERT_TRUE_FATAL(expired);
    CU_ASSERT_TRUE(tu_wait_until(seen_reestablished, &ev, 60000));
    publish(pub, "watched", 6);
    wait_version(w, 6, 15000);

    /* A server restart (a reconnect, or an expiry when it takes long). */
    CU_ASSERT_EQUAL_FATAL(zkh_stop_server(zk, 0), 0);
    CU_ASSERT_TRUE(tu_wait_until(is_stale, w, 15000));
    CU_ASSERT_EQUAL_FATAL(zkh_restart_server(zk, 0), 0);
    publish(pub, "watched", 7);
    wait_version(w, 7, 60000);
    CU_ASSERT_FALSE(zkd_config_watch_stale(w));
    wait_recorded(&r, 7);
    CU_ASSERT_EQUAL(check_order(&r), 7);

    zkd_config_version *cur = zkd_config_watch_current(w);
    int64_t pool = 0;
    CU_ASSERT_EQUAL(zkd_config_int(cur, "db.pool", &pool, NULL), 0);
    CU_ASSERT_EQUAL(pool, 70);
    zkd_config_version_unref(cur);
    zkd_config_watch_close(w);
    zkd_close(c);
    zkd_close(pub);
}

/* ---- a burst ------------------------------------------------------------------------ */

static void test_rapid_publishes(void)
{
    zkd_client *pub = connect_with(30000, NULL, 0);
    zkd_client *c = connect_with(30000, NULL, 0);
    recorder r;
    recorder_init(&r, c);
    zkd_config_watch *w;
    CU_ASSERT_EQUAL_FATAL(zkd_config_watch_open(c, "burst", record, &r, &w, NULL), 0);
    for (int i = 1; i <= 100; i++)
        publish(pub, "burst", i);
    wait_version(w, 100, 30000);
    wait_recorded(&r, 100);
    CU_ASSERT_EQUAL(check_order(&r), 100);
    printf("(%d deliveries for 100 versions) ", recorded(&r));
    zkd_config_watch_close(w);
    zkd_close(c);
    zkd_close(pub);
}

/* ---- a gap: the callback is busy while five versions are published ----------------- */

static void test_gap_counts_skipped(void)
{
    zkd_client *pub = connect_with(30000, NULL, 0);
    zkd_client *c = connect_with(30000, NULL, 0);
    recorder r;
    recorder_init(&r, c);
    r.block_first = 1;
    publish(pub, "gappy", 1);
    zkd_config_watch *w;
    CU_ASSERT_EQUAL_FATAL(zkd_config_watch_open(c, "gappy", record, &r, &w, NULL), 0);
    CU_ASSERT_TRUE_FATAL(tu_wait_int(&r.blocked, 1, 15000));
    for (int i = 2; i <= 6; i++)
        publish(pub, "gappy", i);
    __atomic_store_n(&r.release, 1, __ATOMIC_SEQ_CST);
    wait_version(w, 6, 15000);
    wait_recorded(&r, 6);
    CU_ASSERT_EQUAL(check_order(&r), 6);
    CU_ASSERT_EQUAL(recorded(&r), 2);
    CU_ASSERT_EQUAL(r.version[1], 6);
    CU_ASSERT_EQUAL(r.skipped[1], 4);
    zkd_config_watch_close(w);
    zkd_close(c);
    zkd_close(pub);
}

/* ---- the snapshot file ------------------------------------------------------------------ */

static int delivered_at_least(void *arg)
{
    void **a = arg;
    return recorded(a[0]) >= *(int *)a[1];
}

static void test_snapshot_fallback(void)
{
    char snapdir[] = "/tmp/zkdisc-config-snap.XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(snapdir));
    zkd_client *pub = connect_with(30000, NULL, 0);

    /* A first process watches and leaves its snapshot behind. */
    zkd_client *a = connect_with(30000, snapdir, 0);
    zkd_config_watch *w;
    CU_ASSERT_EQUAL_FATAL(zkd_config_watch_open(a, "snapped", NULL, NULL, &w, NULL), 0);
    publish(pub, "snapped", 1);
    publish(pub, "snapped", 2);
    wait_version(w, 2, 15000);
    zkd_config_watch_close(w);
    zkd_close(a);

    /* Two more versions while nobody watches; then ZooKeeper goes away. */
    publish(pub, "snapped", 3);
    publish(pub, "snapped", 4);
    CU_ASSERT_EQUAL_FATAL(zkh_stop_server(zk, 0), 0);

    /* A process started now serves the snapshot, flagged stale. */
    zkd_client *c = connect_with(30000, snapdir, 1);
    CU_ASSERT_NOT_EQUAL(zkd_client_state(c), ZKD_STATE_CONNECTED);
    recorder r;
    recorder_init(&r, c);
    CU_ASSERT_EQUAL_FATAL(zkd_config_watch_open(c, "snapped", record, &r, &w, NULL), 0);
    zkd_config_version *cur = zkd_config_watch_current(w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cur);
    CU_ASSERT_EQUAL(zkd_config_version_number(cur), 2);
    CU_ASSERT_TRUE(zkd_config_version_stale(cur));
    int64_t n = 0;
    CU_ASSERT_EQUAL(zkd_config_int(cur, "n", &n, NULL), 0);
    CU_ASSERT_EQUAL(n, 2);
    zkd_config_version_unref(cur);
    CU_ASSERT_TRUE(zkd_config_watch_stale(w));
    int one = 1;
    void *args[2] = {&r, &one};
    CU_ASSERT_TRUE(tu_wait_until(delivered_at_least, args, 10000));
    CU_ASSERT_EQUAL(r.version[0], 2);
    CU_ASSERT_TRUE(r.stale[0]);
    CU_ASSERT_EQUAL(zkd_config_watch_wait(w, 1, 200, NULL), ZKD_ETIMEDOUT); /* still stale */

    /* ZooKeeper is back: it catches up, says what it skipped, rewrites the file. */
    CU_ASSERT_EQUAL_FATAL(zkh_restart_server(zk, 0), 0);
    wait_version(w, 4, 60000);
    CU_ASSERT_FALSE(zkd_config_watch_stale(w));
    wait_recorded(&r, 4);
    CU_ASSERT_EQUAL(recorded(&r), 2);
    CU_ASSERT_EQUAL(r.version[1], 4);
    CU_ASSERT_EQUAL(r.skipped[1], 1);
    CU_ASSERT_FALSE(r.stale[1]);
    check_order(&r);
    zkd_config_watch_close(w);
    zkd_close(c);

    /* The file now holds version 4, and nothing else is left in the directory. */
    zkd_client *d = connect_with(30000, snapdir, 0);
    CU_ASSERT_EQUAL_FATAL(zkd_config_watch_open(d, "snapped", NULL, NULL, &w, NULL), 0);
    cur = zkd_config_watch_current(w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cur);
    CU_ASSERT_EQUAL(zkd_config_version_number(cur), 4);
    zkd_config_version_unref(cur);
    zkd_config_watch_close(w);
    zkd_close(d);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1 && ls %s | grep -q '^config\\.snapped\\.[0-9a-f]\\{8\\}\\.json$'",
             snapdir, snapdir);
    CU_ASSERT_EQUAL(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", snapdir);
    CU_ASSERT_EQUAL(system(cmd), 0);
    zkd_close(pub);
}

static void test_store_atomic_files(void)
{
    char dir[] = "/tmp/zkdisc-store.XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char sub[128];
    snprintf(sub, sizeof sub, "%s/a/b", dir); /* made as needed */
    zkd_error err;
    CU_ASSERT_EQUAL(zkd__store_write(sub, "x.json", "hello", 5, &err), 0);
    CU_ASSERT_EQUAL(zkd__store_write(sub, "x.json", "bye", 3, &err), 0);
    char *data = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(zkd__store_read(sub, "x.json", 100, &data, &len, &err), 0);
    CU_ASSERT_EQUAL(len, 3);
    CU_ASSERT_STRING_EQUAL(data, "bye");
    free(data);
    CU_ASSERT_EQUAL(zkd__store_read(sub, "x.json", 2, &data, &len, &err), ZKD_ETOOBIG);
    CU_ASSERT_EQUAL(zkd__store_read(sub, "nope", 100, &data, &len, &err), ZKD_ENOTFOUND);
    CU_ASSERT_EQUAL(zkd__store_write(sub, "../x", "a", 1, &err), ZKD_EINVAL);
    CU_ASSERT_EQUAL(zkd__store_write(sub, ".hidden", "a", 1, &err), ZKD_EINVAL);
    CU_ASSERT_EQUAL(zkd__store_remove(sub, "x.json", &err), 0);
    CU_ASSERT_EQUAL(zkd__store_remove(sub, "x.json", &err), 0);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s)\" && rm -rf %s", sub, dir);
    CU_ASSERT_EQUAL(system(cmd), 0); /* no temporary files left behind */
}

/* ---- deletion, and closing from the callback ------------------------------------------- */

static void test_delete_and_close_in_callback(void)
{
    zkd_client *pub = connect_with(30000, NULL, 0);
    zkd_client *c = connect_with(30000, NULL, 0);
    recorder r;
    recorder_init(&r, c);
    zkd_config_watch *w;
    CU_ASSERT_EQUAL_FATAL(zkd_config_watch_open(c, "doomed", record, &r, &w, NULL), 0);
    publish(pub, "doomed", 1);
    publish(pub, "doomed", 2);
    wait_version(w, 2, 15000);
    wait_recorded(&r, 2);
    int want = recorded(&r) + 1; /* counted before the delete can be told */
    void *args[2] = {&r, &want};
    CU_ASSERT_EQUAL(zkd_config_delete(pub, "doomed", ZKD_CONFIG_ANY_VERSION, NULL), 0);
    CU_ASSERT_TRUE(tu_wait_until(delivered_at_least, args, 15000));
    CU_ASSERT_EQUAL(r.version[r.n - 1], 0); /* told: deleted */
    zkd_config_version *cur = zkd_config_watch_current(w);
    CU_ASSERT_PTR_NULL(cur);

    /* The app's next incarnation starts again at 1; the callback closes the
     * watch on version 2, and nothing arrives after. */
    r.close_on = 2;
    publish(pub, "doomed", 1);
    wait_version(w, 1, 15000);
    wait_recorded(&r, 1);
    int before = recorded(&r);
    publish(pub, "doomed", 2);
    want = before + 1;
    CU_ASSERT_TRUE(tu_wait_until(delivered_at_least, args, 15000));
    /* a second watch on the same client sees version 3; the closed one does not */
    zkd_config_watch *w2;
    CU_ASSERT_EQUAL_FATAL(zkd_config_watch_open(c, "doomed", NULL, NULL, &w2, NULL), 0);
    publish(pub, "doomed", 3);
    wait_version(w2, 3, 15000);
    CU_ASSERT_EQUAL(recorded(&r), before + 1);
    CU_ASSERT_EQUAL(r.version[r.n - 1], 2);
    zkd_config_watch_close(w2);
    zkd_close(c);
    zkd_close(pub);
}

static void test_close_after_client(void)
{
    zkd_client *pub = connect_with(30000, NULL, 0);
    zkd_client *c = connect_with(30000, NULL, 0);
    recorder r;
    recorder_init(&r, c);
    zkd_config_watch *w, *idle;
    CU_ASSERT_EQUAL_FATAL(zkd_config_watch_open(c, "outlived", record, &r, &w, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(zkd_config_watch_open(c, "never-published", NULL, NULL, &idle, NULL), 0);
    publish(pub, "outlived", 1);
    wait_version(w, 1, 15000);
    zkd_close(c);
    /* Still readable, then closed: the watch, its target and the client's
     * memory all go now. */
    zkd_config_version *v = zkd_config_watch_current(w);
    CU_ASSERT_PTR_NOT_NULL(v);
    zkd_config_version_unref(v);
    zkd_config_watch_close(w);
    zkd_config_watch_close(idle);
    CU_ASSERT_EQUAL(zkd__live_clients(), 1); /* pub */
    zkd_close(pub);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"strictly increasing across expiry and restart", test_expiry_and_restart},
        {"100 rapid publishes end on the last", test_rapid_publishes},
        {"a gap is caught up and counted", test_gap_counts_skipped},
        {"atomic snapshot files", test_store_atomic_files},
        {"snapshot served stale while ZooKeeper is down", test_snapshot_fallback},
        {"deletion, and close from the callback", test_delete_and_close_in_callback},
        {"closed after its client", test_close_after_client},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"config_watch", suite_init, suite_clean, NULL, NULL, tests},
                             CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
