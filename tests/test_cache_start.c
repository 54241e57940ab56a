/* SPDX-License-Identifier: Apache-2.0 */
/* A cache's life at its edges, against a real server: opened before the
 * server is started, started from its snapshot file while ZooKeeper is
 * down, closed after its client, opened and closed 100,000 times. */
#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zkdisc/counters.h>
#include <zookeeper/zookeeper.h>

#include "testutil.h"
#include "zkh.h"

ZKH_SUITE(1) /* zk: the suite's server(s); suite_init, suite_clean */

/* Writes Curator records <service>/i-<first>..i-<n-1> with the raw client. */
static void put_range(const char *service, int first, int n)
{
    zhandle_t *zh = tu_raw_open(zkh_connect_string(zk));
    CU_ASSERT_FATAL(zh != NULL);
    char path[256], data[512];
    zoo_create(zh, "/zkdisc", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    zoo_create(zh, "/zkdisc/services", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    snprintf(path, sizeof path, "/zkdisc/services/%s", service);
    zoo_create(zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    for (int i = first; i < n; i++) {
        snprintf(path, sizeof path, "/zkdisc/services/%s/i-%d", service, i);
        snprintf(data, sizeof data,
                 "{\"name\":\"%s\",\"id\":\"i-%d\",\"address\":\"10.0.0.%d\",\"port\":8080,"
                 "\"sslPort\":null,\"payload\":null,\"registrationTimeUTC\":1,"
                 "\"serviceType\":\"DYNAMIC\",\"uriSpec\":null}",
                 service, i, i + 1);
        CU_ASSERT_EQUAL(zoo_create(zh, path, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE, 0,
                                   NULL, 0), ZOK);
    }
    zookeeper_close(zh);
}

static void put_instances(const char *service, int n)
{
    put_range(service, 0, n);
}

/* The library's last warning, for the tests that expect one. */
static char last_warning[1024];
static void keep_warning(zkd_log_level level, const char *message, void *ctx)
{
    (void)ctx;
    if (level <= ZKD_LOG_WARN)
        snprintf(last_warning, sizeof last_warning, "%s", message);
}

static zkd_client *connect_bg(const char *snapshot_dir)
{
    zkd_options o;
    zkd_options_init(&o);
    o.log_fn = keep_warning;
    o.connect = zkh_connect_string(zk);
    o.session_timeout_ms = 10000;
    o.connect_in_background = 1;
    o.snapshot_dir = snapshot_dir;
    zkd_client *c = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_connect(&o, &c, NULL), 0);
    return c;
}

typedef struct want {
    zkd_cache *k;
    size_t n;
    int stale;
} want;

static int cache_is(void *arg)
{
    want *w = arg;
    zkd_snapshot *s = zkd_cache_snapshot(w->k);
    int ok = zkd_snapshot_count(s) == w->n && zkd_snapshot_stale(s) == w->stale;
    zkd_snapshot_unref(s);
    return ok;
}

/* Opened while the first session is still being made: stale and empty at
 * first, loaded once the server is there. */
static void test_open_before_server(void)
{
    put_instances("early", 5);
    CU_ASSERT_EQUAL_FATAL(zkh_stop_server(zk, 0), 0);
    zkd_client *c = connect_bg(NULL);
    zkd_cache *k = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "early", NULL, NULL, &k, NULL), 0);
    zkd_snapshot *s = zkd_cache_snapshot(k);
    CU_ASSERT_EQUAL(zkd_snapshot_count(s), 0);
    CU_ASSERT(zkd_snapshot_stale(s));
    zkd_snapshot_unref(s);
    CU_ASSERT_EQUAL(zkd_cache_wait_ready(k, 200, NULL), ZKD_ETIMEDOUT);

    CU_ASSERT_EQUAL_FATAL(zkh_restart_server(zk, 0), 0);
    CU_ASSERT_EQUAL(zkd_cache_wait_ready(k, 20000, NULL), 0);
    want w = {k, 5, 0};
    CU_ASSERT(tu_wait_until(cache_is, &w, 20000));
    zkd_cache_close(k);
    zkd_close(c);
}

static void test_empty_snapshot_dir(void)
{
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zkh_connect_string(zk);
    o.snapshot_dir = "";
    zkd_client *c = NULL;
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_connect(&o, &c, &err), ZKD_EINVAL);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT(strstr(err.message, "snapshot_dir") != NULL);
}

static int store_lines(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int lines = -1;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, strlen(prefix)))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        lines = 0;
        for (int ch; f && (ch = fgetc(f)) != EOF;)
            lines += ch == '\n';
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return lines;
}

typedef struct file_want {
    const char *dir;
    int lines;
} file_want;

static int file_has(void *arg)
{
    file_want *f = arg;
    return store_lines(f->dir, "service.stored.") == f->lines;
}

/* The one snapshot file in dir (the "stored" service's): its path. */
static void store_path(const char *dir, char *path, size_t len)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (!strncmp(e->d_name, "service.stored.", 15))
            snprintf(path, len, "%s/%s", dir, e->d_name);
    if (d)
        closedir(d);
}

/* With ZooKeeper down and the snapshot file cut in the middle of a line, or
 * overwritten with other bytes, the cache is not ready (never served as a
 * smaller set) and a warning names the file; the whole file is put back. */
static void damaged_snapshots_ignored(const char *dir)
{
    char path[1024] = "", whole[8192];
    store_path(dir, path, sizeof path);
    FILE *f = fopen(path, "r");
    CU_ASSERT_FATAL(f != NULL);
    size_t n = fread(whole, 1, sizeof whole, f);
    fclose(f);
    CU_ASSERT_FATAL(n > 20);
    static const char noise[] = "\x8f\x01garbage\tnot json\n\xff\xfe";
    struct { const char *data; size_t len; } damaged[] = {
        {whole, n / 2}, {whole, n - 1}, {noise, sizeof noise - 1}};
    for (size_t t = 0; t < sizeof damaged / sizeof damaged[0]; t++) {
        f = fopen(path, "w");
        CU_ASSERT_FATAL(f != NULL);
        fwrite(damaged[t].data, 1, damaged[t].len, f);
        fclose(f);
        last_warning[0] = '\0';
        zkd_client *c = connect_bg(dir);
        zkd_cache *k = NULL;
        CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "stored", NULL, NULL, &k, NULL), 0);
        CU_ASSERT_NOT_EQUAL(zkd_cache_wait_ready(k, 500, NULL), 0);
        zkd_snapshot *s = zkd_cache_snapshot(k);
        CU_ASSERT_EQUAL(zkd_snapshot_count(s), 0);
        zkd_snapshot_unref(s);
        zkd_cache_close(k);
        zkd_close(c);
        CU_ASSERT(strstr(last_warning, path) && strstr(last_warning, "damaged"));
        if (!strstr(last_warning, path))
            printf("\n    case %zu: last warning \"%s\"\n", t, last_warning);
    }
    f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fwrite(whole, 1, n, f);
    fclose(f);
}

/* A process that starts while ZooKeeper is down serves the instances of
 * its last run from the snapshot directory, flagged stale, until the
 * server answers. */
static void test_snapshot_served_while_down(void)
{
    char dir[] = "/tmp/zkdisc-cache-snap-XXXXXX";
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    char sub[256];
    snprintf(sub, sizeof sub, "%s/state", dir); /* made on first write */
    put_instances("stored", 3);

    zkd_client *c = connect_bg(sub);
    zkd_cache *k = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "stored", NULL, NULL, &k, NULL), 0);
    CU_ASSERT_EQUAL(zkd_cache_wait_ready(k, 20000, NULL), 0);
    file_want f = {sub, 3};
    CU_ASSERT(tu_wait_until(file_has, &f, 10000));
    zkd_cache_close(k);
    zkd_close(c);

    CU_ASSERT_EQUAL_FATAL(zkh_stop_server(zk, 0), 0);
    c = connect_bg(sub);
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "stored", NULL, NULL, &k, NULL), 0);
    CU_ASSERT_EQUAL(zkd_cache_wait_ready(k, 1000, NULL), 0);
    zkd_snapshot *s = zkd_cache_snapshot(k);
    CU_ASSERT_EQUAL(zkd_snapshot_count(s), 3);
    CU_ASSERT(zkd_snapshot_stale(s));
    const zkd_instance *i = zkd_snapshot_find(s, "i-1");
    CU_ASSERT(i && !strcmp(zkd_instance_address(i), "10.0.0.2") && zkd_instance_port(i) == 8080);
    zkd_snapshot_unref(s);
    zkd_cache_close(k);
    zkd_close(c);
    damaged_snapshots_ignored(sub);
    c = connect_bg(sub);
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "stored", NULL, NULL, &k, NULL), 0);

    CU_ASSERT_EQUAL_FATAL(zkh_restart_server(zk, 0), 0);
    want w = {k, 3, 0};
    CU_ASSERT(tu_wait_until(cache_is, &w, 20000));
    zkd_cache_close(k);
    zkd_close(c);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

typedef struct lines_want {
    const char *dir, *prefix;
    int lines;
} lines_want;

static int store_has(void *arg)
{
    lines_want *l = arg;
    return store_lines(l->dir, l->prefix) == l->lines;
}

/* A change seen just before the close is in the snapshot: writes come at
 * most once a second, and the close writes one that is still due (before,
 * a process stopped within a second of a change left the previous set on
 * disk, to be served stale at its next start while ZooKeeper is down). */
static void test_change_before_close_stored(void)
{
    char dir[] = "/tmp/zkdisc-cache-last-XXXXXX";
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    put_instances("last", 2);
    zkd_client *c = connect_bg(dir);
    zkd_cache *k = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "last", NULL, NULL, &k, NULL), 0);
    CU_ASSERT_EQUAL(zkd_cache_wait_ready(k, 20000, NULL), 0);
    lines_want two = {dir, "service.last.", 2};
    CU_ASSERT(tu_wait_until(store_has, &two, 10000)); /* the first write: the next is a second away */
    put_range("last", 2, 3);
    want w = {k, 3, 0};
    CU_ASSERT(tu_wait_until(cache_is, &w, 10000));
    zkd_cache_close(k);
    CU_ASSERT_EQUAL(store_lines(dir, "service.last."), 3);
    zkd_close(c);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

/* Closing a cache after its client (and from another thread than the one
 * that opened it) touches nothing freed: run it under ASan. */
static void test_close_after_client(void)
{
    put_instances("orphan", 2);
    zkd_client *c = tu_connect(zkh_connect_string(zk), 10000);
    zkd_cache *loaded = NULL, *fresh = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "orphan", NULL, NULL, &loaded, NULL), 0);
    CU_ASSERT_EQUAL(zkd_cache_wait_ready(loaded, 15000, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "orphan", NULL, NULL, &fresh, NULL), 0);
    zkd_close(c);
    zkd_snapshot *s = zkd_cache_snapshot(loaded);
    CU_ASSERT_EQUAL(zkd_snapshot_count(s), 2);
    zkd_snapshot_unref(s);
    zkd_cache_close(fresh);
    zkd_cache_close(loaded);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

/* The heap in use once the reads of closed caches have been answered (a
 * cache that loads is answered after all of them: one connection, in
 * order), so that requests still in flight do not count. */
static size_t heap_when_idle(zkd_client *c)
{
    zkd_cache *k = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "cycled", NULL, NULL, &k, NULL), 0);
    CU_ASSERT_EQUAL(zkd_cache_wait_ready(k, 60000, NULL), 0);
    zkd_cache_close(k);
    return mallinfo2().uordblks;
}

typedef struct reads_want {
    zkd_client *c;
    uint64_t bytes; /* of getData answers received, at least */
} reads_want;

static int answers_came(void *arg)
{
    reads_want *r = arg;
    zkd_counters n;
    zkd_client_counters(r->c, &n);
    return n.bytes_read >= r->bytes;
}

/* Caches closed in the middle of their loads, most of them with answers
 * held in the inbox that no job was posted for yet (one is posted per 32
 * while 32 or more reads are in flight; 7-9 of these 20 closes found some
 * held, counted with a build that logged it): the close releases them, so
 * the heap in use does not grow (the requests stay reachable until the
 * client's close, so ASan's leak check alone would not see them), and under
 * ASan nothing is released twice or touched after. A cache opened after
 * them loads every instance. */
static void test_close_while_loading(void)
{
    put_instances("busy", 3000);
    zkd_client *c = tu_connect(zkh_connect_string(zk), 10000);
    CU_ASSERT_FATAL(c != NULL);
    zkd_cache *k = NULL; /* a whole load first: what the first one leaves is not counted */
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "busy", NULL, NULL, &k, NULL), 0);
    CU_ASSERT_EQUAL(zkd_cache_wait_ready(k, 20000, NULL), 0);
    zkd_cache_close(k);
    size_t before = mallinfo2().uordblks;
    for (int round = 0; round < 20; round++) {
        CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "busy", NULL, NULL, &k, NULL), 0);
        if (round % 2) { /* after 200 or so answers of 3,000; the others at once */
            zkd_counters was;
            zkd_client_counters(c, &was);
            reads_want r = {c, was.bytes_read + 200 * 150};
            CU_ASSERT(tu_wait_until(answers_came, &r, 10000));
        }
        zkd_cache_close(k);
    }
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "busy", NULL, NULL, &k, NULL), 0);
    want w = {k, 3000, 0};
    CU_ASSERT(tu_wait_until(cache_is, &w, 20000));
    zkd_cache_close(k);
    long grew = (long)mallinfo2().uordblks - (long)before;
    printf("\n    heap in use after 20 closes mid-load and a load: %+ld bytes\n", grew);
#ifndef SANITIZED
    /* 18-19 KB; with the held answers left unreleased, 74-131 KB. */
    CU_ASSERT(grew < 48 * 1024);
#endif
    zkd_close(c);
}

/* 100,000 open/close cycles keep the heap flat: nothing a cache allocates
 * (target, teardown hook, subscription) outlives its close. */
static void test_open_close_flat(void)
{
    put_instances("cycled", 1);
    zkd_client *c = tu_connect(zkh_connect_string(zk), 10000);
    enum { WARM = 2000, CYCLES = 100000 };
    size_t before = 0;
    for (int i = 0; i < CYCLES; i++) {
        if (i == WARM)
            before = heap_when_idle(c);
        zkd_cache *k = NULL;
        CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "cycled", NULL, NULL, &k, NULL), 0);
        zkd_cache_close(k);
    }
    size_t after = heap_when_idle(c);
    printf("\n    heap in use after %d more cycles: %+ld bytes\n", CYCLES - WARM,
           (long)after - (long)before);
#ifndef SANITIZED
    /* 66 bytes a cycle before the fix would be 6.5 MB here. */
    CU_ASSERT(after < before + 512 * 1024);
#endif
    zkd_close(c);
}

int main(void)
{
    zoo_set_debug_level(0);
    CU_TestInfo tests[] = {
        {"a cache opened before the server starts loads once it does", test_open_before_server},
        {"snapshot_dir \"\" is refused", test_empty_snapshot_dir},
        {"a change just before the close is in the snapshot", test_change_before_close_stored},
        {"a cache closed while it loads releases what it held", test_close_while_loading},
        {"the snapshot file is served, stale, while ZooKeeper is down", test_snapshot_served_while_down},
        {"a cache closed after its client", test_close_after_client},
        {"100,000 open/close cycles keep memory flat", test_open_close_flat},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"cache_start", suite_init, suite_clean, NULL, NULL, tests},
                             CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
