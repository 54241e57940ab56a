/* SPDX-License-Identifier: Apache-2.0 */
/* The client session against a 3-node ensemble: kill -9 of the server the
 * client is connected to moves the client to another server, same session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zookeeper/zookeeper.h>

#include "request.h"
#include "testutil.h"
#include "zkh.h"

ZKH_SUITE(3) /* zk: the suite's server(s); suite_init, suite_clean */

static int connected_index(zkd_client *c)
{
    char server[64];
    if (zkd_client_server(c, server, sizeof server) != 0)
        return -1;
    const char *colon = strrchr(server, ':');
    return colon ? zkh_index_of_port(zk, atoi(colon + 1)) : -1;
}

typedef struct moved {
    zkd_client *c;
    int from;
} moved;

static int moved_elsewhere(void *arg)
{
    moved *m = arg;
    int now = connected_index(m->c);
    return zkd_client_state(m->c) == ZKD_STATE_CONNECTED && now >= 0 && now != m->from;
}

static void test_kill_connected_server(void)
{
    zkd_client *c = tu_connect(zkh_connect_string(zk), 20000);
    tu_events ev;
    tu_events_subscribe(c, &ev);
    int64_t session = zkd_client_session_id(c);
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd__call(c, &(zkd_op){.kind = ZKD_OP_CREATE, .path = "/ensemble-probe",
                                                 .data = "x", .len = 1, .flags = ZOO_EPHEMERAL},
                                    NULL, &err), 0);
    int from = connected_index(c);
    CU_ASSERT_FATAL(from >= 0);

    CU_ASSERT_EQUAL_FATAL(zkh_kill_server(zk, from), 0);
    moved m = {c, from};
    CU_ASSERT_TRUE(tu_wait_until(moved_elsewhere, &m, 40000));
    CU_ASSERT_EQUAL(zkd_client_session_id(c), session);
    CU_ASSERT_EQUAL(tu_events_get(&ev, ZKD_SESSION_EXPIRED), 0);
    CU_ASSERT_EQUAL(tu_events_get(&ev, ZKD_SESSION_RECONNECTED), 1);

    zkd_stat st;
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/ensemble-probe", &st, &err), 0);
    CU_ASSERT_EQUAL(st.ephemeral_owner, session);
    zkd_close(c);
    CU_ASSERT_EQUAL(zkh_restart_server(zk, from), 0);
}

/* Losing the leader: the client keeps its session through the election. */
static void test_leader_loss(void)
{
    zkd_client *c = tu_connect(zkh_connect_string(zk), 20000);
    tu_events ev;
    tu_events_subscribe(c, &ev);
    int64_t session = zkd_client_session_id(c);
    int leader = zkh_wait_leader(zk, 30000);
    CU_ASSERT_FATAL(leader >= 0);
    CU_ASSERT_EQUAL_FATAL(zkh_kill_server(zk, leader), 0);
    int next = zkh_wait_leader(zk, 40000);
    CU_ASSERT(next >= 0 && next != leader);
    zkd_stat st;
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/zookeeper", &st, &err), 0);
    CU_ASSERT_EQUAL(zkd_client_session_id(c), session);
    CU_ASSERT_EQUAL(tu_events_get(&ev, ZKD_SESSION_EXPIRED), 0);
    zkd_close(c);
    CU_ASSERT_EQUAL(zkh_restart_server(zk, leader), 0);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"kill -9 of the connected server: same session elsewhere", test_kill_connected_server},
        {"leader loss: session survives the election", test_leader_loss},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"ensemble", suite_init, suite_clean, NULL, NULL, tests},
                             CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
