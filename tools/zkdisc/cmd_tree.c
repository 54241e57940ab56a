/* SPDX-License-Identifier: Apache-2.0 */
/* tree and du: a subtree drawn, and its sizes; both read it pipelined
 * (zkd_walk). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmdutil.h"
#include "render.h"
#include "term.h"
#include "textwidth.h"

/* ---- tree ----------------------------------------------------------------- */

typedef struct tline {
    char *name;
    char *path;
    int depth;
    int ephemeral;
    int num_children;
    int listed;
    int rc;
    char *instance; /* "address:port" for a service instance, else NULL */
} tline;

typedef struct tree_state {
    tline *lines;
    size_t count, cap;
    char *services; /* "<root>/services/" */
    size_t services_len;
    int max_depth;
} tree_state;

/* A service instance: <root>/services/<svc>/<id>. Writes <svc> into svc. */
static int instance_path(const tree_state *t, const char *path, char *svc, size_t svclen)
{
    if (strncmp(path, t->services, t->services_len) != 0)
        return 0;
    const char *rest = path + t->services_len;
    const char *slash = strchr(rest, '/');
    if (!slash || slash == rest || strchr(slash + 1, '/') || !slash[1])
        return 0;
    if (svc)
        snprintf(svc, svclen, "%.*s", (int)(slash - rest), rest);
    return 1;
}

static int tree_wants_data(const char *path, int depth, void *ud)
{
    (void)depth;
    return instance_path(ud, path, NULL, 0);
}

static int tree_visit(const zkd_walk_node *n, void *ud)
{
    tree_state *t = ud;
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        tline *grown = realloc(t->lines, cap * sizeof *grown);
        if (!grown)
            return ZKD_ENOMEM;
        t->lines = grown;
        t->cap = cap;
    }
    tline *l = &t->lines[t->count];
    memset(l, 0, sizeof *l);
    l->name = strdup(n->depth == 0 ? n->path : n->name);
    l->path = strdup(n->path);
    if (!l->name || !l->path) {
        free(l->name);
        free(l->path);
        return ZKD_ENOMEM;
    }
    l->depth = n->depth;
    l->ephemeral = n->stat.ephemeral_owner != 0;
    l->num_children = n->stat.num_children;
    l->listed = n->listed;
    l->rc = n->rc;
    char svc[256];
    if (n->has_data && n->data && instance_path(t, n->path, svc, sizeof svc)) {
        zkd_instance *inst = NULL;
        if (zkd_instance_parse(svc, n->name, n->data, n->len, &inst, NULL) == 0) {
            char buf[320];
            zkd_instance_endpoint(inst, 0, buf, sizeof buf);
            l->instance = strdup(buf);
            zkd_instance_unref(inst);
        }
    }
    t->count++;
    return 0;
}

static void tree_free(tree_state *t)
{
    for (size_t i = 0; i < t->count; i++) {
        free(t->lines[i].name);
        free(t->lines[i].path);
        free(t->lines[i].instance);
    }
    free(t->lines);
    free(t->services);
}

/* Prints one line, cut to the terminal's width on a terminal or with
 * COLUMNS set (with "…"), counting display columns (a CJK character takes
 * two) and never splitting a character. */
static void put_cut(const char *plain_prefix, const char *name, const char *suffix, int width,
                    int cut, const char *name_sgr)
{
    int pcols = tw_width(plain_prefix);
    int room = pcols < width ? width - pcols : 1;
    fputs(plain_prefix, stdout);
    int nw = tw_width(name);
    if (!cut || nw + tw_width(suffix) <= room) {
        printf("%s%s%s%s\n", name_sgr, name, term_reset(), suffix);
        return;
    }
    size_t cap = strlen(name) + strlen(suffix) + 8;
    char *buf = malloc(cap);
    if (!buf)
        return;
    if (nw + 1 > room) {
        tw_cut(name, room, buf, cap);
        printf("%s%s%s\n", name_sgr, buf, term_reset());
    } else {
        tw_cut(suffix, room - nw, buf, cap);
        printf("%s%s%s%s\n", name_sgr, name, term_reset(), buf);
    }
    free(buf);
}

static void tree_print_text(const tree_state *t)
{
    int width = term_width();
    int cut = isatty(STDOUT_FILENO) || getenv("COLUMNS");
    /* last[d]: whether the open ancestor at depth d was its parent's last child */
    char *last = calloc((size_t)(t->count ? t->count : 1) + 1, 1);
    size_t prefix_cap = 4096;
    char *prefix = malloc(prefix_cap);
    if (!last || !prefix) {
        free(last);
        free(prefix);
        return;
    }
    size_t nodes = 0, ephemerals = 0;
    for (size_t i = 0; i < t->count; i++) {
        const tline *l = &t->lines[i];
        nodes++;
        ephemerals += l->ephemeral;
        int is_last = 1;
        for (size_t j = i + 1; j < t->count; j++) {
            if (t->lines[j].depth < l->depth)
                break;
            if (t->lines[j].depth == l->depth) {
                is_last = 0;
                break;
            }
        }
        last[l->depth] = (char)is_last;
        size_t pl = 0;
        prefix[0] = '\0';
        for (int d = 1; d < l->depth && pl + 16 < prefix_cap; d++)
            pl += (size_t)snprintf(prefix + pl, prefix_cap - pl, "%s", last[d] ? "    " : "│   ");
        if (l->depth > 0 && pl + 16 < prefix_cap)
            snprintf(prefix + pl, prefix_cap - pl, "%s", is_last ? "└── " : "├── ");
        char suffix[512] = "";
        size_t sl = 0;
        if (l->instance)
            sl += (size_t)snprintf(suffix + sl, sizeof suffix - sl, "  %s%s%s", term_sgr("32"),
                                   l->instance, term_reset());
        if (l->ephemeral)
            sl += (size_t)snprintf(suffix + sl, sizeof suffix - sl, " %s[e]%s", term_sgr("33"), term_reset());
        if (l->rc)
            sl += (size_t)snprintf(suffix + sl, sizeof suffix - sl, " (%s)", zkd_strerror(l->rc));
        else if (!l->listed && l->num_children > 0)
            sl += (size_t)snprintf(suffix + sl, sizeof suffix - sl, " (+%d)", l->num_children);
        const char *sgr = l->num_children > 0 ? term_sgr("1;34") : "";
        put_cut(prefix, l->name, suffix, width, cut, sgr);
    }
    printf("\n%zu node%s, %zu ephemeral\n", nodes, nodes == 1 ? "" : "s", ephemerals);
    free(last);
    free(prefix);
}

/* Nested JSON: {"name","path","ephemeral","numChildren","instance"?,"children":[...]} */
static json_t *tree_json(const tree_state *t)
{
    if (!t->count)
        return json_null();
    json_t **open = calloc(t->count + 1, sizeof *open); /* open[d]: children array at depth d */
    json_t *top = NULL;
    for (size_t i = 0; i < t->count; i++) {
        const tline *l = &t->lines[i];
        const char *slash = strrchr(l->path, '/');
        json_t *o = json_pack("{s:s,s:s,s:b,s:i}", "name", l->depth ? l->name : slash + 1, "path", l->path,
                              "ephemeral", l->ephemeral, "numChildren", l->num_children);
        if (l->instance)
            json_object_set_new(o, "instance", json_string(l->instance));
        if (l->rc)
            json_object_set_new(o, "error", json_string(zkd_strerror(l->rc)));
        json_t *kids = json_array();
        if (l->listed)
            json_object_set(o, "children", kids);
        else
            json_object_set_new(o, "children", json_null());
        if (l->depth == 0)
            top = o;
        else if (open[l->depth - 1])
            json_array_append_new(open[l->depth - 1], o);
        else
            json_decref(o);
        open[l->depth] = kids;
        json_decref(kids); /* still referenced by o when listed */
        if (!l->listed)
            open[l->depth] = NULL;
    }
    free(open);
    return top;
}

typedef struct tree_opts {
    int depth;
} tree_opts;

static int tree_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    if (opt != 'd')
        return EXIT_USAGE;
    return cli_parse_int(ctx, "--depth", arg, 0, &((tree_opts *)ud)->depth);
}

static int run_tree(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"depth", required_argument, NULL, 'd'}, {0}};
    tree_opts o = {.depth = -1};
    int first;
    int rc = cu_parse(ctx, &cmd_tree, argc, argv, lo, "d:", tree_opt, &o, 0, 1, &first);
    if (rc)
        return rc;
    const char *path = cu_path(ctx, first < argc ? argv[first] : NULL);
    if ((rc = cu_connect_path(ctx, path)))
        return rc;
    tree_state t = {.max_depth = o.depth};
    const char *root = zkd_client_root(ctx->client);
    size_t rl = strlen(root);
    t.services = malloc(rl + 16);
    if (!t.services)
        return cli_error(ctx, EXIT_ERROR, "out of memory");
    snprintf(t.services, rl + 16, "%s/services/", strcmp(root, "/") ? root : "");
    t.services_len = strlen(t.services);
    zkd_walk_options wo;
    zkd_walk_options_init(&wo);
    wo.max_depth = o.depth;
    wo.data_filter = tree_wants_data;
    wo.data_filter_ctx = &t;
    zkd_error err;
    rc = zkd_walk(ctx->client, path, &wo, tree_visit, &t, &err);
    if (rc == ZKD_ENOMEM)
        zkd_error_clear(&err);
    if (rc) {
        tree_free(&t);
        return cli_fail(ctx, rc, &err);
    }
    if (ctx->json)
        render_json(tree_json(&t));
    else
        tree_print_text(&t);
    tree_free(&t);
    return 0;
}

const cli_command cmd_tree = {
    "tree", "draw a subtree",
    "tree [PATH] [--depth N]\n\n"
    "Draws the subtree at PATH (default /). Ephemeral nodes are marked [e]; a\n"
    "service's instances (ROOT/services/SERVICE/ID) show their address:port;\n"
    "a node below the depth limit shows (+N) for its N children. Reads are\n"
    "pipelined. On a terminal long lines are cut to its width.\n"
    "  --depth N  levels below PATH to show (0: PATH alone)\n"
    "  -o json    nested objects: name, path, ephemeral, numChildren, instance,\n"
    "             children (null when not listed)",
    run_tree};

/* ---- du -------------------------------------------------------------------- */

typedef struct dnode {
    char *path;   /* kept for nodes within the shown depth */
    int depth;
    size_t parent;
    uint64_t nodes, bytes;
} dnode;

typedef struct du_state {
    dnode *v;
    size_t count, cap;
    size_t *stack; /* index of the open node at each depth */
    size_t stack_cap;
    int show_depth;
} du_state;

static int du_visit(const zkd_walk_node *n, void *ud)
{
    du_state *d = ud;
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 1024;
        dnode *grown = realloc(d->v, cap * sizeof *grown);
        if (!grown)
            return ZKD_ENOMEM;
        d->v = grown;
        d->cap = cap;
    }
    if ((size_t)n->depth + 1 > d->stack_cap) {
        size_t cap = (size_t)n->depth * 2 + 16;
        size_t *grown = realloc(d->stack, cap * sizeof *grown);
        if (!grown)
            return ZKD_ENOMEM;
        d->stack = grown;
        d->stack_cap = cap;
    }
    dnode *x = &d->v[d->count];
    x->depth = n->depth;
    x->parent = n->depth ? d->stack[n->depth - 1] : (size_t)-1;
    x->nodes = 1;
    x->bytes = n->stat.data_length > 0 ? (uint64_t)n->stat.data_length : 0;
    x->path = d->show_depth < 0 || n->depth <= d->show_depth ? strdup(n->path) : NULL;
    d->stack[n->depth] = d->count;
    d->count++;
    return 0;
}

static void human(char *out, size_t len, uint64_t bytes)
{
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, len, "%" PRIu64 " B", bytes);
    else
        snprintf(out, len, "%.1f %s", v, units[u]);
}

typedef struct du_opts {
    int depth;
} du_opts;

static int du_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    if (opt != 'd')
        return EXIT_USAGE;
    return cli_parse_int(ctx, "--depth", arg, 0, &((du_opts *)ud)->depth);
}

static int run_du(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"depth", required_argument, NULL, 'd'}, {0}};
    du_opts o = {.depth = 1};
    int first;
    int rc = cu_parse(ctx, &cmd_du, argc, argv, lo, "d:", du_opt, &o, 0, 1, &first);
    if (rc)
        return rc;
    const char *path = cu_path(ctx, first < argc ? argv[first] : NULL);
    if ((rc = cu_connect_path(ctx, path)))
        return rc;
    du_state d = {.show_depth = o.depth};
    zkd_error err;
    rc = zkd_walk(ctx->client, path, NULL, du_visit, &d, &err);
    if (rc == 0) {
        /* Children come after their parent: add up from the end. */
        for (size_t i = d.count; i-- > 1;) {
            d.v[d.v[i].parent].nodes += d.v[i].nodes;
            d.v[d.v[i].parent].bytes += d.v[i].bytes;
        }
        json_t *arr = ctx->json ? json_array() : NULL;
        if (!arr && tw_headers())
            printf("%10s %12s  %s\n", "NODES", "BYTES", "PATH");
        for (size_t i = 0; i < d.count; i++) {
            if (!d.v[i].path)
                continue;
            if (arr) {
                json_array_append_new(arr, json_pack("{s:s,s:I,s:I,s:i}", "path", d.v[i].path,
                                                     "nodes", (json_int_t)d.v[i].nodes, "bytes",
                                                     (json_int_t)d.v[i].bytes, "depth", d.v[i].depth));
            } else {
                char h[32];
                human(h, sizeof h, d.v[i].bytes);
                printf("%10" PRIu64 " %12s  %s\n", d.v[i].nodes, h, d.v[i].path);
            }
        }
        if (arr)
            render_json(arr);
    }
    for (size_t i = 0; i < d.count; i++)
        free(d.v[i].path);
    free(d.v);
    free(d.stack);
    if (rc == ZKD_ENOMEM)
        return cli_error(ctx, EXIT_ERROR, "out of memory");
    return rc ? cli_fail(ctx, rc, &err) : 0;
}

const cli_command cmd_du = {
    "du", "node counts and bytes per subtree",
    "du [PATH] [--depth N]\n\n"
    "For PATH (default /) and its descendants down to --depth levels (default 1),\n"
    "prints the number of nodes and the bytes of data in each subtree, the node\n"
    "itself included. Reads are pipelined.\n"
    "  --depth N  levels of subtrees to list (0: PATH's total only)\n"
    "  -o json    an array of {path, nodes, bytes, depth}; bytes are exact",
    run_du};
