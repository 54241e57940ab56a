/* SPDX-License-Identifier: Apache-2.0 */
/* The client: one ZooKeeper session that survives expiry.
 *
 * zkd_connect() opens a session and returns once it is connected (or fails
 * within the connect timeout). After a session expiry the client opens a new
 * session by itself, re-adds its credentials and tells its subscribers
 * ZKD_SESSION_REESTABLISHED exactly once, so registrations, caches and config
 * watches can be restored. A reconnect inside the same session is reported as
 * ZKD_SESSION_RECONNECTED and nothing needs restoring.
 *
 * Threads: the client runs one thread of its own, an event loop of jobs and
 * timers. Every callback the library makes (session events, cache, watch and
 * config listeners) runs on it, one at a time, never on the ZooKeeper
 * client's completion thread, and nothing on it waits for the network. A
 * callback may call any zkdisc function, including zkd_close() on its own
 * client; a synchronous call made from a callback fails at once with
 * ZKD_ECONNLOSS instead of waiting while disconnected. */
#ifndef ZKDISC_CLIENT_H
#define ZKDISC_CLIENT_H

#include <stdint.h>
#include <stddef.h>
#include <zkdisc/export.h>
#include <zkdisc/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zkd_client zkd_client;

typedef enum zkd_log_level {
    ZKD_LOG_OFF = 0,
    ZKD_LOG_ERROR = 1,
    ZKD_LOG_WARN = 2,
    ZKD_LOG_INFO = 3,
    ZKD_LOG_DEBUG = 4
} zkd_log_level;

/* Receives the library's log lines (no trailing newline). It may be called
 * from any thread, including ZooKeeper's; it must not block or call zkd_close. */
typedef void (*zkd_log_fn)(zkd_log_level level, const char *message, void *ctx);

/* A session's credentials (ZooKeeper's clientid_t): enough to resume the
 * session from another process while it is alive, so that its ephemeral
 * nodes stay. The password is a secret: whoever holds both can take the
 * session over. Store them where only their owner can read them. */
#define ZKD_SESSION_PASSWORD_LEN 16
typedef struct zkd_session_credentials {
    int64_t id; /* 0: none */
    char password[ZKD_SESSION_PASSWORD_LEN];
} zkd_session_credentials;

typedef struct zkd_options {
    const char *connect;     /* "host:port[,host:port...][/chroot]"; default "127.0.0.1:2181".
                              * Host names are resolved while there is no connection and at
                              * most once a minute while there is one */
    const char *root;        /* zkdisc's base path inside the chroot; default "/zkdisc" */
    int session_timeout_ms;  /* asked of the server, which may clamp it; default 10000 */
    int connect_timeout_ms;  /* how long zkd_connect waits for a session; default 5000 */
    int request_timeout_ms;  /* how long a synchronous call waits for an answer (a batch: for
                              * its next one); default 10000 */
    const char *auth;        /* digest credentials "user:password", or NULL; never logged */
    const char *auth_file;   /* or a file holding them (zkd_auth_file_read); not with auth */
    zkd_log_level log_level; /* default ZKD_LOG_WARN */
    zkd_log_fn log_fn;       /* NULL: lines go to stderr prefixed "zkdisc: " */
    void *log_ctx;
    /* The ZooKeeper C client's own log, to stderr. It is process-wide (the C
     * client has one level for all handles). Default ZKD_LOG_OFF: zkdisc
     * reports what matters itself, without the client's per-retry noise. */
    zkd_log_level zk_log_level;
    /* Non-zero: zkd_connect returns at once with the client connecting in
     * the background, for a process that must start while ZooKeeper is down
     * (caches and config watches serve their snapshots meanwhile). */
    int connect_in_background;
    /* A directory where the library keeps the last state it saw (config
     * versions of watched apps, instances of cached services) to serve
     * while ZooKeeper is unreachable; NULL: none. "" is refused. */
    const char *snapshot_dir;
    /* A session to resume (copied; NULL or id 0: open a new one), saved
     * earlier with zkd_client_credentials, for a process that restarts
     * within the session timeout and must keep its ephemeral nodes. When
     * the server no longer knows it (expired, or a wrong password) the
     * client opens a new session as if none had been given, logs it at
     * WARN, and zkd_client_resumed() says 0. Either way the first event is
     * ZKD_SESSION_CONNECTED. Nodes the resumed session holds are adopted by
     * zkd_register of the same service/id (see registry.h). */
    const zkd_session_credentials *resume;
} zkd_options;

/* Reads digest credentials "user:password" from the first line of `path`
 * into *out (malloc'd; wipe and free it). The file must be a regular file
 * that neither group nor others may read or write (mode 0600 or 0400):
 * ZKD_EINVAL with a message naming the file and its mode otherwise; ZKD_EIO
 * when it cannot be read. Messages never quote the file's content. */
ZKD_EXPORT int zkd_auth_file_read(const char *path, char **out, zkd_error *err);

/* Fills `opts` with the defaults above. Call it before setting fields. */
ZKD_EXPORT void zkd_options_init(zkd_options *opts);

/* Opens a session. Strings in `opts` are copied. On success *out owns the
 * client (release it with zkd_close). Returns ZKD_ETIMEDOUT, with a message
 * naming the hosts, when no server answers within connect_timeout_ms;
 * ZKD_EINVAL for bad options; ZKD_EAUTHFAILED when credentials are rejected. */
ZKD_EXPORT int zkd_connect(const zkd_options *opts, zkd_client **out, zkd_error *err);

/* Closes the session (its ephemeral nodes go with it) and frees the client.
 * Safe from any thread and from inside a zkdisc callback; from a callback the
 * teardown finishes after the callback returns. `c` is invalid afterwards.
 * NULL is ignored.
 *
 * Objects still open on the client (caches, watches, config watches,
 * registrations, balancers) stop: their listeners are not called again,
 * registrations' nodes go with the session, and their calls fail with
 * ZKD_ECLOSED. Each must still be closed exactly once with its own close
 * function, before or after zkd_close, from any thread; its memory returns
 * then (the client's own memory returns when the last of them is closed). */
ZKD_EXPORT void zkd_close(zkd_client *c);

/* The library's version, "MAJOR.MINOR.PATCH", as built (which may differ
 * from ZKD_VERSION_STRING in the headers a program was compiled with). */
ZKD_EXPORT const char *zkd_version(void);

typedef enum zkd_state {
    ZKD_STATE_CONNECTING = 0, /* no session yet, or opening a new one after expiry */
    ZKD_STATE_CONNECTED = 1,
    ZKD_STATE_SUSPENDED = 2,  /* connection lost; the session may still be alive */
    ZKD_STATE_EXPIRED = 3,    /* the session is gone; a new one is on its way */
    ZKD_STATE_CLOSED = 4      /* closed, or credentials rejected: no new session */
} zkd_state;

ZKD_EXPORT zkd_state zkd_client_state(const zkd_client *c);
ZKD_EXPORT const char *zkd_state_name(zkd_state s);

typedef enum zkd_session_event {
    ZKD_SESSION_CONNECTED = 1,     /* the first session is connected */
    ZKD_SESSION_SUSPENDED = 2,     /* connection lost, session may be alive */
    ZKD_SESSION_RECONNECTED = 3,   /* connection back, same session: nothing lost */
    ZKD_SESSION_EXPIRED = 4,       /* session gone: ephemerals and watches dropped */
    ZKD_SESSION_REESTABLISHED = 5, /* a new session after expiry is connected: restore now */
    ZKD_SESSION_AUTH_FAILED = 6    /* credentials rejected: the client stops */
} zkd_session_event;

ZKD_EXPORT const char *zkd_session_event_name(zkd_session_event ev);

typedef void (*zkd_session_fn)(zkd_client *c, zkd_session_event ev, void *ctx);

/* Calls `fn` on the dispatch thread for every session event from now on.
 * *id_out (optional) identifies the subscription for zkd_session_unsubscribe. */
ZKD_EXPORT int zkd_session_subscribe(zkd_client *c, zkd_session_fn fn, void *ctx, int *id_out,
                                     zkd_error *err);

/* After it returns, `fn` is not called again for this subscription (unless
 * an event is being delivered on another thread right now, which cannot
 * happen when called from a zkdisc callback). */
ZKD_EXPORT int zkd_session_unsubscribe(zkd_client *c, int id);

/* The current session id (0 when there is none). */
ZKD_EXPORT int64_t zkd_client_session_id(const zkd_client *c);

/* Copies the current session's credentials into *out (to resume it later
 * with options.resume; nothing in them is owned). Returns ZKD_EEXPIRED
 * (*out zeroed) while the client has no session (not connected yet, or
 * opening a new one after an expiry); ZKD_EINVAL when c or out is NULL.
 * The credentials change after an expiry: save them again on
 * ZKD_SESSION_REESTABLISHED. */
ZKD_EXPORT int zkd_client_credentials(zkd_client *c, zkd_session_credentials *out, zkd_error *err);

/* 1 when the current session is the one options.resume named (resumed and
 * still the client's session), 0 when none was named, when the saved
 * session had expired and a new one was opened instead, or after a later
 * expiry. Meaningful once connected. */
ZKD_EXPORT int zkd_client_resumed(const zkd_client *c);

/* Writes "host:port" of the server the session is connected to into buf;
 * returns ZKD_ETIMEDOUT (buf "") when not connected. */
ZKD_EXPORT int zkd_client_server(zkd_client *c, char *buf, size_t len);

/* The root path ("/zkdisc") and connect string; owned by the client. */
ZKD_EXPORT const char *zkd_client_root(const zkd_client *c);
ZKD_EXPORT const char *zkd_client_connect_string(const zkd_client *c);

/* Blocks until the session is connected or `timeout_ms` passes
 * (ZKD_ETIMEDOUT). Not from a zkdisc callback. */
ZKD_EXPORT int zkd_client_wait_connected(zkd_client *c, int timeout_ms, zkd_error *err);

#ifdef __cplusplus
}
#endif
#endif
