/* SPDX-License-Identifier: Apache-2.0 */
/* Registrations across a leader kill in a 3-node ensemble: a thread keeps
 * registering and deregistering a set of ids while the leader is killed
 * with SIGKILL and comes back. No call fails, and in the end every id
 * registered has exactly one node, held by the client's session; no other
 * node is left. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "zkh.h"

ZKH_SUITE(3) /* zk: the suite's server(s); suite_init, suite_clean */

enum { IDS = 20 };

typedef struct churn {
    zkd_client *c;
    zkd_registration *regs[IDS];
    int stop, ops, failures; /* atomics */
    char last_error[ZKD_ERROR_MESSAGE_MAX];
} churn;

static void *churn_loop(void *arg)
{
    churn *ch = arg;
    for (int n = 0; !__atomic_load_n(&ch->stop, __ATOMIC_SEQ_CST); n++) {
        int i = (n * 7) % IDS; /* each id in turn, registered then deregistered */
        zkd_error err;
        int rc;
        if (ch->regs[i]) {
            rc = zkd_registration_close(ch->regs[i], &err);
            ch->regs[i] = NULL;
        } else {
            char id[16];
            snprintf(id, sizeof id, "e-%02d", i);
            zkd_instance_spec spec;
            zkd_instance_spec_init(&spec);
            spec.service = "churn";
            spec.id = id;
            spec.address = "10.0.0.3";
            spec.port = 1000 + i;
            rc = zkd_register(ch->c, &spec, &ch->regs[i], &err);
            if (rc)
                ch->regs[i] = NULL;
        }
        if (rc) {
            __atomic_add_fetch(&ch->failures, 1, __ATOMIC_SEQ_CST);
            snprintf(ch->last_error, sizeof ch->last_error, "%s", err.message);
        }
        __atomic_add_fetch(&ch->ops, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

typedef struct ops_above {
    churn *ch;
    int above;
} ops_above;

static int more_ops(void *arg)
{
    ops_above *o = arg;
    return __atomic_load_n(&o->ch->ops, __ATOMIC_SEQ_CST) > o->above;
}

static int back(void *arg)
{
    tu_events *ev = arg;
    return tu_events_get(ev, ZKD_SESSION_RECONNECTED) + tu_events_get(ev, ZKD_SESSION_REESTABLISHED) > 0;
}

/* Exactly the registered ids are in the tree, each held by the client's
 * current session. */
typedef struct tree_matches {
    churn *ch;
    zkd_client *reader;
} tree_matches;

static int matches(void *arg)
{
    tree_matches *t = arg;
    int64_t s = zkd_client_session_id(t->ch->c);
    zkd_strings kids;
    if (zkd_node_children(t->reader, "/zkdisc/services/churn", &kids, NULL, NULL) != 0)
        return 0;
    int want = 0, ok = 1;
    for (int i = 0; i < IDS; i++)
        want += t->ch->regs[i] != NULL;
    ok = (int)kids.count == want;
    for (size_t k = 0; ok && k < kids.count; k++) {
        int i = -1;
        sscanf(kids.items[k], "e-%d", &i);
        char path[128];
        snprintf(path, sizeof path, "/zkdisc/services/churn/%s", kids.items[k]);
        zkd_stat st;
        ok = i >= 0 && i < IDS && t->ch->regs[i] && zkd_node_stat(t->reader, path, &st, NULL) == 0 &&
             st.ephemeral_owner == s;
    }
    zkd_strings_free(&kids);
    return ok;
}

static void test_churn_across_leader_kill(void)
{
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zkh_connect_string(zk);
    o.session_timeout_ms = 20000;
    o.connect_timeout_ms = 30000;
    o.request_timeout_ms = 15000;
    churn ch;
    memset(&ch, 0, sizeof ch);
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_connect(&o, &ch.c, &err), 0);
    tu_events ev;
    tu_events_subscribe(ch.c, &ev);
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, churn_loop, &ch), 0);
    ops_above warm = {&ch, 40};
    CU_ASSERT_TRUE(tu_wait_until(more_ops, &warm, 30000));

    int leader = zkh_wait_leader(zk, 30000);
    CU_ASSERT_FATAL(leader >= 0);
    CU_ASSERT_EQUAL_FATAL(zkh_kill_server(zk, leader), 0);
    /* The churn goes on through the election and after it. */
    CU_ASSERT_TRUE(tu_wait_int(&ev.count[ZKD_SESSION_SUSPENDED], 1, 30000));
    CU_ASSERT_TRUE(tu_wait_until(back, &ev, 60000));
    ops_above after = {&ch, __atomic_load_n(&ch.ops, __ATOMIC_SEQ_CST) + 40};
    CU_ASSERT_TRUE(tu_wait_until(more_ops, &after, 60000));
    CU_ASSERT_EQUAL(zkh_restart_server(zk, leader), 0);
    __atomic_store_n(&ch.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(t, NULL);
    fprintf(stderr, "%d operations, %d failed%s%s\n", ch.ops, ch.failures,
            ch.failures ? "; last: " : "", ch.failures ? ch.last_error : "");
    CU_ASSERT_EQUAL(ch.failures, 0);

    zkd_client *reader = tu_connect(zkh_connect_string(zk), 20000);
    tree_matches tm = {&ch, reader};
    CU_ASSERT_TRUE(tu_wait_until(matches, &tm, 30000));
    for (int i = 0; i < IDS; i++)
        CU_ASSERT_EQUAL(zkd_registration_close(ch.regs[i], NULL), 0);
    memset(ch.regs, 0, sizeof ch.regs);
    CU_ASSERT_TRUE(tu_wait_until(matches, &tm, 30000)); /* and now none */
    zkd_close(ch.c);
    zkd_close(reader);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"churn across a leader kill: no failure, one node each", test_churn_across_leader_kill},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"registry_ensemble", suite_init, suite_clean, NULL, NULL, tests},
                             CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
