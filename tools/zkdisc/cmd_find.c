/* SPDX-License-Identifier: Apache-2.0 */
/* find and grep: searching a subtree by name, kind, owner or data; both read
 * it pipelined (zkd_walk) and print as they go. */
#include <fnmatch.h>
#include <inttypes.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmdutil.h"
#include "render.h"
#include "term.h"

/* ---- find ------------------------------------------------------------------ */

typedef struct find_opts {
    const char *name;
    int ephemeral;
    int persistent;
    int has_owner;
    long long owner;
    int max_depth;
    json_t *arr;
    size_t found;
} find_opts;

enum { OPT_NAME = 'n', OPT_EPHEMERAL = 'e', OPT_OWNER = 'O', OPT_PERSISTENT = 'p', OPT_MAXDEPTH = 'd' };

static int find_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    find_opts *o = ud;
    switch (opt) {
    case OPT_NAME: o->name = arg; return 0;
    case OPT_EPHEMERAL: o->ephemeral = 1; return 0;
    case OPT_PERSISTENT: o->persistent = 1; return 0;
    case OPT_MAXDEPTH: return cli_parse_int(ctx, "--max-depth", arg, 0, &o->max_depth);
    case OPT_OWNER:
        if (term_parse_session(arg, &o->owner) != 0)
            return cli_error(ctx, EXIT_USAGE, "--owner takes a session id (0x1f2e... or decimal), not \"%s\"", arg);
        o->has_owner = 1;
        return 0;
    }
    return EXIT_USAGE;
}

static int find_visit(const zkd_walk_node *n, void *ud)
{
    find_opts *o = ud;
    if (n->rc)
        return 0;
    if (o->name && fnmatch(o->name, n->name, 0) != 0)
        return 0;
    if (o->ephemeral && !n->stat.ephemeral_owner)
        return 0;
    if (o->persistent && n->stat.ephemeral_owner)
        return 0;
    if (o->has_owner && n->stat.ephemeral_owner != o->owner)
        return 0;
    o->found++;
    if (o->arr) {
        json_t *x = json_pack("{s:s}", "path", n->path);
        json_object_set_new(x, "stat", render_stat_json(&n->stat));
        json_array_append_new(o->arr, x);
    } else {
        puts(n->path);
    }
    return 0;
}

static int run_find(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"name", required_argument, NULL, OPT_NAME},
                                       {"ephemeral", no_argument, NULL, OPT_EPHEMERAL},
                                       {"persistent", no_argument, NULL, OPT_PERSISTENT},
                                       {"owner", required_argument, NULL, OPT_OWNER},
                                       {"max-depth", required_argument, NULL, OPT_MAXDEPTH},
                                       {0}};
    find_opts o = {.max_depth = -1};
    int first;
    int rc = cu_parse(ctx, &cmd_find, argc, argv, lo, "", find_opt, &o, 0, 1, &first);
    if (rc)
        return rc;
    if (o.ephemeral && o.persistent)
        return cli_error(ctx, EXIT_USAGE, "--ephemeral and --persistent exclude each other");
    const char *path = cu_path(ctx, first < argc ? argv[first] : NULL);
    if ((rc = cu_connect_path(ctx, path)))
        return rc;
    zkd_walk_options wo;
    zkd_walk_options_init(&wo);
    wo.max_depth = o.max_depth;
    o.arr = ctx->json ? json_array() : NULL;
    zkd_error err;
    rc = zkd_walk(ctx->client, path, &wo, find_visit, &o, &err);
    if (rc) {
        json_decref(o.arr);
        return cli_fail(ctx, rc, &err);
    }
    if (o.arr)
        render_json(o.arr);
    return 0;
}

const cli_command cmd_find = {
    "find", "find nodes by name, kind or owner",
    "find [PATH] [--name GLOB] [--ephemeral|--persistent] [--owner SESSION]\n"
    "            [--max-depth N]\n\n"
    "Prints the path of every node under PATH (default /, itself included) that\n"
    "matches all the tests given. Reads are pipelined; output is in pre-order.\n"
    "  --name GLOB       the node's name (last component) matches a shell glob\n"
    "  --ephemeral       ephemeral nodes only (--persistent: the others)\n"
    "  --owner SESSION   ephemeral nodes of that session (0x... as `stat` shows)\n"
    "  --max-depth N     search N levels below PATH at most\n"
    "  -o json           an array of {path, stat}\n"
    "Exit 0 whether or not anything matched.",
    run_find};

/* ---- grep ------------------------------------------------------------------ */

typedef struct grep_opts {
    int icase;
    int fixed;
    int list;
    int count_only;
    regex_t re;
    json_t *arr;
    size_t matched_nodes;
} grep_opts;

static int grep_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    (void)ctx;
    (void)arg;
    grep_opts *o = ud;
    switch (opt) {
    case 'i': o->icase = 1; return 0;
    case 'F': o->fixed = 1; return 0;
    case 'l': o->list = 1; return 0;
    }
    return EXIT_USAGE;
}

static int match_range(grep_opts *o, const char *buf, size_t start, size_t end)
{
    regmatch_t m = {.rm_so = (regoff_t)start, .rm_eo = (regoff_t)end};
    return regexec(&o->re, buf, 1, &m, REG_STARTEND) == 0;
}

static int grep_visit(const zkd_walk_node *n, void *ud)
{
    grep_opts *o = ud;
    if (n->rc || !n->data)
        return 0;
    const char *d = n->data;
    size_t len = n->len;
    json_t *lines = o->arr ? json_array() : NULL;
    int hit = 0;
    if (render_is_text(d, len)) {
        size_t lineno = 0;
        for (size_t s = 0; s <= len;) {
            const char *nl = memchr(d + s, '\n', len - s);
            size_t e = nl ? (size_t)(nl - d) : len;
            lineno++;
            if (match_range(o, d, s, e)) {
                hit = 1;
                if (o->list && !lines)
                    break;
                if (lines)
                    json_array_append_new(lines, json_pack("{s:I,s:s%}", "line", (json_int_t)lineno,
                                                            "text", d + s, e - s));
                else
                    printf("%s%s%s:%zu: %.*s\n", term_sgr("35"), n->path, term_reset(), lineno,
                           (int)(e - s), d + s);
            }
            if (!nl)
                break;
            s = e + 1;
        }
    } else if (match_range(o, d, 0, len)) {
        hit = 1;
        if (!o->list && !lines)
            printf("%s%s%s: binary data matches\n", term_sgr("35"), n->path, term_reset());
    }
    if (hit) {
        o->matched_nodes++;
        if (lines) {
            json_t *x = json_pack("{s:s,s:b}", "path", n->path, "binary", !render_is_text(d, len));
            json_object_set_new(x, "matches", lines);
            lines = NULL;
            json_array_append_new(o->arr, x);
        } else if (o->list) {
            puts(n->path);
        }
    }
    json_decref(lines);
    return 0;
}

/* A fixed string as a basic regular expression. */
static char *escape_fixed(const char *s)
{
    char *out = malloc(strlen(s) * 2 + 1), *o = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        if (strchr("\\.[]*^$", *s))
            *o++ = '\\';
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

static int run_grep(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"ignore-case", no_argument, NULL, 'i'},
                                       {"fixed-strings", no_argument, NULL, 'F'},
                                       {"files-with-matches", no_argument, NULL, 'l'},
                                       {0}};
    grep_opts o = {0};
    int first;
    int rc = cu_parse(ctx, &cmd_grep, argc, argv, lo, "iFl", grep_opt, &o, 1, 2, &first);
    if (rc)
        return rc;
    const char *pattern = argv[first];
    const char *path = cu_path(ctx, first + 1 < argc ? argv[first + 1] : NULL);
    char *fixed = o.fixed ? escape_fixed(pattern) : NULL;
    int cflags = (o.fixed ? 0 : REG_EXTENDED) | (o.icase ? REG_ICASE : 0) | REG_NOSUB | REG_NEWLINE;
    rc = regcomp(&o.re, fixed ? fixed : pattern, cflags);
    free(fixed);
    if (rc) {
        char msg[256];
        regerror(rc, &o.re, msg, sizeof msg);
        return cli_error(ctx, EXIT_USAGE, "bad pattern \"%s\": %s", pattern, msg);
    }
    if ((rc = cu_connect_path(ctx, path))) {
        regfree(&o.re);
        return rc;
    }
    zkd_walk_options wo;
    zkd_walk_options_init(&wo);
    wo.want_data = 1;
    o.arr = ctx->json ? json_array() : NULL;
    zkd_error err;
    rc = zkd_walk(ctx->client, path, &wo, grep_visit, &o, &err);
    regfree(&o.re);
    if (rc) {
        json_decref(o.arr);
        return cli_fail(ctx, rc, &err);
    }
    if (o.arr)
        render_json(o.arr);
    return o.matched_nodes ? 0 : EXIT_ERROR;
}

const cli_command cmd_grep = {
    "grep", "search the data of a subtree",
    "grep PATTERN [PATH] [-i] [-F] [-l]\n\n"
    "Searches the data of every node under PATH (default /) for PATTERN, a POSIX\n"
    "extended regular expression, line by line for text; binary data is matched\n"
    "as a whole. Prints PATH:LINE: TEXT for each matching line. Reads are\n"
    "pipelined. Like grep(1) it exits 1 when nothing matched.\n"
    "  -i, --ignore-case         ignore case\n"
    "  -F, --fixed-strings       PATTERN is a plain string\n"
    "  -l, --files-with-matches  print only the paths of matching nodes\n"
    "  -o json                   an array of {path, binary, matches: [{line, text}]}",
    run_grep};
