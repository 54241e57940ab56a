/* SPDX-License-Identifier: Apache-2.0 */
/* Registrations in ZooKeeper from one worker thread (see publish.h).
 *
 * Why a thread: zkd_register and friends wait for ZooKeeper's answer (up to
 * the request timeout while it is unreachable). On the loop that would
 * stall every check; here the loop only records what it wants (under a
 * mutex, never waiting on the network) and the worker converges the tree
 * to it, newest wish first, retrying each second while ZooKeeper refuses. */
#include "publish.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "log.h"

typedef struct regspec {
    char *name, *id, *address, *zone;
    char **meta;
    int port, ssl_port, weight;
} regspec;

typedef struct entry {
    struct entry *next;
    /* Wanted: written by the loop. */
    regspec want_spec;
    publish_want want;
    unsigned gen;     /* bumped when want_spec changes */
    double asked_at;  /* when `want` or the spec last changed (monotonic) */
    int inherited;    /* the previous run's session may hold it: see publish_inherit */
    int orphan;       /* inherited under a service nothing here wants: never found by id */
    /* Done: written by the worker. */
    zkd_registration *reg;
    char *reg_service;
    publish_want actual;
    unsigned actual_gen;
    int tree_enabled;
    double retry_at;
    char last_error[ZKD_ERROR_MESSAGE_MAX];
} entry;

static const double lat_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 10};
#define NLAT (sizeof lat_buckets / sizeof lat_buckets[0])

struct publisher {
    zkd_client *zk;
    struct event *done_ev;
    void (*done)(void *ctx);
    void (*before_register)(publisher *p);
    void *ctx;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    entry *entries;
    uint64_t registers, deregisters, updates, drains, errors;
    uint64_t lat[NLAT], lat_count;
    double lat_sum;
};

const char *publish_want_name(publish_want w)
{
    return w == WANT_ENABLED ? "registered" : w == WANT_DRAINED ? "drained" : "absent";
}

static char *dup0(const char *s)
{
    return s ? strdup(s) : NULL;
}

static char **strv_dup(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char **out = calloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = strdup(v[i]);
    return out;
}

static void spec_clear(regspec *s)
{
    free(s->name);
    free(s->id);
    free(s->address);
    free(s->zone);
    strv_free(s->meta);
    memset(s, 0, sizeof *s);
}

static void spec_copy(regspec *dst, const regspec *src)
{
    *dst = (regspec){dup0(src->name), dup0(src->id), dup0(src->address), dup0(src->zone),
                     strv_dup(src->meta), src->port, src->ssl_port, src->weight};
}

static int streq0(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static int spec_equal(const regspec *a, const service_conf *sc)
{
    if (!streq0(a->name, sc->name) || !streq0(a->address, sc->address) ||
        !streq0(a->zone, sc->zone) || a->port != sc->port || a->ssl_port != sc->ssl_port ||
        a->weight != sc->weight)
        return 0;
    size_t i = 0;
    for (; a->meta && a->meta[i] && sc->meta && sc->meta[i]; i++)
        if (strcmp(a->meta[i], sc->meta[i]))
            return 0;
    return !(a->meta && a->meta[i]) && !(sc->meta && sc->meta[i]);
}

static void to_instance_spec(const regspec *r, zkd_instance_spec *s)
{
    zkd_instance_spec_init(s);
    /* An operator's drain must outlive a session expiry: the agent is what
     * operators drain, and a drained instance served again is traffic sent
     * where they said not to. Worth a second request per registration. */
    s->watch_node = 1;
    s->service = r->name;
    s->id = r->id;
    s->address = r->address;
    s->port = r->port;
    s->ssl_port = r->ssl_port;
    s->weight = r->weight;
    s->zone = r->zone;
    s->meta = (const char *const *)r->meta;
}

static entry *find(publisher *p, const char *id)
{
    for (entry *e = p->entries; e; e = e->next)
        if (!e->orphan && !strcmp(e->want_spec.id, id))
            return e;
    return NULL;
}

void publish_set(publisher *p, const service_conf *sc, publish_want want)
{
    pthread_mutex_lock(&p->mu);
    entry *e = find(p, sc->id);
    if (!e) {
        e = calloc(1, sizeof *e);
        e->tree_enabled = -1;
        e->next = p->entries;
        p->entries = e;
        e->gen = 1;
    }
    if (!e->want_spec.id || !spec_equal(&e->want_spec, sc)) {
        spec_clear(&e->want_spec);
        regspec r = {(char *)sc->name, (char *)sc->id, (char *)sc->address, (char *)sc->zone,
                     sc->meta, sc->port, sc->ssl_port, sc->weight};
        spec_copy(&e->want_spec, &r);
        e->gen++;
        e->asked_at = now_mono_s();
    }
    if (e->want != want)
        e->asked_at = now_mono_s();
    e->want = want;
    e->retry_at = 0; /* a new wish is tried at once */
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void publish_inherit(publisher *p, const char *service, const char *id)
{
    pthread_mutex_lock(&p->mu);
    entry *e = find(p, id);
    /* The same id under another service (renamed while we were down) is
     * another node: the wanted entry registers the new one, and an orphan
     * entry removes the old one if our resumed session holds it. */
    if (e && strcmp(e->want_spec.name, service))
        e = NULL;
    if (!e) {
        e = calloc(1, sizeof *e);
        e->orphan = 1;
        e->tree_enabled = -1;
        e->gen = 1;
        e->want_spec.name = strdup(service);
        e->want_spec.id = strdup(id);
        e->asked_at = now_mono_s();
        e->next = p->entries;
        p->entries = e;
    }
    e->inherited = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

json_t *publish_held(publisher *p)
{
    json_t *a = json_array();
    pthread_mutex_lock(&p->mu);
    for (entry *e = p->entries; e; e = e->next)
        if (e->inherited || e->want != WANT_ABSENT || e->actual != WANT_ABSENT)
            json_array_append_new(a, json_pack("{ssss}", "service", e->want_spec.name, "id",
                                               e->want_spec.id));
    pthread_mutex_unlock(&p->mu);
    return a;
}

zkd_client *publish_client(publisher *p)
{
    return p->zk;
}

publish_want publish_actual(publisher *p, const char *id)
{
    pthread_mutex_lock(&p->mu);
    entry *e = find(p, id);
    publish_want w = e ? e->actual : WANT_ABSENT;
    pthread_mutex_unlock(&p->mu);
    return w;
}

static int pending(const entry *e)
{
    return e->inherited || e->want != e->actual || (e->want != WANT_ABSENT && e->gen != e->actual_gen);
}

int publish_settled(publisher *p)
{
    pthread_mutex_lock(&p->mu);
    int settled = 1;
    for (entry *e = p->entries; e && settled; e = e->next)
        settled = !pending(e);
    pthread_mutex_unlock(&p->mu);
    return settled;
}

/* One step towards `want` for entry e, outside the lock (only the worker
 * touches e->reg, reg_service and tree_enabled). 0 when e now matches. */
enum { OP_REGISTER = 1, OP_DEREGISTER = 2, OP_UPDATE = 4, OP_ENABLED = 8 };

/* An unwanted node the resumed session of the previous run may hold: it is
 * deleted only while this client's own session holds it (never another
 * agent's node of the same id). A wanted one needs nothing here: zkd_register
 * adopts a node our session holds. */
static int remove_inherited(publisher *p, const regspec *spec, int *ops, zkd_error *err)
{
    char *path = NULL;
    if (asprintf(&path, "%s/services/%s/%s", zkd_client_root(p->zk), spec->name, spec->id) < 0)
        return ZKD_ENOMEM;
    zkd_stat st;
    int rc = zkd_node_stat(p->zk, path, &st, err);
    int64_t session = zkd_client_session_id(p->zk);
    if (rc == 0 && session == 0) {
        rc = ZKD_ECONNLOSS;
        snprintf(err->message, sizeof err->message, "no session yet to tell whether %s is ours", path);
    } else if (rc == 0 && st.ephemeral_owner == session) {
        rc = zkd_node_delete(p->zk, path, st.version, err);
        *ops |= rc == 0 ? OP_DEREGISTER : 0;
    }
    free(path);
    return rc == ZKD_ENOTFOUND ? 0 : rc;
}

static int converge(publisher *p, entry *e, const regspec *spec, publish_want want, unsigned gen,
                    int inherited, int *ops, zkd_error *err)
{
    int rc = 0;
    if (inherited && !e->reg && want == WANT_ABSENT)
        return remove_inherited(p, spec, ops, err);
    if (e->reg && (want == WANT_ABSENT || strcmp(e->reg_service, spec->name))) {
        rc = zkd_registration_close(e->reg, err);
        e->reg = NULL; /* freed either way */
        free(e->reg_service);
        e->reg_service = NULL;
        e->tree_enabled = -1;
        if (rc)
            return rc;
        *ops |= OP_DEREGISTER;
    }
    if (want == WANT_ABSENT)
        return 0;
    zkd_instance_spec is;
    to_instance_spec(spec, &is);
    if (!e->reg) {
        /* A service in maintenance is created drained: never seen enabled. */
        is.enabled = want == WANT_ENABLED;
        if (p->before_register)
            p->before_register(p); /* on disk before the node can exist */
        if ((rc = zkd_register(p->zk, &is, &e->reg, err)) != 0)
            return rc;
        e->reg_service = strdup(spec->name);
        zkd_instance *inst = zkd_registration_instance(e->reg);
        e->tree_enabled = inst ? zkd_instance_enabled(inst) : 1;
        zkd_instance_unref(inst);
        *ops |= OP_REGISTER;
    } else if (gen != e->actual_gen) {
        if ((rc = zkd_registration_update(e->reg, &is, err)) != 0)
            return rc;
        *ops |= OP_UPDATE;
    }
    int enabled = want == WANT_ENABLED;
    if (e->tree_enabled != enabled) {
        if ((rc = zkd_instance_set_enabled(p->zk, spec->name, spec->id, enabled, err)) != 0)
            return rc;
        e->tree_enabled = enabled;
        *ops |= OP_ENABLED;
    }
    return 0;
}

static entry *next_pending(publisher *p, double now, double *wake)
{
    entry *best = NULL;
    for (entry *e = p->entries; e; e = e->next) {
        if (!pending(e))
            continue;
        if (e->retry_at > now) {
            if (*wake == 0 || e->retry_at < *wake)
                *wake = e->retry_at;
            continue;
        }
        if (!best || e->asked_at < best->asked_at)
            best = e;
    }
    return best;
}

static void observe_latency(publisher *p, double d)
{
    p->lat_count++;
    p->lat_sum += d;
    for (size_t i = 0; i < NLAT; i++)
        if (d <= lat_buckets[i])
            p->lat[i]++;
}

static void *worker(void *arg)
{
    publisher *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        double wake = 0, now = now_mono_s();
        entry *e = next_pending(p, now, &wake);
        if (!e) {
            if (wake > 0) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                double at = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + (wake - now);
                ts.tv_sec = (time_t)at;
                ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
                pthread_cond_timedwait(&p->cv, &p->mu, &ts);
            } else {
                pthread_cond_wait(&p->cv, &p->mu);
            }
            continue;
        }
        regspec spec;
        spec_copy(&spec, &e->want_spec);
        publish_want want = e->want;
        unsigned gen = e->gen;
        int inherited = e->inherited;
        double asked = e->asked_at;
        pthread_mutex_unlock(&p->mu);
        zkd_error err;
        zkd_error_clear(&err);
        int ops = 0;
        int rc = converge(p, e, &spec, want, gen, inherited, &ops, &err);
        pthread_mutex_lock(&p->mu);
        p->registers += !!(ops & OP_REGISTER);
        p->deregisters += !!(ops & OP_DEREGISTER);
        p->updates += !!(ops & OP_UPDATE);
        p->drains += !!(ops & OP_ENABLED);
        if (rc) {
            p->errors++;
            e->retry_at = now_mono_s() + 1.0;
            if (strcmp(e->last_error, err.message)) {
                agent_log(AGENT_WARN, "service %s: cannot make it %s: %s (retrying every second)",
                          spec.id, publish_want_name(want), err.message);
                snprintf(e->last_error, sizeof e->last_error, "%s", err.message);
            }
        } else {
            e->last_error[0] = 0;
            if (e->actual != want)
                agent_log(AGENT_INFO, "service %s: %s -> %s", spec.id, publish_want_name(e->actual),
                          publish_want_name(want));
            e->actual = want;
            e->actual_gen = gen;
            e->inherited = 0;
            if (e->asked_at == asked)
                observe_latency(p, now_mono_s() - asked);
            event_active(p->done_ev, 0, 0);
        }
        spec_clear(&spec);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    publisher *p = arg;
    if (p->done)
        p->done(p->ctx);
}

publisher *publisher_start(struct event_base *base, zkd_client *zk, void (*done)(void *ctx),
                           void (*before_register)(publisher *p), void *ctx)
{
    publisher *p = calloc(1, sizeof *p);
    p->zk = zk;
    p->done = done;
    p->before_register = before_register;
    p->ctx = ctx;
    p->done_ev = event_new(base, -1, 0, on_done, p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, worker, p) != 0) {
        event_free(p->done_ev);
        free(p);
        return NULL;
    }
    return p;
}

void publish_metrics(publisher *p, struct evbuffer *out)
{
    pthread_mutex_lock(&p->mu);
    evbuffer_add_printf(out,
                        "# HELP zkdisc_agent_service_registered 1 while the service's instance is in ZooKeeper.\n"
                        "# TYPE zkdisc_agent_service_registered gauge\n");
    for (entry *e = p->entries; e; e = e->next)
        evbuffer_add_printf(out, "zkdisc_agent_service_registered{service=\"%s\"} %d\n", e->want_spec.id,
                            e->actual != WANT_ABSENT);
    evbuffer_add_printf(out,
                        "# HELP zkdisc_agent_service_enabled 1 while the instance is registered and not drained.\n"
                        "# TYPE zkdisc_agent_service_enabled gauge\n");
    for (entry *e = p->entries; e; e = e->next)
        evbuffer_add_printf(out, "zkdisc_agent_service_enabled{service=\"%s\"} %d\n", e->want_spec.id,
                            e->actual == WANT_ENABLED);
    evbuffer_add_printf(out,
                        "# HELP zkdisc_agent_registration_changes_total Changes made to registrations in ZooKeeper.\n"
                        "# TYPE zkdisc_agent_registration_changes_total counter\n"
                        "zkdisc_agent_registration_changes_total{op=\"register\"} %" PRIu64 "\n"
                        "zkdisc_agent_registration_changes_total{op=\"deregister\"} %" PRIu64 "\n"
                        "zkdisc_agent_registration_changes_total{op=\"update\"} %" PRIu64 "\n"
                        "zkdisc_agent_registration_changes_total{op=\"set_enabled\"} %" PRIu64 "\n"
                        "# HELP zkdisc_agent_registration_errors_total Registration changes that ZooKeeper refused or that timed out (retried).\n"
                        "# TYPE zkdisc_agent_registration_errors_total counter\n"
                        "zkdisc_agent_registration_errors_total %" PRIu64 "\n"
                        "# HELP zkdisc_agent_publish_seconds From a change of a service's wanted state to ZooKeeper holding it.\n"
                        "# TYPE zkdisc_agent_publish_seconds histogram\n",
                        p->registers, p->deregisters, p->updates, p->drains, p->errors);
    for (size_t i = 0; i < NLAT; i++)
        evbuffer_add_printf(out, "zkdisc_agent_publish_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                            lat_buckets[i], p->lat[i]);
    evbuffer_add_printf(out,
                        "zkdisc_agent_publish_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
                        "zkdisc_agent_publish_seconds_sum %.6f\n"
                        "zkdisc_agent_publish_seconds_count %" PRIu64 "\n",
                        p->lat_count, p->lat_sum, p->lat_count);
    pthread_mutex_unlock(&p->mu);
}

void publisher_stop(publisher *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    while (p->entries) {
        entry *e = p->entries;
        p->entries = e->next;
        spec_clear(&e->want_spec);
        free(e->reg_service);
        free(e);
    }
    event_free(p->done_ev);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
