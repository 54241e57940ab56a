/* SPDX-License-Identifier: Apache-2.0 */
/* zkdisc-bench-raw-list: the baseline for `zkdisc -o json instances`, a
 * whole process with only the ZooKeeper C client and jansson: getChildren,
 * then a getData of every child all in flight at once, then each record
 * decoded and printed as one compact JSON array.
 * usage: zkdisc-bench-raw-list HOSTS PATH */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int connected, left = -1;
static struct String_vector kids;
static char **datas;
static int *lens;

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh, (void)path, (void)ctx;
    pthread_mutex_lock(&mu);
    if (type == ZOO_SESSION_EVENT && state == ZOO_CONNECTED_STATE)
        connected = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_data(int rc, const char *value, int len, const struct Stat *st, const void *data)
{
    (void)st;
    size_t i = (size_t)(uintptr_t)data;
    pthread_mutex_lock(&mu);
    if (rc == ZOK && value && len > 0) {
        datas[i] = malloc((size_t)len);
        memcpy(datas[i], value, (size_t)len);
        lens[i] = len;
    }
    if (--left == 0)
        pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_children(int rc, const struct String_vector *sv, const void *data)
{
    (void)data;
    pthread_mutex_lock(&mu);
    if (rc == ZOK)
        deallocate_String_vector(&kids), kids = *sv, memset((void *)sv, 0, sizeof *sv);
    left = rc == ZOK ? kids.count : 0;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    zoo_set_debug_level(0);
    zhandle_t *zh = zookeeper_init(argv[1], watcher, 30000, NULL, NULL, 0);
    if (!zh)
        return 1;
    pthread_mutex_lock(&mu);
    while (!connected)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    zoo_aget_children(zh, argv[2], 0, on_children, NULL);
    pthread_mutex_lock(&mu);
    while (left < 0)
        pthread_cond_wait(&cv, &mu);
    int n = kids.count;
    datas = calloc((size_t)n + 1, sizeof *datas);
    lens = calloc((size_t)n + 1, sizeof *lens);
    pthread_mutex_unlock(&mu);
    char path[1024];
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", argv[2], kids.data[i]);
        zoo_aget(zh, path, 0, on_data, (void *)(uintptr_t)i);
    }
    pthread_mutex_lock(&mu);
    while (left > 0)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_t *v = datas[i] ? json_loadb(datas[i], (size_t)lens[i], 0, NULL) : NULL;
        if (v)
            json_array_append_new(arr, v);
    }
    json_dumpf(arr, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(arr);
    zookeeper_close(zh);
    return 0;
}
