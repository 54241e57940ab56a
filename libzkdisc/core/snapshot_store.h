/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: files written atomically, for state a process keeps on disk to
 * serve while ZooKeeper is unreachable: the versions of watched config apps
 * and the instances of cached services.
 *
 * A write goes to a temporary file in the same directory, is fsync'd, then
 * renamed over the target, and the directory is fsync'd: a reader (or a
 * process starting after a crash) sees the old content or the new, never a
 * mix. A name is a plain file name: no '/', not empty, not starting with '.'
 * (temporary files start with '.'). */
#ifndef ZKD_INTERNAL_SNAPSHOT_STORE_H
#define ZKD_INTERNAL_SNAPSHOT_STORE_H

#include <stddef.h>
#include <zkdisc/client.h>
#include <zkdisc/error.h>

/* The file name for `kind` ("config", "service") and `name` on this
 * client: "<kind>.<name>.<8 hex>.json", the hex telling apart trees with
 * another chroot or root. malloc'd; NULL when out of memory. */
char *zkd__store_name(zkd_client *c, const char *kind, const char *name);

/* Writes data[0..len) as dir/name. Creates dir (and its parents, mode
 * 0755) when missing; the file gets mode 0644. ZKD_EINVAL for a bad name,
 * ZKD_EIO with the path and the system's reason otherwise. */
int zkd__store_write(const char *dir, const char *name, const void *data, size_t len,
                     zkd_error *err);

/* Reads dir/name whole into a malloc'd buffer, NUL-terminated one byte past
 * *len_out. ZKD_ENOTFOUND when the file does not exist, ZKD_ETOOBIG when it
 * is larger than max bytes, ZKD_EIO for other failures. */
int zkd__store_read(const char *dir, const char *name, size_t max, char **data_out,
                    size_t *len_out, zkd_error *err);

/* Removes dir/name; a file that is not there is success. */
int zkd__store_remove(const char *dir, const char *name, zkd_error *err);

#endif
