/* SPDX-License-Identifier: Apache-2.0 */
/* Atomic, change-only file writes (see atomic_file.h). */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

long zkd__atomic_file_read(const char *path, size_t max, char **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if ((size_t)st.st_size > max) {
        close(fd);
        errno = EFBIG;
        return -1;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    return (long)got;
}

/* 1 when `path` holds exactly `data`, with `mode`. Read a block at a time
 * and compared as it comes, up to the first difference: reading a 15 MB
 * output whole into a fresh allocation, at each change of a service of
 * 100,000 instances, was about a third of the agent's CPU (the copy, and
 * page faults on the new pages). */
static int same_content(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    int same = fstat(fd, &st) == 0 && (size_t)st.st_size == len && (st.st_mode & 07777) == mode;
    char block[64 << 10];
    for (size_t at = 0; same && at < len;) {
        size_t want = len - at < sizeof block ? len - at : sizeof block;
        ssize_t n = read(fd, block, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || memcmp(block, (const char *)data + at, (size_t)n) != 0)
            same = 0;
        else
            at += (size_t)n;
    }
    close(fd);
    return same;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int zkd__atomic_file_write(const char *path, const void *data, size_t len, mode_t mode,
                           const zkd__file_owner *owner, char *err, size_t errlen)
{
    if (same_content(path, data, len, mode))
        return 0;
    char *copy = strdup(path);
    char tmp[4096];
    if (!copy) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dirname(copy), strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
    free(copy);
    /* mkstemp makes it 0600; owner and mode are set before the first byte
     * goes in, so the data is never readable by more than `mode` allows. */
    int fd = mkstemp(tmp);
    const char *step = "create a temporary file";
    if (fd < 0)
        goto fail;
    step = "set the owner of";
    if (owner && (owner->uid != (uid_t)-1 || owner->gid != (gid_t)-1) &&
        fchown(fd, owner->uid, owner->gid) != 0)
        goto fail_fd;
    step = "set the mode of"; /* after fchown, which may clear set-id bits */
    if (fchmod(fd, mode) != 0)
        goto fail_fd;
    step = "write";
    if (write_all(fd, data, len) != 0)
        goto fail_fd;
    step = "fsync";
    if (fsync(fd) != 0)
        goto fail_fd;
    close(fd);
    step = "rename over";
    if (rename(tmp, path) != 0) {
        fd = -1;
        goto fail_fd;
    }
    if (fsync_dir_of(path) != 0) {
        snprintf(err, errlen, "%s: written, but cannot fsync its directory: %s", path, strerror(errno));
        return -1;
    }
    return 1;
fail_fd: {
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    errno = e;
}
fail:
    snprintf(err, errlen, "cannot %s %s: %s", step, fd < 0 && step[0] == 'c' ? tmp : path, strerror(errno));
    return -1;
}
