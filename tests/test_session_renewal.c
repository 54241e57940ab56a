/* SPDX-License-Identifier: Apache-2.0 */
/* Session renewal that fails and must be retried. After an expiry the
 * library opens a new session with zookeeper_init; when that call fails (a
 * transient DNS failure, EMFILE), the client must try again with backoff
 * until it has a session, never stay without one.
 *
 * zookeeper_init is interposed here: this executable's definition wins over
 * libzookeeper_mt's, and forwards to it unless a failure is armed. Only
 * calls that open a new session (no client id) fail, so the test's own
 * forced-expiry handle, which reuses a session id, is never refused. A
 * slow open (a DNS server that takes its time) can be armed too: the
 * dispatch thread must keep running jobs meanwhile. */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <zookeeper/zookeeper.h>

#include "request.h"
#include "session.h"
#include "testutil.h"
#include "zkh.h"

typedef zhandle_t *(*init_fn)(const char *, watcher_fn, int, const clientid_t *, void *, int);

static _Atomic int fail_next;    /* new-session opens still to refuse */
static _Atomic int refused;      /* how many were refused */
static _Atomic int new_sessions; /* new-session opens that went through */
static _Atomic int slow_ms;      /* new-session opens take this long first */
static _Atomic int in_slow_open; /* a slow open is under way */

zhandle_t *zookeeper_init(const char *host, watcher_fn fn, int recv_timeout,
                          const clientid_t *clientid, void *context, int flags)
{
    static init_fn real;
    if (!real)
        real = (init_fn)dlsym(RTLD_NEXT, "zookeeper_init");
    int opens_new = !clientid || clientid->client_id == 0;
    if (opens_new && atomic_load(&fail_next) > 0) {
        atomic_fetch_sub(&fail_next, 1);
        atomic_fetch_add(&refused, 1);
        errno = EMFILE;
        return NULL;
    }
    if (opens_new && atomic_load(&slow_ms) > 0) {
        atomic_store(&in_slow_open, 1);
        int ms = atomic_load(&slow_ms);
        nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
        atomic_store(&in_slow_open, 0);
    }
    if (opens_new)
        atomic_fetch_add(&new_sessions, 1);
    return real(host, fn, recv_timeout, clientid, context, flags);
}

ZKH_SUITE(1) /* zk: the suite's server(s); suite_init, suite_clean */

/* Three refused opens after an expiry: the client keeps trying (100, 200,
 * 400 ms apart), gets a new session, says REESTABLISHED once, and works. */
static void test_renewal_retried_after_failing_init(void)
{
    zkd_client *c = tu_connect(zkh_connect_string(zk), 4000);
    tu_events ev;
    tu_events_subscribe(c, &ev);
    int64_t old_session = zkd_client_session_id(c);
    int opened_before = atomic_load(&new_sessions);

    atomic_store(&fail_next, 3);
    CU_ASSERT_EQUAL(tu_expire(c, zkh_connect_string(zk), 15000), 0);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_REESTABLISHED], 1, 20000));
    CU_ASSERT_EQUAL(atomic_load(&refused), 3);
    CU_ASSERT_EQUAL(atomic_load(&new_sessions), opened_before + 1);
    CU_ASSERT_EQUAL(zkd_client_state(c), ZKD_STATE_CONNECTED);
    CU_ASSERT_NOT_EQUAL(zkd_client_session_id(c), 0);
    CU_ASSERT_NOT_EQUAL(zkd_client_session_id(c), old_session);

    zkd_error err;
    int rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_CREATE, .path = "/renewed", .data = "x",
                                    .len = 1, .flags = ZOO_EPHEMERAL},
                       NULL, &err);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(tu_events_get(&ev, ZKD_SESSION_EXPIRED), 1);
    CU_ASSERT_EQUAL(tu_events_get(&ev, ZKD_SESSION_REESTABLISHED), 1);
    atomic_store(&fail_next, 0);
    zkd_close(c);
}

static int two_refused(void *arg)
{
    (void)arg;
    return atomic_load(&refused) >= 2;
}

/* zkd_close while the renewal is waiting for its next try returns at once
 * and leaves nothing behind. */
static void test_close_while_renewal_waits(void)
{
    zkd_client *c = tu_connect(zkh_connect_string(zk), 4000);
    tu_events ev;
    tu_events_subscribe(c, &ev);
    atomic_store(&refused, 0);
    atomic_store(&fail_next, 1000000);
    CU_ASSERT_EQUAL(tu_expire(c, zkh_connect_string(zk), 15000), 0);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_EXPIRED], 1, 20000));
    CU_ASSERT_TRUE(tu_wait_until(two_refused, NULL, 5000));
    CU_ASSERT_EQUAL(zkd_client_state(c), ZKD_STATE_CONNECTING);
    int64_t t0 = tu_now_ms();
    zkd_close(c);
    CU_ASSERT_TRUE(tu_now_ms() - t0 < 1000);
    atomic_store(&fail_next, 0);
}

static int opening_slowly(void *arg)
{
    (void)arg;
    return atomic_load(&in_slow_open);
}

static void nothing(void *arg)
{
    (void)arg;
}

/* zookeeper_init taking 2 s (its getaddrinfo on a slow resolver) after an
 * expiry: meanwhile the dispatch thread runs jobs at once and the handle
 * lock is free (a request finds no handle at once rather than waiting). */
static void test_slow_open_blocks_nothing(void)
{
    zkd_client *c = tu_connect(zkh_connect_string(zk), 4000);
    tu_events ev;
    tu_events_subscribe(c, &ev);
    atomic_store(&slow_ms, 2000);
    CU_ASSERT_EQUAL(tu_expire(c, zkh_connect_string(zk), 15000), 0);
    CU_ASSERT_TRUE_FATAL(tu_wait_until(opening_slowly, NULL, 10000));
    int64_t t0 = tu_now_ms();
    zkd__run_on_dispatch(c, nothing, NULL, NULL);
    int64_t job_ms = tu_now_ms() - t0;
    t0 = tu_now_ms();
    char server[64];
    zkd_client_server(c, server, sizeof server);
    int64_t lock_ms = tu_now_ms() - t0;
    CU_ASSERT_EQUAL(atomic_load(&in_slow_open), 1); /* measured during the open */
    if (job_ms >= 300 || lock_ms >= 300)
        fprintf(stderr, "during a slow open: a job waited %lld ms, the handle lock %lld ms\n",
                (long long)job_ms, (long long)lock_ms);
    CU_ASSERT_TRUE(job_ms < 300);
    CU_ASSERT_TRUE(lock_ms < 300);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_REESTABLISHED], 1, 20000));
    CU_ASSERT_EQUAL(zkd_client_state(c), ZKD_STATE_CONNECTED);
    atomic_store(&slow_ms, 0);
    zkd_close(c);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"renewal retried after zookeeper_init fails", test_renewal_retried_after_failing_init},
        {"close while the renewal waits for its next try", test_close_while_renewal_waits},
        {"a slow open after an expiry holds up no job and no lock", test_slow_open_blocks_nothing},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"session_renewal", suite_init, suite_clean, NULL, NULL, tests},
                             CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
