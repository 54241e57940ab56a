/* Files that consumers read while we write them: replaced atomically and
 * only when their content changes. */
#ifndef ZKDISC_AGENT_ATOMIC_FILE_H
#define ZKDISC_AGENT_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Ownership to give a written file; -1 leaves that id as the process's. */
typedef struct atomic_file_owner {
    uid_t uid;
    gid_t gid;
} atomic_file_owner;

/* Writes data[0..len) to `path` unless it already holds exactly that:
 * a temporary file in the same directory, fsync, chmod `mode` and chown,
 * rename over `path`, fsync of the directory. A reader sees the old file
 * or the new one, never a mix. Returns 1 when written, 0 when the content
 * was already there (nothing touched), -1 with a message in err (path and
 * the system's reason) on failure; the old file is then left as it was. */
int atomic_file_write(const char *path, const void *data, size_t len, mode_t mode,
                      const atomic_file_owner *owner, char *err, size_t errlen);

/* Reads `path` whole (at most `max` bytes) into a malloc'd NUL-terminated
 * buffer. Returns the length, or -1 with errno set (ENOENT when missing,
 * EFBIG when over `max`). */
long atomic_file_read(const char *path, size_t max, char **out);

#endif
