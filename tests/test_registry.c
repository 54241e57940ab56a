/* SPDX-License-Identifier: Apache-2.0 */
/* Registration and live discovery against a real server: round trip of
 * every field, expiry and re-creation (including the "old node still there"
 * race), reconnect without flicker, O(changed) reads, malformed data, the
 * three record formats, drains, updates in place, and deregistration while
 * the connection is down. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zookeeper/zookeeper.h>

#include "request.h"
#include "testutil.h"
#include "zkh.h"

void zkd__registry_mark_dead(zkd_client *c, int64_t session);

ZKH_SUITE(1) /* zk: the suite's server(s); suite_init, suite_clean */

/* ---- recording deltas ----------------------------------------------------- */

typedef struct recorder {
    pthread_mutex_t mu;
    char log[4096]; /* "A:id R:id U:id " */
    volatile int n;
} recorder;

static void record(zkd_cache *k, const zkd_delta *d, size_t n, void *ctx)
{
    (void)k;
    recorder *r = ctx;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < n; i++) {
        const zkd_instance *inst = d[i].now ? d[i].now : d[i].before;
        char kind = d[i].kind == ZKD_DELTA_ADDED ? 'A' : d[i].kind == ZKD_DELTA_REMOVED ? 'R' : 'U';
        size_t used = strlen(r->log);
        snprintf(r->log + used, sizeof r->log - used, "%c:%s ", kind, zkd_instance_id(inst));
        if (d[i].kind == ZKD_DELTA_UPDATED)
            CU_ASSERT(d[i].before && d[i].now);
    }
    __atomic_add_fetch(&r->n, (int)n, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&r->mu);
}

static void recorder_log(recorder *r, char *out, size_t len)
{
    pthread_mutex_lock(&r->mu);
    snprintf(out, len, "%s", r->log);
    pthread_mutex_unlock(&r->mu);
}

static void recorder_reset(recorder *r)
{
    pthread_mutex_lock(&r->mu);
    r->log[0] = '\0';
    __atomic_store_n(&r->n, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&r->mu);
}

typedef struct log_has {
    recorder *r;
    const char *text;
} log_has;

static int log_contains(void *arg)
{
    log_has *h = arg;
    char log[4096];
    recorder_log(h->r, log, sizeof log);
    return strstr(log, h->text) != NULL;
}

static zkd_cache *open_cache(zkd_client *c, const char *service, recorder *r)
{
    if (r) {
        memset(r, 0, sizeof *r);
        pthread_mutex_init(&r->mu, NULL);
    }
    zkd_cache *k = NULL;
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, service, r ? record : NULL, r, &k, &err), 0);
    CU_ASSERT_EQUAL_FATAL(zkd_cache_wait_ready(k, 15000, &err), 0);
    return k;
}

typedef struct count_is {
    zkd_cache *k;
    size_t n;
} count_is;

static int snapshot_count_is(void *arg)
{
    count_is *w = arg;
    zkd_snapshot *s = zkd_cache_snapshot(w->k);
    int ok = zkd_snapshot_count(s) == w->n;
    zkd_snapshot_unref(s);
    return ok;
}

static int wait_count(zkd_cache *k, size_t n)
{
    count_is w = {k, n};
    return tu_wait_until(snapshot_count_is, &w, 20000);
}

/* The snapshot is swapped before the listener runs, so after wait_count the
 * step's deltas may still be on their way: wait for them too before a reset. */
static void settle(zkd_cache *k, recorder *r, size_t n)
{
    CU_ASSERT_TRUE(wait_count(k, n));
    CU_ASSERT_TRUE(tu_wait_int(&r->n, (int)n, 20000));
    recorder_reset(r);
}

static zkd_registration *reg(zkd_client *c, const char *service, const char *id, int port)
{
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.service = service;
    spec.id = id;
    spec.address = "10.9.8.7";
    spec.port = port;
    zkd_registration *r = NULL;
    zkd_error err;
    int rc = zkd_register(c, &spec, &r, &err);
    if (rc)
        fprintf(stderr, "register %s/%s: %s\n", service, id, err.message);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return r;
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

/* ---- tests ----------------------------------------------------------------- */

static void test_round_trip(void)
{
    zkd_client *a = tu_connect(zkh_connect_string(zk), 10000);
    zkd_client *b = tu_connect(zkh_connect_string(zk), 10000);
    recorder rec;
    zkd_cache *k = open_cache(b, "payments", &rec);
    const char *meta[] = {"team=core", NULL};
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.service = "payments";
    spec.address = "10.1.2.3";
    spec.port = 8080;
    spec.ssl_port = 8443;
    spec.payload = "{\"build\":\"abc\"}";
    spec.weight = 40;
    spec.zone = "eu-1";
    spec.version = "2.0.1";
    spec.meta = meta;
    zkd_registration *r = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_register(a, &spec, &r, NULL), 0);
    char id[64]; /* a copy: the registration is freed by zkd_registration_close */
    snprintf(id, sizeof id, "%s", zkd_registration_id(r));
    CU_ASSERT_EQUAL(strlen(id), 36);
    CU_ASSERT_TRUE(wait_count(k, 1));

    zkd_snapshot *s = zkd_cache_snapshot(k);
    const zkd_instance *i = zkd_snapshot_find(s, id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(i);
    CU_ASSERT_STRING_EQUAL(zkd_instance_service(i), "payments");
    CU_ASSERT_STRING_EQUAL(zkd_instance_address(i), "10.1.2.3");
    CU_ASSERT_EQUAL(zkd_instance_port(i), 8080);
    CU_ASSERT_EQUAL(zkd_instance_ssl_port(i), 8443);
    CU_ASSERT_EQUAL(zkd_instance_weight(i), 40);
    CU_ASSERT_STRING_EQUAL(zkd_instance_zone(i), "eu-1");
    CU_ASSERT_STRING_EQUAL(zkd_instance_version(i), "2.0.1");
    CU_ASSERT_STRING_EQUAL(zkd_instance_meta(i, "team"), "core");
    CU_ASSERT_PTR_NOT_NULL(strstr(zkd_instance_payload(i), "\"build\":\"abc\""));
    CU_ASSERT_EQUAL(zkd_instance_enabled(i), 1);
    zkd_instance *mine = zkd_registration_instance(r);
    CU_ASSERT_EQUAL(zkd_instance_registration_time(i), zkd_instance_registration_time(mine));
    zkd_instance_unref(mine);
    CU_ASSERT_FALSE(zkd_snapshot_stale(s));
    zkd_snapshot_unref(s);

    /* The node is ephemeral, owned by a's session. */
    zkd_stat st;
    char path[256];
    snprintf(path, sizeof path, "/zkdisc/services/payments/%s", id);
    CU_ASSERT_EQUAL(zkd_node_stat(b, path, &st, NULL), 0);
    CU_ASSERT_EQUAL(st.ephemeral_owner, zkd_client_session_id(a));

    /* One-shot query and the services list agree. */
    zkd_snapshot *q = NULL;
    uint64_t bad = 99;
    CU_ASSERT_EQUAL(zkd_instances_query(b, "payments", &q, &bad, NULL), 0);
    CU_ASSERT_EQUAL(zkd_snapshot_count(q), 1);
    CU_ASSERT_EQUAL(bad, 0);
    zkd_snapshot_unref(q);
    zkd_service_info *list = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(zkd_services_list(b, &list, &n, NULL), 0);
    int found = 0;
    for (size_t x = 0; x < n; x++)
        found |= !strcmp(list[x].name, "payments") && list[x].instances == 1;
    CU_ASSERT(found);
    zkd_services_free(list, n);

    CU_ASSERT_EQUAL(zkd_registration_close(r, NULL), 0);
    CU_ASSERT_TRUE(wait_count(k, 0));
    char log[4096];
    recorder_log(&rec, log, sizeof log);
    char want[256];
    snprintf(want, sizeof want, "A:%s R:%s ", id, id);
    CU_ASSERT_STRING_EQUAL(log, want);
    if (strcmp(log, want))
        fprintf(stderr, "deltas: \"%s\"\n", log);
    zkd_cache_close(k);
    zkd_close(a);
    zkd_close(b);
}

typedef struct owned_by {
    zkd_client *reader, *owner;
    const char *path;
} owned_by;

static int node_owned_by(void *arg)
{
    owned_by *o = arg;
    zkd_stat st;
    return zkd_node_stat(o->reader, o->path, &st, NULL) == 0 &&
           st.ephemeral_owner == zkd_client_session_id(o->owner) && st.ephemeral_owner != 0;
}

static void test_expiry_recreates(void)
{
    zkd_client *a = tu_connect(zkh_connect_string(zk), 4000);
    zkd_client *b = tu_connect(zkh_connect_string(zk), 10000);
    tu_events ev;
    tu_events_subscribe(a, &ev);
    zkd_registration *r = reg(a, "orders", "o-1", 9000);
    recorder rec;
    zkd_cache *k = open_cache(b, "orders", &rec);
    settle(k, &rec, 1);

    CU_ASSERT_EQUAL_FATAL(tu_expire(a, zkh_connect_string(zk), 15000), 0);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_REESTABLISHED], 1, 20000));
    owned_by o = {b, a, "/zkdisc/services/orders/o-1"};
    CU_ASSERT_TRUE(tu_wait_until(node_owned_by, &o, 20000));
    CU_ASSERT_EQUAL(count_children(b, "/zkdisc/services/orders"), 1);

    /* An update after the re-creation: once the subscriber has it, it has
     * everything before it. All it may have seen is one removal and one
     * addition, then the update (which also proves the data watch was
     * re-armed on the new node). */
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.port = 9001;
    CU_ASSERT_EQUAL(zkd_registration_update(r, &spec, NULL), 0);
    char log[4096];
    log_has h = {&rec, "U:o-1 "};
    CU_ASSERT_TRUE(tu_wait_until(log_contains, &h, 20000));
    recorder_log(&rec, log, sizeof log);
    CU_ASSERT(!strcmp(log, "U:o-1 ") || !strcmp(log, "R:o-1 A:o-1 U:o-1 "));
    if (strcmp(log, "U:o-1 ") && strcmp(log, "R:o-1 A:o-1 U:o-1 "))
        fprintf(stderr, "deltas: %s\n", log);
    CU_ASSERT_TRUE(wait_count(k, 1));
    zkd_cache_close(k);
    CU_ASSERT_EQUAL(zkd_registration_close(r, NULL), 0);
    zkd_close(a);
    zkd_close(b);
}

/* The old session's node is still there when the new session registers:
 * it is removed (its owner is one of our dead sessions) and exactly one node
 * remains, ours. A live stranger's node is never touched. */
static void test_old_node_still_there(void)
{
    zkd_client *a = tu_connect(zkh_connect_string(zk), 10000);
    zkd_client *ghost = tu_connect(zkh_connect_string(zk), 10000);
    zkd_registration *g = reg(ghost, "race", "x", 1); /* plays the old session's node */
    zkd__registry_mark_dead(a, zkd_client_session_id(ghost));
    zkd_registration *r = reg(a, "race", "x", 2);
    zkd_stat st;
    CU_ASSERT_EQUAL(zkd_node_stat(a, "/zkdisc/services/race/x", &st, NULL), 0);
    CU_ASSERT_EQUAL(st.ephemeral_owner, zkd_client_session_id(a));
    CU_ASSERT_EQUAL(count_children(a, "/zkdisc/services/race"), 1);
    CU_ASSERT_EQUAL(zkd_registration_close(g, NULL), 0); /* ghost's node is long gone: still success */

    zkd_client *stranger = tu_connect(zkh_connect_string(zk), 10000);
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.service = "race";
    spec.id = "x";
    spec.address = "10.0.0.1";
    zkd_registration *none = NULL;
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_register(stranger, &spec, &none, &err), ZKD_EEXISTS);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "already registered"));
    CU_ASSERT_EQUAL(zkd_node_stat(a, "/zkdisc/services/race/x", &st, NULL), 0);
    CU_ASSERT_EQUAL(st.ephemeral_owner, zkd_client_session_id(a));
    CU_ASSERT_EQUAL(zkd_registration_close(r, NULL), 0);
    zkd_close(a);
    zkd_close(ghost);
    zkd_close(stranger);
}

static int not_stale(void *arg)
{
    zkd_snapshot *s = zkd_cache_snapshot(arg);
    int ok = !zkd_snapshot_stale(s) && zkd_snapshot_count(s) == 1;
    zkd_snapshot_unref(s);
    return ok;
}

static int is_stale(void *arg)
{
    zkd_snapshot *s = zkd_cache_snapshot(arg);
    int ok = zkd_snapshot_stale(s) && zkd_snapshot_count(s) == 1;
    zkd_snapshot_unref(s);
    return ok;
}

/* A restart inside the session timeout: no delta at all, same node. */
static void test_reconnect_no_flicker(void)
{
    zkd_client *a = tu_connect(zkh_connect_string(zk), 30000);
    zkd_client *b = tu_connect(zkh_connect_string(zk), 30000);
    tu_events eva, evb;
    tu_events_subscribe(a, &eva);
    tu_events_subscribe(b, &evb);
    zkd_registration *r = reg(a, "stable", "s-1", 7000);
    recorder rec;
    zkd_cache *k = open_cache(b, "stable", &rec);
    settle(k, &rec, 1);
    zkd_stat before;
    CU_ASSERT_EQUAL(zkd_node_stat(b, "/zkdisc/services/stable/s-1", &before, NULL), 0);

    CU_ASSERT_EQUAL_FATAL(zkh_stop_server(zk, 0), 0);
    CU_ASSERT_TRUE(tu_wait_until(is_stale, k, 15000)); /* served, flagged stale */
    CU_ASSERT_EQUAL_FATAL(zkh_restart_server(zk, 0), 0);
    CU_ASSERT_TRUE(tu_wait_int(&eva.count[ZKD_SESSION_RECONNECTED], 1, 25000));
    CU_ASSERT_TRUE(tu_wait_int(&evb.count[ZKD_SESSION_RECONNECTED], 1, 25000));
    CU_ASSERT_TRUE(tu_wait_until(not_stale, k, 15000));
    zkd_stat after;
    CU_ASSERT_EQUAL(zkd_node_stat(b, "/zkdisc/services/stable/s-1", &after, NULL), 0);
    CU_ASSERT_EQUAL(after.czxid, before.czxid); /* never deleted and re-created */
    CU_ASSERT_EQUAL(after.mzxid, before.mzxid);
    CU_ASSERT_EQUAL(tu_events_get(&eva, ZKD_SESSION_EXPIRED), 0);
    /* A change made now arrives, so every earlier one would have too. */
    zkd_registration *r2 = reg(a, "stable", "s-2", 7001);
    CU_ASSERT_TRUE(tu_wait_int(&rec.n, 1, 20000));
    char log[4096];
    recorder_log(&rec, log, sizeof log);
    CU_ASSERT_STRING_EQUAL(log, "A:s-2 ");
    zkd_cache_close(k);
    CU_ASSERT_EQUAL(zkd_registration_close(r, NULL), 0);
    CU_ASSERT_EQUAL(zkd_registration_close(r2, NULL), 0);
    zkd_close(a);
    zkd_close(b);
}

static void create_raw(zkd_client *c, const char *path, const char *data, int len)
{
    zkd_error err;
    int rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_CREATE, .path = path, .data = data, .len = len},
                       NULL, &err);
    if (rc && rc != ZKD_EEXISTS)
        fprintf(stderr, "create %s: %s\n", path, err.message);
    CU_ASSERT(rc == 0 || rc == ZKD_EEXISTS);
}

static void ensure_service(zkd_client *c, const char *service)
{
    char path[256];
    create_raw(c, "/zkdisc", NULL, -1);
    create_raw(c, "/zkdisc/services", NULL, -1);
    snprintf(path, sizeof path, "/zkdisc/services/%s", service);
    create_raw(c, path, NULL, -1);
}

/* 2,000 instances cached; one more costs one getChildren and one getData. */
static void test_change_costs_what_changed(void)
{
    zkd_client *w = tu_connect(zkh_connect_string(zk), 10000);
    zkd_client *b = tu_connect(zkh_connect_string(zk), 10000);
    ensure_service(w, "big");
    enum { N = 2000 };
    zkd_op *ops = calloc(N, sizeof *ops);
    char (*paths)[64] = calloc(N, 64);
    char (*data)[160] = calloc(N, 160);
    int *rcs = calloc(N, sizeof *rcs);
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], 64, "/zkdisc/services/big/n%05d", i);
        snprintf(data[i], 160, "{\"name\":\"big\",\"id\":\"n%05d\",\"address\":\"10.0.%d.%d\",\"port\":80}",
                 i, i / 250, i % 250);
        ops[i] = (zkd_op){.kind = ZKD_OP_CREATE, .path = paths[i], .data = data[i],
                          .len = (int)strlen(data[i])};
    }
    CU_ASSERT_EQUAL_FATAL(zkd__call_batch(w, ops, N, NULL, rcs, NULL), 0);
    zkd_cache *k = open_cache(b, "big", NULL);
    CU_ASSERT_TRUE_FATAL(wait_count(k, N));
    zkd_counters before, after;
    zkd_client_counters(b, &before);
    CU_ASSERT_EQUAL(before.get_data, N); /* the load read each child once */

    const char *one_more = "{\"name\":\"big\",\"id\":\"n99999\",\"address\":\"10.1.1.1\",\"port\":81}";
    create_raw(w, "/zkdisc/services/big/n99999", one_more, (int)strlen(one_more));
    CU_ASSERT_TRUE(wait_count(k, N + 1));
    zkd_client_counters(b, &after);
    CU_ASSERT_EQUAL(after.get_children - before.get_children, 1);
    CU_ASSERT_EQUAL(after.get_data - before.get_data, 1);
    CU_ASSERT_EQUAL(after.exists - before.exists, 0);
    zkd_cache_close(k);
    free(ops);
    free(paths);
    free(data);
    free(rcs);
    zkd_close(w);
    zkd_close(b);
}

typedef struct malformed_is {
    zkd_cache *k;
    uint64_t n;
} malformed_is;

static int malformed_count_is(void *arg)
{
    malformed_is *m = arg;
    return zkd_cache_malformed(m->k) == m->n;
}

static void test_malformed_skipped_and_counted(void)
{
    zkd_client *w = tu_connect(zkh_connect_string(zk), 10000);
    zkd_client *b = tu_connect(zkh_connect_string(zk), 10000);
    ensure_service(w, "messy");
    static const char binary[] = {0x00, (char)0xff, (char)0xfe, 0x01};
    size_t big_len = 900 * 1024;
    char *big = malloc(big_len);
    memset(big, 'x', big_len);
    create_raw(w, "/zkdisc/services/messy/empty", "", 0);
    create_raw(w, "/zkdisc/services/messy/binary", binary, sizeof binary);
    create_raw(w, "/zkdisc/services/messy/array", "[1,2]", 5);
    create_raw(w, "/zkdisc/services/messy/truncated", "{\"name\":\"messy\",\"address\":\"10.", 30);
    create_raw(w, "/zkdisc/services/messy/huge", big, (int)big_len);
    create_raw(w, "/zkdisc/services/messy/good1", "{\"address\":\"10.0.0.1\",\"port\":1}", 31);
    create_raw(w, "/zkdisc/services/messy/good2", "{\"address\":\"10.0.0.2\",\"port\":2}", 31);
    free(big);

    recorder rec;
    zkd_cache *k = open_cache(b, "messy", &rec);
    CU_ASSERT_TRUE(wait_count(k, 2));
    malformed_is m = {k, 5};
    CU_ASSERT_TRUE(tu_wait_until(malformed_count_is, &m, 10000));
    zkd_snapshot *s = zkd_cache_snapshot(k);
    CU_ASSERT_PTR_NOT_NULL(zkd_snapshot_find(s, "good1"));
    CU_ASSERT_PTR_NOT_NULL(zkd_snapshot_find(s, "good2"));
    zkd_snapshot_unref(s);

    /* Repaired by its writer: served, and no longer counted. */
    CU_ASSERT_EQUAL(zkd__call(w, &(zkd_op){.kind = ZKD_OP_SET, .path = "/zkdisc/services/messy/array",
                                           .data = "{\"address\":\"10.0.0.3\",\"port\":3}",
                                           .len = 31, .version = -1}, NULL, NULL), 0);
    CU_ASSERT_TRUE(wait_count(k, 3));
    m.n = 4;
    CU_ASSERT_TRUE(tu_wait_until(malformed_count_is, &m, 10000));
    /* One-shot queries skip and count the same way. */
    zkd_snapshot *q = NULL;
    uint64_t bad = 0;
    CU_ASSERT_EQUAL(zkd_instances_query(b, "messy", &q, &bad, NULL), 0);
    CU_ASSERT_EQUAL(zkd_snapshot_count(q), 3);
    CU_ASSERT_EQUAL(bad, 4);
    zkd_snapshot_unref(q);
    zkd_cache_close(k);
    zkd_close(w);
    zkd_close(b);
}

static void test_three_formats(void)
{
    zkd_client *w = tu_connect(zkh_connect_string(zk), 10000);
    zkd_client *b = tu_connect(zkh_connect_string(zk), 10000);
    ensure_service(w, "mixed");
    const char *curator = "{\"name\":\"mixed\",\"id\":\"c-1\",\"address\":\"10.0.0.1\",\"port\":8004,"
                          "\"sslPort\":null,\"payload\":null,\"registrationTimeUTC\":1698197224917,"
                          "\"serviceType\":\"DYNAMIC\",\"uriSpec\":null}";
    const char *serverset = "{\"serviceEndpoint\":{\"host\":\"10.0.0.2\",\"port\":31337},"
                            "\"additionalEndpoints\":{},\"status\":\"ALIVE\",\"shard\":0}";
    const char *nerve = "{\"host\":\"10.0.0.3\",\"port\":8080,\"name\":\"i-1\",\"weight\":10,\"labels\":{}}";
    create_raw(w, "/zkdisc/services/mixed/c-1", curator, (int)strlen(curator));
    create_raw(w, "/zkdisc/services/mixed/member_0000000007", serverset, (int)strlen(serverset));
    create_raw(w, "/zkdisc/services/mixed/i-1_0000000003", nerve, (int)strlen(nerve));
    zkd_cache *k = open_cache(b, "mixed", NULL);
    CU_ASSERT_TRUE(wait_count(k, 3));
    zkd_snapshot *s = zkd_cache_snapshot(k);
    const zkd_instance *c = zkd_snapshot_find(s, "c-1");
    const zkd_instance *ss = zkd_snapshot_find(s, "member_0000000007");
    const zkd_instance *nv = zkd_snapshot_find(s, "i-1_0000000003");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ss);
    CU_ASSERT_PTR_NOT_NULL_FATAL(nv);
    CU_ASSERT_EQUAL(zkd_instance_format(c), ZKD_FORMAT_CURATOR);
    CU_ASSERT_EQUAL(zkd_instance_port(c), 8004);
    CU_ASSERT_EQUAL(zkd_instance_format(ss), ZKD_FORMAT_SERVERSET);
    CU_ASSERT_STRING_EQUAL(zkd_instance_address(ss), "10.0.0.2");
    CU_ASSERT_EQUAL(zkd_instance_port(ss), 31337);
    CU_ASSERT_EQUAL(zkd_instance_format(nv), ZKD_FORMAT_NERVE);
    CU_ASSERT_EQUAL(zkd_instance_weight(nv), 10);
    CU_ASSERT_EQUAL(zkd_instance_port(nv), 8080);
    zkd_snapshot_unref(s);
    CU_ASSERT_EQUAL(zkd_cache_malformed(k), 0);
    zkd_cache_close(k);
    zkd_close(w);
    zkd_close(b);
}

typedef struct enabled_is {
    zkd_client *c;
    int want;
} enabled_is;

static int tree_enabled_is(void *arg)
{
    enabled_is *e = arg;
    return tu_enabled_in_tree(e->c, "/zkdisc/services/drain/d-1") == e->want;
}

/* An operator's drain survives the process's own update and a re-creation. */
static void test_drain_is_kept(void)
{
    zkd_client *a = tu_connect(zkh_connect_string(zk), 4000);
    zkd_client *op = tu_connect(zkh_connect_string(zk), 10000);
    tu_events ev;
    tu_events_subscribe(a, &ev);
    zkd_registration *r = reg(a, "drain", "d-1", 100);
    recorder rec;
    zkd_cache *k = open_cache(op, "drain", &rec);
    settle(k, &rec, 1);
    CU_ASSERT_EQUAL(zkd_instance_set_enabled(op, "drain", "d-1", 0, NULL), 0);
    CU_ASSERT_TRUE(tu_wait_int(&rec.n, 1, 20000)); /* UPDATED, now disabled */
    zkd_snapshot *s = zkd_cache_snapshot(k);
    CU_ASSERT_EQUAL(zkd_instance_enabled(zkd_snapshot_find(s, "d-1")), 0);
    zkd_snapshot_unref(s);
    /* The id stays valid while the registry swaps its record (ASan would
     * catch a read of the freed one). */
    const char *id = zkd_registration_id(r);
    enabled_is drained = {op, 0};
    CU_ASSERT_TRUE(tu_wait_until(tree_enabled_is, &drained, 5000));
    CU_ASSERT_STRING_EQUAL(id, "d-1");

    /* The process updates its port: the drain stays. */
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.port = 101;
    CU_ASSERT_EQUAL(zkd_registration_update(r, &spec, NULL), 0);
    enabled_is e = {op, 0};
    CU_ASSERT_TRUE(tu_wait_until(tree_enabled_is, &e, 1000));
    /* Its session expires and the node is re-created: still drained. */
    CU_ASSERT_EQUAL_FATAL(tu_expire(a, zkh_connect_string(zk), 15000), 0);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_REESTABLISHED], 1, 20000));
    owned_by o = {op, a, "/zkdisc/services/drain/d-1"};
    CU_ASSERT_TRUE(tu_wait_until(node_owned_by, &o, 20000));
    CU_ASSERT_EQUAL(tu_enabled_in_tree(op, "/zkdisc/services/drain/d-1"), 0);
    /* Undrain. */
    CU_ASSERT_EQUAL(zkd_instance_set_enabled(op, "drain", "d-1", 1, NULL), 0);
    e.want = 1;
    CU_ASSERT_TRUE(tu_wait_until(tree_enabled_is, &e, 1000));
    CU_ASSERT_EQUAL(zkd_instance_set_enabled(op, "drain", "nope", 0, NULL), ZKD_ENOTFOUND);
    zkd_cache_close(k);
    CU_ASSERT_EQUAL(zkd_registration_close(r, NULL), 0);
    zkd_close(a);
    zkd_close(op);
}

/* An update is a setData on the same node (same czxid), seen as UPDATED
 * with the old and the new record. */
/* spec.enabled = 0: the node is created drained, never seen enabled (the
 * agent registers a service in maintenance this way). */
static void test_created_drained(void)
{
    zkd_client *a = tu_connect(zkh_connect_string(zk), 10000);
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    CU_ASSERT_EQUAL(spec.enabled, 1);
    spec.service = "drain";
    spec.id = "d-2";
    spec.address = "10.9.8.7";
    spec.port = 102;
    spec.enabled = 0;
    zkd_registration *r = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_register(a, &spec, &r, NULL), 0);
    zkd_instance *mine = zkd_registration_instance(r);
    CU_ASSERT_EQUAL(zkd_instance_enabled(mine), 0);
    zkd_instance_unref(mine);
    /* zkd_register has waited for the create: its first write says false. */
    CU_ASSERT_EQUAL(tu_enabled_in_tree(a, "/zkdisc/services/drain/d-2"), 0);
    /* An update keeps the tree's flag, whatever the spec says. */
    zkd_instance_spec up;
    zkd_instance_spec_init(&up);
    up.port = 103;
    CU_ASSERT_EQUAL(zkd_registration_update(r, &up, NULL), 0);
    CU_ASSERT_EQUAL(tu_enabled_in_tree(a, "/zkdisc/services/drain/d-2"), 0);
    CU_ASSERT_EQUAL(zkd_registration_close(r, NULL), 0);
    zkd_close(a);
}

static void test_update_in_place(void)
{
    zkd_client *a = tu_connect(zkh_connect_string(zk), 10000);
    zkd_client *b = tu_connect(zkh_connect_string(zk), 10000);
    zkd_registration *r = reg(a, "upd", "u-1", 1000);
    recorder rec;
    zkd_cache *k = open_cache(b, "upd", &rec);
    settle(k, &rec, 1);
    zkd_stat before, after;
    CU_ASSERT_EQUAL(zkd_node_stat(b, "/zkdisc/services/upd/u-1", &before, NULL), 0);
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.port = 1001;
    spec.payload = "{\"v\":2}";
    CU_ASSERT_EQUAL(zkd_registration_update(r, &spec, NULL), 0);
    CU_ASSERT_TRUE(tu_wait_int(&rec.n, 1, 20000));
    CU_ASSERT_EQUAL(zkd_node_stat(b, "/zkdisc/services/upd/u-1", &after, NULL), 0);
    CU_ASSERT_EQUAL(after.czxid, before.czxid);
    CU_ASSERT_EQUAL(after.version, before.version + 1);
    zkd_snapshot *s = zkd_cache_snapshot(k);
    CU_ASSERT_EQUAL(zkd_instance_port(zkd_snapshot_find(s, "u-1")), 1001);
    zkd_snapshot_unref(s);
    spec.service = "other";
    CU_ASSERT_EQUAL(zkd_registration_update(r, &spec, NULL), ZKD_EINVAL);
    zkd_cache_close(k);
    CU_ASSERT_EQUAL(zkd_registration_close(r, NULL), 0);
    zkd_close(a);
    zkd_close(b);
}

typedef struct port_is {
    zkd_client *c;
    const char *path;
    int port;
} port_is;

static int node_port_is(void *arg)
{
    port_is *p = arg;
    char *data = NULL;
    size_t len = 0;
    if (zkd_node_get(p->c, p->path, &data, &len, NULL, NULL) != 0)
        return 0;
    zkd_instance *i = NULL;
    int ok = zkd_instance_parse(NULL, NULL, data, len, &i, NULL) == 0 && zkd_instance_port(i) == p->port;
    zkd_instance_unref(i);
    zkd_free(data);
    return ok;
}

typedef struct gone {
    zkd_client *c;
    const char *path;
} gone;

static int node_gone(void *arg)
{
    gone *g = arg;
    return zkd_node_stat(g->c, g->path, NULL, NULL) == ZKD_ENOTFOUND;
}

/* Deregistering and updating while the server is down return at once (not
 * after the request timeout); once the connection is back in the same
 * session, the delete and the update are done. */
static void test_deregister_while_disconnected(void)
{
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zkh_connect_string(zk);
    o.session_timeout_ms = 30000;
    o.request_timeout_ms = 10000;
    zkd_client *a = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_connect(&o, &a, NULL), 0);
    tu_events ev;
    tu_events_subscribe(a, &ev);
    zkd_registration *r = reg(a, "leaving", "l-1", 1);
    zkd_registration *stays = reg(a, "leaving", "l-2", 2);
    CU_ASSERT_EQUAL_FATAL(zkh_stop_server(zk, 0), 0);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_SUSPENDED], 1, 15000));
    int64_t t0 = tu_now_ms();
    CU_ASSERT_EQUAL(zkd_registration_close(r, NULL), 0);
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.port = 3;
    CU_ASSERT_EQUAL(zkd_registration_update(stays, &spec, NULL), 0);
    CU_ASSERT(tu_now_ms() - t0 < 1000);
    CU_ASSERT_EQUAL_FATAL(zkh_restart_server(zk, 0), 0);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_RECONNECTED], 1, 25000));
    zkd_client *b = tu_connect(zkh_connect_string(zk), 10000);
    gone g = {b, "/zkdisc/services/leaving/l-1"};
    CU_ASSERT_TRUE(tu_wait_until(node_gone, &g, 15000));
    port_is p = {b, "/zkdisc/services/leaving/l-2", 3};
    CU_ASSERT_TRUE(tu_wait_until(node_port_is, &p, 15000));
    CU_ASSERT_EQUAL(tu_events_get(&ev, ZKD_SESSION_EXPIRED), 0);
    CU_ASSERT_EQUAL(zkd_registration_close(stays, NULL), 0);
    zkd_close(a);
    zkd_close(b);
}

/* The cache's own session expires: it rebuilds on the new session, reports
 * only what really changed meanwhile, and its watches work again. */
static void test_cache_session_expiry(void)
{
    zkd_client *a = tu_connect(zkh_connect_string(zk), 10000);
    zkd_client *b = tu_connect(zkh_connect_string(zk), 4000);
    tu_events ev;
    tu_events_subscribe(b, &ev);
    zkd_registration *r1 = reg(a, "rebuilt", "k-1", 1);
    zkd_registration *r2 = reg(a, "rebuilt", "k-2", 2);
    recorder rec;
    zkd_cache *k = open_cache(b, "rebuilt", &rec);
    settle(k, &rec, 2);

    CU_ASSERT_EQUAL_FATAL(tu_expire(b, zkh_connect_string(zk), 15000), 0);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_EXPIRED], 1, 20000));
    CU_ASSERT_EQUAL(zkd_registration_close(r2, NULL), 0); /* changes while b has no session */
    zkd_registration *r3 = reg(a, "rebuilt", "k-3", 3);
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_REESTABLISHED], 1, 20000));
    CU_ASSERT_TRUE(tu_wait_int(&rec.n, 2, 20000));
    CU_ASSERT_TRUE(wait_count(k, 2));
    zkd_snapshot *s = zkd_cache_snapshot(k);
    CU_ASSERT_PTR_NOT_NULL(zkd_snapshot_find(s, "k-1"));
    CU_ASSERT_PTR_NOT_NULL(zkd_snapshot_find(s, "k-3"));
    CU_ASSERT_FALSE(zkd_snapshot_stale(s));
    zkd_snapshot_unref(s);
    char log[4096];
    recorder_log(&rec, log, sizeof log);
    /* k-1 did not change: no delta for it. */
    CU_ASSERT(!strcmp(log, "R:k-2 A:k-3 ") || !strcmp(log, "A:k-3 R:k-2 "));
    if (strcmp(log, "R:k-2 A:k-3 ") && strcmp(log, "A:k-3 R:k-2 "))
        fprintf(stderr, "deltas: %s\n", log);

    /* Watches were re-armed on the new session: data and children. */
    recorder_reset(&rec);
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.port = 11;
    CU_ASSERT_EQUAL(zkd_registration_update(r1, &spec, NULL), 0);
    zkd_registration *r4 = reg(a, "rebuilt", "k-4", 4);
    CU_ASSERT_TRUE(tu_wait_int(&rec.n, 2, 20000));
    recorder_log(&rec, log, sizeof log);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "U:k-1 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "A:k-4 "));
    zkd_cache_close(k);
    CU_ASSERT_EQUAL(zkd_registration_close(r1, NULL), 0);
    CU_ASSERT_EQUAL(zkd_registration_close(r3, NULL), 0);
    CU_ASSERT_EQUAL(zkd_registration_close(r4, NULL), 0);
    zkd_close(a);
    zkd_close(b);
}

/* ---- identity and fidelity -------------------------------------------------- */

typedef struct log_lines {
    pthread_mutex_t mu;
    int spoof_id, spoof_name; /* lines naming the spoofed records */
} log_lines;

static void count_log(zkd_log_level level, const char *message, void *ctx)
{
    log_lines *l = ctx;
    pthread_mutex_lock(&l->mu);
    if (level == ZKD_LOG_WARN && strstr(message, "zz-x") && strstr(message, "\"web-1\""))
        l->spoof_id++;
    if (level == ZKD_LOG_WARN && strstr(message, "moved") && strstr(message, "\"payments\""))
        l->spoof_name++;
    pthread_mutex_unlock(&l->mu);
}

static char *node_data(zkd_client *c, const char *path)
{
    char *data = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL(zkd_node_get(c, path, &data, &len, NULL, NULL), 0);
    return data;
}

/* A rogue writer's record that claims another instance's id, or another
 * service, is skipped and counted by the cache and by queries, and named
 * once in the log however often it is rewritten. */
static void test_spoofed_records_skipped(void)
{
    zkd_client *w = tu_connect(zkh_connect_string(zk), 10000);
    log_lines lines = {.mu = PTHREAD_MUTEX_INITIALIZER};
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zkh_connect_string(zk);
    o.connect_timeout_ms = 15000;
    o.log_fn = count_log;
    o.log_ctx = &lines;
    zkd_client *b = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_connect(&o, &b, NULL), 0);
    ensure_service(w, "ident");
    const char *real = "{\"name\":\"ident\",\"id\":\"web-1\",\"address\":\"10.0.0.1\",\"port\":1}";
    const char *spoof = "{\"name\":\"ident\",\"id\":\"web-1\",\"address\":\"10.6.6.6\",\"port\":1}";
    const char *moved = "{\"name\":\"payments\",\"id\":\"moved\",\"address\":\"10.6.6.7\",\"port\":1}";
    const char *seq = "{\"name\":\"ident\",\"id\":\"q1\",\"address\":\"10.0.0.4\",\"port\":1,"
                      "\"serviceType\":\"DYNAMIC_SEQUENTIAL\"}";
    create_raw(w, "/zkdisc/services/ident/web-1", real, (int)strlen(real));
    create_raw(w, "/zkdisc/services/ident/zz-x", spoof, (int)strlen(spoof));
    create_raw(w, "/zkdisc/services/ident/moved", moved, (int)strlen(moved));
    create_raw(w, "/zkdisc/services/ident/q10000000005", seq, (int)strlen(seq));

    recorder rec;
    zkd_cache *k = open_cache(b, "ident", &rec);
    settle(k, &rec, 2);
    CU_ASSERT_EQUAL(zkd_cache_malformed(k), 2);
    zkd_snapshot *s = zkd_cache_snapshot(k);
    CU_ASSERT_EQUAL(zkd_snapshot_count(s), 2);
    const zkd_instance *web1 = zkd_snapshot_find(s, "web-1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(web1);
    CU_ASSERT_STRING_EQUAL(zkd_instance_address(web1), "10.0.0.1");
    CU_ASSERT_STRING_EQUAL(zkd_instance_znode(web1), "web-1");
    CU_ASSERT_PTR_NOT_NULL(zkd_snapshot_find(s, "q1"));
    CU_ASSERT_PTR_NULL(zkd_snapshot_find(s, "moved"));
    zkd_snapshot_unref(s);

    /* Rewritten, still spoofed: no news, no second line. Then a real change
     * behind it (answers come in order) shows the rewrite was read. */
    for (int n = 0; n < 3; n++)
        CU_ASSERT_EQUAL(zkd__call(w, &(zkd_op){.kind = ZKD_OP_SET, .path = "/zkdisc/services/ident/zz-x",
                                               .data = spoof, .len = (int)strlen(spoof), .version = -1},
                                  NULL, NULL), 0);
    const char *real2 = "{\"name\":\"ident\",\"id\":\"web-1\",\"address\":\"10.0.0.1\",\"port\":2}";
    CU_ASSERT_EQUAL(zkd__call(w, &(zkd_op){.kind = ZKD_OP_SET, .path = "/zkdisc/services/ident/web-1",
                                           .data = real2, .len = (int)strlen(real2), .version = -1},
                              NULL, NULL), 0);
    log_has h = {&rec, "U:web-1"};
    CU_ASSERT_TRUE(tu_wait_until(log_contains, &h, 10000));
    CU_ASSERT_EQUAL(zkd_cache_malformed(k), 2);
    pthread_mutex_lock(&lines.mu);
    CU_ASSERT_EQUAL(lines.spoof_id, 1);
    CU_ASSERT_EQUAL(lines.spoof_name, 1);
    pthread_mutex_unlock(&lines.mu);

    zkd_snapshot *q = NULL;
    uint64_t bad = 0;
    CU_ASSERT_EQUAL(zkd_instances_query(b, "ident", &q, &bad, NULL), 0);
    CU_ASSERT_EQUAL(zkd_snapshot_count(q), 2);
    CU_ASSERT_EQUAL(bad, 2);
    CU_ASSERT_STRING_EQUAL(zkd_instance_address(zkd_snapshot_find(q, "web-1")), "10.0.0.1");
    zkd_snapshot_unref(q);
    zkd_cache_close(k);
    zkd_close(w);
    zkd_close(b);
}

/* 0.1 is stored as 0.1 by a registration and by an operator's drain of a
 * foreign record, whose znode name zkdisc would not choose itself. */
static void test_numbers_and_foreign_names(void)
{
    zkd_client *a = tu_connect(zkh_connect_string(zk), 10000);
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.service = "fid";
    spec.id = "x";
    spec.address = "10.0.0.1";
    spec.port = 7100;
    spec.payload = "{\"dbl\":0.1}";
    zkd_registration *r = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_register(a, &spec, &r, NULL), 0);
    char *data = node_data(a, "/zkdisc/services/fid/x");
    CU_ASSERT_PTR_NOT_NULL(data && strstr(data, "\"payload\":{\"dbl\":0.1}"));
    zkd_free(data);

    const char *foreign = "{\"name\":\"fid\",\"id\":\"web 1\",\"address\":\"10.0.0.2\","
                          "\"payload\":{\"dbl\":0.1,\"big\":12345678901234567}}";
    create_raw(a, "/zkdisc/services/fid/web 1", foreign, (int)strlen(foreign));
    CU_ASSERT_EQUAL(zkd_instance_set_enabled(a, "fid", "web 1", 0, NULL), 0);
    data = node_data(a, "/zkdisc/services/fid/web 1");
    CU_ASSERT_PTR_NOT_NULL(data && strstr(data, "{\"dbl\":0.1,\"big\":12345678901234567}"));
    CU_ASSERT_PTR_NOT_NULL(data && strstr(data, "\"enabled\":false"));
    zkd_free(data);
    CU_ASSERT_EQUAL(tu_enabled_in_tree(a, "/zkdisc/services/fid/web 1"), 0);
    CU_ASSERT_EQUAL(zkd_instance_set_enabled(a, "fid", "web 1", 1, NULL), 0);
    CU_ASSERT_EQUAL(tu_enabled_in_tree(a, "/zkdisc/services/fid/web 1"), 1);
    create_raw(a, "/zkdisc/services/fid/q1@host", "{\"address\":\"h\"}", 15);
    CU_ASSERT_EQUAL(zkd_instance_remove(a, "fid", "q1@host", NULL), 0);
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_instance_remove(a, "fid", "q1@host", &err), ZKD_ENOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "\"q1@host\""));
    /* Still one path component, never a way elsewhere in the tree. */
    CU_ASSERT_EQUAL(zkd_instance_remove(a, "fid", "../fid", NULL), ZKD_EINVAL);
    CU_ASSERT_EQUAL(zkd_instance_remove(a, "fid", "..", NULL), ZKD_EINVAL);
    CU_ASSERT_EQUAL(zkd_instance_remove(a, "fid", "", NULL), ZKD_EINVAL);
    CU_ASSERT_EQUAL(zkd_registration_close(r, NULL), 0);
    zkd_close(a);
}

static void test_bad_names_refused(void)
{
    zkd_client *a = tu_connect(zkh_connect_string(zk), 10000);
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.service = "../etc";
    spec.address = "10.0.0.1";
    zkd_registration *r = NULL;
    zkd_error err;
    zkd_counters before, after;
    zkd_client_counters(a, &before);
    CU_ASSERT_EQUAL(zkd_register(a, &spec, &r, &err), ZKD_EINVAL);
    spec.service = "ok";
    spec.id = "has space";
    CU_ASSERT_EQUAL(zkd_register(a, &spec, &r, &err), ZKD_EINVAL);
    zkd_cache *k = NULL;
    CU_ASSERT_EQUAL(zkd_cache_open(a, "a/b", NULL, NULL, &k, &err), ZKD_EINVAL);
    zkd_client_counters(a, &after);
    CU_ASSERT_EQUAL(after.create, before.create); /* refused before any request */
    /* Registering the same id twice in one client is refused too. */
    spec.id = "twice";
    zkd_registration *first = NULL;
    CU_ASSERT_EQUAL(zkd_register(a, &spec, &first, NULL), 0);
    CU_ASSERT_EQUAL(zkd_register(a, &spec, &r, &err), ZKD_EEXISTS);
    CU_ASSERT_EQUAL(zkd_registration_close(first, NULL), 0);
    zkd_close(a);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"register, discover every field, deregister", test_round_trip},
        {"expiry: re-created by the new session, one node", test_expiry_recreates},
        {"old node still there: removed, exactly one remains", test_old_node_still_there},
        {"reconnect in the same session: no delta", test_reconnect_no_flicker},
        {"2,000 cached: one more costs 1 getChildren + 1 getData", test_change_costs_what_changed},
        {"malformed children skipped and counted", test_malformed_skipped_and_counted},
        {"Curator, ServerSet and Nerve nodes", test_three_formats},
        {"a drain survives update and re-creation", test_drain_is_kept},
        {"spec.enabled = 0: created drained", test_created_drained},
        {"update in place", test_update_in_place},
        {"deregister while disconnected", test_deregister_while_disconnected},
        {"the cache's own expiry: rebuild reports true differences", test_cache_session_expiry},
        {"bad names refused before any request", test_bad_names_refused},
        {"spoofed ids and services skipped, counted, logged once", test_spoofed_records_skipped},
        {"0.1 stays 0.1; foreign znode names drained and removed", test_numbers_and_foreign_names},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"registry", suite_init, suite_clean, NULL, NULL, tests},
                             CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
