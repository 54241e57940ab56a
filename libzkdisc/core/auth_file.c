/* SPDX-License-Identifier: Apache-2.0 */
/* Credentials from a file (see zkd_auth_file_read in client.h): a file the
 * owner alone may read, so that a password never sits on a command line
 * (/proc/PID/cmdline) or in a configuration file others can read. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zkdisc/client.h>

#include "errors.h"
#include "options.h"

void zkd__auth_wipe(char *auth)
{
    if (!auth)
        return;
    volatile char *v = auth;
    while (*v)
        *v++ = 0;
    free(auth);
}

int zkd_auth_file_read(const char *path, char **out, zkd_error *err)
{
    if (!path || !*path || !out)
        return zkd__fail(err, ZKD_EINVAL, "no credentials file given");
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return zkd__fail(err, ZKD_EIO, "cannot read the credentials file %s: %s", path,
                         strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return zkd__fail(err, ZKD_EINVAL, "the credentials file %s is not a regular file", path);
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        close(fd);
        return zkd__fail(err, ZKD_EINVAL,
                         "refusing the credentials file %s: group or others may access it "
                         "(mode %04o); chmod 600 %s",
                         path, (unsigned)(st.st_mode & 07777), path);
    }
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return zkd__fail(err, ZKD_EIO, "cannot read the credentials file %s: %s", path, strerror(e));
    buf[n] = '\0';
    size_t len = strcspn(buf, "\r\n");
    buf[len] = '\0';
    const char *colon = strchr(buf, ':');
    int rc = 0;
    if (!colon || colon == buf)
        rc = zkd__fail(err, ZKD_EINVAL,
                       "the credentials file %s does not start with a line USER:PASSWORD", path);
    else if (!(*out = strdup(buf)))
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    volatile char *v = buf;
    for (size_t i = 0; i < sizeof buf; i++)
        v[i] = 0;
    return rc;
}
