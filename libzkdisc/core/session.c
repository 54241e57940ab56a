/* SPDX-License-Identifier: Apache-2.0 */
/* The client session: its state machine, and the new session it opens by
 * itself after an expiry.
 *
 * ZooKeeper's completion thread only turns session events into jobs for the
 * dispatch thread. Every state change and every subscriber call happens on
 * the dispatch thread, so the state machine has a single writer. The two
 * handle operations that block (zookeeper_close of an expired handle, and
 * zookeeper_init, which resolves the connect string's names with a
 * synchronous getaddrinfo) run on a short-lived thread of their own; the
 * dispatch thread installs the new handle when it is ready, holding zh_lock
 * for writing only to swap a pointer. */
#include "session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "counters.h"
#include "errors.h"
#include "options.h"

/* Watcher context of one ZooKeeper handle; events of a replaced handle carry
 * an old generation and are ignored. */
typedef struct zkd_conn {
    zkd_client *c;
    unsigned gen;
} zkd_conn;

typedef struct hook {
    struct hook *next;
    zkd_job_fn fn;
    void *arg;
} hook;

/* One handle being opened off the dispatch thread (see start_open). */
typedef struct opening {
    zkd_client *c;
    zkd_conn *conn;      /* the new handle's watcher context */
    zhandle_t *old;      /* an expired handle to close first, or NULL */
    zkd_conn *old_conn;
    const clientid_t *id; /* the session to resume, or NULL */
    zhandle_t *zh;       /* the result; NULL: failed with errno `err` */
    int err;
} opening;

typedef struct sub {
    int id;
    zkd_session_fn fn;
    void *ctx;
} sub;

struct zkd_client {
    char *connect, *root, *auth, *snapshot_dir;
    int session_timeout_ms, connect_timeout_ms, request_timeout_ms;
    zkd_log_level log_level;
    zkd_log_fn log_fn;
    void *log_ctx;

    zkd_loop *loop;
    pthread_mutex_t mu; /* guards subs and pairs with cv for state waits */
    pthread_cond_t cv;
    _Atomic int state;
    _Atomic int64_t session_id;
    _Atomic int closing;
    int ever_connected;      /* dispatch thread only */
    int reestablish_pending; /* dispatch thread only */
    zkd_timer *renew_timer;  /* dispatch thread only: the next try to open a session */
    int renew_delay_ms;      /* dispatch thread only: its backoff */
    pthread_t opener;        /* dispatch thread only: the thread opening a handle, */
    int opener_live;         /* while this is set (joined by open_done or teardown) */
    clientid_t resume;       /* options.resume (id 0: none), for the first handle */
    _Atomic int resumed;     /* the current session is `resume` */
    int torn_down;           /* under mu: the loop is gone, posts are dropped */
    int torn_done;           /* under mu, broadcast on cv: teardown has finished */
    pthread_t loop_thread;   /* the loop's thread, also once the loop is gone */
    _Atomic int refs;        /* the user's reference plus one per open object */

    /* Session events, coalesced: the newest state of the newest handle and
     * whether a job to handle it is queued (one wake-up for any burst). */
    pthread_mutex_t ev_mu;
    unsigned ev_gen;
    int ev_state;
    int ev_posted;

    pthread_rwlock_t zh_lock; /* guards zh, conn, gen */
    zhandle_t *zh;
    zkd_conn *conn;
    unsigned gen;

    sub *subs;
    size_t nsubs, cap;
    int next_sub_id;

    _Atomic uint64_t counters[ZKD_CNT_COUNT];
    hook *hooks; /* run after the session is closed, newest first */
    pthread_mutex_t slot_mu;
    void *slots[ZKD_SLOT_COUNT];
};

static void start_open(zkd_client *c, zhandle_t *old, zkd_conn *old_conn);

/* Clients not yet torn down, so tests can see a close from a callback finish. */
static _Atomic int live_clients;

int zkd__live_clients(void) { return atomic_load(&live_clients); }

/* ---- logging ---------------------------------------------------------- */

void zkd__log(zkd_client *c, zkd_log_level level, const char *fmt, ...)
{
    if (level == ZKD_LOG_OFF || level > c->log_level)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (c->log_fn)
        c->log_fn(level, line, c->log_ctx);
    else
        fprintf(stderr, "zkdisc: %s\n", line);
}

/* ---- small accessors --------------------------------------------------- */

const char *zkd_version(void) { return ZKD_VERSION_STRING; }

const char *zkd_state_name(zkd_state s)
{
    static const char *names[] = {"connecting", "connected", "suspended", "expired", "closed"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

const char *zkd_session_event_name(zkd_session_event ev)
{
    switch (ev) {
    case ZKD_SESSION_CONNECTED: return "connected";
    case ZKD_SESSION_SUSPENDED: return "suspended";
    case ZKD_SESSION_RECONNECTED: return "reconnected";
    case ZKD_SESSION_EXPIRED: return "expired";
    case ZKD_SESSION_REESTABLISHED: return "reestablished";
    case ZKD_SESSION_AUTH_FAILED: return "auth-failed";
    }
    return "unknown";
}

zkd_state zkd_client_state(const zkd_client *c) { return (zkd_state)atomic_load(&c->state); }
int64_t zkd_client_session_id(const zkd_client *c) { return atomic_load(&c->session_id); }
int zkd_client_resumed(const zkd_client *c) { return atomic_load(&c->resumed); }
const char *zkd_client_root(const zkd_client *c) { return c->root; }
const char *zkd_client_connect_string(const zkd_client *c) { return c->connect; }
const char *zkd__snapshot_dir(const zkd_client *c) { return c->snapshot_dir; }
int zkd__client_has_auth(const zkd_client *c) { return c->auth != NULL; }
int zkd__closing(const zkd_client *c) { return atomic_load(&c->closing); }
int zkd__request_timeout_ms(const zkd_client *c) { return c->request_timeout_ms; }

void zkd__count(zkd_client *c, zkd_counter which, uint64_t n)
{
    atomic_fetch_add_explicit(&c->counters[which], n, memory_order_relaxed);
}

void zkd_client_counters(zkd_client *c, zkd_counters *out)
{
    uint64_t v[ZKD_CNT_COUNT];
    for (int i = 0; i < ZKD_CNT_COUNT; i++)
        v[i] = atomic_load_explicit(&c->counters[i], memory_order_relaxed);
    *out = (zkd_counters){v[ZKD_CNT_GET_DATA], v[ZKD_CNT_GET_CHILDREN], v[ZKD_CNT_EXISTS],
                          v[ZKD_CNT_CREATE], v[ZKD_CNT_SET_DATA], v[ZKD_CNT_REMOVE],
                          v[ZKD_CNT_MULTI], v[ZKD_CNT_WATCHES_FIRED], v[ZKD_CNT_BYTES_READ],
                          v[ZKD_CNT_BYTES_WRITTEN]};
}

void *zkd__slot(zkd_client *c, zkd_slot which, void *(*make)(zkd_client *c))
{
    pthread_mutex_lock(&c->slot_mu);
    if (!c->slots[which] && make)
        c->slots[which] = make(c);
    void *v = c->slots[which];
    pthread_mutex_unlock(&c->slot_mu);
    return v;
}

static int post_raw(zkd_client *c, zkd_job_fn fn, zkd_job_fn drop, void *arg);

typedef struct dispatch_wait {
    zkd_job_fn fn, dropped;
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} dispatch_wait;

static void dispatch_wait_end(dispatch_wait *w)
{
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void dispatch_wait_run(void *arg)
{
    dispatch_wait *w = arg;
    w->fn(w->arg);
    dispatch_wait_end(w);
}

/* Dropped: queued when the loop stopped. This runs on the loop thread,
 * before the teardown, where nothing of the object can run concurrently:
 * the close itself can run as if the client were open. */
static void dispatch_wait_drop(void *arg)
{
    dispatch_wait *w = arg;
    w->fn(w->arg);
    dispatch_wait_end(w);
}

/* Waits until the client's teardown has finished (any thread but the
 * loop's), so that a close refused by a stopping loop never runs beside the
 * object's last job or the teardown hooks. */
static void wait_torn_down(zkd_client *c)
{
    pthread_mutex_lock(&c->mu);
    while (!c->torn_done)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

void zkd__run_on_dispatch(zkd_client *c, zkd_job_fn fn, zkd_job_fn dropped, void *arg)
{
    if (zkd__on_dispatch_thread(c)) {
        fn(arg);
        return;
    }
    dispatch_wait w = {.fn = fn, .dropped = dropped, .arg = arg};
    pthread_mutex_init(&w.mu, NULL);
    zkd__cond_init(&w.cv);
    if (post_raw(c, dispatch_wait_run, dispatch_wait_drop, &w) != 0) {
        /* The loop is stopping or gone: the object's close runs here once
         * the teardown is over (on the loop thread itself, at once). */
        pthread_mutex_destroy(&w.mu);
        pthread_cond_destroy(&w.cv);
        if (!pthread_equal(pthread_self(), c->loop_thread))
            wait_torn_down(c);
        if (dropped)
            dropped(arg);
        return;
    }
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
}

int zkd__at_teardown(zkd_client *c, zkd_job_fn fn, void *arg)
{
    hook *h = malloc(sizeof *h);
    if (!h)
        return ZKD_ENOMEM;
    pthread_mutex_lock(&c->mu);
    *h = (hook){.next = c->hooks, .fn = fn, .arg = arg};
    c->hooks = h;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

int zkd__teardown_cancel(zkd_client *c, zkd_job_fn fn, void *arg)
{
    pthread_mutex_lock(&c->mu);
    for (hook **p = &c->hooks; *p; p = &(*p)->next) {
        if ((*p)->fn == fn && (*p)->arg == arg) {
            hook *h = *p;
            *p = h->next;
            pthread_mutex_unlock(&c->mu);
            free(h);
            return 1;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
}

/* Queues; on refusal nothing is called. */
static int post_raw(zkd_client *c, zkd_job_fn fn, zkd_job_fn drop, void *arg)
{
    pthread_mutex_lock(&c->mu);
    int rc = c->torn_down ? ZKD_ECLOSED : zkd__loop_post(c->loop, fn, drop, arg);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int zkd__post(zkd_client *c, zkd_job_fn fn, zkd_job_fn drop, void *arg)
{
    int rc = post_raw(c, fn, drop, arg);
    if (rc && drop)
        drop(arg); /* outside c->mu: drop functions may unsubscribe */
    return rc;
}

zkd_timer *zkd__after(zkd_client *c, int64_t delay_ms, zkd_job_fn fn, zkd_job_fn drop, void *arg)
{
    pthread_mutex_lock(&c->mu);
    zkd_timer *t = c->torn_down ? NULL : zkd__loop_after(c->loop, delay_ms, fn, drop, arg);
    pthread_mutex_unlock(&c->mu);
    if (!t && drop)
        drop(arg);
    return t;
}

void zkd__cancel(zkd_client *c, zkd_timer *t)
{
    zkd__loop_cancel(c->loop, t);
}

void zkd__client_ref(zkd_client *c)
{
    atomic_fetch_add(&c->refs, 1);
}

static void client_free(zkd_client *c);

void zkd__client_unref(zkd_client *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
        client_free(c);
}

zhandle_t *zkd__zh_acquire(zkd_client *c)
{
    pthread_rwlock_rdlock(&c->zh_lock);
    if (c->zh)
        return c->zh;
    pthread_rwlock_unlock(&c->zh_lock);
    return NULL;
}

void zkd__zh_release(zkd_client *c)
{
    pthread_rwlock_unlock(&c->zh_lock);
}

int zkd__client_id(zkd_client *c, clientid_t *out)
{
    zhandle_t *zh = zkd__zh_acquire(c);
    if (!zh)
        return ZKD_EEXPIRED;
    *out = *zoo_client_id(zh);
    zkd__zh_release(c);
    return 0;
}

int zkd_client_credentials(zkd_client *c, zkd_session_credentials *out, zkd_error *err)
{
    if (!c || !out)
        return zkd__fail(err, ZKD_EINVAL, "no client or place for the credentials given");
    memset(out, 0, sizeof *out);
    clientid_t id;
    /* The handle reports the id it was asked to resume before the server
     * has accepted it: only a connected session's id is given out. */
    int64_t connected = atomic_load(&c->session_id);
    if (connected == 0 || zkd__client_id(c, &id) != 0 || id.client_id != connected)
        return zkd__fail(err, ZKD_EEXPIRED, "the client has no session right now");
    out->id = id.client_id;
    memcpy(out->password, id.passwd, sizeof out->password);
    memset(&id, 0, sizeof id);
    return 0;
}

int zkd_client_server(zkd_client *c, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "";
    int port = 0;
    if (len)
        buf[0] = '\0';
    zhandle_t *zh = zkd__zh_acquire(c);
    if (!zh)
        return ZKD_ETIMEDOUT;
    struct sockaddr *sa = zookeeper_get_connected_host(zh, (struct sockaddr *)&ss, &sl);
    zkd__zh_release(c);
    if (!sa || zkd_client_state(c) != ZKD_STATE_CONNECTED)
        return ZKD_ETIMEDOUT;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(buf, len, "%s:%d", host, port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(buf, len, "[%s]:%d", host, port);
    }
    return 0;
}

/* ---- subscribers -------------------------------------------------------- */

int zkd_session_subscribe(zkd_client *c, zkd_session_fn fn, void *ctx, int *id_out, zkd_error *err)
{
    if (!c || !fn)
        return zkd__fail(err, ZKD_EINVAL, "no client or callback given");
    pthread_mutex_lock(&c->mu);
    if (c->nsubs == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        sub *grown = realloc(c->subs, cap * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&c->mu);
            return zkd__fail(err, ZKD_ENOMEM, "out of memory adding a session subscriber");
        }
        c->subs = grown;
        c->cap = cap;
    }
    int id = ++c->next_sub_id;
    c->subs[c->nsubs++] = (sub){.id = id, .fn = fn, .ctx = ctx};
    pthread_mutex_unlock(&c->mu);
    if (id_out)
        *id_out = id;
    return 0;
}

int zkd_session_unsubscribe(zkd_client *c, int id)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nsubs; i++) {
        if (c->subs[i].id == id) {
            memmove(&c->subs[i], &c->subs[i + 1], (c->nsubs - i - 1) * sizeof *c->subs);
            c->nsubs--;
            pthread_mutex_unlock(&c->mu);
            return 0;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return ZKD_ENOTFOUND;
}

/* Finds the first subscription with an id above `after`; ids only grow, so
 * delivery survives callbacks that subscribe or unsubscribe. */
static int next_sub(zkd_client *c, int after, sub *out)
{
    int found = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nsubs && !found; i++) {
        if (c->subs[i].id > after) {
            *out = c->subs[i];
            found = 1;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return found;
}

/* The newest subscription id now: an event goes only to subscriptions that
 * existed when its state change happened, not to one added after
 * zkd_connect returned but before the event was delivered. */
static int sub_horizon(zkd_client *c)
{
    pthread_mutex_lock(&c->mu);
    int h = c->next_sub_id;
    pthread_mutex_unlock(&c->mu);
    return h;
}

static void emit(zkd_client *c, zkd_session_event ev, int horizon)
{
    zkd__log(c, ZKD_LOG_INFO, "session %s (0x%llx)", zkd_session_event_name(ev),
             (unsigned long long)atomic_load(&c->session_id));
    sub s;
    int after = 0;
    while (!zkd__closing(c) && next_sub(c, after, &s) && s.id <= horizon) {
        after = s.id;
        s.fn(c, ev, s.ctx);
    }
}

static void set_state(zkd_client *c, zkd_state s)
{
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->state, s);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* ---- the state machine (dispatch thread) -------------------------------- */

static int64_t current_session_id(zkd_client *c)
{
    clientid_t id;
    return zkd__client_id(c, &id) == 0 ? id.client_id : 0;
}

static void on_connected(zkd_client *c)
{
    zkd_state prev = zkd_client_state(c);
    int64_t id = current_session_id(c);
    atomic_store(&c->session_id, id);
    atomic_store(&c->resumed, c->resume.client_id != 0 && id == c->resume.client_id);
    int horizon = sub_horizon(c);
    set_state(c, ZKD_STATE_CONNECTED);
    if (!c->ever_connected) {
        c->ever_connected = 1;
        c->reestablish_pending = 0; /* a saved session that had expired: still the first */
        emit(c, ZKD_SESSION_CONNECTED, horizon);
    } else if (c->reestablish_pending) {
        c->reestablish_pending = 0;
        emit(c, ZKD_SESSION_REESTABLISHED, horizon);
    } else if (prev == ZKD_STATE_SUSPENDED) {
        emit(c, ZKD_SESSION_RECONNECTED, horizon);
    }
}

enum { RENEW_FIRST_DELAY_MS = 100, RENEW_MAX_DELAY_MS = 5000 };

static void try_renew(void *arg)
{
    zkd_client *c = arg;
    c->renew_timer = NULL;
    if (!zkd__closing(c))
        start_open(c, NULL, NULL);
}

/* Opening the new session failed (errno): tries again later, with the delay
 * doubling up to RENEW_MAX_DELAY_MS, until it works or the client is
 * closed. */
static void renew_failed(zkd_client *c)
{
    int e = errno;
    if (zkd__closing(c))
        return;
    c->renew_delay_ms = c->renew_delay_ms ? c->renew_delay_ms * 2 : RENEW_FIRST_DELAY_MS;
    if (c->renew_delay_ms > RENEW_MAX_DELAY_MS)
        c->renew_delay_ms = RENEW_MAX_DELAY_MS;
    zkd__log(c, ZKD_LOG_WARN, "cannot open a new ZooKeeper session with %s: %s; trying again in %d ms",
             c->connect, strerror(e), c->renew_delay_ms);
    c->renew_timer = zkd__after(c, c->renew_delay_ms, try_renew, NULL, c);
}

/* The old handle is dead: it is closed off a ZooKeeper callback (on the
 * opening thread, see start_open) and a new session opened with the same
 * options. */
static void renew_session(zkd_client *c)
{
    pthread_rwlock_wrlock(&c->zh_lock);
    zhandle_t *old = c->zh;
    zkd_conn *old_conn = c->conn;
    c->zh = NULL;
    c->conn = NULL;
    pthread_rwlock_unlock(&c->zh_lock);
    if (zkd__closing(c)) {
        if (old)
            zookeeper_close(old);
        free(old_conn);
        return;
    }
    c->reestablish_pending = 1;
    set_state(c, ZKD_STATE_CONNECTING);
    start_open(c, old, old_conn);
}

static void on_session_job(void *arg)
{
    zkd_client *c = arg;
    pthread_mutex_lock(&c->ev_mu);
    unsigned gen = c->ev_gen;
    int zk_state = c->ev_state;
    c->ev_posted = 0;
    pthread_mutex_unlock(&c->ev_mu);
    pthread_rwlock_rdlock(&c->zh_lock);
    int stale = gen != c->gen;
    pthread_rwlock_unlock(&c->zh_lock);
    if (stale || zkd__closing(c) || zkd_client_state(c) == ZKD_STATE_CLOSED)
        return;
    if (zk_state == ZOO_CONNECTED_STATE) {
        on_connected(c);
    } else if (zk_state == ZOO_CONNECTING_STATE || zk_state == ZOO_ASSOCIATING_STATE) {
        if (zkd_client_state(c) == ZKD_STATE_CONNECTED) {
            int horizon = sub_horizon(c);
            set_state(c, ZKD_STATE_SUSPENDED);
            emit(c, ZKD_SESSION_SUSPENDED, horizon);
        }
    } else if (zk_state == ZOO_EXPIRED_SESSION_STATE && !c->ever_connected) {
        /* Only a resumed session can expire before it ever connected. */
        zkd__log(c, ZKD_LOG_WARN, "the saved session 0x%llx has expired (or its password is "
                 "wrong); opening a new session", (unsigned long long)c->resume.client_id);
        renew_session(c);
    } else if (zk_state == ZOO_EXPIRED_SESSION_STATE) {
        zkd__log(c, ZKD_LOG_WARN, "session 0x%llx expired; opening a new session",
                 (unsigned long long)atomic_load(&c->session_id));
        atomic_store(&c->session_id, 0);
        int horizon = sub_horizon(c);
        set_state(c, ZKD_STATE_EXPIRED);
        emit(c, ZKD_SESSION_EXPIRED, horizon);
        renew_session(c);
    } else if (zk_state == ZOO_AUTH_FAILED_STATE) {
        zkd__log(c, ZKD_LOG_ERROR, "ZooKeeper rejected the credentials; the client stops");
        int horizon = sub_horizon(c);
        set_state(c, ZKD_STATE_CLOSED);
        emit(c, ZKD_SESSION_AUTH_FAILED, horizon);
    }
}

/* Records the newest state; a burst of events costs one job. A rejected
 * credential is never overwritten by a later connection state. */
static void post_session_state(zkd_client *c, unsigned gen, int zk_state)
{
    pthread_mutex_lock(&c->ev_mu);
    if (!(c->ev_posted && c->ev_gen == gen && c->ev_state == ZOO_AUTH_FAILED_STATE)) {
        c->ev_gen = gen;
        c->ev_state = zk_state;
    }
    int post = !c->ev_posted;
    c->ev_posted = 1;
    pthread_mutex_unlock(&c->ev_mu);
    if (post)
        zkd__post(c, on_session_job, NULL, c);
}

/* Runs on ZooKeeper's completion thread: hand over and return at once. */
static void global_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)path;
    zkd_conn *conn = ctx;
    if (type == ZOO_SESSION_EVENT)
        post_session_state(conn->c, conn->gen, state);
}

/* Only a real rejection stops the client. The C client also completes a
 * pending auth with ZCONNECTIONLOSS whenever a connection attempt fails
 * (and re-sends the credentials on the next one), which is no verdict. */
static void auth_done(int rc, const void *data)
{
    const zkd_conn *conn = data;
    if (rc == ZAUTHFAILED)
        post_session_state(conn->c, conn->gen, ZOO_AUTH_FAILED_STATE);
}

/* An event of a handle not yet installed is ignored by on_session_job as
 * stale, but stays recorded: once the handle is in, it is handled. */
static void replay_session_state(zkd_client *c)
{
    pthread_mutex_lock(&c->ev_mu);
    int post = c->ev_gen == c->gen && !c->ev_posted;
    if (post)
        c->ev_posted = 1;
    pthread_mutex_unlock(&c->ev_mu);
    if (post)
        zkd__post(c, on_session_job, NULL, c);
}

/* A handle for the next generation (dispatch thread: c->gen only changes
 * there, when the handle is installed). NULL when out of memory. */
static opening *opening_new(zkd_client *c, zhandle_t *old, zkd_conn *old_conn)
{
    opening *o = calloc(1, sizeof *o);
    zkd_conn *conn = o ? malloc(sizeof *conn) : NULL;
    if (!conn) {
        free(o);
        return NULL;
    }
    *conn = (zkd_conn){.c = c, .gen = c->gen + 1};
    *o = (opening){.c = c, .conn = conn, .old = old, .old_conn = old_conn};
    return o;
}

/* The blocking part, off the dispatch thread: close the expired handle,
 * resolve and open the new one. Nothing of the client is written here. */
static void open_run(opening *o)
{
    zkd_client *c = o->c;
    if (o->old)
        zookeeper_close(o->old);
    free(o->old_conn);
    o->old = NULL;
    o->old_conn = NULL;
    errno = 0;
    o->zh = zookeeper_init(c->connect, global_watcher, c->session_timeout_ms, o->id, o->conn, 0);
    o->err = errno ? errno : EINVAL;
    /* Left alone, the C client resolves its host list (getaddrinfo, and an
     * open of /dev/urandom to shuffle it) on every I/O wake-up: with names
     * in the connect string, a DNS query per request. It resolves anyway
     * whenever it has no connection (a loss, a server restart); while
     * connected, a slow timer is enough to notice a changed address. */
    if (o->zh)
        zoo_set_servers_resolution_delay(o->zh, ZKD_RESOLVE_EVERY_MS);
    if (o->zh && c->auth)
        zoo_add_auth(o->zh, "digest", c->auth, (int)strlen(c->auth), auth_done, o->conn);
}

/* The client is closing: the new handle is not wanted (its session ends). */
static void open_dropped(void *arg)
{
    opening *o = arg;
    if (o->zh)
        zookeeper_close(o->zh);
    free(o->conn);
    free(o);
}

/* Dispatch thread: install the new handle, or try again later. */
static void open_done(void *arg)
{
    opening *o = arg;
    zkd_client *c = o->c;
    if (c->opener_live) {
        pthread_join(c->opener, NULL); /* it has posted this: its last act */
        c->opener_live = 0;
    }
    if (!o->zh) {
        int e = o->err;
        free(o->conn);
        free(o);
        errno = e;
        renew_failed(c);
        return;
    }
    c->renew_delay_ms = 0;
    pthread_rwlock_wrlock(&c->zh_lock);
    c->zh = o->zh;
    c->conn = o->conn;
    c->gen = o->conn->gen;
    pthread_rwlock_unlock(&c->zh_lock);
    free(o);
    replay_session_state(c);
}

static void *open_thread(void *arg)
{
    opening *o = arg;
    open_run(o);
    zkd__post(o->c, open_done, open_dropped, o);
    return NULL;
}

/* Dispatch thread: opens a new session (after closing `old`) on a thread of
 * its own, so that name resolution never holds up the loop. */
static void start_open(zkd_client *c, zhandle_t *old, zkd_conn *old_conn)
{
    opening *o = opening_new(c, old, old_conn);
    if (o && pthread_create(&c->opener, NULL, open_thread, o) == 0) {
        c->opener_live = 1;
        return;
    }
    int e = o ? EAGAIN : ENOMEM;
    if (o) {
        free(o->conn);
        free(o);
    }
    if (old)
        zookeeper_close(old);
    free(old_conn);
    errno = e;
    renew_failed(c);
}

/* ---- connect and close -------------------------------------------------- */

static int zk_level(zkd_log_level l)
{
    return l == ZKD_LOG_OFF ? 0 : (int)l; /* ZooKeeper's ERROR..DEBUG are 1..4 too */
}

/* The loop's last act (see zkd_close): ends the session, frees module state
 * through the teardown hooks, and drops the user's reference. */
static void teardown(void *arg)
{
    zkd_client *c = arg;
    pthread_mutex_lock(&c->mu);
    c->torn_down = 1;
    pthread_mutex_unlock(&c->mu);
    if (c->opener_live) /* its handle is closed by open_dropped, on it or here */
        pthread_join(c->opener, NULL);
    pthread_rwlock_wrlock(&c->zh_lock);
    zhandle_t *zh = c->zh;
    zkd_conn *conn = c->conn;
    c->zh = NULL;
    c->conn = NULL;
    pthread_rwlock_unlock(&c->zh_lock);
    if (zh)
        zookeeper_close(zh); /* ends the session: its ephemeral nodes go now */
    free(conn);
    /* No ZooKeeper thread is left to call into module state: free it now. */
    pthread_mutex_lock(&c->mu);
    hook *hooks = c->hooks;
    c->hooks = NULL;
    pthread_mutex_unlock(&c->mu);
    for (hook *h = hooks, *next; h; h = next) {
        next = h->next;
        h->fn(h->arg);
        free(h);
    }
    atomic_fetch_sub(&live_clients, 1);
    pthread_mutex_lock(&c->mu);
    c->torn_done = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    zkd__client_unref(c);
}

/* The memory of the client, once the user and every open object let go. */
static void client_free(zkd_client *c)
{
    pthread_rwlock_destroy(&c->zh_lock);
    pthread_mutex_destroy(&c->ev_mu);
    pthread_mutex_destroy(&c->slot_mu);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->subs);
    free(c->connect);
    free(c->root);
    free(c->snapshot_dir);
    memset(&c->resume, 0, sizeof c->resume);
    if (c->auth) {
        /* credentials do not outlive the client in freed memory */
        memset(c->auth, 0, strlen(c->auth));
        free(c->auth);
    }
    free(c);
}

static zkd_client *client_new(const zkd_options *o)
{
    zkd_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->connect = strdup(o->connect);
    c->root = strdup(o->root);
    c->auth = o->auth ? strdup(o->auth) : NULL;
    c->snapshot_dir = o->snapshot_dir ? strdup(o->snapshot_dir) : NULL;
    if (!c->connect || !c->root || (o->auth && !c->auth) || (o->snapshot_dir && !c->snapshot_dir)) {
        free(c->connect);
        free(c->root);
        free(c->auth);
        free(c->snapshot_dir);
        free(c);
        return NULL;
    }
    c->session_timeout_ms = o->session_timeout_ms;
    c->connect_timeout_ms = o->connect_timeout_ms;
    c->request_timeout_ms = o->request_timeout_ms;
    c->log_level = o->log_level;
    c->log_fn = o->log_fn;
    c->log_ctx = o->log_ctx;
    if (o->resume && o->resume->id) {
        c->resume.client_id = o->resume->id;
        memcpy(c->resume.passwd, o->resume->password, sizeof c->resume.passwd);
    }
    atomic_init(&c->state, ZKD_STATE_CONNECTING);
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->ev_mu, NULL);
    pthread_mutex_init(&c->mu, NULL);
    zkd__cond_init(&c->cv);
    pthread_rwlock_init(&c->zh_lock, NULL);
    pthread_mutex_init(&c->slot_mu, NULL);
    atomic_fetch_add(&live_clients, 1);
    return c;
}


/* Waits for CONNECTED; returns 0, ZKD_ETIMEDOUT, or ZKD_ECLOSED when the
 * client stopped (credentials rejected). */
static int wait_connected(zkd_client *c, int timeout_ms)
{
    struct timespec dl = zkd__deadline(timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        int s = atomic_load(&c->state);
        if (s == ZKD_STATE_CONNECTED)
            break;
        if (s == ZKD_STATE_CLOSED) {
            rc = ZKD_ECLOSED;
            break;
        }
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT) {
            rc = atomic_load(&c->state) == ZKD_STATE_CONNECTED ? 0 : ZKD_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int zkd__on_dispatch_thread(const zkd_client *c)
{
    zkd_client *m = (zkd_client *)c;
    pthread_mutex_lock(&m->mu);
    int on = !m->torn_down && zkd__loop_on_thread(m->loop);
    pthread_mutex_unlock(&m->mu);
    return on;
}

int zkd__wait_usable(zkd_client *c, int timeout_ms)
{
    /* State changes are made on the dispatch thread: waiting there would
     * wait for ourselves. */
    if (zkd__on_dispatch_thread(c))
        return zkd_client_state(c) == ZKD_STATE_CONNECTED ? 0 : ZKD_ECONNLOSS;
    return timeout_ms > 0 ? wait_connected(c, timeout_ms) : ZKD_ETIMEDOUT;
}

int zkd_client_wait_connected(zkd_client *c, int timeout_ms, zkd_error *err)
{
    int rc = wait_connected(c, timeout_ms);
    if (rc == ZKD_ETIMEDOUT)
        return zkd__fail(err, rc, "no ZooKeeper session with %s within %d ms", c->connect, timeout_ms);
    if (rc == ZKD_ECLOSED)
        return zkd__fail(err, rc, "the client stopped (credentials rejected or closed)");
    return 0;
}

int zkd_connect(const zkd_options *opts, zkd_client **out, zkd_error *err)
{
    int rc = zkd__options_check(opts, err);
    if (rc)
        return rc;
    if (!out)
        return zkd__fail(err, ZKD_EINVAL, "no place to return the client");
    zoo_set_debug_level((ZooLogLevel)zk_level(opts->zk_log_level));
    zkd_options with_file = *opts;
    char *file_auth = NULL;
    if (opts->auth_file && (rc = zkd_auth_file_read(opts->auth_file, &file_auth, err)))
        return rc;
    with_file.auth = file_auth ? file_auth : opts->auth;
    zkd_client *c = client_new(&with_file);
    zkd__auth_wipe(file_auth);
    if (!c)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory creating a client");
    if (zkd__loop_start(&c->loop, teardown, c, &c->loop_thread) != 0) {
        teardown(c);
        return zkd__fail(err, ZKD_ENOMEM, "cannot start the dispatch thread");
    }
    /* The first handle opens on the caller's thread (which waits anyway)
     * and is installed by the dispatch thread, like every later one. */
    opening *o = opening_new(c, NULL, NULL);
    if (o) {
        o->id = c->resume.client_id ? &c->resume : NULL;
        open_run(o);
        if (!o->zh) {
            errno = o->err;
            free(o->conn);
            free(o);
            o = NULL;
        }
    }
    if (!o || zkd__post(c, open_done, open_dropped, o) != 0) {
        int e = o ? EAGAIN : errno ? errno : ENOMEM;
        zkd_close(c);
        return zkd__fail(err, e == ENOMEM ? ZKD_ENOMEM : ZKD_EINVAL,
                         "cannot use connect string \"%s\": %s", opts->connect,
                         e == EINVAL ? "no resolvable host:port in it" : strerror(e));
    }
    rc = opts->connect_in_background ? 0 : wait_connected(c, opts->connect_timeout_ms);
    if (rc == ZKD_ETIMEDOUT) {
        zkd_close(c);
        return zkd__fail(err, rc, "cannot reach ZooKeeper at %s within %d ms", opts->connect,
                         opts->connect_timeout_ms);
    }
    if (rc == ZKD_ECLOSED) {
        zkd_close(c);
        return zkd__fail(err, ZKD_EAUTHFAILED, "ZooKeeper at %s rejected the credentials",
                         opts->connect);
    }
    *out = c;
    return 0;
}

void zkd_close(zkd_client *c)
{
    if (!c)
        return;
    /* A second zkd_close from the same callback (the client is freed only
     * after the callback returns) must not stop the thread twice. */
    if (atomic_exchange(&c->closing, 1))
        return;
    zkd__loop_stop(c->loop);
}
