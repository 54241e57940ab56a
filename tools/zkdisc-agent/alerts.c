/* SPDX-License-Identifier: Apache-2.0 */
/* Events -> exec hooks and webhooks (see alerts.h). */
#include "alerts.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "curlev.h"
#include "log.h"
#include "proc.h"
#include "webhook.h"

/* The last state raised per subject/check and kind of state (see
 * event_state), whatever hook wants it: one list for the agent, so a hook
 * that listens to check_critical only still sees the recovery in between. */
typedef struct last_state {
    struct last_state *next;
    char *key, *state;
} last_state;

/* What survives reloads for a hook of a given name: counters and the rate
 * window. */
typedef struct hook_state {
    struct hook_state *next;
    char *name;
    uint64_t sent, failed, dropped;
    double window_start;
    int window_count, window_dropped;
    int unreachable_sent;
} hook_state;

typedef struct delivery {
    hook_state *hs;
    char *url, *body, *event;
    int attempt, retries;
    CURL *easy;
    struct curl_slist *headers;
    struct event *retry;
} delivery;

static struct event_base *abase;
static const agent_conf *aconf;
static hook_state *states;
static last_state *last_states;
static char hostname[256];

void alerts_init(struct event_base *base)
{
    abase = base;
    gethostname(hostname, sizeof hostname - 1);
}

void alerts_configure(const agent_conf *c)
{
    aconf = c;
}

static hook_state *state_of(const alert_conf *ac)
{
    for (hook_state *s = states; s; s = s->next)
        if (!strcmp(s->name, ac->name))
            return s;
    hook_state *s = calloc(1, sizeof *s);
    s->name = strdup(ac->name);
    s->next = states;
    states = s;
    return s;
}

static int wants(const alert_conf *ac, const char *event)
{
    for (char **e = ac->on; e && *e; e++)
        if (!strcmp(*e, "*") || !strcmp(*e, event))
            return 1;
    return 0;
}

/* Events that report a state of something: its kind (`kind`), the state,
 * and whether it is a recovery (raised only after the failure it ends was).
 * Other events (session_expired, config_apply_failed, ...) are occurrences:
 * each one is raised, their callers raise them once per happening. */
static const char *event_state(const char *event, json_t *ev, const char **kind, int *recovery)
{
    *recovery = 0;
    if (!strcmp(event, "check_critical") || !strcmp(event, "check_recovered")) {
        *kind = "check";
        *recovery = event[6] == 'r';
        return event;
    }
    if (!strcmp(event, "service_below_min") || !strcmp(event, "service_recovered")) {
        *kind = "min";
        *recovery = event[8] == 'r';
        return event;
    }
    if (!strcmp(event, "maintenance")) {
        *kind = "maintenance";
        return json_is_true(json_object_get(ev, "maintenance")) ? "on" : "off";
    }
    return NULL;
}

/* 1 when the event is a transition from the last state raised for key (or
 * an occurrence); 0 when it repeats that state, or is a recovery from a
 * failure never raised (a check that starts critical, a TTL check that
 * expires at start, then passes). */
static int transition(const char *key, const char *event, json_t *ev)
{
    const char *kind;
    int recovery;
    const char *state = event_state(event, ev, &kind, &recovery);
    if (!state)
        return 1;
    char full[700];
    snprintf(full, sizeof full, "%s#%s", key, kind);
    last_state *l = last_states;
    while (l && strcmp(l->key, full))
        l = l->next;
    if (!l) {
        if (recovery)
            return 0;
        l = calloc(1, sizeof *l);
        l->key = strdup(full);
        l->next = last_states;
        last_states = l;
    } else if (!strcmp(l->state, state)) {
        return 0;
    }
    free(l->state);
    l->state = strdup(state);
    return 1;
}

/* At most max_per_minute deliveries per hook in a fixed minute window; what
 * is over is counted, the first drop of a window logged at once and the
 * window's total when it ends (a flood does not flood the log too). */
static int rate_ok(hook_state *hs, int max_per_minute)
{
    double now = now_mono_s();
    if (now - hs->window_start >= 60) {
        if (hs->window_dropped > 1)
            agent_log(AGENT_WARN, "alert hook %s: %d events dropped in the last minute (max_per_minute %d)",
                      hs->name, hs->window_dropped, max_per_minute);
        hs->window_start = now;
        hs->window_count = 0;
        hs->window_dropped = 0;
    }
    if (++hs->window_count <= max_per_minute)
        return 1;
    hs->dropped++;
    hs->window_dropped++;
    return 0;
}

/* ---- exec hooks -------------------------------------------------------- */

static void on_exec_done(void *ctx, int status, const char *output, size_t len)
{
    hook_state *hs = ctx;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        hs->sent++;
        return;
    }
    hs->failed++;
    agent_log(AGENT_WARN, "alert hook %s failed (status %d): %.*s", hs->name,
              WIFEXITED(status) ? WEXITSTATUS(status) : -1, (int)(len > 300 ? 300 : len), output);
}

static char **event_env(json_t *ev)
{
    size_t n = json_object_size(ev), k = 0;
    char **env = calloc(n + 1, sizeof *env);
    const char *key;
    json_t *v;
    json_object_foreach(ev, key, v) {
        char name[128];
        snprintf(name, sizeof name, "ZKDISC_%s", key);
        for (char *p = name; *p; p++)
            *p = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
        char *text = json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (text && asprintf(&env[k], "%s=%s", name, text) >= 0)
            k++;
        free(text);
    }
    return env;
}

static void run_exec(const alert_conf *ac, hook_state *hs, json_t *ev, const char *body)
{
    char **env = event_env(ev);
    char err[512];
    if (!proc_spawn(ac->exec, env, body, on_exec_done, hs, err, sizeof err)) {
        hs->failed++;
        agent_log(AGENT_WARN, "alert hook %s: %s", hs->name, err);
    }
    strv_free(env);
}

/* ---- webhooks ---------------------------------------------------------- */

static void delivery_free(delivery *d)
{
    if (d->easy)
        curl_easy_cleanup(d->easy);
    curl_slist_free_all(d->headers);
    if (d->retry)
        event_free(d->retry);
    free(d->url);
    free(d->body);
    free(d->event);
    free(d);
}

static void post(delivery *d);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    post(arg);
}

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n;
}

static void on_post_done(CURL *easy, CURLcode result, void *ctx)
{
    delivery *d = ctx;
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(d->easy);
    d->easy = NULL;
    int ok = result == CURLE_OK && code >= 200 && code < 300;
    /* Backoff: 1 s, 2 s, 4 s ... capped at a minute. */
    double wait = (double)(1 << (d->attempt - 1 < 6 ? d->attempt - 1 : 6));
    char said[64];
    if (result == CURLE_OK)
        snprintf(said, sizeof said, "HTTP %ld", code);
    else
        snprintf(said, sizeof said, "%s", curl_easy_strerror(result));
    /* One line per attempt: what a person needs to tell a token refused
     * (HTTP 401) from an endpoint down, and whether more tries follow. */
    char next[64] = "";
    if (!ok && d->attempt <= d->retries)
        snprintf(next, sizeof next, "; retry in %.0f s", wait);
    else if (!ok)
        snprintf(next, sizeof next, "; giving up");
    agent_log(ok ? AGENT_INFO : AGENT_WARN, "alert hook %s: %s delivery to %s, attempt %d of %d: %s%s",
              d->hs->name, d->event, d->url, d->attempt, d->retries + 1, said, next);
    if (ok) {
        d->hs->sent++;
        delivery_free(d);
        return;
    }
    if (d->attempt > d->retries) {
        d->hs->failed++;
        delivery_free(d);
        return;
    }
    struct timeval tv = {(time_t)wait, 0};
    if (!d->retry)
        d->retry = evtimer_new(abase, on_retry, d);
    evtimer_add(d->retry, &tv);
}

static void post(delivery *d)
{
    d->attempt++;
    d->easy = curl_easy_init();
    curl_easy_setopt(d->easy, CURLOPT_URL, d->url);
    curl_easy_setopt(d->easy, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(d->easy, CURLOPT_HTTPHEADER, d->headers);
    curl_easy_setopt(d->easy, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(d->easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(d->easy, CURLOPT_USERAGENT, "zkdisc-agent/" ZKDISC_AGENT_VERSION);
    if (curlev_add(d->easy, on_post_done, d) != 0) {
        d->hs->failed++;
        delivery_free(d);
    }
}

static void run_webhook(const alert_conf *ac, hook_state *hs, json_t *ev)
{
    char err[512];
    const char *event = json_string_value(json_object_get(ev, "event"));
    struct curl_slist *headers = webhook_headers(ac, err, sizeof err);
    char *body = headers ? webhook_body(ac, ev, err, sizeof err) : NULL;
    if (!body) {
        hs->failed++;
        agent_log(AGENT_WARN, "alert hook %s: %s not delivered: %s", hs->name, event ? event : "", err);
        curl_slist_free_all(headers);
        return;
    }
    delivery *d = calloc(1, sizeof *d);
    d->hs = hs;
    d->url = strdup(ac->webhook);
    d->body = body;
    d->event = strdup(event ? event : "");
    d->retries = ac->retries;
    d->headers = headers;
    post(d);
}

/* ---- raising ----------------------------------------------------------- */

static void deliver(const alert_conf *ac, hook_state *hs, json_t *ev)
{
    if (!rate_ok(hs, ac->max_per_minute)) {
        if (hs->window_dropped == 1)
            agent_log(AGENT_WARN, "alert hook %s: over max_per_minute %d, dropped %s %s (further drops "
                      "this minute are counted in zkdisc_agent_alerts_dropped_total)", hs->name,
                      ac->max_per_minute, json_string_value(json_object_get(ev, "event")),
                      json_string_value(json_object_get(ev, "subject")));
        return;
    }
    if (ac->exec) {
        char *body = json_dumps(ev, JSON_COMPACT);
        run_exec(ac, hs, ev, body);
        free(body);
    } else {
        run_webhook(ac, hs, ev);
    }
}

void alerts_seed_critical(const char *subject, const char *check)
{
    char key[600];
    snprintf(key, sizeof key, "%s/%s", subject, check);
    json_t *ev = json_object();
    transition(key, "check_critical", ev);
    json_decref(ev);
}

void agent_alert(const char *event, const char *subject, json_t *fields)
{
    char ts[40];
    log_time(0, ts, sizeof ts);
    json_t *ev = json_pack("{ssssssss}", "event", event, "subject", subject ? subject : "", "time",
                           ts, "host", hostname);
    if (fields)
        json_object_update(ev, fields);
    json_decref(fields);
    /* The dedup key: the subject, and the check when the event is a check's. */
    const char *check = json_string_value(json_object_get(ev, "check"));
    char key[600];
    snprintf(key, sizeof key, "%s/%s", subject ? subject : "", check ? check : "");
    if (!transition(key, event, ev)) {
        agent_log(AGENT_DEBUG, "event %s %s: no transition, not raised", event, key);
        json_decref(ev);
        return;
    }
    agent_log_fields(AGENT_INFO, ev, "event %s %s", event, key);
    for (size_t i = 0; aconf && i < aconf->nalerts; i++) {
        const alert_conf *ac = &aconf->alerts[i];
        if (wants(ac, event))
            deliver(ac, state_of(ac), ev);
    }
    json_decref(ev);
}

void alerts_unreachable(int64_t ms)
{
    for (size_t i = 0; aconf && i < aconf->nalerts; i++) {
        const alert_conf *ac = &aconf->alerts[i];
        if (!wants(ac, "zookeeper_unreachable"))
            continue;
        hook_state *hs = state_of(ac);
        if (ms == 0) {
            hs->unreachable_sent = 0;
        } else if (!hs->unreachable_sent && ms >= ac->after_ms) {
            hs->unreachable_sent = 1;
            json_t *ev = json_pack("{sssssssssI}", "event", "zookeeper_unreachable", "subject",
                                   aconf->zk_connect ? aconf->zk_connect : "127.0.0.1:2181", "time",
                                   "", "host", hostname, "unreachableMs", (json_int_t)ms);
            char ts[40];
            log_time(0, ts, sizeof ts);
            json_object_set_new(ev, "time", json_string(ts));
            deliver(ac, hs, ev);
            json_decref(ev);
        }
    }
}

void alerts_metrics(struct evbuffer *out)
{
    static const char *const kinds[] = {"sent", "failed", "dropped"};
    static const char *const help[] = {"Alert events delivered (exec exit 0, webhook 2xx).",
                                       "Alert events that failed after every retry.",
                                       "Alert events dropped by the hook's rate limit."};
    for (int k = 0; k < 3; k++) {
        evbuffer_add_printf(out, "# HELP zkdisc_agent_alerts_%s_total %s\n# TYPE zkdisc_agent_alerts_%s_total counter\n",
                            kinds[k], help[k], kinds[k]);
        for (size_t i = 0; aconf && i < aconf->nalerts; i++) {
            hook_state *hs = state_of(&aconf->alerts[i]);
            uint64_t v = k == 0 ? hs->sent : k == 1 ? hs->failed : hs->dropped;
            evbuffer_add_printf(out, "zkdisc_agent_alerts_%s_total{hook=\"%s\"} %" PRIu64 "\n", kinds[k],
                                hs->name, v);
        }
    }
}

void alerts_shutdown(void)
{
    while (states) {
        hook_state *s = states;
        states = s->next;
        free(s->name);
        free(s);
    }
    while (last_states) {
        last_state *l = last_states;
        last_states = l->next;
        free(l->key);
        free(l->state);
        free(l);
    }
}
