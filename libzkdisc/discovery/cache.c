/* SPDX-License-Identifier: Apache-2.0 */
/* The service cache: turns watch events into deltas and swapped snapshots.
 *
 * A cache's state is handled on the dispatch thread, and also on
 * ZooKeeper's completion thread (the request layer's early hook, see
 * early()): a child event re-reads the children there, and the children's
 * answer is applied there (new members' reads sent, the gone dropped), so
 * that a create waits for the dispatch thread once (to publish and call the
 * listener), not three times.
 * So every entry point takes `state`; it is let go before the listener is
 * called (state_unlock), and never held while waiting for the loop. Lock
 * order: state, then the snapshot's `mu`, then the request engine's.
 * Readers only touch the snapshot pointer, under `mu`, held for a pointer
 * copy and a reference count.
 *
 * Costs: a children change reads the child list once and getData only for
 * new children; an update arrives through that instance's data watch and
 * costs one getData. A load or rebuild issues every getData before waiting
 * for any (they are pipelined on the one connection). Publishing a change
 * costs O(log N): the snapshot is a persistent tree (ptree.h) of which the
 * cache copies only the path to what changed; what has answered within
 * PUBLISH_EVERY_MS is published together.
 *
 * At scale: after a reconnect the ZooKeeper C client re-sends every watch
 * it holds in one SetWatches packet, which the server refuses over its 1 MB
 * jute.maxbuffer (about 16,000 watches): the client would reconnect forever.
 * So when the client holds watches on more than KEEP_WATCHES_MAX paths
 * (all its caches, watches and registrations together: the packet is the
 * connection's), a cache forgets its data watches locally when the
 * connection drops, and on the way back checks
 * every instance with a pipelined exists (a small reply that re-arms the
 * watch), reading the data again only where mzxid moved. The same check
 * rebuilds a cache after a session expiry. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zkdisc/cache.h>
#include <zkdisc/names.h>
#include <zookeeper/zookeeper.h>

#include "cache_file.h"
#include "clock.h"
#include "request.h"
#include "errors.h"
#include "instance_impl.h"
#include "paths.h"
#include "session.h"
#include "observer.h"
#include "snapshot.h"

/* Above this many watched paths on the client, caches drop their data
 * watches on a connection loss instead of leaving them for the ZooKeeper
 * client to re-send (see above): about 100 to 250 KB of SetWatches. Below
 * it they keep them: the server then reports only what changed, with no
 * read at all. */
#define KEEP_WATCHES_MAX 1000

/* Reads in flight at most: enough to keep the connection busy, few enough
 * that a load of 100,000 does not hold 100,000 requests and replies in
 * memory at once (the peak is what a process must be sized for). At 500,
 * the replies in flight and waiting for the loop added about 450 KB to a
 * load's peak: 490 bytes an instance at 10,000 against 454 at 50,000. At
 * 200 a load is as fast, and 10,000 cost 446-459 bytes an instance. */
#define WINDOW 200

enum { W_NONE = 0, W_CHECK = 1, W_READ = 2 };

/* How often, at most, the last state is written to the snapshot directory. */
#define STORE_EVERY_MS 1000

typedef struct member {
    char *name;         /* the znode's; inst's id when they are equal (not owned) */
    zkd_instance *inst; /* NULL while unread, malformed or not live */
    int64_t mzxid;      /* of the data last read (0: unknown) */
    unsigned name_owned : 1;
    unsigned malformed : 1;
    unsigned reading : 1; /* a read for it is in flight in this epoch */
    unsigned want : 2;    /* a read waits for room in the window: W_CHECK or W_READ */
    unsigned in_answer : 1; /* early_children: in the answer being applied */
    uint32_t hash;          /* of the name, for the index (see member_find) */
} member;

typedef struct delta_buf {
    zkd_delta *items;
    size_t n, cap;
} delta_buf;

struct zkd_cache {
    zkd__observer o; /* first: the observer is the cache (observer.h) */
    char *service, *path;
    zkd_cache_fn fn;
    void *ctx;

    pthread_mutex_t state; /* everything from here to store_took_ms */
    member *members; /* sorted by name */
    size_t nmembers, capmembers;
    uint32_t *index;   /* open addressing: a member's position + 1, by hash; 0 empty */
    size_t capindex;
    int index_stale;   /* members came or went since it was made */
    uint64_t epoch;  /* bumped on rebuild: older results are ignored */
    size_t reading;  /* members with a read in flight this epoch */
    size_t wanted;   /* members whose read waits for the window */
    size_t cursor;   /* no member before this one waits */
    int stale;
    delta_buf pending; /* deltas of the step in progress */
    delta_buf told;    /* published, for the listener once `state` is let go */
    zkd__pnode *work;  /* the next snapshot's instances, edited as they change */
    int bulk;          /* `work` is not kept: made from the members at the next publish */
    int resync;        /* a request failed: re-read on reconnect */
    int rebuilding;    /* a full re-read is in flight: stay stale until it is done */
    int listed;        /* the rebuild's children list has answered */
    int loading;       /* a load is under way or wanted (not yet complete) */
    int forgot;        /* the data watches were dropped: check everything on return */
    int64_t published_at; /* when the last snapshot was swapped in (monotonic ms) */
    zkd_timer *store_timer;
    int store_due;     /* a change not yet in the snapshot file (the close writes it) */
    int64_t stored_at;
    int64_t store_took_ms; /* how long the last write kept the loop busy */

    _Atomic uint64_t malformed;

    zkd_snapshot *snap;     /* under o.mu, with o.ready */
    _Atomic uint64_t swaps; /* bumped after each swap of snap; read without o.mu */

    zkd__file_watch *file; /* a static cache's source, when it is a file */
};

static void request_children(zkd_cache *k);
static void store_soon(zkd_cache *k);
static void deltas_free(delta_buf *d);
static void pump(zkd_cache *k);

/* ---- members (a sorted array) ----------------------------------------------- */

static size_t member_pos(const zkd_cache *k, const char *name, int *found)
{
    size_t lo = 0, hi = k->nmembers;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(k->members[mid].name, name);
        if (cmp == 0) {
            *found = 1;
            return mid;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

/* ---- members by name: a hash index over the array ---------------------------- */

/* A children answer names every member. A binary search per name read
 * about ten names scattered over the heap (each inside its instance): 190 us
 * for 1,000 on ZooKeeper's completion thread, while the new member's read
 * waited. The index reads one. Positions move when a member comes or goes,
 * so it is made again, from the members' stored hashes (no name is read),
 * by the first lookup after. */
static uint32_t name_hash(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    /* Mixed (MurmurHash3's finalizer): FNV's high bits, which pick the
     * slot, are poor for names that differ in their last digits. */
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

/* A hash's first slot: the hash scaled to the table (any size, not only a
 * power of two, so the table is 6 bytes a member, not up to 12). */
static size_t index_slot(uint32_t h, size_t cap)
{
    return (size_t)(((uint64_t)h * cap) >> 32);
}

/* 0, or ZKD_ENOMEM (lookups then search the array instead). */
static int index_make(zkd_cache *k)
{
    size_t cap = k->nmembers + k->nmembers / 2 + 16; /* at most two thirds full */
    if (cap > k->capindex || cap < k->capindex / 2) {
        uint32_t *grown = realloc(k->index, cap * sizeof *grown);
        if (!grown)
            return ZKD_ENOMEM;
        k->index = grown;
        k->capindex = cap;
    }
    cap = k->capindex;
    memset(k->index, 0, cap * sizeof *k->index);
    for (size_t i = 0; i < k->nmembers; i++) {
        size_t at = index_slot(k->members[i].hash, cap);
        while (k->index[at])
            at = at + 1 < cap ? at + 1 : 0;
        k->index[at] = (uint32_t)i + 1;
    }
    k->index_stale = 0;
    return 0;
}

static member *member_find_hashed(zkd_cache *k, const char *name, uint32_t h)
{
    if ((k->index_stale || !k->index) && index_make(k)) {
        int found;
        size_t at = member_pos(k, name, &found);
        return found ? &k->members[at] : NULL;
    }
    for (size_t at = index_slot(h, k->capindex); k->index[at]; at = at + 1 < k->capindex ? at + 1 : 0) {
        member *m = &k->members[k->index[at] - 1];
        if (m->hash == h && !strcmp(m->name, name))
            return m;
    }
    return NULL;
}

static member *member_find(zkd_cache *k, const char *name)
{
    return member_find_hashed(k, name, name_hash(name));
}

static int member_reserve(zkd_cache *k, size_t cap)
{
    if (cap <= k->capmembers)
        return 0;
    member *grown = realloc(k->members, cap * sizeof *grown);
    if (!grown)
        return ZKD_ENOMEM;
    k->members = grown;
    k->capmembers = cap;
    return 0;
}

static member *member_insert(zkd_cache *k, const char *name)
{
    int found;
    size_t at = member_pos(k, name, &found);
    if (found)
        return &k->members[at];
    if (k->nmembers == k->capmembers && member_reserve(k, k->capmembers ? k->capmembers * 2 : 16))
        return NULL;
    char *copy = strdup(name);
    if (!copy)
        return NULL;
    memmove(&k->members[at + 1], &k->members[at], (k->nmembers - at) * sizeof *k->members);
    k->members[at] = (member){.name = copy, .name_owned = 1, .hash = name_hash(copy)};
    k->nmembers++;
    k->index_stale = 1;
    if (at < k->cursor)
        k->cursor++;
    return &k->members[at];
}

/* ---- deltas and publishing ----------------------------------------------- */

static void delta_add(zkd_cache *k, zkd_delta_kind kind, zkd_instance *before, zkd_instance *now)
{
    if (!k->fn)
        return; /* nobody to tell: a load of 100,000 need not list them */
    delta_buf *d = &k->pending;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        zkd_delta *grown = realloc(d->items, cap * sizeof *grown);
        if (!grown)
            return; /* the snapshot stays right; only this notification is lost */
        d->items = grown;
        d->cap = cap;
    }
    /* The buffer holds references until the listener has seen them. */
    d->items[d->n++] = (zkd_delta){kind, zkd_instance_ref(before), zkd_instance_ref(now)};
}

/* Appends `from` to `to` (the listener has not seen `to` yet). */
static void deltas_move(delta_buf *to, delta_buf *from)
{
    if (!to->n) {
        free(to->items);
        *to = *from;
        *from = (delta_buf){0};
        return;
    }
    size_t n = to->n + from->n;
    zkd_delta *grown = n > to->cap ? realloc(to->items, n * sizeof *grown) : to->items;
    if (!grown) { /* the snapshot stays right; only these notifications are lost */
        deltas_free(from);
        return;
    }
    memcpy(grown + to->n, from->items, from->n * sizeof *grown);
    to->items = grown;
    to->cap = n > to->cap ? n : to->cap;
    to->n = n;
    free(from->items);
    *from = (delta_buf){0};
}

/* `loaded`: this snapshot ends a complete load, so waiters may go on. */
static void swap_snapshot(zkd_cache *k, zkd_snapshot *next, int loaded)
{
    if (!next)
        return;
    pthread_mutex_lock(&k->o.mu);
    zkd_snapshot *old = k->snap;
    k->snap = next;
    atomic_fetch_add(&k->swaps, 1);
    if (loaded && !k->o.ready) {
        k->o.ready = 1;
        pthread_cond_broadcast(&k->o.cv);
    }
    pthread_mutex_unlock(&k->o.mu);
    zkd_snapshot_unref(old);
}

/* A change costs a path of the tree (see ptree.h), not a copy of every
 * instance. A load or a rebuild, which may touch every member, stops
 * keeping the tree and makes it once from the members when it publishes. */
static void set_bulk(zkd_cache *k)
{
    zkd__ptree_unref(k->work);
    k->work = NULL;
    k->bulk = 1;
}

static void tree_edit(zkd_cache *k, const zkd_instance *was, const zkd_instance *now)
{
    int rc = 0;
    if (k->bulk)
        return;
    if (was && (!now || zkd__ptree_cmp(was, now)))
        rc = zkd__ptree_del(&k->work, was);
    if (!rc && now)
        rc = zkd__ptree_put(&k->work, now);
    if (rc) /* out of memory: made whole at the next publish */
        set_bulk(k);
}

static int make_tree(zkd_cache *k)
{
    const zkd_instance **live = malloc((k->nmembers ? k->nmembers : 1) * sizeof *live);
    if (!live)
        return ZKD_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < k->nmembers; i++)
        if (k->members[i].inst)
            live[n++] = k->members[i].inst;
    zkd_snapshot *s = zkd__snapshot_new(live, n, 0); /* sorts by id when names are not ids */
    free(live);
    if (!s)
        return ZKD_ENOMEM;
    zkd__ptree_unref(k->work);
    k->work = zkd__snapshot_tree(s);
    zkd_snapshot_unref(s);
    k->bulk = 0;
    return 0;
}

static zkd_snapshot *build_snapshot(zkd_cache *k)
{
    if (k->bulk && make_tree(k))
        return NULL;
    return zkd__snapshot_of(k->work, k->stale);
}

/* Ends a step: when no read of it is still in flight, publish the new
 * snapshot, then tell the listener what changed. */
/* Under sustained churn some read is nearly always in flight, so a step
 * that waited for a quiet moment could lag for seconds: what has answered is
 * published at least this often. A load or rebuild still publishes only
 * once complete (readers and waiters never see half of one). */
#define PUBLISH_EVERY_MS 100

static void maybe_publish(zkd_cache *k)
{
    int complete = !k->reading && !k->wanted && !(k->rebuilding && !k->listed);
    if (!complete && (k->rebuilding || zkd__now_ms() - k->published_at < PUBLISH_EVERY_MS))
        return;
    if (complete && k->rebuilding) { /* every read of the rebuild has answered */
        k->rebuilding = 0;
        k->loading = 0;
        k->stale = k->resync || zkd_client_state(k->o.c) != ZKD_STATE_CONNECTED;
    }
    k->published_at = zkd__now_ms();
    swap_snapshot(k, build_snapshot(k), complete && !k->loading);
    if (!k->stale)
        store_soon(k);
    deltas_move(&k->told, &k->pending);
}

static void deltas_free(delta_buf *d)
{
    for (size_t i = 0; i < d->n; i++) {
        zkd_instance_unref(d->items[i].before);
        zkd_instance_unref(d->items[i].now);
    }
    free(d->items);
    *d = (delta_buf){0};
}

static void state_lock(zkd_cache *k)
{
    pthread_mutex_lock(&k->state);
}

/* Lets go of the state, then tells the listener what was published. k
 * may be gone once the listener returns (it may close the cache). */
static void state_unlock(zkd_cache *k)
{
    delta_buf d = k->told;
    k->told = (delta_buf){0};
    zkd_cache_fn fn = k->fn;
    void *ctx = k->ctx;
    pthread_mutex_unlock(&k->state);
    if (d.n && fn)
        fn(k, d.items, d.n, ctx);
    deltas_free(&d);
}

/* ---- reading instances --------------------------------------------------- */

static void set_member(zkd_cache *k, member *m, zkd_instance *inst, int malformed)
{
    if (malformed != m->malformed)
        atomic_fetch_add(&k->malformed, malformed ? 1 : (uint64_t)-1);
    m->malformed = malformed;
    if (!m->inst && inst)
        delta_add(k, ZKD_DELTA_ADDED, NULL, inst);
    else if (m->inst && !inst)
        delta_add(k, ZKD_DELTA_REMOVED, m->inst, NULL);
    else if (m->inst && inst && !zkd__instance_equal(m->inst, inst))
        delta_add(k, ZKD_DELTA_UPDATED, m->inst, inst);
    else if (m->inst && inst) { /* the same record written again: no news */
        zkd_instance_unref(inst);
        return;
    }
    /* The name is kept in the record when the record's id is the same: a
     * large cache then holds each name once. */
    int borrow = inst && !strcmp(inst->id, m->name);
    if (borrow && m->name_owned)
        free(m->name);
    else if (!borrow && !m->name_owned) {
        char *copy = strdup(m->name);
        if (!copy) { /* keep the old record, and with it the name */
            zkd_instance_unref(inst);
            return;
        }
        m->name = copy;
    }
    if (borrow)
        m->name = inst->id;
    m->name_owned = !borrow;
    tree_edit(k, m->inst, inst);
    zkd_instance_unref(m->inst);
    m->inst = inst;
}

/* A read or check of `name` answered: its place among the reads in flight
 * goes to the next waiting one. The member, or NULL when it is gone. */
static member *answered(zkd_cache *k, const char *name)
{
    member *m = member_find(k, name);
    if (m && m->reading) {
        m->reading = 0;
        k->reading--;
    }
    pump(k);
    return m;
}

static void on_data_locked(void *owner, const char *name, uint64_t epoch, int rc,
                           const char *data, int len, const zkd_stat *st)
{
    zkd_cache *k = owner;
    if (epoch != k->epoch)
        return;
    member *m = answered(k, name);
    if (!m) {
        maybe_publish(k);
        return;
    }
    if (rc == ZKD_ENOTFOUND) {
        set_member(k, m, NULL, 0); /* gone; the children watch will drop it */
    } else if (rc) {
        k->resync = 1; /* keep what we had; read again on reconnect */
    } else {
        zkd_instance *inst = NULL;
        zkd_error err;
        m->mzxid = st->mzxid;
        int prc = zkd_instance_parse(k->service, name, data, len > 0 ? (size_t)len : 0, &inst, &err);
        /* Named once, when it turns bad: a writer that rewrites a bad (or
         * spoofed: another id or service) record cannot flood the log. */
        if (prc == ZKD_EBADDATA && !m->malformed)
            zkd__log(k->o.c, ZKD_LOG_WARN, "skipping %s/%s: %s", k->path, name, err.message);
        set_member(k, m, prc ? NULL : inst, prc == ZKD_EBADDATA);
    }
    maybe_publish(k);
}

static void on_data(void *owner, const char *name, uint64_t epoch, int rc, const char *data,
                    int len, const zkd_stat *st)
{
    zkd_cache *k = owner;
    state_lock(k);
    on_data_locked(owner, name, epoch, rc, data, len, st);
    state_unlock(k);
}

static void on_check(void *owner, const char *name, uint64_t epoch, int rc, const zkd_stat *st);

/* Sends a member's read: its data, or (`check`, when its data is known)
 * only its stat; either arms its data watch. */
static void issue(zkd_cache *k, member *m, int check)
{
    char *path = zkd__path_join(k->path, m->name);
    if (!path) {
        k->resync = 1;
        return;
    }
    int rc = check ? zkd__aexists(k->o.target, path, 1, m->name, k->epoch, on_check)
                   : zkd__aget(k->o.target, path, 1, m->name, k->epoch, on_data);
    if (rc == 0) {
        if (!m->reading)
            k->reading++;
        m->reading = 1;
    } else {
        k->resync = 1;
    }
    free(path);
}

/* Sends what waits, in member order, while the window has room. */
static void pump(zkd_cache *k)
{
    for (int wrapped = 0; k->wanted && k->reading < WINDOW;) {
        if (k->cursor >= k->nmembers) {
            if (wrapped++) /* cannot happen: no want lies before the cursor */
                break;
            k->cursor = 0;
        }
        member *m = &k->members[k->cursor++];
        if (!m->want)
            continue;
        int check = m->want == W_CHECK;
        m->want = W_NONE;
        k->wanted--;
        issue(k, m, check);
    }
}

static void request_member(zkd_cache *k, member *m, int check)
{
    if (!m->want)
        k->wanted++;
    if (m->want != W_READ)
        m->want = check ? W_CHECK : W_READ;
    size_t at = (size_t)(m - k->members);
    if (at < k->cursor)
        k->cursor = at;
    pump(k);
}

static void read_member(zkd_cache *k, member *m)
{
    request_member(k, m, 0);
}

/* A check's answer: the data is read only when it changed since we read it. */
static void on_check_locked(void *owner, const char *name, uint64_t epoch, int rc,
                            const zkd_stat *st)
{
    zkd_cache *k = owner;
    if (epoch != k->epoch)
        return;
    member *m = answered(k, name);
    if (m && rc == 0 && (st->mzxid != m->mzxid || (!m->inst && !m->malformed)))
        read_member(k, m);
    else if (m && rc == ZKD_ENOTFOUND)
        set_member(k, m, NULL, 0); /* gone; the children say so too */
    else if (m && rc)
        k->resync = 1;
    maybe_publish(k);
}

static void on_check(void *owner, const char *name, uint64_t epoch, int rc, const zkd_stat *st)
{
    zkd_cache *k = owner;
    state_lock(k);
    on_check_locked(owner, name, epoch, rc, st);
    state_unlock(k);
}

/* ---- the children --------------------------------------------------------- */

static void drop_member(zkd_cache *k, size_t at)
{
    member *m = &k->members[at];
    set_member(k, m, NULL, 0);
    if (m->reading)
        k->reading--;
    if (m->want)
        k->wanted--;
    if (at < k->cursor)
        k->cursor--;
    if (m->name_owned)
        free(m->name);
    memmove(&k->members[at], &k->members[at + 1], (k->nmembers - at - 1) * sizeof *m);
    k->nmembers--;
    k->index_stale = 1;
}

static void on_service_stat(void *owner, const char *tag, uint64_t epoch, int rc, const zkd_stat *st);

/* The children become the members: the gone are dropped, the new read. */
static void apply_children(zkd_cache *k, const zkd_strings *kids)
{
    /* Both lists are sorted: one walk over each, not a search per name
     * (a create in a service of N costs N string compares, not 2N log N). */
    for (size_t i = k->nmembers, j = kids->count; i-- > 0;) {
        int cmp = 1;
        while (j > 0 && (cmp = strcmp(kids->items[j - 1], k->members[i].name)) > 0)
            j--;
        if (j == 0 || cmp != 0)
            drop_member(k, i);
    }
    member_reserve(k, kids->count); /* a load: exactly as many as there are */
    for (size_t i = 0, at = 0; i < kids->count; i++, at++) {
        /* Every member is a child now: the next member is this child or
         * comes after it. */
        member *m = at < k->nmembers && !strcmp(k->members[at].name, kids->items[i])
                        ? &k->members[at]
                        : NULL;
        if (m && (m->inst || m->malformed || m->reading || m->want))
            continue; /* known: its data watch reports changes */
        /* New, or seen gone by an earlier read and now back. */
        if (!m && !(m = member_insert(k, kids->items[i]))) {
            at--; /* out of memory: not a member; read on the next change */
            continue;
        }
        read_member(k, m);
    }
}

static void on_children_locked(zkd_cache *k, uint64_t epoch, int rc, zkd_strings *kids)
{
    if (epoch != k->epoch)
        return;
    k->listed = 1;
    if (rc == ZKD_ENOTFOUND) {
        /* No such service (yet): an empty set, and a watch for its creation. */
        kids->count = 0;
        if (zkd__aexists(k->o.target, k->path, 1, NULL, k->epoch, on_service_stat) != 0)
            k->resync = 1;
    } else if (rc) {
        k->resync = 1;
        return;
    }
    apply_children(k, kids);
    maybe_publish(k);
}

static void on_children(void *owner, const char *tag, uint64_t epoch, int rc, zkd_strings *kids,
                        const zkd_stat *st)
{
    (void)tag;
    (void)st;
    zkd_cache *k = owner;
    state_lock(k);
    on_children_locked(k, epoch, rc, kids);
    state_unlock(k);
}

static void on_service_stat_locked(void *owner, const char *tag, uint64_t epoch, int rc,
                                   const zkd_stat *st)
{
    (void)tag;
    (void)st;
    zkd_cache *k = owner;
    if (epoch == k->epoch && rc == 0)
        request_children(k); /* created between our two reads */
}

static void on_service_stat(void *owner, const char *tag, uint64_t epoch, int rc,
                            const zkd_stat *st)
{
    zkd_cache *k = owner;
    state_lock(k);
    on_service_stat_locked(owner, tag, epoch, rc, st);
    state_unlock(k);
}

static void request_children(zkd_cache *k)
{
    if (zkd__achildren(k->o.target, k->path, 1, NULL, k->epoch, on_children) != 0)
        k->resync = 1;
}

static void on_watch_locked(void *owner, int type, const char *path)
{
    zkd_cache *k = owner;
    if (!strcmp(path, k->path)) {
        if (type == ZOO_CHILD_EVENT || type == ZOO_CREATED_EVENT || type == ZOO_DELETED_EVENT)
            request_children(k);
        return;
    }
    const char *slash = strrchr(path, '/');
    member *m = slash ? member_find(k, slash + 1) : NULL;
    /* A deleted child is read again too: if it was re-created at once (a
     * re-registration), the children may look unchanged, and this read is
     * what re-arms its data watch; if it is gone, the read says so. */
    if (m && (type == ZOO_CHANGED_EVENT || type == ZOO_DELETED_EVENT || type == ZOO_CREATED_EVENT))
        read_member(k, m);
}

static void on_watch(void *owner, int type, const char *path)
{
    zkd_cache *k = owner;
    state_lock(k);
    on_watch_locked(owner, type, path);
    state_unlock(k);
}

/* ---- one thread hop sooner (ZooKeeper's completion thread) ------------------ */

/* A job that publishes what waits (and tells the listener): after the
 * early path's removals, and a static cache's first set. */
static void publish_run(void *arg)
{
    zkd_cache *k = arg;
    if (!atomic_load(&k->o.closing)) {
        state_lock(k);
        maybe_publish(k);
        state_unlock(k);
    }
    zkd__observer_release(&k->o);
}

static void publish_drop(void *arg)
{
    zkd__observer_release(&((zkd_cache *)arg)->o);
}

/* The children answered: applied here, from the server's unsorted list, a
 * lookup per name in the members' index (less than the copy and sort of
 * every name the loop's on_children needs), so that a new member's read
 * goes out once the names are looked up and the answer never waits for the
 * loop. Members not in the list are dropped after. Only publishing (the
 * listener) waits for the loop: the new members' answers do it, or, when
 * nothing is left to read, a job. A load or rebuild, a missing service or
 * a failure stay on the loop. 1 when taken. */
static int early_children(zkd_cache *k, const zkd_early *ev)
{
    state_lock(k);
    const struct String_vector *sv = ev->names;
    int stale = ev->epoch != k->epoch; /* the loop would ignore it */
    int here = !stale && !ev->rc && sv && !k->rebuilding && !atomic_load(&k->o.closing);
    int publish = 0;
    if (here) {
        k->listed = 1;
        int32_t *fresh = NULL, nfresh = 0, capfresh = 0;
        for (int32_t i = 0; i < sv->count; i++) {
            member *m = member_find(k, sv->data[i]);
            if (m) {
                m->in_answer = 1;
                if (!(m->inst || m->malformed || m->reading || m->want))
                    read_member(k, m); /* seen gone by an earlier read, and back */
                continue; /* else known: its data watch reports changes */
            }
            /* New: inserted after the lookups, which an insert would make
             * remake the index. Out of memory: read on the next change. */
            if (nfresh == capfresh) {
                int32_t *more = realloc(fresh, (capfresh ? capfresh * 2 : 8) * sizeof *fresh);
                if (!more)
                    continue;
                fresh = more;
                capfresh = capfresh ? capfresh * 2 : 8;
            }
            fresh[nfresh++] = i;
        }
        for (int32_t f = 0; f < nfresh; f++) {
            member *m = member_insert(k, sv->data[fresh[f]]);
            if (m) {
                m->in_answer = 1;
                read_member(k, m);
            }
        }
        free(fresh);
        for (size_t i = k->nmembers; i-- > 0;) {
            if (!k->members[i].in_answer)
                drop_member(k, i);
            else
                k->members[i].in_answer = 0;
        }
        publish = k->pending.n && ((!k->reading && !k->wanted) ||
                                   zkd__now_ms() - k->published_at >= PUBLISH_EVERY_MS);
    }
    pthread_mutex_unlock(&k->state); /* nothing published here: nobody to tell */
    if (publish) {
        zkd__observer_hold(&k->o);
        zkd__post(k->o.c, publish_run, publish_drop, k);
    }
    return stale || here;
}

/* The request layer's early hook (request.h): a watch event is handled
 * here whole (it only sends reads); of answers, only the children's. */
static int early(void *owner, const zkd_early *ev)
{
    zkd_cache *k = owner;
    if (ev->event) {
        state_lock(k);
        int taken = !atomic_load(&k->o.closing);
        if (taken)
            on_watch_locked(k, ev->event, ev->path);
        pthread_mutex_unlock(&k->state);
        return taken;
    }
    return ev->kind == ZKD_OP_CHILDREN ? early_children(k, ev) : 0;
}

/* ---- sessions ------------------------------------------------------------- */

static void set_stale(zkd_cache *k, int stale)
{
    if (k->stale == stale)
        return;
    k->stale = stale;
    pthread_mutex_lock(&k->o.mu);
    zkd_snapshot *next = zkd__snapshot_restale(k->snap, stale);
    pthread_mutex_unlock(&k->o.mu);
    swap_snapshot(k, next, 0);
}

/* Reads everything again (a new session, a first load, or watches that
 * were dropped) and reports only what really differs from what we served.
 * Members whose data we know are only checked (see on_check). */
static void rebuild(zkd_cache *k)
{
    k->epoch++;
    k->reading = 0;
    k->wanted = 0;
    k->cursor = 0;
    k->resync = 0;
    k->forgot = 0;
    k->rebuilding = 1;
    k->listed = 0;
    set_bulk(k); /* it may touch every member: one tree at the end */
    for (size_t i = 0; i < k->nmembers; i++) {
        k->members[i].reading = 0;
        k->members[i].want = W_NONE;
    }
    request_children(k);
    for (size_t i = 0; i < k->nmembers; i++) {
        member *m = &k->members[i];
        request_member(k, m, (m->inst || m->malformed) && m->mzxid);
    }
}

/* Drops the data watches locally, so that the ZooKeeper client's
 * SetWatches after the reconnect stays small (see the top of the file). */
static void forget_watches(zkd_cache *k)
{
    if (!k->nmembers || zkd__watched_paths(k->o.c) <= KEEP_WATCHES_MAX)
        return;
    k->forgot = 1;
    int64_t t0 = zkd__now_ms();
    for (size_t i = 0; i < k->nmembers; i++) {
        char *path = zkd__path_join(k->path, k->members[i].name);
        if (path)
            zkd__target_forget(k->o.target, path);
        free(path);
    }
    zkd__log(k->o.c, ZKD_LOG_INFO, "cache %s: dropped %zu data watches for the reconnect in %lld ms",
             k->service, k->nmembers, (long long)(zkd__now_ms() - t0));
}

static void on_session_locked(zkd_client *c, zkd_session_event ev, void *ctx)
{
    (void)c;
    zkd_cache *k = ctx;
    switch (ev) {
    case ZKD_SESSION_SUSPENDED:
        set_stale(k, 1);
        forget_watches(k);
        break;
    case ZKD_SESSION_EXPIRED:
        set_stale(k, 1);
        break;
    case ZKD_SESSION_CONNECTED:
        if (k->rebuilding && !k->resync)
            break; /* the load started as the session came */
        /* fall through */
    case ZKD_SESSION_RECONNECTED:
        /* Same session: the client re-armed the watches we kept and will
         * report what changed meanwhile. A load that never got through, a
         * failed request or dropped watches need a pass over everything. */
        if (k->loading || k->resync || k->forgot)
            rebuild(k); /* fresh again once its reads have answered */
        else
            set_stale(k, 0);
        break;
    case ZKD_SESSION_REESTABLISHED:
        rebuild(k);
        break;
    default:
        break;
    }
}

static void on_session(zkd_client *c, zkd_session_event ev, void *ctx)
{
    zkd_cache *k = ctx;
    state_lock(k);
    on_session_locked(c, ev, ctx);
    state_unlock(k);
}

/* ---- the snapshot directory ------------------------------------------------ */

/* One line per instance: the znode's name, a tab, the record's JSON. */
static char *snapshot_text(const member *members, size_t n, size_t *len)
{
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap);
    for (size_t i = 0; buf && i < n; i++) {
        if (!members[i].inst)
            continue;
        char *json = zkd_instance_to_json(members[i].inst);
        size_t need = strlen(members[i].name) + (json ? strlen(json) : 0) + 3;
        if (json && used + need > cap) {
            while (used + need > cap)
                cap *= 2;
            char *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                buf = NULL;
            }
            buf = grown;
        }
        if (json && buf)
            used += (size_t)sprintf(buf + used, "%s\t%s\n", members[i].name, json);
        free(json);
    }
    *len = used;
    return buf;
}

static void store_now(void *arg)
{
    zkd_cache *k = arg;
    state_lock(k);
    k->store_timer = NULL;
    k->store_due = 0;
    k->stored_at = zkd__now_ms();
    size_t len = 0;
    char *text = snapshot_text(k->members, k->nmembers, &len);
    pthread_mutex_unlock(&k->state); /* the write needs only the text */
    zkd__observer_store(&k->o, text, len);
    free(text);
    state_lock(k);
    k->store_took_ms = zkd__now_ms() - k->stored_at;
    pthread_mutex_unlock(&k->state);
}

/* Writes the state soon, at most every STORE_EVERY_MS (a burst of changes
 * costs one write), and never more than a tenth of the loop's time: the
 * write of a large cache runs on the dispatch thread. */
static void store_soon(zkd_cache *k)
{
    if (!k->o.store_name || atomic_load(&k->o.closing))
        return;
    k->store_due = 1;
    if (k->store_timer)
        return;
    int64_t every = k->store_took_ms * 10 > STORE_EVERY_MS ? k->store_took_ms * 10 : STORE_EVERY_MS;
    int64_t wait = k->stored_at + every - zkd__now_ms();
    k->store_timer = zkd__after(k->o.c, wait > 0 ? wait : 0, store_now, NULL, k);
}

/* Checks every line of a snapshot file ("ID\tJSON\n", as snapshot_text
 * writes them) parses, the last one ended: a file cut short by a full disk
 * or overwritten by something else is not served as a smaller set. NULL
 * when whole, else what is wrong (static text). */
static const char *store_damage(const char *service, char *text, size_t len)
{
    if (len && text[len - 1] != '\n')
        return "cut short (no final newline)";
    if (memchr(text, '\0', len))
        return "holds a NUL byte";
    for (char *line = text, *end; line < text + len; line = end + 1) {
        end = strchr(line, '\n');
        char *tab = memchr(line, '\t', (size_t)(end - line));
        if (!tab)
            return "a line without a tab";
        *tab = '\0';
        zkd_instance *inst = NULL;
        int bad = zkd_validate_name("instance id", line, NULL) != 0 ||
                  zkd_instance_parse(service, line, tab + 1, (size_t)(end - tab - 1), &inst, NULL) != 0;
        zkd_instance_unref(inst);
        *tab = '\t';
        if (bad)
            return "a line that is not an instance record";
    }
    return NULL;
}

/* The instances of the snapshot file become the members, served stale
 * until ZooKeeper answers. 1 when there was a (whole) snapshot. */
static int store_load(zkd_cache *k)
{
    size_t len = 0;
    char *text = zkd__observer_load(&k->o, (size_t)1 << 30, &len);
    if (!text)
        return 0;
    const char *damage = store_damage(k->service, text, len);
    if (damage) {
        char why[160];
        snprintf(why, sizeof why, "damaged: %s", damage);
        zkd__observer_load_refused(&k->o, why);
        free(text);
        return 0;
    }
    for (char *line = text, *end; line < text + len; line = end + 1) {
        end = strchr(line, '\n');
        char *tab = memchr(line, '\t', (size_t)(end - line));
        *tab = '\0';
        zkd_instance *inst = NULL;
        member *m = member_insert(k, line);
        if (m && !m->inst &&
            zkd_instance_parse(k->service, line, tab + 1, (size_t)(end - tab - 1), &inst, NULL) == 0)
            set_member(k, m, inst, 0);
    }
    free(text);
    return 1;
}

/* ---- opening and closing ---------------------------------------------------- */

static void cache_free(zkd__observer *o)
{
    zkd_cache *k = (zkd_cache *)o;
    for (size_t i = 0; i < k->nmembers; i++) {
        if (k->members[i].name_owned)
            free(k->members[i].name);
        zkd_instance_unref(k->members[i].inst);
    }
    for (size_t i = 0; i < k->pending.n; i++) {
        zkd_instance_unref(k->pending.items[i].before);
        zkd_instance_unref(k->pending.items[i].now);
    }
    free(k->pending.items);
    free(k->members);
    free(k->index);
    zkd__ptree_unref(k->work);
    zkd_snapshot_unref(k->snap);
    free(k->service);
    free(k->path);
    deltas_free(&k->told);
    pthread_mutex_destroy(&k->state);
    zkd__observer_free(o, k);
}

static void on_close(zkd__observer *o);

/* The client's teardown: the stopped loop dropped the timer. */
static void on_teardown(zkd__observer *o)
{
    ((zkd_cache *)o)->store_timer = NULL;
}

static void start(void *arg)
{
    zkd_cache *k = arg;
    if (atomic_load(&k->o.closing))
        return;
    state_lock(k);
    if (k->nmembers) { /* from the snapshot file: tell the listener */
        zkd__observer_enter(&k->o); /* it may close the cache */
        maybe_publish(k);
        state_unlock(k);
        if (zkd__observer_leave(&k->o))
            return;
        state_lock(k);
    }
    /* Not connected yet (connect_in_background): the session event starts
     * the load. */
    if (zkd_client_state(k->o.c) == ZKD_STATE_CONNECTED && !k->rebuilding)
        rebuild(k);
    state_unlock(k);
}

static int open_fail(zkd_cache *k, int rc, zkd_error *err)
{
    zkd_cache_close(k);
    return zkd__fail(err, rc, rc == ZKD_ENOMEM ? "out of memory opening a cache"
                                               : "cannot start the cache: the client is closed");
}

int zkd_cache_open(zkd_client *c, const char *service, zkd_cache_fn fn, void *ctx,
                   zkd_cache **out, zkd_error *err)
{
    return zkd_cache_open_flags(c, service, 0, fn, ctx, out, err);
}

/* A cache with nothing loaded and nothing started: *out, or an error. */
static int cache_new(zkd_client *c, const char *service, zkd_cache_fn fn, void *ctx,
                     zkd_cache **out, zkd_error *err)
{
    if (!c || !out)
        return zkd__fail(err, ZKD_EINVAL, "no client or place for the cache given");
    int rc = zkd_validate_name("service", service, err);
    if (rc)
        return rc;
    zkd_cache *k = calloc(1, sizeof *k);
    if (!k)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    zkd__observer_init(&k->o, c, cache_free);
    k->o.on_close = on_close;
    k->o.on_teardown = on_teardown;
    pthread_mutex_init(&k->state, NULL);
    k->fn = fn;
    k->ctx = ctx;
    k->loading = 1;
    k->bulk = 1;
    k->stale = zkd_client_state(c) != ZKD_STATE_CONNECTED;
    k->service = strdup(service);
    k->path = zkd__service_path(c, service);
    k->snap = zkd__snapshot_new(NULL, 0, k->stale);
    *out = k;
    return !k->service || !k->path || !k->snap ? open_fail(k, ZKD_ENOMEM, err) : 0;
}

int zkd_cache_open_flags(zkd_client *c, const char *service, int flags, zkd_cache_fn fn,
                         void *ctx, zkd_cache **out, zkd_error *err)
{
    zkd_cache *k;
    int rc = cache_new(c, service, fn, ctx, &k, err);
    if (rc)
        return rc;
    if (!(flags & ZKD_CACHE_UNSTORED)) {
        if (zkd__observer_persist(&k->o, "service", "service", service))
            return open_fail(k, ZKD_ENOMEM, err);
        if (store_load(k)) {
            k->stale = 1; /* until ZooKeeper confirms it */
            swap_snapshot(k, build_snapshot(k), 1);
        }
    }
    k->o.direct = 1; /* its close forgets every watch it armed */
    if ((rc = zkd__observer_attach(&k->o, k, on_watch, early, on_session)) != 0)
        return open_fail(k, rc, err);
    if ((rc = zkd__post(c, start, NULL, k)) != 0)
        return open_fail(k, rc, err);
    *out = k;
    return 0;
}

/* The close, on the dispatch thread (or once the client's teardown is done,
 * when the target and the timer are gone already): the timer, and the
 * watches the ZooKeeper client would otherwise keep re-sending; the
 * observer then cancels the target and the subscription. */
static void on_close(zkd__observer *o)
{
    zkd_cache *k = (zkd_cache *)o;
    state_lock(k);
    if (k->store_timer)
        zkd__cancel(k->o.c, k->store_timer);
    k->store_timer = NULL;
    int due = k->store_due;
    for (size_t i = 0; k->o.target && i < k->nmembers; i++) {
        char *path = zkd__path_join(k->path, k->members[i].name);
        if (path)
            zkd__target_forget(k->o.target, path);
        free(path);
    }
    pthread_mutex_unlock(&k->state); /* cancelling waits for a running hook */
    if (k->o.target)
        zkd__target_forget(k->o.target, k->path);
    /* The changes of the last second, whose write was waiting: a process
     * stopped then would otherwise start next time, with ZooKeeper down,
     * on the set before them (an instance gone or drained served again). */
    if (due)
        store_now(k);
}

void zkd_cache_close(zkd_cache *k)
{
    if (!k)
        return;
    atomic_store(&k->o.closing, 1); /* no set handed over is applied after this */
    zkd__file_watch_stop(k->file);
    k->file = NULL;
    zkd__observer_close(&k->o);
}

int zkd_cache_wait_ready(zkd_cache *k, int timeout_ms, zkd_error *err)
{
    return zkd__observer_wait_ready(&k->o, timeout_ms) ? 0 : zkd__fail(err, ZKD_ETIMEDOUT, "the cache of %s did not load within %d ms",
                                 k->service, timeout_ms);
}

zkd_snapshot *zkd_cache_snapshot(zkd_cache *k)
{
    pthread_mutex_lock(&k->o.mu);
    zkd_snapshot *s = zkd_snapshot_ref(k->snap);
    pthread_mutex_unlock(&k->o.mu);
    return s;
}

uint64_t zkd__cache_swaps(const zkd_cache *k) { return atomic_load(&k->swaps); }
uint64_t zkd_cache_malformed(zkd_cache *k) { return atomic_load(&k->malformed); }
const char *zkd_cache_service(const zkd_cache *k) { return k->service; }

/* ---- static sources (cache_file.c) ----------------------------------------- */

static int in_set(const zkd__static_set *s, const char *name)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(s->items[mid].name, name);
        if (cmp == 0)
            return 1;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* The set becomes the members, as one step; the instances move out of s. */
static void apply_set(zkd_cache *k, zkd__static_set *s)
{
    set_bulk(k); /* a file's new version may touch every member: one tree at the end */
    for (size_t i = k->nmembers; i-- > 0;)
        if (!in_set(s, k->members[i].name))
            drop_member(k, i);
    member_reserve(k, s->n);
    for (size_t i = 0; i < s->n; i++) {
        member *m = member_insert(k, s->items[i].name);
        if (m) {
            set_member(k, m, s->items[i].inst, 0);
            s->items[i].inst = NULL;
        }
    }
    k->stale = 0;
    k->loading = 0;
}

typedef struct set_job {
    zkd_cache *k;
    zkd__static_set set;
} set_job;

static void set_job_drop(void *arg)
{
    set_job *j = arg;
    zkd__static_set_free(&j->set);
    zkd__observer_release(&j->k->o);
    free(j);
}

static void set_job_run(void *arg)
{
    set_job *j = arg;
    if (!atomic_load(&j->k->o.closing)) {
        state_lock(j->k);
        apply_set(j->k, &j->set);
        maybe_publish(j->k);
        state_unlock(j->k);
    }
    set_job_drop(j);
}

void zkd__cache_take_set(zkd_cache *k, zkd__static_set *set)
{
    set_job *j = malloc(sizeof *j);
    if (!j) {
        zkd__log(k->o.c, ZKD_LOG_WARN, "out of memory taking a new version of %s", k->service);
        return;
    }
    j->k = k;
    j->set = *set;
    *set = (zkd__static_set){0};
    zkd__observer_hold(&k->o);
    if (zkd__post(k->o.c, set_job_run, set_job_drop, j) != 0)
        set_job_drop(j);
}

static int open_static(zkd_client *c, const char *service, zkd__static_set *set, const char *path,
                       zkd_cache_fn fn, void *ctx, zkd_cache **out, zkd_error *err)
{
    zkd_cache *k;
    int rc = cache_new(c, service, fn, ctx, &k, err);
    if (rc)
        return rc;
    /* Not yet shared: its dispatch-thread state is ours to set up here. */
    apply_set(k, set);
    swap_snapshot(k, build_snapshot(k), 1);
    if (path && !(k->file = zkd__file_watch_start(c, k, path, err))) {
        zkd_cache_close(k);
        return err ? err->code : ZKD_EIO;
    }
    zkd__observer_hold(&k->o);
    if ((rc = zkd__post(c, publish_run, NULL, k)) != 0) {
        zkd__observer_release(&k->o);
        return open_fail(k, rc, err);
    }
    *out = k;
    return 0;
}

int zkd_cache_open_file(zkd_client *c, const char *service, const char *path, zkd_cache_fn fn,
                        void *ctx, zkd_cache **out, zkd_error *err)
{
    if (!path || !*path)
        return zkd__fail(err, ZKD_EINVAL, "no file given for the static service %s",
                         service ? service : "");
    int rc = zkd_validate_name("service", service, err);
    zkd__static_set set = {0};
    if (!rc)
        rc = zkd__static_read(service, path, &set, err);
    if (!rc)
        rc = open_static(c, service, &set, path, fn, ctx, out, err);
    zkd__static_set_free(&set);
    return rc;
}

int zkd_cache_open_static(zkd_client *c, const char *service, const char *json, size_t len,
                          zkd_cache_fn fn, void *ctx, zkd_cache **out, zkd_error *err)
{
    int rc = zkd_validate_name("service", service, err);
    zkd__static_set set = {0};
    if (!rc)
        rc = zkd__static_parse(service, "static instances", json ? json : "", json ? len : 0, &set,
                               err);
    if (!rc)
        rc = open_static(c, service, &set, NULL, fn, ctx, out, err);
    zkd__static_set_free(&set);
    return rc;
}
