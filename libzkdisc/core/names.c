/* SPDX-License-Identifier: Apache-2.0 */
/* Validation of names and paths, done before anything is sent. */
#include <zkdisc/names.h>

#include <string.h>
#include "errors.h"
#include "utf8.h"

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

/* What ZooKeeper's server refuses in a path (PathUtils.validatePath, on
 * Java's UTF-16 chars): C1 controls, U+D800..U+F8FF, U+FFF0..U+FFFF and
 * so every character above U+FFFF (a surrogate pair: emoji, say). Checked
 * here, for the whole path, so that `create -p` never leaves the valid
 * parents of a name the server then refuses. */
static int path_chars_ok(const char *path, zkd_error *err)
{
    const unsigned char *p = (const unsigned char *)path;
    size_t comp = 0, start = 0;
    for (size_t i = 0, n = 1; p[i]; i += n) {
        n = 1;
        if (p[i] == '/') {
            comp++;
            start = i + 1;
            continue;
        }
        long cp = zkd__utf8_at(p + i, &n);
        const char *why = cp < 0 ? "is not valid UTF-8"
                        : (cp >= 0x80 && cp <= 0x9f) ? "is a control character"
                        : (cp >= 0xd800 && cp <= 0xf8ff) ? "is in U+D800..U+F8FF"
                        : (cp >= 0xfff0 && cp <= 0xffff) ? "is in U+FFF0..U+FFFF"
                        : cp > 0xffff ? "is above U+FFFF (emoji, say)"
                        : NULL;
        if (!why)
            continue;
        const char *end = strchr(path + start, '/');
        int clen = end ? (int)(end - (path + start)) : (int)strlen(path + start);
        if (cp < 0)
            return zkd__fail(err, ZKD_EINVAL,
                             "path component %zu (byte 0x%02x at position %zu) %s; ZooKeeper "
                             "accepts only UTF-8 names", comp, p[i], i + 1, why);
        return zkd__fail(err, ZKD_EINVAL,
                         "path component %zu \"%.*s\": U+%04lX %s, which ZooKeeper refuses in "
                         "a name", comp, clen, path + start, (unsigned long)cp, why);
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
    return path_chars_ok(path, err);
}
