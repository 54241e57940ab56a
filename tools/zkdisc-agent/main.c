/* SPDX-License-Identifier: Apache-2.0 */
/* zkdisc-agent: arguments, the loop, signals, session events, systemd
 * notify, reload and graceful stop (DESIGN.md section 8). */
#include <event2/thread.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "agent.h"
#include "alerts.h"
#include "conf_consumers.h"
#include "curlev.h"
#include "log.h"
#include "outputs/template.h"
#include "proc.h"
#include "runtime.h"

#define DEFAULT_CONF "/etc/zkdisc/agent.conf"
#define STOP_DEADLINE_S 15.0

static agent_rt rt;
static api *the_api;
static struct event *sig_term, *sig_int, *sig_hup, *tick_ev, *stop_ev, *session_ev, *watchdog_ev;
static double stop_deadline;
static int64_t unreachable_since;
/* Restarts without flap: the previous run's session (0: none) and check
 * states (until the services have started), and whether this stop leaves
 * (closes the session) or hands the session to the next agent. */
static int64_t saved_session;
static json_t *saved_checks, *saved_held;
static int session_sub;
static int leaving = 1;

/* ---- session events: from the library's thread to the loop ------------- */

static pthread_mutex_t session_mu = PTHREAD_MUTEX_INITIALIZER;
static int session_queue[64];
static int session_n;

static void on_session_thread(zkd_client *c, zkd_session_event ev, void *ctx)
{
    (void)c;
    (void)ctx;
    pthread_mutex_lock(&session_mu);
    if (session_n < 64)
        session_queue[session_n++] = (int)ev;
    pthread_mutex_unlock(&session_mu);
    event_active(session_ev, 0, 0);
}

static void on_session_loop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    int evs[64], n;
    pthread_mutex_lock(&session_mu);
    n = session_n;
    memcpy(evs, session_queue, sizeof(int) * (size_t)n);
    session_n = 0;
    pthread_mutex_unlock(&session_mu);
    for (int i = 0; i < n; i++) {
        zkd_session_event ev = (zkd_session_event)evs[i];
        if (evs[i] > 0 && evs[i] < SESSION_EVENT_KINDS)
            rt.session_events[evs[i]]++;
        agent_log(ev == ZKD_SESSION_EXPIRED || ev == ZKD_SESSION_AUTH_FAILED || ev == ZKD_SESSION_SUSPENDED
                      ? AGENT_WARN : AGENT_INFO,
                  "zookeeper: %s", zkd_session_event_name(ev));
        if (ev == ZKD_SESSION_CONNECTED || ev == ZKD_SESSION_REESTABLISHED)
            state_session_connected(&rt, ev, saved_session);
        if (ev == ZKD_SESSION_EXPIRED)
            agent_alert("session_expired", rt.conf->zk_connect ? rt.conf->zk_connect : "127.0.0.1:2181",
                        NULL);
    }
}

static void on_library_log(zkd_log_level level, const char *message, void *ctx)
{
    (void)ctx;
    agent_log(level <= ZKD_LOG_ERROR ? AGENT_ERROR : level == ZKD_LOG_WARN ? AGENT_WARN
              : level == ZKD_LOG_INFO ? AGENT_INFO : AGENT_DEBUG, "zkdisc: %s", message);
}

/* ---- services ---------------------------------------------------------- */

service *agent_find_service(agent_rt *r, const char *name)
{
    service *by_name = NULL;
    int names = 0;
    for (size_t i = 0; i < r->nservices; i++) {
        const service_conf *sc = service_get_conf(r->services[i]);
        if (!strcmp(sc->id, name))
            return r->services[i];
        if (!strcmp(sc->name, name) && names++ == 0)
            by_name = r->services[i];
    }
    return names == 1 ? by_name : NULL;
}

static void publish_service(service *s)
{
    const service_conf *sc = service_get_conf(s);
    publish_want w = service_want(s);
    publish_want before = service_swap_want(s, w);
    publish_set(rt.pub, sc, w);
    if (before != WANT_ABSENT && w == WANT_ABSENT)
        agent_alert("service_deregistered", sc->id, json_pack("{ss}", "service", sc->name));
}

static void on_service_changed(service *s, void *ctx)
{
    (void)ctx;
    if (!rt.stopping)
        publish_service(s);
}

void agent_set_maint(agent_rt *r, service *s, int on, const char *reason)
{
    const service_conf *sc = service_get_conf(s);
    const char *old_reason;
    int was = service_maint(s, &old_reason);
    if (on) {
        char ts[40];
        log_time(0, ts, sizeof ts);
        json_object_set_new(r->maint, sc->id, json_pack("{ssss}", "reason", reason ? reason : "",
                                                        "since", ts));
    } else {
        json_object_del(r->maint, sc->id);
    }
    if (r->conf->state_dir && state_save(r->conf->state_dir, r->maint) != 0)
        agent_log(AGENT_ERROR, "cannot keep maintenance in %s", r->conf->state_dir);
    service_set_maint(s, on, reason);
    if (was != !!on) {
        agent_log(AGENT_INFO, "service %s: maintenance %s%s%s", sc->id, on ? "on" : "off",
                  on && reason ? ": " : "", on && reason ? reason : "");
        agent_alert("maintenance", sc->id, json_pack("{sssbss}", "service", sc->name, "maintenance", on,
                                                     "reason", reason ? reason : ""));
    }
}

static service *start_service(const service_conf *sc)
{
    service *s = service_start(rt.base, sc, on_service_changed, NULL);
    json_t *m = json_object_get(rt.maint, sc->id);
    if (m)
        service_set_maint(s, 1, json_string_value(json_object_get(m, "reason")));
    if (saved_checks && service_state_restore(s, json_object_get(saved_checks, sc->id)) > 0)
        agent_log(AGENT_INFO, "service %s: check states restored from the previous run", sc->id);
    publish_service(s);
    return s;
}

/* ---- reload (SIGHUP): make-before-break ------------------------------ */

static service *take_old(service **old, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (old[i] && !strcmp(service_get_conf(old[i])->id, id)) {
            service *s = old[i];
            old[i] = NULL;
            return s;
        }
    return NULL;
}

static void reload(void)
{
    sd_notify(0, "RELOADING=1");
    struct evbuffer *errors = evbuffer_new();
    agent_conf *next = conf_load(rt.conf->path, errors);
    /* A file truncated or emptied by mistake would deregister everything. */
    const consumers_conf *nc = next ? next->consumers : NULL;
    if (next && !next->nservices && (!nc || (!nc->nwatches && !nc->nfiles && !nc->ntemplates && !nc->dns.enabled))) {
        evbuffer_add_printf(errors, "%s: no services, watches, dns or config_files (to stop everything, "
                            "stop the agent)", rt.conf->path);
        conf_free(next);
        next = NULL;
    }
    if (next && consumers_reload(rt.cons, next->consumers, errors) != 0) {
        conf_free(next);
        next = NULL;
    }
    if (!next) {
        rt.reload_failures++;
        size_t len = evbuffer_get_length(errors);
        char *text = calloc(1, len + 1);
        evbuffer_remove(errors, text, len);
        agent_log(AGENT_ERROR, "reload refused, the running configuration is kept: %s", text);
        agent_alert("config_apply_failed", rt.conf->path, json_pack("{ss}", "error", text));
        free(text);
        evbuffer_free(errors);
        sd_notify(0, "READY=1");
        return;
    }
    evbuffer_free(errors);
    if (strcmp(next->api_host, rt.conf->api_host) || next->api_port != rt.conf->api_port ||
        (next->zk_connect && (!rt.conf->zk_connect || strcmp(next->zk_connect, rt.conf->zk_connect))))
        agent_log(AGENT_WARN, "reload: agent.api and zookeeper changes take effect at the next start");
    service **old = rt.services;
    size_t nold = rt.nservices;
    service **now = calloc(next->nservices + 1, sizeof *now);
    size_t kept = 0, changed = 0, added = 0, removed = 0;
    for (size_t i = 0; i < next->nservices; i++) {
        const service_conf *sc = &next->services[i];
        service *o = take_old(old, nold, sc->id);
        if (o && !strcmp(service_get_conf(o)->fingerprint, sc->fingerprint)) {
            service_rebind(o, sc); /* untouched: no request to ZooKeeper at all */
            now[i] = o;
            kept++;
        } else if (o) {
            now[i] = service_replace(o, sc);
            service_stop(o);
            publish_service(now[i]);
            changed++;
        } else {
            now[i] = start_service(sc);
            added++;
        }
    }
    for (size_t i = 0; i < nold; i++)
        if (old[i]) {
            publish_set(rt.pub, service_get_conf(old[i]), WANT_ABSENT);
            service_stop(old[i]);
            removed++;
        }
    free(old);
    rt.services = now;
    rt.nservices = next->nservices;
    alerts_configure(next);
    log_set_json(next->log_json);
    conf_free(rt.conf);
    rt.conf = next;
    rt.reloads++;
    agent_log(AGENT_INFO, "reloaded: %zu services unchanged, %zu changed, %zu added, %zu removed",
              kept, changed, added, removed);
    sd_notify(0, "READY=1");
}

/* ---- graceful stop (SIGTERM): drain, wait, deregister, exit 0 -------- */

static void on_stop_step(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    int phase = (int)(intptr_t)arg;
    if (phase == 1) { /* drain_delay passed: deregister everything */
        for (size_t i = 0; i < rt.nservices; i++)
            publish_set(rt.pub, service_get_conf(rt.services[i]), WANT_ABSENT);
        event_free(stop_ev);
        stop_ev = event_new(rt.base, -1, EV_PERSIST, on_stop_step, (void *)(intptr_t)2);
        struct timeval tv = {0, 20000};
        event_add(stop_ev, &tv);
        return;
    }
    if (publish_settled(rt.pub) || now_mono_s() > stop_deadline) {
        if (!publish_settled(rt.pub))
            agent_log(AGENT_WARN, "stopping before every registration was removed (the session's end removes them)");
        event_base_loopexit(rt.base, NULL);
    }
}

static void begin_stop(int sig)
{
    if (rt.stopping)
        return;
    rt.stopping = 1;
    sd_notify(0, "STOPPING=1");
    if (sig == SIGTERM && !rt.conf->leave_on_terminate) {
        /* Registrations stay with the session: the next agent resumes it,
         * or they go at its timeout, as after a crash. */
        leaving = 0;
        agent_log(AGENT_INFO, "stopping without leaving (agent.leave_on_terminate = false): session "
                  "0x%" PRIx64 " and its %zu services are left to the next agent for %" PRId64 "ms",
                  (uint64_t)zkd_client_session_id(rt.zk), rt.nservices, rt.conf->session_timeout_ms);
        event_base_loopexit(rt.base, NULL);
        return;
    }
    agent_log(AGENT_INFO, "stopping: draining %zu services for %" PRId64 "ms, then deregistering",
              rt.nservices, rt.conf->drain_delay_ms);
    for (size_t i = 0; i < rt.nservices; i++)
        if (service_want(rt.services[i]) != WANT_ABSENT)
            publish_set(rt.pub, service_get_conf(rt.services[i]), WANT_DRAINED);
    stop_deadline = now_mono_s() + (double)rt.conf->drain_delay_ms / 1000.0 + STOP_DEADLINE_S;
    stop_ev = event_new(rt.base, -1, 0, on_stop_step, (void *)(intptr_t)1);
    struct timeval tv = {(time_t)(rt.conf->drain_delay_ms / 1000), (suseconds_t)(rt.conf->drain_delay_ms % 1000) * 1000};
    event_add(stop_ev, &tv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    if (sig == SIGHUP && !rt.stopping)
        reload();
    else if (sig != SIGHUP)
        begin_stop((int)sig);
}

/* Once a second: how long ZooKeeper has been unreachable (alerts). */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (zkd_client_state(rt.zk) == ZKD_STATE_CONNECTED) {
        if (unreachable_since)
            alerts_unreachable(0);
        unreachable_since = 0;
        return;
    }
    if (!unreachable_since)
        unreachable_since = now_mono_ms();
    alerts_unreachable(now_mono_ms() - unreachable_since);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    sd_notify(0, "WATCHDOG=1");
}

/* ---- start ------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: zkdisc-agent [-c FILE]          run the agent (default " DEFAULT_CONF ")\n"
            "       zkdisc-agent check-config -c FILE\n"
            "       zkdisc-agent pass|warn|fail SERVICE CHECK [NOTE]\n"
            "       zkdisc-agent maint SERVICE on|off [--reason TEXT]\n"
            "       zkdisc-agent status [-o json]\n"
            "The sub-commands talk to the running agent's API (-c FILE or --api HOST:PORT);\n"
            "changes send its token (from -c FILE, or --token-file FILE).\n");
}

static int connect_zk(void)
{
    zkd_options o;
    zkd_options_init(&o);
    if (rt.conf->zk_connect)
        o.connect = rt.conf->zk_connect;
    if (rt.conf->zk_root)
        o.root = rt.conf->zk_root;
    o.auth = rt.conf->zk_auth;
    o.auth_file = rt.conf->zk_auth_file;
    o.session_timeout_ms = (int)rt.conf->session_timeout_ms;
    o.request_timeout_ms = 5000;
    o.connect_in_background = 1; /* start, and keep checking, while ZooKeeper is down */
    /* Caches and config watches keep their last view there, so the outputs
     * and config files serve (marked stale) when the agent starts while
     * ZooKeeper is down. */
    o.snapshot_dir = rt.conf->state_dir;
    o.log_level = ZKD_LOG_WARN;
    o.log_fn = on_library_log;
    zkd_session_credentials resume;
    saved_held = state_session_load(rt.conf->state_dir, &resume);
    saved_session = resume.id;
    o.resume = resume.id ? &resume : NULL;
    zkd_error err;
    int rc = zkd_connect(&o, &rt.zk, &err);
    memset(&resume, 0, sizeof resume);
    if (rc != 0) {
        agent_log(AGENT_ERROR, "zookeeper: %s", err.message);
        return -1;
    }
    rt.pub = publisher_start(rt.base, rt.zk, state_on_published, state_session_write, NULL);
    rc = zkd_session_subscribe(rt.zk, on_session_thread, NULL, &session_sub, &err);
    /* A session that connected before the subscription is told by no event. */
    if (rc == 0 && zkd_client_state(rt.zk) == ZKD_STATE_CONNECTED)
        state_session_connected(&rt, ZKD_SESSION_CONNECTED, saved_session);
    return rc;
}

/* node.services for templates: the agent's own registrations. */
static json_t *node_services(void *ctx)
{
    agent_rt *r = ctx;
    json_t *a = json_array();
    for (size_t i = 0; i < r->nservices; i++) {
        const service_conf *sc = service_get_conf(r->services[i]);
        json_t *meta = json_object();
        for (char **m = sc->meta; m && *m; m++) {
            const char *eq = strchr(*m, '=');
            if (eq)
                json_object_setn_new(meta, *m, (size_t)(eq - *m), json_string(eq + 1));
        }
        publish_want actual = r->pub ? publish_actual(r->pub, sc->id) : WANT_ABSENT;
        json_array_append_new(a, json_pack("{s:s,s:s,s:s?,s:i,s:i,s:i,s:s?,s:o,s:s,s:b}", "name", sc->name,
                                           "id", sc->id, "address", sc->address, "port", sc->port,
                                           "sslPort", sc->ssl_port, "weight", sc->weight, "zone", sc->zone,
                                           "metadata", meta, "state", publish_want_name(actual),
                                           "registered", actual != WANT_ABSENT));
    }
    return a;
}

static void setup_events(void)
{
    sig_term = evsignal_new(rt.base, SIGTERM, on_signal, NULL);
    sig_int = evsignal_new(rt.base, SIGINT, on_signal, NULL);
    sig_hup = evsignal_new(rt.base, SIGHUP, on_signal, NULL);
    event_add(sig_term, NULL);
    event_add(sig_int, NULL);
    event_add(sig_hup, NULL);
    tick_ev = event_new(rt.base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval second = {1, 0};
    event_add(tick_ev, &second);
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        watchdog_ev = event_new(rt.base, -1, EV_PERSIST, on_watchdog, NULL);
        struct timeval half = {(time_t)(usec / 2000000), (suseconds_t)(usec / 2 % 1000000)};
        event_add(watchdog_ev, &half);
    }
}

static void teardown(void)
{
    state_keep_now();
    if (leaving)
        state_keep_leave();
    state_keep_stop();
    for (size_t i = 0; i < rt.nservices; i++)
        service_stop(rt.services[i]);
    free(rt.services);
    api_stop(the_api);
    consumers_stop(rt.cons);
    publisher_stop(rt.pub);
    if (leaving)
        zkd_close(rt.zk);
    else /* exit with the session open; the process's end drops its connection */
        zkd_session_unsubscribe(rt.zk, session_sub);
    proc_shutdown();
    curlev_shutdown();
    alerts_shutdown();
    event_free(sig_term);
    event_free(sig_int);
    event_free(sig_hup);
    event_free(tick_ev);
    event_free(session_ev);
    if (stop_ev)
        event_free(stop_ev);
    if (watchdog_ev)
        event_free(watchdog_ev);
    json_decref(rt.maint);
    conf_free(rt.conf);
    event_base_free(rt.base);
}

int main(int argc, char **argv)
{
    int ctl_rc = ctl_dispatch(argc, argv);
    if (ctl_rc >= 0)
        return ctl_rc;
    const char *path = DEFAULT_CONF;
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("zkdisc-agent %s\n", ZKDISC_AGENT_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    struct evbuffer *errors = evbuffer_new();
    rt.conf = conf_load(path, errors);
    if (!rt.conf) {
        /* Never a half-configured agent: say every problem and stop. */
        evbuffer_write(errors, 2);
        evbuffer_free(errors);
        return 2;
    }
    log_set_json(rt.conf->log_json);
    signal(SIGPIPE, SIG_IGN);
    srandom((unsigned)now_mono_ms() ^ (unsigned)getpid());
    evthread_use_pthreads();
    rt.base = event_base_new();
    rt.started_ms = now_realtime_ms();
    rt.maint = state_load(rt.conf->state_dir);
    /* Before the client exists: its first session event may come at once. */
    session_ev = rt.base ? event_new(rt.base, -1, 0, on_session_loop, NULL) : NULL;
    if (!session_ev || state_dir_prepare(rt.conf->state_dir) != 0 || proc_init(rt.base) != 0 ||
        curlev_init(rt.base) != 0 || connect_zk() != 0) {
        agent_log(AGENT_ERROR, "cannot start");
        return 1;
    }
    alerts_init(rt.base);
    alerts_configure(rt.conf);
    tmpls_node_source(node_services, &rt);
    rt.cons = consumers_start(rt.base, rt.zk, rt.conf->consumers, errors);
    char err[512];
    the_api = rt.cons ? api_start(&rt, rt.conf->api_host, rt.conf->api_port, err, sizeof err) : NULL;
    if (!the_api) {
        if (!rt.cons)
            evbuffer_write(errors, 2);
        else
            agent_log(AGENT_ERROR, "%s", err);
        evbuffer_free(errors);
        return 1;
    }
    evbuffer_free(errors);
    setup_events();
    rt.services = calloc(rt.conf->nservices + 1, sizeof *rt.services);
    rt.nservices = rt.conf->nservices;
    saved_checks = state_checks_load(rt.conf->state_dir);
    for (size_t i = 0; i < rt.nservices; i++)
        rt.services[i] = start_service(&rt.conf->services[i]);
    json_decref(saved_checks);
    saved_checks = NULL;
    state_session_inherit(&rt, saved_held); /* after the services asked for theirs */
    saved_held = NULL;
    state_keep_start(&rt);
    state_keep_soon();
    agent_log(AGENT_INFO, "zkdisc-agent %s: %zu services, api on %s:%d, zookeeper %s",
              ZKDISC_AGENT_VERSION, rt.nservices, rt.conf->api_host, rt.conf->api_port,
              zkd_client_connect_string(rt.zk));
    sd_notify(0, "READY=1");
    event_base_dispatch(rt.base);
    teardown();
    agent_log(AGENT_INFO, "stopped");
    return 0;
}
