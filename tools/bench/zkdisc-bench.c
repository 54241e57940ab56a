/* SPDX-License-Identifier: Apache-2.0 */
/* zkdisc-bench: zkdisc against the raw ZooKeeper C client, in one run.
 *
 * Absolute times drift from machine to machine, so every result is also a
 * ratio to a baseline measured in the same run against the same server:
 *   - registering N instances: raw synchronous creates one at a time
 *     (baseline), raw pipelined async creates, zkd_register from 1 (as it
 *     comes, and with spec.watch_node = 1 against raw creates that arm the
 *     same watch) and from 4 threads;
 *   - reading N instances: raw getData one at a time (what Curator's
 *     uncached queryForInstances does; baseline), raw pipelined, a zkdisc
 *     cache's cold load, zkd_instances_query;
 *   - a child watch's create-to-notify latency: a raw getChildren watch
 *     re-armed per event (baseline) and a zkdisc cache delta;
 *   - the memory a cache holding N instances takes (RSS growth);
 *   - zkd_balancer_select over a cache of N instances with 100 ids marked
 *     down, from 1 and 2 threads, against an O(1) pick (an array indexed by
 *     an atomic counter, with the same reference taken and dropped).
 *   - caches (bench_cache): memory per cached instance in a separate process
 *     (max RSS growth / N at 10,000 and 50,000), cold load of 10,000 and
 *     50,000 against raw pipelined getData, change-to-listener against a
 *     raw children watch that then reads the new child's data, and the time
 *     a cache of 100,000 takes to be fresh after a server restart.
 *   - the CLI (--only cli): `zkdisc -o json instances` of N instances as a
 *     whole process against zkdisc-bench-raw-list (raw_list.c: the C client's
 *     pipelined getChildren + getData of every child, printed with jansson),
 *     in interleaved pairs; the median ratio and its spread.
 *   - the agent (--only agent, bench_agent.c): zkdisc-agent's CPU for 500
 *     http checks at 1 s against a plain libcurl-multi loop making the same
 *     requests (baseline), per request and as a share of a core.
 *   - scale (--only scale, bench_scale.c), dns and haproxy
 *     (bench_consumers.c): see those files.
 * A group is one entry of the table `groups` below; --report runs them all
 * and prints the README's table (bench_report.c, docs/performance.md).
 * Without --zk it starts its own standalone server on a free loopback port. */
#include <getopt.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zkdisc/zkdisc.h>
#include <zookeeper/zookeeper.h>

#include "bench.h"
#include "bench_agent.h"
#include "bench_cache.h"

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void die(const char *what, const char *why)
{
    fprintf(stderr, "zkdisc-bench: %s: %s\n", what, why);
    exit(1);
}

/* ---- raw client helpers --------------------------------------------------- */

static volatile int raw_connected;
static void raw_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh, (void)path, (void)ctx;
    if (type == ZOO_SESSION_EVENT && state == ZOO_CONNECTED_STATE)
        __atomic_store_n(&raw_connected, 1, __ATOMIC_SEQ_CST);
}

zhandle_t *raw_connect(const char *zk)
{
    __atomic_store_n(&raw_connected, 0, __ATOMIC_SEQ_CST);
    zhandle_t *zh = zookeeper_init(zk, raw_watcher, 30000, NULL, NULL, 0);
    for (double end = now_s() + 15; zh && !__atomic_load_n(&raw_connected, __ATOMIC_SEQ_CST);) {
        if (now_s() > end)
            die("raw client", "no session within 15 s");
        usleep(1000);
    }
    return zh;
}

/* The record of znode <prefix><i>: its id is its znode's name, or readers
 * skip it as malformed. */
void record_json(char *buf, size_t len, const char *service, const char *prefix, int i)
{
    snprintf(buf, len,
             "{\"name\":\"%s\",\"id\":\"%s%06d\",\"address\":\"10.%d.%d.%d\",\"port\":8080,"
             "\"sslPort\":null,\"payload\":{\"weight\":100},\"registrationTimeUTC\":1732456789000,"
             "\"serviceType\":\"DYNAMIC\",\"uriSpec\":null}",
             service, prefix, i, (i >> 16) & 255, (i >> 8) & 255, i & 255);
}

void raw_prepare(zhandle_t *zh, const char *service)
{
    char path[256];
    zoo_create(zh, "/zkdisc", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    zoo_create(zh, "/zkdisc/services", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    snprintf(path, sizeof path, "/zkdisc/services/%s", service);
    zoo_create(zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
}

typedef struct counter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int left;
} counter;

static void count_down(counter *c)
{
    pthread_mutex_lock(&c->mu);
    if (--c->left == 0)
        pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void wait_zero(counter *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->left > 0)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

static void on_created(int rc, const char *value, const void *data)
{
    (void)rc, (void)value;
    count_down((counter *)data);
}

static void on_got(int rc, const char *value, int len, const struct Stat *st, const void *data)
{
    (void)rc, (void)value, (void)len, (void)st;
    count_down((counter *)data);
}

/* ---- results ----------------------------------------------------------------- */

typedef struct row {
    const char *group, *what;
    double value; /* seconds, or a latency in ms, or bytes */
    const char *unit;
    double baseline;
} row;

int bench_failures;

static row rows[128];
static int nrows;

void add_row(const char *group, const char *what, double value, const char *unit, double baseline)
{
    rows[nrows++] = (row){group, what, value, unit, baseline};
}

static void print_rows(const bench *b)
{
    if (b->json) {
        printf("{\"instances\":%d,\"results\":[", b->n);
        for (int i = 0; i < nrows; i++)
            printf("%s{\"group\":\"%s\",\"what\":\"%s\",\"value\":%.6g,\"unit\":\"%s\",\"vs_baseline\":%.3f}",
                   i ? "," : "", rows[i].group, rows[i].what, rows[i].value, rows[i].unit,
                   rows[i].baseline > 0 ? rows[i].baseline / rows[i].value : 0.0);
        printf("]}\n");
        return;
    }
    printf("%-10s %-44s %12s %10s\n", "", "", "", "speed-up");
    for (int i = 0; i < nrows; i++) {
        char v[32];
        snprintf(v, sizeof v, "%.3f %s", rows[i].value, rows[i].unit);
        if (rows[i].baseline > 0)
            printf("%-10s %-44s %12s %9.2fx\n", rows[i].group, rows[i].what, v,
                   rows[i].baseline / rows[i].value);
        else
            printf("%-10s %-44s %12s %10s\n", rows[i].group, rows[i].what, v, "");
    }
}

/* ---- 1. registering ------------------------------------------------------------ */


static void no_event(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh, (void)type, (void)state, (void)path, (void)ctx;
}

static void no_stat(int rc, const struct Stat *st, const void *data)
{
    (void)rc, (void)st, (void)data;
}

/* Synchronous creates, one at a time. `watched`: each followed by what
 * zkd_register also sends, an exists that leaves a watch on the node (its
 * drains and removals), answered while the next create goes out. */
static double raw_sync_creates(zhandle_t *zh, const char *service, int from, int to, int watched)
{
    char path[256], data[512];
    double t0 = now_s();
    for (int i = from; i < to; i++) {
        snprintf(path, sizeof path, "/zkdisc/services/%s/i-%06d", service, i);
        record_json(data, sizeof data, service, "i-", i);
        if (zoo_create(zh, path, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0) ==
                ZOK &&
            watched)
            zoo_awexists(zh, path, no_event, NULL, no_stat, NULL);
    }
    return now_s() - t0;
}

static double raw_async_creates(zhandle_t *zh, const char *service, int n)
{
    char path[256], data[512];
    counter c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, n};
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "/zkdisc/services/%s/i-%06d", service, i);
        record_json(data, sizeof data, service, "i-", i);
        zoo_acreate(zh, path, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, on_created, &c);
    }
    wait_zero(&c);
    return now_s() - t0;
}

typedef struct reg_job {
    zkd_client *c;
    const char *service;
    int from, to;
    int watched; /* spec.watch_node = 1: the create and an exists watch */
} reg_job;

static void *register_range(void *arg)
{
    reg_job *j = arg;
    for (int i = j->from; i < j->to; i++) {
        char id[32];
        snprintf(id, sizeof id, "i-%06d", i);
        zkd_instance_spec spec;
        zkd_instance_spec_init(&spec);
        spec.service = j->service;
        spec.id = id;
        spec.address = "10.0.0.1";
        spec.port = 8080;
        spec.watch_node = j->watched;
        zkd_registration *r;
        zkd_error err;
        if (zkd_register(j->c, &spec, &r, &err) != 0)
            die("zkd_register", err.message);
        /* Left registered: closing the client removes them all. */
    }
    return NULL;
}

zkd_client *zkd_open(const char *zk)
{
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zk;
    o.session_timeout_ms = 30000;
    o.request_timeout_ms = 30000;
    zkd_client *c;
    zkd_error err;
    if (zkd_connect(&o, &c, &err) != 0)
        die("connect", err.message);
    return c;
}

static double zkd_registers(const char *zk, const char *service, int n, int threads)
{
    zkd_client *c = zkd_open(zk);
    pthread_t t[8];
    reg_job jobs[8];
    double t0 = now_s();
    for (int k = 0; k < threads; k++) {
        jobs[k] = (reg_job){c, service, n * k / threads, n * (k + 1) / threads, 0};
        pthread_create(&t[k], NULL, register_range, &jobs[k]);
    }
    for (int k = 0; k < threads; k++)
        pthread_join(t[k], NULL);
    double took = now_s() - t0;
    zkd_close(c);
    return took;
}

/* One thread registering as it comes (the create alone) against raw
 * synchronous creates, and with watch_node = 1 against raw creates that also
 * arm a watch as a watched zkd_register does, in REG_ROUNDS interleaved rounds
 * (the order turns each round, so each side runs in each place twice), so
 * that load from elsewhere on a shared machine falls on all alike. */
enum { REG_SIDES = 4, REG_ROUNDS = 2 * REG_SIDES };

static void one_thread_rounds(const bench *b, zhandle_t *zh, double *raw, double *zkd)
{
    zkd_client *c = zkd_open(b->zk);
    double rate_raw[REG_ROUNDS], rate_zkd[REG_ROUNDS], rate_raw_watched[REG_ROUNDS], rate_watched[REG_ROUNDS];
    *raw = *zkd = 0;
    for (int r = 0; r < REG_ROUNDS; r++) {
        reg_job j = {c, "reg-zkd1", b->n * r / REG_ROUNDS, b->n * (r + 1) / REG_ROUNDS, 0};
        reg_job w = {c, "reg-zkd1w", j.from, j.to, 1};
        double rt = 0, zt = 0, rwt = 0, wt = 0;
        for (int side = 0; side < REG_SIDES; side++) {
            double t0 = now_s();
            switch ((side + r) % REG_SIDES) {
            case 0: rt = raw_sync_creates(zh, "reg-sync", j.from, j.to, 0); break;
            case 1: register_range(&j); zt = now_s() - t0; break;
            case 2: register_range(&w); wt = now_s() - t0; break;
            default: rwt = raw_sync_creates(zh, "reg-watched", j.from, j.to, 1); break;
            }
        }
        *raw += rt;
        *zkd += zt;
        rate_raw[r] = (j.to - j.from) / rt;
        rate_zkd[r] = (j.to - j.from) / zt;
        rate_watched[r] = (j.to - j.from) / wt;
        rate_raw_watched[r] = (j.to - j.from) / rwt;
    }
    report_pairs("register_rate", rate_zkd, rate_raw, REG_ROUNDS, "/s");
    report_pairs("register_rate_watched", rate_watched, rate_raw_watched, REG_ROUNDS, "/s");
    zkd_close(c);
}

static void bench_register(const bench *b)
{
    zhandle_t *zh = raw_connect(b->zk);
    raw_prepare(zh, "reg-sync");
    raw_prepare(zh, "reg-async");
    raw_prepare(zh, "reg-watched");
    double base, one;
    one_thread_rounds(b, zh, &base, &one);
    double async = raw_async_creates(zh, "reg-async", b->n);
    zookeeper_close(zh); /* the ephemerals go with the session */
    add_row("register", "raw C client, one create at a time", base, "s", base);
    add_row("register", "raw C client, pipelined async creates", async, "s", base);
    add_row("register", "zkd_register, 1 thread (interleaved with raw)", one, "s", base);
    add_row("register", "zkd_register, 4 threads", zkd_registers(b->zk, "reg-zkd4", b->n, 4), "s", base);
    if (!b->json)
        fprintf(stderr, "zkdisc-bench: one thread: %.0f registrations/s, raw synchronous creates %.0f/s\n",
                b->n / one, b->n / base);
}

/* ---- 2. reading ------------------------------------------------------------------- */

static double raw_sync_reads(zhandle_t *zh, const char *service)
{
    char parent[256], path[512], buf[4096];
    struct String_vector kids;
    snprintf(parent, sizeof parent, "/zkdisc/services/%s", service);
    double t0 = now_s();
    if (zoo_get_children(zh, parent, 0, &kids) != ZOK)
        die("getChildren", parent);
    for (int i = 0; i < kids.count; i++) {
        int len = sizeof buf;
        snprintf(path, sizeof path, "%s/%s", parent, kids.data[i]);
        zoo_get(zh, path, 0, buf, &len, NULL);
    }
    double took = now_s() - t0;
    deallocate_String_vector(&kids);
    return took;
}

double raw_async_reads(zhandle_t *zh, const char *service)
{
    char parent[256], path[512];
    struct String_vector kids;
    snprintf(parent, sizeof parent, "/zkdisc/services/%s", service);
    double t0 = now_s();
    if (zoo_get_children(zh, parent, 0, &kids) != ZOK)
        die("getChildren", parent);
    counter c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, kids.count};
    for (int i = 0; i < kids.count; i++) {
        snprintf(path, sizeof path, "%s/%s", parent, kids.data[i]);
        zoo_aget(zh, path, 0, on_got, &c);
    }
    wait_zero(&c);
    double took = now_s() - t0;
    deallocate_String_vector(&kids);
    return took;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void bench_read(const bench *b)
{
    zhandle_t *zh = raw_connect(b->zk); /* holds the N instances */
    raw_prepare(zh, "read");
    raw_async_creates(zh, "read", b->n);
    double base = raw_sync_reads(zh, "read");
    double async = raw_async_reads(zh, "read");
    add_row("read", "raw C client, getData one at a time", base, "s", base);
    add_row("read", "raw C client, pipelined getData", async, "s", base);

    zkd_client *c = zkd_open(b->zk);
    long rss0 = rss_kb();
    double t0 = now_s();
    zkd_cache *k;
    zkd_error err;
    if (zkd_cache_open(c, "read", NULL, NULL, &k, &err) || zkd_cache_wait_ready(k, 120000, &err))
        die("cache", err.message);
    double load = now_s() - t0;
    long rss1 = rss_kb();
    zkd_snapshot *s = zkd_cache_snapshot(k);
    if ((int)zkd_snapshot_count(s) != b->n)
        die("cache", "did not load every instance");
    zkd_snapshot_unref(s);
    add_row("read", "zkdisc cache, cold load (with watches)", load, "s", base);
    t0 = now_s();
    zkd_snapshot *q;
    if (zkd_instances_query(c, "read", &q, NULL, &err))
        die("query", err.message);
    add_row("read", "zkd_instances_query (one-shot)", now_s() - t0, "s", base);
    zkd_snapshot_unref(q);
    add_row("memory", "cache RSS growth per instance", (double)(rss1 - rss0) * 1024.0 / b->n, "B", 0);
    zkd_cache_close(k);
    zkd_close(c);
    zookeeper_close(zh);
}

/* ---- 3. watch latency ---------------------------------------------------------------- */

typedef struct latency {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int seen;
    double at;
    int known; /* raw variant: children seen so far */
} latency;

static void delta_seen(zkd_cache *k, const zkd_delta *d, size_t n, void *ctx)
{
    (void)k, (void)d, (void)n;
    latency *l = ctx;
    pthread_mutex_lock(&l->mu);
    l->seen++;
    l->at = now_s();
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* The raw baseline done right (what kazoo's ChildrenWatch does): on each
 * event, getChildren again with a new watch, and report when the list has
 * grown. Reporting on the event alone would miss a create that lands before
 * the watch is re-armed. */
static void raw_child_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx);

static void raw_children(int rc, const struct String_vector *sv, const void *data)
{
    latency *l = (latency *)data;
    if (rc != ZOK)
        return;
    pthread_mutex_lock(&l->mu);
    if (sv->count > l->known) {
        l->known = sv->count;
        l->seen++;
        l->at = now_s();
        pthread_cond_signal(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
}

static void raw_child_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)state;
    if (type == ZOO_CHILD_EVENT)
        zoo_awget_children(zh, path, raw_child_watch, ctx, raw_children, ctx);
}

int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Creates `changes` children one by one and measures create-to-notify. */
static void measure(zhandle_t *writer, const char *service, latency *l, int changes, double *p50, double *p99)
{
    double *ms = calloc((size_t)changes, sizeof *ms);
    char path[256], data[512];
    for (int i = 0; i < changes; i++) {
        snprintf(path, sizeof path, "/zkdisc/services/%s/w-%06d", service, i);
        record_json(data, sizeof data, service, "w-", i);
        pthread_mutex_lock(&l->mu);
        int before = l->seen;
        pthread_mutex_unlock(&l->mu);
        double t0 = now_s();
        zoo_create(writer, path, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0);
        pthread_mutex_lock(&l->mu);
        while (l->seen == before)
            pthread_cond_wait(&l->cv, &l->mu);
        ms[i] = (l->at - t0) * 1000.0;
        pthread_mutex_unlock(&l->mu);
    }
    qsort(ms, (size_t)changes, sizeof *ms, cmp_double);
    *p50 = ms[changes / 2];
    *p99 = ms[(changes * 99) / 100 >= changes ? changes - 1 : (changes * 99) / 100];
    free(ms);
}

static void bench_watch(const bench *b)
{
    zhandle_t *writer = raw_connect(b->zk);
    raw_prepare(writer, "watch-raw");
    raw_prepare(writer, "watch-zkd");
    double rp50, rp99, zp50, zp99;

    zhandle_t *watcher = raw_connect(b->zk);
    latency raw = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
    struct String_vector kids;
    zoo_wget_children(watcher, "/zkdisc/services/watch-raw", raw_child_watch, &raw, &kids);
    raw.known = kids.count;
    deallocate_String_vector(&kids);
    measure(writer, "watch-raw", &raw, b->changes, &rp50, &rp99);
    zookeeper_close(watcher);

    zkd_client *c = zkd_open(b->zk);
    latency zl = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
    zkd_cache *k;
    zkd_error err;
    if (zkd_cache_open(c, "watch-zkd", delta_seen, &zl, &k, &err) || zkd_cache_wait_ready(k, 30000, &err))
        die("cache", err.message);
    measure(writer, "watch-zkd", &zl, b->changes, &zp50, &zp99);
    zkd_cache_close(k);
    zkd_close(c);
    zookeeper_close(writer);

    add_row("watch", "raw ChildrenWatch (event+getChildren), p50", rp50, "ms", rp50);
    add_row("watch", "zkdisc cache delta (event+data read), p50", zp50, "ms", rp50);
    add_row("watch", "raw ChildrenWatch (event+getChildren), p99", rp99, "ms", rp99);
    add_row("watch", "zkdisc cache delta (event+data read), p99", zp99, "ms", rp99);
}

/* ---- 4. select ------------------------------------------------------------------------- */

typedef struct pick_job {
    zkd_balancer *bal; /* NULL: the baseline pick from arr */
    const zkd_instance **arr;
    size_t n;
    uint64_t *counter;
    long iters;
    double took;
} pick_job;

/* The thread's CPU time: on a shared machine a wall clock would also count
 * the time other processes had the core. Contention between the two
 * pickers (cache lines moving between cores) still counts. */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *pick_loop(void *arg)
{
    pick_job *j = arg;
    zkd_error err;
    double t0 = thread_cpu_s();
    for (long k = 0; k < j->iters; k++) {
        zkd_instance *i;
        if (!j->bal)
            i = zkd_instance_ref(j->arr[__atomic_fetch_add(j->counter, 1, __ATOMIC_RELAXED) % j->n]);
        else if (zkd_balancer_select(j->bal, &i, &err))
            die("select", err.message);
        zkd_instance_unref(i);
    }
    j->took = thread_cpu_s() - t0;
    return NULL;
}

/* CPU nanoseconds per pick in each thread, `threads` threads picking at once. */
static double pick_ns(zkd_balancer *bal, const zkd_instance **arr, size_t n, int threads, long iters)
{
    uint64_t counter = 0;
    pthread_t t[2];
    pick_job jobs[2];
    for (int k = 0; k < threads; k++) {
        jobs[k] = (pick_job){bal, arr, n, &counter, iters, 0};
        pthread_create(&t[k], NULL, pick_loop, &jobs[k]);
    }
    double sum = 0;
    for (int k = 0; k < threads; k++) {
        pthread_join(t[k], NULL);
        sum += jobs[k].took;
    }
    return sum / threads / (double)iters * 1e9;
}

static double median5(double *v)
{
    qsort(v, 5, sizeof *v, cmp_double);
    return v[2];
}

static void bench_select(const bench *b)
{
    zhandle_t *zh = raw_connect(b->zk); /* holds the N instances */
    raw_prepare(zh, "select");
    raw_async_creates(zh, "select", b->n);
    zkd_client *c = zkd_open(b->zk);
    zkd_cache *k;
    zkd_balancer *rr, *weighted;
    zkd_error err;
    if (zkd_cache_open(c, "select", NULL, NULL, &k, &err) || zkd_cache_wait_ready(k, 120000, &err))
        die("cache", err.message);
    zkd_balancer_options o;
    zkd_balancer_options_init(&o);
    if (zkd_balancer_new(k, &o, &rr, &err))
        die("balancer", err.message);
    o.strategy = ZKD_PICK_WEIGHTED;
    if (zkd_balancer_new(k, &o, &weighted, &err))
        die("balancer", err.message);
    /* 100 ids in the error table, each marked down. */
    int down = b->n >= 200 ? 100 : b->n / 2;
    for (int d = 0; d < down; d++) {
        char id[32];
        snprintf(id, sizeof id, "i-%06d", d * (b->n / down));
        for (int e = 0; e < o.error_threshold; e++) {
            zkd_balancer_report_error(rr, id);
            zkd_balancer_report_error(weighted, id);
        }
    }
    zkd_snapshot *s = zkd_cache_snapshot(k);
    size_t n = zkd_snapshot_count(s);
    if ((int)n != b->n)
        die("cache", "did not load every instance");
    const zkd_instance **arr = malloc(n * sizeof *arr);
    for (size_t i = 0; i < n; i++)
        arr[i] = zkd_snapshot_at(s, i);

    /* Interleaved rounds, the median of five of each: the machine is shared. */
    const long iters = 1000000;
    double base1[5], sel1[5], base2[5], sel2[5], wsel1[5];
    for (int r = 0; r < 5; r++) {
        base1[r] = pick_ns(NULL, arr, n, 1, iters);
        sel1[r] = pick_ns(rr, arr, n, 1, iters);
        base2[r] = pick_ns(NULL, arr, n, 2, iters);
        sel2[r] = pick_ns(rr, arr, n, 2, iters);
        wsel1[r] = pick_ns(weighted, arr, n, 1, iters);
    }
    double b1 = median5(base1), b2 = median5(base2);
    add_row("select", "O(1) pick: array[atomic counter], 1 thread", b1, "ns", b1);
    add_row("select", "zkd_balancer_select, round-robin, 1 thread", median5(sel1), "ns", b1);
    add_row("select", "zkd_balancer_select, weighted, 1 thread", median5(wsel1), "ns", b1);
    add_row("select", "O(1) pick: array[atomic counter], 2 threads", b2, "ns", b2);
    add_row("select", "zkd_balancer_select, round-robin, 2 threads", median5(sel2), "ns", b2);
    free(arr);
    zkd_snapshot_unref(s);
    zkd_balancer_close(rr);
    zkd_balancer_close(weighted);
    zkd_cache_close(k);
    zkd_close(c);
    zookeeper_close(zh);
}

/* ---- 5. caches ------------------------------------------------------------------------ */

/* Pipelined creates, at most 2,000 in flight. */
void raw_fill(zhandle_t *zh, const char *service, const char *prefix, int n)
{
    char path[256], data[512];
    counter c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    raw_prepare(zh, service);
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&c.mu);
        while (c.left >= 2000)
            pthread_cond_wait(&c.cv, &c.mu);
        c.left++;
        pthread_mutex_unlock(&c.mu);
        snprintf(path, sizeof path, "/zkdisc/services/%s/%s%06d", service, prefix, i);
        record_json(data, sizeof data, service, prefix, i);
        zoo_acreate(zh, path, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE, 0, on_created, &c);
    }
    wait_zero(&c);
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* In a process of its own (zkdisc-bench --memory-child SERVICE:N): the max
 * RSS growth of loading a cache of N instances, per instance, on stdout. */
static int memory_child(const char *zk, const char *service, int n)
{
    zkd_client *c = zkd_open(zk);
    zkd_cache *k;
    zkd_error err;
    /* A small cache first, so that the measure is of instances, not of the
     * code and libraries a first load pages in. */
    if (zkd_cache_open(c, "cache-warm", NULL, NULL, &k, &err) || zkd_cache_wait_ready(k, 60000, &err))
        die("cache", err.message);
    zkd_cache_close(k);
    long before = max_rss_kb();
    if (zkd_cache_open(c, service, NULL, NULL, &k, &err) || zkd_cache_wait_ready(k, 600000, &err))
        die("cache", err.message);
    zkd_snapshot *s = zkd_cache_snapshot(k);
    if ((int)zkd_snapshot_count(s) != n)
        die("cache", "did not load every instance");
    zkd_snapshot_unref(s);
    printf("%.1f\n", (double)(max_rss_kb() - before) * 1024.0 / n);
    zkd_cache_close(k);
    zkd_close(c);
    return 0;
}

double memory_in_child(const bench *b, const char *service, int n)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "/proc/%d/exe --zk '%s' --memory-child %s:%d", (int)getpid(), b->zk,
             service, n);
    FILE *f = popen(cmd, "r");
    double per = -1;
    if (!f || fscanf(f, "%lf", &per) != 1)
        die("memory child", "no answer");
    pclose(f);
    return per;
}

double zkd_cold_load(const char *zk, const char *service, int n)
{
    zkd_client *c = zkd_open(zk);
    double t0 = now_s();
    zkd_cache *k;
    zkd_error err;
    if (zkd_cache_open(c, service, NULL, NULL, &k, &err) || zkd_cache_wait_ready(k, 600000, &err))
        die("cache", err.message);
    double took = now_s() - t0;
    zkd_snapshot *s = zkd_cache_snapshot(k);
    if ((int)zkd_snapshot_count(s) != n)
        die("cache", "did not load every instance");
    zkd_snapshot_unref(s);
    zkd_cache_close(k);
    zkd_close(c);
    return took;
}

static void bench_cache_sizes(const bench *b, zhandle_t *zh)
{
    static const int sizes[] = {10000, 50000};
    static const char *names[] = {"cache-10k", "cache-50k"};
    char rec[512];
    double total = 0;
    for (int i = 0; i < 1000; i++) {
        record_json(rec, sizeof rec, "cache-10k", "i-", i);
        total += (double)strlen(rec);
    }
    double record = total / 1000;
    add_row("cache", "record size (average)", record, "B", 0);
    raw_fill(zh, "cache-warm", "i-", 200);
    for (int s = 0; s < 2; s++) {
        char what[96];
        raw_fill(zh, names[s], "i-", sizes[s]);
        double raw = 0, zkd = 0;
        for (int rep = 0; rep < 2; rep++) { /* interleaved pairs: take the better of each */
            double r = raw_async_reads(zh, names[s]);
            double z = zkd_cold_load(b->zk, names[s], sizes[s]);
            raw = rep == 0 || r < raw ? r : raw;
            zkd = rep == 0 || z < zkd ? z : zkd;
        }
        snprintf(what, sizeof what, "raw pipelined getData, %d", sizes[s]);
        add_row("cache", strdup(what), raw, "s", raw);
        snprintf(what, sizeof what, "cache cold load, %d", sizes[s]);
        add_row("cache", strdup(what), zkd, "s", raw);
        double per = memory_in_child(b, names[s], sizes[s]);
        snprintf(what, sizeof what, "max RSS growth per instance, %d", sizes[s]);
        add_row("cache", strdup(what), per, "B", 0);
        report_pairs(s == 0 ? "memory_10k" : "memory_50k", &per, &record, 1, "B");
        snprintf(what, sizeof what, "  that / the record's size, %d", sizes[s]);
        add_row("cache", strdup(what), per / record, "x", 0);
    }
}

/* The fair raw baseline for a cache delta: the children watch, then a read
 * of the new child's data, reported when that read answers. */
static void raw_child_data(int rc, const char *value, int len, const struct Stat *st, const void *data)
{
    (void)value, (void)len, (void)st;
    latency *l = (latency *)data;
    if (rc != ZOK)
        return;
    pthread_mutex_lock(&l->mu);
    l->seen++;
    l->at = now_s();
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

static void raw_children_then_data(int rc, const struct String_vector *sv, const void *data);

static void raw_child_data_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)state;
    if (type == ZOO_CHILD_EVENT)
        zoo_awget_children(zh, path, raw_child_data_watch, ctx, raw_children_then_data, ctx);
}

static zhandle_t *raw_data_zh;

static void raw_children_then_data(int rc, const struct String_vector *sv, const void *data)
{
    latency *l = (latency *)data;
    if (rc != ZOK)
        return;
    /* The children are w-000000, w-000001, ... in order of creation. */
    for (; l->known < sv->count; l->known++) {
        char path[256];
        snprintf(path, sizeof path, "/zkdisc/services/lat-raw/w-%06d", l->known);
        zoo_aget(raw_data_zh, path, 0, raw_child_data, l);
    }
}

static void bench_cache_latency(const bench *b, zhandle_t *writer)
{
    enum { N = 1000 };
    raw_prepare(writer, "lat-raw");
    raw_prepare(writer, "lat-zkd");
    double rp50, rp99, zp50, zp99;
    raw_data_zh = raw_connect(b->zk);
    latency raw = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
    struct String_vector kids;
    zoo_wget_children(raw_data_zh, "/zkdisc/services/lat-raw", raw_child_data_watch, &raw, &kids);
    raw.known = kids.count;
    deallocate_String_vector(&kids);
    measure(writer, "lat-raw", &raw, N, &rp50, &rp99);
    zookeeper_close(raw_data_zh);

    zkd_client *c = zkd_open(b->zk);
    latency zl = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
    zkd_cache *k;
    zkd_error err;
    if (zkd_cache_open(c, "lat-zkd", delta_seen, &zl, &k, &err) || zkd_cache_wait_ready(k, 30000, &err))
        die("cache", err.message);
    measure(writer, "lat-zkd", &zl, N, &zp50, &zp99);
    zkd_cache_close(k);
    zkd_close(c);
    add_row("cache", "raw children watch + getData, 1,000, p50", rp50, "ms", rp50);
    add_row("cache", "cache delta, 1,000 creates, p50", zp50, "ms", rp50);
    add_row("cache", "raw children watch + getData, 1,000, p99", rp99, "ms", rp99);
    add_row("cache", "cache delta, 1,000 creates, p99", zp99, "ms", rp99);
}

static int is_fresh_n(zkd_cache *k, int n)
{
    zkd_snapshot *s = zkd_cache_snapshot(k);
    int ok = !zkd_snapshot_stale(s) && (int)zkd_snapshot_count(s) == n;
    zkd_snapshot_unref(s);
    return ok;
}

static double reconnected_at;

static void note_reconnect(zkd_client *c, zkd_session_event ev, void *ctx)
{
    (void)c, (void)ctx;
    double t = now_s();
    if (ev == ZKD_SESSION_RECONNECTED)
        __atomic_store(&reconnected_at, &t, __ATOMIC_SEQ_CST);
}

/* Stops our server and starts it again; returns when it serves. */
static double restart_server(const bench *b)
{
    char e[2048];
    if (zks_stop(b->srv, 30000, e, sizeof e) || zks_spawn(b->srv, ZKS_SPAWN_PDEATHSIG, e, sizeof e) ||
        zks_wait_serving(b->srv, 0, 120000, e, sizeof e))
        die("restart", e);
    return now_s();
}

/* The baseline: a raw client (no watches) whose server restarted inside
 * its session timeout re-reads every instance's data, pipelined. From its
 * reconnect to the last answer: the C client's reconnect is the same for
 * both, and now and then takes 16-20 s (a connect made while the server
 * starts waits out 2/3 of the session timeout), which would swamp both. */
static double raw_recovery(const bench *b, zhandle_t *zh)
{
    double back = restart_server(b);
    while (zoo_state(zh) != ZOO_CONNECTED_STATE) {
        if (now_s() - back > 300)
            die("raw recovery", "no reconnect within 300 s");
        usleep(1000);
    }
    double at = now_s();
    raw_async_reads(zh, "recover");
    if (!b->json)
        fprintf(stderr, "zkdisc-bench: raw re-read of %d: reconnected %.3f s after the server "
                "served again, read %.3f s later\n", b->recovery, at - back, now_s() - at);
    return now_s() - at;
}

/* A cache of n instances of `service`, its server restarted inside the
 * session timeout: from the reconnect to the cache being fresh (not stale,
 * every instance there). Opened and closed around the restart, so that it
 * is not recovering while the raw client measures. From the reconnect, not
 * from the bench seeing the server serve: the client may reconnect, and
 * even recover, before the bench's poll sees the server (seen: 1.3 s). */
double zkd_recovery_of(const bench *b, const char *service, int n)
{
    zkd_client *c = zkd_open(b->zk);
    zkd_cache *k;
    zkd_error err;
    if (zkd_cache_open(c, service, NULL, NULL, &k, &err) || zkd_cache_wait_ready(k, 600000, &err))
        die("cache", err.message);
    zkd_session_subscribe(c, note_reconnect, NULL, NULL, NULL);
    double none = 0;
    __atomic_store(&reconnected_at, &none, __ATOMIC_SEQ_CST);
    double back = restart_server(b);
    while (!is_fresh_n(k, n)) {
        if (now_s() - back > 300)
            die("recovery", "not fresh within 300 s");
        usleep(5000);
    }
    double at;
    __atomic_load(&reconnected_at, &at, __ATOMIC_SEQ_CST);
    if (at == 0)
        at = back; /* not a reconnect (the session expired): from the restart */
    double took = now_s() - at;
    if (!b->json)
        fprintf(stderr, "zkdisc-bench: recovery of %d: reconnected %.3f s after the server served "
                "again, fresh %.3f s later\n", n, at - back, took);
    zkd_cache_close(k);
    zkd_close(c);
    return took;
}

/* Recovery against its baseline after the same event (a restart: a server
 * whose JVM starts cold again, both timed from their reconnect), in
 * RECOVERY_ROUNDS interleaved pairs (which goes first alternates); the
 * report takes the median pair's ratio, the table the better of each side.
 * A warm server's re-read is shown too, without a ratio. One pair ranged
 * 0.90x-1.13x across runs of the same code: a single pair decides nothing
 * against a 1.1x bound. */
enum { RECOVERY_ROUNDS = 4 };

static void bench_cache_recovery(const bench *b, zhandle_t *zh)
{
    if (!b->srv || b->recovery <= 0)
        return;
    raw_fill(zh, "recover", "i-", b->recovery);
    double warm = raw_async_reads(zh, "recover"), raw = 0, zkd = 0;
    double raws[RECOVERY_ROUNDS], zkds[RECOVERY_ROUNDS];
    for (int r = 0; r < RECOVERY_ROUNDS; r++) {
        double z = r % 2 ? zkd_recovery_of(b, "recover", b->recovery) : 0;
        double w = raw_recovery(b, zh);
        if (!(r % 2))
            z = zkd_recovery_of(b, "recover", b->recovery);
        raws[r] = w;
        zkds[r] = z;
        raw = r == 0 || w < raw ? w : raw;
        zkd = r == 0 || z < zkd ? z : zkd;
    }
    char what[96];
    snprintf(what, sizeof what, "raw pipelined getData, warm server, %d", b->recovery);
    add_row("cache", strdup(what), warm, "s", 0);
    snprintf(what, sizeof what, "raw re-read after a restart's reconnect, %d", b->recovery);
    add_row("cache", strdup(what), raw, "s", raw);
    snprintf(what, sizeof what, "fresh after a restart's reconnect, %d", b->recovery);
    add_row("cache", strdup(what), zkd, "s", raw);
    report_pairs("recovery", zkds, raws, RECOVERY_ROUNDS, "s");
}

static void bench_recovery(const bench *b)
{
    zhandle_t *zh = raw_connect(b->zk);
    bench_cache_recovery(b, zh);
    zookeeper_close(zh);
}

/* bench_cache.c: a change's cost at 1,000, 10,000 and 50,000 instances. */
static void bench_cache_change(const bench *b)
{
    static const int sizes[] = {1000, 10000, 50000};
    char err[256];
    if (bench_cache_changes(b->zk, sizes, 3, b->changes < 200 ? b->changes : 200, add_row, err,
                            sizeof err))
        die("cache-change", err);
}

static void bench_cache(const bench *b)
{
    zhandle_t *zh = raw_connect(b->zk);
    bench_cache_sizes(b, zh);
    bench_cache_latency(b, zh);
    zookeeper_close(zh);
}

/* ---- main ------------------------------------------------------------------------------ */

/* ---- 6. the request layer -------------------------------------------------------- */

static int count_node(const zkd_walk_node *n, void *ctx)
{
    (void)n;
    (*(int *)ctx)++;
    return 0;
}

/* What one request costs through zkdisc's request layer (window, queue,
 * answer handed to the waiting thread) against the raw client's own call:
 * one synchronous getData at a time, and a pipelined read of every node. */
static void bench_request(const bench *b)
{
    int n = b->n / 5 > 0 ? b->n / 5 : 1;
    zhandle_t *zh = raw_connect(b->zk);
    zoo_create(zh, "/zkdisc-bench-req", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    char path[128], data[512];
    counter c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, n};
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "/zkdisc-bench-req/n-%06d", i);
        record_json(data, sizeof data, "req", "n-", i);
        zoo_acreate(zh, path, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE, 0, on_created, &c);
    }
    wait_zero(&c);
    zkd_client *zc = zkd_open(b->zk);
    double raw = 0, ours = 0;
    for (int round = 0; round < 2; round++) { /* interleaved: the load drifts */
        double t0 = now_s();
        for (int i = 0; i < n; i++) {
            char buf[4096];
            int len = sizeof buf;
            snprintf(path, sizeof path, "/zkdisc-bench-req/n-%06d", i);
            zoo_get(zh, path, 0, buf, &len, NULL);
        }
        raw += now_s() - t0;
        t0 = now_s();
        for (int i = 0; i < n; i++) {
            char *got = NULL;
            snprintf(path, sizeof path, "/zkdisc-bench-req/n-%06d", i);
            if (zkd_node_get(zc, path, &got, NULL, NULL, NULL) == 0)
                zkd_free(got);
        }
        ours += now_s() - t0;
    }
    add_row("request", "getData one at a time, per read (ms)", ours / (2.0 * n) * 1e3, "ms",
            raw / (2.0 * n) * 1e3);
    raw = ours = 0;
    for (int round = 0; round < 2; round++) {
        counter r = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, n};
        double t0 = now_s();
        struct String_vector kids;
        zoo_get_children(zh, "/zkdisc-bench-req", 0, &kids);
        for (int i = 0; i < kids.count; i++) {
            snprintf(path, sizeof path, "/zkdisc-bench-req/%s", kids.data[i]);
            zoo_aget(zh, path, 0, on_got, &r);
        }
        wait_zero(&r);
        raw += now_s() - t0;
        deallocate_String_vector(&kids);
        zkd_walk_options wo;
        zkd_walk_options_init(&wo);
        wo.want_data = 1;
        int seen = 0;
        t0 = now_s();
        zkd_walk(zc, "/zkdisc-bench-req", &wo, count_node, &seen, NULL);
        ours += now_s() - t0;
    }
    add_row("request", "pipelined read of every node (zkd_walk)", ours / 2, "s", raw / 2);
    zkd_node_delete_tree(zc, "/zkdisc-bench-req", -1, NULL, NULL);
    zkd_close(zc);
    zookeeper_close(zh);
}

/* ---- the CLI as a whole process ------------------------------------------------- */

int bench_free_port(int udp_too)
{
    int port;
    char err[256];
    if ((udp_too ? zks_free_tcp_udp_port(&port, err, sizeof err) : zks_free_port(&port, err, sizeof err)) != 0)
        die("a free port", err);
    return port;
}

/* `rel` resolved beside this binary (in the build tree). */
void beside_self(char *out, size_t len, const char *rel)
{
    ssize_t n = readlink("/proc/self/exe", out, len - 128);
    char *slash = n > 0 ? memrchr(out, '/', (size_t)n) : NULL;
    if (!slash)
        die("cli", "cannot find this binary's directory");
    snprintf(slash + 1, 127, "%s", rel);
}

/* Wall time of one process run to its end, stdout to /dev/null. */
double run_timed(char *const argv[])
{
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, STDOUT_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die(argv[0], "failed");
    return now_s() - t0;
}

static void bench_cli(const bench *b)
{
    char service[64], path[128], cli[4096], raw[4096];
    snprintf(service, sizeof service, "cli-%d", b->n);
    snprintf(path, sizeof path, "/zkdisc/services/%s", service);
    if (b->cli)
        snprintf(cli, sizeof cli, "%s", b->cli);
    else
        beside_self(cli, sizeof cli, "../zkdisc/zkdisc");
    beside_self(raw, sizeof raw, "zkdisc-bench-raw-list");
    zhandle_t *zh = raw_connect(b->zk);
    raw_fill(zh, service, "", b->n);
    char *cli_argv[] = {cli, "--zk", (char *)b->zk, "-o", "json", "instances", service, NULL};
    char *raw_argv[] = {raw, (char *)b->zk, path, NULL};
    run_timed(cli_argv); /* warm: page cache, the server's JIT */
    run_timed(raw_argv);
    /* Each process's wall time is mostly the server's; single pairs ranged
     * 0.5x-2.3x in one run, and the median of 9 read 0.91x-1.42x over runs
     * of the same code. */
    enum { PAIRS = 15 };
    double ratio[PAIRS], tc[PAIRS], tr[PAIRS];
    for (int p = 0; p < PAIRS; p++) { /* alternate which goes first */
        if (p & 1) {
            tr[p] = run_timed(raw_argv);
            tc[p] = run_timed(cli_argv);
        } else {
            tc[p] = run_timed(cli_argv);
            tr[p] = run_timed(raw_argv);
        }
        ratio[p] = tc[p] / tr[p];
    }
    report_pairs("cli_list", tc, tr, PAIRS, "s");
    qsort(ratio, PAIRS, sizeof *ratio, cmp_double);
    qsort(tc, PAIRS, sizeof *tc, cmp_double);
    qsort(tr, PAIRS, sizeof *tr, cmp_double);
    static char what[80];
    snprintf(what, sizeof what, "zkdisc -o json instances, %d (process)", b->n);
    add_row("cli", "raw pipelined list as a process (median)", tr[PAIRS / 2], "s", tr[PAIRS / 2]);
    add_row("cli", what, tc[PAIRS / 2], "s", tr[PAIRS / 2]);
    fprintf(stderr, "zkdisc-bench: cli/raw median ratio %.2fx (pairs %.2f-%.2f) at %d instances\n",
            ratio[PAIRS / 2], ratio[0], ratio[PAIRS - 1], b->n);
    zookeeper_close(zh);
}

/* ---- the agent ------------------------------------------------------------------- */

static void bench_agent(const bench *b)
{
    char path[4096], err[512];
    const char *agent = b->agent;
    if (!agent) { /* beside this binary in the build tree */
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 64);
        char *slash = n > 0 ? memrchr(path, '/', (size_t)n) : NULL;
        if (!slash)
            die("agent", "cannot find zkdisc-agent: give --agent PATH");
        strcpy(slash, "/../zkdisc-agent/zkdisc-agent");
        agent = path;
    }
    bench_agent_result r;
    if (bench_agent_run(agent, b->zk, b->agent_checks, b->agent_seconds, &r, err, sizeof err) != 0)
        die("agent", err);
    if (r.agent_cpu <= 0 || r.loop_cpu <= 0 || r.agent_requests <= 0 || r.loop_requests <= 0)
        die("agent", "no CPU time measured: give more --agent-checks or --agent-seconds");
    static char what[2][80];
    snprintf(what[0], sizeof what[0], "%d http checks at 1 s: CPU, %% of a core", b->agent_checks);
    snprintf(what[1], sizeof what[1], "%d http checks at 1 s: CPU per request", b->agent_checks);
    add_row("agent", what[0], 100 * r.agent_cpu / r.seconds, "%", 100 * r.loop_cpu / r.seconds);
    add_row("agent", what[1], 1e6 * r.agent_cpu / r.agent_requests, "us",
            1e6 * r.loop_cpu / r.loop_requests);
    if (!b->json)
        fprintf(stderr, "zkdisc-bench: agent %.0f probes, loop %.0f requests in %d s\n", r.agent_requests,
                r.loop_requests, r.seconds);
}

/* ---- groups ------------------------------------------------------------------- */

/* Every group; `dflt` ones run without --only. --report runs them all. */
static const struct group {
    const char *name;
    void (*run)(const bench *);
    int dflt;
} groups[] = {
    {"register", bench_register, 1}, {"read", bench_read, 1},   {"watch", bench_watch, 1},
    {"select", bench_select, 1},     {"request", bench_request, 1}, {"cache", bench_cache, 1},
    {"cli", bench_cli, 0},           {"agent", bench_agent, 0},  {"scale", bench_scale, 0},
    {"dns", bench_dns, 0},           {"haproxy", bench_haproxy, 0},
    {"cache-change", bench_cache_change, 1}, {"recovery", bench_recovery, 1},
};

/* Is `name` in the comma-separated list? */
static int listed(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (!strncmp(p, name, len) && (p[len] == ',' || !p[len]))
            return 1;
    return 0;
}

static int known_groups(const char *list)
{
    for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        size_t len = strcspn(p, ","), g = 0;
        while (g < sizeof groups / sizeof *groups &&
               (strlen(groups[g].name) != len || strncmp(groups[g].name, p, len)))
            g++;
        if (g == sizeof groups / sizeof *groups)
            return 0;
    }
    return 1;
}

/* Runs the chosen groups; the number that failed on their own (scale). */
static int run_groups(const bench *b, int all)
{
    int failed = 0;
    for (size_t g = 0; g < sizeof groups / sizeof *groups; g++)
        if (b->only ? listed(b->only, groups[g].name) : all || groups[g].dflt) {
            int before = bench_failures;
            groups[g].run(b);
            failed += bench_failures != before;
        }
    return failed;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: zkdisc-bench [--zk HOSTS] [--instances N] [--changes N] [-o text|json]\n\n"
                 "Measures zkdisc against the raw ZooKeeper C client in one run and prints each\n"
                 "result with its speed-up over the baseline. Without --zk a standalone server\n"
                 "is started on a free loopback port (needs java and the zookeeper package).\n"
                 "  --instances N  instances to register and read (default 10000)\n"
                 "  --changes N    samples for the watch latency (default 500)\n"
                 "  --only cache   run only the cache measures (also: register, read, watch,\n"
                 "                 select, request, recovery)\n"
                 "  --only cache-change  only a change's cost to a cache at 1,000, 10,000 and\n"
                 "                 50,000 instances against a raw data watch, and heap per instance\n"
                 "  --only cli     only `zkdisc -o json instances` of N as a process against a\n"
                 "                 raw C client lister (interleaved pairs, median ratio); --cli\n"
                 "                 PATH names zkdisc\n"
                 "  --only agent   only the agent's CPU for --agent-checks http checks at 1 s\n"
                 "                 (default 500) over --agent-seconds (default 20) against a\n"
                 "                 plain libcurl-multi loop; --agent PATH names zkdisc-agent\n"
                 "  --recovery N   instances for the recovery measure (default 100000, 0: skip;\n"
                 "                 needs the bench's own server, which it restarts)\n"
                 "  --only scale   each step (cli, load, recovery, memory, agent) at --sizes\n"
                 "                 (default 1000,10000,50000,100000; --steps picks steps); exits\n"
                 "                 1 when a step grows more than 1.3x faster than N\n"
                 "  --only dns     agent/dnsmasq answers/s (runs tests/agent_consumers/bench_dns.sh)\n"
                 "  --only haproxy `zkdisc register` to HAProxy serving it, against a kazoo\n"
                 "                 ChildrenWatch (/usr/bin/python3 with python3-kazoo)\n"
                 "  --only A,B     several groups\n"
                 "  --report       every group (or those of --only), then the README's table in\n"
                 "                 Markdown; exits 1 when a measured claim misses its target\n"
                 "The ZooKeeper server should be idle: other load skews the ratios.\n");
}

/* "1000,10000": ascending, positive, at most max - 1 of them; else sizes[0] = 0. */
static void parse_sizes(const char *arg, int *sizes, int max)
{
    int k = 0;
    for (const char *p = arg; p && k < max - 1; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        sizes[k] = atoi(p);
        if (sizes[k] <= 0 || (k && sizes[k] <= sizes[k - 1])) {
            sizes[0] = 0;
            return;
        }
        k++;
    }
    sizes[k] = 0;
}

int main(int argc, char **argv)
{
    bench b = {.n = 10000, .changes = 500, .recovery = 100000, .agent_checks = 500, .agent_seconds = 20};
    const char *memory_child_arg = NULL;
    int report = 0;
    static int sizes[16] = {1000, 10000, 50000, 100000};
    b.sizes = sizes;
    static const struct option lo[] = {{"zk", required_argument, NULL, 'z'},
                                       {"instances", required_argument, NULL, 'n'},
                                       {"changes", required_argument, NULL, 'c'},
                                       {"output", required_argument, NULL, 'o'},
                                       {"only", required_argument, NULL, 'O'},
                                       {"recovery", required_argument, NULL, 'r'},
                                       {"memory-child", required_argument, NULL, 'M'},
                                       {"agent", required_argument, NULL, 'A'},
                                       {"cli", required_argument, NULL, 'C'},
                                       {"agent-checks", required_argument, NULL, 'K'},
                                       {"agent-seconds", required_argument, NULL, 'S'},
                                       {"report", no_argument, NULL, 'R'},
                                       {"sizes", required_argument, NULL, 's'},
                                       {"steps", required_argument, NULL, 'T'},
                                       {"help", no_argument, NULL, 'h'},
                                       {0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        switch (opt) {
        case 'z': b.zk = optarg; break;
        case 'n': b.n = atoi(optarg); break;
        case 'c': b.changes = atoi(optarg); break;
        case 'o': b.json = !strcmp(optarg, "json"); break;
        case 'O': b.only = optarg; break;
        case 'r': b.recovery = atoi(optarg); break;
        case 'M': memory_child_arg = optarg; break;
        case 'A': b.agent = optarg; break;
        case 'C': b.cli = optarg; break;
        case 'K': b.agent_checks = atoi(optarg); break;
        case 'S': b.agent_seconds = atoi(optarg); break;
        case 'R': report = 1; break;
        case 's': parse_sizes(optarg, sizes, 16); break;
        case 'T': b.steps = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (b.n <= 0 || b.changes <= 0 || b.agent_checks <= 0 || b.agent_seconds <= 0 || optind != argc ||
        !sizes[0] || (b.only && !known_groups(b.only))) {
        usage(stderr);
        return 2;
    }
    zoo_set_debug_level(0);
    if (memory_child_arg) { /* SERVICE:N, against --zk */
        const char *colon = strchr(memory_child_arg, ':');
        char service[128];
        if (!b.zk || !colon || (size_t)(colon - memory_child_arg) >= sizeof service)
            return 2;
        snprintf(service, sizeof service, "%.*s", (int)(colon - memory_child_arg), memory_child_arg);
        return memory_child(b.zk, service, atoi(colon + 1));
    }
    zks_server srv = {.exit_status = -1};
    char err[2048], connect[64];
    if (!b.zk) {
        if (zks_make_tempdir(NULL, "zkdisc-bench-", srv.dir, sizeof srv.dir, err, sizeof err) ||
            zks_assign_ports(&srv, 1, err, sizeof err) || zks_write_config(&srv, 1, 0, err, sizeof err) ||
            zks_spawn(&srv, ZKS_SPAWN_PDEATHSIG, err, sizeof err) ||
            zks_wait_serving(&srv, 0, 60000, err, sizeof err))
            die("local ZooKeeper", err);
        snprintf(connect, sizeof connect, "127.0.0.1:%d", srv.client_port);
        b.zk = connect;
        b.srv = &srv;
        if (!b.json)
            fprintf(stderr, "zkdisc-bench: local ZooKeeper at %s\n", connect);
    }
    int failed = run_groups(&b, report);
    print_rows(&b);
    if (report)
        failed += report_print();
    if (srv.pid > 0) {
        zks_stop(&srv, 10000, NULL, 0);
        zks_remove_tree(srv.dir, NULL, 0);
    }
    return failed ? 1 : 0;
}
