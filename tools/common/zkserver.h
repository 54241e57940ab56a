/* SPDX-License-Identifier: Apache-2.0 */
/* zkserver.h - launch and probe a real ZooKeeper server on loopback.
 *
 * One implementation shared by `zkdisc dev` and the test harness. It knows how to find java
 * and the ZooKeeper jar, pick free loopback ports, write a zoo.cfg for a standalone server
 * or an ensemble member, start the server as a child process, wait until it serves, talk the
 * four-letter-word protocol, and stop or kill it.
 *
 * Conventions: functions return 0 on success and -1 on failure; when they take
 * `char *err, size_t errlen`, a failure leaves a message fit to show a person there (err may
 * be NULL). Nothing here binds or connects outside 127.0.0.0/8 unless the caller passes
 * another host to zks_4lw().
 *
 * Thread notes: zks_spawn() with ZKS_SPAWN_PDEATHSIG ties the server's life to the *thread*
 * that calls it (that is how PR_SET_PDEATHSIG works), so call it from a thread that lives as
 * long as the server should, normally the main thread.
 */
#ifndef ZKDISC_TOOLS_ZKSERVER_H
#define ZKDISC_TOOLS_ZKSERVER_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZKS_PATH_MAX 1024
#define ZKS_DEFAULT_JAR "/usr/share/java/zookeeper.jar"

/* ---- locating the pieces ---------------------------------------------------------------- */

/* The java launcher: $ZKDISC_JAVA (a path, or a name looked up on PATH), else `java` on
 * PATH. Writes an absolute path (or the path as given) to `out`. */
int zks_find_java(char *out, size_t outlen, char *err, size_t errlen);

/* The ZooKeeper server jar: $ZKDISC_ZOOKEEPER_JAR, else /usr/share/java/zookeeper.jar. */
int zks_find_jar(char *out, size_t outlen, char *err, size_t errlen);

/* ---- ports ------------------------------------------------------------------------------ */

/* One free TCP port on 127.0.0.1 (bind port 0, read it back, close). */
int zks_free_port(int *port, char *err, size_t errlen);

/* One port free on 127.0.0.1 for both TCP and UDP (a DNS server listens on
 * both): a free TCP port, held while the same UDP port is tried. */
int zks_free_tcp_udp_port(int *port, char *err, size_t errlen);

/* `n` distinct free ports: every socket is held open until all are picked, so the kernel
 * cannot hand the same port out twice. */
int zks_free_ports(int *ports, int n, char *err, size_t errlen);

/* ---- one server ------------------------------------------------------------------------- */

/* A server this process manages. `dir` holds zoo.cfg, myid, data/ and server.log. */
typedef struct zks_server {
    int id;                 /* ensemble member id 1..n; 0 for a standalone server */
    int client_port;
    int quorum_port;        /* ensemble members only */
    int election_port;      /* ensemble members only */
    char dir[ZKS_PATH_MAX];
    pid_t pid;              /* > 0 while running (as far as we know); 0 otherwise */
    int exit_status;        /* waitpid() status of the last exit we reaped; -1 if unknown */
} zks_server;

/* Fills ids and ports of servers[0..n-1]: n == 1 is standalone (id 0, client port only);
 * n > 1 is an ensemble (ids 1..n, three distinct ports each). `dir` and `pid` are left
 * alone. */
int zks_assign_ports(zks_server *servers, int n, char *err, size_t errlen);

/* Writes servers[i].dir/zoo.cfg (and, for an ensemble, myid) for member i of servers[0..n-1],
 * creating servers[i].dir/data. tickTime is 500 ms and session timeouts from 1 s to 60 s are
 * accepted; everything listens on 127.0.0.1 only; the admin server is off; all four-letter
 * words are allowed. */
int zks_write_config(const zks_server *servers, int n, int i, char *err, size_t errlen);

enum {
    /* The server gets SIGKILL when the calling thread dies, even if the caller is killed by
     * SIGKILL and cannot clean up. */
    ZKS_SPAWN_PDEATHSIG = 1 << 0,
};

/* Starts `java ... QuorumPeerMain srv->dir/zoo.cfg` in its own process group, with stdout
 * and stderr appended to srv->dir/server.log, and sets srv->pid. Does not wait for it to
 * serve (see zks_wait_serving). */
int zks_spawn(zks_server *srv, int flags, char *err, size_t errlen);

/* 1 if srv's process has exited (it is reaped, srv->pid becomes 0, srv->exit_status is set),
 * 0 if it still runs, -1 on error. Works for a pid that is not our child by probing with
 * kill(pid, 0), in which case exit_status stays -1. */
int zks_poll_exit(zks_server *srv);

/* 0 while srv's process runs; once it has exited, -1 with how it ended and the tail of its
 * server.log in the message (use this to notice a server that died while starting). */
int zks_check_running(zks_server *srv, char *err, size_t errlen);

/* One probe within timeout_ms, no retry: 0 if srv answers `ruok` with `imok` and `srvr`
 * reports a serving mode (standalone, or when `ensemble` is non-zero leader, follower or
 * observer); else -1 with a short reason in `why`. */
int zks_probe_serving(const zks_server *srv, int ensemble, int timeout_ms, char *why,
                      size_t whylen);

/* Polls (zks_probe_serving) until srv serves; fails at the deadline, or as soon as the
 * process exits, with the tail of server.log in the message. */
int zks_wait_serving(zks_server *srv, int ensemble, int timeout_ms, char *err, size_t errlen);

/* Sends SIGTERM (no wait). 0 if the signal was sent or the server is not running. */
int zks_terminate(zks_server *srv, char *err, size_t errlen);

/* Waits up to timeout_ms for srv to exit and reaps it. -1 (with a message) at the deadline. */
int zks_wait_exit(zks_server *srv, int timeout_ms, char *err, size_t errlen);

/* SIGTERM, wait up to timeout_ms, then SIGKILL and reap. 0 once the process is gone. */
int zks_stop(zks_server *srv, int timeout_ms, char *err, size_t errlen);

/* SIGKILL and reap. */
int zks_kill(zks_server *srv, char *err, size_t errlen);

/* The last `lines` lines of dir/server.log into out (NUL-terminated; empty if no log). */
void zks_log_tail(const char *dir, int lines, char *out, size_t outlen);

/* ---- four-letter words ------------------------------------------------------------------ */

/* Connects to host:port (within timeout_ms overall), sends `word` (e.g. "ruok", "srvr"),
 * reads the reply to EOF into out (NUL-terminated, truncated to fit). Returns 0, or -1 with
 * errno set (ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH, ...). */
int zks_4lw(const char *host, int port, const char *word, char *out, size_t outlen,
            int timeout_ms);

typedef enum zks_mode {
    ZKS_MODE_UNKNOWN = 0,   /* no reply, or a reply without a Mode line */
    ZKS_MODE_NOT_SERVING,   /* "This ZooKeeper instance is not currently serving requests" */
    ZKS_MODE_STANDALONE,
    ZKS_MODE_LEADER,
    ZKS_MODE_FOLLOWER,
    ZKS_MODE_OBSERVER,
} zks_mode;

/* The mode in the text of a `srvr` (or `stat`) reply. */
zks_mode zks_parse_mode(const char *srvr_reply);

/* "leader", "follower", ... ; never NULL. */
const char *zks_mode_name(zks_mode mode);

/* Asks host:port `srvr` and parses its mode. On a connection failure returns -1 with a
 * message; a reply without a mode is 0 with *mode = ZKS_MODE_UNKNOWN. */
int zks_server_mode(const char *host, int port, int timeout_ms, zks_mode *mode,
                    char *err, size_t errlen);

/* ---- housekeeping ----------------------------------------------------------------------- */

/* A new private directory "$TMPDIR/<prefix>XXXXXX" (TMPDIR unset: /tmp), or under `parent`
 * when it is non-NULL. */
int zks_make_tempdir(const char *parent, const char *prefix, char *out, size_t outlen,
                     char *err, size_t errlen);

/* rm -rf dir (does not follow symlinks). */
int zks_remove_tree(const char *dir, char *err, size_t errlen);

/* Milliseconds on the monotonic clock, for deadlines. */
long long zks_now_ms(void);

#ifdef __cplusplus
}
#endif
#endif
