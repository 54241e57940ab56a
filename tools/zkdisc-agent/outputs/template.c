/* SPDX-License-Identifier: Apache-2.0 */
/* The template output (template.h): each template rendered from the one
 * data model (template_data.h) when it changed, and applied through
 * check_cmd, an atomic write and on_change, one step at a time. */
#include "template.h"

#include <errno.h>
#include <libgen.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../agent.h"
#include "core/atomic_file.h"
#include "../proc.h"
#include "mustache.h"
#include "output.h"
#include "template_data.h"

#define FILE_MAX (16u << 20)

enum { S_IDLE, S_CHECK, S_HOOK, S_RESTORE };

typedef struct tmpl {
    tmpls *owner;
    const tmpl_conf *c;
    zkd_mustache *m;
    char *dir;            /* where partials are read */
    unsigned gen;         /* the model generation last rendered */
    char *refused;        /* a render check_cmd or on_change refused: not tried again */
    size_t refused_len;
    char *pending;        /* a render waiting for min_interval or for the running step */
    size_t pending_len;
    char *text;           /* the render being applied */
    size_t len;
    int stage;
    proc *job;
    char tmp[4096];       /* check_cmd's file */
    char *previous;       /* the destination before this write */
    long previous_len;    /* -1: there was none */
    int64_t last_ms;      /* when the last apply started (monotonic) */
    struct event *timer;
    char *render_err;     /* the last render error, logged once */
    uint64_t writes, failures, restores;
} tmpl;

struct tmpls {
    struct event_base *base;
    tmpl *v;
    int n;
    tmpl_data *data;
};

/* ---- applying a render ---- */

static void kick(tmpl *t);

static void fail_alert(tmpl *t, const char *stage, const char *reason, int restored)
{
    t->failures++;
    agent_alert("config_apply_failed", t->c->destination,
                json_pack("{s:s,s:s,s:s,s:s,s:b}", "template", t->c->source, "path", t->c->destination,
                          "stage", stage, "reason", reason, "restored", restored));
}

/* The render in t->text is refused: remembered so that the same bytes are
 * not tried again. */
static void refuse(tmpl *t)
{
    free(t->refused);
    t->refused = t->text;
    t->refused_len = t->len;
    t->text = NULL;
}

static void step_done(tmpl *t)
{
    t->stage = S_IDLE;
    free(t->text);
    t->text = NULL;
    free(t->previous);
    t->previous = NULL;
    kick(t);
}

static void run(tmpl *t, char **argv, int stage, proc_result_fn done);

static void hook_done(void *arg, const proc_result *r)
{
    tmpl *t = arg;
    t->job = NULL;
    char said[513], reason[768];
    proc_excerpt(r->output, r->len, said, sizeof said);
    snprintf(reason, sizeof reason, "on_change %s%s%s", r->why, *said ? ": " : "", said);
    if (t->stage == S_RESTORE) {
        agent_log(r->code ? AGENT_ERROR : AGENT_INFO, "template %s: on_change %s on the restored file%s%s",
                  t->c->destination, r->code ? "failed" : "ran", r->code ? ": " : "", r->code ? reason : "");
        step_done(t);
        return;
    }
    if (r->code == 0) {
        agent_log(AGENT_INFO, "template %s: written and on_change ran", t->c->destination);
        step_done(t);
        return;
    }
    char err[512] = "";
    int rc = t->previous_len >= 0 ? zkd__atomic_file_write(t->c->destination, t->previous, (size_t)t->previous_len,
                                                            t->c->mode, &t->c->owner, err, sizeof err)
                                  : unlink(t->c->destination);
    t->restores += rc >= 0;
    agent_log(AGENT_ERROR, "template %s: %s; %s", t->c->destination, reason,
              rc < 0 ? "the previous file could not be put back"
              : t->previous_len >= 0 ? "the previous file is back, on_change runs again"
                                     : "the file is removed (there was none before)");
    fail_alert(t, "on_change", reason, rc >= 0);
    refuse(t);
    if (rc >= 0 && t->previous_len >= 0) {
        run(t, t->c->on_change, S_RESTORE, hook_done);
        return;
    }
    step_done(t);
}

/* Replaces the destination with t->text, then on_change. */
static void commit(tmpl *t)
{
    char err[512];
    free(t->previous);
    t->previous = NULL;
    t->previous_len = zkd__atomic_file_read(t->c->destination, FILE_MAX, &t->previous);
    int rc = zkd__atomic_file_write(t->c->destination, t->text, t->len, t->c->mode, &t->c->owner, err, sizeof err);
    if (rc < 0) {
        agent_log(AGENT_ERROR, "template %s: %s", t->c->destination, err);
        fail_alert(t, "write", err, 0);
        /* retried after min_interval: a full disk may clear */
        free(t->pending);
        t->pending = t->text;
        t->pending_len = t->len;
        t->text = NULL;
        step_done(t);
        return;
    }
    if (rc == 0) {
        step_done(t);
        return;
    }
    t->writes++;
    if (!t->c->on_change) {
        agent_log(AGENT_INFO, "template %s: written", t->c->destination);
        step_done(t);
        return;
    }
    run(t, t->c->on_change, S_HOOK, hook_done);
}

static void check_done(void *arg, const proc_result *r)
{
    tmpl *t = arg;
    t->job = NULL;
    unlink(t->tmp);
    if (r->code == 0) {
        commit(t);
        return;
    }
    char said[513], reason[1200], cmd[256];
    proc_excerpt(r->output, r->len, said, sizeof said);
    proc_describe(t->c->check_cmd, cmd, sizeof cmd);
    snprintf(reason, sizeof reason, "check_cmd \"%s\" %s%s%s", cmd, r->why, *said ? ": " : "", said);
    agent_log(AGENT_ERROR, "template %s: %s; the previous file stays", t->c->destination, reason);
    fail_alert(t, "check_cmd", reason, 1);
    refuse(t);
    step_done(t);
}

/* `s` with every "{{path}}" and "%s" replaced by `path`. */
static char *with_path(const char *s, const char *path)
{
    size_t cap = strlen(s) + 1, pl = strlen(path);
    for (const char *p = s; (p = strstr(p, "%s")); p += 2)
        cap += pl;
    for (const char *p = s; (p = strstr(p, "{{path}}")); p += 8)
        cap += pl;
    char *o = malloc(cap), *w = o;
    while (*s) {
        size_t skip = !strncmp(s, "{{path}}", 8) ? 8 : !strncmp(s, "%s", 2) ? 2 : 0;
        if (skip) {
            memcpy(w, path, pl);
            w += pl;
            s += skip;
        } else {
            *w++ = *s++;
        }
    }
    *w = 0;
    return o;
}

static void run(tmpl *t, char **argv, int stage, proc_result_fn done)
{
    char err[512];
    char **args = argv;
    if (stage == S_CHECK) {
        size_t n = 0;
        while (argv[n])
            n++;
        args = calloc(n + 1, sizeof *args);
        for (size_t k = 0; k < n; k++)
            args[k] = with_path(argv[k], t->tmp);
    }
    t->stage = stage;
    proc_spec spec = {.argv = args, .timeout_ms = t->c->timeout_ms};
    t->job = proc_start(&spec, done, t, err, sizeof err);
    if (args != argv) {
        for (char **a = args; *a; a++)
            free(*a);
        free(args);
    }
    if (!t->job) {
        proc_result r = {.code = 127, .why = err, .output = "", .len = 0};
        done(t, &r);
    }
}

/* Writes t->text to a temporary file beside the destination for check_cmd. */
static void check(tmpl *t)
{
    snprintf(t->tmp, sizeof t->tmp, "%s.check-XXXXXX", t->c->destination);
    int fd = mkstemp(t->tmp);
    size_t off = 0;
    while (fd >= 0 && off < t->len) {
        ssize_t w = write(fd, t->text + off, t->len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (fd < 0 || off < t->len) {
        char reason[4200];
        snprintf(reason, sizeof reason, "cannot write %s: %s", t->tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(t->tmp);
        }
        agent_log(AGENT_ERROR, "template %s: %s", t->c->destination, reason);
        fail_alert(t, "check_cmd", reason, 1);
        step_done(t);
        return;
    }
    fchmod(fd, t->c->mode);
    close(fd);
    run(t, t->c->check_cmd, S_CHECK, check_done);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    kick(arg);
}

/* Starts applying the pending render when nothing runs and min_interval
 * has passed since the last apply. */
static void kick(tmpl *t)
{
    if (t->job || t->stage != S_IDLE || !t->pending || evtimer_pending(t->timer, NULL))
        return;
    char *cur = NULL;
    long n = zkd__atomic_file_read(t->c->destination, FILE_MAX, &cur);
    int same = n >= 0 && (size_t)n == t->pending_len && !memcmp(cur, t->pending, t->pending_len);
    free(cur);
    if (same) { /* identical bytes: no write, no check, no reload */
        free(t->pending);
        t->pending = NULL;
        return;
    }
    int64_t now = output_mono_ms(), wait = t->last_ms + t->c->min_interval_ms - now;
    if (t->last_ms && wait > 0) {
        struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
        evtimer_add(t->timer, &tv);
        return;
    }
    t->last_ms = now;
    t->text = t->pending;
    t->len = t->pending_len;
    t->pending = NULL;
    if (t->c->check_cmd)
        check(t);
    else
        commit(t);
}

/* The model as one template sees it: its `vars` at the root, and
 * vars.services.NAME also as services.NAME.vars (so a loop over
 * service_list reaches each service's own settings, such as a port). */
static json_t *with_vars(json_t *model, json_t *vars)
{
    if (!json_object_size(vars))
        return json_incref(model);
    json_t *root = json_copy(model);
    json_object_set(root, "vars", vars);
    json_t *per = json_object_get(vars, "services");
    if (!json_is_object(per))
        return root;
    json_t *services = json_copy(json_object_get(model, "services")), *list = json_array(), *e;
    size_t k;
    json_array_foreach(json_object_get(model, "service_list"), k, e) {
        json_t *sv = json_object_get(per, json_string_value(json_object_get(e, "name")));
        if (!sv) {
            json_array_append(list, e);
            continue;
        }
        json_t *c = json_copy(e);
        json_object_set(c, "vars", sv);
        json_object_set(services, json_string_value(json_object_get(e, "name")), c);
        json_array_append_new(list, c);
    }
    json_object_set_new(root, "services", services);
    json_object_set_new(root, "service_list", list);
    return root;
}

static void render(tmpl *t, json_t *model)
{
    char err[512], *text = NULL;
    size_t len = 0;
    json_t *root = with_vars(model, t->c->vars);
    int rc = zkd_mustache_render(t->m, root, (zkd_mustache_escape)t->c->escape, zkd_mustache_load_dir, t->dir,
                                 &text, &len, err, sizeof err);
    json_decref(root);
    if (rc < 0) {
        if (!t->render_err || strcmp(t->render_err, err)) {
            agent_log(AGENT_ERROR, "template %s: %s: %s", t->c->destination, t->c->source, err);
            fail_alert(t, "render", err, 1);
            free(t->render_err);
            t->render_err = strdup(err);
        }
        return;
    }
    free(t->render_err);
    t->render_err = NULL;
    if (t->refused && len == t->refused_len && !memcmp(text, t->refused, len)) {
        free(text);
        return;
    }
    free(t->pending);
    t->pending = text;
    t->pending_len = len;
    kick(t);
}

void tmpls_refresh(tmpls *ts, watch_set *const *sets, int nsets)
{
    if (!ts || !ts->n)
        return;
    unsigned gen = 0;
    json_t *model = tmpl_data_get(ts->data, sets, nsets, &gen);
    for (int i = 0; model && i < ts->n; i++)
        if (ts->v[i].gen != gen) {
            ts->v[i].gen = gen;
            render(&ts->v[i], model);
        }
}

/* ---- life cycle ---- */


static int open_one(tmpls *ts, tmpl *t, const tmpl_conf *c, struct evbuffer *errors)
{
    t->owner = ts;
    t->c = c;
    t->previous_len = -1;
    t->timer = evtimer_new(ts->base, on_timer, t);
    char *text = NULL, err[256];
    if (zkd__atomic_file_read(c->source, FILE_MAX, &text) < 0) {
        evbuffer_add_printf(errors, "templates: cannot read %s: %s\n", c->source, strerror(errno));
        return -1;
    }
    int rc = zkd_mustache_compile(text, strlen(text), &t->m, err, sizeof err);
    free(text);
    if (rc < 0) {
        evbuffer_add_printf(errors, "templates: %s: %s\n", c->source, err);
        return -1;
    }
    char *copy = strdup(c->source);
    t->dir = strdup(dirname(copy));
    free(copy);
    return 0;
}

tmpls *tmpls_start(struct event_base *base, zkd_client *zk, const tmpl_conf *c, int n, int wake_fd,
                   struct evbuffer *errors)
{
    tmpls *ts = calloc(1, sizeof *ts);
    ts->base = base;
    ts->v = calloc((size_t)n + 1, sizeof *ts->v);
    for (int i = 0; i < n; i++) {
        ts->n = i + 1;
        if (open_one(ts, &ts->v[i], &c[i], errors) < 0) {
            tmpls_stop(ts);
            return NULL;
        }
    }
    if (!(ts->data = tmpl_data_open(zk, c, n, wake_fd, errors))) {
        tmpls_stop(ts);
        return NULL;
    }
    return ts;
}

void tmpls_metrics(const tmpls *ts, struct evbuffer *out)
{
    if (!ts || !ts->n)
        return;
    static const struct { const char *name, *help; size_t off; } m[] = {
        {"zkdisc_agent_template_writes_total", "Template renders written to their destination.",
         offsetof(tmpl, writes)},
        {"zkdisc_agent_template_failures_total", "Template renders refused (render, check_cmd, write, on_change).",
         offsetof(tmpl, failures)},
        {"zkdisc_agent_template_restores_total", "Destinations put back after a failed on_change.",
         offsetof(tmpl, restores)},
    };
    for (size_t k = 0; k < sizeof m / sizeof *m; k++) {
        evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s counter\n", m[k].name, m[k].help, m[k].name);
        for (int i = 0; i < ts->n; i++)
            evbuffer_add_printf(out, "%s{destination=\"%s\"} %llu\n", m[k].name, ts->v[i].c->destination,
                                (unsigned long long)*(const uint64_t *)((const char *)&ts->v[i] + m[k].off));
    }
}

void tmpls_stop(tmpls *ts)
{
    if (!ts)
        return;
    for (int i = 0; i < ts->n; i++) {
        tmpl *t = &ts->v[i];
        if (t->job && t->stage == S_CHECK)
            unlink(t->tmp);
        proc_kill(t->job);
        if (t->timer)
            event_free(t->timer);
        zkd_mustache_free(t->m);
        free(t->dir);
        free(t->refused);
        free(t->pending);
        free(t->text);
        free(t->previous);
        free(t->render_err);
    }
    tmpl_data_close(ts->data);
    free(ts->v);
    free(ts);
}
