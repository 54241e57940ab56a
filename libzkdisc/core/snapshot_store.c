/* SPDX-License-Identifier: Apache-2.0 */
/* Atomic small files on local disk (see snapshot_store.h). */
#include "snapshot_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "errors.h"
#include "sha.h"

char *zkd__store_name(zkd_client *c, const char *kind, const char *name)
{
    const char *connect = zkd_client_connect_string(c);
    const char *chroot = strchr(connect, '/');
    const char *root = zkd_client_root(c);
    size_t n = strlen(root) + (chroot ? strlen(chroot) : 0) + 2;
    char *key = malloc(n);
    if (!key)
        return NULL;
    snprintf(key, n, "%s\n%s", chroot ? chroot : "", root);
    unsigned char h[ZKD_SHA256_LEN];
    zkd__sha256(key, strlen(key), h);
    free(key);
    char hex[2 * ZKD_SHA256_LEN + 1];
    zkd__hex(h, sizeof h, hex);
    size_t m = strlen(kind) + strlen(name) + 16;
    char *out = malloc(m);
    if (out)
        snprintf(out, m, "%s.%s.%.8s.json", kind, name, hex);
    return out;
}

static int check_name(const char *dir, const char *name, zkd_error *err)
{
    if (!dir || !*dir)
        return zkd__fail(err, ZKD_EINVAL, "no snapshot directory given");
    if (!name || !*name || name[0] == '.' || strchr(name, '/'))
        return zkd__fail(err, ZKD_EINVAL, "\"%s\" is not a plain file name", name ? name : "");
    return 0;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* mkdir -p; what it makes is the owner's only (snapshots may hold secrets
 * from configuration documents). */
static int make_dirs(const char *dir, zkd_error *err)
{
    if (!*dir)
        return zkd__fail(err, ZKD_EINVAL, "the snapshot directory is empty");
    char *p = strdup(dir);
    if (!p)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            rc = zkd__fail(err, ZKD_EIO, "cannot create directory %s: %s", p, strerror(errno));
            break;
        }
        *s = saved;
        if (!saved)
            break;
    }
    free(p);
    return rc;
}

int zkd__store_write(const char *dir, const char *name, const void *data, size_t len,
                     zkd_error *err)
{
    int rc = check_name(dir, name, err);
    if (rc)
        return rc;
    struct stat st;
    if (stat(dir, &st) != 0 && (rc = make_dirs(dir, err)) != 0)
        return rc;
    char *target = join(dir, name);
    if (!target)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    char why[ZKD_ERROR_MESSAGE_MAX];
    if (zkd__atomic_file_write(target, data, len, 0600, NULL, why, sizeof why) < 0)
        rc = zkd__fail(err, ZKD_EIO, "%s", why);
    free(target);
    return rc;
}

int zkd__store_read(const char *dir, const char *name, size_t max, char **data_out,
                    size_t *len_out, zkd_error *err)
{
    int rc = check_name(dir, name, err);
    if (rc)
        return rc;
    char *path = join(dir, name);
    if (!path)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    long n = zkd__atomic_file_read(path, max, data_out);
    if (n >= 0)
        *len_out = (size_t)n;
    else if (errno == ENOENT)
        rc = zkd__fail(err, ZKD_ENOTFOUND, "%s does not exist", path);
    else if (errno == EFBIG)
        rc = zkd__fail(err, ZKD_ETOOBIG, "%s is more than the %zu bytes allowed", path, max);
    else
        rc = zkd__fail(err, ZKD_EIO, "cannot read %s: %s", path, strerror(errno));
    free(path);
    return rc;
}

int zkd__store_remove(const char *dir, const char *name, zkd_error *err)
{
    int rc = check_name(dir, name, err);
    if (rc)
        return rc;
    char *path = join(dir, name);
    if (!path)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    if (unlink(path) != 0 && errno != ENOENT)
        rc = zkd__fail(err, ZKD_EIO, "cannot remove %s: %s", path, strerror(errno));
    free(path);
    return rc;
}
