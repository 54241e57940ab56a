/* SPDX-License-Identifier: Apache-2.0 */
/* Publishing and reading configuration against a real ZooKeeper server:
 * versions and their metadata, compare-and-set under concurrency, rollback,
 * retention, refused documents, delete, list, and locked apps. */
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "config_impl.h"
#include "testutil.h"
#include "zkh.h"

ZKH_SUITE(1) /* zk: the suite's server(s); suite_init, suite_clean */
static zkd_client *cl; /* shared, anonymous */

static zkd_client *connect_as(const char *auth)
{
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zkh_connect_string(zk);
    o.auth = auth;
    o.connect_timeout_ms = 15000;
    o.request_timeout_ms = 15000;
    zkd_client *c = NULL;
    zkd_error err;
    int rc = zkd_connect(&o, &c, &err);
    if (rc)
        fprintf(stderr, "connect: %s\n", err.message);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return c;
}

static zkd_client *client(void)
{
    if (!cl)
        cl = connect_as(NULL);
    return cl;
}

static int64_t publish(zkd_client *c, const char *app, const char *json, const char *message,
                       int64_t if_version, zkd_error *err)
{
    zkd_config_publish_opts o;
    zkd_config_publish_opts_init(&o);
    o.message = message;
    o.if_version = if_version;
    int64_t v = 0;
    int rc = zkd_config_publish(c, app, json, strlen(json), &o, &v, err);
    return rc ? rc : v;
}

static int64_t publish_ok(zkd_client *c, const char *app, const char *json)
{
    zkd_error err;
    int64_t v = publish(c, app, json, NULL, ZKD_CONFIG_ANY_VERSION, &err);
    if (v <= 0)
        fprintf(stderr, "publish %s: %s\n", app, err.message);
    CU_ASSERT_FATAL(v > 0);
    return v;
}

static int same_json(const char *a, const char *b)
{
    json_t *x = json_loads(a, 0, NULL), *y = json_loads(b, 0, NULL);
    int eq = x && y && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

static size_t history_len(zkd_client *c, const char *app)
{
    zkd_config_meta *h = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(zkd_config_history(c, app, &h, &n, NULL), 0);
    zkd_config_meta_free(h, n);
    return n;
}

/* ---- versions 1..N ---------------------------------------------------------------- */

static void test_publish_history_get(void)
{
    zkd_client *c = client();
    enum { N = 6 };
    char docs[N][128], msgs[N][32];
    int64_t t0 = (int64_t)time(NULL) * 1000 - 1000;
    for (int i = 0; i < N; i++) {
        snprintf(docs[i], sizeof docs[i],
                 "{\"db\":{\"pool\":{\"size\":%d}},\"ratio\":0.1,\"big\":9007199254740993,"
                 "\"name\":\"v%d\"}",
                 10 + i, i + 1);
        snprintf(msgs[i], sizeof msgs[i], "change %d", i + 1);
        zkd_counters before, after;
        zkd_client_counters(c, &before);
        zkd_error err;
        int64_t v = publish(c, "history-app", docs[i], msgs[i], ZKD_CONFIG_ANY_VERSION, &err);
        zkd_client_counters(c, &after);
        CU_ASSERT_EQUAL(v, i + 1);
        CU_ASSERT_EQUAL(after.multi - before.multi, 1); /* one transaction per publish */
    }
    zkd_config_meta *h = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(zkd_config_history(c, "history-app", &h, &n, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(n, N);
    for (int i = 0; i < N; i++) {
        CU_ASSERT_EQUAL(h[i].version, i + 1);
        CU_ASSERT_STRING_EQUAL(h[i].message, msgs[i]);
        CU_ASSERT_PTR_NOT_NULL(strchr(h[i].author, '@')); /* $USER@host by default */
        CU_ASSERT(h[i].time_ms >= t0 && h[i].time_ms <= t0 + 600000);
        CU_ASSERT(i == 0 || h[i].time_ms >= h[i - 1].time_ms);
        zkd_config_version *v = NULL;
        CU_ASSERT_EQUAL_FATAL(zkd_config_get(c, "history-app", i + 1, &v, NULL), 0);
        CU_ASSERT_TRUE(same_json(zkd_config_version_json(v), docs[i]));
        CU_ASSERT_STRING_EQUAL(zkd_config_version_checksum(v), h[i].checksum);
        CU_ASSERT_EQUAL(zkd_config_version_size(v), h[i].size);
        CU_ASSERT_EQUAL(zkd_config_version_size(v), strlen(zkd_config_version_json(v)));
        CU_ASSERT_STRING_EQUAL(zkd_config_version_message(v), msgs[i]);
        CU_ASSERT_FALSE(zkd_config_version_stale(v));
        int64_t big = 0;
        CU_ASSERT_EQUAL(zkd_config_int(v, "big", &big, NULL), 0);
        CU_ASSERT_EQUAL(big, 9007199254740993LL);
        zkd_config_version_unref(v);
    }
    /* the checksum is SHA-256 of the canonical document */
    json_t *doc = json_loads(docs[2], 0, NULL);
    char sum[80];
    zkd__config_checksum(doc, sum, sizeof sum);
    CU_ASSERT_STRING_EQUAL(sum, h[2].checksum);
    json_decref(doc);
    zkd_config_meta_free(h, n);

    /* 0 is the current version; a missing version or app says which */
    zkd_config_version *cur = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_config_get(c, "history-app", 0, &cur, NULL), 0);
    CU_ASSERT_EQUAL(zkd_config_version_number(cur), N);
    CU_ASSERT_TRUE(same_json(zkd_config_version_json(cur), docs[N - 1]));
    zkd_config_version_unref(cur);
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_config_get(c, "history-app", N + 1, &cur, &err), ZKD_ENOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no version 7"));
    CU_ASSERT_EQUAL(zkd_config_get(c, "no-such-app", 0, &cur, &err), ZKD_ENOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no-such-app has no configuration"));
    CU_ASSERT_EQUAL(zkd_config_history(c, "no-such-app", &h, &n, &err), ZKD_ENOTFOUND);

    /* the tree is what config.h says */
    zkd_stat st;
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/zkdisc/config/history-app/versions/0000000003", &st, NULL), 0);
    CU_ASSERT_EQUAL(st.ephemeral_owner, 0);
}

/* ---- compare-and-set -------------------------------------------------------------- */

static void test_compare_and_set(void)
{
    zkd_client *c = client();
    zkd_error err;
    CU_ASSERT_EQUAL(publish(c, "cas-app", "{\"a\":1}", NULL, 1, &err), ZKD_ECONFLICT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "current version 0"));
    CU_ASSERT_EQUAL(publish(c, "cas-app", "{\"a\":1}", NULL, 0, &err), 1);
    CU_ASSERT_EQUAL(publish(c, "cas-app", "{\"a\":1}", NULL, 0, &err), ZKD_ECONFLICT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "already exists at version 1"));
    CU_ASSERT_EQUAL(publish(c, "cas-app", "{\"a\":2}", NULL, 1, &err), 2);
    CU_ASSERT_EQUAL(publish(c, "cas-app", "{\"a\":3}", NULL, 1, &err), ZKD_ECONFLICT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "is at version 2, not 1"));
    CU_ASSERT_EQUAL(history_len(c, "cas-app"), 2);
    zkd_config_version *v;
    CU_ASSERT_EQUAL_FATAL(zkd_config_get(c, "cas-app", 0, &v, NULL), 0);
    CU_ASSERT_TRUE(same_json(zkd_config_version_json(v), "{\"a\":2}"));
    zkd_config_version_unref(v);
}

enum { WRITERS = 4, EACH = 8 };

typedef struct writer {
    int id;
    int conflicts;
    int failures;
    int compare_and_set;
} writer;

/* Each writer publishes EACH unique documents; with compare-and-set it reads
 * the current version and retries when another writer got in first. */
static void *write_loop(void *arg)
{
    writer *wr = arg;
    zkd_client *c = connect_as(NULL);
    const char *app = wr->compare_and_set ? "race-cas" : "race-any";
    for (int k = 0; k < EACH; k++) {
        char doc[64];
        snprintf(doc, sizeof doc, "{\"writer\":%d,\"seq\":%d}", wr->id, k);
        for (;;) {
            zkd_config_version *cur = NULL;
            int64_t expect = ZKD_CONFIG_ANY_VERSION;
            if (wr->compare_and_set) {
                int rc = zkd_config_get(c, app, 0, &cur, NULL);
                expect = rc == 0 ? zkd_config_version_number(cur) : 0;
                zkd_config_version_unref(cur);
            }
            zkd_error err;
            int64_t v = publish(c, app, doc, NULL, expect, &err);
            if (v > 0)
                break;
            if (v == ZKD_ECONFLICT && wr->compare_and_set) {
                wr->conflicts++;
                continue;
            }
            fprintf(stderr, "writer %d: %s\n", wr->id, err.message);
            wr->failures++;
            break;
        }
    }
    zkd_close(c);
    return NULL;
}

static void race(int compare_and_set)
{
    const char *app = compare_and_set ? "race-cas" : "race-any";
    pthread_t th[WRITERS];
    writer wr[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        wr[i] = (writer){.id = i, .compare_and_set = compare_and_set};
        pthread_create(&th[i], NULL, write_loop, &wr[i]);
    }
    int conflicts = 0;
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(wr[i].failures, 0);
        conflicts += wr[i].conflicts;
    }
    /* Nothing lost: every document is exactly one version. */
    zkd_client *c = client();
    zkd_config_meta *h = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(zkd_config_history(c, app, &h, &n, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(n, WRITERS * EACH);
    int seen[WRITERS][EACH] = {{0}};
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(h[i].version, (int64_t)i + 1);
        zkd_config_version *v;
        CU_ASSERT_EQUAL_FATAL(zkd_config_get(c, app, h[i].version, &v, NULL), 0);
        int64_t w = -1, k = -1;
        zkd_config_int(v, "writer", &w, NULL);
        zkd_config_int(v, "seq", &k, NULL);
        CU_ASSERT_FATAL(w >= 0 && w < WRITERS && k >= 0 && k < EACH);
        seen[w][k]++;
        zkd_config_version_unref(v);
    }
    for (int w = 0; w < WRITERS; w++)
        for (int k = 0; k < EACH; k++)
            CU_ASSERT_EQUAL(seen[w][k], 1);
    zkd_config_meta_free(h, n);
    printf("(%d compare-and-set conflicts) ", conflicts);
}

static void test_concurrent_compare_and_set(void) { race(1); }
static void test_concurrent_unconditional(void) { race(0); }

/* ---- rollback and retention -------------------------------------------------------- */

static void test_rollback(void)
{
    zkd_client *c = client();
    const char *a = "{\"db\":{\"host\":\"a\"},\"n\":1}";
    publish_ok(c, "rollback-app", a);
    publish_ok(c, "rollback-app", "{\"db\":{\"host\":\"b\"}}");
    zkd_config_publish_opts o;
    zkd_config_publish_opts_init(&o);
    int64_t v = 0;
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_config_rollback(c, "rollback-app", 1, &o, &v, &err), 0);
    CU_ASSERT_EQUAL(v, 3);
    zkd_config_version *v1, *v3;
    CU_ASSERT_EQUAL_FATAL(zkd_config_get(c, "rollback-app", 1, &v1, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(zkd_config_get(c, "rollback-app", 0, &v3, NULL), 0);
    CU_ASSERT_EQUAL(zkd_config_version_number(v3), 3);
    CU_ASSERT_STRING_EQUAL(zkd_config_version_json(v3), zkd_config_version_json(v1));
    CU_ASSERT_STRING_EQUAL(zkd_config_version_checksum(v3), zkd_config_version_checksum(v1));
    CU_ASSERT_STRING_EQUAL(zkd_config_version_message(v3), "rollback to version 1");
    zkd_config_version_unref(v1);
    zkd_config_version_unref(v3);
    CU_ASSERT_EQUAL(history_len(c, "rollback-app"), 3); /* history is not rewritten */
    CU_ASSERT_EQUAL(zkd_config_rollback(c, "rollback-app", 9, &o, &v, &err), ZKD_ENOTFOUND);
    o.if_version = 2;
    CU_ASSERT_EQUAL(zkd_config_rollback(c, "rollback-app", 1, &o, &v, &err), ZKD_ECONFLICT);
    CU_ASSERT_EQUAL(history_len(c, "rollback-app"), 3);
}

static void expect_history(zkd_client *c, const char *app, int64_t first, int64_t last)
{
    zkd_config_meta *h = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(zkd_config_history(c, app, &h, &n, NULL), 0);
    CU_ASSERT_EQUAL(n, (size_t)(last - first + 1));
    for (size_t i = 0; i < n; i++)
        CU_ASSERT_EQUAL(h[i].version, first + (int64_t)i);
    zkd_config_meta_free(h, n);
}

static void test_retention(void)
{
    zkd_client *c = client();
    zkd_config_publish_opts o;
    zkd_config_publish_opts_init(&o);
    o.retain = 5;
    for (int i = 1; i <= 8; i++) {
        char doc[32];
        snprintf(doc, sizeof doc, "{\"i\":%d}", i);
        int64_t v = 0;
        CU_ASSERT_EQUAL_FATAL(zkd_config_publish(c, "retain-app", doc, strlen(doc), &o, &v, NULL), 0);
        CU_ASSERT_EQUAL(v, i);
        expect_history(c, "retain-app", i > 5 ? i - 4 : 1, i); /* only the oldest go */
    }
    zkd_config_version *v;
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_config_get(c, "retain-app", 3, &v, &err), ZKD_ENOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "pruned"));
    CU_ASSERT_EQUAL_FATAL(zkd_config_get(c, "retain-app", 4, &v, NULL), 0);
    CU_ASSERT_TRUE(same_json(zkd_config_version_json(v), "{\"i\":4}"));
    zkd_config_version_unref(v);

    /* The default keeps 100; lowering the limit prunes more than one
     * transaction holds (32 inside, the rest right after). */
    for (int i = 9; i <= 45; i++)
        publish_ok(c, "retain-app", "{\"more\":true}");
    expect_history(c, "retain-app", 4, 45);
    o.retain = 2;
    int64_t last = 0;
    CU_ASSERT_EQUAL(zkd_config_publish(c, "retain-app", "{\"end\":1}", 9, &o, &last, NULL), 0);
    CU_ASSERT_EQUAL(last, 46);
    expect_history(c, "retain-app", 45, 46);
}

/* ---- refused documents --------------------------------------------------------------- */

static char *doc_of_size(size_t n)
{
    /* {"blob":"xxxx..."} of exactly n bytes */
    char *d = malloc(n + 1);
    strcpy(d, "{\"blob\":\"");
    size_t head = strlen(d);
    memset(d + head, 'x', n - head - 2);
    strcpy(d + n - 2, "\"}");
    return d;
}

static void test_refused(void)
{
    zkd_client *c = client();
    zkd_error err;
    zkd_counters before, after;
    zkd_client_counters(c, &before);

    char *huge = doc_of_size(ZKD_CONFIG_MAX_STORED);
    CU_ASSERT_EQUAL(publish(c, "refused-app", huge, NULL, ZKD_CONFIG_ANY_VERSION, &err), ZKD_ETOOBIG);
    char limit[32];
    snprintf(limit, sizeof limit, "%d bytes", ZKD_CONFIG_MAX_STORED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, limit));
    free(huge);
    CU_ASSERT_EQUAL(publish(c, "refused-app", "{\"a\":", NULL, -1, &err), ZKD_EBADDATA);
    CU_ASSERT_EQUAL(publish(c, "refused-app", "[1,2]", NULL, -1, &err), ZKD_EBADDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "JSON object"));
    CU_ASSERT_EQUAL(publish(c, "refused-app", "\"text\"", NULL, -1, &err), ZKD_EBADDATA);
    CU_ASSERT_EQUAL(publish(c, "bad/name", "{}", NULL, -1, &err), ZKD_EINVAL);
    CU_ASSERT_EQUAL(publish(c, "..", "{}", NULL, -1, &err), ZKD_EINVAL);

    /* nothing was sent, nothing exists */
    zkd_client_counters(c, &after);
    CU_ASSERT_EQUAL(after.multi, before.multi);
    CU_ASSERT_EQUAL(after.create, before.create);
    CU_ASSERT_EQUAL(after.get_data, before.get_data);
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/zkdisc/config/refused-app", NULL, NULL), ZKD_ENOTFOUND);

    /* just under the limit goes through: two copies fit in one request */
    char *big = doc_of_size(ZKD_CONFIG_MAX_STORED - 400);
    int64_t v = publish(c, "big-app", big, "large", ZKD_CONFIG_ANY_VERSION, &err);
    if (v < 0)
        fprintf(stderr, "big publish: %s\n", err.message);
    CU_ASSERT_EQUAL(v, 1);
    zkd_config_version *got;
    CU_ASSERT_EQUAL_FATAL(zkd_config_get(c, "big-app", 1, &got, NULL), 0);
    CU_ASSERT_STRING_EQUAL(zkd_config_version_json(got), big);
    zkd_config_version_unref(got);
    free(big);
}

/* ---- delete and list ----------------------------------------------------------------- */

static void test_delete_and_list(void)
{
    zkd_client *c = client();
    publish_ok(c, "list-a", "{\"x\":1}");
    publish_ok(c, "list-a", "{\"x\":2}");
    publish_ok(c, "list-b", "{\"y\":1}");
    zkd_config_app *apps = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(zkd_config_list(c, &apps, &n, NULL), 0);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT(i == 0 || strcmp(apps[i - 1].name, apps[i].name) < 0);
        if (!strcmp(apps[i].name, "list-a")) {
            CU_ASSERT_EQUAL(apps[i].version, 2);
            CU_ASSERT(apps[i].time_ms > 0);
            found++;
        }
        if (!strcmp(apps[i].name, "list-b")) {
            CU_ASSERT_EQUAL(apps[i].version, 1);
            found++;
        }
    }
    CU_ASSERT_EQUAL(found, 2);
    zkd_config_apps_free(apps, n);

    zkd_error err;
    CU_ASSERT_EQUAL(zkd_config_delete(c, "list-a", 1, &err), ZKD_ECONFLICT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "version 2"));
    CU_ASSERT_EQUAL(history_len(c, "list-a"), 2);
    CU_ASSERT_EQUAL(zkd_config_delete(c, "list-a", 2, &err), 0);
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/zkdisc/config/list-a", NULL, NULL), ZKD_ENOTFOUND);
    CU_ASSERT_EQUAL(zkd_config_delete(c, "list-a", ZKD_CONFIG_ANY_VERSION, &err), ZKD_ENOTFOUND);
    /* a new app of the same name starts again at 1 */
    CU_ASSERT_EQUAL(publish_ok(c, "list-a", "{\"x\":3}"), 1);
    /* many versions: deleted over several transactions */
    for (int i = 0; i < 40; i++)
        publish_ok(c, "list-b", "{\"y\":2}");
    CU_ASSERT_EQUAL(zkd_config_delete(c, "list-b", ZKD_CONFIG_ANY_VERSION, &err), 0);
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/zkdisc/config/list-b", NULL, NULL), ZKD_ENOTFOUND);
}

/* ---- locked apps ----------------------------------------------------------------------- */

static void test_lock(void)
{
    zkd_client *alice = connect_as("alice:secret");
    zkd_client *bob = connect_as("bob:pw");
    zkd_client *mallory = connect_as("alice:wrong");
    zkd_client *anon = client();
    publish_ok(alice, "locked-app", "{\"v\":1}");

    char bob_id[128], bob_allow[160];
    CU_ASSERT_EQUAL(zkd_config_digest_id("bob:pw", bob_id, sizeof bob_id, NULL), 0);
    snprintf(bob_allow, sizeof bob_allow, "digest:%s", bob_id);
    const char *allow[] = {"alice:secret", bob_allow};
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_config_lock(alice, "locked-app", allow, 2, &err), 0);

    /* wrong or no credentials: refused, nothing written, no secret told */
    zkd_client *refused[] = {anon, mallory};
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(publish(refused[i], "locked-app", "{\"v\":2}", NULL, -1, &err), ZKD_ENOAUTH);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "locked"));
        CU_ASSERT_PTR_NULL(strstr(err.message, "secret"));
        CU_ASSERT_PTR_NULL(strstr(err.message, "wrong"));
        CU_ASSERT_EQUAL(zkd_config_rollback(refused[i], "locked-app", 1, NULL, NULL, &err), ZKD_ENOAUTH);
        CU_ASSERT_EQUAL(zkd_config_delete(refused[i], "locked-app", -1, &err), ZKD_ENOAUTH);
        CU_ASSERT_EQUAL(zkd_config_unlock(refused[i], "locked-app", &err), ZKD_ENOAUTH);
        CU_ASSERT_EQUAL(zkd_config_lock(refused[i], "locked-app", allow, 1, &err), ZKD_ENOAUTH);
    }
    CU_ASSERT_EQUAL(history_len(anon, "locked-app"), 1);
    zkd_config_version *v;
    CU_ASSERT_EQUAL_FATAL(zkd_config_get(anon, "locked-app", 0, &v, NULL), 0); /* reads stay open */
    CU_ASSERT_EQUAL(zkd_config_version_number(v), 1);
    zkd_config_version_unref(v);
    /* version nodes cannot be rewritten by anyone */
    CU_ASSERT_EQUAL(zkd__call(alice, &(zkd_op){.kind = ZKD_OP_SET,
                                               .path = "/zkdisc/config/locked-app/versions/0000000001",
                                               .data = "{}", .len = 2, .version = -1},
                              NULL, NULL),
                    ZKD_ENOAUTH);

    /* the right credentials, by password or by precomputed id */
    CU_ASSERT_EQUAL(publish(alice, "locked-app", "{\"v\":2}", NULL, 1, &err), 2);
    CU_ASSERT_EQUAL(publish(bob, "locked-app", "{\"v\":3}", NULL, 2, &err), 3);
    /* locked apps keep pruning (the versions node's ACL allows it) */
    zkd_config_publish_opts o;
    zkd_config_publish_opts_init(&o);
    o.retain = 1;
    CU_ASSERT_EQUAL(zkd_config_publish(alice, "locked-app", "{\"v\":4}", 7, &o, NULL, &err), 0);
    CU_ASSERT_EQUAL(history_len(anon, "locked-app"), 1);

    CU_ASSERT_EQUAL(zkd_config_unlock(bob, "locked-app", &err), 0);
    CU_ASSERT_EQUAL(publish(anon, "locked-app", "{\"v\":5}", NULL, 4, &err), 5);
    CU_ASSERT_EQUAL(zkd_config_delete(anon, "locked-app", 5, &err), 0);

    /* bad identities, and an app that does not exist */
    const char *bad[] = {"nocolon"};
    CU_ASSERT_EQUAL(zkd_config_lock(alice, "x-app", bad, 1, &err), ZKD_EINVAL);
    CU_ASSERT_PTR_NULL(strstr(err.message, "nocolon"));
    CU_ASSERT_EQUAL(zkd_config_lock(alice, "x-app", allow, 0, &err), ZKD_EINVAL);
    CU_ASSERT_EQUAL(zkd_config_lock(alice, "x-app", allow, 1, &err), ZKD_ENOTFOUND);
    zkd_close(alice);
    zkd_close(bob);
    zkd_close(mallory);
}

/* Root "/" (Spring Cloud Zookeeper's layout): config lives at /config/APP,
 * never "//config". Refused before this change. */
static void test_root_slash(void)
{
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zkh_connect_string(zk);
    o.root = "/";
    o.connect_timeout_ms = 15000;
    zkd_client *c = NULL;
    zkd_error err;
    int rc = zkd_connect(&o, &c, &err);
    if (rc)
        fprintf(stderr, "connect with root /: %s\n", err.message);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(publish(c, "slash", "{\"a\":1}", "m", ZKD_CONFIG_ANY_VERSION, &err), 1);
    zkd_stat st;
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/config/slash", &st, NULL), 0);
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/config/slash/versions/0000000001", &st, NULL), 0);
    zkd_config_version *v = NULL;
    CU_ASSERT_EQUAL(zkd_config_get(c, "slash", 0, &v, &err), 0);
    if (v)
        CU_ASSERT_STRING_EQUAL(zkd_config_version_json(v), "{\"a\":1}");
    zkd_config_version_unref(v);
    zkd_close(c);
}

static void test_close_shared(void)
{
    zkd_close(cl);
    cl = NULL;
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"versions 1..N: history, metadata, get of each", test_publish_history_get},
        {"compare-and-set names the current version", test_compare_and_set},
        {"concurrent compare-and-set writers lose nothing", test_concurrent_compare_and_set},
        {"concurrent unconditional writers lose nothing", test_concurrent_unconditional},
        {"rollback publishes the old content anew", test_rollback},
        {"retention prunes only the oldest", test_retention},
        {"refused before sending: size, JSON, not an object, names", test_refused},
        {"delete and list", test_delete_and_list},
        {"locked apps: digest ACLs", test_lock},
        {"root \"/\": config under /config", test_root_slash},
        {"close", test_close_shared},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"config", suite_init, suite_clean, NULL, NULL, tests},
                             CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
