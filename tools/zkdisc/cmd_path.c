/* SPDX-License-Identifier: Apache-2.0 */
/* Path arguments as people type them: a trailing slash (ls /app/) is the
 * node itself, and inside `zkdisc shell` a relative path (or none) is
 * taken from the shell's working node. */
#include <string.h>

#include "cmdutil.h"

/* The previous segment of out[0..o): where ".." goes. */
static size_t parent_end(const char *out, size_t o)
{
    while (o > 1 && out[o - 1] != '/')
        o--;
    return o > 1 ? o - 1 : 1;
}

int cu_resolve(const char *cwd, const char *arg, char *out, size_t len)
{
    char joined[4096];
    int n = arg[0] == '/' || !cwd ? snprintf(joined, sizeof joined, "%s", arg)
                                  : snprintf(joined, sizeof joined, "%s/%s", cwd, arg);
    if (n < 0 || (size_t)n >= sizeof joined || len < 2)
        return -1;
    size_t o = 0;
    out[o++] = '/';
    for (const char *p = joined; *p;) {
        size_t seg = strcspn(p, "/");
        if (seg == 2 && !strncmp(p, "..", 2)) {
            o = parent_end(out, o);
        } else if (seg && !(seg == 1 && *p == '.')) {
            if (o > 1)
                out[o++] = '/';
            if (o + seg + 1 >= len)
                return -1;
            memcpy(out + o, p, seg);
            o += seg;
        }
        p += seg + (p[seg] == '/');
    }
    out[o] = '\0';
    return 0;
}

const char *cu_path(cli *ctx, char *arg)
{
    /* A command resolves at most two paths (and the shell runs one command
     * at a time): a small ring of buffers that live as long as the process. */
    static char ring[4][4096];
    static unsigned next;
    if (!ctx->cwd) {
        size_t n = arg ? strlen(arg) : 0;
        while (n > 1 && arg[n - 1] == '/')
            arg[--n] = '\0';
        return arg ? arg : "/";
    }
    char *out = ring[next++ % 4];
    /* A path that does not fit is handed on as typed, for validation to refuse. */
    return cu_resolve(ctx->cwd, arg ? arg : ".", out, sizeof ring[0]) ? arg : out;
}
