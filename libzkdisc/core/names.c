/* Validation of names and paths, done before anything is sent. */
#include <zkdisc/names.h>

#include <string.h>
#include "errors.h"

static int name_char_ok(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
}

int zkd_validate_name(const char *kind, const char *name, zkd_error *err)
{
    if (!kind)
        kind = "name";
    if (!name || !*name)
        return zkd__fail(err, ZKD_EINVAL, "%s is empty", kind);
    size_t len = strlen(name);
    if (len > ZKD_NAME_MAX)
        return zkd__fail(err, ZKD_EINVAL, "%s is %zu characters long; at most %d are allowed",
                         kind, len, ZKD_NAME_MAX);
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        return zkd__fail(err, ZKD_EINVAL, "%s \"%s\" is not allowed", kind, name);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (!name_char_ok(ch)) {
            if (ch < 0x20 || ch >= 0x7f)
                return zkd__fail(err, ZKD_EINVAL,
                                 "%s contains byte 0x%02x at position %zu; only A-Z a-z 0-9 . _ - are allowed",
                                 kind, ch, i + 1);
            return zkd__fail(err, ZKD_EINVAL,
                             "%s \"%s\" contains '%c'; only A-Z a-z 0-9 . _ - are allowed", kind, name, ch);
        }
    }
    return 0;
}

int zkd_validate_path(const char *path, zkd_error *err)
{
    if (!path || path[0] != '/')
        return zkd__fail(err, ZKD_EINVAL, "path \"%s\" must start with '/'", path ? path : "");
    if (!strcmp(path, "/"))
        return 0;
    size_t len = strlen(path);
    if (path[len - 1] == '/')
        return zkd__fail(err, ZKD_EINVAL, "path \"%s\" must not end with '/'", path);
    for (const char *seg = path + 1; seg && *seg;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0)
            return zkd__fail(err, ZKD_EINVAL, "path \"%s\" has an empty component", path);
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return zkd__fail(err, ZKD_EINVAL, "path \"%s\" has a \".\" or \"..\" component", path);
        seg = end ? end + 1 : NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)path[i];
        if (ch < 0x20 || ch == 0x7f)
            return zkd__fail(err, ZKD_EINVAL, "path contains control character 0x%02x", ch);
    }
    return 0;
}
