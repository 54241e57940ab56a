/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: a persistent (copy-on-write) B+tree of instances, ordered by id
 * and then by znode name.
 *
 * Nodes are never changed once built: an insert or a delete copies only the
 * nodes on the path from the root to the leaf it touches (a few hundred
 * pointers at most) and shares the rest with the tree it came from. So a
 * snapshot can keep a tree while the cache goes on changing its own, and a
 * change costs O(log N), not a copy of every instance. An empty tree is
 * NULL. */
#ifndef ZKD_INTERNAL_PTREE_H
#define ZKD_INTERNAL_PTREE_H

#include <stddef.h>
#include <zkdisc/instance.h>

typedef struct zkd__pnode zkd__pnode;

/* The order of the tree: id, then znode name (zkd_instance_znode). */
int zkd__ptree_cmp(const zkd_instance *a, const zkd_instance *b);

/* A tree of items[0..n), which must be in zkd__ptree_cmp order (each gets a
 * new reference). 0, or ZKD_ENOMEM. */
int zkd__ptree_build(const zkd_instance *const *items, size_t n, zkd__pnode **out);

/* Puts `inst` in *root (a new reference), in place of the item with its
 * key if there is one; removes the item with `inst`'s key. *root becomes
 * the new tree and the old one loses the caller's reference; on an error
 * (ZKD_ENOMEM; ZKD_ENOTFOUND for a delete of what is not there) *root is
 * left as it was. */
int zkd__ptree_put(zkd__pnode **root, const zkd_instance *inst);
int zkd__ptree_del(zkd__pnode **root, const zkd_instance *key);

size_t zkd__ptree_count(const zkd__pnode *root);
/* The i-th item, or NULL. O(log N). */
const zkd_instance *zkd__ptree_at(const zkd__pnode *root, size_t i);
/* The first item with this id, or NULL. */
const zkd_instance *zkd__ptree_find(const zkd__pnode *root, const char *id);
/* Writes every item, in order, to out[0..count) (borrowed). */
void zkd__ptree_fill(const zkd__pnode *root, const zkd_instance **out);
/* How many nodes were built since the process started: tests count the
 * work a change costs with it. */
size_t zkd__ptree_nodes_built(void);

zkd__pnode *zkd__ptree_ref(zkd__pnode *root);
void zkd__ptree_unref(zkd__pnode *root);

#endif
