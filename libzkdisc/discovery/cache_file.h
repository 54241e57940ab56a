/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: static sources for a cache. A set of instances read from JSON
 * text in the shape `zkdisc -o json instances` prints (an array of Curator
 * records, each optionally naming its `znode`), and a watcher that re-reads
 * a file when it changes (inotify on its directory, so an editor's or a
 * deployment's rename is seen) and hands each good version to its cache.
 * A version that does not parse is refused whole: the cache keeps serving
 * the last good one. */
#ifndef ZKD_INTERNAL_CACHE_FILE_H
#define ZKD_INTERNAL_CACHE_FILE_H

#include <stddef.h>
#include <zkdisc/cache.h>
#include <zkdisc/client.h>
#include <zkdisc/error.h>

/* One instance of a static set and the znode name it stands for. */
typedef struct zkd__static_item {
    char *name;
    zkd_instance *inst;
} zkd__static_item;

/* Instances sorted by znode name, names unique. Owns the array, every name
 * and one reference per instance. */
typedef struct zkd__static_set {
    zkd__static_item *items;
    size_t n;
} zkd__static_set;

/* Parses `text` (len bytes). `origin` names it in messages (a path, or
 * "default servers"). An element without "name" belongs to `service`; one
 * without "id" gets "ADDRESS-PORT" (characters a name cannot hold become
 * '-'). ZKD_EBADDATA naming the element and why. */
int zkd__static_parse(const char *service, const char *origin, const char *text, size_t len,
                      zkd__static_set *out, zkd_error *err);
void zkd__static_set_free(zkd__static_set *s);

/* Reads and parses the file at `path` (at most 64 MiB). */
int zkd__static_read(const char *service, const char *path, zkd__static_set *out, zkd_error *err);

typedef struct zkd__file_watch zkd__file_watch;

/* Starts a thread that waits for changes to `path` and, for each version
 * that parses, calls zkd__cache_take_set(k, set). NULL with err set when
 * inotify cannot watch the file's directory. */
zkd__file_watch *zkd__file_watch_start(zkd_client *c, zkd_cache *k, const char *path,
                                       zkd_error *err);
/* Stops and joins the thread, frees w. NULL is ignored. */
void zkd__file_watch_stop(zkd__file_watch *w);

/* cache.c: any thread; takes `set` (moved out: *set is emptied) and applies
 * it on the dispatch thread as one step. */
void zkd__cache_take_set(zkd_cache *k, zkd__static_set *set);

#endif
