/* SPDX-License-Identifier: Apache-2.0 */
/* Mustache templates (https://github.com/mustache/spec, the required
 * modules: interpolation, sections, inverted sections, comments, partials,
 * set delimiter) rendered over jansson values. Logic-less on purpose: the
 * data (records any registrant wrote into ZooKeeper) can never execute
 * anything, only be printed.
 *
 * Beyond the spec: the escaping of {{name}} is the caller's choice (html,
 * as the spec says, none, or json string escaping); an object or array
 * interpolated prints as compact JSON; an empty string is falsy in a
 * section (as false, null, a missing name and an empty list). */
#ifndef ZKD_MUSTACHE_H
#define ZKD_MUSTACHE_H

#include <jansson.h>
#include <stddef.h>

typedef struct zkd_mustache zkd_mustache;

typedef enum {
    ZKD_MUSTACHE_HTML, /* & " < > as entities (the spec's rule) */
    ZKD_MUSTACHE_NONE, /* as is */
    ZKD_MUSTACHE_JSON, /* escaped for the inside of a JSON string: \" \\ and control characters */
} zkd_mustache_escape;

/* The text of partial `name`, malloc'd (the renderer frees it), or NULL
 * when there is none (the spec renders nothing then). */
typedef char *(*zkd_mustache_loader)(const char *name, void *arg);

/* Parses `text` (len bytes). 0 and *out, or -1 with a message naming the
 * line in err (unclosed or mismatched section, unclosed tag, bad set
 * delimiter). */
int zkd_mustache_compile(const char *text, size_t len, zkd_mustache **out, char *err, size_t errlen);

/* Renders `t` with `data` as the root context (borrowed). Partials come
 * from `load` (NULL: none); they nest at most 64 deep. 0 with *out
 * (malloc'd, NUL-terminated, *outlen bytes), or -1 with a message in err
 * (a partial that does not parse, or nesting too deep). */
int zkd_mustache_render(const zkd_mustache *t, json_t *data, zkd_mustache_escape esc,
                        zkd_mustache_loader load, void *load_arg, char **out, size_t *outlen, char *err,
                        size_t errlen);

void zkd_mustache_free(zkd_mustache *t);

/* A loader reading partials from a directory (`arg` is the directory's
 * path): `{{> name}}` reads DIR/name.mustache, else DIR/name. Names with
 * "/" at the start or a ".." component find nothing. */
char *zkd_mustache_load_dir(const char *name, void *dir);

/* Parses "none", "html" or "json" into *out: 0, or -1. */
int zkd_mustache_escape_parse(const char *s, zkd_mustache_escape *out);

#endif
