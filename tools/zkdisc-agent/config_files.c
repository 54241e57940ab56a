/* SPDX-License-Identifier: Apache-2.0 */
/* config_files (see config_files.h): what confd does, over zkdisc's
 * versioned configuration. Each entry holds a config watch; its callback
 * (library thread) only marks the entry and wakes the loop. On the loop, a
 * new version (its checksum verified by the library when it read the
 * envelope: a mismatch is never delivered) is rendered in the entry's
 * format and written atomically; then on_change runs. If on_change fails,
 * the previous file is put back, on_change runs again so the app goes back
 * to it, and config_apply_failed is alerted; the version stays published in
 * ZooKeeper and is not tried again (not by a SIGHUP either: cfiles_carry),
 * and the next version is tried afresh. While ZooKeeper is down the watch serves the last version, so the
 * file keeps the last verified one. An app that does not exist yet is
 * waited for, logged once. */
#include "config_files.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "proc.h"

typedef struct cfile {
    cfiles *owner;
    const cfile_conf *c;
    zkd_config_watch *w;
    atomic_int dirty;
    int64_t applied;      /* the version last handled (written, or refused) */
    int waiting_logged;
    proc *job;
    int64_t job_version;
    int restoring;        /* job is on_change run again on the restored file */
    char *previous;       /* the file before this version's write; NULL: there was none */
    size_t previous_len;
    int carried_hook;     /* a SIGHUP killed the old entry's on_change: run it even on an unchanged file */
} cfile;

struct cfiles {
    struct event_base *base;
    int wake_fd;
    cfile *files;
    int n;
    uint64_t writes, restores, failures;
};

static void on_version(zkd_config_watch *w, const zkd_config_version *v, uint64_t skipped, void *ctx)
{
    (void)w;
    (void)v;
    (void)skipped;
    cfile *f = ctx;
    if (!atomic_exchange(&f->dirty, 1))
        (void)!write(f->owner->wake_fd, "c", 1);
}

/* ---- the env format ------------------------------------------------------------- */

/* One value, one line. Double quotes with a backslash before " \ $ and `,
 * which bash (`set -a; . FILE`) and systemd's EnvironmentFile= read alike;
 * a value holding a newline or another control character is written in
 * bash's $'...' form instead, so that it stays on its line and reads back
 * exactly (in bash; systemd has no spelling for a newline on one line). */
static void env_value(struct evbuffer *b, const char *s)
{
    int ctl = 0;
    for (const char *p = s; *p; p++)
        ctl |= (unsigned char)*p < 0x20 || *p == 0x7f;
    evbuffer_add(b, ctl ? "$'" : "\"", ctl ? 2 : 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!ctl && strchr("\"\\$`", c))
            evbuffer_add_printf(b, "\\%c", c);
        else if (ctl && (c == '\\' || c == '\''))
            evbuffer_add_printf(b, "\\%c", c);
        else if (ctl && c == '\n')
            evbuffer_add(b, "\\n", 2);
        else if (ctl && (c < 0x20 || c == 0x7f))
            evbuffer_add_printf(b, "\\x%02x", c);
        else
            evbuffer_add(b, s, 1);
    }
    evbuffer_add(b, ctl ? "'\n" : "\"\n", 2);
}

/* The shortest text that reads back to d (0.1, not 0.10000000000000001):
 * the library's config formatter's rule, in %g spelling. */
static void env_number(double d, char *out, size_t len)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(out, len, "%.*g", p, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

/* KEY="value" for every scalar, nested keys joined with '_', upper-cased,
 * other characters as '_'; arrays are left out (no flat spelling). */
static void env_lines(struct evbuffer *b, const char *prefix, json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        char key[512];
        snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "_" : "", k);
        for (char *c = key; *c; c++)
            *c = isalnum((unsigned char)*c) ? (char)toupper((unsigned char)*c) : '_';
        if (isdigit((unsigned char)key[0]))
            memmove(key + 1, key, strlen(key) + 1), key[0] = '_';
        char num[64];
        switch (json_typeof(v)) {
        case JSON_OBJECT:
            env_lines(b, key, v);
            continue;
        case JSON_ARRAY:
            continue;
        case JSON_STRING:
            evbuffer_add_printf(b, "%s=", key);
            env_value(b, json_string_value(v));
            continue;
        case JSON_INTEGER:
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            break;
        case JSON_REAL:
            env_number(json_real_value(v), num, sizeof num);
            break;
        case JSON_TRUE:
            strcpy(num, "true");
            break;
        case JSON_FALSE:
            strcpy(num, "false");
            break;
        case JSON_NULL:
            num[0] = '\0';
            break;
        }
        evbuffer_add_printf(b, "%s=", key);
        env_value(b, num);
    }
}

/* The document in the entry's format; malloc'd, NULL with a message. */
static char *render(const cfile *f, const char *json, size_t *len, char *err, size_t errlen)
{
    char *text = NULL;
    zkd_error zerr;
    if (f->c->format == CFILE_ENV) {
        json_error_t jerr;
        json_t *doc = json_loads(json, 0, &jerr);
        if (!doc) {
            snprintf(err, errlen, "%s", jerr.text);
            return NULL;
        }
        struct evbuffer *b = evbuffer_new();
        evbuffer_add_printf(b, "# written by zkdisc-agent from config app %s; do not edit\n", f->c->app);
        env_lines(b, "", doc);
        json_decref(doc);
        *len = evbuffer_get_length(b);
        text = malloc(*len + 1);
        evbuffer_remove(b, text, *len);
        text[*len] = '\0';
        evbuffer_free(b);
        return text;
    }
    zkd_config_format fmt = f->c->format == CFILE_LIBCONFIG ? ZKD_CONFIG_LIBCONFIG : ZKD_CONFIG_JSON;
    if (zkd_config_render(json, strlen(json), fmt, &text, &zerr) != 0) {
        snprintf(err, errlen, "%s", zerr.message);
        return NULL;
    }
    *len = strlen(text);
    char *copy = strdup(text);
    zkd_free(text);
    return copy;
}

/* ---- applying a version ------------------------------------------------------------ */

static void run_on_change(cfile *f);

/* Puts the previous file back; 1 when there is one to run on_change on. */
static int restore(cfile *f, const char *why)
{
    char err[512] = "";
    int rc = f->previous ? zkd__atomic_file_write(f->c->path, f->previous, f->previous_len, f->c->mode,
                                                   &f->c->owner, err, sizeof err)
                         : unlink(f->c->path);
    if (rc < 0 && !f->previous)
        snprintf(err, sizeof err, "cannot remove %s: %s", f->c->path, strerror(errno));
    f->owner->failures++;
    if (rc >= 0)
        f->owner->restores++;
    agent_log(AGENT_ERROR, "config_files %s: version %lld not applied (%s); %s", f->c->app,
              (long long)f->job_version, why,
              rc >= 0 ? (f->previous ? "previous file restored, on_change runs again"
                                     : "file removed (there was none before)")
                      : err);
    agent_alert("config_apply_failed", f->c->app,
                json_pack("{s:s,s:I,s:s,s:b,s:s}", "path", f->c->path, "version", (json_int_t)f->job_version,
                          "reason", why, "restored", rc >= 0,
                          "note", "the version stays published in ZooKeeper; this host keeps the previous file"));
    return rc >= 0 && f->previous;
}

/* `status` is on_change's exit code (127: not started). */
static void on_change_finished(cfile *f, int status, const char *why, const char *out, size_t len)
{
    f->job = NULL;
    char said[513], reason[768];
    proc_excerpt(out, len, said, sizeof said);
    snprintf(reason, sizeof reason, "on_change %s%s%s", why, *said ? ": " : "", said);
    if (f->restoring) {
        f->restoring = 0;
        if (status != 0)
            agent_log(AGENT_ERROR, "config_files %s: on_change failed on the restored file too: %s",
                      f->c->app, reason);
        else
            agent_log(AGENT_INFO, "config_files %s: on_change ran on the restored file", f->c->app);
    } else if (status != 0) {
        if (restore(f, reason)) {
            f->restoring = 1;
            run_on_change(f);
            return;
        }
    } else {
        agent_log(AGENT_INFO, "config_files %s: version %lld applied to %s", f->c->app,
                  (long long)f->job_version, f->c->path);
    }
    free(f->previous);
    f->previous = NULL;
    if (!atomic_exchange(&f->dirty, 1))
        (void)!write(f->owner->wake_fd, "c", 1); /* a version may have come meanwhile */
}

static void on_change_done(void *arg, const proc_result *r)
{
    on_change_finished(arg, r->code, r->why, r->output, r->len);
}

static void run_on_change(cfile *f)
{
    char err[512];
    proc_spec spec = {.argv = f->c->on_change, .timeout_ms = f->c->timeout_ms};
    f->job = proc_start(&spec, on_change_done, f, err, sizeof err);
    if (!f->job)
        on_change_finished(f, 127, err, "", 0);
}

static void apply(cfile *f)
{
    zkd_config_version *v = zkd_config_watch_current(f->w);
    if (!v) {
        if (!f->waiting_logged)
            agent_log(AGENT_INFO, "config_files %s: no such app yet; waiting for its first version", f->c->app);
        f->waiting_logged = 1;
        return;
    }
    f->waiting_logged = 0;
    int64_t num = zkd_config_version_number(v);
    if (num == f->applied) {
        zkd_config_version_unref(v);
        return;
    }
    char err[512];
    size_t len = 0;
    char *text = render(f, zkd_config_version_json(v), &len, err, sizeof err);
    zkd_config_version_unref(v);
    f->applied = num;
    if (!text) {
        f->owner->failures++;
        agent_log(AGENT_ERROR, "config_files %s: version %lld cannot be written as %s: %s", f->c->app,
                  (long long)num, f->c->path, err);
        agent_alert("config_apply_failed", f->c->app,
                    json_pack("{s:s,s:I,s:s}", "path", f->c->path, "version", (json_int_t)num, "reason", err));
        return;
    }
    char *prev = NULL;
    long plen = zkd__atomic_file_read(f->c->path, 64 << 20, &prev);
    int rc = zkd__atomic_file_write(f->c->path, text, len, f->c->mode, &f->c->owner, err, sizeof err);
    free(text);
    if (f->carried_hook && f->c->on_change) {
        /* The file was written by the entry a SIGHUP replaced, whose
         * on_change was killed: run it now, with that entry's previous file. */
        f->carried_hook = 0;
        if (rc == 0) {
            free(prev);
            prev = f->previous;
            plen = prev ? (long)f->previous_len : -1;
            f->previous = NULL;
            rc = 1;
        }
    }
    if (rc <= 0) {
        free(prev);
        if (rc < 0) {
            f->applied = 0; /* retried on the next tick */
            f->owner->failures++;
            agent_log(AGENT_ERROR, "config_files %s: %s", f->c->app, err);
        }
        return;
    }
    f->owner->writes++;
    if (!f->c->on_change) {
        free(prev);
        agent_log(AGENT_INFO, "config_files %s: version %lld written to %s", f->c->app, (long long)num, f->c->path);
        return;
    }
    f->previous = plen >= 0 ? prev : NULL;
    f->previous_len = plen >= 0 ? (size_t)plen : 0;
    if (plen < 0)
        free(prev);
    f->job_version = num;
    run_on_change(f);
}

cfiles *cfiles_start(struct event_base *base, zkd_client *zk, const cfile_conf *files, int n,
                     int wake_fd, struct evbuffer *errors)
{
    cfiles *cf = calloc(1, sizeof *cf);
    cf->base = base;
    cf->wake_fd = wake_fd;
    cf->files = calloc((size_t)n + 1, sizeof *cf->files);
    for (int i = 0; i < n; i++) {
        cfile *f = &cf->files[i];
        f->owner = cf;
        f->c = &files[i];
        zkd_error err;
        if (zkd_config_watch_open(zk, files[i].app, on_version, f, &f->w, &err)) {
            evbuffer_add_printf(errors, "config_files %s: %s\n", files[i].app, err.message);
            cfiles_stop(cf);
            return NULL;
        }
        cf->n++;
        atomic_store(&f->dirty, 1);
    }
    return cf;
}

static int same_argv(char *const *a, char *const *b)
{
    for (; a && b && *a && *b; a++, b++)
        if (strcmp(*a, *b))
            return 0;
    return (!a || !*a) && (!b || !*b);
}

void cfiles_carry(cfiles *to, const cfiles *from)
{
    for (int i = 0; to && from && i < to->n; i++) {
        cfile *t = &to->files[i];
        for (int j = 0; j < from->n; j++) {
            const cfile *f = &from->files[j];
            if (!strcmp(t->c->app, f->c->app) && !strcmp(t->c->path, f->c->path) &&
                t->c->format == f->c->format && same_argv(t->c->on_change, f->c->on_change)) {
                if (!f->job) {
                    t->applied = f->applied;
                } else if (!f->restoring) {
                    /* its on_change is killed with the old entry: the
                     * version is handled again, the hook run even though
                     * the file is already written */
                    t->carried_hook = 1;
                    if (f->previous && (t->previous = malloc(f->previous_len + 1))) {
                        memcpy(t->previous, f->previous, f->previous_len);
                        t->previous_len = f->previous_len;
                    }
                }
                break;
            }
        }
    }
}

void cfiles_refresh(cfiles *cf)
{
    for (int i = 0; cf && i < cf->n; i++) {
        cfile *f = &cf->files[i];
        if (!f->job && (atomic_exchange(&f->dirty, 0) || f->applied == 0))
            apply(f);
    }
}

void cfiles_metrics(const cfiles *cf, struct evbuffer *out)
{
    if (!cf)
        return;
    evbuffer_add_printf(out,
                        "# HELP zkdisc_agent_config_file_writes_total Config files written with a new version.\n"
                        "# TYPE zkdisc_agent_config_file_writes_total counter\n"
                        "zkdisc_agent_config_file_writes_total %llu\n"
                        "# HELP zkdisc_agent_config_file_failures_total Versions not applied (render, write or on_change failed).\n"
                        "# TYPE zkdisc_agent_config_file_failures_total counter\n"
                        "zkdisc_agent_config_file_failures_total %llu\n"
                        "# HELP zkdisc_agent_config_file_restores_total Files put back after a failed on_change.\n"
                        "# TYPE zkdisc_agent_config_file_restores_total counter\n"
                        "zkdisc_agent_config_file_restores_total %llu\n",
                        (unsigned long long)cf->writes, (unsigned long long)cf->failures,
                        (unsigned long long)cf->restores);
}

void cfiles_stop(cfiles *cf)
{
    if (!cf)
        return;
    for (int i = 0; i < cf->n; i++) {
        zkd_config_watch_close(cf->files[i].w);
        proc_kill(cf->files[i].job);
        free(cf->files[i].previous);
    }
    free(cf->files);
    free(cf);
}
