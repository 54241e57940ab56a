/* SPDX-License-Identifier: Apache-2.0 */
/* Centralized configuration: one JSON document per app, under versioned
 * znodes.
 *
 * The tree (DESIGN.md sections 3 and 6):
 *
 *   <root>/config/<app>                         PERSISTENT, the current version
 *   <root>/config/<app>/versions                PERSISTENT, parent of the versions
 *   <root>/config/<app>/versions/<NNNNNNNNNN>   PERSISTENT, one immutable copy per
 *                                               retained version (10 digits)
 *
 * The app node and every version node hold the same envelope, compact JSON:
 *
 *   {"version":3,"time":1718000000000,"author":"alice","message":"pool 20",
 *    "checksum":"sha256:<64 hex digits>","size":57,"document":{...}}
 *
 *   version   1, 2, 3 ... per app, never reused while the app exists
 *   time      ms since the epoch, the publisher's clock
 *   author    who published (see zkd_config_publish_opts.author)
 *   message   free text, may be empty
 *   checksum  SHA-256 of the document in canonical form (compact, keys
 *             sorted, numbers written exactly): equal content, equal checksum
 *   size      bytes of the document as stored (compact JSON)
 *
 * Publishing is one zoo_multi: check the app node's Stat version (the one the
 * publisher read), set the app node to the new envelope, create the version
 * node, and delete the versions beyond the retention limit. Either all of it
 * happens or none. The first publish creates the app node, `versions` and
 * version 1 in one transaction. Version nodes are created with the ACL
 * world:anyone:r, so nobody can rewrite one; they are only ever deleted
 * (retention, zkd_config_delete).
 *
 * Documents: the top level is a JSON object. Integers are 64-bit and exact,
 * other numbers IEEE doubles written so they read back bit for bit. A
 * publish writes the envelope twice in one request and ZooKeeper refuses a
 * request over jute.maxbuffer (1 MiB less a byte by default), so a stored
 * envelope is limited to ZKD_CONFIG_MAX_STORED bytes; a larger one is refused
 * with ZKD_ETOOBIG before anything is sent.
 *
 * Ownership: strings passed in are copied or only read during the call.
 * Whatever the library hands out says how to release it: zkd_config_version
 * is reference-counted and immutable (safe to share between threads);
 * char * results are malloc'd, released with zkd_free. */
#ifndef ZKDISC_CONFIG_H
#define ZKDISC_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <zkdisc/export.h>
#include <zkdisc/error.h>
#include <zkdisc/client.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest stored envelope (metadata plus compact document), in bytes:
 * two of them must fit in one request of at most 1 MiB. */
#define ZKD_CONFIG_MAX_STORED (500 * 1024)

/* Versions kept per app when a publish does not say otherwise. */
#define ZKD_CONFIG_DEFAULT_RETAIN 100

/* if_version: publish whatever the current version is. */
#define ZKD_CONFIG_ANY_VERSION (-1)

/* ---- documents: parsing, converting, rendering -------------------------- */

typedef enum zkd_config_format {
    ZKD_CONFIG_JSON = 0,         /* indented JSON (two spaces) when rendering */
    ZKD_CONFIG_LIBCONFIG = 1,    /* libconfig syntax (hyperrealm.com/libconfig) */
    ZKD_CONFIG_JSON_COMPACT = 2  /* one line, when rendering; parses as JSON */
} zkd_config_format;

/* OR'd into zkd_config_parse's format: honour libconfig's @include (files
 * found relative to the directory of `source`). Off by default, because
 * text from another writer could otherwise read local files; the CLI sets
 * it for files named on its command line. */
#define ZKD_CONFIG_ALLOW_INCLUDE 0x100

/* Parses a configuration file's text into a document: compact JSON whose
 * top level is an object. *json_out is malloc'd (zkd_free).
 *
 * JSON: duplicate keys, integers beyond 64 bits and a top level that is not
 * an object are refused. libconfig: groups become objects, lists and arrays
 * become arrays, int and int64 become integers (exact), float a number, bool
 * and string themselves. A decimal or hex integer without the L suffix that
 * does not fit in 32 bits is refused (libconfig 1.5 would silently wrap it):
 * write 3000000000L; one with the suffix that does not fit in 64 bits, and
 * a float beyond a double's range (1e999), are refused too. @include is
 * refused unless ZKD_CONFIG_ALLOW_INCLUDE is set. `source` names the text in
 * messages ("app.cfg", "<stdin>"; NULL: "<input>"). Errors: ZKD_EBADDATA with
 * "source:line: what" (and the column for JSON); nothing else happens. */
ZKD_EXPORT int zkd_config_parse(const char *text, size_t len, zkd_config_format fmt,
                                const char *source, char **json_out, zkd_error *err);

/* Renders JSON text (any value for the JSON formats, an object for
 * libconfig) as `fmt`. *text_out is malloc'd (zkd_free) and ends with a
 * newline, except in the compact form.
 *
 * libconfig: an object becomes a group, an array of scalars of one kind an
 * array ([...]), any other array a list ((...)); an integer outside 32 bits
 * gets the L suffix. A key that cannot be a libconfig setting name
 * ([A-Za-z*][-A-Za-z0-9_*]*, and not true or false in any case: libconfig
 * reads those as booleans and has no quoted names) or a null value is
 * refused with ZKD_EBADDATA naming its dotted path. Going from libconfig to JSON and back keeps every
 * value exactly; what is lost is only libconfig's own spelling (a list of
 * numbers comes back as an array, 5L as 5, 0x1F as 31). */
ZKD_EXPORT int zkd_config_render(const char *json, size_t len, zkd_config_format fmt,
                                 char **text_out, zkd_error *err);

/* ---- publishing ----------------------------------------------------------- */

typedef struct zkd_config_publish_opts {
    const char *message; /* NULL: "" (rollback: "rollback to version N") */
    /* Who publishes. NULL: "$USER@hostname" (the client's credentials are
     * not used for this; the CLI passes the user of --auth here). */
    const char *author;
    /* ZKD_CONFIG_ANY_VERSION: publish on top of whatever is current (a
     * concurrent publish is retried, and both get a version). 0: the app must
     * not exist yet. N > 0: compare-and-set, the current version must be N;
     * otherwise ZKD_ECONFLICT with a message naming the current version. */
    int64_t if_version;
    /* Versions to keep (1 or more); 0: ZKD_CONFIG_DEFAULT_RETAIN. Only the
     * oldest are pruned, in the publish's transaction (up to 32) and right
     * after it (the rest, when the limit was lowered). */
    int retain;
} zkd_config_publish_opts;

/* Fills `opts` with the defaults (everything NULL/0, if_version ANY). */
ZKD_EXPORT void zkd_config_publish_opts_init(zkd_config_publish_opts *opts);

/* Publishes `json` (a document: a JSON object, len bytes) as the app's next
 * version; *version_out (optional) receives its number. `opts` may be NULL.
 * Refused before anything is sent: a bad app name (ZKD_EINVAL), text that is
 * not a JSON object (ZKD_EBADDATA), an envelope over ZKD_CONFIG_MAX_STORED
 * (ZKD_ETOOBIG, naming both sizes). From ZooKeeper: ZKD_ECONFLICT (see
 * if_version), ZKD_ENOAUTH when the app is locked against this client's
 * credentials (nothing is written). A ZKD_ETIMEDOUT or ZKD_ECONNLOSS leaves
 * the outcome unknown: read the app to find out. */
ZKD_EXPORT int zkd_config_publish(zkd_client *c, const char *app, const char *json, size_t len,
                                  const zkd_config_publish_opts *opts, int64_t *version_out,
                                  zkd_error *err);

/* Publishes the content of retained version `version` as a new version
 * (history is never rewritten). ZKD_ENOTFOUND when that version is not
 * retained. */
ZKD_EXPORT int zkd_config_rollback(zkd_client *c, const char *app, int64_t version,
                                   const zkd_config_publish_opts *opts, int64_t *version_out,
                                   zkd_error *err);

/* Deletes the app with all its versions. `if_version` as in publishing
 * (ZKD_CONFIG_ANY_VERSION: whatever is current). ZKD_ENOTFOUND when there is
 * no such app, ZKD_ENOAUTH when it is locked against these credentials. */
ZKD_EXPORT int zkd_config_delete(zkd_client *c, const char *app, int64_t if_version,
                                 zkd_error *err);

/* ---- reading ---------------------------------------------------------------- */

typedef struct zkd_config_version zkd_config_version;

/* Reads version `version` of the app (0: the current one). *out holds a new
 * reference (zkd_config_version_unref). ZKD_ENOTFOUND, with a message
 * saying which, when the app or that version does not exist (pruned
 * versions are gone); ZKD_EBADDATA when the node is not a readable envelope
 * or its checksum does not match its document. */
ZKD_EXPORT int zkd_config_get(zkd_client *c, const char *app, int64_t version,
                              zkd_config_version **out, zkd_error *err);

ZKD_EXPORT zkd_config_version *zkd_config_version_ref(zkd_config_version *v);
ZKD_EXPORT void zkd_config_version_unref(zkd_config_version *v);

/* Metadata; strings are owned by v. */
ZKD_EXPORT const char *zkd_config_version_app(const zkd_config_version *v);
ZKD_EXPORT int64_t zkd_config_version_number(const zkd_config_version *v);
ZKD_EXPORT int64_t zkd_config_version_time(const zkd_config_version *v); /* ms since the epoch */
ZKD_EXPORT const char *zkd_config_version_author(const zkd_config_version *v);
ZKD_EXPORT const char *zkd_config_version_message(const zkd_config_version *v);
ZKD_EXPORT const char *zkd_config_version_checksum(const zkd_config_version *v); /* "sha256:..." */
ZKD_EXPORT size_t zkd_config_version_size(const zkd_config_version *v);
/* The document as compact JSON (owned by v). */
ZKD_EXPORT const char *zkd_config_version_json(const zkd_config_version *v);
/* Non-zero when v was read from a snapshot file, not from ZooKeeper. */
ZKD_EXPORT int zkd_config_version_stale(const zkd_config_version *v);

/* One retained version's metadata. */
typedef struct zkd_config_meta {
    int64_t version;
    int64_t time_ms;
    char *author;
    char *message;
    char *checksum;
    size_t size;
} zkd_config_meta;

/* The retained versions, oldest first: a malloc'd array of *n_out entries
 * (zkd_config_meta_free). Reads every version node (pipelined, 16 at a
 * time). ZKD_ENOTFOUND when the app does not exist. */
ZKD_EXPORT int zkd_config_history(zkd_client *c, const char *app, zkd_config_meta **out,
                                  size_t *n_out, zkd_error *err);
ZKD_EXPORT void zkd_config_meta_free(zkd_config_meta *list, size_t n);

typedef struct zkd_config_app {
    char *name;
    int64_t version; /* current version; -1 when the node is not a readable envelope */
    int64_t time_ms; /* of the current version */
    char *author;    /* of the current version, "" if unknown */
} zkd_config_app;

/* Every app under <root>/config, sorted by name, with its current version
 * (read pipelined). A malloc'd array (zkd_config_apps_free); empty when
 * nothing was ever published. */
ZKD_EXPORT int zkd_config_list(zkd_client *c, zkd_config_app **out, size_t *n_out,
                               zkd_error *err);
ZKD_EXPORT void zkd_config_apps_free(zkd_config_app *list, size_t n);

/* ---- typed getters by dotted path ------------------------------------------
 *
 * `key` is a dotted path from the top-level object: "db.pool.size". A
 * segment that is a decimal number indexes an array ("servers.0.host").
 * A missing key is ZKD_ENOTFOUND; a value of another type is ZKD_EBADDATA
 * ("db.pool.size is a string, not an integer"): nothing is converted, except
 * that an integer is a valid double when it is exactly representable
 * (|n| <= 2^53). Outputs are untouched on error. */

typedef enum zkd_config_type {
    ZKD_CONFIG_MISSING = 0,
    ZKD_CONFIG_OBJECT,
    ZKD_CONFIG_ARRAY,
    ZKD_CONFIG_STRING,
    ZKD_CONFIG_INT,
    ZKD_CONFIG_DOUBLE,
    ZKD_CONFIG_BOOL,
    ZKD_CONFIG_NULL
} zkd_config_type;

/* The type at `key` (ZKD_CONFIG_MISSING when there is nothing there). */
ZKD_EXPORT zkd_config_type zkd_config_type_of(const zkd_config_version *v, const char *key);

ZKD_EXPORT int zkd_config_int(const zkd_config_version *v, const char *key, int64_t *out,
                              zkd_error *err);
ZKD_EXPORT int zkd_config_double(const zkd_config_version *v, const char *key, double *out,
                                 zkd_error *err);
ZKD_EXPORT int zkd_config_bool(const zkd_config_version *v, const char *key, int *out,
                               zkd_error *err);
/* *out is owned by v (valid while you hold the reference). */
ZKD_EXPORT int zkd_config_string(const zkd_config_version *v, const char *key, const char **out,
                                 zkd_error *err);
/* The sub-object at `key` as compact JSON, malloc'd (zkd_free). */
ZKD_EXPORT int zkd_config_object(const zkd_config_version *v, const char *key, char **json_out,
                                 zkd_error *err);
/* Any value at `key` (key NULL or "": the whole document) as compact JSON,
 * malloc'd (zkd_free). */
ZKD_EXPORT int zkd_config_value(const zkd_config_version *v, const char *key, char **json_out,
                                zkd_error *err);

/* ---- watching ------------------------------------------------------------------
 *
 * A watch delivers each new version of an app once, in order, and never a
 * version older than one it already delivered, across reconnects, session
 * expiry and server restarts. Watch events that ZooKeeper collapses (many
 * publishes in a burst, or while disconnected) are caught up by reading the
 * latest version: the callback then says how many versions it skipped.
 *
 * With zkd_options.snapshot_dir set, each delivered version is written to
 * <snapshot_dir>/config.<app>.<8 hex>.json (atomically; the hex tells apart
 * trees with different roots or chroots). A watch opened while ZooKeeper is
 * unreachable serves that file at once, flagged stale, and catches up when
 * ZooKeeper answers (open the client with connect_in_background). */

typedef struct zkd_config_watch zkd_config_watch;

/* Called on the client's dispatch thread. `v` is the new version (borrowed
 * for the call; zkd_config_version_ref to keep it); `skipped` counts the
 * versions published since the previous delivery that were not delivered.
 * `v` is NULL when the app was deleted; numbering then starts again with
 * the app's next incarnation (told apart by its creation zxid, also across
 * disconnections). Never called after zkd_config_watch_close returns. */
typedef void (*zkd_config_watch_fn)(zkd_config_watch *w, const zkd_config_version *v,
                                    uint64_t skipped, void *ctx);

/* Starts watching `app` (a valid name; it need not exist yet). `fn` may be
 * NULL (use zkd_config_watch_current). *out owns the watch until
 * zkd_config_watch_close. The first read runs in the background. */
ZKD_EXPORT int zkd_config_watch_open(zkd_client *c, const char *app, zkd_config_watch_fn fn,
                                     void *ctx, zkd_config_watch **out, zkd_error *err);

/* The latest delivered version (a new reference), or NULL when there is
 * none (nothing read yet, or the app does not exist). */
ZKD_EXPORT zkd_config_version *zkd_config_watch_current(zkd_config_watch *w);

/* Non-zero while what the watch serves may be out of date: read from the
 * snapshot file and not yet confirmed by ZooKeeper, or the connection is
 * lost. */
ZKD_EXPORT int zkd_config_watch_stale(zkd_config_watch *w);

/* Waits until the watch has delivered version `min_version` or a later one
 * (1: any version) and is not stale: 0, or ZKD_ETIMEDOUT after timeout_ms.
 * Not from a zkdisc callback. */
ZKD_EXPORT int zkd_config_watch_wait(zkd_config_watch *w, int64_t min_version, int timeout_ms,
                                     zkd_error *err);

/* The app name (owned by the watch). */
ZKD_EXPORT const char *zkd_config_watch_app(const zkd_config_watch *w);

/* Stops the watch and frees it. From any thread, including a zkdisc
 * callback (its own included). NULL is ignored. */
ZKD_EXPORT void zkd_config_watch_close(zkd_config_watch *w);

/* ---- access control ----------------------------------------------------------
 *
 * Locking sets the ACL of the app node and of its `versions` node to
 * world:anyone:r plus digest:<id>:cdrwa for each allowed identity: anyone
 * may read, only those identities may publish, roll back, delete, lock or
 * unlock. A client proves an identity with zkd_options.auth = "user:password"
 * (the CLI's --auth). Others get ZKD_ENOAUTH and nothing is written.
 *
 * An identity in `allow` is either "user:password" (the digest id is
 * computed here, the password never leaves this call) or a precomputed
 * ZooKeeper id "digest:user:BASE64HASH". Credentials are never logged nor
 * put in messages. */

ZKD_EXPORT int zkd_config_lock(zkd_client *c, const char *app, const char *const *allow,
                               size_t n_allow, zkd_error *err);

/* Opens the app to every writer again (needs an allowed identity). */
ZKD_EXPORT int zkd_config_unlock(zkd_client *c, const char *app, zkd_error *err);

/* ZooKeeper's digest id for "user:password": "user:base64(sha1(user:password))"
 * into buf. ZKD_EINVAL without a ':' or an empty user, ZKD_ETOOBIG when buf
 * is too small. */
ZKD_EXPORT int zkd_config_digest_id(const char *user_password, char *buf, size_t len,
                                    zkd_error *err);

#ifdef __cplusplus
}
#endif
#endif
