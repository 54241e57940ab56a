/* Rate-limited reloads shared by the haproxy and nginx outputs. */
#include <stdlib.h>
#include <time.h>

#include "../agent.h"
#include "../consumers_run.h"
#include "output.h"

int64_t output_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void maybe_run(reloader *r);

static void on_done(int status, const char *why, void *arg)
{
    reloader *r = arg;
    output *o = r->o;
    r->job = NULL;
    if (status != 0) {
        char cmd[256];
        run_describe(o->conf->reload, cmd, sizeof cmd);
        o->stats.reload_failures++;
        agent_log(AGENT_ERROR, "watch %s: %s reload \"%s\" %s", o->watch->service, o->ops->type, cmd, why);
        agent_alert("reload_failed", o->watch->service,
                    json_pack("{s:s,s:s,s:s}", "output", o->ops->type, "command", cmd, "reason", why));
    } else {
        agent_log(AGENT_INFO, "watch %s: %s reloaded", o->watch->service, o->ops->type);
    }
    if (r->after)
        r->after(o, status == 0);
    maybe_run(r);
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
    r->job = run_start(o->base, o->conf->reload, NULL, 0, o->conf->timeout_ms, on_done, r);
    if (!r->job)
        on_done(127, "could not be started", r);
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
    run_cancel(r->job);
    if (r->timer)
        event_free(r->timer);
}
