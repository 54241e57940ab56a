/* SPDX-License-Identifier: Apache-2.0 */
/* Watches against a real ZooKeeper: a node's creation, changes and
 * deletion; its children; a recursive watch that catches a grandchild
 * created after it started; re-arming after a forced session expiry (with
 * the changes made meanwhile reported); closing from inside a callback and
 * from another thread; an ACL that denies the read; a watch closed after
 * its client; 100,000 open/close cycles with the heap flat. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "zkh.h"

static zkh *zk;
static zkd_client *c;      /* the watcher */
static zkd_client *writer; /* makes the changes */

static zkd_client *connect_with(const char *auth, int session_timeout_ms)
{
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zkh_connect_string(zk);
    o.auth = auth;
    if (session_timeout_ms)
        o.session_timeout_ms = session_timeout_ms;
    zkd_client *cl = NULL;
    return zkd_connect(&o, &cl, NULL) == 0 ? cl : NULL;
}

static int suite_init(void)
{
    zk = zkh_start(1);
    return zk && (c = connect_with(NULL, 4000)) && (writer = connect_with(NULL, 0)) ? 0 : 1;
}

static int suite_clean(void)
{
    zkd_close(c);
    zkd_close(writer);
    zkh_stop(zk);
    return 0;
}

/* Events as "type path" lines, appended by the callback. */
typedef struct log {
    pthread_mutex_t mu;
    char lines[256][160];
    int n;
    int close_after; /* > 0: close the watch from the callback at that event */
} log_t;

static void on_event(zkd_watch *w, const zkd_watch_event *ev, void *ud)
{
    log_t *l = ud;
    pthread_mutex_lock(&l->mu);
    if (l->n < 256) {
        char *line = l->lines[l->n];
        int k = snprintf(line, 160, "%s %s", zkd_watch_event_name(ev->type), ev->path);
        if (ev->type == ZKD_WATCH_CHILDREN_CHANGED) {
            for (size_t i = 0; i < ev->added->count; i++)
                k += snprintf(line + k, 160 - (size_t)k, " +%s", ev->added->items[i]);
            for (size_t i = 0; i < ev->removed->count; i++)
                k += snprintf(line + k, 160 - (size_t)k, " -%s", ev->removed->items[i]);
        } else if (ev->type == ZKD_WATCH_CHANGED || ev->type == ZKD_WATCH_CREATED) {
            snprintf(line + k, 160 - (size_t)k, " =%.*s", (int)ev->len, ev->data ? ev->data : "");
        }
        l->n++;
    }
    int close_now = l->close_after && l->n == l->close_after;
    pthread_mutex_unlock(&l->mu);
    if (close_now)
        zkd_watch_close(w);
}

static void log_init(log_t *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
}

typedef struct want {
    log_t *l;
    const char *line;
} want_t;

static int has_line(void *arg)
{
    want_t *w = arg;
    pthread_mutex_lock(&w->l->mu);
    int found = 0;
    for (int i = 0; i < w->l->n && !found; i++)
        found = !strcmp(w->l->lines[i], w->line);
    pthread_mutex_unlock(&w->l->mu);
    return found;
}

/* Waits (deadline 10 s) for the line; fails the test with the log if absent. */
static int wait_line(log_t *l, const char *line)
{
    want_t w = {l, line};
    int ok = tu_wait_until(has_line, &w, 10000);
    if (!ok) {
        fprintf(stderr, "\n  missing \"%s\"; got:\n", line);
        pthread_mutex_lock(&l->mu);
        for (int i = 0; i < l->n; i++)
            fprintf(stderr, "    %s\n", l->lines[i]);
        pthread_mutex_unlock(&l->mu);
    }
    CU_ASSERT(ok);
    return ok;
}

static int count_lines(log_t *l)
{
    pthread_mutex_lock(&l->mu);
    int n = l->n;
    pthread_mutex_unlock(&l->mu);
    return n;
}

static void put(const char *path, const char *data)
{
    zkd_create_options o = {.parents = 1};
    int rc = zkd_node_create(writer, path, data, strlen(data), &o, NULL, NULL);
    if (rc == ZKD_EEXISTS)
        rc = zkd_node_set(writer, path, data, strlen(data), -1, NULL, NULL);
    CU_ASSERT_EQUAL(rc, 0);
}

static void test_node_lifecycle(void)
{
    log_t l;
    log_init(&l);
    zkd_watch *w;
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_watch_open(c, "/life", ZKD_WATCH_DATA, on_event, &l, &w, &err), 0);
    CU_ASSERT_EQUAL(zkd_watch_count(w), 0);
    put("/life", "one");
    wait_line(&l, "created /life =one");
    put("/life", "two");
    wait_line(&l, "changed /life =two");
    put("/life", "three");
    wait_line(&l, "changed /life =three");
    CU_ASSERT_EQUAL(zkd_node_delete(writer, "/life", -1, NULL), 0);
    wait_line(&l, "deleted /life");
    put("/life", "again");
    wait_line(&l, "created /life =again");
    CU_ASSERT_EQUAL(count_lines(&l), 5);
    /* a child does not concern a data watch */
    put("/life/kid", "k");
    CU_ASSERT_EQUAL(zkd_watch_count(w), 1);
    zkd_watch_close(w);
    int before = count_lines(&l);
    put("/life", "after close");
    /* the writer's own read of the node comes after the server would have
     * notified; nothing may arrive */
    CU_ASSERT_EQUAL(zkd_node_get(c, "/life", NULL, NULL, NULL, NULL), 0);
    CU_ASSERT_EQUAL(count_lines(&l), before);
}

static void test_children(void)
{
    put("/kids", "k");
    log_t l;
    log_init(&l);
    zkd_watch *w;
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_watch_open(c, "/kids", ZKD_WATCH_CHILDREN, on_event, &l, &w, &err), 0);
    put("/kids/a", "1");
    wait_line(&l, "children /kids +a");
    put("/kids/b", "2");
    wait_line(&l, "children /kids +b");
    CU_ASSERT_EQUAL(zkd_node_delete(writer, "/kids/a", -1, NULL), 0);
    wait_line(&l, "children /kids -a");
    put("/kids", "data too");
    wait_line(&l, "changed /kids =data too");
    zkd_watch_close(w);
}

static void test_recursive_grandchild(void)
{
    put("/rec/existing/leaf", "x");
    log_t l;
    log_init(&l);
    zkd_watch *w;
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_watch_open(c, "/rec", ZKD_WATCH_RECURSIVE, on_event, &l, &w, &err), 0);
    CU_ASSERT_EQUAL(zkd_watch_count(w), 3);
    CU_ASSERT_EQUAL(count_lines(&l), 0); /* the initial state is not reported */
    put("/rec/child", "c");
    wait_line(&l, "created /rec/child =c");
    put("/rec/child/grandchild", "g");
    wait_line(&l, "created /rec/child/grandchild =g");
    put("/rec/child/grandchild", "g2");
    wait_line(&l, "changed /rec/child/grandchild =g2");
    put("/rec/existing/leaf", "y");
    wait_line(&l, "changed /rec/existing/leaf =y");
    /* a parent and child made together (one transaction) both show up */
    zkd_multi_op ops[] = {{.kind = ZKD_MULTI_CREATE, .path = "/rec/p", .data = "p", .len = 1},
                          {.kind = ZKD_MULTI_CREATE, .path = "/rec/p/q", .data = "q", .len = 1}};
    CU_ASSERT_EQUAL(zkd_node_multi(writer, ops, 2, NULL, NULL, &err), 0);
    wait_line(&l, "created /rec/p =p");
    wait_line(&l, "created /rec/p/q =q");
    size_t deleted;
    CU_ASSERT_EQUAL(zkd_node_delete_tree(writer, "/rec/child", -1, &deleted, &err), 0);
    wait_line(&l, "deleted /rec/child/grandchild");
    wait_line(&l, "deleted /rec/child");
    CU_ASSERT_EQUAL(zkd_watch_count(w), 5); /* rec, existing, leaf, p, q */
    zkd_watch_close(w);
}

static void test_rearm_after_expiry(void)
{
    put("/exp/a", "1");
    log_t l;
    log_init(&l);
    static tu_events ev; /* stays subscribed after the test */
    tu_events_subscribe(c, &ev);
    zkd_watch *w;
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_watch_open(c, "/exp", ZKD_WATCH_RECURSIVE, on_event, &l, &w, &err), 0);
    CU_ASSERT_EQUAL_FATAL(tu_expire(c, zkh_connect_string(zk), 10000), 0);
    /* Changes while (or right after) the session is gone... */
    put("/exp/a", "changed while expired");
    put("/exp/b", "born while expired");
    CU_ASSERT(tu_wait_int(&ev.count[ZKD_SESSION_REESTABLISHED], 1, 20000));
    /* ...are reported once the new session re-reads everything. */
    wait_line(&l, "changed /exp/a =changed while expired");
    wait_line(&l, "created /exp/b =born while expired");
    /* and the watches work on the new session */
    put("/exp/b/c", "new session");
    wait_line(&l, "created /exp/b/c =new session");
    zkd_watch_close(w);
}

static void test_close_from_callback_and_thread(void)
{
    log_t l;
    log_init(&l);
    l.close_after = 1;
    zkd_watch *w;
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_watch_open(c, "/cb", ZKD_WATCH_DATA, on_event, &l, &w, &err), 0);
    put("/cb", "1");
    wait_line(&l, "created /cb =1");
    put("/cb", "2");
    CU_ASSERT_EQUAL(zkd_node_get(c, "/cb", NULL, NULL, NULL, NULL), 0);
    CU_ASSERT_EQUAL(count_lines(&l), 1);

    /* Another thread closes while events stream in. */
    log_t l2;
    log_init(&l2);
    CU_ASSERT_EQUAL_FATAL(zkd_watch_open(c, "/cb", ZKD_WATCH_RECURSIVE, on_event, &l2, &w, &err), 0);
    for (int i = 0; i < 20; i++) {
        char p[32];
        snprintf(p, sizeof p, "/cb/k%d", i);
        put(p, "x");
    }
    wait_line(&l2, "created /cb/k0 =x");
    zkd_watch_close(w);
    int n = count_lines(&l2);
    put("/cb/late", "x");
    CU_ASSERT_EQUAL(zkd_node_get(c, "/cb/late", NULL, NULL, NULL, NULL), 0);
    CU_ASSERT_EQUAL(count_lines(&l2), n);
    zkd_watch_close(NULL);
}

static void test_denied_and_bad_args(void)
{
    zkd_client *alice = connect_with("alice:pw", 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(alice);
    zkd_acl_entry creator = {ZKD_PERM_ALL, "auth", ""};
    zkd_create_options co = {.acl = &creator, .acl_count = 1};
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_node_create(alice, "/locked", "s", 1, &co, NULL, &err), 0);
    log_t l;
    log_init(&l);
    zkd_watch *w = NULL;
    CU_ASSERT_EQUAL(zkd_watch_open(c, "/locked", ZKD_WATCH_DATA, on_event, &l, &w, &err), ZKD_ENOAUTH);
    CU_ASSERT_PTR_NULL(w);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/locked"));
    CU_ASSERT_EQUAL(zkd_watch_open(alice, "/locked", ZKD_WATCH_DATA, on_event, &l, &w, &err), 0);
    zkd_watch_close(w);
    CU_ASSERT_EQUAL(zkd_watch_open(c, "nope", 0, on_event, &l, &w, &err), ZKD_EINVAL);
    CU_ASSERT_EQUAL(zkd_watch_open(c, "/x", 99, on_event, &l, &w, &err), ZKD_EINVAL);
    zkd_close(alice);
}

/* A watch left open is freed with its client (checked by ASan's leak check). */
static void test_closed_after_client(void)
{
    zkd_client *tmp = connect_with(NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tmp);
    log_t l;
    log_init(&l);
    zkd_watch *w, *w2;
    CU_ASSERT_EQUAL(zkd_watch_open(tmp, "/", ZKD_WATCH_RECURSIVE, on_event, &l, &w, NULL), 0);
    CU_ASSERT_EQUAL(zkd_watch_open(tmp, "/after", ZKD_WATCH_CHILDREN, on_event, &l, &w2, NULL), 0);
    CU_ASSERT(zkd_watch_count(w) > 3);
    int before = count_lines(&l);
    zkd_close(tmp);
    /* Stopped with the client: no callback any more, but still ours. */
    put("/after/x", "1");
    CU_ASSERT(zkd_watch_count(w) > 3);
    zkd_watch_close(w);
    zkd_watch_close(w2);
    CU_ASSERT_EQUAL(count_lines(&l), before);
}

/* Heap bytes in use (glibc); 0 where the allocator does not say (ASan). */
static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks;
}

typedef struct cycler {
    pthread_t th;
    int n;
    int failures;
} cycler;

static void *cycle(void *arg)
{
    cycler *cy = arg;
    log_t l;
    log_init(&l);
    for (int i = 0; i < cy->n; i++) {
        zkd_watch *w;
        if (zkd_watch_open(c, "/cycle", ZKD_WATCH_DATA, on_event, &l, &w, NULL) != 0) {
            cy->failures++;
            continue;
        }
        zkd_watch_close(w);
    }
    return NULL;
}

/* Open/close cycles from 4 threads at once (the round trips overlap). */
static int cycles(int n)
{
    cycler cy[4];
    int failures = 0;
    for (int i = 0; i < 4; i++) {
        cy[i] = (cycler){.n = n / 4};
        pthread_create(&cy[i].th, NULL, cycle, &cy[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(cy[i].th, NULL);
        failures += cy[i].failures;
    }
    return failures;
}

static void test_open_close_cycles_flat(void)
{
    const char *env = getenv("ZKD_WATCH_CYCLES");
    int n = env ? atoi(env) : 100000;
    put("/cycle", "x");
    CU_ASSERT_EQUAL(cycles(4000), 0); /* warm up: the client's tables reach their size */
    size_t before = heap_in_use();
    int64_t t0 = tu_now_ms();
    CU_ASSERT_EQUAL(cycles(n), 0);
    int64_t took = tu_now_ms() - t0;
    size_t after = heap_in_use();
    long grown = (long)after - (long)before;
    printf("\n    %d open/close cycles in %lld ms; heap in use %zu -> %zu bytes (%+.2f B per cycle)\n",
           n, (long long)took, before, after, n ? (double)grown / n : 0.0);
    /* 161 B per cycle before; allow the allocator some slack, not a leak. */
    CU_ASSERT(grown < 64 * 1024);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"a node: created, changed, deleted, re-created", test_node_lifecycle},
        {"children added and removed", test_children},
        {"recursive: a grandchild created after the start", test_recursive_grandchild},
        {"re-armed after a session expiry, changes meanwhile reported", test_rearm_after_expiry},
        {"close from a callback and from another thread", test_close_from_callback_and_thread},
        {"ACL denial and bad arguments", test_denied_and_bad_args},
        {"closed after its client, then freed", test_closed_after_client},
        {"open/close cycles keep memory flat", test_open_close_cycles_flat},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"watch", suite_init, suite_clean, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
