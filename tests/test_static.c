/* SPDX-License-Identifier: Apache-2.0 */
/* Static discovery: caches whose instances come from a file or a JSON text
 * instead of ZooKeeper. No server: the client only lends its dispatch
 * thread (connect_in_background to a port nobody listens on), which is
 * exactly the situation static sources are for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include "testutil.h"

static zkd_client *client;
static char dir[] = "/tmp/zkd-static-XXXXXX";
static char path[256];

static int suite_init(void)
{
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/web.json", dir);
    zkd_options o;
    zkd_options_init(&o);
    char connect[64];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", tu_unused_port());
    o.connect = connect;
    o.connect_in_background = 1;
    return zkd_connect(&o, &client, NULL) != 0;
}

static int suite_clean(void)
{
    zkd_close(client);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) != 0;
}

/* Writes `text` to path the way a deployment should: a temporary file
 * renamed into place. */
static void put_file(const char *text)
{
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s/.web.json.tmp", dir);
    FILE *f = fopen(tmp, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
    CU_ASSERT_FATAL(rename(tmp, path) == 0);
}

/* Rewrites path in place (an editor without a rename). */
static void rewrite_file(const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
}

static const char *TWO =
    "[{\"id\":\"a\",\"address\":\"10.0.0.1\",\"port\":80,\"payload\":{\"weight\":10}},"
    " {\"address\":\"10.0.0.2\",\"port\":81}]";

typedef struct seen {
    volatile int added, removed, updated;
    volatile int last_port; /* of the last instance added or updated */
} seen;

static void on_delta(zkd_cache *k, const zkd_delta *d, size_t n, void *ctx)
{
    (void)k;
    seen *s = ctx;
    for (size_t i = 0; i < n; i++) {
        int *slot = d[i].kind == ZKD_DELTA_ADDED     ? (int *)&s->added
                    : d[i].kind == ZKD_DELTA_REMOVED ? (int *)&s->removed
                                                     : (int *)&s->updated;
        __atomic_add_fetch(slot, 1, __ATOMIC_SEQ_CST);
        if (d[i].now)
            __atomic_store_n(&s->last_port, zkd_instance_port(d[i].now), __ATOMIC_SEQ_CST);
    }
}

static size_t count(zkd_cache *k)
{
    zkd_snapshot *s = zkd_cache_snapshot(k);
    size_t n = zkd_snapshot_count(s);
    zkd_snapshot_unref(s);
    return n;
}

typedef struct count_is {
    zkd_cache *k;
    size_t n;
} count_is;
static int has_count(void *arg)
{
    count_is *c = arg;
    return count(c->k) == c->n;
}

static int port_of(zkd_cache *k, const char *id)
{
    zkd_snapshot *s = zkd_cache_snapshot(k);
    const zkd_instance *i = zkd_snapshot_find(s, id);
    int port = i ? zkd_instance_port(i) : -1;
    zkd_snapshot_unref(s);
    return port;
}

static void test_text(void)
{
    zkd_cache *k = NULL;
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open_static(client, "web", TWO, strlen(TWO), NULL, NULL, &k, &err), 0);
    CU_ASSERT_EQUAL(zkd_cache_wait_ready(k, 0, NULL), 0); /* ready at once */
    CU_ASSERT_EQUAL(count(k), 2);
    zkd_snapshot *s = zkd_cache_snapshot(k);
    CU_ASSERT_FALSE(zkd_snapshot_stale(s));
    const zkd_instance *a = zkd_snapshot_find(s, "a");
    const zkd_instance *b = zkd_snapshot_find(s, "10.0.0.2-81"); /* the id made for it */
    CU_ASSERT_PTR_NOT_NULL(a);
    CU_ASSERT_PTR_NOT_NULL(b);
    if (a)
        CU_ASSERT_EQUAL(zkd_instance_weight(a), 10);
    if (b)
        CU_ASSERT_STRING_EQUAL(zkd_instance_service(b), "web");
    zkd_snapshot_unref(s);

    /* The library's balancer over it, as over a ZooKeeper cache. */
    zkd_balancer_options bo;
    zkd_balancer_options_init(&bo);
    zkd_balancer *bal = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_balancer_new(k, &bo, &bal, &err), 0);
    int hits[2] = {0, 0};
    for (int i = 0; i < 200; i++) {
        zkd_instance *pick = NULL;
        CU_ASSERT_EQUAL_FATAL(zkd_balancer_select(bal, &pick, &err), 0);
        hits[zkd_instance_port(pick) == 81]++;
        zkd_instance_unref(pick);
    }
    CU_ASSERT(hits[0] > 0 && hits[1] > 0);
    zkd_balancer_close(bal);
    zkd_cache_close(k);
}

static void test_bad_text(void)
{
    const struct {
        const char *json, *says;
    } bad[] = {
        {"{\"id\":\"a\"}", "not a JSON array"},
        {"[{\"id\":\"a\",\"address\":\"10.0.0.1\",\"port\":80},", "static instances:1"},
        {"[{\"id\":\"a\",\"address\":\"x\",\"port\":1},{\"id\":\"a\",\"address\":\"y\",\"port\":2}]",
         "two instances named a"},
        {"[{\"id\":\"a b\",\"address\":\"x\",\"port\":1}]", "instance 1"},
        {"[{\"port\":1}]", "no \"id\""},
        {"[{\"name\":\"other\",\"id\":\"a\",\"address\":\"x\",\"port\":1}]", "instance 1"},
        {"[7]", "not an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zkd_cache *k = NULL;
        zkd_error err = {0};
        int rc = zkd_cache_open_static(client, "web", bad[i].json, strlen(bad[i].json), NULL, NULL, &k, &err);
        CU_ASSERT_EQUAL(rc, ZKD_EBADDATA);
        CU_ASSERT_PTR_NULL(k);
        if (!strstr(err.message, bad[i].says))
            printf("\n    case %zu: \"%s\" lacks \"%s\"", i, err.message, bad[i].says);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, bad[i].says));
    }
    zkd_cache *k = NULL;
    zkd_error err = {0};
    CU_ASSERT_EQUAL(zkd_cache_open_file(client, "web", "/nonexistent/x.json", NULL, NULL, &k, &err),
                    ZKD_ENOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/x.json"));
    CU_ASSERT_EQUAL(zkd_cache_open_static(client, "bad name", "[]", 2, NULL, NULL, &k, NULL), ZKD_EINVAL);
}

static void test_file_follows_changes(void)
{
    put_file(TWO);
    seen s = {0};
    zkd_cache *k = NULL;
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open_file(client, "web", path, on_delta, &s, &k, &err), 0);
    CU_ASSERT_EQUAL(count(k), 2);
    CU_ASSERT(tu_wait_int(&s.added, 2, 2000));

    /* Renamed into place: one added, one changed, one removed. */
    put_file("[{\"id\":\"a\",\"address\":\"10.0.0.1\",\"port\":8080},"
             " {\"id\":\"c\",\"address\":\"10.0.0.3\",\"port\":82}]");
    CU_ASSERT(tu_wait_int(&s.removed, 1, 5000));
    CU_ASSERT(tu_wait_int(&s.added, 3, 5000));
    CU_ASSERT(tu_wait_int(&s.updated, 1, 5000));
    CU_ASSERT_EQUAL(port_of(k, "a"), 8080);
    CU_ASSERT_EQUAL(port_of(k, "c"), 82);

    /* A bad version is refused whole; the last good set is kept. */
    rewrite_file("[{\"id\":\"a\",\"address\":\"10.0.0.1\",\"port\":9090}, {\"oops\"");
    /* Written in place, then fixed: only the good version is ever served. */
    rewrite_file("[{\"id\":\"a\",\"address\":\"10.0.0.1\",\"port\":9191}]");
    count_is one = {k, 1};
    CU_ASSERT(tu_wait_until(has_count, &one, 5000));
    CU_ASSERT_EQUAL(port_of(k, "a"), 9191);
    /* The listener hears after the snapshot is swapped: wait for it. */
    CU_ASSERT(tu_wait_int(&s.last_port, 9191, 5000));
    CU_ASSERT_EQUAL(__atomic_load_n(&s.updated, __ATOMIC_SEQ_CST), 2);

    /* Removed, then garbage renamed into place: the last good version is
     * kept; the next good one is taken (events are handled in order, so
     * seeing it means the garbage was seen and refused first). */
    CU_ASSERT_EQUAL(unlink(path), 0);
    put_file("not json at all");
    put_file("[{\"id\":\"a\",\"address\":\"10.0.0.1\",\"port\":7070}]");
    for (int64_t end = tu_now_ms() + 5000; port_of(k, "a") != 7070 && tu_now_ms() < end;)
        usleep(10 * 1000);
    CU_ASSERT_EQUAL(port_of(k, "a"), 7070);
    CU_ASSERT_EQUAL(count(k), 1);
    CU_ASSERT(tu_wait_int(&s.last_port, 7070, 5000));
    CU_ASSERT_EQUAL(__atomic_load_n(&s.updated, __ATOMIC_SEQ_CST), 3);
    zkd_cache_close(k);
}

/* Open and close many file caches: every watcher thread is joined, every
 * inotify descriptor closed. */
static void test_open_close(void)
{
    put_file(TWO);
    for (int i = 0; i < 200; i++) {
        zkd_cache *k = NULL;
        CU_ASSERT_EQUAL_FATAL(zkd_cache_open_file(client, "web", path, NULL, NULL, &k, NULL), 0);
        zkd_cache_close(k);
    }
    char fds[64];
    snprintf(fds, sizeof fds, "/proc/%d/fd", (int)getpid());
    char cmd[128];
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -lt 40", fds);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

int main(void)
{
    zoo_set_debug_level(0);
    CU_TestInfo tests[] = {
        {"a static set from JSON text, served and balanced", test_text},
        {"bad text and missing files are refused, naming what is wrong", test_bad_text},
        {"a static file is followed: renames, rewrites, bad versions, removal", test_file_follows_changes},
        {"200 file caches opened and closed leave no thread or descriptor", test_open_close},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"static", suite_init, suite_clean, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
