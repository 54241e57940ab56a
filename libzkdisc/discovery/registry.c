/* SPDX-License-Identifier: Apache-2.0 */
/* The registry: this process's ephemeral registrations, an actor on the
 * client's loop thread.
 *
 * A registration's state is read and written on the loop thread only.
 * zkd_register, zkd_registration_update and zkd_registration_close post a command
 * and wait for its answer on their own thread (at most the request
 * timeout), holding nothing the loop needs. Requests are asynchronous and
 * their results are jobs; retries are a timer. Nothing here ever makes the
 * loop wait for the network, so session events are never held up by a
 * registration.
 *
 * Per registration the loop drives one chain of requests at a time towards
 * "our node is in the tree, holding our record":
 *   create   the create with an exists watch riding behind it (pipelined:
 *            one round trip, and the watch is armed when the create lands;
 *            none for a registration made with spec.watch_node = 0);
 *   resolve  the node is there already, or a create's reply was lost: read
 *            it. Held by this client's live session: adopt it. By one of our
 *            dead sessions: delete it and create ours. By a live stranger:
 *            ZKD_EEXISTS to a caller still waiting, else wait for it to go;
 *   write    read the node (an operator's "enabled" wins), then a set with
 *            the version read; skipped when the tree already holds it.
 * A write whose reply was lost is resolved by that read, never re-sent
 * blindly. Deregistrations are a queue of deletes, each deleting a node only
 * while its owner is one of our sessions. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zkdisc/registry.h>
#include <zookeeper/zookeeper.h>

#include "request.h"
#include "clock.h"
#include "errors.h"
#include "instance_impl.h"
#include "paths.h"
#include "record.h"
#include "session.h"

typedef struct registry registry;

/* A caller waiting for the loop's answer. Both hold a reference. */
typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int done;      /* rc and err are the answer */
    int claimed;   /* the loop is about to answer: the caller waits for it */
    int abandoned; /* the caller stopped waiting: the answer goes nowhere */
    int rc;
    zkd_error err;
} waiter;

typedef struct update_wait {
    struct update_wait *next;
    waiter *w;
    uint64_t seq; /* answered once the tree holds this record or a newer one */
} update_wait;

/* Replies and watch events find their registration by path (the tag) and
 * generation (the epoch): a late reply for a registration gone, or for an
 * earlier chain of this one, finds nobody. */
struct zkd_registration {
    registry *reg;
    zkd_registration *next; /* its hash chain */
    char *path, *service, *id;
    zkd_instance *inst;     /* the record we want; swapped under reg->view_mu */
    uint64_t gen;           /* the epoch of its requests, unique in the registry */
    uint64_t seq;           /* bumped by each update */
    uint64_t sending;       /* the seq of the write in flight */
    int64_t owner;          /* the session holding our node; 0 while it is not there */
    int linked;             /* in reg's table */
    int busy;               /* a chain of requests is in flight */
    int dirty;              /* the tree may hold an older record */
    int unsure;             /* a create or delete's reply was lost: read before writing */
    int waiting;            /* a stranger's node holds the path: retry when it goes */
    int watched;            /* spec.watch_node: the registry keeps a watch on our node */
    int armed;              /* a watch on the path is set (the client re-arms it on reconnect) */
    int evicted;            /* an operator removed our node: leave it removed */
    int inert;              /* refused after its caller gave up: never touches the tree */
    int released;           /* deregistered after the loop stopped: freed at teardown */
    waiter *creator;        /* zkd_register's caller, until its answer */
    update_wait *updates;
};

typedef struct pending_delete {
    struct pending_delete *next;
    char *path;
    uint64_t id;  /* the epoch of its request in flight; 0 when none */
    waiter *w;    /* zkd_registration_close's caller, until its answer */
} pending_delete;

struct registry {
    zkd_client *c;
    zkd_target *target;       /* every reply and watch of the registry */
    zkd_registration **table; /* by path */
    size_t nbuckets, count;
    pending_delete *deletes;
    int64_t session;          /* the newest session seen */
    int64_t *dead;            /* our expired sessions: their nodes may be removed */
    size_t ndead, capdead;
    _Atomic uint64_t next_id; /* generations and delete ids (see new_id) */
    zkd_timer *retry;         /* drives everything again after a failure */
    int backoff_ms;
    pthread_mutex_t view_mu;  /* leaf lock: each registration's inst, for readers */
    pthread_mutex_t mu;       /* torn, refs, and the table once the loop is gone */
    int torn;                 /* the client's teardown ran: no loop any more */
    int refs;                 /* the client plus one per registration */
};

enum { RETRY_FIRST_MS = 20, RETRY_MAX_MS = 5000, PARENTS = 3 };

/* A generation or delete id, unique in the registry; zkd_register's caller
 * takes one too when it sends its create itself (see send_create). */
static uint64_t new_id(registry *reg)
{
    return atomic_fetch_add(&reg->next_id, 1) + 1;
}

static void drive(zkd_registration *r);
static void drive_delete(registry *reg, pending_delete *d);
static void on_node_watch(void *owner, int type, const char *path);

/* ---- waiting for the loop ------------------------------------------------ */

static waiter *waiter_new(void)
{
    waiter *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    pthread_mutex_init(&w->mu, NULL);
    zkd__cond_init(&w->cv);
    w->refs = 2;
    return w;
}

/* Caller holds w->mu: lets go of it and of one reference. */
static void waiter_unref_locked(waiter *w)
{
    int last = --w->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (last) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
    }
}

static void waiter_unref(waiter *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    waiter_unref_locked(w);
}

/* Loop side: the caller will take the answer about to be given (1), or has
 * gone (0). */
static int claim(waiter *w)
{
    pthread_mutex_lock(&w->mu);
    int there = !w->abandoned && !w->done;
    w->claimed = there;
    pthread_mutex_unlock(&w->mu);
    return there;
}

/* Gives the answer (unless the caller has gone or has one) and lets go. */
static void answer(waiter *w, int rc, const zkd_error *err)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    if (!w->abandoned && !w->done) {
        w->done = 1;
        w->rc = rc;
        if (rc && err)
            w->err = *err;
        else if (rc)
            zkd__fail(&w->err, rc, "%s", zkd_strerror(rc));
        pthread_cond_signal(&w->cv);
    }
    waiter_unref_locked(w);
}

/* Caller side: the answer, or `late` when none came within timeout_ms (the
 * loop keeps working on it). */
static int await(waiter *w, int timeout_ms, int late, zkd_error *err)
{
    struct timespec dl = zkd__deadline(timeout_ms);
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        if (w->claimed)
            pthread_cond_wait(&w->cv, &w->mu);
        else if ((timeout_ms <= 0 || pthread_cond_timedwait(&w->cv, &w->mu, &dl) == ETIMEDOUT) &&
                 !w->claimed)
            break;
    }
    int rc = w->done ? w->rc : late;
    if (!w->done)
        w->abandoned = 1;
    else if (rc && err)
        *err = w->err;
    waiter_unref_locked(w);
    return rc;
}

/* Caller side: it will not wait for the answer. */
static void abandon(waiter *w)
{
    pthread_mutex_lock(&w->mu);
    w->abandoned = 1;
    waiter_unref_locked(w);
}

/* ---- the table of registrations (loop thread) ---------------------------- */

static size_t bucket_of(const registry *reg, const char *path)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h % reg->nbuckets);
}

static zkd_registration *find_by_path(registry *reg, const char *path)
{
    if (!reg->nbuckets || !path)
        return NULL;
    for (zkd_registration *r = reg->table[bucket_of(reg, path)]; r; r = r->next)
        if (!strcmp(r->path, path))
            return r;
    return NULL;
}

/* The registration a reply is for, if it is still waiting for it. */
static zkd_registration *addressed(registry *reg, const char *path, uint64_t gen)
{
    zkd_registration *r = find_by_path(reg, path);
    return r && r->gen == gen ? r : NULL;
}

static void grow(registry *reg)
{
    size_t n = reg->nbuckets ? reg->nbuckets * 2 : 64;
    zkd_registration **t = calloc(n, sizeof *t);
    if (!t)
        return; /* longer chains, still correct */
    zkd_registration **old = reg->table;
    size_t oldn = reg->nbuckets;
    reg->table = t;
    reg->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        for (zkd_registration *r = old[i], *next; r; r = next) {
            next = r->next;
            size_t b = bucket_of(reg, r->path);
            r->next = t[b];
            t[b] = r;
        }
    }
    free(old);
}

static int link_registration(registry *reg, zkd_registration *r)
{
    if (reg->count >= reg->nbuckets)
        grow(reg);
    if (!reg->nbuckets)
        return ZKD_ENOMEM;
    size_t b = bucket_of(reg, r->path);
    r->next = reg->table[b];
    reg->table[b] = r;
    r->linked = 1;
    reg->count++;
    return 0;
}

static void unlink_registration(registry *reg, zkd_registration *r)
{
    if (!r->linked)
        return;
    for (zkd_registration **pp = &reg->table[bucket_of(reg, r->path)]; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    r->linked = 0;
    reg->count--;
}

/* Calls fn on every registration; fn may unlink the one it is given. */
static void for_each(registry *reg, void (*fn)(zkd_registration *r))
{
    for (size_t i = 0; i < reg->nbuckets; i++) {
        for (zkd_registration *r = reg->table[i], *next; r; r = next) {
            next = r->next;
            fn(r);
        }
    }
}

/* ---- sessions ------------------------------------------------------------- */

static int connected(registry *reg)
{
    return zkd_client_state(reg->c) == ZKD_STATE_CONNECTED;
}

static void note_session(registry *reg)
{
    int64_t s = zkd_client_session_id(reg->c);
    if (s)
        reg->session = s;
}

static int is_dead(registry *reg, int64_t owner)
{
    for (size_t i = 0; i < reg->ndead; i++)
        if (reg->dead[i] == owner)
            return 1;
    return 0;
}

static void remember_dead(registry *reg, int64_t session)
{
    if (!session || is_dead(reg, session))
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

/* A node is ours to take or remove when one of this client's sessions,
 * live or expired, holds it. */
static int ours(registry *reg, int64_t owner)
{
    int64_t now = zkd_client_session_id(reg->c);
    return owner != 0 && (owner == now || is_dead(reg, owner));
}

/* ---- retries ---------------------------------------------------------------- */

static void drive_all(registry *reg)
{
    for_each(reg, drive);
    for (pending_delete *d = reg->deletes, *next; d; d = next) {
        next = d->next;
        drive_delete(reg, d);
    }
}

static void retry_now(void *arg)
{
    registry *reg = arg;
    reg->retry = NULL;
    drive_all(reg);
}

/* Something failed while the session looked usable: everything is driven
 * again after a delay that doubles up to RETRY_MAX_MS. While disconnected,
 * the session's return drives it instead. */
static void retry_later(registry *reg)
{
    if (reg->retry || !connected(reg))
        return;
    reg->backoff_ms = reg->backoff_ms ? reg->backoff_ms * 2 : RETRY_FIRST_MS;
    if (reg->backoff_ms > RETRY_MAX_MS)
        reg->backoff_ms = RETRY_MAX_MS;
    reg->retry = zkd__after(reg->c, reg->backoff_ms, retry_now, NULL, reg);
}

/* An rc that says nothing about the node (the connection or the session
 * went): 1, and the registry tries again when it can. */
static int transient(registry *reg, int rc)
{
    if (rc == ZKD_ECONNLOSS || rc == ZKD_ENOMEM)
        retry_later(reg);
    return rc == ZKD_ECONNLOSS || rc == ZKD_EEXPIRED || rc == ZKD_ECLOSED || rc == ZKD_ENOMEM;
}

/* ---- the record ------------------------------------------------------------ */

static void set_inst(zkd_registration *r, zkd_instance *next)
{
    pthread_mutex_lock(&r->reg->view_mu);
    zkd_instance *prev = r->inst;
    r->inst = next;
    pthread_mutex_unlock(&r->reg->view_mu);
    zkd_instance_unref(prev);
}

/* Takes the tree's "enabled" (an operator's drain or undrain) into our
 * record. */
static void learn_enabled(zkd_registration *r, const char *data, int len)
{
    zkd_instance *seen = NULL;
    if (data && len > 0 &&
        zkd_instance_parse(r->service, r->id, data, (size_t)len, &seen, NULL) == 0 &&
        seen->enabled != r->inst->enabled) {
        zkd_instance *next = zkd__record_with_enabled(r->inst, seen->enabled);
        if (next) {
            zkd__log(r->reg->c, ZKD_LOG_INFO, "%s was %s by an operator", r->path,
                     seen->enabled ? "undrained" : "drained");
            set_inst(r, next);
        }
    }
    zkd_instance_unref(seen);
}

/* 1 when the tree's data is exactly our record. */
static int holds_ours(zkd_registration *r, const char *data, int len)
{
    char *json = zkd_instance_to_json(r->inst);
    int same = json && data && len == (int)strlen(json) && !memcmp(json, data, (size_t)len);
    free(json);
    return same;
}

/* Answers the updates the tree now holds (seq <= upto), or all of them. */
static void answer_updates(zkd_registration *r, uint64_t upto, int all, int rc, const zkd_error *err)
{
    for (update_wait **pp = &r->updates; *pp;) {
        update_wait *u = *pp;
        if (all || u->seq <= upto) {
            *pp = u->next;
            answer(u->w, rc, err);
            free(u);
        } else {
            pp = &u->next;
        }
    }
}

/* ---- a registration's requests (loop thread) ------------------------------ */

static void next_gen(zkd_registration *r)
{
    r->gen = new_id(r->reg);
    r->busy = 0;
}

/* Our node is in the tree, held by `owner`. */
static void took(zkd_registration *r, int64_t owner)
{
    r->owner = owner;
    r->unsure = r->waiting = 0;
    if (owner)
        r->reg->session = owner;
    r->reg->backoff_ms = 0;
    answer(r->creator, 0, NULL);
    r->creator = NULL;
    drive(r); /* an update made meanwhile */
}

/* Out of the table: late replies and watch events find nobody. */
static void quiet(zkd_registration *r)
{
    unlink_registration(r->reg, r);
    next_gen(r);
}

/* A request could not be done. A caller still waiting in zkd_register gets
 * the error and frees r (do not touch r after that); otherwise the registry
 * keeps trying, or for a stranger's node waits for it to go. */
static void failed(zkd_registration *r, int rc, const zkd_error *err)
{
    waiter *w = r->creator;
    r->creator = NULL;
    if (w && claim(w)) {
        quiet(r);
        answer(w, rc, err);
        return;
    }
    waiter_unref(w);
    zkd__log(r->reg->c, ZKD_LOG_WARN, "cannot register %s yet: %s", r->path,
             err ? err->message : zkd_strerror(rc));
    if (rc == ZKD_EEXISTS)
        r->waiting = 1; /* the read that found it left a watch: its deletion drives us */
    else
        retry_later(r->reg);
}

/* Issued (1), or rc handled as a failed reply would be. */
static int issued(zkd_registration *r, int rc)
{
    r->busy = rc == 0;
    if (rc && !transient(r->reg, rc))
        failed(r, rc, NULL);
    return rc == 0;
}

static void on_resolved(void *owner, const char *tag, uint64_t epoch, int rc, const char *data,
                        int len, const zkd_stat *st);

/* Reads the node, leaving a watch on it. */
static void resolve(zkd_registration *r)
{
    issued(r, zkd__aget(r->reg->target, r->path, 1, r->path, r->gen, on_resolved));
}

static void on_parents(void *owner, const char *tag, uint64_t epoch, int rc, const zkd_stat *st)
{
    (void)st;
    zkd_registration *r = addressed(owner, tag, epoch);
    if (!r)
        return;
    r->busy = 0;
    if (rc == 0 || rc == ZKD_EEXISTS)
        drive(r);
    else if (!transient(r->reg, rc))
        failed(r, rc, NULL);
}

static void ignore_stat(void *owner, const char *tag, uint64_t epoch, int rc, const zkd_stat *st)
{
    (void)owner, (void)tag, (void)epoch, (void)rc, (void)st;
}

/* The root, the services folder and the service's container, pipelined:
 * only the last one's reply matters, the others are answered before it. */
static void create_parents(zkd_registration *r)
{
    zkd_client *c = r->reg->c;
    char *services = zkd__services_path(c);
    char *svc = zkd__service_path(c, r->service);
    const char *paths[PARENTS] = {zkd_client_root(c), services, svc};
    int flags[PARENTS] = {0, 0, ZOO_CONTAINER};
    int rc = services && svc ? 0 : ZKD_ENOMEM;
    for (int i = 0; i < PARENTS && !rc; i++) {
        int last = i == PARENTS - 1;
        rc = zkd__awrite(r->reg->target, &(zkd_op){.kind = ZKD_OP_CREATE, .path = paths[i], .flags = flags[i]},
                         r->path, r->gen, last ? on_parents : ignore_stat);
    }
    free(services);
    free(svc);
    issued(r, rc);
}

static void on_created(void *owner, const char *tag, uint64_t epoch, int rc, const zkd_stat *st)
{
    zkd_registration *r = addressed(owner, tag, epoch);
    if (!r)
        return;
    r->busy = 0;
    if (rc == 0) {
        took(r, st->ephemeral_owner);
    } else if (rc == ZKD_ENOTFOUND) {
        create_parents(r);
    } else if (rc == ZKD_EEXISTS) {
        resolve(r);
    } else if (rc == ZKD_ECONNLOSS) {
        r->unsure = 1; /* it may have been applied: read before anything else */
        transient(r->reg, rc);
    } else if (!transient(r->reg, rc)) {
        zkd_error err;
        zkd__fail(&err, rc, "cannot create %s: %s", r->path, zkd_strerror(rc));
        failed(r, rc, &err);
    }
}

/* An exists leaves its watch whether the node is there or not. Not there
 * though we hold it: it went between our create and this exists, and its
 * removal fired no watch of ours; the check says whose call it was. */
static void check(zkd_registration *r);

static void on_armed(void *owner, const char *tag, uint64_t epoch, int rc, const zkd_stat *st)
{
    (void)st;
    zkd_registration *r = addressed(owner, tag, epoch);
    if (r && (rc == 0 || rc == ZKD_ENOTFOUND))
        r->armed = 1;
    if (r && rc == ZKD_ENOTFOUND && r->owner && !r->evicted)
        check(r);
}

/* ZooKeeper's completion thread: a created node is all zkd_register's
 * caller waits for, so it hears at once; the loop records it meanwhile
 * (its job was posted first, so the caller's next command comes after). */
static void early_created(void *arg, int rc)
{
    waiter *w = arg;
    if (rc == 0)
        answer(w, 0, NULL);
    else
        waiter_unref(w);
}

/* The create of r's node holding `json`, and (if r is watched) an exists
 * watch right behind it on the same connection: one round trip, and the
 * watch is armed as soon as the node is there. `acl` NULL: open to
 * everyone. r->creator (may be NULL) hears of a created node on the
 * completion thread. 0, or why nothing was sent. */
static int send_create(zkd_registration *r, const char *json, const struct ACL_vector *acl)
{
    registry *reg = r->reg;
    const char *path = r->path;
    waiter *w = r->creator;
    if (w) { /* one reference more, for early_created */
        pthread_mutex_lock(&w->mu);
        w->refs++;
        pthread_mutex_unlock(&w->mu);
    }
    int rc = zkd__awrite_early(reg->target,
                               &(zkd_op){.kind = ZKD_OP_CREATE, .path = path, .data = json,
                                         .len = (int)strlen(json), .flags = ZOO_EPHEMERAL, .acl = acl},
                               path, r->gen, on_created, w ? early_created : NULL, w);
    if (rc) {
        waiter_unref(w);
        return rc;
    }
    if (r->watched)
        zkd__aexists(reg->target, path, 1, path, r->gen, on_armed);
    return 0;
}

static void create_node(zkd_registration *r, const struct ACL_vector *acl)
{
    char *json = zkd_instance_to_json(r->inst);
    int rc = json ? send_create(r, json, acl) : ZKD_ENOMEM;
    free(json);
    if (issued(r, rc)) {
        r->sending = r->seq;
        r->dirty = 0;
    }
}

/* The service node read: a locked service's node names its admins (see
 * service_acl.c), and its instances are created readable by everyone and
 * writable by their creator and those admins. A node naming none (not
 * locked by zkdisc): an open instance, as without credentials. */
static void on_service_node(void *owner, const char *tag, uint64_t epoch, int rc, const char *data,
                           int len, const zkd_stat *st)
{
    (void)st;
    zkd_registration *r = addressed(owner, tag, epoch);
    if (!r)
        return;
    r->busy = 0;
    if (rc == ZKD_ENOTFOUND) {
        create_parents(r);
        return;
    }
    if (rc) {
        if (!transient(r->reg, rc))
            failed(r, rc, NULL);
        return;
    }
    json_t *doc = data && len > 0 ? json_loadb(data, (size_t)len, 0, NULL) : NULL;
    json_t *admins = json_object_get(doc, "admins");
    if (!json_is_array(admins)) {
        json_decref(doc);
        create_node(r, NULL);
        return;
    }
    struct ACL items[2 + 64];
    struct ACL_vector acl = {.count = 2, .data = items};
    items[0] = (struct ACL){ZOO_PERM_READ, {"world", "anyone"}};
    items[1] = (struct ACL){ZOO_PERM_ALL, {"auth", ""}};
    for (size_t i = 0; i < json_array_size(admins) && acl.count < 2 + 64; i++)
        if (json_is_string(json_array_get(admins, i)))
            items[acl.count++] = (struct ACL){
                ZOO_PERM_ALL, {"digest", (char *)json_string_value(json_array_get(admins, i))}};
    create_node(r, &acl);
    json_decref(doc);
}

/* With credentials, the service node's data decides the instance's ACL
 * (one read more); without, a locked service refuses the create anyway and
 * an open one gets an open instance, so nothing is read. */
static void create(zkd_registration *r)
{
    if (!zkd__client_has_auth(r->reg->c)) {
        create_node(r, NULL);
        return;
    }
    char *svc = zkd__service_path(r->reg->c, r->service);
    int rc = svc ? zkd__aget(r->reg->target, svc, 0, r->path, r->gen, on_service_node) : ZKD_ENOMEM;
    free(svc);
    issued(r, rc);
}

static void on_dead_removed(void *owner, const char *tag, uint64_t epoch, int rc, const zkd_stat *st)
{
    (void)st;
    zkd_registration *r = addressed(owner, tag, epoch);
    if (!r)
        return;
    r->busy = 0;
    if (rc == 0 || rc == ZKD_ENOTFOUND || rc == ZKD_ECONFLICT)
        drive(r); /* gone (or changed: read it again) */
    else if (transient(r->reg, rc))
        r->unsure = 1;
    else
        failed(r, rc, NULL);
}

static void on_resolved(void *owner, const char *tag, uint64_t epoch, int rc, const char *data,
                        int len, const zkd_stat *st)
{
    zkd_registration *r = addressed(owner, tag, epoch);
    if (!r)
        return;
    registry *reg = r->reg;
    r->busy = 0;
    if (rc == ZKD_ENOTFOUND) {
        r->unsure = 0;
        drive(r); /* nothing there: create it */
        return;
    }
    if (rc) {
        if (!transient(reg, rc))
            failed(r, rc, NULL);
        return;
    }
    r->armed = 1;
    int64_t now = zkd_client_session_id(reg->c);
    if (st->ephemeral_owner == now && now != 0) {
        /* Ours already (a lost reply, or our own earlier registration of this
         * id): adopt it, keeping its "enabled"; our record is written if the
         * tree holds another. */
        learn_enabled(r, data, len);
        r->dirty = !holds_ours(r, data, len);
        took(r, now);
    } else if (ours(reg, st->ephemeral_owner)) {
        zkd__log(reg->c, ZKD_LOG_INFO, "removing %s left by our expired session 0x%llx", r->path,
                 (unsigned long long)st->ephemeral_owner);
        r->unsure = 0;
        issued(r, zkd__awrite(reg->target, &(zkd_op){.kind = ZKD_OP_DELETE, .path = r->path,
                                                     .version = st->version},
                              r->path, r->gen, on_dead_removed));
    } else {
        r->unsure = 0;
        zkd_error err;
        zkd__fail(&err, ZKD_EEXISTS, "%s is already registered by %s 0x%llx", r->path,
                  st->ephemeral_owner ? "session" : "a persistent node, owner",
                  (unsigned long long)st->ephemeral_owner);
        failed(r, ZKD_EEXISTS, &err);
    }
}

static void write_done(zkd_registration *r, int rc)
{
    r->busy = 0;
    if (rc == 0) {
        answer_updates(r, r->sending, 0, 0, NULL);
        r->reg->backoff_ms = 0;
        drive(r);
    } else if (rc == ZKD_ECONFLICT) {
        r->dirty = 1; /* changed under us (a drain?): read it again */
        drive(r);
    } else if (rc == ZKD_ENOTFOUND || transient(r->reg, rc)) {
        /* Gone (its deletion's watch event says why; with no watch of ours,
         * the check does), or the reply was lost (resolved by reading when
         * the session is back): written with the node or later, as the
         * session allows. */
        r->dirty = 1;
        answer_updates(r, 0, 1, 0, NULL);
        if (rc == ZKD_ENOTFOUND && !r->watched && r->owner)
            check(r);
    } else {
        zkd_error err;
        zkd__fail(&err, rc, "cannot write %s: %s", r->path, zkd_strerror(rc));
        answer_updates(r, 0, 1, rc, &err);
    }
}

static void on_written(void *owner, const char *tag, uint64_t epoch, int rc, const zkd_stat *st)
{
    (void)st;
    zkd_registration *r = addressed(owner, tag, epoch);
    if (r)
        write_done(r, rc);
}

static void on_read_for_write(void *owner, const char *tag, uint64_t epoch, int rc,
                              const char *data, int len, const zkd_stat *st)
{
    zkd_registration *r = addressed(owner, tag, epoch);
    if (!r)
        return;
    if (rc == 0)
        learn_enabled(r, data, len);
    if (rc || holds_ours(r, data, len)) {
        write_done(r, rc); /* already there: a lost reply's write was applied */
        return;
    }
    char *json = zkd_instance_to_json(r->inst);
    rc = json ? zkd__awrite(r->reg->target, &(zkd_op){.kind = ZKD_OP_SET, .path = r->path, .data = json,
                                                      .len = (int)strlen(json), .version = st->version},
                            r->path, r->gen, on_written)
              : ZKD_ENOMEM;
    free(json);
    if (rc)
        write_done(r, rc);
}

/* Read, then set with the version read: an operator's drain made between
 * the two makes the set fail, and the next read keeps it. */
static void write_record(zkd_registration *r)
{
    r->dirty = 0;
    r->sending = r->seq;
    int rc = zkd__aget(r->reg->target, r->path, 0, r->path, r->gen, on_read_for_write);
    r->busy = rc == 0;
    if (rc)
        write_done(r, rc);
}

/* Moves r one step towards "our node, our record" when nothing of it is in
 * flight and the session can take requests. */
static void drive(zkd_registration *r)
{
    if (r->busy || r->evicted || r->waiting || r->inert || !connected(r->reg))
        return;
    if (!r->owner)
        r->unsure ? resolve(r) : create(r);
    else if (r->dirty)
        write_record(r);
}

/* ---- our node's watch: drains and removals -------------------------------- */

/* The node as a watch's re-read found it: drained or undrained, still ours,
 * or removed while our session lives, by an operator: their call, not ours
 * to undo (draining is the way to keep an instance registered but idle).
 * A request on an expired session fails instead, so the server's removal
 * of an expired session's node never counts. */
static void on_checked(void *owner, const char *tag, uint64_t epoch, int rc, const char *data,
                       int len, const zkd_stat *st)
{
    zkd_registration *r = find_by_path(owner, tag);
    if (!r || !r->owner || r->evicted || (uint64_t)r->owner != epoch)
        return; /* not about the node we hold now */
    int gone = rc == ZKD_ENOTFOUND && r->owner == zkd_client_session_id(r->reg->c);
    int taken = rc == 0 && st->ephemeral_owner != r->owner;
    r->armed |= rc == 0 && r->watched;
    if (rc == 0 && !taken) {
        learn_enabled(r, data, len);
    } else if (gone || taken) {
        zkd__log(r->reg->c, ZKD_LOG_WARN, "%s was removed by another client; not re-creating it",
                 r->path);
        r->evicted = 1;
        r->owner = 0;
        next_gen(r); /* whatever was in flight for it is moot */
        answer_updates(r, 0, 1, 0, NULL);
    }
}

/* Reads the node and leaves a watch on it (again) if r is watched. Tagged
 * with the session that holds it, so the answer is judged against that. */
static void check(zkd_registration *r)
{
    zkd__aget(r->reg->target, r->path, r->watched, r->path, (uint64_t)r->owner, on_checked);
}

static void on_node_watch(void *owner, int type, const char *path)
{
    zkd_registration *r = find_by_path(owner, path);
    if (!r)
        return;
    r->armed = 0; /* watches fire once */
    if (r->waiting && type == ZOO_DELETED_EVENT) {
        r->waiting = 0; /* the stranger's node went: ours goes in now */
        drive(r);
    } else if (r->owner && !r->evicted) {
        check(r);
    }
}

/* ---- deregistrations: a queue of deletes (loop thread) -------------------- */

static pending_delete *find_delete(registry *reg, uint64_t id)
{
    for (pending_delete *d = reg->deletes; d && id; d = d->next)
        if (d->id == id)
            return d;
    return NULL;
}

static void delete_done(registry *reg, pending_delete *d, int rc)
{
    for (pending_delete **pp = &reg->deletes; *pp; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    }
    zkd_error err = {0};
    if (rc)
        zkd__fail(&err, rc, "cannot delete %s: %s", d->path, zkd_strerror(rc));
    answer(d->w, rc, &err);
    free(d->path);
    free(d);
}

/* The delete waits for the session; its caller has its answer now. */
static void delete_queued(registry *reg, pending_delete *d, int rc)
{
    d->id = 0;
    answer(d->w, 0, NULL);
    d->w = NULL;
    transient(reg, rc);
}

static void on_delete_sent(void *owner, const char *tag, uint64_t epoch, int rc, const zkd_stat *st)
{
    (void)tag, (void)st;
    registry *reg = owner;
    pending_delete *d = find_delete(reg, epoch);
    if (!d)
        return; /* cancelled by a new registration of the path */
    d->id = 0;
    if (rc == 0 || rc == ZKD_ENOTFOUND)
        delete_done(reg, d, 0);
    else if (rc == ZKD_ECONFLICT)
        drive_delete(reg, d); /* changed meanwhile: look again */
    else if (transient(reg, rc))
        delete_queued(reg, d, rc);
    else
        delete_done(reg, d, rc);
}

static void on_delete_stat(void *owner, const char *tag, uint64_t epoch, int rc, const zkd_stat *st)
{
    (void)tag;
    registry *reg = owner;
    pending_delete *d = find_delete(reg, epoch);
    if (!d)
        return;
    d->id = 0;
    if (transient(reg, rc)) {
        delete_queued(reg, d, rc);
    } else if (rc == 0 && ours(reg, st->ephemeral_owner)) {
        d->id = new_id(reg);
        rc = zkd__awrite(reg->target, &(zkd_op){.kind = ZKD_OP_DELETE, .path = d->path, .version = st->version},
                         NULL, d->id, on_delete_sent);
        if (rc)
            on_delete_sent(reg, NULL, d->id, rc, NULL);
    } else {
        /* Gone, or not ours (a new owner of the id): nothing to do. */
        delete_done(reg, d, rc == ZKD_ENOTFOUND ? 0 : rc);
    }
}

/* Stat, then delete with the version seen, only when one of our sessions
 * holds the node. */
static void drive_delete(registry *reg, pending_delete *d)
{
    if (d->id)
        return;
    if (!connected(reg)) {
        delete_queued(reg, d, ZKD_ECONNLOSS);
        return;
    }
    d->id = new_id(reg);
    int rc = zkd__aexists(reg->target, d->path, 0, NULL, d->id, on_delete_stat);
    if (rc)
        on_delete_stat(reg, NULL, d->id, rc, NULL);
}

/* A new registration of the path takes over whatever is there. A delete
 * already sent is ahead of its create on the same connection. */
static void cancel_delete(registry *reg, const char *path)
{
    for (pending_delete *d = reg->deletes, *next; d; d = next) {
        next = d->next;
        if (!strcmp(d->path, path))
            delete_done(reg, d, 0);
    }
}

/* ---- session events (loop thread) ----------------------------------------- */

static void after_expiry(zkd_registration *r)
{
    remember_dead(r->reg, r->owner);
    r->owner = 0;
    next_gen(r);
    r->unsure = r->waiting = r->armed = 0;
    r->dirty = 0; /* re-created with the newest record on the new session */
    answer_updates(r, 0, 1, 0, NULL);
}

/* Same session: the client re-armed the watches it holds, but a watch
 * that fired and whose re-read was lost with the connection is gone (and
 * with it, say, an operator's drain): read and watch again. A stranger's
 * node is looked at again by the create. */
static void after_reconnect(zkd_registration *r)
{
    if (r->watched && r->owner && !r->evicted && !r->armed)
        check(r);
    r->waiting = 0;
}

static void on_session(zkd_client *c, zkd_session_event ev, void *ctx)
{
    (void)c;
    registry *reg = ctx;
    if (ev == ZKD_SESSION_EXPIRED) {
        remember_dead(reg, reg->session);
        for_each(reg, after_expiry);
        for (pending_delete *d = reg->deletes; d; d = d->next)
            d->id = 0; /* an expired session's node: removed if still there */
    } else if (ev == ZKD_SESSION_RECONNECTED || ev == ZKD_SESSION_REESTABLISHED ||
               ev == ZKD_SESSION_CONNECTED) {
        note_session(reg);
        reg->backoff_ms = 0;
        for_each(reg, after_reconnect);
        drive_all(reg);
    }
}

/* ---- the registry's life ---------------------------------------------------- */

static void registration_free(zkd_registration *r)
{
    zkd_client *c = r->reg->c;
    free(r->path);
    free(r->service);
    free(r->id);
    zkd_instance_unref(r->inst);
    free(r);
    zkd__client_unref(c);
}

static void registry_free(registry *reg)
{
    for (pending_delete *d = reg->deletes, *next; d; d = next) {
        next = d->next;
        answer(d->w, 0, NULL); /* the session's end took the node */
        free(d->path);
        free(d);
    }
    free(reg->table);
    free(reg->dead);
    pthread_mutex_destroy(&reg->mu);
    pthread_mutex_destroy(&reg->view_mu);
    free(reg);
}

/* Caller holds reg->mu: lets go of it and of one reference; the last frees
 * the registry. */
static void registry_unref_locked(registry *reg)
{
    int last = --reg->refs == 0;
    pthread_mutex_unlock(&reg->mu);
    if (last)
        registry_free(reg);
}

/* Frees r, which nothing on the loop refers to. */
static void registration_drop(zkd_registration *r)
{
    registry *reg = r->reg;
    registration_free(r);
    pthread_mutex_lock(&reg->mu);
    registry_unref_locked(reg);
}

/* The client's teardown (its loop is gone; reg->mu held): callers still
 * waiting are answered, registrations the user let go of are freed, the
 * others stay the user's until zkd_registration_close. */
static void teardown_one(zkd_registration *r)
{
    registry *reg = r->reg;
    answer_updates(r, 0, 1, ZKD_ECLOSED, NULL);
    waiter *w = r->creator;
    r->creator = NULL;
    if (w && claim(w)) {
        unlink_registration(reg, r);
        answer(w, ZKD_ECLOSED, NULL); /* its caller frees it */
        return;
    }
    waiter_unref(w);
    if (r->released) {
        unlink_registration(reg, r);
        reg->refs--;
        registration_free(r);
    }
}

static void registry_teardown(void *arg)
{
    registry *reg = arg;
    /* The session is closed: no reply or event can reach the target now,
     * and nothing sends through it once `torn` is set. */
    pthread_mutex_lock(&reg->mu); /* a zkd_register may be sending (register_sending) */
    zkd__target_cancel(reg->target);
    reg->target = NULL;
    reg->torn = 1;
    for_each(reg, teardown_one);
    registry_unref_locked(reg);
}

static void *registry_make(zkd_client *c)
{
    registry *reg = calloc(1, sizeof *reg);
    if (!reg)
        return NULL;
    reg->c = c;
    reg->refs = 1;
    pthread_mutex_init(&reg->mu, NULL);
    pthread_mutex_init(&reg->view_mu, NULL);
    reg->target = zkd__target_new(c, reg, on_node_watch);
    if (!reg->target || zkd_session_subscribe(c, on_session, reg, NULL, NULL) != 0 ||
        zkd__at_teardown(c, registry_teardown, reg) != 0) {
        /* The target, if any, is freed at teardown; it points at nothing. */
        if (reg->target)
            zkd__target_cancel(reg->target);
        registry_free(reg);
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

/* ---- commands: posted by callers, run on the loop ------------------------ */

typedef enum { CMD_REGISTER, CMD_UPDATE, CMD_DEREGISTER, CMD_MARK_DEAD } cmd_kind;

typedef struct command {
    cmd_kind kind;
    registry *reg;
    zkd_registration *r;
    zkd_instance *next; /* CMD_UPDATE */
    int64_t session;    /* CMD_MARK_DEAD */
    int sent;           /* CMD_REGISTER: its caller made the create (register_sending) */
    int created_rc;     /* and how it went, */
    zkd_stat created;   /* the node's stat when it was created */
    waiter *w;
} command;

static void cmd_register(command *cmd)
{
    registry *reg = cmd->reg;
    zkd_registration *r = cmd->r;
    note_session(reg);
    zkd_error err = {0};
    int rc = find_by_path(reg, r->path)
                 ? zkd__fail(&err, ZKD_EEXISTS, "%s is already registered by this client", r->path)
             : link_registration(reg, r) ? zkd__fail(&err, ZKD_ENOMEM, "out of memory")
                                         : 0;
    if (rc) {
        if (claim(cmd->w))
            answer(cmd->w, rc, &err);
        else {
            waiter_unref(cmd->w);
            r->inert = 1; /* its caller gave up before hearing: it holds r, which does nothing */
        }
        return;
    }
    if (!cmd->sent)
        r->gen = new_id(reg);
    cancel_delete(reg, r->path);
    if (connected(reg)) {
        r->creator = cmd->w; /* answered when the node is there */
    } else {
        answer(cmd->w, 0, NULL); /* created when the session allows */
    }
    if (!cmd->sent) {
        drive(r);
        return;
    }
    r->busy = 1; /* as if the loop had sent it, and its reply came */
    r->sending = r->seq;
    on_created(reg, r->path, r->gen, cmd->created_rc, &cmd->created);
    if (cmd->created_rc == 0 && r->watched)
        zkd__aexists(reg->target, r->path, 1, r->path, r->gen, on_armed);
}

static void cmd_update(command *cmd)
{
    zkd_registration *r = cmd->r;
    zkd_instance *next = cmd->next;
    cmd->next = NULL;
    if (next->enabled != r->inst->enabled) { /* a drain learnt meanwhile */
        zkd_instance *kept = zkd__record_with_enabled(next, r->inst->enabled);
        if (kept) {
            zkd_instance_unref(next);
            next = kept;
        }
    }
    set_inst(r, next);
    r->seq++;
    r->dirty = 1;
    update_wait *u = malloc(sizeof *u);
    if (!u || !r->owner || r->evicted || r->inert || !connected(r->reg)) {
        /* Nothing to wait for: written with the node when the session allows. */
        free(u);
        answer(cmd->w, 0, NULL);
    } else {
        *u = (update_wait){.next = r->updates, .w = cmd->w, .seq = r->seq};
        r->updates = u;
    }
    drive(r);
}

static void cmd_deregister(command *cmd)
{
    registry *reg = cmd->reg;
    zkd_registration *r = cmd->r;
    pending_delete *d = r->inert ? NULL : calloc(1, sizeof *d);
    quiet(r);
    answer(r->creator, 0, NULL); /* a caller that gave up: nobody hears */
    r->creator = NULL;
    answer_updates(r, 0, 1, 0, NULL);
    if (d) {
        d->path = r->path; /* the node may be there whatever r knew: look */
        r->path = NULL;
        d->w = cmd->w;
        d->next = reg->deletes;
        reg->deletes = d;
    } else {
        answer(cmd->w, r->inert ? 0 : ZKD_ENOMEM, NULL);
    }
    registration_drop(r);
    if (d)
        drive_delete(reg, d);
}

static void run_command(void *arg)
{
    command *cmd = arg;
    switch (cmd->kind) {
    case CMD_REGISTER: cmd_register(cmd); break;
    case CMD_UPDATE: cmd_update(cmd); break;
    case CMD_DEREGISTER: cmd_deregister(cmd); break;
    case CMD_MARK_DEAD:
        remember_dead(cmd->reg, cmd->session);
        answer(cmd->w, 0, NULL);
        break;
    }
    zkd_instance_unref(cmd->next);
    free(cmd);
}

/* The loop has stopped (the client is closing), on whatever thread: the
 * session's end removes our nodes, nothing reaches the tree any more. */
static void drop_command(void *arg)
{
    command *cmd = arg;
    registry *reg = cmd->reg;
    if (cmd->kind == CMD_DEREGISTER) {
        zkd_registration *r = cmd->r;
        pthread_mutex_lock(&reg->mu);
        int now = reg->torn || !r->linked;
        if (now) { /* else the loop may be finishing a job of r's: teardown frees it */
            unlink_registration(reg, r);
            reg->refs--;
        }
        r->released = 1;
        pthread_mutex_unlock(&reg->mu);
        if (now)
            registration_free(r);
        answer(cmd->w, 0, NULL);
    } else {
        answer(cmd->w, ZKD_ECLOSED, NULL);
    }
    zkd_instance_unref(cmd->next);
    free(cmd);
}

/* Runs cmd on the loop and waits for its answer up to the request timeout
 * (on the loop thread itself: runs it at once and takes what answer there
 * is). `late` is the result when no answer came in time. */
static int submit(zkd_client *c, command *cmd, int late, zkd_error *err)
{
    waiter *w = cmd->w;
    int timeout = zkd__request_timeout_ms(c);
    if (zkd__on_dispatch_thread(c)) {
        run_command(cmd);
        timeout = 0;
    } else {
        zkd__post(c, run_command, drop_command, cmd);
    }
    return await(w, timeout, late, err);
}

/* zkd_register without credentials, off the loop thread: the caller makes
 * the create itself, with the C client's synchronous call (see
 * zkd__create_now: what a raw synchronous create pays and no more), then
 * posts its command carrying the outcome; the loop records it and arms the
 * node's watch. A node created: the caller is done. Anything else (no
 * parents yet, a node there, an unknown outcome): the loop carries on from
 * that outcome as from its own create's, and the caller waits for it. */
static int register_sending(zkd_client *c, command *cmd, zkd_error *err)
{
    registry *reg = cmd->reg;
    zkd_registration *r = cmd->r;
    waiter *w = cmd->w;
    int64_t t0 = zkd__now_ms();
    char *json = zkd_instance_to_json(r->inst);
    int rc = json ? zkd__create_now(c, r->path, json, (int)strlen(json), ZOO_EPHEMERAL,
                                    &cmd->created)
                  : ZKD__NOT_SENT;
    free(json);
    if (rc == ZKD__NOT_SENT)
        return submit(c, cmd, 0, err); /* the loop sends it */
    r->gen = new_id(reg);
    cmd->sent = 1;
    cmd->created_rc = rc;
    int posted = zkd__post(c, run_command, drop_command, cmd) == 0; /* else drop_command answers */
    if (rc || !posted) { /* the request timeout counts from the call */
        int64_t left = zkd__request_timeout_ms(c) - (zkd__now_ms() - t0);
        return await(w, left > 0 ? (int)left : 0, 0, err);
    }
    abandon(w);
    return 0;
}

static command *command_new(cmd_kind kind, registry *reg, zkd_registration *r, zkd_error *err)
{
    command *cmd = calloc(1, sizeof *cmd);
    waiter *w = cmd ? waiter_new() : NULL;
    if (!w) {
        free(cmd);
        zkd__fail(err, ZKD_ENOMEM, "out of memory");
        return NULL;
    }
    *cmd = (command){.kind = kind, .reg = reg, .r = r, .w = w};
    return cmd;
}

/* ---- the API ---------------------------------------------------------------- */

/* Tests only: treat `session` as one of this client's dead sessions, to
 * stage the "old node still there" race. */
void zkd__registry_mark_dead(zkd_client *c, int64_t session);
void zkd__registry_mark_dead(zkd_client *c, int64_t session)
{
    registry *reg = registry_of(c, NULL);
    command *cmd = reg ? command_new(CMD_MARK_DEAD, reg, NULL, NULL) : NULL;
    if (cmd) {
        cmd->session = session;
        submit(c, cmd, 0, NULL);
    }
}

static int registration_new(registry *reg, const zkd_instance_spec *spec, zkd_registration **out,
                            zkd_error *err)
{
    zkd_registration *r = calloc(1, sizeof *r);
    if (!r)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    r->reg = reg;
    zkd__client_ref(reg->c);
    pthread_mutex_lock(&reg->mu);
    reg->refs++;
    pthread_mutex_unlock(&reg->mu);
    r->watched = spec->watch_node != 0;
    int rc = zkd__record_from_spec(spec, NULL, &r->inst, err);
    if (!rc && (!(r->path = zkd__instance_path(reg->c, r->inst->service, r->inst->id)) ||
                !(r->service = strdup(r->inst->service)) || !(r->id = strdup(r->inst->id))))
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    if (rc) {
        registration_drop(r);
        return rc;
    }
    *out = r;
    return 0;
}

int zkd_register(zkd_client *c, const zkd_instance_spec *spec, zkd_registration **out,
                 zkd_error *err)
{
    if (!c || !spec || !out)
        return zkd__fail(err, ZKD_EINVAL, "no client, spec or place for the registration");
    registry *reg = registry_of(c, err);
    if (!reg)
        return ZKD_ENOMEM;
    zkd_registration *r = NULL;
    int rc = registration_new(reg, spec, &r, err);
    if (rc)
        return rc;
    command *cmd = command_new(CMD_REGISTER, reg, r, err);
    rc = !cmd                                                               ? ZKD_ENOMEM
         : zkd__client_has_auth(c) || zkd__on_dispatch_thread(c) ? submit(c, cmd, 0, err)
                                                                 : register_sending(c, cmd, err);
    if (rc) {
        registration_drop(r);
        return rc;
    }
    zkd_error_clear(err);
    *out = r;
    return 0;
}

const char *zkd_registration_id(const zkd_registration *r) { return r->id; }

zkd_instance *zkd_registration_instance(const zkd_registration *r)
{
    pthread_mutex_lock(&r->reg->view_mu);
    zkd_instance *i = zkd_instance_ref(r->inst);
    pthread_mutex_unlock(&r->reg->view_mu);
    return i;
}

int zkd_registration_update(zkd_registration *r, const zkd_instance_spec *spec, zkd_error *err)
{
    if (!r || !spec)
        return zkd__fail(err, ZKD_EINVAL, "no registration or spec");
    if ((spec->service && strcmp(spec->service, r->service)) || (spec->id && strcmp(spec->id, r->id)))
        return zkd__fail(err, ZKD_EINVAL, "an update cannot change the service or id of %s", r->path);
    zkd_instance *cur = zkd_registration_instance(r), *next = NULL;
    int rc = zkd__record_from_spec(spec, cur, &next, err);
    zkd_instance_unref(cur);
    if (rc)
        return rc;
    command *cmd = command_new(CMD_UPDATE, r->reg, r, err);
    if (!cmd) {
        zkd_instance_unref(next);
        return ZKD_ENOMEM;
    }
    cmd->next = next;
    rc = submit(r->reg->c, cmd, 0, err);
    if (!rc)
        zkd_error_clear(err);
    return rc;
}

int zkd_registration_close(zkd_registration *r, zkd_error *err)
{
    if (!r)
        return 0;
    zkd_client *c = r->reg->c;
    command *cmd = command_new(CMD_DEREGISTER, r->reg, r, err);
    if (!cmd)
        return ZKD_ENOMEM;
    int rc = submit(c, cmd, 0, err); /* r is freed by now, or at the client's teardown */
    if (!rc)
        zkd_error_clear(err);
    return rc;
}
