/* SPDX-License-Identifier: Apache-2.0 */
/* Reading nodes: ls (-R), get, stat. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmdutil.h"
#include "render.h"

/* "CMD [options] [PATH]": PATH defaults to /, as for every reading command. */
static int one_path(cli *ctx, const cli_command *cmd, int argc, char **argv,
                    const struct option *lo, const char *so,
                    int (*on_opt)(cli *, int, const char *, void *), void *ud, const char **path)
{
    int first;
    int rc = cu_parse(ctx, cmd, argc, argv, lo, so, on_opt, ud, 0, 1, &first);
    if (rc)
        return rc;
    *path = cu_path(ctx, first < argc ? argv[first] : NULL);
    return cu_connect_path(ctx, *path);
}

/* ---- ls ----------------------------------------------------------------- */

typedef struct ls_opts {
    int recursive;
} ls_opts;

static int ls_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    (void)ctx;
    (void)arg;
    if (opt != 'R' && opt != 'r')
        return EXIT_USAGE;
    ((ls_opts *)ud)->recursive = 1;
    return 0;
}

typedef struct ls_walk {
    json_t *arr;
} ls_walk;

static int ls_visit(const zkd_walk_node *n, void *ud)
{
    ls_walk *lw = ud;
    if (lw->arr)
        json_array_append_new(lw->arr, json_string(n->path));
    else
        puts(n->path);
    return 0;
}

static int run_ls(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"recursive", no_argument, NULL, 'R'}, {0}};
    ls_opts o = {0};
    const char *path;
    int rc = one_path(ctx, &cmd_ls, argc, argv, lo, "Rr", ls_opt, &o, &path);
    if (rc)
        return rc;
    zkd_error err;
    if (o.recursive) {
        ls_walk lw = {.arr = ctx->json ? json_array() : NULL};
        rc = zkd_walk(ctx->client, path, NULL, ls_visit, &lw, &err);
        if (rc) {
            json_decref(lw.arr);
            return cli_fail(ctx, rc, &err);
        }
        if (lw.arr)
            render_json(lw.arr);
        return 0;
    }
    zkd_strings kids;
    if ((rc = zkd_node_children(ctx->client, path, &kids, NULL, &err)))
        return cli_fail(ctx, rc, &err);
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < kids.count; i++)
            json_array_append_new(arr, json_string(kids.items[i]));
        render_json(arr);
    } else {
        for (size_t i = 0; i < kids.count; i++)
            puts(kids.items[i]);
    }
    zkd_strings_free(&kids);
    return 0;
}

const cli_command cmd_ls = {
    "ls", "list a node's children (-R: the whole subtree)",
    "ls [PATH] [-R]\n\nLists the children of PATH (default /), one per line (-o json: an array\n"
    "of names).\n"
    "  -R, --recursive  every node of the subtree, PATH first, as full paths in\n"
    "                   pre-order (-o json: an array of paths); reads are pipelined;\n"
    "                   -r too",
    run_ls};

/* ---- get ---------------------------------------------------------------- */

static int get_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    (void)ctx;
    (void)arg;
    if (opt != 'r')
        return EXIT_USAGE;
    *(int *)ud = 1;
    return 0;
}

static int run_get(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"raw", no_argument, NULL, 'r'}, {0}};
    int raw = 0;
    const char *path;
    int rc = one_path(ctx, &cmd_get, argc, argv, lo, "", get_opt, &raw, &path);
    if (rc)
        return rc;
    char *data = NULL;
    size_t len = 0;
    zkd_stat st;
    zkd_error err;
    if ((rc = zkd_node_get(ctx->client, path, &data, &len, &st, &err)))
        return cli_fail(ctx, rc, &err);
    if (raw)
        fwrite(data ? data : "", 1, len, stdout);
    else if (ctx->json)
        render_json(render_node_json(path, data, len, &st));
    else
        render_data(stdout, data, len);
    zkd_free(data);
    return 0;
}

const cli_command cmd_get = {
    "get", "print a node's data",
    "get [PATH] [--raw]\n\nPrints the data of PATH (default /): indented JSON when it is JSON, the\n"
    "text when it is text, a hex dump when it is binary.\n"
    "  --raw    write the bytes exactly as stored\n"
    "  -o json  an object with path, encoding (utf-8 or base64), data and stat",
    run_get};

/* ---- stat --------------------------------------------------------------- */

static int run_stat(cli *ctx, int argc, char **argv)
{
    const char *path;
    int rc = one_path(ctx, &cmd_stat, argc, argv, NULL, NULL, NULL, NULL, &path);
    if (rc)
        return rc;
    zkd_stat st;
    zkd_error err;
    if ((rc = zkd_node_stat(ctx->client, path, &st, &err)))
        return cli_fail(ctx, rc, &err);
    if (ctx->json) {
        json_t *o = render_stat_json(&st);
        json_object_set_new(o, "path", json_string(path));
        render_json(o);
    } else {
        printf("path            %s\n", path);
        render_stat_text(stdout, &st);
    }
    return 0;
}

const cli_command cmd_stat = {
    "stat", "print a node's Stat",
    "stat [PATH]\n\nPrints every Stat field of PATH (default /); times in RFC 3339 UTC, the\n"
    "ephemeral owner's session in hex.\n"
    "  -o json  an object with path and ZooKeeper's Stat field names",
    run_stat};
