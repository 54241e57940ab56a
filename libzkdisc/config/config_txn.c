/* Multi and setACL requests with a deadline (see config_txn.h). */
#include "config_txn.h"
#include "clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counters.h"
#include "errors.h"
#include "session.h"

typedef struct pending {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs; /* the waiter and, once issued, the completion */
    int done;
    int zrc;
    int n;
    zoo_op_result_t *results; /* written by the client library at completion */
    struct Stat *stats;
    char *names;              /* created paths, 1 byte each: we do not need them */
} pending;

static pending *pending_new(int n)
{
    pending *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    zkd__cond_init(&p->cv);
    p->refs = 1;
    p->n = n;
    if (n > 0) {
        p->results = calloc((size_t)n, sizeof *p->results);
        p->stats = calloc((size_t)n, sizeof *p->stats);
        p->names = calloc((size_t)n, 1);
        if (!p->results || !p->stats || !p->names) {
            free(p->results);
            free(p->stats);
            free(p->names);
            pthread_mutex_destroy(&p->mu);
            pthread_cond_destroy(&p->cv);
            free(p);
            return NULL;
        }
    }
    return p;
}

static void pending_unref(pending *p)
{
    pthread_mutex_lock(&p->mu);
    int last = --p->refs == 0;
    pthread_mutex_unlock(&p->mu);
    if (!last)
        return;
    free(p->results);
    free(p->stats);
    free(p->names);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

/* ZooKeeper's completion thread: record and wake the waiter. */
static void on_done(int rc, const void *data)
{
    pending *p = (pending *)data;
    pthread_mutex_lock(&p->mu);
    p->zrc = rc;
    p->done = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pending_unref(p);
}

static int wait_done(pending *p, int timeout_ms)
{
    struct timespec dl = zkd__deadline(timeout_ms);
    pthread_mutex_lock(&p->mu);
    while (!p->done)
        if (pthread_cond_timedwait(&p->cv, &p->mu, &dl) == ETIMEDOUT)
            break;
    int done = p->done;
    pthread_mutex_unlock(&p->mu);
    return done;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for a usable session within the request timeout; returns the time
 * left in *left_ms. */
static int usable(zkd_client *c, int *left_ms, zkd_error *err)
{
    int64_t deadline = now_ms() + zkd__request_timeout_ms(c);
    int rc = zkd__wait_usable(c, zkd__request_timeout_ms(c));
    if (rc == ZKD_ECLOSED)
        return zkd__fail(err, rc, "the client is closed");
    *left_ms = (int)(deadline - now_ms());
    if (*left_ms <= 0)
        *left_ms = 1;
    return 0;
}

static const char *kind_name(zkd_txn_kind k)
{
    static const char *names[] = {"check", "create", "set", "delete"};
    return names[k];
}

static int describe(zkd_client *c, const char *what, const char *path, int zrc, zkd_error *err)
{
    int code = zkd__from_zk(zrc);
    if (code == ZKD_ECONNLOSS || code == ZKD_EEXPIRED)
        return zkd__fail(err, code, "cannot %s %s: %s (ZooKeeper at %s)", what, path,
                         zkd__zk_text(zrc), zkd_client_connect_string(c));
    return zkd__fail(err, code, "cannot %s %s: %s", what, path, zkd__zk_text(zrc));
}

static int timed_out(zkd_client *c, zkd_error *err)
{
    return zkd__fail(err, ZKD_ETIMEDOUT,
                     "no answer from ZooKeeper at %s within %d ms; the change may or may not "
                     "have been made",
                     zkd_client_connect_string(c), zkd__request_timeout_ms(c));
}

int zkd__txn(zkd_client *c, const zkd_txn_op *ops, int n, int *failed, int *zrc_out,
             zkd_error *err)
{
    if (failed)
        *failed = -1;
    if (zrc_out)
        *zrc_out = ZOK;
    int left;
    int rc = usable(c, &left, err);
    if (rc)
        return rc;
    pending *p = pending_new(n);
    zoo_op_t *zops = calloc((size_t)(n > 0 ? n : 1), sizeof *zops);
    if (!p || !zops) {
        if (p)
            pending_unref(p);
        free(zops);
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    }
    uint64_t bytes = 0;
    for (int i = 0; i < n; i++) {
        const zkd_txn_op *o = &ops[i];
        switch (o->kind) {
        case ZKD_TXN_CHECK: zoo_check_op_init(&zops[i], o->path, o->version); break;
        case ZKD_TXN_CREATE:
            zoo_create_op_init(&zops[i], o->path, o->data, o->data ? o->len : -1,
                               o->acl ? o->acl : &ZOO_OPEN_ACL_UNSAFE, 0, &p->names[i], 1);
            break;
        case ZKD_TXN_SET:
            zoo_set_op_init(&zops[i], o->path, o->data, o->data ? o->len : -1, o->version,
                            &p->stats[i]);
            break;
        case ZKD_TXN_DELETE: zoo_delete_op_init(&zops[i], o->path, o->version); break;
        }
        if (o->data && o->len > 0)
            bytes += (uint64_t)o->len;
    }
    zhandle_t *zh = zkd__zh_acquire(c);
    int zrc = ZINVALIDSTATE;
    if (zh) {
        zkd__count(c, ZKD_CNT_MULTI, 1);
        zkd__count(c, ZKD_CNT_BYTES_WRITTEN, bytes);
        p->refs++;
        zrc = zoo_amulti(zh, n, zops, p->results, on_done, p);
        if (zrc != ZOK)
            p->refs--; /* no completion will come */
        zkd__zh_release(c);
    }
    free(zops); /* the request is serialized by now */
    if (zrc != ZOK) {
        pending_unref(p);
        if (zrc_out)
            *zrc_out = zrc;
        return describe(c, "commit a transaction on", n ? ops[0].path : "/", zrc, err);
    }
    if (!wait_done(p, left)) {
        pending_unref(p);
        return timed_out(c, err);
    }
    zrc = p->zrc;
    rc = 0;
    if (zrc != ZOK) {
        int at = -1;
        for (int i = 0; i < n && at < 0; i++)
            if (p->results[i].err != ZOK && p->results[i].err != ZRUNTIMEINCONSISTENCY)
                at = i;
        int op_zrc = at >= 0 ? p->results[at].err : zrc;
        if (failed)
            *failed = at;
        if (zrc_out)
            *zrc_out = op_zrc;
        rc = at >= 0 ? describe(c, kind_name(ops[at].kind), ops[at].path, op_zrc, err)
                     : describe(c, "commit a transaction on", n ? ops[0].path : "/", zrc, err);
    }
    pending_unref(p);
    return rc;
}

int zkd__set_acl(zkd_client *c, const char *path, const struct ACL_vector *acl, zkd_error *err)
{
    int left;
    int rc = usable(c, &left, err);
    if (rc)
        return rc;
    pending *p = pending_new(0);
    if (!p)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    zhandle_t *zh = zkd__zh_acquire(c);
    int zrc = ZINVALIDSTATE;
    if (zh) {
        p->refs++;
        zrc = zoo_aset_acl(zh, path, -1, (struct ACL_vector *)acl, on_done, p);
        if (zrc != ZOK)
            p->refs--;
        zkd__zh_release(c);
    }
    if (zrc != ZOK) {
        pending_unref(p);
        return describe(c, "set the ACL of", path, zrc, err);
    }
    if (!wait_done(p, left)) {
        pending_unref(p);
        return timed_out(c, err);
    }
    zrc = p->zrc;
    pending_unref(p);
    return zrc == ZOK ? 0 : describe(c, "set the ACL of", path, zrc, err);
}
