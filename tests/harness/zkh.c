/* SPDX-License-Identifier: Apache-2.0 */
/* zkh.c - real ZooKeeper servers for the test suites (see zkh.h).
 *
 * Teardown has three layers, because a test that crashes or is killed must not leave JVMs
 * behind to hold ports and memory for the rest of the run:
 *   1. zkh_stop(), and an atexit handler that stops every handle still live;
 *   2. handlers for fatal and terminating signals that SIGKILL every registered pid using
 *      only async-signal-safe calls, then let the signal take its course;
 *   3. PR_SET_PDEATHSIG in each server, for when this process is killed by SIGKILL.
 */
#include "zkh.h"

#include "zkserver.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_START_TIMEOUT_MS 60000
#define RESTART_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS 15000
#define PROBE_TIMEOUT_MS 2000
#define POLL_INTERVAL_MS 100
#define MAX_PIDS 64

struct zkh {
    int n;
    zks_server srv[ZKH_MAX_SERVERS];
    char address[ZKH_MAX_SERVERS][32];
    char connect[ZKH_MAX_SERVERS * 32];
    zkh *next; /* in the list of live handles */
};

/* ---- registry of live servers ----------------------------------------------------------- */

/* Read by signal handlers, so plain sig_atomic_t slots rather than a locked structure. */
static volatile sig_atomic_t live_pids[MAX_PIDS];
static volatile sig_atomic_t registry_owner; /* pid of the process that started servers */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static zkh *live_handles;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static const int fatal_signals[] = { SIGINT, SIGTERM, SIGABRT, SIGSEGV, SIGBUS };
static struct sigaction previous_actions[NSIG];

static void register_pid(pid_t pid)
{
    pthread_mutex_lock(&registry_lock);
    int i = 0;
    while (i < MAX_PIDS && live_pids[i] != 0)
        i++;
    if (i < MAX_PIDS)
        live_pids[i] = pid;
    pthread_mutex_unlock(&registry_lock);
    if (i == MAX_PIDS) /* still covered by PR_SET_PDEATHSIG */
        fprintf(stderr, "zkh: more than %d live servers; pid %d is not registered\n",
                MAX_PIDS, (int)pid);
}

static void unregister_pid(pid_t pid)
{
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < MAX_PIDS; i++)
        if (live_pids[i] == pid)
            live_pids[i] = 0;
    pthread_mutex_unlock(&registry_lock);
}

/* After an operation that may have reaped server i, drop the pid it had before. */
static void forget_if_exited(zkh *h, int i, pid_t before)
{
    if (before > 0 && h->srv[i].pid != before)
        unregister_pid(before);
}

/* Async-signal-safe. A forked child (a test that forks) inherits the registry; only the
 * process that started the servers may kill them. */
static void kill_registered(void)
{
    if (getpid() != registry_owner)
        return;
    for (int i = 0; i < MAX_PIDS; i++)
        if (live_pids[i] > 0)
            kill((pid_t)live_pids[i], SIGKILL);
}

static void on_fatal_signal(int sig, siginfo_t *si, void *uctx)
{
    (void)uctx;
    kill_registered();
    sigaction(sig, &previous_actions[sig], NULL);
    /* A real fault re-executes the faulting instruction on return and meets the previous
     * disposition with the right siginfo; anything else is raised again. */
    if ((sig == SIGSEGV || sig == SIGBUS) && si && si->si_code > 0)
        return;
    raise(sig);
}

static void stop_all_at_exit(void)
{
    if (getpid() != registry_owner)
        return;
    for (;;) {
        pthread_mutex_lock(&registry_lock);
        zkh *h = live_handles;
        pthread_mutex_unlock(&registry_lock);
        if (!h)
            break;
        zkh_stop(h);
    }
}

static void install_teardown(void)
{
    registry_owner = getpid();
    atexit(stop_all_at_exit);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal_signal;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++) {
        int sig = fatal_signals[i];
        sigaction(sig, NULL, &previous_actions[sig]);
        if (previous_actions[sig].sa_handler != SIG_IGN) /* e.g. SIGINT in a background job */
            sigaction(sig, &sa, NULL);
    }
}

/* A process forked from one that used the harness inherits the registry, but the pids and
 * handles in it belong to the parent: start afresh so this process tears down its own. */
static void adopt_registry_after_fork(void)
{
    pthread_mutex_lock(&registry_lock);
    if (registry_owner != getpid()) {
        for (int i = 0; i < MAX_PIDS; i++)
            live_pids[i] = 0;
        live_handles = NULL;
        registry_owner = getpid();
    }
    pthread_mutex_unlock(&registry_lock);
}

static void list_add(zkh *h)
{
    pthread_mutex_lock(&registry_lock);
    h->next = live_handles;
    live_handles = h;
    pthread_mutex_unlock(&registry_lock);
}

/* Removes h from the live list; 0 if it was there, -1 if not (already stopped). */
static int list_take(zkh *h)
{
    int found = -1;
    pthread_mutex_lock(&registry_lock);
    for (zkh **p = &live_handles; *p; p = &(*p)->next)
        if (*p == h) {
            *p = h->next;
            found = 0;
            break;
        }
    pthread_mutex_unlock(&registry_lock);
    return found;
}

/* ---- small helpers ---------------------------------------------------------------------- */

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static int in_range(const zkh *h, int i)
{
    return h && i >= 0 && i < h->n;
}

static int bad_index(const zkh *h, int i, const char *what)
{
    fprintf(stderr, "zkh: %s: no server %d (the harness has %d)\n", what, i, h ? h->n : 0);
    return -1;
}

static int keep_dirs(void)
{
    const char *keep = getenv("ZKH_KEEP");
    return keep && *keep;
}

static int spawn_server(zkh *h, int i, char *err, size_t errlen)
{
    if (zks_spawn(&h->srv[i], ZKS_SPAWN_PDEATHSIG, err, errlen) != 0)
        return -1;
    register_pid(h->srv[i].pid);
    return 0;
}

static int wait_server(zkh *h, int i, int timeout_ms, char *err, size_t errlen)
{
    pid_t before = h->srv[i].pid;
    int rc = zks_wait_serving(&h->srv[i], h->n > 1, timeout_ms, err, errlen);
    forget_if_exited(h, i, before);
    return rc;
}

/* ---- starting --------------------------------------------------------------------------- */

static int make_dirs(zkh *h, const char *base, char *err, size_t errlen)
{
    for (int i = 0; i < h->n; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "zkh-%d-", i);
        if (zks_make_tempdir(base, prefix, h->srv[i].dir, sizeof h->srv[i].dir, err,
                             errlen) != 0)
            return -1;
    }
    return 0;
}

static int configure_all(zkh *h, char *err, size_t errlen)
{
    if (zks_assign_ports(h->srv, h->n, err, errlen) != 0)
        return -1;
    for (int i = 0; i < h->n; i++)
        if (zks_write_config(h->srv, h->n, i, err, errlen) != 0)
            return -1;
    return 0;
}

static int spawn_all(zkh *h, char *err, size_t errlen)
{
    for (int i = 0; i < h->n; i++)
        if (spawn_server(h, i, err, errlen) != 0)
            return -1;
    return 0;
}

static int fail_not_serving(const zkh *h, int i, int timeout_ms, const char *why, char *err,
                            size_t errlen)
{
    char tail[4096];
    zks_log_tail(h->srv[i].dir, 25, tail, sizeof tail);
    snprintf(err, errlen,
             "server %d (127.0.0.1:%d) did not serve within %d ms (last probe: %s); "
             "%s/server.log ends with:\n%s",
             i, h->srv[i].client_port, timeout_ms, why, h->srv[i].dir,
             tail[0] ? tail : "(empty)");
    return -1;
}

/* All servers at once, so that a member that dies while the others wait for a quorum is
 * reported with its own log instead of as a timeout of the others. */
static int wait_all_serving(zkh *h, int timeout_ms, char *err, size_t errlen)
{
    long long deadline = zks_now_ms() + timeout_ms;
    int serving[ZKH_MAX_SERVERS] = { 0 }, left = h->n;
    char why[ZKH_MAX_SERVERS][160];
    for (;;) {
        for (int i = 0; i < h->n; i++) {
            pid_t before = h->srv[i].pid;
            if (zks_check_running(&h->srv[i], err, errlen) != 0) {
                forget_if_exited(h, i, before);
                return -1;
            }
            if (!serving[i] && zks_probe_serving(&h->srv[i], h->n > 1, PROBE_TIMEOUT_MS,
                                                 why[i], sizeof why[i]) == 0) {
                serving[i] = 1;
                left--;
            }
        }
        if (left == 0)
            return 0;
        if (zks_now_ms() >= deadline)
            break;
        sleep_ms(POLL_INTERVAL_MS);
    }
    int i = 0;
    while (serving[i]) /* report the first that does not serve, with its log */
        i++;
    return fail_not_serving(h, i, timeout_ms, why[i], err, errlen);
}

static void format_addresses(zkh *h)
{
    size_t used = 0;
    for (int i = 0; i < h->n; i++) {
        snprintf(h->address[i], sizeof h->address[i], "127.0.0.1:%d", h->srv[i].client_port);
        used += (size_t)snprintf(h->connect + used, sizeof h->connect - used, "%s%s",
                                 i ? "," : "", h->address[i]);
    }
}

static int check_java(char *err, size_t errlen)
{
    char path[ZKS_PATH_MAX];
    if (zks_find_java(path, sizeof path, err, errlen) != 0 ||
        zks_find_jar(path, sizeof path, err, errlen) != 0)
        return -1;
    return 0;
}

/* Directories, ports, configs, processes, then the wait; h is torn down on failure. */
static int bring_up(zkh *h, const zkh_options *opts, char *err, size_t errlen)
{
    int timeout = opts->start_timeout_ms > 0 ? opts->start_timeout_ms : DEFAULT_START_TIMEOUT_MS;
    if (make_dirs(h, opts->base_dir, err, errlen) == 0 &&
        configure_all(h, err, errlen) == 0 && spawn_all(h, err, errlen) == 0 &&
        wait_all_serving(h, timeout, err, errlen) == 0) {
        format_addresses(h);
        return 0;
    }
    if (!keep_dirs()) {
        size_t len = strlen(err);
        snprintf(err + len, errlen - len, "\n(data dirs removed; ZKH_KEEP=1 keeps them)");
    }
    zkh_stop(h);
    return -1;
}

zkh *zkh_start_opts(const zkh_options *opts, char *err, size_t errlen)
{
    char scratch[64];
    if (!err || errlen == 0) {
        err = scratch;
        errlen = sizeof scratch;
    }
    int n = opts ? opts->nservers : 0;
    if (n < 1 || n > ZKH_MAX_SERVERS) {
        snprintf(err, errlen, "%d servers asked for; the harness runs 1 to %d", n,
                 ZKH_MAX_SERVERS);
        return NULL;
    }
    if (check_java(err, errlen) != 0)
        return NULL;
    pthread_once(&install_once, install_teardown);
    adopt_registry_after_fork();
    zkh *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->n = n;
    list_add(h); /* from here on, exit and signals tear it down */
    return bring_up(h, opts, err, errlen) == 0 ? h : NULL;
}

zkh *zkh_start(int nservers)
{
    char err[8192];
    zkh_options opts = { .nservers = nservers };
    zkh *h = zkh_start_opts(&opts, err, sizeof err);
    if (!h)
        fprintf(stderr, "zkh: cannot start %d ZooKeeper server%s: %s\n", nservers,
                nservers == 1 ? "" : "s", err);
    return h;
}

/* ---- accessors -------------------------------------------------------------------------- */

int zkh_count(const zkh *h)
{
    return h ? h->n : 0;
}

const char *zkh_connect_string(const zkh *h)
{
    return h ? h->connect : NULL;
}

const char *zkh_server_address(const zkh *h, int i)
{
    return in_range(h, i) ? h->address[i] : NULL;
}

int zkh_client_port(const zkh *h, int i)
{
    return in_range(h, i) ? h->srv[i].client_port : -1;
}

int zkh_index_of_port(const zkh *h, int port)
{
    for (int i = 0; h && i < h->n; i++)
        if (h->srv[i].client_port == port)
            return i;
    return -1;
}

const char *zkh_data_dir(const zkh *h, int i)
{
    return in_range(h, i) ? h->srv[i].dir : NULL;
}

pid_t zkh_pid(const zkh *h, int i)
{
    return in_range(h, i) ? h->srv[i].pid : 0;
}

/* ---- controlling one server ------------------------------------------------------------- */

int zkh_stop_server(zkh *h, int i)
{
    if (!in_range(h, i))
        return bad_index(h, i, "stop");
    char err[512];
    pid_t before = h->srv[i].pid;
    int rc = zks_stop(&h->srv[i], STOP_TIMEOUT_MS, err, sizeof err);
    forget_if_exited(h, i, before);
    if (rc != 0)
        fprintf(stderr, "zkh: stop server %d: %s\n", i, err);
    return rc;
}

int zkh_kill_server(zkh *h, int i)
{
    if (!in_range(h, i))
        return bad_index(h, i, "kill");
    char err[512];
    pid_t before = h->srv[i].pid;
    int rc = zks_kill(&h->srv[i], err, sizeof err);
    forget_if_exited(h, i, before);
    if (rc != 0)
        fprintf(stderr, "zkh: kill server %d: %s\n", i, err);
    return rc;
}

int zkh_restart_server(zkh *h, int i)
{
    if (!in_range(h, i))
        return bad_index(h, i, "restart");
    if (h->srv[i].pid > 0 && zkh_stop_server(h, i) != 0)
        return -1;
    char err[8192];
    if (spawn_server(h, i, err, sizeof err) != 0 ||
        wait_server(h, i, RESTART_TIMEOUT_MS, err, sizeof err) != 0) {
        fprintf(stderr, "zkh: restart server %d: %s\n", i, err);
        return -1;
    }
    return 0;
}

int zkh_wait_serving(zkh *h, int i, int timeout_ms)
{
    if (!in_range(h, i))
        return bad_index(h, i, "wait for");
    char err[8192];
    if (wait_server(h, i, timeout_ms, err, sizeof err) != 0) {
        fprintf(stderr, "zkh: %s\n", err);
        return -1;
    }
    return 0;
}

int zkh_leader(zkh *h)
{
    for (int i = 0; h && i < h->n; i++) {
        zks_mode mode;
        if (h->srv[i].pid <= 0 ||
            zks_server_mode("127.0.0.1", h->srv[i].client_port, PROBE_TIMEOUT_MS, &mode,
                            NULL, 0) != 0)
            continue;
        if (mode == ZKS_MODE_LEADER || (h->n == 1 && mode == ZKS_MODE_STANDALONE))
            return i;
    }
    return -1;
}

int zkh_wait_leader(zkh *h, int timeout_ms)
{
    long long deadline = zks_now_ms() + timeout_ms;
    for (;;) {
        int leader = zkh_leader(h);
        if (leader >= 0)
            return leader;
        if (zks_now_ms() >= deadline) {
            fprintf(stderr, "zkh: no leader elected within %d ms\n", timeout_ms);
            return -1;
        }
        sleep_ms(POLL_INTERVAL_MS);
    }
}

/* ---- teardown --------------------------------------------------------------------------- */

/* SIGTERM to all first, then wait: the JVMs shut down in parallel. */
static void stop_servers(zkh *h)
{
    char err[512];
    for (int i = 0; i < h->n; i++)
        if (zks_terminate(&h->srv[i], err, sizeof err) != 0)
            fprintf(stderr, "zkh: %s\n", err);
    long long deadline = zks_now_ms() + STOP_TIMEOUT_MS;
    for (int i = 0; i < h->n; i++) {
        pid_t before = h->srv[i].pid;
        long long left = deadline - zks_now_ms();
        if (zks_wait_exit(&h->srv[i], left > 0 ? (int)left : 0, NULL, 0) != 0 &&
            zks_kill(&h->srv[i], err, sizeof err) != 0)
            fprintf(stderr, "zkh: %s\n", err);
        forget_if_exited(h, i, before);
    }
}

static void remove_dirs(zkh *h)
{
    int keep = keep_dirs();
    char err[512];
    for (int i = 0; i < h->n; i++) {
        if (!h->srv[i].dir[0])
            continue;
        if (keep)
            fprintf(stderr, "zkh: ZKH_KEEP is set; server %d data left in %s\n", i,
                    h->srv[i].dir);
        else if (zks_remove_tree(h->srv[i].dir, err, sizeof err) != 0)
            fprintf(stderr, "zkh: %s\n", err);
    }
}

static void stop_handle(zkh *h)
{
    stop_servers(h);
    remove_dirs(h);
    free(h);
}

void zkh_stop(zkh *h)
{
    if (!h || list_take(h) != 0)
        return;
    stop_handle(h);
}
