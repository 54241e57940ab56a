/* SPDX-License-Identifier: Apache-2.0 */
/* Backup and restore: export a subtree as one JSON document, import it with
 * multi transactions in batches.
 *
 * The document:
 *   {"format": "zkdisc-export/1", "root": "/x", "ephemeral": false,
 *    "nodes": [{"path": "/x", "encoding": "utf-8", "data": "...",
 *               "ephemeral": false, "stat": {...}}, ...]}
 * Nodes come in pre-order (a parent before its children, siblings sorted).
 * "encoding" is "utf-8" when the data is text (then "data" is that string)
 * or "base64"; a node without data has "data": null and no encoding. "stat"
 * is informative; import ignores it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmdutil.h"
#include "render.h"
#include "term.h"

#define EXPORT_FORMAT "zkdisc-export/1"

/* ---- export ----------------------------------------------------------------- */

typedef struct export_opts {
    const char *file;
    int ephemeral;
    json_t *nodes;
    size_t skipped_ephemeral;
    size_t unreadable;
    term_progress progress;
} export_opts;

static int export_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    (void)ctx;
    export_opts *o = ud;
    switch (opt) {
    case 'f': o->file = arg; return 0;
    case 'e': o->ephemeral = 1; return 0;
    }
    return EXIT_USAGE;
}

static int export_visit(const zkd_walk_node *n, void *ud)
{
    export_opts *o = ud;
    term_progress_add(&o->progress, 1);
    if (n->rc) {
        fprintf(stderr, "zkdisc export: skipping %s: %s\n", n->path, zkd_strerror(n->rc));
        o->unreadable++;
        return 0;
    }
    int eph = n->stat.ephemeral_owner != 0;
    if (eph && !o->ephemeral) {
        o->skipped_ephemeral++;
        return 0;
    }
    json_t *x = render_node_json(n->path, n->data, n->len, NULL);
    json_object_set_new(x, "ephemeral", json_boolean(eph));
    json_object_set_new(x, "stat", render_stat_json(&n->stat));
    if (json_array_append_new(o->nodes, x))
        return ZKD_ENOMEM;
    return 0;
}

static int write_doc(cli *ctx, json_t *doc, const char *file)
{
    if (!file || !strcmp(file, "-")) {
        render_json(doc);
        return 0;
    }
    size_t fl = strlen(file);
    char *tmp = malloc(fl + 16);
    if (!tmp)
        return cli_error(ctx, EXIT_ERROR, "out of memory");
    snprintf(tmp, fl + 16, "%s.tmp%ld", file, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f && json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 &&
             fputc('\n', f) != EOF;
    ok = f && fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
    if (f && fclose(f) != 0)
        ok = 0;
    int e = errno;
    if (ok && rename(tmp, file) != 0) {
        e = errno;
        ok = 0;
    }
    if (!ok)
        unlink(tmp);
    free(tmp);
    json_decref(doc);
    return ok ? 0 : cli_error(ctx, EXIT_ERROR, "cannot write %s: %s", file, strerror(e));
}

static int run_export(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"file", required_argument, NULL, 'f'},
                                       {"ephemeral", no_argument, NULL, 'e'},
                                       {0}};
    export_opts o = {0};
    int first;
    int rc = cu_parse(ctx, &cmd_export, argc, argv, lo, "f:", export_opt, &o, 0, 1, &first);
    if (rc)
        return rc;
    const char *path = cu_path(ctx, first < argc ? argv[first] : NULL);
    if ((rc = cu_connect_path(ctx, path)))
        return rc;
    static const char *const exclude[] = {"/zookeeper", NULL};
    zkd_walk_options wo;
    zkd_walk_options_init(&wo);
    wo.want_data = 1;
    wo.exclude = exclude;
    o.nodes = json_array();
    zkd_error err;
    term_progress_start(&o.progress, "export");
    rc = zkd_walk(ctx->client, path, &wo, export_visit, &o, &err);
    term_progress_end(&o.progress);
    if (rc) {
        json_decref(o.nodes);
        if (rc == ZKD_ENOMEM)
            return cli_error(ctx, EXIT_ERROR, "out of memory");
        return cli_fail(ctx, rc, &err);
    }
    size_t count = json_array_size(o.nodes);
    json_t *doc = json_pack("{s:s,s:s,s:b,s:o}", "format", EXPORT_FORMAT, "root", path,
                            "ephemeral", o.ephemeral, "nodes", o.nodes);
    rc = write_doc(ctx, doc, o.file);
    if (rc)
        return rc;
    if (o.file && strcmp(o.file, "-"))
        fprintf(stderr, "exported %zu node%s from %s to %s", count, count == 1 ? "" : "s", path, o.file);
    else
        fprintf(stderr, "exported %zu node%s from %s", count, count == 1 ? "" : "s", path);
    if (o.skipped_ephemeral)
        fprintf(stderr, " (%zu ephemeral left out; --ephemeral includes them)", o.skipped_ephemeral);
    fputc('\n', stderr);
    return o.unreadable ? cli_error(ctx, EXIT_NOAUTH, "%zu node%s could not be read", o.unreadable,
                                    o.unreadable == 1 ? "" : "s")
                        : 0;
}

const cli_command cmd_export = {
    "export", "write a subtree as a JSON document",
    "export [PATH] [-f FILE] [--ephemeral]\n\n"
    "Writes the subtree at PATH (default /; /zookeeper is left out) as one JSON\n"
    "document to stdout or FILE (written to a temporary file, then renamed):\n"
    "  {\"format\": \"zkdisc-export/1\", \"root\": PATH, \"ephemeral\": BOOL,\n"
    "   \"nodes\": [{\"path\", \"encoding\": \"utf-8\"|\"base64\", \"data\",\n"
    "              \"ephemeral\", \"stat\"}, ...]}\n"
    "in pre-order; data without an encoding is null. Reads are pipelined.\n"
    "  -f, --file FILE  write to FILE instead of stdout\n"
    "  --ephemeral      include ephemeral nodes (marked \"ephemeral\": true; import\n"
    "                   skips them)",
    run_export};

/* ---- import ------------------------------------------------------------------- */

typedef enum { ACT_CREATE, ACT_UPDATE, ACT_SAME, ACT_CONFLICT } action;

typedef struct inode {
    char *path;      /* where it goes */
    char *data;      /* decoded; NULL for none */
    size_t len;
    int depth;
    action act;
    int version;     /* ACT_UPDATE: the version seen */
} inode;

typedef struct existing {
    char *path;
    char *data;
    size_t len;
    int has;
    int version;
} existing;

typedef struct import_opts {
    const char *path;
    int dry_run;
    int overwrite;
    int batch;
} import_opts;

static int import_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    import_opts *o = ud;
    switch (opt) {
    case 'P': o->path = arg; return 0;
    case 'n': o->dry_run = 1; return 0;
    case 'w': o->overwrite = 1; return 0;
    case 'b': return cli_parse_int(ctx, "--batch", arg, 1, &o->batch);
    }
    return EXIT_USAGE;
}

static int depth_of(const char *p)
{
    if (!strcmp(p, "/"))
        return 0;
    int d = 0;
    for (; *p; p++)
        d += *p == '/';
    return d;
}

static int cmp_inode(const void *a, const void *b)
{
    const inode *x = a, *y = b;
    if (x->depth != y->depth)
        return x->depth < y->depth ? -1 : 1;
    return strcmp(x->path, y->path);
}

static int cmp_existing(const void *a, const void *b)
{
    return strcmp(((const existing *)a)->path, ((const existing *)b)->path);
}

typedef struct existing_list {
    existing *v;
    size_t count, cap;
} existing_list;

static int existing_visit(const zkd_walk_node *n, void *ud)
{
    existing_list *l = ud;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        existing *grown = realloc(l->v, cap * sizeof *grown);
        if (!grown)
            return ZKD_ENOMEM;
        l->v = grown;
        l->cap = cap;
    }
    existing *e = &l->v[l->count];
    memset(e, 0, sizeof *e);
    e->path = strdup(n->path);
    if (!e->path)
        return ZKD_ENOMEM;
    e->version = n->stat.version;
    e->has = n->data != NULL;
    if (n->data) {
        e->data = malloc(n->len + 1);
        if (!e->data) {
            free(e->path);
            return ZKD_ENOMEM;
        }
        memcpy(e->data, n->data, n->len);
        e->len = n->len;
    }
    l->count++;
    return 0;
}

/* Maps a path of the document (under doc_root) to its place under target. */
static char *remap(const char *path, const char *doc_root, const char *target)
{
    size_t rl = strcmp(doc_root, "/") ? strlen(doc_root) : 0;
    if (strncmp(path, doc_root, rl) != 0 || (path[rl] != '/' && path[rl] != '\0'))
        return NULL;
    const char *rest = path + rl; /* "" or "/..." */
    if (!strcmp(path, "/") && !strcmp(doc_root, "/"))
        rest = "";
    size_t tl = strcmp(target, "/") ? strlen(target) : 0;
    if (!*rest)
        return strdup(target);
    char *out = malloc(tl + strlen(rest) + 1);
    if (!out)
        return NULL;
    memcpy(out, target, tl);
    strcpy(out + tl, rest);
    return out;
}

static void inodes_free(inode *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].path);
        free(v[i].data);
    }
    free(v);
}

/* The most data zkd_node_create and zkd_node_multi accept for one node
 * (ZooKeeper's 1 MiB request less room for the rest of it). */
#define IMPORT_NODE_MAX (1024 * 1024 - 1024)

/* Parses the document into nodes placed under `target`. */
static int load_doc(cli *ctx, const char *file, const char *target_opt, inode **out, size_t *n_out,
                    size_t *ephemeral_out, char **target_out)
{
    char *text;
    size_t len;
    if (term_read_file(file, &text, &len) != 0)
        return cli_error(ctx, EXIT_ERROR, "cannot read %s: %s", file, strerror(errno));
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, 0, &jerr);
    free(text);
    if (!doc)
        return cli_error(ctx, EXIT_ERROR, "%s is not JSON: line %d, column %d: %s", file, jerr.line,
                         jerr.column, jerr.text);
    const char *format = json_string_value(json_object_get(doc, "format"));
    const char *root = json_string_value(json_object_get(doc, "root"));
    json_t *nodes = json_object_get(doc, "nodes");
    zkd_error err;
    if (!format || strcmp(format, EXPORT_FORMAT) || !root || !json_is_array(nodes)) {
        json_decref(doc);
        return cli_error(ctx, EXIT_ERROR, "%s is not a zkdisc export (format \"%s\" with root and nodes)",
                         file, EXPORT_FORMAT);
    }
    if (zkd_validate_path(root, &err) != 0) {
        json_decref(doc);
        return cli_error(ctx, EXIT_ERROR, "%s: bad root: %s", file, err.message);
    }
    const char *target = target_opt ? target_opt : root;
    size_t n = json_array_size(nodes), k = 0;
    inode *v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        json_decref(doc);
        return cli_error(ctx, EXIT_ERROR, "out of memory");
    }
    int rc = 0;
    *ephemeral_out = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *x = json_array_get(nodes, i);
        const char *path = json_string_value(json_object_get(x, "path"));
        json_t *data = json_object_get(x, "data");
        const char *enc = json_string_value(json_object_get(x, "encoding"));
        if (!path || zkd_validate_path(path, &err) != 0) {
            rc = cli_error(ctx, EXIT_ERROR, "%s: node %zu has no valid path", file, i);
            break;
        }
        if (json_is_true(json_object_get(x, "ephemeral"))) {
            (*ephemeral_out)++;
            continue;
        }
        inode *d = &v[k];
        if (!(d->path = remap(path, root, target)) || zkd_validate_path(d->path, &err) != 0) {
            free(d->path);
            d->path = NULL;
            rc = cli_error(ctx, EXIT_ERROR, "%s: node %s is not under the document's root %s", file, path, root);
            break;
        }
        if (enc && (!data || json_is_null(data))) {
            /* An encoding says there was data: never read its loss as "none". */
            rc = cli_error(ctx, EXIT_ERROR, "%s: node %s has an encoding but no data", file, path);
            break;
        } else if (json_is_null(data) || !data) {
            d->data = NULL;
        } else if (json_is_string(data) && (!enc || !strcmp(enc, "utf-8"))) {
            d->len = json_string_length(data);
            d->data = malloc(d->len + 1);
            if (d->data)
                memcpy(d->data, json_string_value(data), d->len + 1);
        } else if (json_is_string(data) && !strcmp(enc, "base64")) {
            d->data = render_unbase64(json_string_value(data), &d->len);
            if (!d->data)
                rc = cli_error(ctx, EXIT_ERROR, "%s: the data of %s is not valid base64", file, path);
        } else {
            rc = cli_error(ctx, EXIT_ERROR, "%s: node %s has data of an unknown encoding", file, path);
        }
        d->depth = depth_of(d->path);
        k++;
    }
    char *target_copy = rc ? NULL : strdup(target); /* target may live in doc */
    json_decref(doc);
    if (!rc && !target_copy)
        rc = cli_error(ctx, EXIT_ERROR, "out of memory");
    if (rc) {
        inodes_free(v, k + 1 <= n ? k + 1 : k);
        return rc;
    }
    if (k)
        qsort(v, k, sizeof *v, cmp_inode);
    for (size_t i = 1; i < k; i++)
        if (!strcmp(v[i].path, v[i - 1].path)) {
            rc = cli_error(ctx, EXIT_ERROR, "%s: %s appears twice", file, v[i].path);
            free(target_copy);
            inodes_free(v, k);
            return rc;
        }
    /* Every size before the first write: a node the server would refuse
     * must not be found after earlier batches were written. */
    for (size_t i = 0; i < k; i++)
        if (v[i].len > IMPORT_NODE_MAX) {
            rc = cli_error(ctx, EXIT_ERROR, "%s: the data of %s is %zu bytes, more than a znode "
                           "holds (%d); nothing was imported", file, v[i].path, v[i].len,
                           IMPORT_NODE_MAX);
            free(target_copy);
            inodes_free(v, k);
            return rc;
        }
    *target_out = target_copy;
    *out = v;
    *n_out = k;
    return 0;
}

static const char *act_name(action a)
{
    static const char *names[] = {"create", "update", "unchanged", "conflict"};
    return names[a];
}

static int run_import(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"path", required_argument, NULL, 'P'},
                                       {"dry-run", no_argument, NULL, 'n'},
                                       {"overwrite", no_argument, NULL, 'w'},
                                       {"batch", required_argument, NULL, 'b'},
                                       {0}};
    import_opts o = {.batch = 100};
    term_progress progress = {0}; /* off until the writes start */
    int first;
    int rc = cu_parse(ctx, &cmd_import, argc, argv, lo, "n", import_opt, &o, 1, 1, &first);
    if (rc)
        return rc;
    if (o.batch > ZKD_MULTI_MAX)
        return cli_error(ctx, EXIT_USAGE, "--batch is at most %d", ZKD_MULTI_MAX);
    zkd_error err;
    if (o.path && (rc = zkd_validate_path(o.path, &err)))
        return cli_fail(ctx, rc, &err);
    inode *v = NULL;
    size_t n = 0, ephemeral = 0;
    char *target = NULL;
    if ((rc = load_doc(ctx, argv[first], o.path, &v, &n, &ephemeral, &target)))
        return rc;
    if ((rc = cli_connect(ctx))) {
        inodes_free(v, n);
        free(target);
        return rc;
    }

    /* What is there already, read pipelined, to plan each node's action. */
    existing_list have = {0};
    zkd_walk_options wo;
    zkd_walk_options_init(&wo);
    wo.want_data = 1;
    rc = zkd_walk(ctx->client, target, &wo, existing_visit, &have, &err);
    if (rc && rc != ZKD_ENOTFOUND)
        goto out_fail;
    rc = 0;
    if (have.count)
        qsort(have.v, have.count, sizeof *have.v, cmp_existing);
    size_t counts[4] = {0};
    for (size_t i = 0; i < n; i++) {
        existing key = {.path = v[i].path};
        existing *e = have.count ? bsearch(&key, have.v, have.count, sizeof *have.v, cmp_existing) : NULL;
        if (!e)
            v[i].act = ACT_CREATE;
        else if (e->len == v[i].len && (!e->len || !memcmp(e->data, v[i].data, e->len)))
            /* ZooKeeper hands back no data and empty data alike */
            v[i].act = ACT_SAME;
        else
            v[i].act = o.overwrite ? ACT_UPDATE : ACT_CONFLICT;
        if (e)
            v[i].version = e->version;
        counts[v[i].act]++;
    }
    /* The target's parent must exist (create it, as zkdisc create -p would). */
    char *parent = NULL;
    int need_parent = 0;
    if (n && v[0].act == ACT_CREATE && strcmp(target, "/")) {
        const char *slash = strrchr(target, '/');
        parent = slash == target ? strdup("/") : strndup(target, (size_t)(slash - target));
        if (parent && strcmp(parent, "/"))
            need_parent = zkd_node_stat(ctx->client, parent, NULL, NULL) == ZKD_ENOTFOUND;
    }

    json_t *plan = ctx->json ? json_array() : NULL;
    if (o.dry_run || counts[ACT_CONFLICT]) {
        size_t shown = 0;
        if (need_parent && !plan && o.dry_run)
            printf("create parents of %s\n", target);
        for (size_t i = 0; i < n; i++) {
            /* Only changes: 20,000 "unchanged" lines would hide the few that matter. */
            if ((!o.dry_run && v[i].act != ACT_CONFLICT) || v[i].act == ACT_SAME)
                continue;
            if (plan)
                json_array_append_new(plan, json_pack("{s:s,s:s}", "action", act_name(v[i].act), "path", v[i].path));
            else if (v[i].act == ACT_CONFLICT && !o.dry_run && shown++ >= 20)
                continue;
            else
                printf("%-9s %s%s\n", act_name(v[i].act), v[i].path,
                       v[i].act == ACT_CONFLICT ? "  (exists with other data; --overwrite replaces it)" : "");
        }
    }
    size_t batches = 0, created = 0, updated = 0;
    if (!o.dry_run && counts[ACT_CONFLICT]) {
        rc = cli_error(ctx, EXIT_CONFLICT, "%zu node%s already exist%s with other data under %s; "
                       "nothing was imported (--overwrite replaces them)", counts[ACT_CONFLICT],
                       counts[ACT_CONFLICT] == 1 ? "" : "s", counts[ACT_CONFLICT] == 1 ? "s" : "", target);
    } else if (!o.dry_run) {
        if (need_parent) {
            zkd_create_options co = {.parents = 1};
            rc = zkd_node_create(ctx->client, parent, NULL, 0, &co, NULL, &err);
            if (rc && rc != ZKD_EEXISTS) {
                rc = cu_fail(ctx, rc, &err);
                goto report;
            }
            rc = 0;
        }
        zkd_multi_op *ops = calloc((size_t)o.batch, sizeof *ops);
        size_t *idx = calloc((size_t)o.batch, sizeof *idx);
        if (!ops || !idx) {
            free(ops);
            free(idx);
            rc = cli_error(ctx, EXIT_ERROR, "out of memory");
            goto report;
        }
        size_t i = 0;
        term_progress_start(&progress, "import");
        while (i < n && !rc) {
            size_t k = 0, bytes = 0;
            /* A batch: up to --batch writes and well under ZooKeeper's 1 MiB request. */
            for (; i < n && k < (size_t)o.batch; i++) {
                if (v[i].act != ACT_CREATE && v[i].act != ACT_UPDATE)
                    continue;
                size_t cost = v[i].len + strlen(v[i].path) + 64;
                if (k && bytes + cost > 768 * 1024)
                    break;
                bytes += cost;
                idx[k] = i;
                ops[k++] = (zkd_multi_op){.kind = v[i].act == ACT_CREATE ? ZKD_MULTI_CREATE : ZKD_MULTI_SET,
                                          .path = v[i].path, .data = v[i].data, .len = v[i].len,
                                          .version = v[i].act == ACT_UPDATE ? v[i].version : -1};
            }
            if (!k)
                break;
            size_t bad = 0;
            int mrc = zkd_node_multi(ctx->client, ops, k, NULL, &bad, &err);
            if (mrc) {
                rc = cli_error(ctx, cu_exit_code(mrc), "batch %zu (%zu operation%s) was not applied: %s; "
                               "%zu earlier batch%s (%zu created, %zu updated) were", batches + 1, k,
                               k == 1 ? "" : "s", err.message, batches, batches == 1 ? "" : "es",
                               created, updated);
                break;
            }
            batches++;
            term_progress_add(&progress, k);
            for (size_t j = 0; j < k; j++)
                *(v[idx[j]].act == ACT_CREATE ? &created : &updated) += 1;
        }
        free(ops);
        free(idx);
    }
report:
    term_progress_end(&progress);
    if (plan) {
        json_t *r = json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I}", "path", target, "dryRun", o.dry_run,
                              "created", (json_int_t)(o.dry_run ? counts[ACT_CREATE] : created),
                              "updated", (json_int_t)(o.dry_run ? counts[ACT_UPDATE] : updated),
                              "unchanged", (json_int_t)counts[ACT_SAME],
                              "conflicts", (json_int_t)counts[ACT_CONFLICT],
                              "skippedEphemeral", (json_int_t)ephemeral, "batches", (json_int_t)batches);
        json_object_set_new(r, "plan", plan);
        if (!o.dry_run && !counts[ACT_CONFLICT])
            json_object_del(r, "plan");
        render_json(r);
    } else if (o.dry_run) {
        /* Import never deletes: what is there but not in the file stays. */
        size_t kept = have.count - counts[ACT_SAME] - counts[ACT_UPDATE] - counts[ACT_CONFLICT];
        printf("dry run for %s: %zu to create, %zu to change, %zu unchanged, 0 to delete (%zu "
               "not in the file stay), %zu conflict%s, %zu ephemeral skipped\n", target,
               counts[ACT_CREATE], counts[ACT_UPDATE], counts[ACT_SAME], kept, counts[ACT_CONFLICT],
               counts[ACT_CONFLICT] == 1 ? "" : "s", ephemeral);
    } else if (!rc) {
        printf("imported into %s: %zu created, %zu updated, %zu unchanged, %zu ephemeral skipped "
               "(%zu batch%s)\n", target, created, updated, counts[ACT_SAME], ephemeral, batches,
               batches == 1 ? "" : "es");
    }
    if (!rc && o.dry_run && counts[ACT_CONFLICT])
        rc = EXIT_CONFLICT;
    free(parent);
    goto out;
out_fail:
    rc = rc == ZKD_ENOMEM ? cli_error(ctx, EXIT_ERROR, "out of memory") : cli_fail(ctx, rc, &err);
out:
    for (size_t i = 0; i < have.count; i++) {
        free(have.v[i].path);
        free(have.v[i].data);
    }
    free(have.v);
    inodes_free(v, n);
    free(target);
    return rc;
}

const cli_command cmd_import = {
    "import", "restore a subtree from an export",
    "import FILE [--path P] [--dry-run] [--overwrite] [--batch N]\n\n"
    "Restores the nodes of an export (FILE \"-\": stdin) under their root, or\n"
    "under P instead. Parents come before children; writes go in multi\n"
    "transactions of N operations (default 100): each batch is applied whole\n"
    "or not at all. A node that exists with the same data is left alone; one\n"
    "with other data is a conflict: nothing is imported and it exits 5, unless\n"
    "--overwrite, which sets its data (checking the version it just read).\n"
    "Ephemeral nodes in the document are never created. New nodes get the open\n"
    "ACL. Reports what it did.\n"
    "  --path P     import under P instead of the document's root\n"
    "  -n, --dry-run  print the nodes it would create or change (or that conflict)\n"
    "               and the counts, and write nothing (exit 5 if it would conflict)\n"
    "  --overwrite  replace the data of existing nodes\n"
    "  --batch N    operations per transaction (1..1000)",
    run_import};
