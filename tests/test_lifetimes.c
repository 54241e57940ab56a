/* SPDX-License-Identifier: Apache-2.0 */
/* Objects closed while their client closes on another thread. zkd_close
 * stops the loop and then tears the client down; a cache or config watch
 * closed from another thread in between used to run its close under the
 * client's lock (a deadlock) or beside the loop's last job. Here the loop is
 * held in a job of the test's until both closes have been asked for, then
 * released: every close must return, and (under ASan) nothing may leak.
 * No server is needed: the client connects in the background to a port
 * where nothing listens. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "session.h"
#include "testutil.h"

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open, in_job;

/* Holds the loop thread until the test opens the gate. */
static void held_job(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate_mu);
    in_job = 1;
    pthread_cond_broadcast(&gate_cv);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

static int job_running(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate_mu);
    int r = in_job;
    pthread_mutex_unlock(&gate_mu);
    return r;
}

static _Atomic int client_closed, cache_closed, config_closed;

static void *close_client(void *c)
{
    zkd_close(c);
    atomic_store(&client_closed, 1);
    return NULL;
}

static void *close_cache(void *k)
{
    zkd_cache_close(k);
    atomic_store(&cache_closed, 1);
    return NULL;
}

static void *close_config(void *w)
{
    zkd_config_watch_close(w);
    atomic_store(&config_closed, 1);
    return NULL;
}

static int closing(void *c) { return zkd__closing(c); }

static int all_closed(void *arg)
{
    (void)arg;
    return atomic_load(&client_closed) && atomic_load(&cache_closed) &&
           atomic_load(&config_closed);
}

static void test_close_objects_while_the_client_closes(void)
{
    char connect[64];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", tu_unused_port());
    zkd_options o;
    zkd_options_init(&o);
    o.connect = connect;
    o.connect_in_background = 1;
    zkd_client *c = NULL;
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_connect(&o, &c, &err), 0);
    zkd_cache *k = NULL;
    zkd_config_watch *w = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_cache_open(c, "svc", NULL, NULL, &k, &err), 0);
    CU_ASSERT_EQUAL_FATAL(zkd_config_watch_open(c, "app", NULL, NULL, &w, &err), 0);

    CU_ASSERT_EQUAL_FATAL(zkd__post(c, held_job, NULL, NULL), 0);
    CU_ASSERT_FATAL(tu_wait_until(job_running, NULL, 10000));
    pthread_t tc, tk, tw;
    pthread_create(&tc, NULL, close_client, c);
    CU_ASSERT_FATAL(tu_wait_until(closing, c, 10000)); /* the loop is stopping */
    pthread_create(&tk, NULL, close_cache, k);
    pthread_create(&tw, NULL, close_config, w);

    pthread_mutex_lock(&gate_mu);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
    CU_ASSERT_TRUE(tu_wait_until(all_closed, NULL, 10000));
    if (all_closed(NULL)) {
        pthread_join(tc, NULL);
        pthread_join(tk, NULL);
        pthread_join(tw, NULL);
    }
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"cache and config watch closed while the client closes",
         test_close_objects_while_the_client_closes},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"lifetimes", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
