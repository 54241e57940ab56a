/* SPDX-License-Identifier: Apache-2.0 */
/* A chained hash table of entries keyed by path, for the request layer's
 * armed watches (request_watch_table.c) and a tree watch's nodes
 * (tree/watch.c). Intrusive: an entry embeds a zkd__plink, first, and the
 * table owns neither the entries nor their paths. */
#ifndef ZKD_PATH_TABLE_H
#define ZKD_PATH_TABLE_H

#include <stddef.h>

typedef struct zkd__plink {
    struct zkd__plink *hnext;
    const char *path; /* the key, owned by the entry */
} zkd__plink;

typedef struct zkd__ptable {
    zkd__plink **buckets; /* nbuckets chains (a power of two); walk them to visit all */
    size_t nbuckets, count;
} zkd__ptable;

/* The entry whose path is `path`, or NULL. */
zkd__plink *zkd__ptable_find(const zkd__ptable *t, const char *path);
/* Adds l (l->path set; no entry with that path in t). The table grows to a
 * chain per entry; when it cannot, chains grow longer instead, and only a
 * table with no chain yet fails: ZKD_ENOMEM. */
int zkd__ptable_add(zkd__ptable *t, zkd__plink *l);
/* Takes l, which is in t, out of it. */
void zkd__ptable_remove(zkd__ptable *t, zkd__plink *l);
/* Frees the chains; the entries are the caller's (free them first). */
void zkd__ptable_clear(zkd__ptable *t);

#endif
