/* SPDX-License-Identifier: Apache-2.0 */
/* The registry under faults, against a real server: session events are
 * never held up by registrations being updated; a create whose reply was
 * lost, and a re-registration made while disconnected, each end with
 * exactly one node held by a live handle; an operator's drain survives a
 * connection drop between the drain and the registry's re-read, and then
 * an expiry; an operator's removal made before the registry's watch on the
 * node is armed is final (these register with spec.watch_node = 1, as the
 * agent does); without that watch (the default), a registration is one
 * create, and the process's next update still keeps a drain and finds a
 * removal.
 *
 * Replies and events are lost on purpose by a small TCP proxy between the
 * client and the server: it forwards ZooKeeper's frames both ways, and when
 * armed drops the connection right after a chosen frame. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "zkh.h"

ZKH_SUITE(1) /* zk: the suite's server(s); suite_init, suite_clean */

/* ---- the proxy ------------------------------------------------------------ */

typedef enum {
    PASS,        /* forward everything */
    LOSE_REPLY,  /* a request naming `match` (of type `op`, 0: any; a create
                    either way) goes through; its
                    reply is lost with the connection */
    LOSE_REREAD, /* a watch event naming `match` reaches the client; the client's next
                    request naming it goes through, and its reply is lost with the
                    connection */
    REFUSE       /* every connection is closed at once, as by a server that is away */
} proxy_mode;

typedef struct proxy {
    int listen_fd, port, upstream_port;
    pthread_t thread;
    int stop;  /* atomics */
    int mode;
    int fired; /* the armed fault happened */
    int op;    /* LOSE_REPLY: the request type, 0 for any */
    int after; /* the mode once the fault happened */
    char match[128];
    char connect[64]; /* "127.0.0.1:port" */
} proxy;

/* Bytes read from one side, cut into ZooKeeper frames (4-byte big-endian
 * length, then the payload). The first frame either way is the session
 * handshake, which has no request or reply header. */
typedef struct stream {
    int from, to;
    unsigned char *buf;
    size_t len, cap;
    int frames;
} stream;

static int32_t be32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads what is there; -1 when the side closed. */
static int fill(stream *s)
{
    if (s->cap - s->len < 65536) {
        s->cap = s->cap * 2 + 65536;
        s->buf = realloc(s->buf, s->cap);
    }
    ssize_t n = read(s->from, s->buf + s->len, s->cap - s->len);
    if (n <= 0)
        return -1;
    s->len += (size_t)n;
    return 0;
}

/* The next whole frame's size (header included), or 0. */
static size_t next_frame(const stream *s)
{
    if (s->len < 4)
        return 0;
    size_t n = 4 + (size_t)be32(s->buf);
    return s->len >= n ? n : 0;
}

static void consume(stream *s, size_t n)
{
    memmove(s->buf, s->buf + n, s->len - n);
    s->len -= n;
    s->frames++;
}

static int contains(const unsigned char *p, size_t n, const char *what)
{
    return memmem(p, n, what, strlen(what)) != NULL;
}

enum { OP_CREATE = 1, OP_GET_DATA = 4, OP_CREATE2 = 15, XID_EVENT = -1 };

static int is_op(int type, int op)
{
    return !op || type == op || (op == OP_CREATE && type == OP_CREATE2);
}

/* Forwards the server's frames until the reply to `xid` arrives, which is
 * not forwarded. 0 when it came. */
static int swallow_reply(stream *down, int32_t xid)
{
    for (;;) {
        size_t n;
        while ((n = next_frame(down)) != 0) {
            int is_it = down->frames > 0 && n >= 8 && be32(down->buf + 4) == xid;
            if (!is_it && write_all(down->to, down->buf, n) != 0)
                return -1;
            consume(down, n);
            if (is_it)
                return 0;
        }
        struct pollfd pf = {.fd = down->from, .events = POLLIN};
        if (poll(&pf, 1, 5000) <= 0 || fill(down) != 0)
            return -1;
    }
}

static void fault_done(proxy *p)
{
    __atomic_store_n(&p->mode, p->after, __ATOMIC_SEQ_CST);
    __atomic_store_n(&p->fired, 1, __ATOMIC_SEQ_CST);
}

/* One client connection, relayed frame by frame until either side closes,
 * the proxy stops or refuses, or the armed fault cuts it. */
static void relay(proxy *p, int client, int server)
{
    stream up = {.from = client, .to = server}, down = {.from = server, .to = client};
    int cut = 0, event_seen = 0;
    while (!cut && !__atomic_load_n(&p->stop, __ATOMIC_SEQ_CST) &&
           __atomic_load_n(&p->mode, __ATOMIC_SEQ_CST) != REFUSE) {
        struct pollfd pf[2] = {{.fd = client, .events = POLLIN}, {.fd = server, .events = POLLIN}};
        if (poll(pf, 2, 100) < 0)
            break;
        if ((pf[0].revents && fill(&up) != 0) || (pf[1].revents && fill(&down) != 0))
            break;
        int mode = __atomic_load_n(&p->mode, __ATOMIC_SEQ_CST);
        size_t n;
        while (!cut && (n = next_frame(&up)) != 0) {
            int type = up.frames > 0 && n >= 12 ? be32(up.buf + 8) : 0;
            int32_t xid = n >= 8 ? be32(up.buf + 4) : 0;
            int named = up.frames > 0 && contains(up.buf, n, p->match);
            int hit = named && ((mode == LOSE_REPLY && is_op(type, p->op)) ||
                                (mode == LOSE_REREAD && event_seen));
            if (write_all(server, up.buf, n) != 0)
                cut = 1;
            consume(&up, n);
            if (hit) {
                /* Once the server answers, it has done it; the answer is lost
                 * with the connection. */
                swallow_reply(&down, xid);
                fault_done(p);
                cut = 1;
            }
        }
        while (!cut && (n = next_frame(&down)) != 0) {
            if (mode == LOSE_REREAD && down.frames > 0 && n >= 8 && be32(down.buf + 4) == XID_EVENT &&
                contains(down.buf, n, p->match))
                event_seen = 1;
            if (write_all(client, down.buf, n) != 0)
                cut = 1;
            consume(&down, n);
        }
    }
    free(up.buf);
    free(down.buf);
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void *proxy_main(void *arg)
{
    proxy *p = arg;
    while (!__atomic_load_n(&p->stop, __ATOMIC_SEQ_CST)) {
        struct pollfd pf = {.fd = p->listen_fd, .events = POLLIN};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        int client = accept(p->listen_fd, NULL, NULL);
        if (client < 0)
            continue;
        int server = __atomic_load_n(&p->mode, __ATOMIC_SEQ_CST) == REFUSE ? -1 : dial(p->upstream_port);
        if (server >= 0) {
            relay(p, client, server);
            close(server);
        }
        close(client);
    }
    return NULL;
}

static void proxy_start(proxy *p, int upstream_port)
{
    memset(p, 0, sizeof *p);
    p->upstream_port = upstream_port;
    p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    CU_ASSERT_FATAL(bind(p->listen_fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
                    listen(p->listen_fd, 8) == 0 &&
                    getsockname(p->listen_fd, (struct sockaddr *)&sa, &len) == 0);
    p->port = ntohs(sa.sin_port);
    snprintf(p->connect, sizeof p->connect, "127.0.0.1:%d", p->port);
    CU_ASSERT_FATAL(pthread_create(&p->thread, NULL, proxy_main, p) == 0);
}

static void proxy_arm(proxy *p, proxy_mode mode, const char *match, int op, proxy_mode after)
{
    snprintf(p->match, sizeof p->match, "%s", match);
    p->op = op;
    p->after = after;
    __atomic_store_n(&p->fired, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&p->mode, mode, __ATOMIC_SEQ_CST);
}

static void proxy_stop(proxy *p)
{
    __atomic_store_n(&p->stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(p->thread, NULL);
    close(p->listen_fd);
}

/* ---- helpers ---------------------------------------------------------------- */

static zkd_client *connect_to(const char *connect, int session_ms, int request_ms)
{
    zkd_options o;
    zkd_options_init(&o);
    o.connect = connect;
    o.session_timeout_ms = session_ms;
    o.connect_timeout_ms = 15000;
    o.request_timeout_ms = request_ms;
    zkd_client *c = NULL;
    zkd_error err;
    int rc = zkd_connect(&o, &c, &err);
    if (rc)
        fprintf(stderr, "connect to %s: %s\n", connect, err.message);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return c;
}

static void spec_for(zkd_instance_spec *spec, const char *service, const char *id, int port)
{
    zkd_instance_spec_init(spec);
    spec->watch_node = 1; /* as the agent registers; test_unwatched says otherwise */
    spec->service = service;
    spec->id = id;
    spec->address = "10.7.7.7";
    spec->port = port;
}

static int register_as(zkd_client *c, const char *service, const char *id, int port,
                       zkd_registration **out)
{
    zkd_instance_spec spec;
    spec_for(&spec, service, id, port);
    zkd_error err;
    int rc = zkd_register(c, &spec, out, &err);
    if (rc)
        fprintf(stderr, "register %s/%s: %s\n", service, id, err.message);
    return rc;
}

static int count_children(zkd_client *c, const char *path)
{
    zkd_strings kids;
    if (zkd_node_children(c, path, &kids, NULL, NULL) != 0)
        return -1;
    int n = (int)kids.count;
    zkd_strings_free(&kids);
    return n;
}

typedef struct node_check {
    zkd_client *reader, *owner;
    const char *path;
    int port; /* -1: any */
} node_check;

static int port_of(zkd_client *c, const char *path)
{
    char *data = NULL;
    size_t len = 0;
    if (zkd_node_get(c, path, &data, &len, NULL, NULL) != 0)
        return -2;
    zkd_instance *i = NULL;
    int port = zkd_instance_parse(NULL, NULL, data, len, &i, NULL) == 0 ? zkd_instance_port(i) : -2;
    zkd_instance_unref(i);
    zkd_free(data);
    return port;
}

/* The node is there, held by the owner's current session (with the port). */
static int held(void *arg)
{
    node_check *n = arg;
    zkd_stat st;
    int64_t s = zkd_client_session_id(n->owner);
    return zkd_node_stat(n->reader, n->path, &st, NULL) == 0 && s != 0 && st.ephemeral_owner == s &&
           (n->port < 0 || port_of(n->reader, n->path) == n->port);
}

static int gone(void *arg)
{
    node_check *n = arg;
    return zkd_node_stat(n->reader, n->path, NULL, NULL) == ZKD_ENOTFOUND;
}

static int fired(void *arg)
{
    return __atomic_load_n(&((proxy *)arg)->fired, __ATOMIC_SEQ_CST);
}

/* ---- session events are not held up by updates ------------------------ */

typedef struct updater {
    zkd_registration *r;
    int stop, count, port; /* atomics */
} updater;

static void *update_loop(void *arg)
{
    updater *u = arg;
    while (!__atomic_load_n(&u->stop, __ATOMIC_SEQ_CST)) {
        zkd_instance_spec spec;
        zkd_instance_spec_init(&spec);
        spec.port = 2 + __atomic_load_n(&u->count, __ATOMIC_SEQ_CST) % 60000;
        zkd_registration_update(u->r, &spec, NULL);
        __atomic_store_n(&u->port, spec.port, __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&u->count, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

typedef struct count_above {
    int *count, above;
} count_above;

static int count_is_above(void *arg)
{
    count_above *c = arg;
    return __atomic_load_n(c->count, __ATOMIC_SEQ_CST) > c->above;
}

/* An updater thread loops over zkd_registration_update while the server
 * is restarted: the client hears of its return within 1 s, and the last
 * update reaches the tree. The client reaches the server through the proxy,
 * closed until the server serves again: a connection attempt made while the
 * server is still starting would hang in the C client for 2/3 of the
 * session timeout, which is not what this measures. */
static void test_reconnect_not_held_by_updates(void)
{
    proxy p;
    proxy_start(&p, zkh_client_port(zk, 0));
    zkd_client *a = connect_to(p.connect, 30000, 20000);
    tu_events ev;
    tu_events_subscribe(a, &ev);
    zkd_registration *r = NULL;
    CU_ASSERT_EQUAL_FATAL(register_as(a, "busy", "b-1", 1, &r), 0);
    updater u = {.r = r};
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, update_loop, &u), 0);
    count_above started = {&u.count, 20};
    CU_ASSERT_TRUE(tu_wait_until(count_is_above, &started, 20000));

    /* The connection drops under an update's read; the client cannot
     * reconnect until the server has been restarted. */
    proxy_arm(&p, LOSE_REPLY, "busy/b-1", OP_GET_DATA, REFUSE);
    CU_ASSERT_TRUE(tu_wait_until(fired, &p, 15000));
    CU_ASSERT_EQUAL_FATAL(zkh_stop_server(zk, 0), 0);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_SUSPENDED], 1, 20000));
    count_above more = {&u.count, __atomic_load_n(&u.count, __ATOMIC_SEQ_CST) + 20};
    CU_ASSERT_TRUE(tu_wait_until(count_is_above, &more, 20000)); /* updating while down */
    CU_ASSERT_EQUAL_FATAL(zkh_restart_server(zk, 0), 0);
    proxy_arm(&p, PASS, "", 0, PASS);
    int64_t back = tu_now_ms();
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_RECONNECTED], 1, 30000));
    int64_t took = tu_now_ms() - back;
    fprintf(stderr, "reconnected %lld ms after the server was back\n", (long long)took);
    CU_ASSERT(took < 1000);

    __atomic_store_n(&u.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(t, NULL);
    zkd_client *b = connect_to(zkh_connect_string(zk), 10000, 15000);
    node_check n = {b, a, "/zkdisc/services/busy/b-1", __atomic_load_n(&u.port, __ATOMIC_SEQ_CST)};
    CU_ASSERT_TRUE(tu_wait_until(held, &n, 15000));
    CU_ASSERT_EQUAL(zkd_registration_close(r, NULL), 0);
    zkd_close(a);
    zkd_close(b);
    proxy_stop(&p);
}

/* ---- lost replies and re-registration while disconnected ------------------- */

/* The create reaches the server, its reply is lost with the connection:
 * zkd_register reads what is there, finds its own session's node, adopts
 * it and succeeds. Exactly one node, and the handle holds it. */
/* session_ms decides who sends the create: with a session timeout whose
 * two thirds (the C client's limit for a silent connection) fit in the
 * request timeout, zkd_register's caller makes a synchronous create; else
 * the loop sends it. Either way the create is sent once, its lost reply
 * resolved by reading, and the node adopted. */
static void lost_create_reply(int session_ms)
{
    proxy p;
    proxy_start(&p, zkh_client_port(zk, 0));
    zkd_client *a = connect_to(p.connect, session_ms, 15000);
    zkd_client *b = connect_to(zkh_connect_string(zk), 10000, 15000);
    proxy_arm(&p, LOSE_REPLY, "lost/l-1", OP_CREATE, PASS);
    zkd_registration *r = NULL;
    zkd_counters before, after;
    zkd_client_counters(a, &before);
    CU_ASSERT_EQUAL(register_as(a, "lost", "l-1", 5, &r), 0);
    CU_ASSERT_TRUE(fired(&p)); /* the fault did happen */
    zkd_client_counters(a, &after);
    CU_ASSERT(after.create >= before.create + 1);
    node_check n = {b, a, "/zkdisc/services/lost/l-1", 5};
    CU_ASSERT_TRUE(tu_wait_until(held, &n, 15000));
    CU_ASSERT_EQUAL(count_children(b, "/zkdisc/services/lost"), 1);
    if (r) {
        CU_ASSERT_EQUAL(zkd_registration_close(r, NULL), 0);
        CU_ASSERT_TRUE(tu_wait_until(gone, &n, 15000));
    }
    zkd_close(a);
    zkd_close(b);
    proxy_stop(&p);
}

static void test_lost_create_reply(void)
{
    lost_create_reply(30000);
}

static void test_lost_direct_create_reply(void)
{
    lost_create_reply(6000);
}

/* Register, deregister, register the same id again while the server is
 * down: both calls return at once; when the server is back there is
 * exactly one node, held by the second handle (an update reaches it, a
 * deregister removes it). */
static void test_reregister_while_disconnected(void)
{
    zkd_client *a = connect_to(zkh_connect_string(zk), 30000, 8000);
    tu_events ev;
    tu_events_subscribe(a, &ev);
    zkd_registration *first = NULL, *second = NULL;
    CU_ASSERT_EQUAL_FATAL(register_as(a, "again", "x-1", 1, &first), 0);
    CU_ASSERT_EQUAL_FATAL(zkh_stop_server(zk, 0), 0);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_SUSPENDED], 1, 20000));
    int64_t t0 = tu_now_ms();
    CU_ASSERT_EQUAL(zkd_registration_close(first, NULL), 0);
    CU_ASSERT_EQUAL(register_as(a, "again", "x-1", 2, &second), 0);
    CU_ASSERT(tu_now_ms() - t0 < 1000);
    CU_ASSERT_EQUAL_FATAL(zkh_restart_server(zk, 0), 0);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_RECONNECTED], 1, 30000));

    zkd_client *b = connect_to(zkh_connect_string(zk), 10000, 15000);
    node_check n = {b, a, "/zkdisc/services/again/x-1", 2};
    CU_ASSERT_TRUE(tu_wait_until(held, &n, 15000));
    CU_ASSERT_EQUAL(count_children(b, "/zkdisc/services/again"), 1);
    if (second) {
        /* The update is queued behind anything the registry still had to
         * do for this path: once it is in, a late delete would have shown. */
        zkd_instance_spec spec;
        zkd_instance_spec_init(&spec);
        spec.port = 3;
        CU_ASSERT_EQUAL(zkd_registration_update(second, &spec, NULL), 0);
        n.port = 3;
        CU_ASSERT_TRUE(tu_wait_until(held, &n, 15000));
        CU_ASSERT_EQUAL(zkd_registration_close(second, NULL), 0);
        CU_ASSERT_TRUE(tu_wait_until(gone, &n, 15000));
    }
    CU_ASSERT_EQUAL(tu_events_get(&ev, ZKD_SESSION_EXPIRED), 0);
    zkd_close(a);
    zkd_close(b);
}

/* ---- a drain across a drop and an expiry -------------------------------------- */

static int registry_knows_drained(void *arg)
{
    zkd_instance *i = zkd_registration_instance(arg);
    int drained = !zkd_instance_enabled(i);
    zkd_instance_unref(i);
    return drained;
}

/* The operator drains; the registry's watch fires, and the connection
 * drops under its re-read. After the reconnect the registry
 * still learns of the drain, and the node it re-creates after an expiry
 * is drained too. */
static void test_drain_across_drop_and_expiry(void)
{
    proxy p;
    proxy_start(&p, zkh_client_port(zk, 0));
    zkd_client *a = connect_to(p.connect, 10000, 15000);
    zkd_client *op = connect_to(zkh_connect_string(zk), 10000, 15000);
    tu_events ev;
    tu_events_subscribe(a, &ev);
    zkd_registration *r = NULL;
    CU_ASSERT_EQUAL_FATAL(register_as(a, "drained", "d-1", 7, &r), 0);
    proxy_arm(&p, LOSE_REREAD, "drained/d-1", 0, PASS);
    CU_ASSERT_EQUAL(zkd_instance_set_enabled(op, "drained", "d-1", 0, NULL), 0);
    CU_ASSERT_TRUE(tu_wait_until(fired, &p, 15000));
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_RECONNECTED], 1, 20000));
    CU_ASSERT_TRUE(tu_wait_until(registry_knows_drained, r, 10000));

    CU_ASSERT_EQUAL_FATAL(tu_expire(a, zkh_connect_string(zk), 15000), 0);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_REESTABLISHED], 1, 20000));
    node_check n = {op, a, "/zkdisc/services/drained/d-1", 7};
    CU_ASSERT_TRUE(tu_wait_until(held, &n, 20000));
    CU_ASSERT_EQUAL(tu_enabled_in_tree(op, n.path), 0);
    CU_ASSERT_EQUAL(count_children(op, "/zkdisc/services/drained"), 1);
    CU_ASSERT_EQUAL(zkd_registration_close(r, NULL), 0);
    zkd_close(a);
    zkd_close(op);
    proxy_stop(&p);
}

/* ---- a removal between the caller's create and the registry's watch ------ */

static int is_connected(void *c)
{
    return zkd_client_state(c) == ZKD_STATE_CONNECTED;
}

/* The registry's line for a node an operator removed. */
static void note_removal(zkd_log_level level, const char *message, void *ctx)
{
    (void)level;
    if (strstr(message, "removed by another client"))
        __atomic_store_n((int *)ctx, 1, __ATOMIC_SEQ_CST);
}

/* A client whose log lines saying an operator removed a node set *seen. */
static zkd_client *connect_noting_removals(int *seen)
{
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zkh_connect_string(zk);
    o.session_timeout_ms = 10000;
    o.request_timeout_ms = 15000;
    o.log_fn = note_removal;
    o.log_ctx = seen;
    zkd_client *c = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_connect(&o, &c, NULL), 0);
    return c;
}

/* zkd_register's caller makes the create; the registry's thread, held up
 * here, arms the node's watch only later. An operator removes the node in
 * between: the watch's answer finds it gone, and the removal is final (old
 * code: the watch was taken as armed, and the expiry's re-creations brought
 * the node back). */
static void test_removed_before_watch(void)
{
    int removal_seen = 0;
    zkd_client *a = connect_noting_removals(&removal_seen);
    zkd_client *op = connect_to(zkh_connect_string(zk), 10000, 15000);
    tu_events ev;
    tu_events_subscribe(a, &ev);
    zkd_registration *keep = NULL, *r = NULL;
    CU_ASSERT_EQUAL_FATAL(register_as(a, "removed", "r-keep", 1, &keep), 0);
    tu_hold h = TU_HOLD_INIT;
    zkd_cache *k = NULL; /* its first listener call holds the dispatch thread */
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(a, "removed", tu_hold_fn, &h, &k, NULL), 0);
    CU_ASSERT_TRUE_FATAL(tu_wait_until(tu_hold_held, &h, 15000));

    CU_ASSERT_EQUAL_FATAL(register_as(a, "removed", "r-1", 2, &r), 0);
    node_check n = {op, a, "/zkdisc/services/removed/r-1", 2};
    CU_ASSERT_TRUE(held(&n)); /* the caller's own create */
    CU_ASSERT_EQUAL(zkd_node_delete(op, n.path, -1, NULL), 0);
    tu_hold_release(&h);
    CU_ASSERT_TRUE_FATAL(tu_wait_int(&removal_seen, 1, 15000)); /* the watch's answer said so */

    /* Once failed in the full suite on a loaded machine (3 suites on 2
     * cores), not reproduced: connected first, and more time. */
    CU_ASSERT_TRUE_FATAL(tu_wait_until(is_connected, a, 30000));
    CU_ASSERT_EQUAL_FATAL(tu_expire(a, zkh_connect_string(zk), 30000), 0);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_REESTABLISHED], 1, 20000));
    node_check kept = {op, a, "/zkdisc/services/removed/r-keep", 1};
    CU_ASSERT_TRUE(tu_wait_until(held, &kept, 20000));
    /* Through a's own connection: after every create of its re-creation pass. */
    CU_ASSERT_EQUAL(zkd_node_stat(a, n.path, NULL, NULL), ZKD_ENOTFOUND);
    CU_ASSERT_TRUE(gone(&n));
    zkd_cache_close(k);
    CU_ASSERT_EQUAL(zkd_registration_close(r, NULL), 0);
    CU_ASSERT_EQUAL(zkd_registration_close(keep, NULL), 0);
    zkd_close(a);
    zkd_close(op);
}

/* ---- spec.watch_node = 0 ------------------------------------------------- */

static int register_unwatched(zkd_client *c, const char *id, zkd_registration **out)
{
    zkd_instance_spec spec;
    spec_for(&spec, "unwatched", id, 1);
    spec.watch_node = 0;
    return zkd_register(c, &spec, out, NULL);
}

typedef struct exists_sent {
    zkd_client *c;
    uint64_t n;
} exists_sent;

static int exists_reached(void *arg)
{
    exists_sent *e = arg;
    zkd_counters now;
    zkd_client_counters(e->c, &now);
    return now.exists >= e->n;
}

/* Unwatched, a registration sends its create and nothing else. An
 * operator's drain is still kept by the process's update, which reads the
 * node first; a removal is found by the next update and stays final
 * across an expiry. */
static void test_unwatched(void)
{
    int removal_seen = 0;
    zkd_client *a = connect_noting_removals(&removal_seen);
    zkd_client *op = connect_to(zkh_connect_string(zk), 10000, 15000);
    tu_events ev;
    tu_events_subscribe(a, &ev);
    zkd_instance_spec defaults;
    zkd_instance_spec_init(&defaults);
    CU_ASSERT_EQUAL(defaults.watch_node, 0); /* Curator's: the create alone */
    zkd_counters before;
    zkd_client_counters(a, &before);
    zkd_registration *u[3] = {NULL};
    const char *ids[3] = {"u-1", "u-2", "u-3"};
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL_FATAL(register_unwatched(a, ids[i], &u[i]), 0);
    /* A watched registration's exists comes after theirs on the registry's
     * thread: once it is counted, any of theirs would be too. */
    zkd_registration *w = NULL;
    CU_ASSERT_EQUAL_FATAL(register_as(a, "unwatched", "w-1", 1, &w), 0);
    exists_sent e = {a, before.exists + 1};
    CU_ASSERT_TRUE_FATAL(tu_wait_until(exists_reached, &e, 15000));
    zkd_counters after;
    zkd_client_counters(a, &after);
    CU_ASSERT_EQUAL(after.exists, before.exists + 1);
    CU_ASSERT_EQUAL(after.get_data, before.get_data);

    /* Drained by an operator, updated by the process: still drained. */
    CU_ASSERT_EQUAL(zkd_instance_set_enabled(op, "unwatched", "u-1", 0, NULL), 0);
    zkd_instance_spec up;
    zkd_instance_spec_init(&up);
    up.port = 2;
    CU_ASSERT_EQUAL(zkd_registration_update(u[0], &up, NULL), 0);
    node_check drained = {op, a, "/zkdisc/services/unwatched/u-1", 2};
    CU_ASSERT_TRUE(held(&drained));
    CU_ASSERT_EQUAL(tu_enabled_in_tree(op, drained.path), 0);
    /* Removed by an operator: the next update finds it gone. */
    node_check removed = {op, a, "/zkdisc/services/unwatched/u-2", -1};
    CU_ASSERT_EQUAL(zkd_node_delete(op, removed.path, -1, NULL), 0);
    CU_ASSERT_EQUAL(zkd_registration_update(u[1], &up, NULL), 0);
    CU_ASSERT_TRUE_FATAL(tu_wait_int(&removal_seen, 1, 15000));

    /* The expiry re-creates the others, the drain kept; not the removed. */
    CU_ASSERT_TRUE_FATAL(tu_wait_until(is_connected, a, 30000));
    CU_ASSERT_EQUAL_FATAL(tu_expire(a, zkh_connect_string(zk), 30000), 0);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_REESTABLISHED], 1, 20000));
    node_check kept = {op, a, "/zkdisc/services/unwatched/u-3", 1};
    CU_ASSERT_TRUE(tu_wait_until(held, &kept, 20000));
    CU_ASSERT_TRUE(tu_wait_until(held, &drained, 20000));
    CU_ASSERT_EQUAL(tu_enabled_in_tree(op, drained.path), 0);
    CU_ASSERT_EQUAL(zkd_node_stat(a, removed.path, NULL, NULL), ZKD_ENOTFOUND);
    CU_ASSERT_TRUE(gone(&removed));
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(zkd_registration_close(u[i], NULL), 0);
    CU_ASSERT_EQUAL(zkd_registration_close(w, NULL), 0);
    zkd_close(a);
    zkd_close(op);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"updates in a loop do not delay the reconnect", test_reconnect_not_held_by_updates},
        {"lost create reply: adopted, one node", test_lost_create_reply},
        {"lost reply of the caller's own create: adopted, one node", test_lost_direct_create_reply},
        {"register, deregister, register while down: one node", test_reregister_while_disconnected},
        {"a drain survives a drop before the re-read, then an expiry", test_drain_across_drop_and_expiry},
        {"a removal before the registry's watch is final, across an expiry", test_removed_before_watch},
        {"watch_node = 0: one create; drain kept, removal final", test_unwatched},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"registry_faults", suite_init, suite_clean, NULL, NULL, tests},
                             CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
