/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl multi on libevent (see curlev.h): curl tells us which sockets and
 * which timeout to watch; we tell curl when they fire. */
#include "curlev.h"

#include <stdlib.h>

#include "agent.h"

typedef struct transfer {
    curlev_done_fn done;
    void *ctx;
} transfer;

#define POOL_MAX 1024

static struct event_base *cbase;
static CURLM *multi;
static struct event *timer;
static CURL *pool[POOL_MAX]; /* easy handles given back, reset on reuse */
static int npool;

static void check_finished(void)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode result = m->data.result;
        transfer *t = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
        curl_multi_remove_handle(multi, easy);
        if (t) {
            curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
            t->done(easy, result, t->ctx);
            free(t);
        }
    }
}

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
    (void)arg;
    int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(multi, fd, flags, &running);
    check_finished();
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    int running;
    curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_finished();
}

static int socket_cb(CURL *easy, curl_socket_t s, int action, void *userp, void *socketp)
{
    (void)easy;
    (void)userp;
    struct event *ev = socketp;
    if (action == CURL_POLL_REMOVE) {
        if (ev) {
            event_free(ev);
            curl_multi_assign(multi, s, NULL);
        }
        return 0;
    }
    short what = (short)((action & CURL_POLL_IN ? EV_READ : 0) | (action & CURL_POLL_OUT ? EV_WRITE : 0) |
                         EV_PERSIST);
    if (ev && event_get_events(ev) == what)
        return 0; /* already watched so: no epoll_ctl */
    if (ev) {
        event_del(ev);
        event_assign(ev, cbase, s, what, on_socket_event, NULL);
    } else {
        ev = event_new(cbase, s, what, on_socket_event, NULL);
        curl_multi_assign(multi, s, ev);
    }
    event_add(ev, NULL);
    return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    (void)userp;
    if (timeout_ms < 0) {
        evtimer_del(timer);
        return 0;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(timer, &tv);
    return 0;
}

int curlev_init(struct event_base *base)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    cbase = base;
    multi = curl_multi_init();
    timer = evtimer_new(base, on_timer, NULL);
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    return multi && timer ? 0 : -1;
}

CURL *curlev_easy_get(void)
{
    if (!npool)
        return curl_easy_init();
    CURL *e = pool[--npool];
    curl_easy_reset(e);
    return e;
}

void curlev_easy_put(CURL *easy)
{
    if (easy && npool < POOL_MAX)
        pool[npool++] = easy;
    else
        curl_easy_cleanup(easy);
}

void curlev_shutdown(void)
{
    while (npool)
        curl_easy_cleanup(pool[--npool]);
    if (multi)
        curl_multi_cleanup(multi);
    if (timer)
        event_free(timer);
    multi = NULL;
    timer = NULL;
    curl_global_cleanup();
}

int curlev_add(CURL *easy, curlev_done_fn done, void *ctx)
{
    transfer *t = malloc(sizeof *t);
    if (!t)
        return -1;
    *t = (transfer){done, ctx};
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    if (curl_multi_add_handle(multi, easy) != CURLM_OK) {
        free(t);
        return -1;
    }
    return 0;
}

void curlev_remove(CURL *easy)
{
    transfer *t = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
    curl_multi_remove_handle(multi, easy);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    free(t);
}
