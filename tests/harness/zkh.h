/* SPDX-License-Identifier: Apache-2.0 */
/* zkh.h - real ZooKeeper servers for the test suites.
 *
 * zkh_start() launches a standalone server or a loopback ensemble, each server with free
 * ports and its own temporary data directory, and returns once they serve. Servers never
 * outlive the test process: zkh_stop() stops them; at exit, and on SIGINT, SIGTERM, SIGABRT,
 * SIGSEGV and SIGBUS, every live server is killed; and each server gets SIGKILL from the
 * kernel when the thread that started it dies (even by SIGKILL), so start and restart servers
 * from the main thread.
 *
 * Data directories are removed by zkh_stop() unless the environment has ZKH_KEEP set, in
 * which case they are kept and their paths printed on stderr (each has server.log).
 *
 * Functions returning int return 0 on success and -1 on failure, after printing why on
 * stderr, except where noted. Not thread-safe per handle.
 */
#ifndef ZKDISC_TESTS_ZKH_H
#define ZKDISC_TESTS_ZKH_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZKH_MAX_SERVERS 9

/* A single server or an ensemble started by the harness. */
typedef struct zkh zkh;

/* 1 = standalone, 3 or 5 (any 1..ZKH_MAX_SERVERS) = ensemble. Waits until every server
 * serves (an ensemble: a leader is elected and the others follow). NULL, after printing why
 * on stderr, on failure. */
zkh *zkh_start(int nservers);

/* A suite's own server (or ensemble) through CUnit's hooks: declares `static zkh *zk`,
 * started by suite_init() with `nservers` and stopped by suite_clean(). */
#define ZKH_SUITE(nservers)                                                                    \
    static zkh *zk;                                                                            \
    static int suite_init(void)                                                                \
    {                                                                                          \
        zk = zkh_start(nservers);                                                              \
        return zk ? 0 : 1;                                                                     \
    }                                                                                          \
    static int suite_clean(void)                                                               \
    {                                                                                          \
        zkh_stop(zk);                                                                          \
        zk = NULL;                                                                             \
        return 0;                                                                              \
    }

typedef struct zkh_options {
    int nservers;
    const char *base_dir;   /* parent of the data dirs; NULL: $TMPDIR, else /tmp */
    int start_timeout_ms;   /* for all servers to serve; 0: 60000 */
} zkh_options;

/* zkh_start() with options; on failure fills err (if non-NULL) instead of printing. */
zkh *zkh_start_opts(const zkh_options *opts, char *err, size_t errlen);

int zkh_count(const zkh *h);

/* "127.0.0.1:p0,127.0.0.1:p1,..." (owned by h). */
const char *zkh_connect_string(const zkh *h);

/* "127.0.0.1:pi" (owned by h); NULL when i is out of range. */
const char *zkh_server_address(const zkh *h, int i);

/* The client port of server i; -1 when i is out of range. */
int zkh_client_port(const zkh *h, int i);

/* Index of the server listening on `port`; -1 if none. */
int zkh_index_of_port(const zkh *h, int port);

/* The data directory of server i (holds zoo.cfg, data/, server.log); NULL out of range. */
const char *zkh_data_dir(const zkh *h, int i);

/* The pid of server i while it runs, else 0. */
pid_t zkh_pid(const zkh *h, int i);

/* Graceful stop: SIGTERM, waits for the exit (SIGKILL after 15 s). */
int zkh_stop_server(zkh *h, int i);

/* SIGKILL, and reaps. */
int zkh_kill_server(zkh *h, int i);

/* Starts server i again with the same ports and data dir (stopping it first if it runs) and
 * waits until it serves (in an ensemble: as leader or follower, which needs a quorum). */
int zkh_restart_server(zkh *h, int i);

/* Waits up to timeout_ms until server i answers ruok and srvr reports it serving (in an
 * ensemble: as leader or follower). */
int zkh_wait_serving(zkh *h, int i, int timeout_ms);

/* Index of the server that answers `srvr` as leader (a standalone server counts when
 * nservers == 1); -1 if none does. Prints nothing. */
int zkh_leader(zkh *h);

/* Index of the leader once one is elected; -1 (printing why) at the timeout. */
int zkh_wait_leader(zkh *h, int timeout_ms);

/* Stops every server, removes the data dirs (unless ZKH_KEEP), frees h. NULL, or a handle
 * already stopped, is a no-op. */
void zkh_stop(zkh *h);

#ifdef __cplusplus
}
#endif
#endif
