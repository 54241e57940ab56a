/* SPDX-License-Identifier: Apache-2.0 */
/* command output: runs an argv with the json document on stdin after each
 * change, at most once per min_interval (changes in between coalesce into
 * one run with the latest document), one run at a time. A run that fails
 * (its true exit status is not 0, or it timed out) is logged and counted,
 * and the same document is run again after a backoff (1 s, doubling up to
 * COMMAND_BACKOFF_MAX_MS) at most COMMAND_RETRIES times; a newer document
 * takes the place of the failed one. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../agent.h"
#include "../proc.h"
#include "output.h"

#define COMMAND_RETRIES 5
#define COMMAND_BACKOFF_MS 1000
#define COMMAND_BACKOFF_MAX_MS 30000

typedef struct command_out {
    output base;
    char *pending;     /* a document not yet delivered, or NULL */
    size_t pending_len;
    char *delivered;   /* the last document handed to a run */
    size_t delivered_len;
    char *pending_key, *delivered_key; /* the same, rendered without "updated" */
    proc *job;
    struct event *timer;
    int64_t last_start_ms;
    int failures;      /* consecutive failed runs of the current document */
    int64_t retry_ms;  /* no run before this (backoff after a failure) */
    json_records *records; /* the last render's, reused by the next */
} command_out;

static void schedule(command_out *c);

/* Takes the failed document back as pending (unless a newer one is
 * waiting), or gives it up after COMMAND_RETRIES retries. */
static void retry_later(command_out *c, const char *cmd)
{
    output *o = &c->base;
    if (c->pending) {
        free(c->delivered); /* superseded: the newer document is tried instead */
        free(c->delivered_key);
    } else if (c->failures <= COMMAND_RETRIES) {
        c->pending = c->delivered;
        c->pending_len = c->delivered_len;
        c->pending_key = c->delivered_key;
    } else {
        agent_log(AGENT_ERROR, "watch %s: command output \"%s\" failed %d times; giving up on this set "
                  "until the next change", o->watch->service, cmd, c->failures);
        free(c->delivered);
        free(c->delivered_key);
    }
    c->delivered = c->delivered_key = NULL;
    int64_t backoff = COMMAND_BACKOFF_MS;
    for (int i = 1; i < c->failures && backoff < COMMAND_BACKOFF_MAX_MS; i++)
        backoff *= 2;
    if (backoff > COMMAND_BACKOFF_MAX_MS)
        backoff = COMMAND_BACKOFF_MAX_MS;
    c->retry_ms = output_mono_ms() + backoff;
    if (c->pending)
        agent_log(AGENT_WARN, "watch %s: command output \"%s\": next try in %lld ms", o->watch->service,
                  cmd, (long long)backoff);
}

static void finished(command_out *c, int status, const char *why, const char *out, size_t len)
{
    output *o = &c->base;
    char cmd[256];
    c->job = NULL;
    proc_describe(o->conf->argv, cmd, sizeof cmd);
    if (status == 0) {
        if (c->failures)
            agent_log(AGENT_INFO, "watch %s: command output \"%s\" succeeded after %d failures",
                      o->watch->service, cmd, c->failures);
        c->failures = 0;
        schedule(c);
        return;
    }
    char said[513];
    proc_excerpt(out, len, said, sizeof said);
    o->stats.write_failures++;
    c->failures++;
    agent_log(AGENT_ERROR, "watch %s: command output \"%s\" failed: %s%s%s", o->watch->service, cmd,
              why, *said ? ": " : "", said);
    if (c->failures == 1) /* once per failing streak, not per retry */
        agent_alert("command_failed", o->watch->service,
                    json_pack("{s:s,s:s,s:i,s:s}", "command", cmd, "reason", why, "status", status,
                              "message", said));
    retry_later(c, cmd);
    schedule(c);
}

static void on_done(void *arg, const proc_result *r)
{
    finished(arg, r->code, r->why, r->output, r->len);
}

static void run_now(command_out *c)
{
    output *o = &c->base;
    c->last_start_ms = output_mono_ms();
    free(c->delivered);
    free(c->delivered_key);
    c->delivered = c->pending;
    c->delivered_len = c->pending_len;
    c->delivered_key = c->pending_key;
    c->pending = c->pending_key = NULL;
    o->stats.writes++;
    char err[512];
    proc_spec spec = {.argv = o->conf->argv, .input = c->delivered, .input_len = c->delivered_len,
                      .timeout_ms = o->conf->timeout_ms};
    c->job = proc_start(&spec, on_done, c, err, sizeof err);
    if (!c->job)
        finished(c, 127, err, "", 0);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    schedule(arg);
}

static void schedule(command_out *c)
{
    if (!c->pending || c->job || evtimer_pending(c->timer, NULL))
        return;
    int64_t at = c->last_start_ms ? c->last_start_ms + c->base.conf->min_interval_ms : 0;
    if (c->failures && c->retry_ms > at)
        at = c->retry_ms;
    int64_t wait = at - output_mono_ms();
    if (wait <= 0) {
        run_now(c);
        return;
    }
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}

static output *command_open(struct event_base *base, const watch_conf *w, const out_conf *conf)
{
    command_out *c = calloc(1, sizeof *c);
    output_init(&c->base, &output_command_ops, base, w, conf);
    c->timer = evtimer_new(base, on_timer, c);
    return &c->base;
}

static void drop_pending(command_out *c)
{
    free(c->pending);
    free(c->pending_key);
    c->pending = c->pending_key = NULL;
}

/* A set that changed and changed back before its run (a drain and undrain
 * within min_interval, or while a run is under way) is the set the command
 * already has: only "updated" would differ, and running it again would
 * deliver the same set twice in a row. */
static void command_update(output *o, const watch_view *v)
{
    command_out *c = (command_out *)o;
    watch_view same = *v;
    same.updated_ms = 0;
    size_t len, klen;
    char *key = output_render_json(&same, &klen, &c->records);
    if ((c->pending_key && !strcmp(key, c->pending_key)) || (c->delivered_key && !strcmp(key, c->delivered_key))) {
        if (c->pending_key && strcmp(key, c->pending_key))
            drop_pending(c); /* back to what the command has */
        free(key);
        return;
    }
    drop_pending(c);
    c->pending = output_render_json(v, &len, &c->records);
    c->pending_len = len;
    c->pending_key = key;
    if (c->failures)
        c->failures = 1; /* a new document gets its own retries, still after a backoff */
    schedule(c);
}

static void command_close(output *o)
{
    command_out *c = (command_out *)o;
    proc_kill(c->job);
    event_free(c->timer);
    drop_pending(c);
    free(c->delivered);
    free(c->delivered_key);
    output_json_records_free(c->records);
    free(c);
}

const output_ops output_command_ops = {"command", command_open, command_update, NULL, command_close};
