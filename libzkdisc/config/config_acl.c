/* SPDX-License-Identifier: Apache-2.0 */
/* Locking an app with digest ACLs (see "access control" in config.h).
 * Passwords are only hashed here: they are never logged, never put in a
 * message, and the buffers that held them are wiped. */
#include <stdlib.h>
#include <string.h>
#include <zkdisc/acl.h>
#include <zkdisc/names.h>
#include <zookeeper/zookeeper.h>

#include "config_impl.h"
#include "config_txn.h"
#include "errors.h"
#include "paths.h"
#include "sha.h"

static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

int zkd_config_digest_id(const char *user_password, char *buf, size_t len, zkd_error *err)
{
    const char *colon = user_password ? strchr(user_password, ':') : NULL;
    if (!colon || colon == user_password)
        return zkd__fail(err, ZKD_EINVAL, "an identity is \"user:password\" with a user name");
    unsigned char h[ZKD_SHA1_LEN];
    zkd__sha1(user_password, strlen(user_password), h);
    char b64[4 * ((ZKD_SHA1_LEN + 2) / 3) + 1];
    zkd__base64(h, sizeof h, b64);
    wipe(h, sizeof h);
    size_t user_len = (size_t)(colon - user_password);
    if (user_len + 1 + strlen(b64) + 1 > len)
        return zkd__fail(err, ZKD_ETOOBIG, "no room for the digest id");
    memcpy(buf, user_password, user_len);
    buf[user_len] = ':';
    strcpy(buf + user_len + 1, b64);
    return 0;
}

/* The id ZooKeeper matches, "user:BASE64", from one --allow entry. */
static int allow_id(const char *entry, size_t index, char **out, zkd_error *err)
{
    zkd_error e;
    int rc = zkd_digest_identity(entry, out, &e);
    return rc ? zkd__fail(err, rc, "allowed identity %zu: %s", index + 1, e.message) : 0;
}

static int set_both(zkd_client *c, const char *app, const struct ACL_vector *acl,
                    const char *verb, zkd_error *err)
{
    char *app_path = zkd__config_path(c, app);
    char *versions_path = zkd__config_versions_path(c, app);
    int rc = app_path && versions_path ? 0 : zkd__fail(err, ZKD_ENOMEM, "out of memory");
    /* The versions node first: an app node that says "locked" is then
     * never in front of versions that are not. */
    if (!rc)
        rc = zkd__set_acl(c, versions_path, acl, err);
    if (!rc)
        rc = zkd__set_acl(c, app_path, acl, err);
    if (rc == ZKD_ENOTFOUND)
        zkd__fail(err, rc, "app %s has no configuration; publish it before you %s it", app, verb);
    else if (rc == ZKD_ENOAUTH)
        zkd__fail(err, rc,
                  "app %s is locked: this client's credentials may not %s it (give an allowed "
                  "identity with --auth / zkd_options.auth)",
                  app, verb);
    else if (!rc)
        zkd_error_clear(err);
    free(app_path);
    free(versions_path);
    return rc;
}

int zkd_config_lock(zkd_client *c, const char *app, const char *const *allow, size_t n_allow,
                    zkd_error *err)
{
    if (!c)
        return zkd__fail(err, ZKD_EINVAL, "no client given");
    int rc = zkd_validate_name("app", app, err);
    if (rc)
        return rc;
    if (!allow || n_allow == 0)
        return zkd__fail(err, ZKD_EINVAL, "locking needs at least one allowed identity");
    if (n_allow > 64)
        return zkd__fail(err, ZKD_EINVAL, "at most 64 allowed identities");
    struct ACL acls[65];
    char *ids[64] = {0};
    acls[0] = (struct ACL){.perms = ZOO_PERM_READ, .id = {.scheme = "world", .id = "anyone"}};
    for (size_t i = 0; i < n_allow && !rc; i++) {
        rc = allow_id(allow[i], i, &ids[i], err);
        if (!rc)
            acls[i + 1] = (struct ACL){.perms = ZOO_PERM_ALL, .id = {.scheme = "digest", .id = ids[i]}};
    }
    if (!rc) {
        struct ACL_vector vec = {.count = (int32_t)(n_allow + 1), .data = acls};
        rc = set_both(c, app, &vec, "lock", err);
    }
    for (size_t i = 0; i < n_allow; i++)
        free(ids[i]);
    return rc;
}

int zkd_config_unlock(zkd_client *c, const char *app, zkd_error *err)
{
    if (!c)
        return zkd__fail(err, ZKD_EINVAL, "no client given");
    int rc = zkd_validate_name("app", app, err);
    if (rc)
        return rc;
    return set_both(c, app, &ZOO_OPEN_ACL_UNSAFE, "unlock", err);
}
