/* SPDX-License-Identifier: Apache-2.0 */
/* A waiting caller's create, sent with the C client's synchronous call.
 * The C client answers a synchronous request on its I/O thread, where an
 * asynchronous one goes through its completion thread first: one thread
 * hop less, which is all a raw synchronous create pays. The request takes
 * a place in the window like any other, and is sent only when nothing is
 * queued before it, so the order of requests on the connection is kept. */
#include "request_impl.h"

#include "counters.h"
#include "errors.h"
#include "session.h"

/* The C client gives up on a connection that said nothing for two thirds of
 * the session timeout, and fails what is in flight: a synchronous call
 * lasts no longer than that. It is used only when that is within the
 * caller's request timeout, which zkd__call keeps. */
static int bounded(zkd_client *c, zhandle_t *zh)
{
    return (int64_t)zoo_recv_timeout(zh) * 2 / 3 + 1000 <= zkd__request_timeout_ms(c);
}

int zkd__create_now(zkd_client *c, const char *path, const char *data, int len, int flags,
                    zkd_stat *st)
{
    engine *e = zkd__rq_engine_get(c);
    if (!e)
        return ZKD_ECLOSED;
    pthread_mutex_lock(&e->mu);
    int room = !e->dead && !e->qhead && e->inflight < e->window &&
               zkd_client_state(c) == ZKD_STATE_CONNECTED;
    if (room && ++e->inflight > e->max_inflight)
        e->max_inflight = e->inflight;
    pthread_mutex_unlock(&e->mu);
    int rc = ZKD__NOT_SENT;
    zhandle_t *zh = room ? zkd__zh_acquire(c) : NULL;
    if (zh) {
        if (bounded(c, zh)) {
            zkd__count(c, ZKD_CNT_CREATE, 1);
            zkd__count(c, ZKD_CNT_BYTES_WRITTEN, len > 0 ? (uint64_t)len : 0);
            struct Stat s;
            int zrc = zoo_create2(zh, path, data, len, &ZOO_OPEN_ACL_UNSAFE, flags, NULL, 0, &s);
            rc = zrc == ZOK ? 0 : zkd__from_zk(zrc);
            if (zrc == ZOK)
                zkd__stat_copy(st, &s);
            else if (zrc == ZINVALIDSTATE)
                rc = ZKD__NOT_SENT; /* the session went just before: queue it */
        }
        zkd__zh_release(c);
    }
    if (room) {
        zkd_req *failed = NULL;
        pthread_mutex_lock(&e->mu);
        e->inflight--;
        zkd__rq_pump_locked(e, &failed); /* what waited for the place it held */
        pthread_mutex_unlock(&e->mu);
        zkd__rq_finish_list(failed);
    }
    zkd__rq_engine_unref(e);
    return rc;
}
