/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: epoch-based reclamation, so readers follow pointers that writers
 * swap without taking any lock.
 *
 * A reader brackets its reads with zkd__epoch_enter/leave: entering claims
 * one of a fixed set of slots (each on its own cache line, so two threads do
 * not share a written line) and records the current epoch in it. A writer
 * first unlinks an object (an atomic pointer swap), then hands it to
 * zkd__epoch_retire, which frees it once no slot still shows an epoch from
 * before the unlink. Enter and leave are one compare-and-swap and one store;
 * retire is lock-free too. */
#ifndef ZKD_INTERNAL_EPOCH_H
#define ZKD_INTERNAL_EPOCH_H

#include <stdatomic.h>
#include <stdint.h>

#define ZKD_EPOCH_SLOTS 32

/* Embedded in each object that can be retired, so retiring never allocates. */
typedef struct zkd__retired {
    struct zkd__retired *next;
    uint64_t tag;
    void (*free_fn)(struct zkd__retired *self);
} zkd__retired;

typedef struct zkd__epoch {
    _Alignas(64) _Atomic uint64_t now; /* starts at 1; 0 in a slot means free */
    _Atomic(zkd__retired *) retired;   /* unlinked, not yet freed */
    struct {
        _Alignas(64) _Atomic uint64_t at;
    } slot[ZKD_EPOCH_SLOTS];
} zkd__epoch;

void zkd__epoch_init(zkd__epoch *e);

/* Frees everything still retired. No reader may be inside. */
void zkd__epoch_destroy(zkd__epoch *e);

/* Returns the slot to give to zkd__epoch_leave. Never blocks unless more
 * than ZKD_EPOCH_SLOTS threads are inside at once (then it yields). */
unsigned zkd__epoch_enter(zkd__epoch *e);
void zkd__epoch_leave(zkd__epoch *e, unsigned slot);

/* The object holding `node`, already unreachable from the shared pointers,
 * is freed with free_fn(node) once every reader that might still hold it has
 * left (the caller's own read section included, so it is never freed here
 * under a reader that retires it). From any thread. Never fails. */
void zkd__epoch_retire(zkd__epoch *e, zkd__retired *node, void (*free_fn)(zkd__retired *));

/* Frees what was retired and no reader can hold any more. Cheap when
 * nothing is retired (one atomic exchange). */
void zkd__epoch_collect(zkd__epoch *e);

#endif
