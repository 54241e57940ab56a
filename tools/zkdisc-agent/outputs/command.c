/* command output: runs an argv with the json document on stdin after each
 * change, at most once per min_interval (changes in between coalesce into
 * one run with the latest document), one run at a time. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../agent.h"
#include "../consumers_run.h"
#include "output.h"

typedef struct command_out {
    output base;
    char *pending;     /* a document not yet delivered, or NULL */
    size_t pending_len;
    char *delivered;   /* the last document handed to a run */
    run_job *job;
    struct event *timer;
    int64_t last_start_ms;
} command_out;

static void schedule(command_out *c);

static void on_done(int status, const char *why, void *arg)
{
    command_out *c = arg;
    output *o = &c->base;
    c->job = NULL;
    if (status != 0) {
        char cmd[256];
        run_describe(o->conf->argv, cmd, sizeof cmd);
        o->stats.write_failures++;
        agent_log(AGENT_ERROR, "watch %s: command output \"%s\" %s", o->watch->service, cmd, why);
        agent_alert("command_failed", o->watch->service,
                    json_pack("{s:s,s:s,s:i}", "command", cmd, "reason", why, "status", status));
        /* Retried with the next change: forget what it was given. */
        free(c->delivered);
        c->delivered = NULL;
    }
    schedule(c);
}

static void run_now(command_out *c)
{
    output *o = &c->base;
    c->last_start_ms = output_mono_ms();
    free(c->delivered);
    c->delivered = c->pending;
    c->pending = NULL;
    o->stats.writes++;
    c->job = run_start(o->base, o->conf->argv, c->delivered, c->pending_len, o->conf->timeout_ms,
                       on_done, c);
    if (!c->job)
        on_done(127, "could not be started", c);
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
    int64_t wait = c->last_start_ms + c->base.conf->min_interval_ms - output_mono_ms();
    if (c->last_start_ms == 0 || wait <= 0) {
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

static void command_update(output *o, const watch_view *v)
{
    command_out *c = (command_out *)o;
    size_t len;
    char *doc = output_render_json(v, &len);
    if ((c->delivered && !c->pending && !strcmp(doc, c->delivered)) ||
        (c->pending && !strcmp(doc, c->pending))) {
        free(doc);
        return;
    }
    free(c->pending);
    c->pending = doc;
    c->pending_len = len;
    schedule(c);
}

static void command_close(output *o)
{
    command_out *c = (command_out *)o;
    run_cancel(c->job);
    event_free(c->timer);
    free(c->pending);
    free(c->delivered);
    free(c);
}

const output_ops output_command_ops = {"command", command_open, command_update, NULL, command_close};
