/* SPDX-License-Identifier: Apache-2.0 */
/* Running checks and services (see health.h). */
#include "health.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "alerts.h"
#include "checks/check.h"
#include "log.h"

static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

struct check {
    service *svc;
    const check_conf *conf;
    struct event *tick;     /* the next probe */
    struct event *deadline; /* the probe's timeout; for ttl, the silence limit */
    void *run_state;
    int running;
    double started;
    check_status status;
    int ok_streak, fail_streak;
    int failed_once; /* a critical result seen: recovering is news */
    char note[PROC_NOTE_MAX + 1];
    int64_t last_run_ms; /* realtime, 0 before the first result */
    int64_t changed_ms;  /* realtime of the last status change, 0: none seen */
    double last_duration;
    uint64_t hist[NBUCKETS];
    uint64_t hist_count;
    double hist_sum;
};

struct service {
    const service_conf *conf;
    struct event_base *base;
    check *checks;
    size_t n;
    int maint;
    char *maint_reason;
    service_changed_fn changed;
    void *ctx;
    publish_want last_want;
};

static void (*state_changed)(void);

void health_on_state_change(void (*fn)(void))
{
    state_changed = fn;
}

/* What is kept in state_dir: streaks past rise/fall say nothing more, so a
 * steady check never changes it (and costs no write). */
typedef struct kept_state {
    check_status status;
    int ok, fail, failed_once;
} kept_state;

static kept_state kept(const check *c)
{
    return (kept_state){c->status, c->ok_streak < c->conf->rise ? c->ok_streak : c->conf->rise,
                        c->fail_streak < c->conf->fall ? c->fail_streak : c->conf->fall,
                        c->failed_once};
}

const check_conf *check_get_conf(const check *c)
{
    return c->conf;
}

struct event_base *check_base(const check *c)
{
    return c->svc->base;
}

void **check_run_state(check *c)
{
    return &c->run_state;
}

static double jitter(double max)
{
    return max * ((double)random() / ((double)RAND_MAX + 1.0));
}

static void arm(struct event *ev, double seconds)
{
    if (seconds < 0)
        seconds = 0;
    struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6)};
    evtimer_add(ev, &tv);
}

/* A probe's start, put on the nearest 50 ms mark of the monotonic clock
 * (nearest, so that the interval keeps its mean): checks due about the
 * same time start in one turn of the loop and share its wake-ups (500
 * checks at 1 s otherwise wake it 500 times a second for their starts
 * alone), still spread over the interval. */
#define TICK_SLOT 0.05

static void arm_tick(struct event *ev, double seconds)
{
    double now = now_mono_s(), due = now + (seconds > 0 ? seconds : 0);
    arm(ev, round(due / TICK_SLOT) * TICK_SLOT - now);
}

/* rise/fall (DESIGN.md section 8): critical after `fall` failures in a row,
 * healthy after `rise` successes in a row, else the state is kept; while
 * healthy, passing and warning follow the latest result. */
static check_status apply(check *c, check_status result)
{
    if (result == CHECK_CRITICAL) {
        c->fail_streak++;
        c->ok_streak = 0;
        if (c->fail_streak >= c->conf->fall)
            return CHECK_CRITICAL;
        return c->status;
    }
    c->ok_streak++;
    c->fail_streak = 0;
    if (c->status != CHECK_CRITICAL || c->ok_streak >= c->conf->rise)
        return result;
    return c->status;
}

static void record_duration(check *c, double d)
{
    c->last_duration = d;
    c->hist_count++;
    c->hist_sum += d;
    for (size_t i = 0; i < NBUCKETS; i++)
        if (d <= buckets[i])
            c->hist[i]++;
}

void check_done(check *c, check_status result, const char *note)
{
    evtimer_del(c->deadline);
    c->running = 0;
    c->run_state = NULL;
    if (!c->conf->kind->passive)
        record_duration(c, now_mono_s() - c->started);
    c->last_run_ms = now_realtime_ms();
    snprintf(c->note, sizeof c->note, "%s", note ? note : "");
    check_status before = c->status;
    kept_state was = kept(c);
    c->status = apply(c, result);
    c->failed_once |= result == CHECK_CRITICAL;
    kept_state is = kept(c);
    if (c->status != before)
        c->changed_ms = c->last_run_ms;
    if (state_changed && memcmp(&was, &is, sizeof is))
        state_changed();
    if (c->conf->kind->passive) {
        arm(c->deadline, (double)check_ttl_period(c->conf) / 1000.0);
    } else {
        /* The next probe one interval after this one started, give or take
         * 2% so that many checks drift apart rather than fire together. */
        double interval = (double)c->conf->interval_ms / 1000.0;
        double next = interval - (now_mono_s() - c->started) + jitter(interval * 0.04) - interval * 0.02;
        arm_tick(c->tick, next);
    }
    if (c->status == before)
        return;
    const service_conf *sc = c->svc->conf;
    agent_log(c->status == CHECK_CRITICAL ? AGENT_WARN : AGENT_INFO,
              "check %s/%s: %s -> %s (%s)", sc->id, c->conf->name, check_status_name(before),
              check_status_name(c->status), c->note);
    /* alerts.c raises a recovery only after a raised critical (leaving the
     * initial critical state, or a ttl expired at start, is no recovery). */
    if (c->status == CHECK_CRITICAL || before == CHECK_CRITICAL)
        agent_alert(c->status == CHECK_CRITICAL ? "check_critical" : "check_recovered", sc->id,
                    json_pack("{ssssssssss}", "service", sc->name, "check", c->conf->name,
                              "status", check_status_name(c->status), "previous",
                              check_status_name(before), "note", c->note));
    if ((c->status == CHECK_CRITICAL) != (before == CHECK_CRITICAL))
        c->svc->changed(c->svc, c->svc->ctx);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    check *c = arg;
    if (c->running)
        return;
    c->running = 1;
    c->started = now_mono_s();
    arm(c->deadline, (double)c->conf->timeout_ms / 1000.0);
    c->conf->kind->run(c);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    check *c = arg;
    char note[128];
    if (c->conf->kind->passive) {
        snprintf(note, sizeof note, "no report within the ttl of %" PRId64 "ms",
                 check_ttl_period(c->conf));
    } else {
        if (c->conf->kind->cancel)
            c->conf->kind->cancel(c);
        snprintf(note, sizeof note, "timed out after %" PRId64 "ms", c->conf->timeout_ms);
    }
    check_done(c, CHECK_CRITICAL, note);
}

static void check_init(service *s, check *c, const check_conf *cc)
{
    c->svc = s;
    c->conf = cc;
    c->status = cc->initial;
    c->tick = evtimer_new(s->base, on_tick, c);
    c->deadline = evtimer_new(s->base, on_deadline, c);
    snprintf(c->note, sizeof c->note, "not run yet");
}

static void check_begin(check *c)
{
    if (c->conf->kind->passive) {
        arm(c->deadline, (double)check_ttl_period(c->conf) / 1000.0);
        return;
    }
    /* The first probe within the first interval (at most 1 s in), spread. */
    double interval = (double)c->conf->interval_ms / 1000.0;
    arm_tick(c->tick, jitter(interval < 1 ? interval : 1));
}

static void check_clear(check *c)
{
    if (c->running && c->conf->kind->cancel)
        c->conf->kind->cancel(c);
    event_free(c->tick);
    event_free(c->deadline);
}

static service *service_new(struct event_base *base, const service_conf *sc,
                            service_changed_fn fn, void *ctx)
{
    service *s = calloc(1, sizeof *s);
    s->conf = sc;
    s->base = base;
    s->changed = fn;
    s->ctx = ctx;
    s->n = sc->nchecks;
    s->checks = calloc(s->n ? s->n : 1, sizeof *s->checks);
    for (size_t i = 0; i < s->n; i++)
        check_init(s, &s->checks[i], &sc->checks[i]);
    return s;
}

service *service_start(struct event_base *base, const service_conf *sc, service_changed_fn fn,
                       void *ctx)
{
    service *s = service_new(base, sc, fn, ctx);
    for (size_t i = 0; i < s->n; i++)
        check_begin(&s->checks[i]);
    return s;
}

service *service_replace(const service *old, const service_conf *sc)
{
    service *s = service_new(old->base, sc, old->changed, old->ctx);
    s->maint = old->maint;
    s->last_want = old->last_want;
    s->maint_reason = old->maint_reason ? strdup(old->maint_reason) : NULL;
    for (size_t i = 0; i < s->n; i++) {
        check *c = &s->checks[i];
        for (size_t j = 0; j < old->n; j++) {
            const check *o = &old->checks[j];
            if (!strcmp(o->conf->name, c->conf->name)) {
                /* Same identity (service id + check name), whatever its
                 * settings: its state carries over (no flicker); the new
                 * settings judge the next results. */
                c->status = o->status;
                c->ok_streak = o->ok_streak;
                c->fail_streak = o->fail_streak;
                c->failed_once = o->failed_once;
                c->last_run_ms = o->last_run_ms;
                c->changed_ms = o->changed_ms;
                memcpy(c->note, o->note, sizeof c->note);
            }
        }
        check_begin(c);
    }
    return s;
}

void service_rebind(service *s, const service_conf *sc)
{
    s->conf = sc;
    for (size_t i = 0; i < s->n; i++)
        s->checks[i].conf = &sc->checks[i];
}

void service_stop(service *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        check_clear(&s->checks[i]);
    free(s->checks);
    free(s->maint_reason);
    free(s);
}

const service_conf *service_get_conf(const service *s)
{
    return s->conf;
}

int service_healthy(const service *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->checks[i].status == CHECK_CRITICAL)
            return 0;
    return 1;
}

void service_set_maint(service *s, int on, const char *reason)
{
    free(s->maint_reason);
    s->maint_reason = on && reason ? strdup(reason) : NULL;
    if (s->maint == !!on)
        return;
    s->maint = !!on;
    s->changed(s, s->ctx);
}

int service_maint(const service *s, const char **reason)
{
    if (reason)
        *reason = s->maint_reason;
    return s->maint;
}

publish_want service_want(const service *s)
{
    if (!service_healthy(s))
        return s->conf->on_critical == ON_CRITICAL_DRAIN ? WANT_DRAINED : WANT_ABSENT;
    return s->maint ? WANT_DRAINED : WANT_ENABLED;
}

publish_want service_swap_want(service *s, publish_want w)
{
    publish_want old = s->last_want;
    s->last_want = w;
    return old;
}

static check *find_check(const service *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->checks[i].conf->name, name))
            return &s->checks[i];
    return NULL;
}

int service_has_check(const service *s, const char *name)
{
    return find_check(s, name) != NULL;
}

int service_ttl_report(service *s, const char *name, check_status st, const char *note)
{
    check *c = find_check(s, name);
    if (!c || !c->conf->kind->passive)
        return -1;
    check_done(c, st, note);
    return 0;
}

json_t *service_state_json(const service *s)
{
    json_t *o = json_object();
    for (size_t i = 0; i < s->n; i++) {
        kept_state k = kept(&s->checks[i]);
        json_object_set_new(o, s->checks[i].conf->name,
                            json_pack("{sssisisbsI}", "status", check_status_name(k.status),
                                      "ok_streak", k.ok, "fail_streak", k.fail, "failed_once",
                                      k.failed_once, "last_change",
                                      (json_int_t)s->checks[i].changed_ms));
    }
    return o;
}

static int status_named(const char *name, check_status *out)
{
    for (int st = CHECK_PASSING; st <= CHECK_CRITICAL; st++)
        if (name && !strcmp(name, check_status_name((check_status)st))) {
            *out = (check_status)st;
            return 0;
        }
    return -1;
}

int service_state_restore(service *s, const json_t *saved)
{
    int restored = 0;
    for (size_t i = 0; i < s->n && json_is_object(saved); i++) {
        check *c = &s->checks[i];
        json_t *k = json_object_get(saved, c->conf->name);
        json_int_t ok = -1, fail = -1, changed = 0;
        int failed_once = 0;
        const char *status = NULL;
        check_status st;
        if (json_unpack(k, "{sssIsIsb s?I}", "status", &status, "ok_streak", &ok, "fail_streak",
                        &fail, "failed_once", &failed_once, "last_change", &changed) != 0 ||
            status_named(status, &st) != 0 || ok < 0 || fail < 0)
            continue; /* unknown or malformed: this check starts as configured */
        c->status = st;
        c->ok_streak = (int)(ok < c->conf->rise ? ok : c->conf->rise);
        c->fail_streak = (int)(fail < c->conf->fall ? fail : c->conf->fall);
        c->failed_once = failed_once;
        c->changed_ms = changed;
        snprintf(c->note, sizeof c->note, "restored from the previous run");
        if (st == CHECK_CRITICAL && failed_once)
            alerts_seed_critical(s->conf->id, c->conf->name);
        restored++;
    }
    return restored;
}

json_t *service_checks_json(const service *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->n; i++) {
        const check *c = &s->checks[i];
        char ts[40] = "";
        if (c->last_run_ms)
            log_time(c->last_run_ms, ts, sizeof ts);
        json_array_append_new(
            a, json_pack("{sssssssssssoso}", "name", c->conf->name, "type", c->conf->kind->name,
                         "status", check_status_name(c->status), "note", c->note, "lastRun", ts,
                         "lastDurationMs",
                         c->last_run_ms ? json_real(round(c->last_duration * 1e6) / 1e3) : json_null(),
                         "intervalMs", json_integer(c->conf->interval_ms)));
        if (c->changed_ms) {
            log_time(c->changed_ms, ts, sizeof ts);
            json_object_set_new(json_array_get(a, i), "lastChange", json_string(ts));
        }
    }
    return a;
}

void service_metrics(const service *s, struct evbuffer *status, struct evbuffer *durations)
{
    static const char *const names[] = {"passing", "warning", "critical"};
    for (size_t i = 0; i < s->n; i++) {
        const check *c = &s->checks[i];
        const char *sv = s->conf->id, *cn = c->conf->name;
        for (int k = 0; k < 3; k++)
            evbuffer_add_printf(status,
                                "zkdisc_agent_check_status{service=\"%s\",check=\"%s\",status=\"%s\"} %d\n",
                                sv, cn, names[k], (int)c->status == k);
        if (c->conf->kind->passive)
            continue;
        for (size_t b = 0; b < NBUCKETS; b++)
            evbuffer_add_printf(durations,
                                "zkdisc_agent_check_duration_seconds_bucket{service=\"%s\",check=\"%s\",le=\"%g\"} %" PRIu64 "\n",
                                sv, cn, buckets[b], c->hist[b]);
        evbuffer_add_printf(durations,
                            "zkdisc_agent_check_duration_seconds_bucket{service=\"%s\",check=\"%s\",le=\"+Inf\"} %" PRIu64 "\n"
                            "zkdisc_agent_check_duration_seconds_sum{service=\"%s\",check=\"%s\"} %.6f\n"
                            "zkdisc_agent_check_duration_seconds_count{service=\"%s\",check=\"%s\"} %" PRIu64 "\n",
                            sv, cn, c->hist_count, sv, cn, c->hist_sum, sv, cn, c->hist_count);
    }
}
