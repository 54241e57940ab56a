/* SPDX-License-Identifier: Apache-2.0 */
/* A persistent B+tree of instances (see ptree.h).
 *
 * Every node is built once with exactly the slots it holds and never
 * changed, so a node can be shared by any number of trees; reference counts
 * say when the last one lets it go. A change builds new nodes for its path
 * only: at most FAN + 1 slots per level, and three levels hold 260,000
 * instances. Deletes do not merge small nodes: a tree only gets as deep as
 * its largest size made it. */
#include "ptree.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zkdisc/error.h>

#include "instance_impl.h"

#define FAN 64

struct zkd__pnode {
    _Atomic int refs;
    unsigned short n;
    unsigned char leaf;
    size_t count;           /* items under this node */
    const zkd_instance *lo; /* its first item, borrowed from the leaf holding it */
    void *slot[];           /* leaf: const zkd_instance *; else zkd__pnode * */
};

static _Atomic size_t built;

int zkd__ptree_cmp(const zkd_instance *a, const zkd_instance *b)
{
    int c = strcmp(a->id, b->id);
    return c ? c : strcmp(zkd_instance_znode(a), zkd_instance_znode(b));
}

zkd__pnode *zkd__ptree_ref(zkd__pnode *n)
{
    if (n)
        atomic_fetch_add_explicit(&n->refs, 1, memory_order_relaxed);
    return n;
}

void zkd__ptree_unref(zkd__pnode *n)
{
    if (!n || atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->leaf)
            zkd_instance_unref(n->slot[i]);
        else
            zkd__ptree_unref(n->slot[i]);
    }
    free(n);
}

/* A node of slots[0..m) (1 <= m <= FAN), each with a new reference. */
static zkd__pnode *node_make(int leaf, void *const *slots, size_t m)
{
    zkd__pnode *p = malloc(sizeof *p + m * sizeof p->slot[0]);
    if (!p)
        return NULL;
    atomic_init(&p->refs, 1);
    atomic_fetch_add_explicit(&built, 1, memory_order_relaxed);
    p->n = (unsigned short)m;
    p->leaf = (unsigned char)leaf;
    p->count = 0;
    memcpy(p->slot, slots, m * sizeof *slots);
    for (size_t i = 0; i < m; i++) {
        if (leaf) {
            zkd_instance_ref(slots[i]);
            p->count++;
        } else {
            zkd__pnode *kid = zkd__ptree_ref(slots[i]);
            p->count += kid->count;
        }
    }
    p->lo = leaf ? slots[0] : ((zkd__pnode *)slots[0])->lo;
    return p;
}

/* slots[0..m) as one node, or as two halves when they are more than FAN. */
static int make_split(int leaf, void *const *slots, size_t m, zkd__pnode **a, zkd__pnode **b)
{
    size_t h = m <= FAN ? m : m / 2;
    *a = node_make(leaf, slots, h);
    *b = h < m ? node_make(leaf, slots + h, m - h) : NULL;
    if (*a && (h == m || *b))
        return 0;
    zkd__ptree_unref(*a);
    zkd__ptree_unref(*b);
    return ZKD_ENOMEM;
}

/* The first item of a leaf not before `key`; *eq when it has the key. */
static size_t leaf_pos(const zkd__pnode *n, const zkd_instance *key, int *eq)
{
    size_t lo = 0, hi = n->n;
    *eq = 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = zkd__ptree_cmp(n->slot[mid], key);
        if (c == 0) {
            *eq = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The child whose range holds `key`: the last one starting at or before it. */
static size_t kid_pos(const zkd__pnode *n, const zkd_instance *key)
{
    size_t lo = 0, hi = n->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (zkd__ptree_cmp(((const zkd__pnode *)n->slot[mid])->lo, key) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : 0;
}

static int put_rec(const zkd__pnode *n, const zkd_instance *inst, zkd__pnode **a, zkd__pnode **b)
{
    void *slots[FAN + 1];
    size_t m = n->n;
    memcpy(slots, n->slot, m * sizeof *slots);
    if (n->leaf) {
        int eq;
        size_t at = leaf_pos(n, inst, &eq);
        if (!eq) {
            memmove(&slots[at + 1], &slots[at], (m - at) * sizeof *slots);
            m++;
        }
        slots[at] = (void *)inst;
        return make_split(1, slots, m, a, b);
    }
    size_t j = kid_pos(n, inst);
    zkd__pnode *ka, *kb;
    int rc = put_rec(n->slot[j], inst, &ka, &kb);
    if (rc)
        return rc;
    slots[j] = ka;
    if (kb) {
        memmove(&slots[j + 2], &slots[j + 1], (m - j - 1) * sizeof *slots);
        slots[j + 1] = kb;
        m++;
    }
    rc = make_split(0, slots, m, a, b);
    zkd__ptree_unref(ka);
    zkd__ptree_unref(kb);
    return rc;
}

int zkd__ptree_put(zkd__pnode **root, const zkd_instance *inst)
{
    zkd__pnode *a, *b;
    if (!*root) {
        void *one = (void *)inst;
        if (!(a = node_make(1, &one, 1)))
            return ZKD_ENOMEM;
        *root = a;
        return 0;
    }
    int rc = put_rec(*root, inst, &a, &b);
    if (rc)
        return rc;
    if (b) { /* the root split: one level more */
        void *two[2] = {a, b};
        zkd__pnode *r = node_make(0, two, 2);
        zkd__ptree_unref(a);
        zkd__ptree_unref(b);
        if (!r)
            return ZKD_ENOMEM;
        a = r;
    }
    zkd__ptree_unref(*root);
    *root = a;
    return 0;
}

/* *out: n without the key, NULL when that leaves it empty. */
static int del_rec(const zkd__pnode *n, const zkd_instance *key, zkd__pnode **out)
{
    void *slots[FAN];
    size_t m = n->n;
    memcpy(slots, n->slot, m * sizeof *slots);
    zkd__pnode *kid = NULL;
    size_t at;
    if (n->leaf) {
        int eq;
        at = leaf_pos(n, key, &eq);
        if (!eq)
            return ZKD_ENOTFOUND;
    } else {
        at = kid_pos(n, key);
        int rc = del_rec(n->slot[at], key, &kid);
        if (rc)
            return rc;
    }
    if (kid)
        slots[at] = kid;
    else
        memmove(&slots[at], &slots[at + 1], (--m - at) * sizeof *slots);
    *out = m ? node_make(n->leaf, slots, m) : NULL;
    zkd__ptree_unref(kid);
    return m && !*out ? ZKD_ENOMEM : 0;
}

int zkd__ptree_del(zkd__pnode **root, const zkd_instance *key)
{
    if (!*root)
        return ZKD_ENOTFOUND;
    zkd__pnode *next;
    int rc = del_rec(*root, key, &next);
    if (rc)
        return rc;
    while (next && !next->leaf && next->n == 1) { /* one child: it is the root */
        zkd__pnode *kid = zkd__ptree_ref(next->slot[0]);
        zkd__ptree_unref(next);
        next = kid;
    }
    zkd__ptree_unref(*root);
    *root = next;
    return 0;
}

/* nodes[0..ceil(count/FAN)) built from from[0..count), full from the left. */
static int build_level(int leaf, void *const *from, size_t count, void **nodes)
{
    int rc = 0;
    for (size_t i = 0; i * FAN < count; i++) {
        size_t take = count - i * FAN < FAN ? count - i * FAN : FAN;
        nodes[i] = rc ? NULL : node_make(leaf, from + i * FAN, take);
        if (!nodes[i])
            rc = ZKD_ENOMEM;
    }
    return rc;
}

static void unref_all(void **nodes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zkd__ptree_unref(nodes[i]);
}

int zkd__ptree_build(const zkd_instance *const *items, size_t n, zkd__pnode **out)
{
    *out = NULL;
    if (!n)
        return 0;
    size_t count = (n + FAN - 1) / FAN;
    void **cur = calloc(count, sizeof *cur), **next = malloc(count * sizeof *next);
    int rc = cur && next ? build_level(1, (void *const *)items, n, cur) : ZKD_ENOMEM;
    while (!rc && count > 1) { /* one level up: the level below is then theirs */
        size_t up = (count + FAN - 1) / FAN;
        rc = build_level(0, cur, count, next);
        unref_all(cur, count);
        void **t = cur;
        cur = next;
        next = t;
        count = up;
    }
    if (rc && cur)
        unref_all(cur, count);
    else if (!rc)
        *out = cur[0];
    free(cur);
    free(next);
    return rc;
}

size_t zkd__ptree_count(const zkd__pnode *n)
{
    return n ? n->count : 0;
}

const zkd_instance *zkd__ptree_at(const zkd__pnode *n, size_t i)
{
    if (!n || i >= n->count)
        return NULL;
    while (!n->leaf)
        for (size_t k = 0;; k++) {
            const zkd__pnode *kid = n->slot[k];
            if (i < kid->count) {
                n = kid;
                break;
            }
            i -= kid->count;
        }
    return n->slot[i];
}

static const zkd_instance *find_rec(const zkd__pnode *n, const char *id)
{
    size_t lo = 0, hi = n->n;
    while (lo < hi) { /* the first slot not before id */
        size_t mid = (lo + hi) / 2;
        const zkd_instance *first = n->leaf ? n->slot[mid] : ((const zkd__pnode *)n->slot[mid])->lo;
        if (strcmp(first->id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (n->leaf)
        return lo < n->n && !strcmp(((const zkd_instance *)n->slot[lo])->id, id) ? n->slot[lo] : NULL;
    /* The id starts inside the child before `lo`, or `lo` starts with it. */
    const zkd_instance *r = lo ? find_rec(n->slot[lo - 1], id) : NULL;
    if (!r && lo < n->n && !strcmp(((const zkd__pnode *)n->slot[lo])->lo->id, id))
        r = ((const zkd__pnode *)n->slot[lo])->lo;
    return r;
}

const zkd_instance *zkd__ptree_find(const zkd__pnode *n, const char *id)
{
    return n ? find_rec(n, id) : NULL;
}

static const zkd_instance **fill_rec(const zkd__pnode *n, const zkd_instance **out)
{
    if (n->leaf) {
        memcpy(out, n->slot, n->n * sizeof *out);
        return out + n->n;
    }
    for (size_t i = 0; i < n->n; i++)
        out = fill_rec(n->slot[i], out);
    return out;
}

void zkd__ptree_fill(const zkd__pnode *n, const zkd_instance **out)
{
    if (n)
        fill_rec(n, out);
}

size_t zkd__ptree_nodes_built(void)
{
    return atomic_load_explicit(&built, memory_order_relaxed);
}
