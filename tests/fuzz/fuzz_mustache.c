/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the Mustache engine (tools/common/mustache.c, compiled
 * in). The input is a template, then after a NUL byte optional JSON data
 * and after another NUL a partial. Parsing must never crash or leak, a
 * template that parses must render in every escape mode (or stop with a
 * message, never unbounded), and the output must be as long as it says. */
#include "../../tools/common/mustache.c"

#include <stdint.h>

typedef struct parts {
    const char *partial;
} parts;

static char *load(const char *name, void *arg)
{
    const parts *p = arg;
    /* "self" recurses, anything else gets the input's partial */
    return strdup(strcmp(name, "self") == 0 ? "{{>self}}{{>self}}" : p->partial);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 2);
    memcpy(copy, data, size);
    copy[size] = copy[size + 1] = 0;
    /* copy[size] and copy[size + 1] are NUL: both pointers stay inside */
    size_t tlen = strlen(copy);
    const char *rest = tlen < size ? copy + tlen + 1 : copy + size;
    const char *end = rest + strlen(rest);
    parts p = {.partial = end < copy + size ? end + 1 : copy + size};
    json_t *d = rest[0] ? json_loads(rest, JSON_DECODE_ANY, NULL) : NULL;
    if (!d)
        d = json_pack("{s:s,s:[{s:i,s:b},{s:i,s:b}],s:{s:{s:s}},s:s}", "name", "a<&\"b", "list", "n", 1, "last",
                      0, "n", 2, "last", 1, "a", "b", "c", "deep", "empty", "");
    zkd_mustache *t = NULL;
    char err[256];
    if (zkd_mustache_compile(copy, tlen, &t, err, sizeof err) == 0) {
        for (int esc = ZKD_MUSTACHE_HTML; esc <= ZKD_MUSTACHE_JSON; esc++) {
            char *out = NULL;
            size_t n = 0;
            if (zkd_mustache_render(t, d, (zkd_mustache_escape)esc, load, &p, &out, &n, err, sizeof err) == 0) {
                if (!out || strlen(out) > n)
                    abort();
            } else if (out || !err[0]) {
                abort();
            }
            free(out);
        }
        zkd_mustache_free(t);
    } else if (t || !err[0]) {
        abort();
    }
    json_decref(d);
    free(copy);
    return 0;
}
