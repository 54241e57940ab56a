/* SPDX-License-Identifier: Apache-2.0 */
/* Reading and setting ACLs, and digest identities (see acl.h). */
#include <zkdisc/acl.h>

#include <stdlib.h>
#include <string.h>
#include <zookeeper/zookeeper.h>

#include "errors.h"
#include "request.h"
#include "sha.h"

int zkd_node_get_acl(zkd_client *c, const char *path, zkd_acl_entry **out, size_t *n_out,
                     zkd_stat *stat_out, zkd_error *err)
{
    if (!c || !path || !out || !n_out)
        return zkd__fail(err, ZKD_EINVAL, "no client, path or place for the ACL");
    zkd_result res = {0};
    int rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_GET_ACL, .path = path}, &res, err);
    if (rc)
        return rc;
    if (stat_out)
        *stat_out = res.stat;
    *out = res.acl;
    *n_out = res.acl_count;
    res.acl = NULL;
    res.acl_count = 0;
    zkd__result_clear(&res);
    return 0;
}

int zkd_node_set_acl(zkd_client *c, const char *path, const zkd_acl_entry *acl, size_t n,
                     zkd_error *err)
{
    if (!c || !path || !acl || n == 0 || n > 1024)
        return zkd__fail(err, ZKD_EINVAL, "an ACL needs 1 to 1024 entries");
    struct ACL *items = calloc(n, sizeof *items);
    if (!items)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!acl[i].scheme || !acl[i].id || (acl[i].perms & ~ZKD_PERM_ALL) || !acl[i].perms) {
            free(items);
            return zkd__fail(err, ZKD_EINVAL, "ACL entry %zu needs a scheme, an id and permissions",
                             i + 1);
        }
        items[i] = (struct ACL){acl[i].perms, {(char *)acl[i].scheme, (char *)acl[i].id}};
    }
    struct ACL_vector vec = {.count = (int32_t)n, .data = items};
    int rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_SET_ACL, .path = path, .acl = &vec}, NULL, err);
    free(items);
    return rc;
}

void zkd_acl_free(zkd_acl_entry *acl, size_t n)
{
    zkd__acl_free(acl, n);
}

static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

int zkd_digest_identity(const char *entry, char **out, zkd_error *err)
{
    if (!entry || !*entry || !out)
        return zkd__fail(err, ZKD_EINVAL, "an identity is empty");
    if (!strncmp(entry, "digest:", 7)) {
        const char *id = entry + 7, *colon = strchr(id, ':');
        if (!colon || colon == id || strlen(colon + 1) != 28) /* base64 of a SHA-1 */
            return zkd__fail(err, ZKD_EINVAL, "a precomputed identity is digest:USER:BASE64HASH "
                                              "(28 characters of hash)");
        return (*out = strdup(id)) ? 0 : zkd__fail(err, ZKD_ENOMEM, "out of memory");
    }
    const char *colon = strchr(entry, ':');
    if (!colon || colon == entry) /* not echoed: it may hold a password */
        return zkd__fail(err, ZKD_EINVAL, "an identity is user:password or digest:user:hash");
    unsigned char h[ZKD_SHA1_LEN];
    zkd__sha1(entry, strlen(entry), h);
    char b64[4 * ((ZKD_SHA1_LEN + 2) / 3) + 1];
    zkd__base64(h, sizeof h, b64);
    wipe(h, sizeof h);
    size_t user = (size_t)(colon - entry);
    char *id = malloc(user + 1 + strlen(b64) + 1);
    if (!id)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    memcpy(id, entry, user);
    id[user] = ':';
    strcpy(id + user + 1, b64);
    *out = id;
    return 0;
}
