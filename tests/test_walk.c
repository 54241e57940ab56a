/* SPDX-License-Identifier: Apache-2.0 */
/* The pipelined subtree walk against a real ZooKeeper: a node with 10,000
 * children read with one getChildren and pipelined getData, pre-order,
 * depth limits, exclusions, per-node data choice, unreadable nodes, a
 * callback that stops the walk, and a server that stops answering. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "zkh.h"

static zkh *zk;
static zkd_client *c;

static zkd_client *connect_with(const char *auth, int request_timeout_ms)
{
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zkh_connect_string(zk);
    o.auth = auth;
    if (request_timeout_ms)
        o.request_timeout_ms = request_timeout_ms;
    zkd_client *cl = NULL;
    return zkd_connect(&o, &cl, NULL) == 0 ? cl : NULL;
}

static int suite_init(void)
{
    zk = zkh_start(1);
    return zk && (c = connect_with(NULL, 0)) ? 0 : 1;
}

static int suite_clean(void)
{
    zkd_close(c);
    zkh_stop(zk);
    return 0;
}

typedef struct seen {
    size_t count;
    char **paths;
    size_t cap;
    int depth_ok;
    size_t with_data;
    size_t listed;
    size_t errors;
    int last_rc;
} seen;

static int record(const zkd_walk_node *n, void *ud)
{
    seen *s = ud;
    if (s->count == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->paths = realloc(s->paths, s->cap * sizeof *s->paths);
    }
    s->paths[s->count++] = strdup(n->path);
    s->with_data += n->has_data;
    s->listed += n->listed;
    s->errors += n->rc != 0;
    s->last_rc = n->rc;
    return 0;
}

static void seen_free(seen *s)
{
    for (size_t i = 0; i < s->count; i++)
        free(s->paths[i]);
    free(s->paths);
    memset(s, 0, sizeof *s);
}

static void test_ten_thousand_children(void)
{
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_node_create(c, "/big", "top", 3, NULL, NULL, &err), 0);
    enum { N = 10000, BATCH = 1000 };
    static char paths[BATCH][32];
    zkd_multi_op ops[BATCH];
    for (int b = 0; b < N / BATCH; b++) {
        for (int i = 0; i < BATCH; i++) {
            snprintf(paths[i], sizeof paths[i], "/big/n%05d", b * BATCH + i);
            ops[i] = (zkd_multi_op){.kind = ZKD_MULTI_CREATE, .path = paths[i], .data = paths[i] + 5, .len = 6};
        }
        CU_ASSERT_EQUAL_FATAL(zkd_node_multi(c, ops, BATCH, NULL, NULL, &err), 0);
    }
    zkd_counters before, after;
    zkd_client_counters(c, &before);
    zkd_walk_options o;
    zkd_walk_options_init(&o);
    o.want_data = 1;
    seen s = {0};
    int64_t t0 = tu_now_ms();
    CU_ASSERT_EQUAL_FATAL(zkd_walk(c, "/big", &o, record, &s, &err), 0);
    int64_t took = tu_now_ms() - t0;
    zkd_client_counters(c, &after);
    printf("\n  walked 10,001 nodes with data in %lld ms\n", (long long)took);
    CU_ASSERT_EQUAL(s.count, N + 1);
    CU_ASSERT_EQUAL(s.with_data, N + 1);
    CU_ASSERT_STRING_EQUAL(s.paths[0], "/big");
    CU_ASSERT_STRING_EQUAL(s.paths[1], "/big/n00000");
    CU_ASSERT_STRING_EQUAL(s.paths[N], "/big/n09999");
    int sorted = 1;
    for (size_t i = 2; i < s.count; i++)
        sorted &= strcmp(s.paths[i - 1], s.paths[i]) < 0;
    CU_ASSERT(sorted);
    /* One getChildren (the leaves' Stat says they have none), one getData each. */
    CU_ASSERT_EQUAL(after.get_children - before.get_children, 1);
    CU_ASSERT_EQUAL(after.get_data - before.get_data, N + 1);
    seen_free(&s);

    /* Without data: a getChildren per node, still one walk. */
    CU_ASSERT_EQUAL(zkd_walk(c, "/big", NULL, record, &s, &err), 0);
    CU_ASSERT_EQUAL(s.count, N + 1);
    CU_ASSERT_EQUAL(s.with_data, 0);
    seen_free(&s);
}

static void make(const char *path, const char *data)
{
    zkd_create_options o = {.parents = 1};
    zkd_error err;
    int rc = zkd_node_create(c, path, data, data ? strlen(data) : 0, &o, NULL, &err);
    CU_ASSERT(rc == 0 || rc == ZKD_EEXISTS);
}

static void make_small_tree(void)
{
    make("/t/b/y", "by");
    make("/t/b/x", "bx");
    make("/t/a/y", "ay");
    make("/t/a/x", "ax");
    make("/t/a/x/deep", "d");
}

static void test_pre_order_and_depth(void)
{
    make_small_tree();
    zkd_error err;
    seen s = {0};
    CU_ASSERT_EQUAL_FATAL(zkd_walk(c, "/t", NULL, record, &s, &err), 0);
    const char *want[] = {"/t", "/t/a", "/t/a/x", "/t/a/x/deep", "/t/a/y", "/t/b", "/t/b/x", "/t/b/y"};
    CU_ASSERT_EQUAL_FATAL(s.count, 8);
    for (size_t i = 0; i < 8; i++)
        CU_ASSERT_STRING_EQUAL(s.paths[i], want[i]);
    seen_free(&s);

    zkd_walk_options o;
    zkd_walk_options_init(&o);
    o.max_depth = 1;
    CU_ASSERT_EQUAL(zkd_walk(c, "/t", &o, record, &s, &err), 0);
    CU_ASSERT_EQUAL(s.count, 3);
    CU_ASSERT_EQUAL(s.listed, 1); /* only /t was listed; /t/a and /t/b report numChildren */
    seen_free(&s);
    o.max_depth = 0;
    CU_ASSERT_EQUAL(zkd_walk(c, "/t", &o, record, &s, &err), 0);
    CU_ASSERT_EQUAL(s.count, 1);
    seen_free(&s);
}

static int only_ax(const char *path, int depth, void *ud)
{
    (void)depth;
    (void)ud;
    return !strcmp(path, "/t/a/x");
}

typedef struct datacheck {
    int ok;
    int n;
} datacheck;

static int check_data(const zkd_walk_node *n, void *ud)
{
    datacheck *d = ud;
    d->n++;
    if (!strcmp(n->path, "/t/a/x"))
        d->ok += n->has_data && n->len == 2 && !memcmp(n->data, "ax", 2) && n->children->count == 1;
    else
        d->ok += !n->has_data && n->data == NULL;
    return 0;
}

static void test_exclude_and_data_filter(void)
{
    make_small_tree();
    zkd_error err;
    const char *const exclude[] = {"/t/b", NULL};
    zkd_walk_options o;
    zkd_walk_options_init(&o);
    o.exclude = exclude;
    o.data_filter = only_ax;
    o.window = 2; /* a tiny window still gets through */
    datacheck d = {0};
    CU_ASSERT_EQUAL(zkd_walk(c, "/t", &o, check_data, &d, &err), 0);
    CU_ASSERT_EQUAL(d.n, 5); /* /t, /t/a, /t/a/x, /t/a/x/deep, /t/a/y */
    CU_ASSERT_EQUAL(d.ok, 5);
}

static int stop_at_third(const zkd_walk_node *n, void *ud)
{
    (void)n;
    return ++*(int *)ud == 3 ? 42 : 0;
}

static void test_errors(void)
{
    make_small_tree();
    zkd_error err;
    seen s = {0};
    CU_ASSERT_EQUAL(zkd_walk(c, "/no/such", NULL, record, &s, &err), ZKD_ENOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/no/such"));
    CU_ASSERT_EQUAL(s.count, 0);
    CU_ASSERT_EQUAL(zkd_walk(c, "relative", NULL, record, &s, &err), ZKD_EINVAL);
    int calls = 0;
    CU_ASSERT_EQUAL(zkd_walk(c, "/t", NULL, stop_at_third, &calls, &err), 42);
    CU_ASSERT_EQUAL(calls, 3);

    /* An unreadable node is reported with its error and not descended. */
    zkd_client *alice = connect_with("alice:pw", 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(alice);
    zkd_acl_entry creator = {ZKD_PERM_ALL, "auth", ""};
    zkd_create_options co = {.acl = &creator, .acl_count = 1};
    CU_ASSERT_EQUAL(zkd_node_create(alice, "/t/secret", "s", 1, &co, NULL, &err), 0);
    CU_ASSERT_EQUAL(zkd_node_create(alice, "/t/secret/inner", "s", 1, &co, NULL, &err), 0);
    zkd_walk_options o;
    zkd_walk_options_init(&o);
    o.want_data = 1;
    CU_ASSERT_EQUAL(zkd_walk(c, "/t", &o, record, &s, &err), 0);
    CU_ASSERT_EQUAL(s.errors, 1);
    CU_ASSERT_STRING_EQUAL(s.paths[s.count - 1], "/t/secret");
    CU_ASSERT_EQUAL(s.last_rc, ZKD_ENOAUTH);
    seen_free(&s);
    CU_ASSERT_EQUAL(zkd_walk(c, "/t/secret", NULL, record, &s, &err), ZKD_ENOAUTH);
    CU_ASSERT_EQUAL(zkd_walk(alice, "/t/secret", NULL, record, &s, &err), 0);
    CU_ASSERT_EQUAL(s.count, 2);
    seen_free(&s);
    zkd_close(alice);
}

/* Last: stops the server. A walk without answers fails in time. */
static void test_no_answer_times_out(void)
{
    zkd_client *quick = connect_with(NULL, 1500);
    CU_ASSERT_PTR_NOT_NULL_FATAL(quick);
    CU_ASSERT_EQUAL_FATAL(zkh_kill_server(zk, 0), 0);
    seen s = {0};
    zkd_error err;
    int64_t t0 = tu_now_ms();
    CU_ASSERT_EQUAL(zkd_walk(quick, "/t", NULL, record, &s, &err), ZKD_ETIMEDOUT);
    int64_t took = tu_now_ms() - t0;
    CU_ASSERT(took <= 1500 + 1000);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, zkh_server_address(zk, 0)));
    seen_free(&s);
    zkd_close(quick);
    CU_ASSERT_EQUAL(zkh_restart_server(zk, 0), 0);
}

/* The server dies in the middle of a walk: connection-loss answers keep
 * coming (one per failed reconnect) but are no progress; the walk ends with
 * ETIMEDOUT within the request timeout of the last real answer. */
static int kill_after_first(const zkd_walk_node *node, void *ctx)
{
    (void)node;
    int *killed = ctx;
    if (!*killed) {
        *killed = 1;
        CU_ASSERT_EQUAL(zkh_kill_server(zk, 0), 0);
    }
    return 0;
}

static void test_server_dies_mid_walk(void)
{
    zkd_client *quick = connect_with(NULL, 1500);
    CU_ASSERT_PTR_NOT_NULL_FATAL(quick);
    zkd_walk_options o;
    zkd_walk_options_init(&o);
    o.want_data = 1;
    o.window = 2; /* so most of the tree is still to read when it dies */
    int killed = 0;
    zkd_error err;
    int64_t t0 = tu_now_ms();
    int rc = zkd_walk(quick, "/big", &o, kill_after_first, &killed, &err);
    int64_t took = tu_now_ms() - t0;
    CU_ASSERT(killed);
    CU_ASSERT(rc == ZKD_ETIMEDOUT || rc == ZKD_ECONNLOSS);
    CU_ASSERT(took <= 1500 + 3000);
    zkd_close(quick);
    CU_ASSERT_EQUAL(zkh_restart_server(zk, 0), 0);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"a node with 10,000 children, pipelined", test_ten_thousand_children},
        {"pre-order and depth limits", test_pre_order_and_depth},
        {"exclusions, per-node data, tiny window", test_exclude_and_data_filter},
        {"missing root, bad path, stop, unreadable nodes", test_errors},
        {"server dies mid-walk: ends within the request timeout", test_server_dies_mid_walk},
        {"no answer: ETIMEDOUT within the request timeout", test_no_answer_times_out},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"walk", suite_init, suite_clean, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
