/* SPDX-License-Identifier: Apache-2.0 */
/* Reading configuration: one version, the history, the apps. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zkdisc/names.h>
#include <zkdisc/node.h>

#include "request.h"
#include "config_impl.h"
#include "errors.h"
#include "paths.h"

/* Version nodes read per pipelined batch by history. */
#define HISTORY_BATCH 16

int zkd_config_get(zkd_client *c, const char *app, int64_t version, zkd_config_version **out,
                   zkd_error *err)
{
    if (!c || !out)
        return zkd__fail(err, ZKD_EINVAL, "no client or result given");
    int rc = zkd_validate_name("app", app, err);
    if (rc)
        return rc;
    if (version < 0)
        return zkd__fail(err, ZKD_EINVAL, "a version is 1 or more (0: the current one)");
    char *app_path = zkd__config_path(c, app);
    char *path = version ? zkd__config_version_path(c, app, version) : NULL;
    if (!app_path || (version && !path)) {
        free(app_path);
        free(path);
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    }
    zkd_result res = {0};
    rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_GET, .path = version ? path : app_path}, &res, err);
    if (rc == ZKD_ENOTFOUND) {
        /* Say which is missing: the app, or only that version. */
        int app_rc = version ? zkd_node_stat(c, app_path, NULL, NULL) : ZKD_ENOTFOUND;
        if (app_rc == ZKD_ENOTFOUND)
            zkd__fail(err, rc, "app %s has no configuration", app);
        else
            zkd__fail(err, rc, "app %s has no version %" PRId64 " (never published, or pruned)",
                      app, version);
    }
    zkd_config_version *v = NULL;
    if (!rc)
        rc = zkd__config_version_parse(app, res.data, res.len > 0 ? (size_t)res.len : 0,
                                       version ? path : app_path, &v, err);
    if (!rc && version && v->version != version) {
        rc = zkd__fail(err, ZKD_EBADDATA, "%s holds version %" PRId64 ", not %" PRId64, path,
                       v->version, version);
        zkd_config_version_unref(v);
    } else if (!rc) {
        v->czxid = version ? 0 : res.stat.czxid;
        *out = v;
    }
    zkd__result_clear(&res);
    free(app_path);
    free(path);
    return rc;
}

/* ---- history -------------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int meta_from(zkd_config_meta *m, const zkd_config_version *v)
{
    m->version = v->version;
    m->time_ms = v->time_ms;
    m->size = v->size;
    m->author = strdup(v->author);
    m->message = strdup(v->message);
    m->checksum = strdup(v->checksum);
    return m->author && m->message && m->checksum ? 0 : ZKD_ENOMEM;
}

void zkd_config_meta_free(zkd_config_meta *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++) {
        free(list[i].author);
        free(list[i].message);
        free(list[i].checksum);
    }
    free(list);
}

/* Reads the data of `parent`'s children in pipelined batches of
 * HISTORY_BATCH, those `keep` refuses left out (NULL: none), and hands each
 * answer, in the children's order, to `each`; the first nonzero code it
 * returns ends the reading and is returned. */
typedef int (*child_fn)(void *ctx, const char *name, const char *path, int rc,
                        const zkd_result *res, zkd_error *err);

static int read_children(zkd_client *c, const char *parent, const zkd_strings *kids,
                         int (*keep)(const char *), child_fn each, void *ctx, zkd_error *err)
{
    int rc = 0;
    for (size_t at = 0; !rc && at < kids->count; at += HISTORY_BATCH) {
        size_t k = kids->count - at < HISTORY_BATCH ? kids->count - at : HISTORY_BATCH;
        zkd_op ops[HISTORY_BATCH];
        zkd_result res[HISTORY_BATCH];
        memset(res, 0, sizeof res);
        int rcs[HISTORY_BATCH];
        char *paths[HISTORY_BATCH] = {0};
        const char *names[HISTORY_BATCH];
        size_t m = 0;
        for (size_t i = 0; i < k && !rc; i++) {
            names[m] = kids->items[at + i];
            if (keep && !keep(names[m]))
                continue;
            if (!(paths[m] = zkd__path_join(parent, names[m])))
                rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
            ops[m] = (zkd_op){.kind = ZKD_OP_GET, .path = paths[m]};
            m += !rc;
        }
        if (!rc && m)
            rc = zkd__call_batch(c, ops, m, res, rcs, err);
        for (size_t i = 0; !rc && i < m; i++)
            rc = each(ctx, names[i], paths[i], rcs[i], &res[i], err);
        for (size_t i = 0; i < m; i++) {
            zkd__result_clear(&res[i]);
            free(paths[i]);
        }
    }
    return rc;
}

static int is_version_name(const char *name)
{
    return zkd__config_version_name(name) >= 0;
}

typedef struct history {
    const char *app;
    zkd_config_meta *list;
    size_t n;
} history;

static int history_one(void *ctx, const char *name, const char *path, int rc,
                       const zkd_result *res, zkd_error *err)
{
    history *h = ctx;
    (void)name;
    if (rc == ZKD_ENOTFOUND) /* pruned while we read */
        return 0;
    zkd_config_version *v;
    rc = rc ? rc
            : zkd__config_version_parse(h->app, res->data, res->len > 0 ? (size_t)res->len : 0,
                                        path, &v, err);
    if (rc)
        return rc;
    if (meta_from(&h->list[h->n++], v))
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    zkd_config_version_unref(v);
    return rc;
}

int zkd_config_history(zkd_client *c, const char *app, zkd_config_meta **out, size_t *n_out,
                       zkd_error *err)
{
    if (!c || !out || !n_out)
        return zkd__fail(err, ZKD_EINVAL, "no client or result given");
    int rc = zkd_validate_name("app", app, err);
    if (rc)
        return rc;
    char *versions_path = zkd__config_versions_path(c, app);
    if (!versions_path)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    zkd_strings kids = {0};
    rc = zkd_node_children(c, versions_path, &kids, NULL, err);
    if (rc == ZKD_ENOTFOUND)
        zkd__fail(err, rc, "app %s has no configuration", app);
    history h = {.app = app};
    if (!rc) {
        /* Zero-padded names sort by number. */
        qsort(kids.items, kids.count, sizeof *kids.items, cmp_names);
        h.list = calloc(kids.count ? kids.count : 1, sizeof *h.list);
        rc = h.list ? read_children(c, versions_path, &kids, is_version_name, history_one, &h, err)
                    : zkd__fail(err, ZKD_ENOMEM, "out of memory");
    }
    zkd_strings_free(&kids);
    free(versions_path);
    if (rc) {
        zkd_config_meta_free(h.list, h.n);
        return rc;
    }
    zkd_error_clear(err);
    *out = h.list;
    *n_out = h.n;
    return 0;
}

/* ---- the apps ------------------------------------------------------------------ */

void zkd_config_apps_free(zkd_config_app *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++) {
        free(list[i].name);
        free(list[i].author);
    }
    free(list);
}

typedef struct apps {
    zkd_config_app *list;
    size_t n;
} apps;

/* An app whose current version cannot be read is listed without one. */
static int app_one(void *ctx, const char *name, const char *path, int rc, const zkd_result *res,
                   zkd_error *err)
{
    apps *l = ctx;
    if (rc == ZKD_ENOTFOUND) /* deleted while we read */
        return 0;
    zkd_config_app *a = &l->list[l->n++];
    a->name = strdup(name);
    a->version = -1;
    zkd_config_version *v = NULL;
    zkd_error ignored;
    if (!rc && zkd__config_version_parse(name, res->data, res->len > 0 ? (size_t)res->len : 0,
                                         path, &v, &ignored) == 0) {
        a->version = v->version;
        a->time_ms = v->time_ms;
        a->author = strdup(v->author);
        zkd_config_version_unref(v);
    } else {
        a->author = strdup("");
    }
    return a->name && a->author ? 0 : zkd__fail(err, ZKD_ENOMEM, "out of memory");
}

int zkd_config_list(zkd_client *c, zkd_config_app **out, size_t *n_out, zkd_error *err)
{
    if (!c || !out || !n_out)
        return zkd__fail(err, ZKD_EINVAL, "no client or result given");
    char *root = zkd__config_root_path(c);
    if (!root)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    zkd_strings kids = {0};
    int rc = zkd_node_children(c, root, &kids, NULL, err);
    if (rc == ZKD_ENOTFOUND) { /* nothing published yet */
        rc = 0;
        zkd_error_clear(err);
    }
    apps l = {0};
    if (!rc) {
        l.list = calloc(kids.count ? kids.count : 1, sizeof *l.list);
        rc = l.list ? read_children(c, root, &kids, NULL, app_one, &l, err)
                    : zkd__fail(err, ZKD_ENOMEM, "out of memory");
    }
    zkd_strings_free(&kids);
    free(root);
    if (rc) {
        zkd_config_apps_free(l.list, l.n);
        return rc;
    }
    zkd_error_clear(err);
    *out = l.list;
    *n_out = l.n;
    return 0;
}
