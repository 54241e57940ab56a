/* SPDX-License-Identifier: Apache-2.0 */
/* The request layer's direct targets' watches (core/request_watch.c)
 * against a real ZooKeeper: the layer keeps nothing per armed watch beyond the C client's
 * own entry; forgetting one target's watch leaves another target's watch
 * on the same path working; a cancelled target hears nothing, and a watch
 * firing after the cancel touches no freed memory (run it under ASan); a
 * watched read answered after the cancel leaves no watch behind; after an
 * expiry the old session's watches are neither counted nor delivered. */
#include <dirent.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "session.h"
#include "testutil.h"
#include "zkh.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

ZKH_SUITE(1) /* zk: the suite's server(s); suite_init, suite_clean */

typedef struct owner {
    atomic_int events, answers;
} owner;

static void on_event(void *o, int type, const char *path)
{
    (void)type, (void)path;
    atomic_fetch_add(&((owner *)o)->events, 1);
}

static void on_data(void *o, const char *tag, uint64_t epoch, int rc, const char *data, int len,
                    const zkd_stat *st)
{
    (void)tag, (void)epoch, (void)data, (void)len, (void)st;
    CU_ASSERT_EQUAL(rc, 0);
    atomic_fetch_add(&((owner *)o)->answers, 1);
}

static void put(zkd_client *c, const char *path, const char *data)
{
    zkd_create_options co = {.parents = 1};
    int rc = zkd_node_create(c, path, data, strlen(data), &co, NULL, NULL);
    if (rc == ZKD_EEXISTS)
        rc = zkd_node_set(c, path, data, strlen(data), -1, NULL, NULL);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
}

static void nothing(void *arg) { (void)arg; }

/* Every job posted before this one has run on the loop. */
static void loop_barrier(zkd_client *c) { zkd__run_on_dispatch(c, nothing, NULL, NULL); }

static void cancel_job(void *t) { zkd__target_cancel(t); }

/* A data watch on `path` for t, answered. */
static void watch(zkd_target *t, owner *o, const char *path)
{
    int before = atomic_load(&o->answers);
    CU_ASSERT_EQUAL_FATAL(zkd__aget(t, path, 1, NULL, 0, on_data), 0);
    CU_ASSERT_FATAL(tu_wait_int((volatile int *)&o->answers, before + 1, 15000));
}

static void test_forget_one_of_two(void)
{
    zkd_client *c = tu_connect(zkh_connect_string(zk), 15000);
    put(c, "/rw/shared", "a");
    owner o1 = {0}, o2 = {0};
    zkd_target *t1 = zkd__target_new_direct(c, &o1, on_event);
    zkd_target *t2 = zkd__target_new_direct(c, &o2, on_event);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t2);
    watch(t1, &o1, "/rw/shared");
    watch(t2, &o2, "/rw/shared");
    CU_ASSERT_EQUAL(zkd__watched_paths(c), 2);
    CU_ASSERT_EQUAL(zkd__target_forget(t1, "/rw/shared"), 0);
    CU_ASSERT_EQUAL(zkd__watched_paths(c), 1);
    CU_ASSERT_EQUAL(zkd__target_forget(t1, "/rw/shared"), 0); /* none left: still 0 */
    put(c, "/rw/shared", "b");
    CU_ASSERT(tu_wait_int((volatile int *)&o2.events, 1, 15000));
    loop_barrier(c); /* t1's event would have come in the same delivery */
    CU_ASSERT_EQUAL(atomic_load(&o1.events), 0);
    CU_ASSERT_EQUAL(zkd__watched_paths(c), 0); /* one-shot: it fired */
    zkd__run_on_dispatch(c, cancel_job, NULL, t1);
    zkd__run_on_dispatch(c, cancel_job, NULL, t2);
    zkd_close(c);
}

/* The cancelled target stays named by the C client's entry; a witness on
 * the same path tells when the event was delivered (one delivery list). */
static void test_fires_after_cancel(void)
{
    zkd_client *c = tu_connect(zkh_connect_string(zk), 15000);
    put(c, "/rw/cancelled", "a");
    owner gone = {0}, witness = {0};
    zkd_target *t = zkd__target_new_direct(c, &gone, on_event);
    zkd_target *w = zkd__target_new_direct(c, &witness, on_event);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    watch(t, &gone, "/rw/cancelled");
    watch(w, &witness, "/rw/cancelled");
    zkd__run_on_dispatch(c, cancel_job, NULL, t);
    put(c, "/rw/cancelled", "b"); /* fires at the cancelled target (ASan: no use after free) */
    CU_ASSERT(tu_wait_int((volatile int *)&witness.events, 1, 15000));
    loop_barrier(c);
    CU_ASSERT_EQUAL(atomic_load(&gone.events), 0);
    CU_ASSERT_EQUAL(zkd__watched_paths(c), 0);
    zkd__run_on_dispatch(c, cancel_job, NULL, w);
    zkd_close(c);
}

/* Reads sent, the target cancelled before they are answered: each answer
 * takes its watch back, so nothing stays counted or in the C client. */
enum { LATE = 50 };

typedef struct cancel_arg {
    zkd_target *t;
    owner *o;
} cancel_arg;

static void read_then_cancel(void *arg)
{
    cancel_arg *a = arg;
    /* Distinct paths: a second watched read of a path the target already
     * watches adds no entry but is counted (see request_watch.c). */
    for (int i = 0; i < LATE; i++) {
        char path[32];
        snprintf(path, sizeof path, "/rw/late/n%d", i);
        CU_ASSERT_EQUAL(zkd__aget(a->t, path, 1, NULL, 0, on_data), 0);
    }
    zkd__target_cancel(a->t);
}

/* Every thread of process `pid` is stopped. kill(SIGSTOP) returns before
 * that: a server thread already running may still answer a read or two,
 * which would then be answered before the cancel. */
static int all_stopped(void *pid)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", *(int *)pid);
    DIR *d = opendir(dir);
    int stopped = d != NULL;
    for (struct dirent *e; stopped && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[384], line[512];
        snprintf(path, sizeof path, "%s/%s/stat", dir, e->d_name);
        FILE *f = fopen(path, "r");
        const char *end = f && fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
        stopped = !end || end[1] != ' ' || end[2] == 'T' || end[2] == 't'; /* a thread gone: fine */
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return stopped;
}

static void test_answer_after_cancel(void)
{
    zkd_client *c = tu_connect(zkh_connect_string(zk), 15000);
    put(c, "/rw/late", "a");
    for (int i = 0; i < LATE; i++) {
        char path[32];
        snprintf(path, sizeof path, "/rw/late/n%d", i);
        put(c, path, "a");
    }
    owner o = {0}, witness = {0};
    cancel_arg a = {zkd__target_new_direct(c, &o, on_event), &o};
    CU_ASSERT_PTR_NOT_NULL_FATAL(a.t);
    /* The server stopped meanwhile: every answer comes after the cancel
     * (one answered before it is armed for good: its owner must forget it). */
    int pid = (int)zkh_pid(zk, 0);
    CU_ASSERT_EQUAL_FATAL(kill(pid, SIGSTOP), 0);
    CU_ASSERT_FATAL(tu_wait_until(all_stopped, &pid, 10000));
    zkd__run_on_dispatch(c, read_then_cancel, NULL, &a);
    CU_ASSERT_EQUAL_FATAL(kill(zkh_pid(zk, 0), SIGCONT), 0);
    /* A read sent after them is answered after them (one connection). */
    zkd_target *w = zkd__target_new_direct(c, &witness, on_event);
    watch(w, &witness, "/rw/late");
    size_t watched = zkd__watched_paths(c);
    if (watched != 1)
        printf("\n    watches counted: %zu\n", watched);
    CU_ASSERT_EQUAL(watched, 1); /* the witness's only */
    put(c, "/rw/late", "b");
    CU_ASSERT(tu_wait_int((volatile int *)&witness.events, 1, 15000));
    loop_barrier(c);
    CU_ASSERT_EQUAL(atomic_load(&o.answers), 0);
    CU_ASSERT_EQUAL(atomic_load(&o.events), 0);
    zkd__run_on_dispatch(c, cancel_job, NULL, w);
    zkd_close(c);
}

/* Heap in use, all arenas (main() keeps one arena). */
static size_t heap_now(void)
{
    malloc_trim(0);
    return mallinfo2().uordblks;
}

/* The C client keeps about 180 bytes per data watch (hash entry, path,
 * watcher list and object); the layer used to keep its own table on top
 * (about 150 more). */
static void test_nothing_per_watch(void)
{
    enum { N = 2000 };
    zkd_client *c = tu_connect(zkh_connect_string(zk), 15000);
    zkd_op *ops = calloc(N, sizeof *ops);
    char(*paths)[32] = calloc(N, sizeof *paths);
    int *rcs = calloc(N, sizeof *rcs);
    put(c, "/rw/many", "");
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], sizeof paths[i], "/rw/many/node-%06d", i);
        ops[i] = (zkd_op){.kind = ZKD_OP_CREATE, .path = paths[i], .data = "x", .len = 1};
    }
    CU_ASSERT_EQUAL(zkd__call_batch(c, ops, N, NULL, rcs, NULL), 0);
    owner o = {0};
    zkd_target *t = zkd__target_new_direct(c, &o, on_event);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    watch(t, &o, paths[0]); /* warm: first allocations of the paths' sizes */
    size_t before = heap_now();
    for (int i = 1; i < N; i++)
        CU_ASSERT_EQUAL(zkd__aget(t, paths[i], 1, NULL, 0, on_data), 0);
    CU_ASSERT(tu_wait_int((volatile int *)&o.answers, N, 30000));
    loop_barrier(c);
    long per = ((long)heap_now() - (long)before) / (N - 1);
    printf("\n    heap per armed data watch: %ld bytes\n", per);
#ifndef SANITIZED
    CU_ASSERT(per < 240);
#endif
    CU_ASSERT_EQUAL(zkd__watched_paths(c), N);
    for (int i = 0; i < N; i++)
        CU_ASSERT_EQUAL(zkd__target_forget(t, paths[i]), 0);
    CU_ASSERT_EQUAL(zkd__watched_paths(c), 0);
    zkd__run_on_dispatch(c, cancel_job, NULL, t);
    free(ops);
    free(paths);
    free(rcs);
    zkd_close(c);
}

static int none_watched(void *c) { return zkd__watched_paths(c) == 0; }

static int connected(void *c) { return zkd_client_state(c) == ZKD_STATE_CONNECTED; }

/* After an expiry the old handle's watches are gone: not counted, and a
 * change is not reported from them; the target lives on. */
static void test_expiry(void)
{
    const char *connect = zkh_connect_string(zk);
    zkd_client *c = tu_connect(connect, 6000);
    put(c, "/rw/expiring", "a");
    owner o = {0};
    zkd_target *t = zkd__target_new_direct(c, &o, on_event);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    watch(t, &o, "/rw/expiring");
    CU_ASSERT_EQUAL(zkd__watched_paths(c), 1);
    CU_ASSERT_EQUAL_FATAL(tu_expire(c, connect, 30000), 0);
    /* The session id goes before the layer hears of the expiry: wait. */
    CU_ASSERT(tu_wait_until(none_watched, c, 15000));
    CU_ASSERT(tu_wait_until(connected, c, 30000));
    /* A watch in the new session works, and nothing came from the old. */
    watch(t, &o, "/rw/expiring");
    CU_ASSERT_EQUAL(zkd__watched_paths(c), 1);
    put(c, "/rw/expiring", "b");
    CU_ASSERT(tu_wait_int((volatile int *)&o.events, 1, 15000));
    loop_barrier(c);
    CU_ASSERT_EQUAL(atomic_load(&o.events), 1);
    zkd__run_on_dispatch(c, cancel_job, NULL, t);
    zkd_close(c);
}

int main(void)
{
    mallopt(M_ARENA_MAX, 1); /* before any thread: mallinfo2 sees every allocation */
    CU_TestInfo tests[] = {
        {"forgetting one target's watch leaves another's on the path", test_forget_one_of_two},
        {"a watch firing after its target's cancel reaches nobody", test_fires_after_cancel},
        {"a watched read answered after the cancel leaves no watch", test_answer_after_cancel},
        {"nothing is kept per armed watch beyond the C client's entry", test_nothing_per_watch},
        {"an expired session's watches are neither counted nor delivered", test_expiry},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"request_watch", suite_init, suite_clean, NULL, NULL, tests},
                             CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
