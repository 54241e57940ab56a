/* SPDX-License-Identifier: Apache-2.0 */
/* hello_discovery: register this process as an instance of "hello", watch
 * the service, and pick an instance through a balancer.
 *
 *   hello_discovery [CONNECT_STRING]     (default 127.0.0.1:2181)
 *
 * Exits 0 once its own registration has come back through the cache. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zkdisc/zkdisc.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int seen_added;

/* Runs on zkdisc's dispatch thread, never on ZooKeeper's. */
static void on_change(zkd_cache *cache, const zkd_delta *d, size_t n, void *ctx)
{
    (void)cache;
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        const zkd_instance *inst = d[i].now ? d[i].now : d[i].before;
        printf("%s %s %s:%d\n", d[i].kind == ZKD_DELTA_ADDED ? "added" :
                                d[i].kind == ZKD_DELTA_REMOVED ? "removed" : "updated",
               zkd_instance_id(inst), zkd_instance_address(inst), zkd_instance_port(inst));
        if (d[i].kind == ZKD_DELTA_ADDED) {
            pthread_mutex_lock(&mu);
            seen_added = 1;
            pthread_cond_signal(&cv);
            pthread_mutex_unlock(&mu);
        }
    }
}

static int wait_for_added(int seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += seconds;
    pthread_mutex_lock(&mu);
    while (!seen_added && pthread_cond_timedwait(&cv, &mu, &until) == 0)
        ;
    int ok = seen_added;
    pthread_mutex_unlock(&mu);
    return ok;
}

int main(int argc, char **argv)
{
    zkd_options opts;
    zkd_options_init(&opts);
    if (argc > 1)
        opts.connect = argv[1];
    zkd_client *client;
    zkd_error err;
    if (zkd_connect(&opts, &client, &err) != 0) {
        fprintf(stderr, "hello_discovery: %s\n", err.message);
        return 1;
    }

    zkd_cache *cache;
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.service = "hello";
    spec.address = "127.0.0.1";
    spec.port = 8080;
    zkd_registration *reg;
    if (zkd_cache_open(client, "hello", on_change, NULL, &cache, &err) != 0 ||
        zkd_register(client, &spec, &reg, &err) != 0) {
        fprintf(stderr, "hello_discovery: %s\n", err.message);
        zkd_close(client);
        return 1;
    }

    int found = wait_for_added(10);
    zkd_balancer_options bo;
    zkd_balancer_options_init(&bo);
    zkd_balancer *balancer;
    zkd_instance *picked;
    if (found && zkd_balancer_new(cache, &bo, &balancer, &err) == 0) {
        if (zkd_balancer_select(balancer, &picked, &err) == 0) {
            printf("picked %s:%d\n", zkd_instance_address(picked), zkd_instance_port(picked));
            zkd_instance_unref(picked);
        }
        zkd_balancer_close(balancer);
    }
    zkd_registration_close(reg, NULL);
    zkd_cache_close(cache);
    zkd_close(client);
    return found ? 0 : 1;
}
