/* SPDX-License-Identifier: Apache-2.0 */
/* Changing the tree: create, set, rm. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmdutil.h"
#include "mutation_report.h"
#include "render.h"
#include "term.h"

/* ---- ACL specs ----------------------------------------------------------- */

enum { MAX_ACL = 8 };

typedef struct acl_spec {
    zkd_acl_entry e[MAX_ACL];
    char *owned[MAX_ACL];
    size_t n;
} acl_spec;

/* "open", "creator", "read-only" or SCHEME:ID:PERMS (acl_spec_parse). */
static int acl_add(cli *ctx, acl_spec *a, const char *spec)
{
    if (a->n == MAX_ACL)
        return cli_error(ctx, EXIT_USAGE, "at most %d --acl entries", MAX_ACL);
    int rc = acl_spec_parse(ctx, "--acl", spec, &a->e[a->n], &a->owned[a->n]);
    a->n += rc == 0;
    return rc;
}

static void acl_free(acl_spec *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->owned[i]);
}

/* /zookeeper and what is below it belong to the server (quotas, the
 * ensemble's config): zkdisc neither creates nor removes anything there. */
static int refuse_zookeeper(cli *ctx, const char *verb, const char *path)
{
    if (strcmp(path, "/zookeeper") && strncmp(path, "/zookeeper/", 11))
        return 0;
    return cli_error(ctx, EXIT_USAGE, "refusing to %s %s: /zookeeper belongs to ZooKeeper", verb,
                     path);
}

/* The parent of `path`, whose ACL decides a create or a delete. */
static void parent_of(const char *path, char *out, size_t len)
{
    size_t n = strrchr(path, '/') - path;
    snprintf(out, len, "%.*s", n ? (int)n : 1, path);
}

/* ---- create ------------------------------------------------------------------ */

typedef struct create_opts {
    int parents;
    int flags;
    acl_spec acl;
} create_opts;

enum { OPT_PARENTS = 'p', OPT_SEQ = 's', OPT_CONTAINER = 'C', OPT_ACL = 'A', OPT_IFVER = 'V',
       OPT_YES = 'y', OPT_REC = 'R' };

static int create_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    create_opts *o = ud;
    switch (opt) {
    case OPT_PARENTS: o->parents = 1; return 0;
    case OPT_SEQ: o->flags |= ZKD_CREATE_SEQUENTIAL; return 0;
    case OPT_CONTAINER: o->flags |= ZKD_CREATE_CONTAINER; return 0;
    case OPT_ACL: return acl_add(ctx, &o->acl, arg);
    }
    return EXIT_USAGE;
}

static int run_create(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"parents", no_argument, NULL, OPT_PARENTS},
                                       {"sequential", no_argument, NULL, OPT_SEQ},
                                       {"container", no_argument, NULL, OPT_CONTAINER},
                                       {"acl", required_argument, NULL, OPT_ACL},
                                       {0}};
    create_opts o = {0};
    int first;
    int rc = cu_parse(ctx, &cmd_create, argc, argv, lo, "ps", create_opt, &o, 1, 2, &first);
    if (rc) {
        acl_free(&o.acl);
        return rc;
    }
    const char *path = cu_path(ctx, argv[first]);
    if ((rc = refuse_zookeeper(ctx, "create", path))) {
        acl_free(&o.acl);
        return rc;
    }
    char *data = NULL;
    size_t len = 0;
    if (first + 1 < argc && term_read_value(argv[first + 1], &data, &len) != 0) {
        acl_free(&o.acl);
        return cli_error(ctx, EXIT_ERROR, "cannot read the value: %s", strerror(errno));
    }
    if ((rc = cu_connect_path(ctx, path))) {
        free(data);
        acl_free(&o.acl);
        return rc;
    }
    zkd_create_options co = {.flags = o.flags, .parents = o.parents,
                             .acl = o.acl.n ? o.acl.e : NULL, .acl_count = o.acl.n};
    char *created = NULL;
    zkd_error err;
    /* No VALUE: a node without data (as zkCli.sh makes it). */
    rc = zkd_node_create(ctx->client, path, data, len, &co, &created, &err);
    free(data);
    acl_free(&o.acl);
    char parent[1024];
    parent_of(path, parent, sizeof parent);
    if (rc == ZKD_ENOAUTH)
        return acl_refused(ctx, "create", path, parent, ZKD_PERM_CREATE);
    if (rc)
        return cu_fail(ctx, rc, &err);
    mr_report(ctx, "create", 1, json_pack("{s:s}", "path", created), "created %s", created);
    zkd_free(created);
    return 0;
}

const cli_command cmd_create = {
    "create", "create a node",
    "create PATH [VALUE] [--parents] [--sequential] [--container] [--acl SPEC]...\n\n"
    "Creates PATH holding VALUE (none: empty; \"-\": read from stdin) and prints\n"
    "\"created PATH\" (with -s, the name the server chose). Exits 5 when PATH\n"
    "exists, 4 when its parent is missing. A name the server would refuse\n"
    "(invalid UTF-8, emoji) is refused whole, before anything is created.\n"
    "  -p, --parents     create missing parents too (empty, persistent)\n"
    "  -s, --sequential  the server appends a 10-digit counter to the name\n"
    "  --container       a container node (the server removes it once empty)\n"
    "  --acl SPEC        open (default), read-only, creator (all rights for the\n"
    "                    --auth identity), or SCHEME:ID:PERMS with PERMS of\n"
    "                    rwcda, e.g. digest:alice:HASH:rwcda; may repeat",
    run_create};

/* ---- set ------------------------------------------------------------------------ */

static int version_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    if (opt != OPT_IFVER)
        return EXIT_USAGE;
    return cli_parse_int(ctx, "--if-version", arg, 0, (int *)ud);
}

static int run_set(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"if-version", required_argument, NULL, OPT_IFVER}, {0}};
    int version = -1;
    int first;
    int rc = cu_parse(ctx, &cmd_set, argc, argv, lo, "", version_opt, &version, 2, 2, &first);
    if (rc)
        return rc;
    const char *path = cu_path(ctx, argv[first]);
    char *data = NULL;
    size_t len = 0;
    if (term_read_value(argv[first + 1], &data, &len) != 0)
        return cli_error(ctx, EXIT_ERROR, "cannot read the value: %s", strerror(errno));
    if ((rc = cu_connect_path(ctx, path))) {
        free(data);
        return rc;
    }
    zkd_stat st;
    zkd_error err;
    rc = zkd_node_set(ctx->client, path, data, len, version, &st, &err);
    free(data);
    if (rc == ZKD_ECONFLICT && version >= 0) {
        zkd_stat now;
        if (zkd_node_stat(ctx->client, path, &now, NULL) == 0)
            return cli_error(ctx, EXIT_CONFLICT, "cannot set %s: its version is %d, not %d", path,
                             now.version, version);
    }
    if (rc == ZKD_ENOAUTH)
        return acl_refused(ctx, "set", path, path, ZKD_PERM_WRITE);
    if (rc)
        return cu_fail(ctx, rc, &err);
    json_t *o = render_stat_json(&st);
    json_object_set_new(o, "path", json_string(path));
    return mr_report(ctx, "set", 1, o, "set %s (version %d)", path, st.version);
}

const cli_command cmd_set = {
    "set", "replace a node's data",
    "set PATH VALUE [--if-version N]\n\n"
    "Replaces the data of PATH with VALUE (\"-\": read from stdin). Prints\n"
    "\"set PATH (version N)\" (-o json: the new Stat with action, path, changed).\n"
    "  --if-version N  only when PATH's version is N; else exit 5 and change nothing",
    run_set};

/* ---- rm ---------------------------------------------------------------------------- */

typedef struct rm_opts {
    int recursive;
    int yes;
    int version;
} rm_opts;

static int rm_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    rm_opts *o = ud;
    switch (opt) {
    case 'r':
    case OPT_REC: o->recursive = 1; return 0;
    case OPT_YES: o->yes = 1; return 0;
    case OPT_IFVER: return cli_parse_int(ctx, "--if-version", arg, 0, &o->version);
    }
    return EXIT_USAGE;
}

/* Counts the subtree for the question, with progress on a terminal (the
 * deletion itself is one library call, zkd_node_delete_tree). */
static int count_visit(const zkd_walk_node *n, void *ud)
{
    (void)n;
    term_progress_add(ud, 1);
    return 0;
}

static int run_rm(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"recursive", no_argument, NULL, OPT_REC},
                                       {"yes", no_argument, NULL, OPT_YES},
                                       {"if-version", required_argument, NULL, OPT_IFVER},
                                       {0}};
    rm_opts o = {.version = -1};
    int first;
    int rc = cu_parse(ctx, &cmd_rm, argc, argv, lo, "Rry", rm_opt, &o, 1, 1, &first);
    if (rc)
        return rc;
    const char *path = cu_path(ctx, argv[first]);
    zkd_error err;
    if ((rc = zkd_validate_path(path, &err)))
        return cli_fail(ctx, rc, &err);
    if (!strcmp(path, "/"))
        return cli_error(ctx, EXIT_USAGE, "refusing to remove the root node /");
    if ((rc = refuse_zookeeper(ctx, "remove", path)))
        return rc;
    int interactive = term_interactive();
    if (o.recursive && !o.yes && !interactive)
        return cli_error(ctx, EXIT_USAGE, "refusing to remove the subtree %s without --yes "
                         "when not on a terminal", path);
    if ((rc = cli_connect(ctx)))
        return rc;
    if (!o.yes && interactive) {
        char q[1200];
        if (o.recursive) {
            term_progress progress;
            term_progress_start(&progress, "rm: reading");
            rc = zkd_walk(ctx->client, path, NULL, count_visit, &progress, &err);
            term_progress_end(&progress);
            if (rc)
                return cli_fail(ctx, rc, &err);
            size_t n = progress.count;
            snprintf(q, sizeof q, "Remove %s and everything under it (%zu node%s)?", path, n,
                     n == 1 ? "" : "s");
        } else {
            zkd_stat st;
            if ((rc = zkd_node_stat(ctx->client, path, &st, &err)))
                return cli_fail(ctx, rc, &err);
            snprintf(q, sizeof q, "Remove %s?", path);
        }
        if (!term_confirm(q))
            return cli_error(ctx, EXIT_ERROR, "not removed");
    }
    size_t deleted = 0;
    if (o.recursive) {
        rc = zkd_node_delete_tree(ctx->client, path, o.version, &deleted, &err);
    } else {
        rc = zkd_node_delete(ctx->client, path, o.version, &err);
        deleted = rc == 0;
        if (rc == ZKD_ENOTEMPTY)
            return cli_error(ctx, EXIT_ERROR, "cannot remove %s: it has children (use -R)", path);
    }
    if (rc == ZKD_ECONFLICT && o.version >= 0 && !o.recursive) {
        zkd_stat now;
        if (zkd_node_stat(ctx->client, path, &now, NULL) == 0)
            return cli_error(ctx, EXIT_CONFLICT, "cannot remove %s: its version is %d, not %d",
                             path, now.version, o.version);
    }
    char parent[1024];
    parent_of(path, parent, sizeof parent);
    if (rc == ZKD_ENOAUTH && !o.recursive)
        return acl_refused(ctx, "rm", path, parent, ZKD_PERM_DELETE);
    if (rc)
        return cu_fail(ctx, rc, &err);
    json_t *f = json_pack("{s:s,s:I}", "path", path, "deleted", (json_int_t)deleted);
    if (o.recursive)
        return mr_report(ctx, "rm", 1, f, "removed %s (%zu node%s)", path, deleted,
                         deleted == 1 ? "" : "s");
    return mr_report(ctx, "rm", 1, f, "removed %s", path);
}

const cli_command cmd_rm = {
    "rm", "remove a node or a subtree",
    "rm PATH [-R] [--if-version N] [--yes]\n\n"
    "Removes PATH and prints \"removed PATH\". On a terminal it asks first unless\n"
    "--yes. It never removes / or anything under /zookeeper (exit 2).\n"
    "  -R, --recursive  PATH and everything under it (pipelined; -r too); when\n"
    "                   stdin is not a terminal, -R needs --yes (exit 2 otherwise)\n"
    "  --if-version N   only when PATH's version is N; else exit 5, nothing removed\n"
    "  -y, --yes        do not ask",
    run_rm};
