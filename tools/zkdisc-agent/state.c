/* SPDX-License-Identifier: Apache-2.0 */
/* state_dir/maintenance.json: which services an operator put in
 * maintenance, so that a restarted agent keeps them drained. Written with
 * atomic_file (a reader or a crash sees the old file or the new one). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "core/atomic_file.h"
#include "runtime.h"

#define STATE_MAX (1 << 20)

static char *state_path(const char *dir)
{
    char *p = NULL;
    return asprintf(&p, "%s/maintenance.json", dir) < 0 ? NULL : p;
}

/* Each entry is "ID": {"reason": TEXT, "since": TIME}; anything else (a
 * hand edit, `{"app-1": 5}`) would put a service in maintenance that nobody
 * asked for: logged and left out (the next save drops it from the file). */
static void drop_bad_entries(json_t *m, const char *path)
{
    const char *id;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(m, tmp, id, v) {
        json_t *reason = json_object_get(v, "reason"), *since = json_object_get(v, "since");
        if (json_is_object(v) && (!reason || json_is_string(reason)) && (!since || json_is_string(since)))
            continue;
        agent_log(AGENT_WARN, "%s: entry \"%s\" ignored: not {\"reason\": TEXT, \"since\": TIME}", path, id);
        json_object_del(m, id);
    }
}

/* state_dir holds snapshots of configuration documents (secrets) and the
 * API token: the agent's user only, even when something else made it. */
static void make_private(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0 && (st.st_mode & 077) && st.st_uid == geteuid()) {
        if (chmod(dir, 0700) == 0)
            agent_log(AGENT_INFO, "%s: mode %04o -> 0700", dir, (unsigned)(st.st_mode & 07777));
        else
            agent_log(AGENT_WARN, "%s: cannot make it 0700: %m", dir);
    }
}

json_t *state_load(const char *dir)
{
    if (dir)
        make_private(dir);
    json_t *m = NULL;
    char *path = dir ? state_path(dir) : NULL, *text = NULL;
    if (path && zkd__atomic_file_read(path, STATE_MAX, &text) >= 0) {
        json_error_t je;
        m = json_loads(text, 0, &je);
        if (!json_is_object(m)) {
            agent_log(AGENT_WARN, "%s:%d: ignored, not a JSON object: %s", path, je.line, je.text);
            json_decref(m);
            m = NULL;
        }
        drop_bad_entries(m, path);
    } else if (path && errno != ENOENT) {
        agent_log(AGENT_WARN, "%s: cannot read: %m", path);
    }
    free(text);
    free(path);
    return m ? m : json_object();
}

int state_save(const char *dir, json_t *maint)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        agent_log(AGENT_ERROR, "%s: %m", dir);
        return -1;
    }
    char *path = state_path(dir);
    char *text = json_dumps(maint, JSON_INDENT(2) | JSON_SORT_KEYS);
    char err[512];
    int rc = path && text ? zkd__atomic_file_write(path, text, strlen(text), 0600, NULL, err, sizeof err) : -1;
    if (rc < 0)
        agent_log(AGENT_ERROR, "%s", path && text ? err : "out of memory");
    free(text);
    free(path);
    return rc < 0 ? -1 : 0;
}

/* ---- restarts without flap: the session and the check states -------------
 *
 * state_dir/session.json (0600: the password lets anyone take the session
 * over) holds the ZooKeeper session's credentials and the registrations it
 * may hold; state_dir/checks.json the check states. A new agent started
 * within the session timeout resumes the session, so its ephemeral nodes
 * never leave, and its checks start where the old ones were, so a passing
 * service is registered (adopted) at once rather than after rise x
 * interval. */

static agent_rt *keep_rt;
static struct event *keep_ev;
static atomic_int keep_session = 1; /* 0 after a graceful leave: the session ended */

/* session.json is written by the loop (keep_write) and by the publisher's
 * worker (state_before_register), one at a time so that an older list never
 * lands last, in the directory it was loaded from at the start. */
static pthread_mutex_t session_mu = PTHREAD_MUTEX_INITIALIZER;
static char *session_dir;

static char *state_file(const char *dir, const char *name)
{
    char *p = NULL;
    return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

int state_dir_prepare(const char *dir)
{
    if (dir && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        agent_log(AGENT_ERROR, "%s: %m", dir);
        return -1;
    }
    return 0;
}

static json_t *load_json(const char *dir, const char *name)
{
    char *path = dir ? state_file(dir, name) : NULL, *text = NULL;
    json_t *j = NULL;
    if (path && zkd__atomic_file_read(path, STATE_MAX, &text) >= 0) {
        json_error_t je;
        j = json_loads(text, 0, &je);
        if (!json_is_object(j)) {
            agent_log(AGENT_WARN, "%s:%d: ignored, not a JSON object: %s", path, je.line, je.text);
            json_decref(j);
            j = NULL;
        }
    } else if (path && errno != ENOENT) {
        agent_log(AGENT_WARN, "%s: cannot read: %m", path);
    }
    free(text);
    free(path);
    return j;
}

static void save_json(const char *dir, const char *name, json_t *j)
{
    char *path = state_file(dir, name);
    char *text = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
    char err[512];
    if (!path || !text || zkd__atomic_file_write(path, text, strlen(text), 0600, NULL, err, sizeof err) < 0)
        agent_log(AGENT_ERROR, "cannot keep state: %s", path && text ? err : "out of memory");
    free(text);
    free(path);
}

static int unhex(const char *s, char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (!s || sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (char)v;
    }
    return s && strlen(s) == 2 * n ? 0 : -1;
}

json_t *state_session_load(const char *dir, zkd_session_credentials *cr)
{
    memset(cr, 0, sizeof *cr);
    pthread_mutex_lock(&session_mu);
    free(session_dir);
    session_dir = dir ? strdup(dir) : NULL;
    pthread_mutex_unlock(&session_mu);
    json_t *j = load_json(dir, "session.json");
    const char *id = NULL, *pw = NULL;
    json_t *held = NULL;
    if (j && (json_unpack(j, "{sssss?o}", "session", &id, "password", &pw, "held", &held) != 0 ||
              unhex(pw, cr->password, sizeof cr->password) != 0 ||
              sscanf(id, "%" SCNx64, (uint64_t *)&cr->id) != 1)) {
        agent_log(AGENT_WARN, "%s/session.json: ignored, malformed", dir);
        memset(cr, 0, sizeof *cr);
        held = NULL;
    }
    held = json_is_array(held) ? json_incref(held) : json_array();
    json_decref(j);
    return held;
}

void state_session_inherit(agent_rt *rt, json_t *held)
{
    size_t i;
    json_t *h;
    json_array_foreach(held, i, h) {
        const char *svc = json_string_value(json_object_get(h, "service"));
        const char *id = json_string_value(json_object_get(h, "id"));
        if (svc && id)
            publish_inherit(rt->pub, svc, id);
    }
    json_decref(held);
}

json_t *state_checks_load(const char *dir)
{
    return load_json(dir, "checks.json");
}

/* The session's credentials and what it may hold. No session right now
 * (an expiry being renewed): the file keeps the last one, which a restart
 * finds expired, and then opens a new one. */
void state_session_write(publisher *pub)
{
    pthread_mutex_lock(&session_mu);
    zkd_session_credentials cr;
    if (session_dir && atomic_load(&keep_session) && zkd_client_credentials(publish_client(pub), &cr, NULL) == 0) {
        char id[24], pw[2 * sizeof cr.password + 1];
        snprintf(id, sizeof id, "0x%" PRIx64, (uint64_t)cr.id);
        for (size_t i = 0; i < sizeof cr.password; i++)
            snprintf(pw + 2 * i, 3, "%02x", (unsigned char)cr.password[i]);
        json_t *s = json_pack("{sssssoss}", "session", id, "password", pw, "held", publish_held(pub), "note",
                              "zkdisc-agent's ZooKeeper session; a secret, keep mode 0600");
        save_json(session_dir, "session.json", s);
        json_decref(s);
        memset(&cr, 0, sizeof cr);
        memset(pw, 0, sizeof pw);
    }
    pthread_mutex_unlock(&session_mu);
}

static void keep_write(void)
{
    agent_rt *rt = keep_rt;
    const char *dir = rt ? rt->conf->state_dir : NULL;
    if (!dir || state_dir_prepare(dir) != 0)
        return;
    json_t *checks = json_object();
    for (size_t i = 0; i < rt->nservices; i++)
        json_object_set_new(checks, service_get_conf(rt->services[i])->id,
                            service_state_json(rt->services[i]));
    save_json(dir, "checks.json", checks);
    json_decref(checks);
    if (rt->pub)
        state_session_write(rt->pub);
}

static void on_keep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    keep_write();
}

void state_keep_soon(void)
{
    if (keep_ev && !evtimer_pending(keep_ev, NULL)) {
        struct timeval tv = {0, 50000}; /* a burst of changes costs one write */
        evtimer_add(keep_ev, &tv);
    }
}

void state_on_published(void *ctx)
{
    (void)ctx;
    state_keep_soon();
}

void state_keep_start(agent_rt *rt)
{
    keep_rt = rt;
    keep_ev = evtimer_new(rt->base, on_keep, NULL);
    health_on_state_change(state_keep_soon);
}

void state_keep_now(void)
{
    if (keep_ev)
        evtimer_del(keep_ev);
    keep_write();
}

void state_keep_leave(void)
{
    pthread_mutex_lock(&session_mu); /* no write of the worker's after the unlink */
    atomic_store(&keep_session, 0);
    char *path = session_dir ? state_file(session_dir, "session.json") : NULL;
    if (path && unlink(path) != 0 && errno != ENOENT)
        agent_log(AGENT_WARN, "%s: %m", path);
    pthread_mutex_unlock(&session_mu);
    free(path);
}

void state_keep_stop(void)
{
    health_on_state_change(NULL);
    if (keep_ev)
        event_free(keep_ev);
    keep_ev = NULL;
    keep_rt = NULL;
}

void state_session_connected(agent_rt *rt, zkd_session_event ev, int64_t saved_id)
{
    static int64_t told; /* the event and main's look after subscribing may both come */
    int64_t id = zkd_client_session_id(rt->zk);
    state_keep_soon();
    if (id == told)
        return;
    told = id;
    if (ev == ZKD_SESSION_CONNECTED && zkd_client_resumed(rt->zk))
        agent_log(AGENT_INFO, "zookeeper: resumed the previous run's session 0x%" PRIx64
                  ": its registrations stayed", (uint64_t)id);
    else if (ev == ZKD_SESSION_CONNECTED && saved_id)
        agent_log(AGENT_WARN, "zookeeper: the previous run's session 0x%" PRIx64
                  " had expired; new session 0x%" PRIx64, (uint64_t)saved_id, (uint64_t)id);
}
