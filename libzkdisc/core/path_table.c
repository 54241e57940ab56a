/* SPDX-License-Identifier: Apache-2.0 */
/* The tables keyed by path (path_table.h): FNV-1a over the path, chains in
 * a power of two of buckets, doubled when entries outnumber them. */
#include "path_table.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"

static size_t hash(const char *path)
{
    size_t h = 1469598103934665603ULL;
    for (; *path; path++)
        h = (h ^ (unsigned char)*path) * 1099511628211ULL;
    return h;
}

static zkd__plink **chain(const zkd__ptable *t, const char *path)
{
    return &t->buckets[hash(path) & (t->nbuckets - 1)];
}

zkd__plink *zkd__ptable_find(const zkd__ptable *t, const char *path)
{
    if (!t->nbuckets)
        return NULL;
    zkd__plink *l = *chain(t, path);
    while (l && strcmp(l->path, path))
        l = l->hnext;
    return l;
}

static void grow(zkd__ptable *t)
{
    size_t n = t->nbuckets ? t->nbuckets * 2 : 64;
    zkd__plink **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (zkd__plink *l = t->buckets[i], *next; l; l = next) {
            next = l->hnext;
            size_t j = hash(l->path) & (n - 1);
            l->hnext = b[j];
            b[j] = l;
        }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

int zkd__ptable_add(zkd__ptable *t, zkd__plink *l)
{
    if (t->count >= t->nbuckets)
        grow(t);
    if (!t->nbuckets)
        return ZKD_ENOMEM;
    zkd__plink **c = chain(t, l->path);
    l->hnext = *c;
    *c = l;
    t->count++;
    return 0;
}

void zkd__ptable_remove(zkd__ptable *t, zkd__plink *l)
{
    zkd__plink **pp = chain(t, l->path);
    while (*pp != l)
        pp = &(*pp)->hnext;
    *pp = l->hnext;
    t->count--;
}

void zkd__ptable_clear(zkd__ptable *t)
{
    free(t->buckets);
    *t = (zkd__ptable){0};
}
