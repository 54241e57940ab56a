/* The registry: this process's ephemeral registrations and how they survive
 * session expiry, connection loss and operators' drains.
 *
 * User threads (register, update, deregister) and the dispatch thread
 * (session events, watches on our own nodes) share the registry under one
 * mutex. Only registry work ever holds it, never a reader of a cache. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zkdisc/registry.h>
#include <zookeeper/zookeeper.h>

#include "async.h"
#include "call.h"
#include "errors.h"
#include "instance_impl.h"
#include "paths.h"
#include "record.h"
#include "session.h"

typedef struct registry registry;

struct zkd_registration {
    registry *reg;
    zkd_registration *next;
    char *path;
    char *service, *id; /* immutable copies: inst is replaced under the lock */
    zkd_instance *inst; /* the record we want in the tree */
    int unsynced;       /* an update made while disconnected, written on reconnect */
    int missing;        /* the node must be (re-)created when the session allows */
    int creating;       /* zkd_register is creating it, outside the list lock */
    int waiting;        /* another session's node holds the path: retry when it goes */
    int evicted;        /* an operator removed our node: leave it removed */
};

typedef struct pending_delete {
    struct pending_delete *next;
    char *path;
} pending_delete;

struct registry {
    zkd_client *c;
    pthread_mutex_t mu;      /* the list, pending deletes; held across requests */
    pthread_mutex_t state_mu; /* session, dead, expiries; never held across a request */
    unsigned expiries;       /* session expiries seen so far */
    zkd_registration *list;
    pending_delete *deletes; /* deregistrations waiting for the connection */
    int64_t session;         /* the session our nodes belong to */
    int64_t *dead;           /* our expired sessions: their nodes may be removed */
    size_t ndead, capdead;
    zkd_target *target;      /* watches on our own nodes */
};

static void on_own_node_watch(void *owner, int type, const char *path);

static void ignore_stat(void *owner, const char *tag, uint64_t epoch, int rc, const zkd_stat *st)
{
    (void)owner, (void)tag, (void)epoch, (void)rc, (void)st;
}

/* ---- creating nodes ----------------------------------------------------- */

static int create_parents(zkd_client *c, const char *service, zkd_error *err)
{
    char *services = zkd__services_path(c);
    char *svc = zkd__service_path(c, service);
    const char *paths[] = {zkd_client_root(c), services, svc};
    int flags[] = {0, 0, ZOO_CONTAINER};
    int rc = services && svc ? 0 : zkd__fail(err, ZKD_ENOMEM, "out of memory");
    for (int i = 0; i < 3 && !rc; i++) {
        rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_CREATE, .path = paths[i], .flags = flags[i]},
                       NULL, err);
        if (rc == ZKD_EEXISTS)
            rc = 0;
    }
    if (!rc)
        zkd_error_clear(err);
    free(services);
    free(svc);
    return rc;
}

/* Caller holds state_mu. */
static int is_dead_locked(registry *reg, int64_t owner)
{
    for (size_t i = 0; i < reg->ndead; i++)
        if (reg->dead[i] == owner)
            return 1;
    return 0;
}

static int is_dead(registry *reg, int64_t owner)
{
    pthread_mutex_lock(&reg->state_mu);
    int dead = is_dead_locked(reg, owner);
    pthread_mutex_unlock(&reg->state_mu);
    return dead;
}

static unsigned expiries(registry *reg)
{
    pthread_mutex_lock(&reg->state_mu);
    unsigned n = reg->expiries;
    pthread_mutex_unlock(&reg->state_mu);
    return n;
}

/* The node exists already. Ours (a lost reply): write our record. One of our
 * dead sessions' (not yet expired by the server): remove it, create ours.
 * Anyone else's: refuse. Returns 1 to retry the create. */
static int settle_existing(registry *reg, zkd_registration *r, const char *json, zkd_error *err)
{
    zkd_stat st;
    int rc = zkd_node_stat(reg->c, r->path, &st, err);
    if (rc == ZKD_ENOTFOUND)
        return 1;
    if (rc)
        return rc;
    int64_t now = zkd_client_session_id(reg->c);
    if (st.ephemeral_owner == now && now != 0)
        return zkd__call(reg->c, &(zkd_op){.kind = ZKD_OP_SET, .path = r->path, .data = json,
                                           .len = (int)strlen(json), .version = st.version},
                         NULL, err);
    if (st.ephemeral_owner != 0 && is_dead(reg, st.ephemeral_owner)) {
        zkd__log(reg->c, ZKD_LOG_INFO, "removing %s left by our expired session 0x%llx", r->path,
                 (unsigned long long)st.ephemeral_owner);
        rc = zkd__call(reg->c, &(zkd_op){.kind = ZKD_OP_DELETE, .path = r->path, .version = st.version},
                       NULL, err);
        return rc == 0 || rc == ZKD_ENOTFOUND || rc == ZKD_ECONFLICT ? 1 : rc;
    }
    return zkd__fail(err, ZKD_EEXISTS, "%s is already registered by %s 0x%llx", r->path,
                     st.ephemeral_owner ? "session" : "a persistent node, owner",
                     (unsigned long long)st.ephemeral_owner);
}

/* Makes the tree hold exactly our node for r. Needs no lock of the caller's
 * (zkd_register calls it without reg->mu, so registrations from many
 * threads are in flight together); r itself must not be touched by another
 * thread meanwhile. */
static int put_node(registry *reg, zkd_registration *r, zkd_error *err)
{
    char *json = zkd_instance_to_json(r->inst);
    if (!json)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    int rc = ZKD_EEXISTS;
    for (int attempt = 0; attempt < 5; attempt++) {
        rc = zkd__call(reg->c, &(zkd_op){.kind = ZKD_OP_CREATE, .path = r->path, .data = json,
                                         .len = (int)strlen(json), .flags = ZOO_EPHEMERAL},
                       NULL, err);
        if (rc == ZKD_ENOTFOUND)
            rc = create_parents(reg->c, r->service, err);
        else if (rc == ZKD_EEXISTS)
            rc = settle_existing(reg, r, json, err);
        else
            break;
        if (rc < 0)
            break;
        rc = ZKD_EEXISTS; /* retry the create */
    }
    free(json);
    if (rc == 0) {
        r->missing = r->waiting = r->unsynced = 0;
        pthread_mutex_lock(&reg->state_mu);
        reg->session = zkd_client_session_id(reg->c);
        pthread_mutex_unlock(&reg->state_mu);
    }
    /* Learn of operators' drains, or of the other node going; the watch goes
     * with the session. */
    if (rc == 0 || rc == ZKD_EEXISTS)
        zkd__aexists(reg->target, r->path, 1, NULL, 0, ignore_stat);
    return rc;
}

/* ---- the session's events (dispatch thread) ----------------------------- */

/* Caller holds state_mu. */
static void remember_dead(registry *reg, int64_t session)
{
    if (!session || is_dead_locked(reg, session))
        return;
    if (reg->ndead == reg->capdead) {
        size_t cap = reg->capdead ? reg->capdead * 2 : 4;
        int64_t *grown = realloc(reg->dead, cap * sizeof *grown);
        if (!grown)
            return;
        reg->dead = grown;
        reg->capdead = cap;
    }
    reg->dead[reg->ndead++] = session;
}

static void drop_deletes(registry *reg)
{
    for (pending_delete *d = reg->deletes, *next; d; d = next) {
        next = d->next;
        free(d->path);
        free(d);
    }
    reg->deletes = NULL;
}

/* Deletes our node at `path`, and only ours: a node that another session
 * put there after ours went (a new owner of the id) is left alone, and so is
 * one re-created between our stat and our delete. */
static int delete_own(registry *reg, const char *path, zkd_error *err)
{
    zkd_stat st;
    int rc = zkd_node_stat(reg->c, path, &st, err);
    if (rc == 0 && st.ephemeral_owner != zkd_client_session_id(reg->c))
        return 0;
    if (rc == 0)
        rc = zkd__call(reg->c, &(zkd_op){.kind = ZKD_OP_DELETE, .path = path, .version = st.version},
                       NULL, err);
    return rc == ZKD_ENOTFOUND || rc == ZKD_ECONFLICT ? 0 : rc;
}

static void retry_deletes(registry *reg)
{
    pending_delete **pp = &reg->deletes;
    while (*pp) {
        pending_delete *d = *pp;
        int rc = delete_own(reg, d->path, NULL);
        if (rc == ZKD_ECONNLOSS || rc == ZKD_ETIMEDOUT) {
            pp = &d->next;
            continue;
        }
        *pp = d->next;
        free(d->path);
        free(d);
    }
}

static void restore_missing(registry *reg)
{
    for (zkd_registration *r = reg->list; r; r = r->next) {
        if (!r->missing || r->evicted || r->creating)
            continue; /* a creating registration is finished by its own thread */
        zkd_error err;
        int rc = put_node(reg, r, &err);
        r->waiting = rc == ZKD_EEXISTS;
        if (rc)
            zkd__log(reg->c, ZKD_LOG_WARN, "cannot re-register %s yet: %s%s", r->path, err.message,
                     r->waiting ? "; waiting for that node to go" : "");
    }
}

static int write_keeping_enabled(registry *reg, zkd_registration *r, zkd_error *err);

/* Updates made while disconnected, now that the session is back. */
static void write_unsynced(registry *reg)
{
    for (zkd_registration *r = reg->list; r; r = r->next) {
        if (!r->unsynced || r->missing || r->evicted || r->creating)
            continue;
        zkd_error err;
        int rc = write_keeping_enabled(reg, r, &err);
        if (rc == 0)
            r->unsynced = 0;
        else
            zkd__log(reg->c, ZKD_LOG_WARN, "cannot write the update of %s yet: %s", r->path, err.message);
    }
}

static void on_session(zkd_client *c, zkd_session_event ev, void *ctx)
{
    (void)c;
    registry *reg = ctx;
    pthread_mutex_lock(&reg->mu);
    if (ev == ZKD_SESSION_EXPIRED) {
        pthread_mutex_lock(&reg->state_mu);
        remember_dead(reg, reg->session);
        reg->expiries++;
        pthread_mutex_unlock(&reg->state_mu);
        for (zkd_registration *r = reg->list; r; r = r->next)
            r->missing = 1;
        drop_deletes(reg); /* their nodes went with the session */
    } else if (ev == ZKD_SESSION_REESTABLISHED || ev == ZKD_SESSION_RECONNECTED) {
        retry_deletes(reg);
        restore_missing(reg);
        write_unsynced(reg);
    }
    pthread_mutex_unlock(&reg->mu);
}

/* ---- operators' drains: keep the tree's "enabled" ----------------------- */

static zkd_registration *find_by_path(registry *reg, const char *path)
{
    for (zkd_registration *r = reg->list; r; r = r->next)
        if (!strcmp(r->path, path))
            return r;
    return NULL;
}

static void on_own_node_data(void *owner, const char *tag, uint64_t epoch, int rc,
                             const char *data, int len, const zkd_stat *st)
{
    (void)epoch;
    (void)st;
    registry *reg = owner;
    if (rc || !data)
        return;
    pthread_mutex_lock(&reg->mu);
    zkd_registration *r = find_by_path(reg, tag);
    zkd_instance *seen = NULL;
    if (r && zkd_instance_parse(r->service, r->id, data, (size_t)len, &seen, NULL) == 0 &&
        seen->enabled != r->inst->enabled) {
        zkd_instance *next = zkd__record_with_enabled(r->inst, seen->enabled);
        if (next) {
            zkd__log(reg->c, ZKD_LOG_INFO, "%s was %s by an operator", r->path,
                     seen->enabled ? "undrained" : "drained");
            zkd_instance_unref(r->inst);
            r->inst = next;
        }
    }
    zkd_instance_unref(seen);
    pthread_mutex_unlock(&reg->mu);
}

/* Our node is gone. The server also deletes it when our session expires,
 * and that deletion's event can arrive before we hear of the expiry, so the
 * node counts as removed by someone else only if the same session, still
 * alive, confirms it: a request on an expired session fails instead. */
static int removed_by_someone(registry *reg, const char *path)
{
    int64_t session = zkd_client_session_id(reg->c);
    int rc = zkd_node_stat(reg->c, path, NULL, NULL);
    return rc == ZKD_ENOTFOUND && session != 0 && session == zkd_client_session_id(reg->c) &&
           zkd_client_state(reg->c) == ZKD_STATE_CONNECTED;
}

static void on_own_node_watch(void *owner, int type, const char *path)
{
    registry *reg = owner;
    if (type == ZOO_CHANGED_EVENT || type == ZOO_CREATED_EVENT) {
        zkd__aget(reg->target, path, 1, path, 0, on_own_node_data);
    } else if (type == ZOO_DELETED_EVENT) {
        pthread_mutex_lock(&reg->mu);
        zkd_registration *r = find_by_path(reg, path);
        if (r && r->waiting) {
            /* The other session's node is gone: ours goes in now. */
            zkd_error err;
            if (put_node(reg, r, &err))
                zkd__log(reg->c, ZKD_LOG_WARN, "cannot register %s: %s", path, err.message);
        } else if (r && !r->missing && !r->creating && removed_by_someone(reg, path)) {
            /* An operator removed our live node: their call, not ours to undo
             * (draining is the way to keep an instance registered but idle). */
            r->evicted = 1;
            zkd__log(reg->c, ZKD_LOG_WARN, "%s was removed by another client; not re-creating it",
                     path);
        }
        pthread_mutex_unlock(&reg->mu);
    }
}

/* ---- the registry's life ------------------------------------------------- */

static void registration_free(zkd_registration *r)
{
    free(r->path);
    free(r->service);
    free(r->id);
    zkd_instance_unref(r->inst);
    free(r);
}

static void registry_free(void *arg)
{
    registry *reg = arg;
    for (zkd_registration *r = reg->list, *next; r; r = next) {
        next = r->next;
        registration_free(r);
    }
    drop_deletes(reg);
    free(reg->dead);
    pthread_mutex_destroy(&reg->mu);
    pthread_mutex_destroy(&reg->state_mu);
    free(reg);
}

static void *registry_make(zkd_client *c)
{
    registry *reg = calloc(1, sizeof *reg);
    if (!reg)
        return NULL;
    reg->c = c;
    pthread_mutex_init(&reg->mu, NULL);
    pthread_mutex_init(&reg->state_mu, NULL);
    reg->target = zkd__target_new(c, reg, on_own_node_watch);
    if (!reg->target || zkd_session_subscribe(c, on_session, reg, NULL, NULL) != 0 ||
        zkd__at_teardown(c, registry_free, reg) != 0) {
        /* The target, if any, is freed at teardown; it points at nothing. */
        if (reg->target)
            zkd__target_cancel(reg->target);
        pthread_mutex_destroy(&reg->mu);
        pthread_mutex_destroy(&reg->state_mu);
        free(reg);
        return NULL;
    }
    return reg;
}

static registry *registry_of(zkd_client *c, zkd_error *err)
{
    registry *reg = zkd__slot(c, ZKD_SLOT_REGISTRY, registry_make);
    if (!reg)
        zkd__fail(err, ZKD_ENOMEM, "out of memory starting the registry");
    return reg;
}

/* Caller holds reg->mu. */
static void unlink_registration(registry *reg, zkd_registration *r)
{
    for (zkd_registration **pp = &reg->list; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            return;
        }
    }
}

static void forget_pending_delete(registry *reg, const char *path)
{
    for (pending_delete **pp = &reg->deletes; *pp;) {
        pending_delete *d = *pp;
        if (!strcmp(d->path, path)) {
            *pp = d->next;
            free(d->path);
            free(d);
        } else {
            pp = &d->next;
        }
    }
}

/* Tests only: treat `session` as one of this client's dead sessions, to
 * stage the "old node still there" race. */
void zkd__registry_mark_dead(zkd_client *c, int64_t session);
void zkd__registry_mark_dead(zkd_client *c, int64_t session)
{
    registry *reg = registry_of(c, NULL);
    if (!reg)
        return;
    pthread_mutex_lock(&reg->state_mu);
    remember_dead(reg, session);
    pthread_mutex_unlock(&reg->state_mu);
}

int zkd_register(zkd_client *c, const zkd_instance_spec *spec, zkd_registration **out,
                 zkd_error *err)
{
    if (!c || !spec || !out)
        return zkd__fail(err, ZKD_EINVAL, "no client, spec or place for the registration");
    registry *reg = registry_of(c, err);
    if (!reg)
        return ZKD_ENOMEM;
    zkd_registration *r = calloc(1, sizeof *r);
    if (!r)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    int rc = zkd__record_from_spec(spec, NULL, &r->inst, err);
    if (!rc && (!(r->path = zkd__instance_path(c, r->inst->service, r->inst->id)) ||
                !(r->service = strdup(r->inst->service)) || !(r->id = strdup(r->inst->id))))
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    if (rc) {
        registration_free(r);
        return rc;
    }
    r->reg = reg;
    /* In the list first (so a duplicate is refused), marked as creating so
     * session events leave it to us; the create itself runs without the
     * list lock. */
    pthread_mutex_lock(&reg->mu);
    if (find_by_path(reg, r->path)) {
        rc = zkd__fail(err, ZKD_EEXISTS, "%s is already registered by this client", r->path);
    } else {
        forget_pending_delete(reg, r->path);
        r->creating = r->missing = 1;
        r->next = reg->list;
        reg->list = r;
    }
    pthread_mutex_unlock(&reg->mu);
    if (rc) {
        registration_free(r);
        return rc;
    }
    unsigned before = expiries(reg);
    rc = put_node(reg, r, err);
    pthread_mutex_lock(&reg->mu);
    /* An expiry during the create may have taken the new node along, after
     * the restore pass skipped it: create it again, now under the lock. */
    if (!rc && expiries(reg) != before)
        rc = put_node(reg, r, err);
    r->creating = 0;
    if (rc)
        unlink_registration(reg, r);
    pthread_mutex_unlock(&reg->mu);
    if (rc) {
        registration_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

const char *zkd_registration_id(const zkd_registration *r) { return r->id; }

zkd_instance *zkd_registration_instance(const zkd_registration *r)
{
    pthread_mutex_lock(&r->reg->mu);
    zkd_instance *i = zkd_instance_ref(r->inst);
    pthread_mutex_unlock(&r->reg->mu);
    return i;
}

/* Writes r's record over the node, keeping the tree's "enabled" (an
 * operator's drain wins over the process's own idea). Caller holds reg->mu. */
static int write_keeping_enabled(registry *reg, zkd_registration *r, zkd_error *err)
{
    for (int attempt = 0; attempt < 10; attempt++) {
        zkd_result cur = {0};
        int rc = zkd__call(reg->c, &(zkd_op){.kind = ZKD_OP_GET, .path = r->path}, &cur, err);
        if (rc == ZKD_ENOTFOUND) {
            r->missing = 1; /* re-created with the new record when the session allows */
            return 0;
        }
        if (rc)
            return rc;
        zkd_instance *seen = NULL;
        if (cur.data && zkd_instance_parse(r->service, r->id, cur.data, (size_t)cur.len,
                                           &seen, NULL) == 0 && seen->enabled != r->inst->enabled) {
            zkd_instance *next = zkd__record_with_enabled(r->inst, seen->enabled);
            if (next) {
                zkd_instance_unref(r->inst);
                r->inst = next;
            }
        }
        zkd_instance_unref(seen);
        char *json = zkd_instance_to_json(r->inst);
        rc = json ? zkd__call(reg->c, &(zkd_op){.kind = ZKD_OP_SET, .path = r->path, .data = json,
                                                .len = (int)strlen(json), .version = cur.stat.version},
                              NULL, err)
                  : zkd__fail(err, ZKD_ENOMEM, "out of memory");
        free(json);
        zkd__result_clear(&cur);
        if (rc != ZKD_ECONFLICT)
            return rc;
    }
    return zkd__fail(err, ZKD_ECONFLICT, "%s kept changing under the update; try again", r->path);
}

int zkd_registration_update(zkd_registration *r, const zkd_instance_spec *spec, zkd_error *err)
{
    registry *reg = r->reg;
    if ((spec->service && strcmp(spec->service, r->service)) ||
        (spec->id && strcmp(spec->id, r->id)))
        return zkd__fail(err, ZKD_EINVAL, "an update cannot change the service or id of %s", r->path);
    pthread_mutex_lock(&reg->mu);
    zkd_instance *next;
    int rc = zkd__record_from_spec(spec, r->inst, &next, err);
    if (!rc && zkd_client_state(reg->c) != ZKD_STATE_CONNECTED) {
        /* Written when the connection is back (or with the node on a new
         * session), rather than holding the registry while we wait. */
        zkd_instance_unref(r->inst);
        r->inst = next;
        r->unsynced = 1;
    } else if (!rc) {
        zkd_instance *prev = r->inst;
        r->inst = next;
        rc = write_keeping_enabled(reg, r, err);
        if (rc) { /* the tree still holds the old record */
            zkd_instance_unref(r->inst);
            r->inst = prev;
        } else {
            zkd_instance_unref(prev);
        }
    }
    pthread_mutex_unlock(&reg->mu);
    return rc;
}

int zkd_deregister(zkd_registration *r, zkd_error *err)
{
    if (!r)
        return 0;
    registry *reg = r->reg;
    pthread_mutex_lock(&reg->mu);
    unlink_registration(reg, r);
    /* Disconnected: queue the delete at once instead of waiting the request
     * timeout with the registry held. */
    int rc = zkd_client_state(reg->c) == ZKD_STATE_CONNECTED ? delete_own(reg, r->path, err)
                                                              : ZKD_ECONNLOSS;
    if (rc == ZKD_ECONNLOSS || rc == ZKD_ETIMEDOUT) {
        pending_delete *d = malloc(sizeof *d);
        if (d) {
            *d = (pending_delete){.next = reg->deletes, .path = r->path};
            reg->deletes = d;
            r->path = NULL;
            rc = 0;
        }
    } else if (rc == ZKD_EEXPIRED) {
        rc = 0; /* going with the session */
    }
    if (!rc)
        zkd_error_clear(err);
    pthread_mutex_unlock(&reg->mu);
    registration_free(r);
    return rc;
}
