/* SPDX-License-Identifier: Apache-2.0 */
/* Access control: reading and setting any node's ACL, digest identities,
 * and locking a service so that only named identities may register into it.
 *
 * ZooKeeper's C client as Debian ships it has neither TLS nor SASL, so the
 * identities here are ZooKeeper's "digest" scheme: a session proves
 * "user:password" (zkd_options.auth or auth_file) and an ACL names
 * "user:base64(sha1(user:password))". Passwords are only hashed: never
 * logged, never put in a message. */
#ifndef ZKDISC_ACL_H
#define ZKDISC_ACL_H

#include <stddef.h>
#include <zkdisc/export.h>
#include <zkdisc/error.h>
#include <zkdisc/client.h>
#include <zkdisc/node.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reads the ACL of `path`: *out receives *n_out entries whose strings are
 * the library's (release with zkd_acl_free). `stat_out` (optional) gets the
 * node's Stat (aversion counts ACL changes). */
ZKD_EXPORT int zkd_node_get_acl(zkd_client *c, const char *path, zkd_acl_entry **out,
                                size_t *n_out, zkd_stat *stat_out, zkd_error *err);

/* Replaces the ACL of `path` with acl[0..n) (n >= 1; any ACL version).
 * ZKD_ENOAUTH when this session lacks ADMIN on the node. */
ZKD_EXPORT int zkd_node_set_acl(zkd_client *c, const char *path, const zkd_acl_entry *acl,
                                size_t n, zkd_error *err);

/* Frees what zkd_node_get_acl returned. NULL is ignored. */
ZKD_EXPORT void zkd_acl_free(zkd_acl_entry *acl, size_t n);

/* The digest id ZooKeeper matches, "user:BASE64HASH", for "user:password"
 * (hashed here) or an already computed "digest:user:BASE64HASH"; malloc'd
 * into *out (release with zkd_free). The message never echoes the entry. */
ZKD_EXPORT int zkd_digest_identity(const char *entry, char **out, zkd_error *err);

/* Locks a service: its node becomes persistent (ZooKeeper removes a
 * container, ACL and all, once its last child goes) with the ACL
 *   world:anyone  READ
 *   each allowed  CREATE and DELETE  (register and deregister; ZooKeeper
 *                                     checks a delete against the parent)
 *   each admin    ALL                 (lock, unlock, drain, remove)
 * and the data {"admins": ["user:BASE64HASH", ...]}: ZooKeeper shows the
 * hashes of an ACL only to its admins, so registrants read them there (see
 * registry.h); anyone who may read the service sees them, so admins'
 * passwords should be long and random. Identities are as
 * zkd_digest_identity takes them; at least one in all, at most 64 of each.
 * A service with instances is locked in place only when locked already:
 * otherwise its node may be a container (ZooKeeper does not say), and
 * ZKD_ECONFLICT leaves everything as it was. Re-locking needs an admin's
 * credentials (ZKD_ENOAUTH). Instances registered before the lock keep
 * their ACL; *open_out (optional) receives how many anyone may change. */
ZKD_EXPORT int zkd_service_lock(zkd_client *c, const char *service, const char *const *allow,
                                size_t n_allow, const char *const *admins, size_t n_admins,
                                size_t *open_out, zkd_error *err);

/* Opens the service node to everyone again (instances keep their ACL, and
 * later ones still name the admins: the data stays).
 * Needs an admin's credentials on a locked service (ZKD_ENOAUTH). */
ZKD_EXPORT int zkd_service_unlock(zkd_client *c, const char *service, zkd_error *err);

#ifdef __cplusplus
}
#endif
#endif
