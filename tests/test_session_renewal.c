/* Session renewal that fails and must be retried. After an expiry the
 * library opens a new session with zookeeper_init; when that call fails (a
 * transient DNS failure, EMFILE), the client must try again with backoff
 * until it has a session, never stay without one.
 *
 * zookeeper_init is interposed here: this executable's definition wins over
 * libzookeeper_mt's, and forwards to it unless a failure is armed. Only
 * calls that open a new session (no client id) fail, so the test's own
 * forced-expiry handle, which reuses a session id, is never refused. */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <zookeeper/zookeeper.h>

#include "request.h"
#include "testutil.h"
#include "zkh.h"

typedef zhandle_t *(*init_fn)(const char *, watcher_fn, int, const clientid_t *, void *, int);

static _Atomic int fail_next;    /* new-session opens still to refuse */
static _Atomic int refused;      /* how many were refused */
static _Atomic int new_sessions; /* new-session opens that went through */

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
    if (opens_new)
        atomic_fetch_add(&new_sessions, 1);
    return real(host, fn, recv_timeout, clientid, context, flags);
}

static zkh *zk;

static int suite_init(void)
{
    zk = zkh_start(1);
    return zk ? 0 : 1;
}

static int suite_clean(void)
{
    zkh_stop(zk);
    return 0;
}

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

int main(void)
{
    CU_TestInfo tests[] = {
        {"renewal retried after zookeeper_init fails", test_renewal_retried_after_failing_init},
        {"close while the renewal waits for its next try", test_close_while_renewal_waits},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"session_renewal", suite_init, suite_clean, NULL, NULL, tests},
                             CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
