/* SPDX-License-Identifier: Apache-2.0 */
/* zkdisc-bench's cache scale group: what one change costs a cache as the
 * service grows, and the memory a cached instance takes.
 *
 * A change is a setData of one instance. The baseline is what any client
 * must do to see it: a raw data watch that, on its event, reads the node
 * again with a new watch (constant in N). It watches a node of its own
 * service, so that its rounds do not wake the cache. Rounds of each
 * alternate, and the latencies of all rounds are pooled; the CPU is the
 * whole process's (the writer's share is the same in both). */
#include "bench.h"
#include "bench_cache.h"

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zkdisc/zkdisc.h>
#include <zookeeper/zookeeper.h>

#define ROUNDS 3

typedef struct seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long count;
    double at;
} seen;

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void note(seen *s)
{
    pthread_mutex_lock(&s->mu);
    s->count++;
    s->at = now_s();
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* 0 when `s` has counted past `before` within 10 s. */
static int wait_past(seen *s, long before, double *at)
{
    double end = now_s() + 10;
    pthread_mutex_lock(&s->mu);
    while (s->count <= before && now_s() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    int ok = s->count > before;
    *at = s->at;
    pthread_mutex_unlock(&s->mu);
    return ok ? 0 : -1;
}

/* ---- the raw ZooKeeper client --------------------------------------------- */

static void record(char *buf, size_t len, const char *service, int i, int port)
{
    snprintf(buf, len,
             "{\"name\":\"%s\",\"id\":\"i-%06d\",\"address\":\"10.%d.%d.%d\",\"port\":%d,"
             "\"sslPort\":null,\"payload\":{\"weight\":100},\"registrationTimeUTC\":1732456789000,"
             "\"serviceType\":\"DYNAMIC\",\"uriSpec\":null}",
             service, i, (i >> 16) & 255, (i >> 8) & 255, i & 255, port);
}

typedef struct window {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight;
} window;

static void created(int rc, const char *value, const void *data)
{
    (void)rc, (void)value;
    window *w = (window *)data;
    pthread_mutex_lock(&w->mu);
    w->inflight--;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* The service with instances i-000000.. (pipelined, 2,000 in flight). */
static void fill(zhandle_t *zh, const char *service, int n)
{
    char path[256], data[512];
    window w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    zoo_create(zh, "/zkdisc", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    zoo_create(zh, "/zkdisc/services", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    snprintf(path, sizeof path, "/zkdisc/services/%s", service);
    zoo_create(zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&w.mu);
        while (w.inflight >= 2000)
            pthread_cond_wait(&w.cv, &w.mu);
        w.inflight++;
        pthread_mutex_unlock(&w.mu);
        snprintf(path, sizeof path, "/zkdisc/services/%s/i-%06d", service, i);
        record(data, sizeof data, service, i, 8080);
        if (zoo_acreate(zh, path, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE, 0, created, &w) != ZOK)
            created(0, NULL, &w);
    }
    pthread_mutex_lock(&w.mu);
    while (w.inflight > 0)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
}

/* The baseline subscriber: a data watch, and on its event a read with a
 * new watch; the change is seen when that read answers. */
static void raw_data_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx);

static void raw_data(int rc, const char *value, int len, const struct Stat *st, const void *data)
{
    (void)value, (void)len, (void)st;
    if (rc == ZOK)
        note((seen *)data);
}

static void raw_data_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)state;
    if (type == ZOO_CHANGED_EVENT)
        zoo_awget(zh, path, raw_data_watch, ctx, raw_data, ctx);
}

/* The baseline for a create: a children watch that, on its event, lists
 * the children again with a new watch and reads the data of each child it
 * had not seen (the new ones are named i-<n>, i-<n+1>...). */
typedef struct raw_kids {
    seen s;
    zhandle_t *zh;
    const char *service;
    int known;
} raw_kids;

static void raw_kid_data(int rc, const char *value, int len, const struct Stat *st, const void *data)
{
    (void)value, (void)len, (void)st;
    if (rc == ZOK)
        note(&((raw_kids *)data)->s);
}

static void raw_kids_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx);

static void raw_kids_list(int rc, const struct String_vector *sv, const void *data)
{
    raw_kids *r = (raw_kids *)data;
    if (rc != ZOK)
        return;
    for (; r->known < sv->count; r->known++) {
        char path[256];
        snprintf(path, sizeof path, "/zkdisc/services/%s/i-%06d", r->service, r->known);
        zoo_aget(r->zh, path, 0, raw_kid_data, r);
    }
}

static void raw_kids_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)state;
    if (type == ZOO_CHILD_EVENT)
        zoo_awget_children(zh, path, raw_kids_watch, ctx, raw_kids_list, ctx);
}

/* `count` creates of i-<from>.. under `service`, each once `s` has seen
 * the last: the latencies in ms to ms[0..count). */
static int creates_of(zhandle_t *writer, const char *service, int from, int count, seen *s,
                      double *ms)
{
    char path[256], data[512];
    for (int k = 0; k < count; k++) {
        pthread_mutex_lock(&s->mu);
        long before = s->count;
        pthread_mutex_unlock(&s->mu);
        snprintf(path, sizeof path, "/zkdisc/services/%s/i-%06d", service, from + k);
        record(data, sizeof data, service, from + k, 8080);
        double t0 = now_s(), at;
        if (zoo_create(writer, path, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0) !=
                ZOK ||
            wait_past(s, before, &at))
            return -1;
        ms[k] = (at - t0) * 1000;
    }
    return 0;
}

/* ---- the zkdisc cache ------------------------------------------------------- */

static void cache_seen(zkd_cache *k, const zkd_delta *d, size_t n, void *ctx)
{
    (void)k, (void)d, (void)n;
    note(ctx);
}

static size_t heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static double percentile(double *v, size_t n, int pct)
{
    qsort(v, n, sizeof *v, cmp_double);
    size_t at = n * (size_t)pct / 100;
    return v[at < n ? at : n - 1];
}

/* `changes` setData of `path`, each once `s` has seen the last: the
 * latencies in ms to ms[0..changes), the process CPU in seconds. */
static int round_of(zhandle_t *writer, const char *service, const char *path, int i, seen *s,
                    int changes, int port0, double *ms, double *cpu)
{
    char data[512];
    double c0 = cpu_s();
    for (int k = 0; k < changes; k++) {
        pthread_mutex_lock(&s->mu);
        long before = s->count;
        pthread_mutex_unlock(&s->mu);
        record(data, sizeof data, service, i, port0 + k);
        double t0 = now_s(), at;
        if (zoo_set(writer, path, data, (int)strlen(data), -1) != ZOK || wait_past(s, before, &at))
            return -1;
        ms[k] = (at - t0) * 1000;
    }
    *cpu = cpu_s() - c0;
    return 0;
}

typedef struct figures {
    double raw_p50, raw_p95, raw_cpu_ms;
    double zkd_p50, zkd_p95, zkd_cpu_ms;
    double heap_per_instance;
    double record_heap; /* an instance's own allocation */
    double zk_watch;    /* the C client's heap per data watch */
    double record_text; /* the record's bytes */
} figures;

static void nothing(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh, (void)type, (void)state, (void)path, (void)ctx;
}

static void got_one(int rc, const char *value, int len, const struct Stat *st, const void *data)
{
    (void)value, (void)len, (void)st;
    created(rc, NULL, data);
}

/* The ZooKeeper C client's heap per data watch: a raw client arms one on
 * each of the n instances (pipelined reads with a watcher). */
static double zk_watch_heap(const char *zk, const char *service, int n)
{
    zhandle_t *zh = raw_connect(zk);
    if (!zh)
        return -1;
    window w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    malloc_trim(0);
    size_t before = heap_bytes();
    char path[256];
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&w.mu);
        while (w.inflight >= 2000)
            pthread_cond_wait(&w.cv, &w.mu);
        w.inflight++;
        pthread_mutex_unlock(&w.mu);
        snprintf(path, sizeof path, "/zkdisc/services/%s/i-%06d", service, i);
        if (zoo_awget(zh, path, nothing, NULL, got_one, &w) != ZOK)
            created(0, NULL, &w);
    }
    pthread_mutex_lock(&w.mu);
    while (w.inflight > 0)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    double per = ((double)heap_bytes() - (double)before) / n;
    zookeeper_close(zh);
    return per;
}

static int measure_size(const char *zk, zhandle_t *writer, int n, int changes, figures *f,
                        char *err, size_t errlen)
{
    char service[64], raw_service[64], path[256], raw_path[256];
    snprintf(service, sizeof service, "chg-%d", n);
    snprintf(raw_service, sizeof raw_service, "chg-raw-%d", n);
    fill(writer, service, n);
    fill(writer, raw_service, 1);
    snprintf(path, sizeof path, "/zkdisc/services/%s/i-%06d", service, n / 2);
    snprintf(raw_path, sizeof raw_path, "/zkdisc/services/%s/i-%06d", raw_service, 0);

    f->zk_watch = zk_watch_heap(zk, service, n);
    char text[512];
    record(text, sizeof text, service, n / 2, 8080);
    f->record_text = (double)strlen(text);
    zhandle_t *watcher = raw_connect(zk);
    seen raw = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    if (!watcher || zoo_awget(watcher, raw_path, raw_data_watch, &raw, raw_data, &raw) != ZOK) {
        snprintf(err, errlen, "raw watcher: cannot connect");
        return -1;
    }
    double at;
    wait_past(&raw, 0, &at); /* the first read */

    zkd_options o;
    zkd_options_init(&o);
    o.connect = zk;
    o.session_timeout_ms = 30000;
    o.request_timeout_ms = 30000;
    zkd_client *c;
    zkd_cache *k = NULL;
    zkd_error e;
    seen mine = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    malloc_trim(0);
    size_t heap0 = 0;
    int rc = zkd_connect(&o, &c, &e);
    if (!rc) {
        heap0 = heap_bytes();
        rc = zkd_cache_open(c, service, cache_seen, &mine, &k, &e);
    }
    if (!rc)
        rc = zkd_cache_wait_ready(k, 600000, &e);
    if (rc) {
        snprintf(err, errlen, "cache of %d: %s", n, e.message);
        zookeeper_close(watcher);
        return -1;
    }
    zkd_snapshot *snap = zkd_cache_snapshot(k);
    size_t loaded = zkd_snapshot_count(snap);
    const zkd_instance *one = zkd_snapshot_find(snap, "i-000000");
    f->record_heap = one ? (double)malloc_usable_size((void *)one) + 8 : 0;
    zkd_snapshot_unref(snap);
    f->heap_per_instance = (double)(heap_bytes() - heap0) / (double)n;

    size_t total = (size_t)changes * ROUNDS;
    double *rms = calloc(total, sizeof *rms), *zms = calloc(total, sizeof *zms);
    double rcpu = 0, zcpu = 0;
    rc = loaded == (size_t)n && rms && zms ? 0 : -1;
    for (int r = 0; !rc && r < ROUNDS; r++) { /* interleaved rounds */
        double a, b;
        rc = round_of(writer, raw_service, raw_path, 0, &raw, changes, 20000 + r * changes,
                      rms + (size_t)r * changes, &a) ||
             round_of(writer, service, path, n / 2, &mine, changes, 20000 + r * changes,
                      zms + (size_t)r * changes, &b);
        rcpu += a;
        zcpu += b;
    }
    if (rc) {
        snprintf(err, errlen, "%d instances: a change was not seen within 10 s", n);
    } else {
        f->raw_p50 = percentile(rms, total, 50);
        f->raw_p95 = percentile(rms, total, 95);
        f->zkd_p50 = percentile(zms, total, 50);
        f->zkd_p95 = percentile(zms, total, 95);
        f->raw_cpu_ms = rcpu * 1000 / (double)total;
        f->zkd_cpu_ms = zcpu * 1000 / (double)total;
    }
    free(rms);
    free(zms);
    zkd_cache_close(k);
    zkd_close(c);
    zookeeper_close(watcher);
    return rc;
}

/* Creates in CREATE_ROUNDS rounds, each create of one side taken next to
 * one of the other (which goes first alternates): p[] the p50/p95 of each
 * side over all of them, and each round's p50, p95 and p99 as pairs
 * (zr[k][r] against rr[k][r]). Twelve rounds of `count` / 2 creates (100
 * at the bench's 200): with six, the median of the p95 pairs ranged from
 * 0.99x to 1.12x in five runs of the same code. */
enum { CREATE_ROUNDS = 12 };
static const int round_pct[3] = {50, 95, 99};

static int measure_creates(const char *zk, zhandle_t *writer, int n, int count, double p[4],
                           double zr_pct[3][CREATE_ROUNDS], double rr_pct[3][CREATE_ROUNDS],
                           char *err, size_t errlen)
{
    char service[64], raw_service[64], path[256];
    snprintf(service, sizeof service, "new-%d", n);
    snprintf(raw_service, sizeof raw_service, "new-raw-%d", n);
    fill(writer, service, n);
    fill(writer, raw_service, n);
    raw_kids raw = {{PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0}, NULL, raw_service, n};
    raw.zh = raw_connect(zk);
    struct String_vector kids;
    snprintf(path, sizeof path, "/zkdisc/services/%s", raw_service);
    if (!raw.zh || zoo_wget_children(raw.zh, path, raw_kids_watch, &raw, &kids) != ZOK) {
        snprintf(err, errlen, "raw children watch");
        return -1;
    }
    deallocate_String_vector(&kids);
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zk;
    o.session_timeout_ms = 30000;
    o.request_timeout_ms = 30000;
    zkd_client *c;
    zkd_cache *k = NULL;
    zkd_error e;
    seen mine = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    int rc = zkd_connect(&o, &c, &e);
    if (!rc)
        rc = zkd_cache_open(c, service, cache_seen, &mine, &k, &e);
    if (!rc)
        rc = zkd_cache_wait_ready(k, 600000, &e);
    if (rc) {
        snprintf(err, errlen, "cache of %d: %s", n, e.message);
        zookeeper_close(raw.zh);
        return -1;
    }
    int per = count / 2 > 0 ? count / 2 : 1;
    size_t total = (size_t)per * CREATE_ROUNDS;
    double *rms = calloc(total, sizeof *rms), *zms = calloc(total, sizeof *zms);
    rc = rms && zms ? 0 : -1;
    for (int r = 0; !rc && r < CREATE_ROUNDS; r++) {
        double *rr = rms + (size_t)r * per, *zr = zms + (size_t)r * per;
        int from = n + r * per;
        /* Each create of one side next to one of the other (which goes
         * first alternates): a slow spell of the machine falls on both. */
        for (int c = 0; !rc && c < per; c++) {
            if ((r + c) % 2)
                rc = creates_of(writer, service, from + c, 1, &mine, zr + c) ||
                     creates_of(writer, raw_service, from + c, 1, &raw.s, rr + c);
            else
                rc = creates_of(writer, raw_service, from + c, 1, &raw.s, rr + c) ||
                     creates_of(writer, service, from + c, 1, &mine, zr + c);
        }
        for (int k = 0; !rc && k < 3; k++) {
            rr_pct[k][r] = percentile(rr, (size_t)per, round_pct[k]);
            zr_pct[k][r] = percentile(zr, (size_t)per, round_pct[k]);
        }
    }
    if (rc) {
        snprintf(err, errlen, "%d instances: a create was not seen within 10 s", n);
    } else {
        p[0] = percentile(rms, total, 50);
        p[1] = percentile(rms, total, 95);
        p[2] = percentile(zms, total, 50);
        p[3] = percentile(zms, total, 95);
    }
    free(rms);
    free(zms);
    zkd_cache_close(k);
    zkd_close(c);
    zookeeper_close(raw.zh);
    return rc;
}

static void row_of(bench_cache_row_fn row, const char *what, int n, double value, const char *unit,
                   double baseline)
{
    char text[128];
    snprintf(text, sizeof text, what, n);
    row("cache", strdup(text), value, unit, baseline);
}

int bench_cache_changes(const char *zk, const int *sizes, int nsizes, int changes,
                        bench_cache_row_fn row, char *err, size_t errlen)
{
    zhandle_t *writer = raw_connect(zk);
    if (!writer) {
        snprintf(err, errlen, "cannot connect to %s", zk);
        return -1;
    }
    figures first = {0}, f = {0};
    double p[4] = {0}, zr[3][CREATE_ROUNDS], rr[3][CREATE_ROUNDS];
    int rc = measure_creates(zk, writer, 1000, changes, p, zr, rr, err, errlen);
    if (!rc) {
        row_of(row, "create, %d: raw children watch + getData, p50", 1000, p[0], "ms", p[0]);
        row_of(row, "create, %d: to the cache's listener, p50", 1000, p[2], "ms", p[0]);
        row_of(row, "create, %d: raw children watch + getData, p95", 1000, p[1], "ms", p[1]);
        row_of(row, "create, %d: to the cache's listener, p95", 1000, p[3], "ms", p[1]);
        report_pairs("listener_p50", zr[0], rr[0], CREATE_ROUNDS, "ms");
        report_pairs("listener_p95", zr[1], rr[1], CREATE_ROUNDS, "ms");
        report_pairs("listener_p99", zr[2], rr[2], CREATE_ROUNDS, "ms");
    }
    for (int s = 0; !rc && s < nsizes; s++) {
        int n = sizes[s];
        if ((rc = measure_size(zk, writer, n, changes, &f, err, errlen)) != 0)
            break;
        if (s == 0)
            first = f;
        row_of(row, "change, %d: raw data watch + getData, p50", n, f.raw_p50, "ms", f.raw_p50);
        row_of(row, "change, %d: to the cache's listener, p50", n, f.zkd_p50, "ms", f.raw_p50);
        row_of(row, "change, %d: to the cache's listener, p95", n, f.zkd_p95, "ms", f.raw_p95);
        row_of(row, "change, %d: raw, process CPU per change", n, f.raw_cpu_ms, "ms", f.raw_cpu_ms);
        row_of(row, "change, %d: cache, process CPU per change", n, f.zkd_cpu_ms, "ms", f.raw_cpu_ms);
        row_of(row, "heap per cached instance, %d", n, f.heap_per_instance, "B", 0);
        row_of(row, "  that / the record's bytes, %d", n, f.heap_per_instance / f.record_text, "x", 0);
        row_of(row, "  of which the instance's allocation, %d", n, f.record_heap, "B", 0);
        row_of(row, "  of which a raw client's data watch, %d", n, f.zk_watch, "B", 0);
        row_of(row, "  the rest (members, tree, watch table), %d", n,
               f.heap_per_instance - f.record_heap - f.zk_watch, "B", 0);
    }
    if (!rc && nsizes > 1) {
        char what[128];
        snprintf(what, sizeof what, "change p50 growth, %d -> %d", sizes[0], sizes[nsizes - 1]);
        row("cache", strdup(what), f.zkd_p50 / first.zkd_p50, "x", 0);
        snprintf(what, sizeof what, "change CPU growth, %d -> %d", sizes[0], sizes[nsizes - 1]);
        row("cache", strdup(what), f.zkd_cpu_ms / first.zkd_cpu_ms, "x", 0);
        /* The report's growth rows: the largest size's value over the first's. */
        report_pairs("cache_change_growth", &f.zkd_p50, &first.zkd_p50, 1, "ms");
        report_pairs("cache_change_cpu_growth", &f.zkd_cpu_ms, &first.zkd_cpu_ms, 1, "ms");
    }
    zookeeper_close(writer);
    return rc;
}
