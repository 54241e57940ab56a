/* SPDX-License-Identifier: Apache-2.0 */
/* See inst_map.h. */
#include "inst_map.h"

#include <stdint.h>
#include <stdlib.h>

static size_t place(const inst_map *m, const zkd_instance *i)
{
    /* Fibonacci hashing: allocations are 16-byte aligned, the low bits alike. */
    return (size_t)(((uint64_t)(uintptr_t)i * 0x9E3779B97F4A7C15ull) >> 20) & m->mask;
}

void inst_map_clear(inst_map *m)
{
    for (size_t p = 0; m->key && p <= m->mask; p++)
        if (m->key[p])
            zkd_instance_unref(m->key[p]);
    free(m->key);
    free(m->val);
    free(m->seen);
    *m = (inst_map){0};
}

/* Room for one more with the map at most half full. */
static int grow(inst_map *m)
{
    size_t cap = m->key ? m->mask + 1 : 0;
    if (2 * (m->count + 1) <= cap)
        return 0;
    size_t ncap = cap ? 2 * cap : 64;
    inst_map n = {calloc(ncap, sizeof *n.key), calloc(ncap, sizeof *n.val),
                  calloc(ncap, sizeof *n.seen), ncap - 1, m->count};
    if (!n.key || !n.val || !n.seen) {
        free(n.key);
        free(n.val);
        free(n.seen);
        return -1;
    }
    for (size_t p = 0; p < cap; p++) {
        if (!m->key[p])
            continue;
        size_t q = place(&n, m->key[p]);
        while (n.key[q])
            q = (q + 1) & n.mask;
        n.key[q] = m->key[p];
        n.val[q] = m->val[p];
        n.seen[q] = m->seen[p];
    }
    free(m->key);
    free(m->val);
    free(m->seen);
    *m = n;
    return 0;
}

long inst_map_find(const inst_map *m, const zkd_instance *i)
{
    if (!m->key)
        return -1;
    for (size_t p = place(m, i);; p = (p + 1) & m->mask) {
        if (m->key[p] == i)
            return (long)p;
        if (!m->key[p])
            return -1;
    }
}

int inst_map_put(inst_map *m, const zkd_instance *i, int val)
{
    long at = inst_map_find(m, i);
    if (at >= 0) {
        m->val[at] = val;
        return 0;
    }
    if (grow(m))
        return -1;
    size_t p = place(m, i);
    while (m->key[p])
        p = (p + 1) & m->mask;
    m->key[p] = zkd_instance_ref(i);
    m->val[p] = val;
    m->seen[p] = 0;
    m->count++;
    return 0;
}

void inst_map_del(inst_map *m, const zkd_instance *i)
{
    long at = inst_map_find(m, i);
    if (at < 0)
        return;
    zkd_instance_unref(m->key[at]);
    m->key[at] = NULL;
    m->count--;
    /* Backward shift: those after the hole that probed past it move in,
     * so that a lookup never stops early at the hole. */
    size_t hole = (size_t)at;
    for (size_t p = (hole + 1) & m->mask; m->key[p]; p = (p + 1) & m->mask) {
        size_t home = place(m, m->key[p]);
        /* Stays when its home lies cyclically in (hole, p]. */
        if (hole < p ? (home > hole && home <= p) : (home > hole || home <= p))
            continue;
        m->key[hole] = m->key[p];
        m->val[hole] = m->val[p];
        m->seen[hole] = m->seen[p];
        m->key[p] = NULL;
        hole = p;
    }
}
