/* SPDX-License-Identifier: Apache-2.0 */
/* Epoch-based reclamation (see epoch.h).
 *
 * Why it is safe: retire takes its tag r from a fetch-and-add on `now` that
 * comes after the unlink (all operations here are sequentially consistent).
 * A reader whose slot shows an epoch above r read `now` after that add, so
 * after the unlink, and cannot have found the object. A reader whose slot
 * was claimed after the scan also loads the shared pointer after the unlink.
 * So an object tagged r is freed once every slot is free or above r. */
#include "epoch.h"

#include <sched.h>
#include <stddef.h>

void zkd__epoch_init(zkd__epoch *e)
{
    atomic_init(&e->now, 1);
    atomic_init(&e->retired, NULL);
    for (unsigned i = 0; i < ZKD_EPOCH_SLOTS; i++)
        atomic_init(&e->slot[i].at, 0);
}

/* Each thread starts at its own slot, so threads rarely meet on one.
 * initial-exec: in the shared library the default model would make every
 * read a call to __tls_get_addr. */
static unsigned home_slot(void)
{
    static _Atomic unsigned next_thread;
    static _Thread_local __attribute__((tls_model("initial-exec"))) unsigned home; /* 0: unset */
    if (!home)
        home = atomic_fetch_add(&next_thread, 1) % ZKD_EPOCH_SLOTS + 1;
    return home - 1;
}

unsigned zkd__epoch_enter(zkd__epoch *e)
{
    unsigned i = home_slot();
    for (unsigned tries = 1;; tries++) {
        uint64_t free_mark = 0;
        if (atomic_compare_exchange_strong(&e->slot[i].at, &free_mark, atomic_load(&e->now)))
            return i;
        i = (i + 1) % ZKD_EPOCH_SLOTS;
        if (tries % ZKD_EPOCH_SLOTS == 0)
            sched_yield(); /* every slot is busy: let a reader finish */
    }
}

void zkd__epoch_leave(zkd__epoch *e, unsigned slot)
{
    atomic_store_explicit(&e->slot[slot].at, 0, memory_order_release);
}

/* The oldest epoch a reader may still be in, or UINT64_MAX. */
static uint64_t oldest_reader(zkd__epoch *e)
{
    uint64_t oldest = UINT64_MAX;
    for (unsigned i = 0; i < ZKD_EPOCH_SLOTS; i++) {
        uint64_t at = atomic_load(&e->slot[i].at);
        if (at && at < oldest)
            oldest = at;
    }
    return oldest;
}

/* Takes the whole list, frees what no reader can hold, puts the rest back. */
void zkd__epoch_collect(zkd__epoch *e)
{
    zkd__retired *list = atomic_exchange(&e->retired, NULL);
    if (!list)
        return;
    uint64_t oldest = oldest_reader(e);
    while (list) {
        zkd__retired *r = list;
        list = r->next;
        if (r->tag < oldest) {
            r->free_fn(r);
        } else {
            r->next = atomic_load(&e->retired);
            while (!atomic_compare_exchange_weak(&e->retired, &r->next, r))
                ;
        }
    }
}

void zkd__epoch_retire(zkd__epoch *e, zkd__retired *r, void (*free_fn)(zkd__retired *))
{
    r->tag = atomic_fetch_add(&e->now, 1);
    r->free_fn = free_fn;
    r->next = atomic_load(&e->retired);
    while (!atomic_compare_exchange_weak(&e->retired, &r->next, r))
        ;
    zkd__epoch_collect(e);
}

void zkd__epoch_destroy(zkd__epoch *e)
{
    zkd__retired *list = atomic_exchange(&e->retired, NULL);
    while (list) {
        zkd__retired *r = list;
        list = r->next;
        r->free_fn(r);
    }
}
