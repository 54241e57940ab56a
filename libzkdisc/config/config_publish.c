/* SPDX-License-Identifier: Apache-2.0 */
/* Writing configuration: publish (one transaction), rollback, delete, and
 * retention. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <zkdisc/names.h>
#include <zkdisc/node.h>

#include "request.h"
#include "config_impl.h"
#include "config_txn.h"
#include "errors.h"
#include "paths.h"

/* A publish retried because another publisher got in first (without
 * if_version) gives up after this many tries. */
#define MAX_ATTEMPTS 50

void zkd_config_publish_opts_init(zkd_config_publish_opts *o)
{
    memset(o, 0, sizeof *o);
    o->if_version = ZKD_CONFIG_ANY_VERSION;
}

static int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The version numbers among `kids`, sorted, in a malloc'd array. */
static int64_t *version_numbers(const zkd_strings *kids, size_t *n_out)
{
    int64_t *v = malloc((kids->count ? kids->count : 1) * sizeof *v);
    size_t n = 0;
    for (size_t i = 0; v && i < kids->count; i++) {
        int64_t num = zkd__config_version_name(kids->items[i]);
        if (num > 0)
            v[n++] = num;
    }
    if (v)
        qsort(v, n, sizeof *v, cmp_i64);
    *n_out = n;
    return v;
}

/* What a publish needs to know about the app: read together (pipelined). */
typedef struct app_state {
    int exists;
    int64_t version; /* current version (0 when the app does not exist) */
    int stat_version;
    int64_t *versions; /* retained version numbers, sorted */
    size_t nversions;
    int versions_missing; /* the app node exists without its versions node */
} app_state;

static void app_state_clear(app_state *s)
{
    free(s->versions);
    memset(s, 0, sizeof *s);
}

static int read_state(zkd_client *c, const char *app, const char *app_path,
                      const char *versions_path, app_state *s, zkd_error *err)
{
    memset(s, 0, sizeof *s);
    zkd_op ops[2] = {{.kind = ZKD_OP_GET, .path = app_path},
                     {.kind = ZKD_OP_CHILDREN, .path = versions_path}};
    zkd_result res[2];
    memset(res, 0, sizeof res);
    int rcs[2];
    int rc = zkd__call_batch(c, ops, 2, res, rcs, err);
    if (rc)
        return rc;
    if (rcs[0] == ZKD_ENOTFOUND) {
        zkd_error_clear(err);
        goto out;
    }
    if (rcs[0] || (rcs[1] && rcs[1] != ZKD_ENOTFOUND)) {
        rc = rcs[0] ? rcs[0] : rcs[1];
        goto out;
    }
    zkd_config_version *v;
    rc = zkd__config_version_parse(app, res[0].data, res[0].len > 0 ? (size_t)res[0].len : 0,
                                   app_path, &v, err);
    if (rc)
        goto out;
    s->exists = 1;
    s->version = v->version;
    s->stat_version = res[0].stat.version;
    zkd_config_version_unref(v);
    s->versions_missing = rcs[1] == ZKD_ENOTFOUND;
    if (!s->versions_missing && !(s->versions = version_numbers(&res[1].children, &s->nversions)))
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    zkd_error_clear(err);
out:
    zkd__result_clear(&res[0]);
    zkd__result_clear(&res[1]);
    return rc;
}

/* Deletes the given versions, a transaction at a time; already gone is fine. */
static void prune(zkd_client *c, const char *app, const int64_t *versions, size_t n)
{
    for (size_t i = 0; i < n; i += ZKD_CONFIG_DELETES_PER_TXN) {
        size_t k = n - i < ZKD_CONFIG_DELETES_PER_TXN ? n - i : ZKD_CONFIG_DELETES_PER_TXN;
        zkd_op ops[ZKD_CONFIG_DELETES_PER_TXN];
        int rcs[ZKD_CONFIG_DELETES_PER_TXN];
        char *paths[ZKD_CONFIG_DELETES_PER_TXN] = {0};
        size_t m = 0;
        for (; m < k; m++) {
            if (!(paths[m] = zkd__config_version_path(c, app, versions[i + m])))
                break;
            ops[m] = (zkd_op){.kind = ZKD_OP_DELETE, .path = paths[m], .version = -1};
        }
        if (m)
            zkd__call_batch(c, ops, m, NULL, rcs, NULL);
        for (size_t j = 0; j < m; j++)
            free(paths[j]);
    }
}

/* The conflict error, naming the current version (0: no app). */
static int conflict_message(const char *app, int64_t current, int64_t expected, zkd_error *err)
{
    if (current == 0)
        return zkd__fail(err, ZKD_ECONFLICT,
                         "app %s has no version yet (current version 0), not version %" PRId64,
                         app, expected);
    if (expected == 0)
        return zkd__fail(err, ZKD_ECONFLICT,
                         "app %s already exists at version %" PRId64 " (expected none)", app,
                         current);
    return zkd__fail(err, ZKD_ECONFLICT, "app %s is at version %" PRId64 ", not %" PRId64, app,
                     current, expected);
}

/* A compare-and-set lost a race: read what is current now, to name it. */
static int conflict(zkd_client *c, const char *app, const char *app_path, int64_t expected,
                    zkd_error *err)
{
    app_state now;
    zkd_error ignored;
    char *versions_path = zkd__config_versions_path(c, app);
    int rc = versions_path ? read_state(c, app, app_path, versions_path, &now, &ignored) : -1;
    free(versions_path);
    if (rc)
        return zkd__fail(err, ZKD_ECONFLICT,
                         "app %s changed while publishing (expected version %" PRId64 ")", app,
                         expected);
    int64_t current = now.version;
    app_state_clear(&now);
    return conflict_message(app, current, expected, err);
}

static int not_authorized(const char *app, zkd_error *err)
{
    return zkd__fail(err, ZKD_ENOAUTH,
                     "app %s is locked: this client's credentials may not change it "
                     "(give an allowed identity with --auth / zkd_options.auth)",
                     app);
}

typedef struct publish_req {
    zkd_client *c;
    const char *app;
    char *app_path, *versions_path;
    json_t *doc;
    const char *author, *message;
    int64_t if_version;
    int retain;
} publish_req;

/* One attempt. 1: try again (someone else changed the app meanwhile and the
 * caller did not ask for compare-and-set); 0 or a negative code: done. */
static int attempt(publish_req *r, int64_t *version_out, zkd_error *err)
{
    zkd_client *c = r->c;
    app_state s;
    int rc = read_state(c, r->app, r->app_path, r->versions_path, &s, err);
    if (rc)
        return rc;
    if (r->if_version >= 0 && r->if_version != s.version) {
        int64_t cur = s.version;
        app_state_clear(&s);
        return conflict_message(r->app, cur, r->if_version, err);
    }
    int64_t next = s.version + 1;
    size_t len;
    char *env = zkd__config_envelope(r->doc, next, wall_ms(), r->author, r->message, &len);
    char *vpath = zkd__config_version_path(c, r->app, next);
    /* Retention: after this publish, s.nversions + 1 are retained. */
    size_t excess = s.nversions + 1 > (size_t)r->retain ? s.nversions + 1 - (size_t)r->retain : 0;
    if (excess > s.nversions)
        excess = s.nversions;
    size_t in_txn = excess < ZKD_CONFIG_DELETES_PER_TXN ? excess : ZKD_CONFIG_DELETES_PER_TXN;
    zkd_txn_op ops[4 + ZKD_CONFIG_DELETES_PER_TXN];
    char *del_paths[ZKD_CONFIG_DELETES_PER_TXN] = {0};
    int n = 0;
    if (!env || !vpath) {
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
        goto out;
    }
    if (!s.exists) {
        rc = zkd__config_make_parents(c, err);
        if (rc)
            goto out;
        ops[n++] = (zkd_txn_op){.kind = ZKD_TXN_CREATE, .path = r->app_path, .data = env,
                                .len = (int)len};
        ops[n++] = (zkd_txn_op){.kind = ZKD_TXN_CREATE, .path = r->versions_path};
    } else {
        ops[n++] = (zkd_txn_op){.kind = ZKD_TXN_CHECK, .path = r->app_path,
                                .version = s.stat_version};
        ops[n++] = (zkd_txn_op){.kind = ZKD_TXN_SET, .path = r->app_path, .data = env,
                                .len = (int)len, .version = s.stat_version};
        if (s.versions_missing) /* a damaged tree: put the parent back */
            ops[n++] = (zkd_txn_op){.kind = ZKD_TXN_CREATE, .path = r->versions_path};
    }
    ops[n++] = (zkd_txn_op){.kind = ZKD_TXN_CREATE, .path = vpath, .data = env, .len = (int)len,
                            .acl = &ZOO_READ_ACL_UNSAFE};
    for (size_t i = 0; i < in_txn; i++) {
        if (!(del_paths[i] = zkd__config_version_path(c, r->app, s.versions[i]))) {
            rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
            goto out;
        }
        ops[n++] = (zkd_txn_op){.kind = ZKD_TXN_DELETE, .path = del_paths[i], .version = -1};
    }
    int failed, zrc;
    rc = zkd__txn(c, ops, n, &failed, &zrc, err);
    if (rc == 0) {
        if (excess > in_txn)
            prune(c, r->app, s.versions + in_txn, excess - in_txn);
        if (version_out)
            *version_out = next;
        zkd_error_clear(err);
        goto out;
    }
    if (rc == ZKD_ENOAUTH) {
        rc = not_authorized(r->app, err);
        goto out;
    }
    if (failed < 0)
        goto out; /* the request itself failed: outcome unknown, message says so */
    /* An op failed because the tree moved between our read and our write:
     * another publish (the check or the app's create), a delete of the app,
     * a version node already pruned by someone else. */
    zkd_txn_kind k = ops[failed].kind;
    int moved = (k == ZKD_TXN_CHECK && (rc == ZKD_ECONFLICT || rc == ZKD_ENOTFOUND)) ||
                (k == ZKD_TXN_SET && rc == ZKD_ECONFLICT) ||
                (k == ZKD_TXN_CREATE && !s.exists && (rc == ZKD_EEXISTS || rc == ZKD_ENOTFOUND)) ||
                (k == ZKD_TXN_DELETE && rc == ZKD_ENOTFOUND);
    if (moved && r->if_version >= 0 && k != ZKD_TXN_DELETE)
        rc = conflict(c, r->app, r->app_path, r->if_version, err);
    else if (moved)
        rc = 1;
    else if (k == ZKD_TXN_CREATE && rc == ZKD_EEXISTS)
        rc = zkd__fail(err, ZKD_EBADDATA,
                       "version node %s already exists although the app is at version %" PRId64
                       "; the tree was changed by hand",
                       vpath, s.version);
out:
    for (size_t i = 0; i < ZKD_CONFIG_DELETES_PER_TXN; i++)
        free(del_paths[i]);
    free(env);
    free(vpath);
    app_state_clear(&s);
    return rc;
}

static int publish_doc(zkd_client *c, const char *app, json_t *doc,
                       const zkd_config_publish_opts *opts, const char *default_message,
                       int64_t *version_out, zkd_error *err)
{
    zkd_config_publish_opts o;
    if (opts)
        o = *opts;
    else
        zkd_config_publish_opts_init(&o);
    if (o.retain < 0)
        return zkd__fail(err, ZKD_EINVAL, "retain must be 1 or more (0 for the default)");
    if (o.if_version < ZKD_CONFIG_ANY_VERSION)
        return zkd__fail(err, ZKD_EINVAL, "if_version must be -1, 0 or a version number");
    char author[512];
    if (o.author)
        snprintf(author, sizeof author, "%s", o.author);
    else
        zkd__config_default_author(author, sizeof author);
    const char *message = o.message ? o.message : default_message ? default_message : "";

    /* The size check, before anything is sent: the envelope as it would be
     * with the widest version number. */
    size_t len;
    char *probe = zkd__config_envelope(doc, 9999999999LL, wall_ms(), author, message, &len);
    if (!probe)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    free(probe);
    if (len > ZKD_CONFIG_MAX_STORED)
        return zkd__fail(err, ZKD_ETOOBIG,
                         "app %s: the document would be stored as %zu bytes, over the limit of "
                         "%d bytes (a publish writes it twice in one ZooKeeper request, which "
                         "is capped at 1 MiB); nothing was published",
                         app, len, ZKD_CONFIG_MAX_STORED);

    publish_req r = {.c = c, .app = app, .doc = doc, .author = author, .message = message,
                     .if_version = o.if_version,
                     .retain = o.retain ? o.retain : ZKD_CONFIG_DEFAULT_RETAIN};
    r.app_path = zkd__config_path(c, app);
    r.versions_path = zkd__config_versions_path(c, app);
    int rc = r.app_path && r.versions_path ? 1 : zkd__fail(err, ZKD_ENOMEM, "out of memory");
    for (int i = 0; rc == 1 && i < MAX_ATTEMPTS; i++)
        rc = attempt(&r, version_out, err);
    if (rc == 1)
        rc = zkd__fail(err, ZKD_ECONFLICT,
                       "app %s: gave up after %d attempts, other publishers kept getting in first",
                       app, MAX_ATTEMPTS);
    free(r.app_path);
    free(r.versions_path);
    return rc;
}

int zkd_config_publish(zkd_client *c, const char *app, const char *json, size_t len,
                       const zkd_config_publish_opts *opts, int64_t *version_out, zkd_error *err)
{
    if (!c)
        return zkd__fail(err, ZKD_EINVAL, "no client given");
    int rc = zkd_validate_name("app", app, err);
    if (rc)
        return rc;
    json_t *doc;
    if ((rc = zkd__config_load_doc(json, len, app, &doc, err)))
        return rc;
    rc = publish_doc(c, app, doc, opts, NULL, version_out, err);
    json_decref(doc);
    return rc;
}

int zkd_config_rollback(zkd_client *c, const char *app, int64_t version,
                        const zkd_config_publish_opts *opts, int64_t *version_out, zkd_error *err)
{
    if (!c)
        return zkd__fail(err, ZKD_EINVAL, "no client given");
    if (version < 1)
        return zkd__fail(err, ZKD_EINVAL, "a version to roll back to is 1 or more");
    zkd_config_version *old;
    int rc = zkd_config_get(c, app, version, &old, err);
    if (rc)
        return rc;
    char message[64];
    snprintf(message, sizeof message, "rollback to version %" PRId64, version);
    rc = publish_doc(c, app, old->doc, opts, message, version_out, err);
    zkd_config_version_unref(old);
    return rc;
}

/* ---- delete ------------------------------------------------------------------ */

int zkd_config_delete(zkd_client *c, const char *app, int64_t if_version, zkd_error *err)
{
    if (!c)
        return zkd__fail(err, ZKD_EINVAL, "no client given");
    int rc = zkd_validate_name("app", app, err);
    if (rc)
        return rc;
    if (if_version < ZKD_CONFIG_ANY_VERSION)
        return zkd__fail(err, ZKD_EINVAL, "if_version must be -1, 0 or a version number");
    char *app_path = zkd__config_path(c, app);
    char *versions_path = zkd__config_versions_path(c, app);
    if (!app_path || !versions_path) {
        free(app_path);
        free(versions_path);
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    }
    rc = 1;
    for (int attempt_no = 0; rc == 1 && attempt_no < MAX_ATTEMPTS; attempt_no++) {
        zkd_result res[2];
        memset(res, 0, sizeof res);
        int rcs[2];
        zkd_op rops[2] = {{.kind = ZKD_OP_GET, .path = app_path},
                          {.kind = ZKD_OP_CHILDREN, .path = versions_path}};
        rc = zkd__call_batch(c, rops, 2, res, rcs, err);
        if (!rc && rcs[0] == ZKD_ENOTFOUND)
            rc = zkd__fail(err, ZKD_ENOTFOUND, "app %s has no configuration", app);
        else if (!rc && (rcs[0] || (rcs[1] && rcs[1] != ZKD_ENOTFOUND)))
            rc = rcs[0] ? rcs[0] : rcs[1];
        zkd_config_version *cur = NULL;
        if (!rc && if_version >= 0) {
            rc = zkd__config_version_parse(app, res[0].data,
                                           res[0].len > 0 ? (size_t)res[0].len : 0, app_path,
                                           &cur, err);
            if (!rc && cur->version != if_version)
                rc = conflict_message(app, cur->version, if_version, err);
            zkd_config_version_unref(cur);
        }
        if (rc) {
            zkd__result_clear(&res[0]);
            zkd__result_clear(&res[1]);
            break;
        }
        int stat_version = res[0].stat.version;
        zkd_strings *kids = &res[1].children;
        /* Each transaction checks that nobody published meanwhile; the last
         * one removes the versions node and the app. */
        size_t done = 0;
        do {
            size_t k = kids->count - done;
            int last = k <= ZKD_CONFIG_DELETES_PER_TXN;
            if (!last)
                k = ZKD_CONFIG_DELETES_PER_TXN;
            zkd_txn_op ops[ZKD_CONFIG_DELETES_PER_TXN + 3];
            char *paths[ZKD_CONFIG_DELETES_PER_TXN] = {0};
            int n = 0;
            ops[n++] = (zkd_txn_op){.kind = ZKD_TXN_CHECK, .path = app_path,
                                    .version = stat_version};
            for (size_t i = 0; i < k; i++) {
                paths[i] = zkd__path_join(versions_path, kids->items[done + i]);
                ops[n++] = (zkd_txn_op){.kind = ZKD_TXN_DELETE, .path = paths[i], .version = -1};
            }
            if (last) {
                if (rcs[1] == 0)
                    ops[n++] = (zkd_txn_op){.kind = ZKD_TXN_DELETE, .path = versions_path,
                                            .version = -1};
                ops[n++] = (zkd_txn_op){.kind = ZKD_TXN_DELETE, .path = app_path,
                                        .version = stat_version};
            }
            int failed, zrc;
            int ok = 1;
            for (size_t i = 0; i < k; i++)
                ok &= paths[i] != NULL;
            rc = ok ? zkd__txn(c, ops, n, &failed, &zrc, err)
                    : zkd__fail(err, ZKD_ENOMEM, "out of memory");
            for (size_t i = 0; i < k; i++)
                free(paths[i]);
            if (rc == ZKD_ENOAUTH) {
                rc = not_authorized(app, err);
            } else if (rc && failed >= 0 &&
                       (rc == ZKD_ECONFLICT || rc == ZKD_ENOTFOUND || rc == ZKD_ENOTEMPTY)) {
                /* Moved under us: a publish (conflict), a prune, a delete. */
                rc = if_version >= 0 && rc == ZKD_ECONFLICT
                         ? conflict(c, app, app_path, if_version, err)
                         : 1;
            }
            done += k;
        } while (rc == 0 && done < kids->count);
        zkd__result_clear(&res[0]);
        zkd__result_clear(&res[1]);
    }
    if (rc == 1)
        rc = zkd__fail(err, ZKD_ECONFLICT, "app %s kept changing; not deleted", app);
    if (!rc)
        zkd_error_clear(err);
    free(app_path);
    free(versions_path);
    return rc;
}
