/* SPDX-License-Identifier: Apache-2.0 */
/* The client session against a real single ZooKeeper server: connect, a
 * server that is not there, forced expiry, a restart inside the session
 * timeout, and zkd_close from inside a callback. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include "request.h"
#include "session.h"
#include "testutil.h"
#include "zkh.h"

ZKH_SUITE(1) /* zk: the suite's server(s); suite_init, suite_clean */

/* Every name lookup of "localhost" in this process: the ZooKeeper client's
 * resolutions of a connect string naming it (this definition comes before
 * libc's for the client library, which calls libc's in turn). */
static volatile int localhost_lookups;

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    typedef int (*lookup_fn)(const char *, const char *, const struct addrinfo *,
                             struct addrinfo **);
    static lookup_fn real;
    if (!__atomic_load_n(&real, __ATOMIC_ACQUIRE))
        __atomic_store_n(&real, (lookup_fn)dlsym(RTLD_NEXT, "getaddrinfo"), __ATOMIC_RELEASE);
    if (node && !strcmp(node, "localhost"))
        __atomic_add_fetch(&localhost_lookups, 1, __ATOMIC_SEQ_CST);
    return __atomic_load_n(&real, __ATOMIC_ACQUIRE)(node, service, hints, res);
}

static int create_ephemeral(zkd_client *c, const char *path)
{
    zkd_error err;
    int rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_CREATE, .path = path, .data = "x", .len = 1,
                                    .flags = ZOO_EPHEMERAL},
                       NULL, &err);
    if (rc)
        fprintf(stderr, "create %s: %s\n", path, err.message);
    return rc;
}

static void test_version(void)
{
    CU_ASSERT_STRING_EQUAL(zkd_version(), ZKD_VERSION_STRING);
}

static void test_connect_and_close(void)
{
    zkd_client *c = tu_connect(zkh_connect_string(zk), 10000);
    CU_ASSERT_EQUAL(zkd_client_state(c), ZKD_STATE_CONNECTED);
    CU_ASSERT_NOT_EQUAL(zkd_client_session_id(c), 0);
    CU_ASSERT_STRING_EQUAL(zkd_client_root(c), "/zkdisc");

    char server[64];
    CU_ASSERT_EQUAL(zkd_client_server(c, server, sizeof server), 0);
    CU_ASSERT_STRING_EQUAL(server, zkh_server_address(zk, 0));

    zkd_strings kids;
    CU_ASSERT_EQUAL_FATAL(zkd_node_children(c, "/", &kids, NULL, NULL), 0);
    int has_zookeeper = 0;
    for (size_t i = 0; i < kids.count; i++)
        has_zookeeper |= !strcmp(kids.items[i], "zookeeper");
    CU_ASSERT(has_zookeeper);
    zkd_strings_free(&kids);

    zkd_error err;
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/no/such/node", NULL, &err), ZKD_ENOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/no/such/node"));
    zkd_close(c);
}

/* Nothing listens on the port: a timeout error naming the host, on time. */
static void test_nothing_listening(void)
{
    int port = tu_unused_port();
    CU_ASSERT_FATAL(port > 0);
    char connect[64];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", port);
    zkd_options o;
    zkd_options_init(&o);
    o.connect = connect;
    o.connect_timeout_ms = 1500;
    zkd_client *c = NULL;
    zkd_error err;
    int64_t t0 = tu_now_ms();
    int rc = zkd_connect(&o, &c, &err);
    int64_t took = tu_now_ms() - t0;
    CU_ASSERT_EQUAL(rc, ZKD_ETIMEDOUT);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, connect));
    CU_ASSERT(took >= 1400);
    CU_ASSERT(took <= 1500 + 1000);
}

/* A listener that accepts every connection and closes it at once: the
 * client's connect request and credentials go out, and the connection then
 * drops under them, over and over. */
typedef struct slammer {
    int fd;
    volatile int stop;
    pthread_t thread;
} slammer;

static void *slam(void *arg)
{
    slammer *s = arg;
    while (!__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 50) == 1) {
            int conn = accept(s->fd, NULL, NULL);
            if (conn >= 0)
                close(conn);
        }
    }
    return NULL;
}

static int slammer_start(slammer *s)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    s->stop = 0;
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&sa, sizeof sa) || listen(s->fd, 16) ||
        getsockname(s->fd, (struct sockaddr *)&sa, &len))
        return -1;
    pthread_create(&s->thread, NULL, slam, s);
    return ntohs(sa.sin_port);
}

static void slammer_stop(slammer *s)
{
    __atomic_store_n(&s->stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

/* Credentials whose connection drops before the server answered are no
 * verdict on them: the client keeps trying instead of stopping for good. */
static void test_auth_survives_dropped_connections(void)
{
    slammer sl;
    int port = slammer_start(&sl);
    CU_ASSERT_FATAL(port > 0);
    char connect[64];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", port);
    zkd_options o;
    zkd_options_init(&o);
    o.connect = connect;
    o.connect_in_background = 1;
    o.auth = "ops:secret";
    zkd_client *c = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_connect(&o, &c, NULL), 0);
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_client_wait_connected(c, 2000, &err), ZKD_ETIMEDOUT);
    CU_ASSERT_NOT_EQUAL(zkd_client_state(c), ZKD_STATE_CLOSED);
    zkd_close(c);
    slammer_stop(&sl);
}

/* connect_in_background: a client exists while nothing answers, and
 * connects once something does. */
static void test_connect_in_background(void)
{
    int port = tu_unused_port();
    char connect[64];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", port);
    zkd_options o;
    zkd_options_init(&o);
    o.connect = connect;
    o.connect_in_background = 1;
    o.auth = "ops:secret"; /* failed connection attempts are no auth verdict */
    zkd_client *c = NULL;
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_connect(&o, &c, &err), 0);
    CU_ASSERT_EQUAL(zkd_client_state(c), ZKD_STATE_CONNECTING);
    CU_ASSERT_EQUAL(zkd_client_wait_connected(c, 1500, &err), ZKD_ETIMEDOUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, connect));
    CU_ASSERT_EQUAL(zkd_client_state(c), ZKD_STATE_CONNECTING); /* still trying */
    zkd_close(c);

    o.connect = zkh_connect_string(zk);
    CU_ASSERT_EQUAL_FATAL(zkd_connect(&o, &c, &err), 0);
    CU_ASSERT_EQUAL(zkd_client_wait_connected(c, 15000, &err), 0);
    CU_ASSERT_EQUAL(zkd_client_state(c), ZKD_STATE_CONNECTED);
    zkd_close(c);
}

static void test_forced_expiry_reestablishes_once(void)
{
    zkd_client *c = tu_connect(zkh_connect_string(zk), 4000);
    tu_events ev;
    tu_events_subscribe(c, &ev);
    int64_t old_session = zkd_client_session_id(c);
    CU_ASSERT_EQUAL_FATAL(create_ephemeral(c, "/expiry-probe"), 0);

    CU_ASSERT_EQUAL_FATAL(tu_expire(c, zkh_connect_string(zk), 15000), 0);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_REESTABLISHED], 1, 20000));
    CU_ASSERT_EQUAL(tu_events_get(&ev, ZKD_SESSION_EXPIRED), 1);
    CU_ASSERT_EQUAL(zkd_client_state(c), ZKD_STATE_CONNECTED);
    CU_ASSERT_NOT_EQUAL(zkd_client_session_id(c), old_session);
    CU_ASSERT_NOT_EQUAL(zkd_client_session_id(c), 0);

    /* The old session's ephemeral went with it; the new session works. */
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/expiry-probe", NULL, NULL), ZKD_ENOTFOUND);
    CU_ASSERT_EQUAL(create_ephemeral(c, "/expiry-probe"), 0);
    /* A round trip on the new session later, still exactly one of each. */
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/expiry-probe", NULL, NULL), 0);
    CU_ASSERT_EQUAL(tu_events_get(&ev, ZKD_SESSION_REESTABLISHED), 1);
    CU_ASSERT_EQUAL(tu_events_get(&ev, ZKD_SESSION_EXPIRED), 1);
    CU_ASSERT_EQUAL(tu_events_get(&ev, ZKD_SESSION_CONNECTED), 0);
    zkd_close(c);
}

static int is_state(void *arg)
{
    void **a = arg;
    return zkd_client_state(a[0]) == *(zkd_state *)a[1];
}

static int wait_state(zkd_client *c, zkd_state s, int timeout_ms)
{
    void *args[2] = {c, &s};
    return tu_wait_until(is_state, args, timeout_ms);
}

/* A restart shorter than the session timeout is a reconnect, not an expiry:
 * same session, ephemerals kept, no EXPIRED. */
static void test_restart_inside_session_timeout(void)
{
    zkd_client *c = tu_connect(zkh_connect_string(zk), 30000);
    tu_events ev;
    tu_events_subscribe(c, &ev);
    int64_t session = zkd_client_session_id(c);
    CU_ASSERT_EQUAL_FATAL(create_ephemeral(c, "/restart-probe"), 0);
    zkd_stat before;
    CU_ASSERT_EQUAL_FATAL(zkd_node_stat(c, "/restart-probe", &before, NULL), 0);

    CU_ASSERT_EQUAL_FATAL(zkh_stop_server(zk, 0), 0);
    CU_ASSERT_TRUE(wait_state(c, ZKD_STATE_SUSPENDED, 15000));
    CU_ASSERT_EQUAL(tu_events_get(&ev, ZKD_SESSION_SUSPENDED), 1);
    CU_ASSERT_EQUAL_FATAL(zkh_restart_server(zk, 0), 0);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_RECONNECTED], 1, 25000));
    CU_ASSERT_EQUAL(zkd_client_state(c), ZKD_STATE_CONNECTED);
    CU_ASSERT_EQUAL(zkd_client_session_id(c), session);

    zkd_stat after;
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/restart-probe", &after, NULL), 0);
    CU_ASSERT_EQUAL(after.ephemeral_owner, session);
    CU_ASSERT_EQUAL(after.czxid, before.czxid);
    CU_ASSERT_EQUAL(tu_events_get(&ev, ZKD_SESSION_EXPIRED), 0);
    CU_ASSERT_EQUAL(tu_events_get(&ev, ZKD_SESSION_REESTABLISHED), 0);
    zkd_close(c);
}

static int lookups(void)
{
    return __atomic_load_n(&localhost_lookups, __ATOMIC_SEQ_CST);
}

/* A host name in the connect string is resolved when the client has no
 * connection, not on every I/O wake-up of a live one (the C client's
 * default, a DNS query per request); and the name still serves to find
 * the server again after it restarts. */
static void test_names_resolved_on_loss_only(void)
{
    char connect[64];
    snprintf(connect, sizeof connect, "localhost:%d", zkh_client_port(zk, 0));
    zkd_client *c = tu_connect(connect, 30000);
    tu_events ev;
    tu_events_subscribe(c, &ev);
    int64_t session = zkd_client_session_id(c);
    int before = lookups();
    CU_ASSERT(before >= 1);
    for (int i = 0; i < 300; i++)
        CU_ASSERT_EQUAL_FATAL(zkd_node_stat(c, "/", NULL, NULL), 0);
    int during = lookups() - before;
    CU_ASSERT(during <= 2); /* 300 and more without the resolution delay */
    if (during > 2)
        fprintf(stderr, "%d resolutions of localhost during 300 requests\n", during);

    CU_ASSERT_EQUAL_FATAL(zkh_stop_server(zk, 0), 0);
    CU_ASSERT_TRUE(wait_state(c, ZKD_STATE_SUSPENDED, 15000));
    int at_loss = lookups();
    CU_ASSERT_EQUAL_FATAL(zkh_restart_server(zk, 0), 0);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_RECONNECTED], 1, 25000));
    CU_ASSERT(lookups() > at_loss); /* resolved again on the way back */
    CU_ASSERT_EQUAL(zkd_client_session_id(c), session);
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/", NULL, NULL), 0);
    zkd_close(c);
}

/* zkd_close from inside a callback returns, and the teardown then finishes
 * on the dispatch thread: no deadlock, no further events. */
typedef struct close_probe {
    volatile int closed_in_callback;
    volatile int after_close; /* events delivered after zkd_close */
} close_probe;

static void close_on_expiry(zkd_client *c, zkd_session_event ev, void *ctx)
{
    close_probe *p = ctx;
    if (__atomic_load_n(&p->closed_in_callback, __ATOMIC_SEQ_CST))
        __atomic_add_fetch(&p->after_close, 1, __ATOMIC_SEQ_CST);
    if (ev == ZKD_SESSION_EXPIRED) {
        zkd_close(c);
        __atomic_store_n(&p->closed_in_callback, 1, __ATOMIC_SEQ_CST);
    }
}

static int live_clients_is(void *arg)
{
    return zkd__live_clients() == *(int *)arg;
}

static void test_close_from_callback(void)
{
    int baseline = zkd__live_clients();
    zkd_client *c = tu_connect(zkh_connect_string(zk), 4000);
    close_probe probe = {0};
    CU_ASSERT_EQUAL_FATAL(zkd_session_subscribe(c, close_on_expiry, &probe, NULL, NULL), 0);
    CU_ASSERT_EQUAL(zkd__live_clients(), baseline + 1);
    /* The client is freed once the callback closes it, so the retry (see
     * tu_expire) is keyed on the callback having run, not on the client. */
    int closed = 0;
    for (int attempt = 0; attempt < 3 && !closed; attempt++) {
        CU_ASSERT_EQUAL_FATAL(tu_force_expiry(c, zkh_connect_string(zk), 15000), 0);
        closed = tu_wait_int(&probe.closed_in_callback, 1, 5000);
    }
    CU_ASSERT_TRUE(closed);
    CU_ASSERT_TRUE(tu_wait_until(live_clients_is, &baseline, 10000));
    CU_ASSERT_EQUAL(probe.after_close, 0); /* no REESTABLISHED after the close */
}

/* An unsubscribed callback is not called again; the others still are. */
static int subscribe_counter(zkd_client *c, tu_events *ev)
{
    int id = 0;
    memset((void *)ev, 0, sizeof *ev);
    CU_ASSERT_EQUAL(zkd_session_subscribe(c, tu_count_event, ev, &id, NULL), 0);
    return id;
}

static void test_unsubscribe(void)
{
    zkd_client *c = tu_connect(zkh_connect_string(zk), 4000);
    CU_ASSERT_EQUAL(zkd_session_subscribe(c, NULL, NULL, NULL, NULL), ZKD_EINVAL);
    tu_events gone, kept;
    int gone_id = subscribe_counter(c, &gone);
    subscribe_counter(c, &kept);
    CU_ASSERT_EQUAL(zkd_session_unsubscribe(c, gone_id), 0);
    CU_ASSERT_EQUAL(zkd_session_unsubscribe(c, gone_id), ZKD_ENOTFOUND);
    CU_ASSERT_EQUAL_FATAL(tu_expire(c, zkh_connect_string(zk), 15000), 0);
    CU_ASSERT_TRUE(tu_wait_int(&kept.count[ZKD_SESSION_REESTABLISHED], 1, 20000));
    CU_ASSERT_EQUAL(tu_events_get(&kept, ZKD_SESSION_EXPIRED), 1);
    CU_ASSERT_EQUAL(tu_events_get(&gone, ZKD_SESSION_EXPIRED), 0);
    CU_ASSERT_EQUAL(tu_events_get(&gone, ZKD_SESSION_REESTABLISHED), 0);
    zkd_close(c);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"zkd_version matches the headers", test_version},
        {"connect and close", test_connect_and_close},
        {"nothing listening: timeout naming the host", test_nothing_listening},
        {"connect in the background", test_connect_in_background},
        {"credentials survive dropped connections", test_auth_survives_dropped_connections},
        {"forced expiry: new session, re-established once", test_forced_expiry_reestablishes_once},
        {"restart inside the session timeout: same session", test_restart_inside_session_timeout},
        {"host names resolved on connection loss, not per request", test_names_resolved_on_loss_only},
        {"zkd_close from inside a callback", test_close_from_callback},
        {"subscribe and unsubscribe", test_unsubscribe},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"session", suite_init, suite_clean, NULL, NULL, tests},
                             CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
