/* SPDX-License-Identifier: Apache-2.0 */
/* Static sources for caches (see cache_file.h). */
#include "cache_file.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zkdisc/instance.h>
#include <zkdisc/names.h>

#include "atomic_file.h"
#include "errors.h"
#include "session.h"

#define STATIC_MAX ((size_t)64 << 20)

void zkd__static_set_free(zkd__static_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].name);
        zkd_instance_unref(s->items[i].inst);
    }
    free(s->items);
    *s = (zkd__static_set){0};
}

/* "ADDRESS-PORT" with anything a name cannot hold turned into '-'. */
static char *default_id(json_t *e)
{
    const char *addr = json_string_value(json_object_get(e, "address"));
    json_int_t port = json_integer_value(json_object_get(e, "port"));
    char *id = NULL;
    if (!addr || asprintf(&id, "%s-%lld", addr, (long long)port) < 0)
        return NULL;
    for (char *p = id; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p))
            *p = '-';
    return id;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const zkd__static_item *)a)->name, ((const zkd__static_item *)b)->name);
}

/* One element: fills in name and id, then reads it as the cache would read
 * the znode `node`. */
static int parse_one(const char *service, json_t *e, char **node_out, zkd_instance **inst_out,
                     zkd_error *err)
{
    if (!json_is_object(e))
        return zkd__fail(err, ZKD_EBADDATA, "not an object");
    if (!json_object_get(e, "name"))
        json_object_set_new(e, "name", json_string(service));
    if (!json_object_get(e, "id")) {
        char *id = default_id(e);
        if (!id)
            return zkd__fail(err, ZKD_EBADDATA, "no \"id\", and no \"address\" to make one of");
        json_object_set_new(e, "id", json_string(id));
        free(id);
    }
    const char *znode = json_string_value(json_object_get(e, "znode"));
    const char *id = json_string_value(json_object_get(e, "id"));
    if (!id)
        return zkd__fail(err, ZKD_EBADDATA, "\"id\" is not a string");
    char *node = strdup(znode ? znode : id);
    json_object_del(e, "znode");
    char *text = json_dumps(e, JSON_COMPACT);
    int rc = !node || !text ? zkd__fail(err, ZKD_ENOMEM, "out of memory")
                            : zkd_validate_name("instance id", node, err);
    if (!rc)
        rc = zkd_instance_parse(service, node, text, strlen(text), inst_out, err);
    free(text);
    if (rc) {
        free(node);
        return rc == ZKD_ENOTFOUND ? zkd__fail(err, ZKD_EBADDATA, "a member that is not ALIVE") : rc;
    }
    *node_out = node;
    return 0;
}

int zkd__static_parse(const char *service, const char *origin, const char *text, size_t len,
                      zkd__static_set *out, zkd_error *err)
{
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_array(doc)) {
        json_decref(doc);
        return doc ? zkd__fail(err, ZKD_EBADDATA, "%s: not a JSON array of instances", origin)
                   : zkd__fail(err, ZKD_EBADDATA, "%s:%d: %s", origin, je.line, je.text);
    }
    zkd__static_set s = {0};
    size_t n = json_array_size(doc);
    s.items = calloc(n ? n : 1, sizeof *s.items);
    int rc = s.items ? 0 : zkd__fail(err, ZKD_ENOMEM, "out of memory");
    zkd_error why;
    for (size_t i = 0; !rc && i < n; i++) {
        zkd__static_item *it = &s.items[s.n];
        if ((rc = parse_one(service, json_array_get(doc, i), &it->name, &it->inst, &why)))
            rc = zkd__fail(err, rc == ZKD_ENOMEM ? rc : ZKD_EBADDATA, "%s: instance %zu: %s",
                           origin, i + 1, why.message);
        else
            s.n++;
    }
    json_decref(doc);
    if (!rc)
        qsort(s.items, s.n, sizeof *s.items, by_name);
    for (size_t i = 1; !rc && i < s.n; i++)
        if (!strcmp(s.items[i - 1].name, s.items[i].name))
            rc = zkd__fail(err, ZKD_EBADDATA, "%s: two instances named %s", origin, s.items[i].name);
    if (rc) {
        zkd__static_set_free(&s);
        return rc;
    }
    *out = s;
    return 0;
}

int zkd__static_read(const char *service, const char *path, zkd__static_set *out, zkd_error *err)
{
    char *text = NULL;
    long n = zkd__atomic_file_read(path, STATIC_MAX, &text);
    if (n < 0)
        return zkd__fail(err, errno == ENOENT ? ZKD_ENOTFOUND : ZKD_EIO, "cannot read %s: %s", path,
                         errno == EFBIG ? "larger than 64 MiB" : strerror(errno));
    int rc = zkd__static_parse(service, path, text, (size_t)n, out, err);
    free(text);
    return rc;
}

/* ---- the watcher ------------------------------------------------------- */

struct zkd__file_watch {
    zkd_client *c;
    zkd_cache *k;
    char *path, *base;
    int ino, stop;
    pthread_t thread;
};

/* Waits for the next event that concerns our file: 1 when it was written
 * or renamed into place, 0 when asked to stop. */
static int next_change(zkd__file_watch *w)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        struct pollfd p[2] = {{w->ino, POLLIN, 0}, {w->stop, POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return 0;
        if (p[1].revents)
            return 0;
        if (!(p[0].revents & POLLIN))
            continue;
        ssize_t len = read(w->ino, buf, sizeof buf);
        int ours = 0;
        for (char *at = buf; len > 0 && at < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)at;
            if (ev->len && !strcmp(ev->name, w->base)) {
                if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
                    ours = 1;
                else if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
                    zkd__log(w->c, ZKD_LOG_WARN, "static source %s was removed; serving its "
                             "last version", w->path);
            }
            at += sizeof *ev + ev->len;
        }
        if (ours)
            return 1;
    }
}

static void *watch_main(void *arg)
{
    zkd__file_watch *w = arg;
    while (next_change(w)) {
        zkd__static_set set;
        zkd_error err;
        const char *service = zkd_cache_service(w->k);
        if (zkd__static_read(service, w->path, &set, &err) != 0) {
            zkd__log(w->c, ZKD_LOG_WARN, "static source of %s: %s; serving its last good version",
                     service, err.message);
            continue;
        }
        zkd__cache_take_set(w->k, &set);
        zkd__static_set_free(&set);
    }
    return NULL;
}

zkd__file_watch *zkd__file_watch_start(zkd_client *c, zkd_cache *k, const char *path,
                                       zkd_error *err)
{
    zkd__file_watch *w = calloc(1, sizeof *w);
    char *dir = w ? strdup(path) : NULL;
    if (!dir) {
        free(w);
        zkd__fail(err, ZKD_ENOMEM, "out of memory");
        return NULL;
    }
    char *slash = strrchr(dir, '/');
    w->c = c;
    w->k = k;
    w->path = strdup(path);
    w->base = strdup(slash ? slash + 1 : path);
    if (slash)
        slash[slash == dir ? 1 : 0] = '\0';
    w->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    w->stop = eventfd(0, EFD_CLOEXEC);
    int ok = w->path && w->base && w->ino >= 0 && w->stop >= 0 &&
             inotify_add_watch(w->ino, slash ? dir : ".",
                               IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE) >= 0;
    if (!ok || pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        zkd__fail(err, ZKD_EIO, "cannot watch %s for changes: %s", path, strerror(errno));
        free(dir);
        w->thread = 0;
        w->stop = w->stop >= 0 ? (close(w->stop), -1) : -1;
        if (w->ino >= 0)
            close(w->ino);
        free(w->path);
        free(w->base);
        free(w);
        return NULL;
    }
    free(dir);
    return w;
}

void zkd__file_watch_stop(zkd__file_watch *w)
{
    if (!w)
        return;
    uint64_t one = 1;
    (void)!write(w->stop, &one, sizeof one);
    pthread_join(w->thread, NULL);
    close(w->stop);
    close(w->ino);
    free(w->path);
    free(w->base);
    free(w);
}
