/* SPDX-License-Identifier: Apache-2.0 */
/* Rate-limited reloads shared by the haproxy and nginx outputs. */
#include <stdlib.h>
#include <time.h>

#include "../agent.h"
#include "../proc.h"
#include "output.h"

int64_t output_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void maybe_run(reloader *r);

/* `status` is the reload's exit code (127: not started); `text` what it
 * printed, for the log. */
static void finished(reloader *r, int status, const char *why, const char *text, size_t len)
{
    output *o = r->o;
    r->job = NULL;
    r->failed = status != 0;
    if (status != 0) {
        char cmd[256];
        proc_describe(o->conf->reload, cmd, sizeof cmd);
        char said[513];
        proc_excerpt(text, len, said, sizeof said);
        o->stats.reload_failures++;
        agent_log(AGENT_ERROR, "watch %s: %s reload \"%s\" failed: %s%s%s", o->watch->service,
                  o->ops->type, cmd, why, *said ? ": " : "", said);
        agent_alert("reload_failed", o->watch->service,
                    json_pack("{s:s,s:s,s:s,s:i,s:s}", "output", o->ops->type, "command", cmd, "reason", why,
                              "status", status, "message", said));
    } else {
        agent_log(AGENT_INFO, "watch %s: %s reloaded", o->watch->service, o->ops->type);
    }
    if (r->after)
        r->after(o, status == 0);
    maybe_run(r);
}

static void on_done(void *arg, const proc_result *res)
{
    finished(arg, res->code, res->why, res->output, res->len);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    maybe_run(arg);
}

static void maybe_run(reloader *r)
{
    output *o = r->o;
    if (!r->pending || r->job || evtimer_pending(r->timer, NULL))
        return;
    int64_t wait = r->last_ms + o->conf->min_reload_interval_ms - output_mono_ms();
    if (r->last_ms && wait > 0) {
        struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
        evtimer_add(r->timer, &tv);
        return;
    }
    r->pending = 0;
    r->last_ms = output_mono_ms();
    o->stats.reloads++;
    char err[512];
    proc_spec spec = {.argv = o->conf->reload, .timeout_ms = o->conf->timeout_ms};
    r->job = proc_start(&spec, on_done, r, err, sizeof err);
    if (!r->job)
        finished(r, 127, err, "", 0);
}

void reloader_init(reloader *r, output *o)
{
    r->o = o;
    r->timer = evtimer_new(o->base, on_timer, r);
}

void reloader_request(reloader *r)
{
    if (!r->o->conf->reload)
        return;
    r->pending = 1;
    maybe_run(r);
}

void reloader_close(reloader *r)
{
    proc_kill(r->job);
    if (r->timer)
        event_free(r->timer);
}
