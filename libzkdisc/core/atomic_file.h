/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: files that readers may open while we write them, replaced
 * atomically and only when their content changes. The one implementation
 * for the library's snapshot store and for the agent's outputs and state
 * (the agent compiles this file in: the library's own copy is hidden). */
#ifndef ZKD_INTERNAL_ATOMIC_FILE_H
#define ZKD_INTERNAL_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Ownership to give a written file; -1 leaves that id as the process's. */
typedef struct zkd__file_owner {
    uid_t uid;
    gid_t gid;
} zkd__file_owner;

/* Writes data[0..len) to `path` unless it already holds exactly that with
 * that mode: a temporary file in the same directory (mode and owner set
 * before the first byte), fsync, rename over `path`, fsync of the
 * directory. A reader sees the old file or the new one, never a mix.
 * Returns 1 when written, 0 when the content was already there (nothing
 * touched), -1 with a message in err (path and the system's reason) on
 * failure; the old file is then left as it was. `owner` may be NULL. */
int zkd__atomic_file_write(const char *path, const void *data, size_t len, mode_t mode,
                           const zkd__file_owner *owner, char *err, size_t errlen);

/* Reads `path` whole (at most `max` bytes) into a malloc'd NUL-terminated
 * buffer. Returns the length, or -1 with errno set (ENOENT when missing,
 * EFBIG when over `max`). */
long zkd__atomic_file_read(const char *path, size_t max, char **out);

#endif
