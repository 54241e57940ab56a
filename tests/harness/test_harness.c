/* SPDX-License-Identifier: Apache-2.0 */
/* test_harness.c - the harness tests itself against real ZooKeeper servers. */
#include "zkh.h"
#include "zkserver.h"

#include <CUnit/Basic.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GONE_TIMEOUT_MS 15000
#define ELECTION_TIMEOUT_MS 60000

/* ---- helpers ---------------------------------------------------------------------------- */

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int is_zombie(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return p && (p[2] == 'Z' || p[2] == 'X');
}

/* Gone, or a zombie nobody reaps (an orphan under an init that does not reap). */
static int process_gone(pid_t pid)
{
    return (kill(pid, 0) == -1 && errno == ESRCH) || is_zombie(pid);
}

static int wait_gone(pid_t pid, int timeout_ms)
{
    long long deadline = zks_now_ms() + timeout_ms;
    while (!process_gone(pid)) {
        if (zks_now_ms() >= deadline)
            return 0;
        sleep_ms(20);
    }
    return 1;
}

/* Whether a live process has `needle` in its command line (the java servers have their
 * data dir there, in the path of zoo.cfg). */
static int process_with_arg(const char *needle)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int found = 0;
    while (d && !found && (e = readdir(d)) != NULL) {
        char path[300], buf[8192];
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        for (size_t i = 0; i < n; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        buf[n] = '\0';
        found = strstr(buf, needle) != NULL && !is_zombie(atoi(e->d_name));
    }
    if (d)
        closedir(d);
    return found;
}

static int answers_ruok(int port)
{
    char reply[64];
    return zks_4lw("127.0.0.1", port, "ruok", reply, sizeof reply, 5000) == 0 &&
           strcmp(reply, "imok") == 0;
}

static zks_mode mode_of(zkh *h, int i)
{
    zks_mode mode = ZKS_MODE_UNKNOWN;
    zks_server_mode("127.0.0.1", zkh_client_port(h, i), 5000, &mode, NULL, 0);
    return mode;
}

static int path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- unit tests without a server -------------------------------------------------------- */

static void test_parse_mode(void)
{
    CU_ASSERT_EQUAL(zks_parse_mode("Zookeeper version: 3.8.0\nMode: leader\nNode count: 5\n"),
                    ZKS_MODE_LEADER);
    CU_ASSERT_EQUAL(zks_parse_mode("Latency min/avg/max: 0/0.0/0\nMode: follower\n"),
                    ZKS_MODE_FOLLOWER);
    CU_ASSERT_EQUAL(zks_parse_mode("Mode: standalone\n"), ZKS_MODE_STANDALONE);
    CU_ASSERT_EQUAL(zks_parse_mode("Mode: observer\r\n"), ZKS_MODE_OBSERVER);
    CU_ASSERT_EQUAL(zks_parse_mode("This ZooKeeper instance is not currently serving requests\n"),
                    ZKS_MODE_NOT_SERVING);
    CU_ASSERT_EQUAL(zks_parse_mode("Mode: leaderish\n"), ZKS_MODE_UNKNOWN);
    CU_ASSERT_EQUAL(zks_parse_mode("XMode: leader\n"), ZKS_MODE_UNKNOWN);
    CU_ASSERT_EQUAL(zks_parse_mode(""), ZKS_MODE_UNKNOWN);
    CU_ASSERT_EQUAL(zks_parse_mode(NULL), ZKS_MODE_UNKNOWN);
    CU_ASSERT_STRING_EQUAL(zks_mode_name(ZKS_MODE_FOLLOWER), "follower");
}

static void test_4lw_refused(void)
{
    int port;
    char reply[64], err[256];
    CU_ASSERT_EQUAL_FATAL(zks_free_port(&port, err, sizeof err), 0);
    CU_ASSERT(port > 0 && port < 65536);
    CU_ASSERT_EQUAL(zks_4lw("127.0.0.1", port, "ruok", reply, sizeof reply, 2000), -1);
    CU_ASSERT_EQUAL(errno, ECONNREFUSED);
}

/* Runs fn with the environment variable name set to value (NULL: unset), then restores it. */
static void with_env(const char *name, const char *value, void (*fn)(void))
{
    const char *old = getenv(name);
    char *saved = old ? strdup(old) : NULL;
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
    fn();
    if (saved)
        setenv(name, saved, 1);
    else
        unsetenv(name);
    free(saved);
}

static void check_jar_missing(void)
{
    char path[ZKS_PATH_MAX], err[512];
    CU_ASSERT_EQUAL(zks_find_jar(path, sizeof path, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/zookeeper.jar"));
    CU_ASSERT_PTR_NULL(zkh_start(1)); /* fails before spawning anything */
}

static void check_java_override_missing(void)
{
    char path[ZKS_PATH_MAX], err[512];
    CU_ASSERT_EQUAL(zks_find_java(path, sizeof path, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "ZKDISC_JAVA"));
}

static void check_java_not_on_path(void)
{
    char path[ZKS_PATH_MAX], err[512];
    CU_ASSERT_EQUAL(zks_find_java(path, sizeof path, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "apt-get install zookeeper"));
}

static void check_java_without_override(void)
{
    with_env("PATH", "/nonexistent", check_java_not_on_path);
}

static void test_missing_java_is_explained(void)
{
    with_env("ZKDISC_ZOOKEEPER_JAR", "/nonexistent/zookeeper.jar", check_jar_missing);
    with_env("ZKDISC_JAVA", "/nonexistent/java", check_java_override_missing);
    with_env("ZKDISC_JAVA", NULL, check_java_without_override);
}

/* ---- a standalone server ---------------------------------------------------------------- */

static void test_standalone(void)
{
    zkh *h = zkh_start(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    int port = zkh_client_port(h, 0);
    char expect[64];
    snprintf(expect, sizeof expect, "127.0.0.1:%d", port);
    CU_ASSERT_EQUAL(zkh_count(h), 1);
    CU_ASSERT_STRING_EQUAL(zkh_connect_string(h), expect);
    CU_ASSERT_STRING_EQUAL(zkh_server_address(h, 0), expect);
    CU_ASSERT_PTR_NULL(zkh_server_address(h, 1));
    CU_ASSERT_EQUAL(zkh_index_of_port(h, port), 0);
    CU_ASSERT_EQUAL(zkh_index_of_port(h, port + 1), -1);
    CU_ASSERT(answers_ruok(port));
    CU_ASSERT_EQUAL(mode_of(h, 0), ZKS_MODE_STANDALONE);
    CU_ASSERT_EQUAL(zkh_leader(h), 0);
    CU_ASSERT_EQUAL(zkh_wait_leader(h, 1000), 0);
    zkh_stop(h);
}

static void test_stop_restart_same_port(void)
{
    zkh *h = zkh_start(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    int port = zkh_client_port(h, 0);
    char dir[ZKS_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", zkh_data_dir(h, 0));
    pid_t first = zkh_pid(h, 0);
    CU_ASSERT_EQUAL(zkh_stop_server(h, 0), 0);
    CU_ASSERT_EQUAL(zkh_pid(h, 0), 0);
    CU_ASSERT(process_gone(first));
    CU_ASSERT(!answers_ruok(port));
    CU_ASSERT_EQUAL(zkh_leader(h), -1);
    CU_ASSERT_EQUAL(zkh_restart_server(h, 0), 0);
    CU_ASSERT_EQUAL(zkh_client_port(h, 0), port);
    CU_ASSERT_STRING_EQUAL(zkh_data_dir(h, 0), dir);
    CU_ASSERT(zkh_pid(h, 0) > 0 && zkh_pid(h, 0) != first);
    CU_ASSERT(answers_ruok(port));
    CU_ASSERT_EQUAL(zkh_wait_serving(h, 0, 5000), 0);
    CU_ASSERT_EQUAL(zkh_kill_server(h, 0), 0);
    CU_ASSERT(!answers_ruok(port));
    CU_ASSERT_EQUAL(zkh_restart_server(h, 0), 0);
    CU_ASSERT(answers_ruok(port));
    zkh_stop(h);
    CU_ASSERT(!path_exists(dir));
}

/* ---- an ensemble ------------------------------------------------------------------------ */

static void test_ensemble_failover(void)
{
    zkh *h = zkh_start(3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    CU_ASSERT_EQUAL(zkh_count(h), 3);
    int leader = zkh_wait_leader(h, ELECTION_TIMEOUT_MS);
    CU_ASSERT_FATAL(leader >= 0 && leader < 3);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(mode_of(h, i), i == leader ? ZKS_MODE_LEADER : ZKS_MODE_FOLLOWER);

    pid_t old = zkh_pid(h, leader);
    CU_ASSERT_EQUAL(zkh_kill_server(h, leader), 0);
    CU_ASSERT(process_gone(old));
    int next = zkh_wait_leader(h, ELECTION_TIMEOUT_MS);
    CU_ASSERT(next >= 0 && next != leader);

    CU_ASSERT_EQUAL(zkh_restart_server(h, leader), 0);
    CU_ASSERT_EQUAL(mode_of(h, leader), ZKS_MODE_FOLLOWER);
    CU_ASSERT_EQUAL(zkh_leader(h), next);
    zkh_stop(h);
}

/* zkh_stop leaves no server process and no data dir behind, and is safe to repeat. */
static void test_teardown(void)
{
    zkh *h = zkh_start(3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    pid_t pids[3];
    char dirs[3][ZKS_PATH_MAX];
    for (int i = 0; i < 3; i++) {
        pids[i] = zkh_pid(h, i);
        snprintf(dirs[i], sizeof dirs[i], "%s", zkh_data_dir(h, i));
        CU_ASSERT(process_with_arg(dirs[i]));
    }
    zkh_stop(h);
    zkh_stop(h); /* already stopped: a no-op */
    zkh_stop(NULL);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT(kill(pids[i], 0) == -1 && errno == ESRCH);
        CU_ASSERT(!process_with_arg(dirs[i]));
        CU_ASSERT(!path_exists(dirs[i]));
    }
}

struct started {
    pid_t pid;
    char dir[ZKS_PATH_MAX];
};

/* Forks a child that starts a standalone server, reports its pid and data dir, and then dies
 * by `how` (which leaves the data dir behind). Returns the server's pid (0 if the child could
 * not start one); *status gets the child's wait status. */
static pid_t server_of_dying_child(void (*how)(void), int *status, char *dir, size_t dirlen)
{
    int p[2];
    struct started s = { 0 };
    if (pipe(p) != 0)
        return 0;
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        close(p[0]);
        zkh *h = zkh_start(1);
        if (h) {
            s.pid = zkh_pid(h, 0);
            snprintf(s.dir, sizeof s.dir, "%s", zkh_data_dir(h, 0));
        }
        if (write(p[1], &s, sizeof s) != sizeof s)
            _exit(1);
        how();
        _exit(1);
    }
    close(p[1]);
    if (child < 0 || read(p[0], &s, sizeof s) != sizeof s)
        s.pid = 0;
    close(p[0]);
    if (child > 0)
        waitpid(child, status, 0);
    snprintf(dir, dirlen, "%s", s.dir);
    return s.pid;
}

static void check_gone_and_clean(pid_t server, const char *dir)
{
    CU_ASSERT(wait_gone(server, GONE_TIMEOUT_MS));
    CU_ASSERT(!process_with_arg(dir));
    if (dir[0])
        zks_remove_tree(dir, NULL, 0);
}

static void die_by_sigkill(void)
{
    raise(SIGKILL);
}

static void die_by_abort(void)
{
    struct rlimit none = { 0, 0 }; /* no core file */
    setrlimit(RLIMIT_CORE, &none);
    abort();
}

/* A test process killed by SIGKILL (no atexit, no handler) still leaves no server: the
 * kernel kills it (PR_SET_PDEATHSIG). */
static void test_sigkilled_owner_leaves_nothing(void)
{
    int status = 0;
    char dir[ZKS_PATH_MAX];
    pid_t server = server_of_dying_child(die_by_sigkill, &status, dir, sizeof dir);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CU_ASSERT_FATAL(server > 0);
    check_gone_and_clean(server, dir);
}

/* A crash (SIGABRT) kills the servers from the signal handler and still dies of SIGABRT. */
static void test_aborted_owner_leaves_nothing(void)
{
    int status = 0;
    char dir[ZKS_PATH_MAX];
    pid_t server = server_of_dying_child(die_by_abort, &status, dir, sizeof dir);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    CU_ASSERT_FATAL(server > 0);
    check_gone_and_clean(server, dir);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("harness", NULL, NULL);
    if (!s || !CU_add_test(s, "parse srvr mode", test_parse_mode) ||
        !CU_add_test(s, "4lw to a closed port is refused", test_4lw_refused) ||
        !CU_add_test(s, "missing java or jar is explained", test_missing_java_is_explained) ||
        !CU_add_test(s, "standalone serves", test_standalone) ||
        !CU_add_test(s, "stop and restart keep the port", test_stop_restart_same_port) ||
        !CU_add_test(s, "ensemble fails over and rejoins", test_ensemble_failover) ||
        !CU_add_test(s, "teardown leaves nothing", test_teardown) ||
        !CU_add_test(s, "SIGKILLed owner leaves no server", test_sigkilled_owner_leaves_nothing) ||
        !CU_add_test(s, "aborted owner leaves no server", test_aborted_owner_leaves_nothing)) {
        CU_cleanup_registry();
        return CU_get_error();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
