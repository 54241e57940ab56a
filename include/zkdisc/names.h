/* SPDX-License-Identifier: Apache-2.0 */
/* Names of services, apps and instance ids: 1 to 128 characters of
 * [A-Za-z0-9._-], not "." or "..". Checked before any request is sent. */
#ifndef ZKDISC_NAMES_H
#define ZKDISC_NAMES_H

#include <zkdisc/export.h>
#include <zkdisc/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZKD_NAME_MAX 128

/* Returns 0 when `name` is valid, else ZKD_EINVAL with a message that uses
 * `kind` ("service", "app", "instance id") to say what was wrong. */
ZKD_EXPORT int zkd_validate_name(const char *kind, const char *name, zkd_error *err);

/* Returns 0 when `path` is an absolute znode path ZooKeeper accepts: starts
 * with '/', no empty, "." or ".." component, no trailing '/' (except "/"),
 * no control characters. Else ZKD_EINVAL with a message. */
ZKD_EXPORT int zkd_validate_path(const char *path, zkd_error *err);

#ifdef __cplusplus
}
#endif
#endif
