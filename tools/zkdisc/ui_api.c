/* SPDX-License-Identifier: Apache-2.0 */
/* The console's one-shot reads and its writes (ui.h):
 *   GET  /api/session                      {token, write, zk, root, user}
 *   GET  /api/tree/children?path=P         the children of P with their Stat
 *   GET  /api/tree/node?path=P             data, Stat and ACL of P
 *   GET  /api/tree/search?path=P&name=N&content=C   what find and grep do
 *   GET  /api/config/app?name=A            current version, history, lock
 *   GET  /api/config/version?name=A&version=V       one version's document
 *   POST /api/service/drain   {service, znode, enabled}   drain or undrain
 *   POST /api/config/rollback {app, version, ifVersion}   compare-and-set
 * Writes go through the library calls the CLI makes, and a refusal reads as
 * the CLI would print it. */
#include <event2/http.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_config.h"
#include "render.h"
#include "ui.h"

#define SEARCH_MAX 200

static void fail(struct evhttp_request *req, const char *cmd, int rc, const zkd_error *err)
{
    ui_reply_error(req, ui_status_of(rc), "zkdisc %s: %s", cmd,
                   err && err->message[0] ? err->message : zkd_strerror(rc));
}

/* The path parameter, validated (NULL when answered). */
static char *path_param(struct evhttp_request *req)
{
    char *p = ui_query(req, "path");
    zkd_error err;
    int rc = p ? zkd_validate_path(p, &err) : ZKD_EINVAL;
    if (rc) {
        ui_reply_error(req, 400, "%s", p ? err.message : "say ?path=/...");
        free(p);
        return NULL;
    }
    return p;
}

static void session(ui *u, struct evhttp_request *req)
{
    ui_session *s = ui_session_get(u, req, 1);
    if (!s) {
        ui_reply_error(req, 500, "cannot make a session (no randomness)");
        return;
    }
    const char *auth = u->ctx->auth, *colon = auth ? strchr(auth, ':') : NULL;
    json_t *user = colon ? json_stringn(auth, (size_t)(colon - auth)) : json_null();
    ui_reply_json(req, 200, json_pack("{s:s,s:b,s:s,s:s,s:o,s:s}", "token", s->token, "write",
                                      u->write, "zk", zkd_client_connect_string(u->zk), "root",
                                      zkd_client_root(u->zk), "user", user, "state",
                                      zkd_state_name(zkd_client_state(u->zk))));
}

/* ---- the tree -------------------------------------------------------------- */

static int children_visit(const zkd_walk_node *n, void *ud)
{
    json_t *arr = ud;
    if (n->depth == 0)
        return 0;
    json_t *o = json_pack("{s:s,s:i,s:i,s:b}", "name", n->name, "children",
                          n->stat.num_children, "size", n->stat.data_length, "ephemeral",
                          n->stat.ephemeral_owner != 0);
    if (n->rc)
        json_object_set_new(o, "error", json_string(zkd_strerror(n->rc)));
    json_array_append_new(arr, o);
    return 0;
}

static void tree_children(ui *u, struct evhttp_request *req)
{
    char *path = path_param(req);
    if (!path)
        return;
    zkd_walk_options o;
    zkd_walk_options_init(&o);
    o.max_depth = 1; /* the children's Stat, read pipelined */
    json_t *arr = json_array();
    zkd_error err;
    int rc = zkd_walk(u->zk, path, &o, children_visit, arr, &err);
    if (rc) {
        json_decref(arr);
        fail(req, "ls", rc, &err);
    } else {
        ui_reply_json(req, 200, json_pack("{s:s,s:o}", "path", path, "children", arr));
    }
    free(path);
}

static void tree_node(ui *u, struct evhttp_request *req)
{
    char *path = path_param(req);
    if (!path)
        return;
    char *data = NULL;
    size_t len = 0;
    zkd_stat st;
    zkd_error err;
    int rc = zkd_node_get(u->zk, path, &data, &len, &st, &err);
    if (rc) {
        fail(req, "get", rc, &err);
        free(path);
        return;
    }
    json_t *o = render_node_json(path, data, len, &st);
    zkd_free(data);
    zkd_acl_entry *acl = NULL;
    size_t n = 0;
    json_t *arr = json_array();
    if (zkd_node_get_acl(u->zk, path, &acl, &n, NULL, &err) == 0) {
        static const char letters[] = "rwcda";
        for (size_t i = 0; i < n; i++) {
            char perms[8];
            size_t k = 0;
            for (int b = 0; b < 5; b++)
                if (acl[i].perms & (1 << b))
                    perms[k++] = letters[b];
            perms[k] = 0;
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "scheme", acl[i].scheme, "id",
                                                 acl[i].id, "perms", perms));
        }
        zkd_acl_free(acl, n);
    }
    json_object_set_new(o, "acl", arr);
    ui_reply_json(req, 200, o);
    free(path);
}

typedef struct search {
    const char *name, *content;
    size_t content_len;
    int glob;
    json_t *hits;
    size_t visited;
} search;

static int search_visit(const zkd_walk_node *n, void *ud)
{
    search *s = ud;
    s->visited++;
    if (n->rc)
        return 0;
    if (s->name && *s->name &&
        (s->glob ? fnmatch(s->name, n->name, 0) != 0 : !strstr(n->name, s->name)))
        return 0;
    if (s->content && *s->content &&
        (!n->data || !memmem(n->data, n->len, s->content, s->content_len)))
        return 0;
    json_array_append_new(s->hits, json_pack("{s:s,s:i,s:i}", "path", n->path, "size",
                                             n->stat.data_length, "children",
                                             n->stat.num_children));
    return json_array_size(s->hits) >= SEARCH_MAX ? 1 : 0;
}

static void tree_search(ui *u, struct evhttp_request *req)
{
    char *path = path_param(req);
    if (!path)
        return;
    char *name = ui_query(req, "name"), *content = ui_query(req, "content");
    search s = {.name = name, .content = content, .hits = json_array()};
    s.glob = name && strpbrk(name, "*?[");
    s.content_len = content ? strlen(content) : 0;
    zkd_walk_options o;
    zkd_walk_options_init(&o);
    o.want_data = content && *content;
    static const char *const skip[] = {"/zookeeper", NULL};
    if (!strcmp(path, "/"))
        o.exclude = skip;
    zkd_error err;
    int rc = zkd_walk(u->zk, path, &o, search_visit, &s, &err);
    if (rc < 0) {
        json_decref(s.hits);
        fail(req, content && *content ? "grep" : "find", rc, &err);
    } else {
        ui_reply_json(req, 200, json_pack("{s:o,s:b,s:I}", "hits", s.hits, "truncated", rc > 0,
                                          "visited", (json_int_t)s.visited));
    }
    free(path);
    free(name);
    free(content);
}

/* ---- configuration ---------------------------------------------------------- */

static void config_app(ui *u, struct evhttp_request *req)
{
    char *name = ui_query(req, "name");
    int status = 400;
    char msg[1024] = "say ?name=APP";
    json_t *d = name ? ui_app_json(u, name, &status, msg, sizeof msg) : NULL;
    if (d)
        ui_reply_json(req, 200, d);
    else
        ui_reply_error(req, status, "%s", msg);
    free(name);
}

static void config_version(ui *u, struct evhttp_request *req)
{
    char *name = ui_query(req, "name"), *vtext = ui_query(req, "version");
    char *end = NULL;
    long long ver = vtext ? strtoll(vtext, &end, 10) : -1;
    if (!name || !vtext || *end || ver < 0) {
        ui_reply_error(req, 400, "say ?name=APP&version=N");
    } else {
        zkd_config_version *v;
        zkd_error err;
        int rc = zkd_config_get(u->zk, name, ver, &v, &err);
        if (rc) {
            fail(req, "config get", rc, &err);
        } else {
            json_t *doc = json_loads(zkd_config_version_json(v), 0, NULL);
            ui_reply_json(req, 200, json_pack("{s:s,s:I,s:I,s:s,s:s,s:s,s:o}", "app", name,
                                              "version", (json_int_t)zkd_config_version_number(v),
                                              "time", (json_int_t)zkd_config_version_time(v),
                                              "author", zkd_config_version_author(v), "message",
                                              zkd_config_version_message(v), "checksum",
                                              zkd_config_version_checksum(v), "document",
                                              doc ? doc : json_null()));
            zkd_config_version_unref(v);
        }
    }
    free(name);
    free(vtext);
}

/* ---- writes ------------------------------------------------------------------ */

static void drain(ui *u, struct evhttp_request *req)
{
    json_t *b = ui_body_json(req);
    const char *service = json_string_value(json_object_get(b, "service"));
    const char *znode = json_string_value(json_object_get(b, "znode"));
    json_t *en = json_object_get(b, "enabled");
    if (!service || !znode || !json_is_boolean(en)) {
        ui_reply_error(req, 400, "say {\"service\": S, \"znode\": Z, \"enabled\": true|false}");
        json_decref(b);
        return;
    }
    int enabled = json_is_true(en);
    const char *verb = enabled ? "undrain" : "drain";
    zkd_error err;
    int rc = zkd_validate_name("service", service, &err);
    if (!rc)
        rc = zkd_instance_set_enabled(u->zk, service, znode, enabled, &err);
    if (rc == ZKD_ENOAUTH) {
        const char *root = zkd_client_root(u->zk);
        char inst[1500], msg[4096];
        snprintf(inst, sizeof inst, "%s/services/%s/%s", strcmp(root, "/") ? root : "", service,
                 znode);
        acl_refused_text(u->ctx, verb, inst, inst, ZKD_PERM_WRITE, msg, sizeof msg);
        ui_reply_error(req, 403, "zkdisc %s: %s", verb, msg);
    } else if (rc) {
        fail(req, verb, rc, &err);
    } else {
        ui_reply_json(req, 200, json_pack("{s:s,s:s,s:b}", "service", service, "znode", znode,
                                          "enabled", enabled));
    }
    json_decref(b);
}

static void rollback(ui *u, struct evhttp_request *req)
{
    json_t *b = ui_body_json(req);
    const char *app = json_string_value(json_object_get(b, "app"));
    json_t *ver = json_object_get(b, "version"), *ifv = json_object_get(b, "ifVersion");
    if (!app || !json_is_integer(ver) || !json_is_integer(ifv) || json_integer_value(ver) < 1 ||
        json_integer_value(ifv) < 1) {
        ui_reply_error(req, 400, "say {\"app\": A, \"version\": N, \"ifVersion\": CURRENT}");
        json_decref(b);
        return;
    }
    zkd_config_publish_opts p;
    zkd_config_publish_opts_init(&p);
    char author[256];
    p.author = cfg_author(u->ctx, author, sizeof author);
    /* Compare-and-set: a publish since the page showed CURRENT wins. */
    p.if_version = json_integer_value(ifv);
    int64_t made = 0;
    zkd_error err;
    int rc = zkd_config_rollback(u->zk, app, json_integer_value(ver), &p, &made, &err);
    if (rc)
        fail(req, "config rollback", rc, &err);
    else
        ui_reply_json(req, 200, json_pack("{s:s,s:I,s:I}", "app", app, "rolledBackTo",
                                          (json_int_t)json_integer_value(ver), "version",
                                          (json_int_t)made));
    json_decref(b);
}

int ui_api_handle(ui *u, struct evhttp_request *req, const char *path, int post)
{
    static const struct {
        const char *path;
        int post;
        void (*fn)(ui *, struct evhttp_request *);
    } routes[] = {
        {"/api/session", 0, session},
        {"/api/tree/children", 0, tree_children},
        {"/api/tree/node", 0, tree_node},
        {"/api/tree/search", 0, tree_search},
        {"/api/config/app", 0, config_app},
        {"/api/config/version", 0, config_version},
        {"/api/service/drain", 1, drain},
        {"/api/config/rollback", 1, rollback},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        if (strcmp(routes[i].path, path))
            continue;
        if (routes[i].post != post)
            ui_reply_error(req, 405, "use %s here", routes[i].post ? "POST" : "GET");
        else
            routes[i].fn(u, req);
        return 1;
    }
    return 0;
}
