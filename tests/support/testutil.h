/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the CUnit suites: a runner that makes failures visible to CTest,
 * waiting for a condition with a deadline (never a bare sleep), and a clock. */
#ifndef ZKD_TESTUTIL_H
#define ZKD_TESTUTIL_H

#include <CUnit/CUnit.h>
#include <pthread.h>
#include <stdint.h>

/* Runs every registered suite verbosely; returns the process exit code
 * (non-zero when any assertion failed or a suite could not start). */
int tu_run(CU_SuiteInfo *suites);

/* Milliseconds on the monotonic clock. */
int64_t tu_now_ms(void);

/* Polls pred(arg) every 10 ms until it is true or timeout_ms passes;
 * returns the last value of pred. */
int tu_wait_until(int (*pred)(void *arg), void *arg, int timeout_ms);

/* Same, for a plain int read atomically. */
int tu_wait_int(const volatile int *value, int expected, int timeout_ms);



#include <zkdisc/zkdisc.h>

/* A raw ZooKeeper C client handle on `connect`, once its session is up
 * (15 s at most: NULL then). The caller closes it with zookeeper_close. */
struct _zhandle;
struct _zhandle *tu_raw_open(const char *connect);

/* A loopback TCP port with nothing listening on it (bound, then released). */
int tu_unused_port(void);

/* Counts session events per kind; subscribe it with tu_events_subscribe. */
typedef struct tu_events {
    volatile int count[8]; /* indexed by zkd_session_event */
} tu_events;
void tu_events_subscribe(zkd_client *c, tu_events *ev);
/* The counting callback itself, for tests that subscribe by hand. */
void tu_count_event(zkd_client *c, zkd_session_event ev, void *ctx);
int tu_events_get(tu_events *ev, zkd_session_event which);

/* Forces the expiry of c's session the way DESIGN.md section 7 says: a second
 * handle with the same session id and password connects, then closes.
 * Returns 0 once that handle has connected and closed. */
int tu_force_expiry(zkd_client *c, const char *connect, int timeout_ms);

/* tu_force_expiry, checked: tries up to three times until c's session id
 * changes (the library noticed the expiry). Only for a client that
 * survives its expiry (not one closed from its EXPIRED callback). */
int tu_expire(zkd_client *c, const char *connect, int timeout_ms);

/* The `enabled` flag of the instance record at `path`, read from the tree:
 * 1 or 0, or -1 when the node is missing or holds no record. */
int tu_enabled_in_tree(zkd_client *c, const char *path);

/* Connects to `connect` with the given session timeout; aborts the test on failure. */
zkd_client *tu_connect(const char *connect, int session_timeout_ms);

/* A cache listener (ctx: a tu_hold) that holds the thread calling it, the
 * client's dispatch thread, until tu_hold_release: for staging what must
 * happen while that thread is busy. tu_hold_held is a tu_wait_until
 * predicate: the listener holds the thread now. */
typedef struct tu_hold {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int held, release;
} tu_hold;
#define TU_HOLD_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0}
void tu_hold_fn(zkd_cache *k, const zkd_delta *d, size_t n, void *ctx);
int tu_hold_held(void *hold);
void tu_hold_release(tu_hold *h);
#endif
