/* SPDX-License-Identifier: Apache-2.0 */
/* Resuming a session from saved credentials (options.resume), as a
 * restarted process does: client A registers an ephemeral instance in a
 * child process, its credentials are read and handed over, and A dies
 * without closing (SIGKILL). Client B resumes the session: the node is
 * never removed (same czxid throughout, past the session timeout) and B
 * owns it. A saved session that has expired gives a new session, said by
 * zkd_client_resumed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "zkh.h"

#define SESSION_MS 4000
#define PATH "/zkdisc/services/resume/a-1"

ZKH_SUITE(1) /* zk: the suite's server(s); suite_init, suite_clean */

static void spec_of(zkd_instance_spec *spec)
{
    zkd_instance_spec_init(spec);
    spec->service = "resume";
    spec->id = "a-1";
    spec->address = "127.0.0.1";
    spec->port = 4321;
}

static zkd_client *connect_resuming(const zkd_session_credentials *cr)
{
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zkh_connect_string(zk);
    o.session_timeout_ms = SESSION_MS;
    o.connect_timeout_ms = 15000;
    o.request_timeout_ms = 15000;
    o.resume = cr;
    zkd_client *c = NULL;
    zkd_error err;
    int rc = zkd_connect(&o, &c, &err);
    if (rc)
        fprintf(stderr, "resuming connect failed: %s\n", err.message);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return c;
}

/* Client A, in a child: register, send the credentials, wait to be killed.
 * Exits with a code saying which step failed (no CUnit in the child). */
static void client_a(int fd)
{
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zkh_connect_string(zk);
    o.session_timeout_ms = SESSION_MS;
    o.connect_timeout_ms = 15000;
    zkd_client *c = NULL;
    if (zkd_connect(&o, &c, NULL) != 0)
        _exit(3);
    zkd_instance_spec spec;
    spec_of(&spec);
    zkd_registration *r = NULL;
    if (zkd_register(c, &spec, &r, NULL) != 0)
        _exit(4);
    zkd_session_credentials cr;
    if (zkd_client_credentials(c, &cr, NULL) != 0)
        _exit(5);
    if (write(fd, &cr, sizeof cr) != (ssize_t)sizeof cr)
        _exit(6);
    for (;;)
        pause();
}

/* Starts client A, returns its credentials; A is SIGKILLed (no close). */
static int run_and_kill_a(zkd_session_credentials *cr)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        client_a(fds[1]);
    }
    close(fds[1]);
    ssize_t n = pid > 0 ? read(fds[0], cr, sizeof *cr) : -1;
    close(fds[0]);
    if (pid > 0) {
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
    }
    return n == (ssize_t)sizeof *cr ? 0 : -1;
}

typedef struct node_watch {
    zkd_client *c;
    int64_t czxid;
} node_watch;

static int node_gone(void *arg)
{
    node_watch *w = arg;
    zkd_stat st;
    return zkd_node_stat(w->c, PATH, &st, NULL) == ZKD_ENOTFOUND;
}

static void test_resume_keeps_the_node(void)
{
    zkd_session_credentials cr;
    CU_ASSERT_EQUAL_FATAL(run_and_kill_a(&cr), 0);
    CU_ASSERT_NOT_EQUAL(cr.id, 0);

    zkd_client *observer = tu_connect(zkh_connect_string(zk), 10000);
    zkd_stat before;
    CU_ASSERT_EQUAL_FATAL(zkd_node_stat(observer, PATH, &before, NULL), 0);
    CU_ASSERT_EQUAL(before.ephemeral_owner, cr.id);

    zkd_client *b = connect_resuming(&cr);
    tu_events ev;
    tu_events_subscribe(b, &ev);
    CU_ASSERT_EQUAL(zkd_client_resumed(b), 1);
    CU_ASSERT_EQUAL(zkd_client_session_id(b), cr.id);
    zkd_session_credentials again;
    CU_ASSERT_EQUAL(zkd_client_credentials(b, &again, NULL), 0);
    CU_ASSERT_EQUAL(again.id, cr.id);
    CU_ASSERT_EQUAL(memcmp(again.password, cr.password, sizeof cr.password), 0);

    /* B takes the registration over: adopted, not EEXISTS, not re-created. */
    zkd_instance_spec spec;
    spec_of(&spec);
    zkd_registration *r = NULL;
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_register(b, &spec, &r, &err), 0);

    /* Past the session timeout of the dead process, the node is still the
     * same node (never removed: same czxid), held by the resumed session. */
    int64_t until = tu_now_ms() + SESSION_MS * 3 / 2;
    int same = 1;
    while (same && tu_now_ms() < until) {
        zkd_stat st;
        same = zkd_node_stat(observer, PATH, &st, NULL) == 0 && st.czxid == before.czxid &&
               st.ephemeral_owner == cr.id;
        usleep(50 * 1000);
    }
    CU_ASSERT_TRUE(same);
    CU_ASSERT_EQUAL(tu_events_get(&ev, ZKD_SESSION_EXPIRED), 0);

    /* B owns it: its close removes it. */
    CU_ASSERT_EQUAL(zkd_registration_close(r, NULL), 0);
    node_watch w = {observer, 0};
    CU_ASSERT_TRUE(tu_wait_until(node_gone, &w, 5000));
    zkd_close(b);
    zkd_close(observer);
}

static void test_expired_credentials_give_a_new_session(void)
{
    zkd_session_credentials cr;
    CU_ASSERT_EQUAL_FATAL(run_and_kill_a(&cr), 0);
    zkd_client *observer = tu_connect(zkh_connect_string(zk), 10000);
    node_watch w = {observer, 0};
    CU_ASSERT_TRUE_FATAL(tu_wait_until(node_gone, &w, SESSION_MS * 3));

    zkd_client *b = connect_resuming(&cr);
    CU_ASSERT_EQUAL(zkd_client_state(b), ZKD_STATE_CONNECTED);
    CU_ASSERT_EQUAL(zkd_client_resumed(b), 0);
    CU_ASSERT_NOT_EQUAL(zkd_client_session_id(b), 0);
    CU_ASSERT_NOT_EQUAL(zkd_client_session_id(b), cr.id);
    zkd_session_credentials now;
    CU_ASSERT_EQUAL(zkd_client_credentials(b, &now, NULL), 0);
    CU_ASSERT_EQUAL(now.id, zkd_client_session_id(b));
    /* The new session works: it registers the instance anew. */
    zkd_instance_spec spec;
    spec_of(&spec);
    zkd_registration *r = NULL;
    CU_ASSERT_EQUAL(zkd_register(b, &spec, &r, NULL), 0);
    zkd_stat st;
    CU_ASSERT_EQUAL(zkd_node_stat(observer, PATH, &st, NULL), 0);
    CU_ASSERT_EQUAL(st.ephemeral_owner, zkd_client_session_id(b));
    zkd_registration_close(r, NULL);
    zkd_close(b);
    zkd_close(observer);
}

/* A wrong password for a live session is refused by the server like an
 * expired one: a new session, and the live one keeps its session. */
static void test_wrong_password(void)
{
    zkd_client *a = tu_connect(zkh_connect_string(zk), 10000);
    zkd_session_credentials cr;
    CU_ASSERT_EQUAL_FATAL(zkd_client_credentials(a, &cr, NULL), 0);
    cr.password[0] ^= 0x5a;
    zkd_client *b = connect_resuming(&cr);
    CU_ASSERT_EQUAL(zkd_client_resumed(b), 0);
    CU_ASSERT_NOT_EQUAL(zkd_client_session_id(b), cr.id);
    /* The server drops a's connection before it checks the password; a
     * reconnects into its own session, nothing lost. */
    CU_ASSERT_EQUAL(zkd_client_wait_connected(a, 10000, NULL), 0);
    CU_ASSERT_EQUAL(zkd_client_session_id(a), cr.id);
    zkd_close(b);
    zkd_close(a);
}

static void test_credentials_arguments(void)
{
    zkd_session_credentials cr;
    CU_ASSERT_EQUAL(zkd_client_credentials(NULL, &cr, NULL), ZKD_EINVAL);
    zkd_client *a = tu_connect(zkh_connect_string(zk), 10000);
    CU_ASSERT_EQUAL(zkd_client_credentials(a, NULL, NULL), ZKD_EINVAL);
    CU_ASSERT_EQUAL(zkd_client_resumed(a), 0);
    zkd_close(a);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"a killed process's session resumed: its node never removed",
         test_resume_keeps_the_node},
        {"expired credentials: a new session, resumed says 0",
         test_expired_credentials_give_a_new_session},
        {"a wrong password: a new session", test_wrong_password},
        {"credentials: arguments", test_credentials_arguments},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"session_resume", suite_init, suite_clean, NULL, NULL, tests},
                             CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
