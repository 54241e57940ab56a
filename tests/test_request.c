/* SPDX-License-Identifier: Apache-2.0 */
/* The request layer (core/request.c) against a real ZooKeeper: the window
 * of requests in flight is respected; a read cut off by a lost connection
 * is sent again and answers; a write whose reply was lost is reported as
 * ZKD_ECONNLOSS and never sent twice; the request deadline holds with the
 * server stopped (and a write that could not be sent is never sent); every
 * target request is answered exactly once, across a server restart, and
 * not at all once its target is cancelled; requests made before the first
 * session exists wait for it; a target's early hook sees answers and watch
 * events on ZooKeeper's thread, and what it takes never reaches the loop. */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "session.h"
#include "testutil.h"
#include "zkh.h"

ZKH_SUITE(1) /* zk: the suite's server(s); suite_init, suite_clean */

/* One client per test: libzookeeper formats addresses into a static buffer
 * when a connection attempt fails, so two handles of one process failing
 * at once (the server stopped) race inside the C client under TSan. */

static zkd_client *connect_with(int session_timeout_ms, int request_timeout_ms)
{
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zkh_connect_string(zk);
    o.session_timeout_ms = session_timeout_ms;
    o.request_timeout_ms = request_timeout_ms;
    o.connect_timeout_ms = 20000;
    zkd_client *cl = NULL;
    zkd_error err;
    if (zkd_connect(&o, &cl, &err) != 0) {
        fprintf(stderr, "connect: %s\n", err.message);
        return NULL;
    }
    return cl;
}

static void put(zkd_client *cl, const char *path, const char *data)
{
    zkd_create_options co = {.parents = 1};
    int rc = zkd_node_create(cl, path, data, strlen(data), &co, NULL, NULL);
    if (rc == ZKD_EEXISTS)
        rc = zkd_node_set(cl, path, data, strlen(data), -1, NULL, NULL);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
}

static uint64_t counter(zkd_client *cl, size_t offset)
{
    zkd_counters k;
    zkd_client_counters(cl, &k);
    return *(uint64_t *)((char *)&k + offset);
}

#define COUNT(cl, field) counter(cl, offsetof(zkd_counters, field))

/* ---- the window ------------------------------------------------------------ */

enum { NODES = 300 };

static void make_nodes(void)
{
    static int made;
    if (made)
        return;
    zkd_client *c = connect_with(10000, 15000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    put(c, "/req/n", "");
    zkd_op *ops = calloc(NODES, sizeof *ops);
    char(*paths)[32] = calloc(NODES, sizeof *paths);
    int *rcs = calloc(NODES, sizeof *rcs);
    for (int i = 0; i < NODES; i++) {
        snprintf(paths[i], sizeof paths[i], "/req/n/x%d", i);
        ops[i] = (zkd_op){.kind = ZKD_OP_CREATE, .path = paths[i], .data = paths[i],
                          .len = (int)strlen(paths[i])};
    }
    CU_ASSERT_EQUAL(zkd__call_batch(c, ops, NODES, NULL, rcs, NULL), 0);
    for (int i = 0; i < NODES; i++)
        CU_ASSERT(rcs[i] == 0 || rcs[i] == ZKD_EEXISTS);
    free(ops);
    free(paths);
    free(rcs);
    zkd_close(c);
    made = 1;
}

static void test_window(void)
{
    make_nodes();
    zkd_client *cl = connect_with(10000, 15000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cl);
    zkd__request_set_window(cl, 4);
    zkd_op *ops = calloc(NODES, sizeof *ops);
    char(*paths)[32] = calloc(NODES, sizeof *paths);
    int *rcs = calloc(NODES, sizeof *rcs);
    zkd_result *res = calloc(NODES, sizeof *res);
    for (int i = 0; i < NODES; i++) {
        snprintf(paths[i], sizeof paths[i], "/req/n/x%d", i);
        ops[i] = (zkd_op){.kind = ZKD_OP_GET, .path = paths[i]};
    }
    CU_ASSERT_EQUAL(zkd__call_batch(cl, ops, NODES, res, rcs, NULL), 0);
    int max_inflight = 0, inflight = -1, queued = -1;
    zkd__request_stats(cl, &max_inflight, &inflight, &queued);
    CU_ASSERT_EQUAL(max_inflight, 4); /* used, and never more */
    CU_ASSERT_EQUAL(inflight, 0);
    CU_ASSERT_EQUAL(queued, 0);
    for (int i = 0; i < NODES; i++) {
        CU_ASSERT_EQUAL(rcs[i], 0);
        CU_ASSERT(res[i].data && !strcmp(res[i].data, paths[i]));
        zkd__result_clear(&res[i]);
    }
    /* The default window takes the whole batch at once. */
    zkd__request_set_window(cl, 0);
    CU_ASSERT_EQUAL(zkd__call_batch(cl, ops, NODES, NULL, rcs, NULL), 0);
    zkd__request_stats(cl, &max_inflight, NULL, NULL);
    CU_ASSERT(max_inflight > 4);
    free(ops);
    free(paths);
    free(rcs);
    free(res);
    zkd_close(cl);
}

/* ---- connection losses ---------------------------------------------------------- */

typedef struct op_thread {
    pthread_t th;
    zkd_client *cl;
    int write;
    int rc;
    char *data;
    atomic_int done;
} op_thread;

static void *run_op(void *arg)
{
    op_thread *t = arg;
    zkd_error err;
    if (t->write) {
        zkd_create_options co = {.flags = ZKD_CREATE_SEQUENTIAL};
        t->rc = zkd_node_create(t->cl, "/req/w/seq-", "x", 1, &co, NULL, &err);
    } else {
        t->rc = zkd_node_get(t->cl, "/req/n/x1", &t->data, NULL, NULL, &err);
    }
    if (t->rc)
        fprintf(stderr, "op: %s\n", err.message);
    atomic_store(&t->done, 1);
    return NULL;
}

static int suspended(void *arg)
{
    return zkd_client_state(arg) == ZKD_STATE_SUSPENDED;
}

static int connected(void *arg)
{
    return zkd_client_state(arg) == ZKD_STATE_CONNECTED;
}

static int one_in_flight(void *arg)
{
    int inflight = 0;
    zkd__request_stats(arg, NULL, &inflight, NULL);
    return inflight == 1;
}

static int sent_or_lost(void *arg)
{
    return one_in_flight(arg) || suspended(arg);
}

/* Freezes the server with the op in flight until the client gives the
 * connection up, then lets the server go on. 1 when that was staged; 0
 * when the client gave the connection up before the op was sent (a loaded
 * machine: the ping before the freeze may be 2 s old, and the op's thread
 * slow to start), with the op answered and the client connected again, so
 * that the caller can try again. */
static int op_across_frozen_server(zkd_client *cl, op_thread *t)
{
    pid_t pid = zkh_pid(zk, 0);
    CU_ASSERT_FATAL(pid > 0);
    t->cl = cl;
    CU_ASSERT_EQUAL_FATAL(kill(pid, SIGSTOP), 0);
    pthread_create(&t->th, NULL, run_op, t);
    /* Sent (not merely queued) before the client gives the connection up. */
    CU_ASSERT(tu_wait_until(sent_or_lost, cl, 15000));
    int sent = one_in_flight(cl) && !suspended(cl);
    int lost = tu_wait_until(suspended, cl, 15000);
    CU_ASSERT_EQUAL(kill(pid, SIGCONT), 0);
    CU_ASSERT(lost);
    CU_ASSERT(tu_wait_int((volatile int *)&t->done, 1, 20000));
    pthread_join(t->th, NULL);
    CU_ASSERT(tu_wait_until(connected, cl, 15000));
    if (!sent)
        fprintf(stderr, "    the connection went before the op was sent: again\n");
    return sent;
}

enum { STAGINGS = 3 };

static void test_read_resent(void)
{
    make_nodes();
    zkd_client *cl = connect_with(6000, 20000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cl);
    int staged = 0;
    for (int i = 0; i < STAGINGS && !staged; i++) {
        uint64_t gets = COUNT(cl, get_data);
        op_thread t = {0};
        staged = op_across_frozen_server(cl, &t);
        CU_ASSERT_EQUAL(t.rc, 0);
        CU_ASSERT(t.data && !strcmp(t.data, "/req/n/x1"));
        if (staged)
            CU_ASSERT(COUNT(cl, get_data) >= gets + 2); /* sent, lost, sent again */
        zkd_free(t.data);
    }
    CU_ASSERT(staged);
    zkd_close(cl);
}

static void test_write_not_resent(void)
{
    zkd_client *cl = connect_with(6000, 20000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cl);
    int staged = 0;
    for (int i = 0; i < STAGINGS && !staged; i++) {
        zkd_strings kids = {0};
        put(cl, "/req/w", "");
        uint64_t creates = COUNT(cl, create);
        op_thread t = {.write = 1};
        if (!(staged = op_across_frozen_server(cl, &t))) {
            /* Not staged: queued while disconnected, sent once after. */
            CU_ASSERT_EQUAL(zkd_node_children(cl, "/req/w", &kids, NULL, NULL), 0);
            for (size_t k = 0; k < kids.count; k++) {
                char path[64];
                snprintf(path, sizeof path, "/req/w/%s", kids.items[k]);
                zkd_node_delete(cl, path, -1, NULL);
            }
            zkd_strings_free(&kids);
            continue;
        }
        CU_ASSERT_EQUAL(t.rc, ZKD_ECONNLOSS); /* outcome unknown... */
        CU_ASSERT_EQUAL(COUNT(cl, create), creates + 1); /* ...and sent once */
        /* Resolved by reading: the frozen server may have applied it, once. */
        CU_ASSERT_EQUAL(zkd_node_children(cl, "/req/w", &kids, NULL, NULL), 0);
        CU_ASSERT(kids.count <= 1);
        zkd_strings_free(&kids);
    }
    CU_ASSERT(staged);
    zkd_close(cl);
}

/* ---- deadlines ---------------------------------------------------------------- */

static void test_deadline_server_stopped(void)
{
    make_nodes();
    zkd_client *cl = connect_with(10000, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cl);
    uint64_t creates = COUNT(cl, create);
    CU_ASSERT_EQUAL_FATAL(zkh_stop_server(zk, 0), 0);
    CU_ASSERT(tu_wait_until(suspended, cl, 15000));
    int64_t t0 = tu_now_ms();
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_node_get(cl, "/req/n/x1", NULL, NULL, NULL, &err), ZKD_ETIMEDOUT);
    int64_t took = tu_now_ms() - t0;
    CU_ASSERT(took >= 950 && took < 2500);
    t0 = tu_now_ms();
    CU_ASSERT_EQUAL(zkd_node_create(cl, "/req/never", "x", 1, NULL, NULL, &err), ZKD_ETIMEDOUT);
    took = tu_now_ms() - t0;
    CU_ASSERT(took >= 950 && took < 2500);
    CU_ASSERT_EQUAL_FATAL(zkh_restart_server(zk, 0), 0);
    CU_ASSERT(tu_wait_until(connected, cl, 20000));
    /* The write that timed out in the queue was never sent. */
    CU_ASSERT_EQUAL(COUNT(cl, create), creates);
    CU_ASSERT_EQUAL(zkd_node_stat(cl, "/req/never", NULL, NULL), ZKD_ENOTFOUND);
    int inflight = -1, queued = -1;
    zkd__request_stats(cl, NULL, &inflight, &queued);
    CU_ASSERT_EQUAL(inflight, 0);
    CU_ASSERT_EQUAL(queued, 0);
    zkd_close(cl);
}

/* ---- exactly once --------------------------------------------------------------- */

enum { ASYNC_N = 2000 };

typedef struct tally {
    atomic_int calls[ASYNC_N];
    atomic_int total;
    atomic_int ok, expired, other;
} tally;

static void on_get(void *owner, const char *tag, uint64_t epoch, int rc, const char *data, int len,
                   const zkd_stat *st)
{
    (void)tag;
    (void)data;
    (void)len;
    (void)st;
    tally *t = owner;
    atomic_fetch_add(&t->calls[epoch], 1);
    atomic_fetch_add(&t->total, 1);
    atomic_fetch_add(rc == 0 ? &t->ok : rc == ZKD_EEXPIRED ? &t->expired : &t->other, 1);
}

static void submit_all(zkd_target *tg, int from, int to)
{
    for (int i = from; i < to; i++) {
        char path[32];
        snprintf(path, sizeof path, "/req/n/x%d", i % NODES);
        CU_ASSERT_EQUAL(zkd__aget(tg, path, 0, NULL, (uint64_t)i, on_get), 0);
    }
}

static void cancel_job(void *arg)
{
    zkd__target_cancel(arg);
}

static void test_exactly_once(void)
{
    make_nodes();
    zkd_client *cl = connect_with(15000, 15000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cl);
    zkd__request_set_window(cl, 16);
    tally *t = calloc(1, sizeof *t);
    zkd_target *tg = zkd__target_new(cl, t, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tg);
    submit_all(tg, 0, ASYNC_N);
    /* A restart while most of them are queued or in flight. */
    CU_ASSERT_EQUAL_FATAL(zkh_restart_server(zk, 0), 0);
    CU_ASSERT(tu_wait_int((volatile int *)&t->total, ASYNC_N, 30000));
    CU_ASSERT(tu_wait_until(connected, cl, 20000));
    int twice = 0, never = 0;
    for (int i = 0; i < ASYNC_N; i++) {
        twice += atomic_load(&t->calls[i]) > 1;
        never += atomic_load(&t->calls[i]) == 0;
    }
    CU_ASSERT_EQUAL(twice, 0);
    CU_ASSERT_EQUAL(never, 0);
    CU_ASSERT_EQUAL(atomic_load(&t->other), 0);
    CU_ASSERT_EQUAL(atomic_load(&t->ok) + atomic_load(&t->expired), ASYNC_N);
    printf("\n    %d answered, %d expired with their session\n", atomic_load(&t->ok),
           atomic_load(&t->expired));

    /* Cancelled with requests queued and in flight: none reaches the owner. */
    memset(t, 0, sizeof *t);
    submit_all(tg, 0, 500);
    zkd__run_on_dispatch(cl, cancel_job, NULL, tg);
    int seen = atomic_load(&t->total);
    CU_ASSERT_EQUAL(zkd_node_get(cl, "/req/n/x1", NULL, NULL, NULL, NULL), 0);
    int inflight = -1, queued = -1;
    zkd__request_stats(cl, NULL, &inflight, &queued);
    CU_ASSERT_EQUAL(queued, 0); /* the cancelled target's queue went with it */
    zkd_close(cl);                /* waits for the loop: every late answer is in */
    CU_ASSERT_EQUAL(atomic_load(&t->total), seen);
    free(t);
}

/* Queued before the first session exists, sent when it comes. */
static void test_queued_until_first_session(void)
{
    make_nodes();
    CU_ASSERT_EQUAL_FATAL(zkh_stop_server(zk, 0), 0);
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zkh_connect_string(zk);
    o.connect_in_background = 1;
    o.request_timeout_ms = 20000;
    zkd_client *cl = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_connect(&o, &cl, NULL), 0);
    CU_ASSERT_EQUAL(zkd_client_state(cl), ZKD_STATE_CONNECTING);
    tally *t = calloc(1, sizeof *t);
    zkd_target *tg = zkd__target_new(cl, t, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tg);
    submit_all(tg, 0, 10);
    int queued = 0;
    zkd__request_stats(cl, NULL, NULL, &queued);
    CU_ASSERT_EQUAL(queued, 10);
    CU_ASSERT_EQUAL_FATAL(zkh_restart_server(zk, 0), 0);
    CU_ASSERT(tu_wait_int((volatile int *)&t->total, 10, 20000));
    CU_ASSERT_EQUAL(atomic_load(&t->ok), 10);
    zkd__run_on_dispatch(cl, cancel_job, NULL, tg);
    zkd_close(cl);
    free(t);
}

/* ---- the early hook ---------------------------------------------------------- */

typedef struct early_seen {
    zkd_client *cl;
    atomic_int answers, events, off_loop; /* seen by the hook, and where */
    atomic_int loop_answers, loop_events; /* what reached the loop */
    atomic_int block, blocked;            /* a hook that waits for the test */
} early_seen;

static int early_hook(void *owner, const zkd_early *ev)
{
    early_seen *s = owner;
    atomic_fetch_add(&s->off_loop, !zkd__on_dispatch_thread(s->cl));
    if (ev->event) {
        atomic_fetch_add(&s->events, 1);
        return 1;
    }
    atomic_fetch_add(&s->answers, 1);
    if (!strcmp(ev->tag, "block")) {
        atomic_store(&s->blocked, 1);
        while (atomic_load(&s->block))
            sched_yield(); /* the test lets go once it has seen cancel wait */
        atomic_store(&s->blocked, 2);
    }
    return !strcmp(ev->tag, "take") && ev->rc == 0 && ev->kind == ZKD_OP_GET;
}

static void early_loop_answer(void *owner, const char *tag, uint64_t epoch, int rc,
                              const char *data, int len, const zkd_stat *st)
{
    (void)tag, (void)epoch, (void)rc, (void)data, (void)len, (void)st;
    atomic_fetch_add(&((early_seen *)owner)->loop_answers, 1);
}

static void early_loop_event(void *owner, int type, const char *path)
{
    (void)type, (void)path;
    atomic_fetch_add(&((early_seen *)owner)->loop_events, 1);
}

typedef struct canceller {
    zkd_client *cl;
    zkd_target *tg;
    atomic_int done;
} canceller;

static void *cancel_thread(void *arg)
{
    canceller *c = arg;
    zkd__run_on_dispatch(c->cl, cancel_job, NULL, c->tg);
    atomic_store(&c->done, 1);
    return NULL;
}

static int cancel_done(void *arg)
{
    return atomic_load(&((canceller *)arg)->done);
}

static void test_early_hook(void)
{
    zkd_client *cl = connect_with(15000, 15000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cl);
    put(cl, "/req/early", "a");
    early_seen *s = calloc(1, sizeof *s);
    s->cl = cl;
    zkd_target *tg = zkd__target_new(cl, s, early_loop_event);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tg);
    CU_ASSERT_EQUAL_FATAL(zkd__target_set_early(tg, early_hook), 0);
    CU_ASSERT_EQUAL(zkd__aget(tg, "/req/early", 0, "take", 0, early_loop_answer), 0);
    CU_ASSERT_EQUAL(zkd__aget(tg, "/req/early", 1, "keep", 0, early_loop_answer), 0);
    CU_ASSERT(tu_wait_int((volatile int *)&s->loop_answers, 1, 10000));
    CU_ASSERT_EQUAL(atomic_load(&s->answers), 2);
    /* The watch the kept read left fires: the hook takes the event. */
    put(cl, "/req/early", "b");
    CU_ASSERT(tu_wait_int((volatile int *)&s->events, 1, 10000));
    CU_ASSERT_EQUAL(atomic_load(&s->off_loop), 3);

    /* A hook running holds off the target's cancel. */
    atomic_store(&s->block, 1);
    CU_ASSERT_EQUAL(zkd__aget(tg, "/req/early", 0, "block", 0, early_loop_answer), 0);
    CU_ASSERT(tu_wait_int((volatile int *)&s->blocked, 1, 10000));
    canceller c = {.cl = cl, .tg = tg};
    pthread_t th;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, cancel_thread, &c), 0);
    CU_ASSERT(!tu_wait_until(cancel_done, &c, 300)); /* still waiting for the hook */
    atomic_store(&s->block, 0);
    CU_ASSERT(tu_wait_until(cancel_done, &c, 10000));
    CU_ASSERT_EQUAL(atomic_load(&s->blocked), 2); /* cancel returned after the hook did */
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(atomic_load(&s->loop_answers), 1); /* the declined late answer was dropped */
    CU_ASSERT_EQUAL(atomic_load(&s->loop_events), 0);
    zkd_close(cl);
    free(s);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"the window of requests in flight is respected", test_window},
        {"a read cut off by a lost connection is sent again", test_read_resent},
        {"a write whose reply was lost is ECONNLOSS, sent once", test_write_not_resent},
        {"the deadline holds with the server stopped; queued writes never go", test_deadline_server_stopped},
        {"target requests answered exactly once across a restart; none after cancel", test_exactly_once},
        {"requests queued before the first session are sent when it comes", test_queued_until_first_session},
        {"a target's early hook: taken answers and events skip the loop; cancel waits for it", test_early_hook},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"request", suite_init, suite_clean, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
