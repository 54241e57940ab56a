/* SPDX-License-Identifier: Apache-2.0 */
/* Discovery from the command line: services, instances (--watch), pick,
 * and the operator's deregister, drain and undrain. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "mutation_report.h"
#include "render.h"
#include "term.h"
#include "textwidth.h"

static const char *format_name(const zkd_instance *i)
{
    static const char *names[] = {"curator", "serverset", "nerve"};
    zkd_format f = zkd_instance_format(i);
    return f <= ZKD_FORMAT_NERVE ? names[f] : "unknown";
}

/* The record with Curator's field names, plus where it lives: "znode" (the
 * child's name, not always the record's id), "registrationTime" (Curator's
 * registrationTimeUTC as RFC 3339 text, when the record has one) and, for
 * records zkdisc only reads, "format". */
static json_t *instance_json(const zkd_instance *i)
{
    char *s = zkd_instance_to_json(i);
    json_t *v = s ? json_loads(s, 0, NULL) : NULL;
    zkd_free(s);
    if (!v)
        return json_null();
    json_object_set_new(v, "znode", json_string(zkd_instance_znode(i)));
    if (zkd_instance_registration_time(i) > 0) {
        char when[RENDER_TIME_LEN];
        render_time(when, sizeof when, zkd_instance_registration_time(i));
        json_object_set_new(v, "registrationTime", json_string(when));
    }
    if (zkd_instance_format(i) != ZKD_FORMAT_CURATOR)
        json_object_set_new(v, "format", json_string(format_name(i)));
    return v;
}

/* Whether <root>/services/SERVICE[/CHILD] exists (an error counts as yes:
 * the caller's next request reports it). */
static int node_exists(cli *ctx, const char *service, const char *child)
{
    const char *root = zkd_client_root(ctx->client);
    char *path = NULL;
    if (asprintf(&path, "%s/services/%s%s%s", strcmp(root, "/") ? root : "", service,
                 child ? "/" : "", child ? child : "") < 0)
        return 1;
    int rc = zkd_node_stat(ctx->client, path, NULL, NULL);
    free(path);
    return rc != ZKD_ENOTFOUND;
}

/* Parses "CMD [options] ARGS" with `nargs` positional arguments, checks the
 * first is a valid service name, and connects. */
static int service_args(cli *ctx, const cli_command *cmd, int argc, char **argv, int nargs,
                        const struct option *lo, const char *so,
                        int (*on_opt)(cli *, int, const char *, void *), void *ud, char ***args)
{
    int first;
    int rc = cli_parse(ctx, cmd, argc, argv, lo, so, on_opt, ud, &first);
    if (rc || (rc = cli_expect_args(ctx, cmd, argc - first, nargs, nargs)))
        return rc;
    *args = &argv[first];
    zkd_error err;
    if (nargs > 0 && (rc = zkd_validate_name("service", argv[first], &err)))
        return cli_fail(ctx, rc, &err);
    /* A second argument is an instance's znode name, which other writers
     * may have chosen freely ("web 1"): the library checks it as a path. */
    return cli_connect(ctx);
}

/* A flag option (`--all`, `--ssl`, `--watch`): sets the int ud points at. */
static int flag_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    (void)ctx;
    (void)arg;
    (void)opt;
    *(int *)ud = 1;
    return 0;
}

/* ---- services --------------------------------------------------------------- */

typedef struct service_row {
    char *name;
    size_t live;
    uint64_t malformed;
} service_row;

typedef struct service_rows {
    service_row *v;
    size_t n, cap;
} service_rows;

static int instance_data_only(const char *path, int depth, void *ctx)
{
    (void)path;
    (void)ctx;
    return depth == 2;
}

/* One pipelined walk of <root>/services two levels deep: a row per service,
 * counting the records that parse (ServerSet members that are ALIVE) as
 * live and the rest as malformed. A raw child count would count dead and
 * malformed members as instances. */
static int count_visit(const zkd_walk_node *node, void *ud)
{
    service_rows *r = ud;
    if (node->depth == 1) {
        if (r->n == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 64;
            service_row *grown = realloc(r->v, cap * sizeof *grown);
            if (!grown)
                return ZKD_ENOMEM;
            r->v = grown;
            r->cap = cap;
        }
        r->v[r->n] = (service_row){strdup(node->name), 0, 0};
        return r->v[r->n++].name ? 0 : ZKD_ENOMEM;
    }
    if (node->depth != 2 || node->rc || !r->n)
        return 0;
    service_row *row = &r->v[r->n - 1];
    zkd_instance *i = NULL;
    int rc = zkd_instance_parse(row->name, node->name, node->data, node->data ? node->len : 0, &i,
                                NULL);
    row->live += rc == 0;
    row->malformed += rc == ZKD_EBADDATA;
    zkd_instance_unref(i);
    return 0;
}

static int count_services(cli *ctx, service_rows *rows, zkd_error *err)
{
    const char *root = zkd_client_root(ctx->client);
    char path[512];
    snprintf(path, sizeof path, "%s/services", strcmp(root, "/") ? root : "");
    zkd_walk_options wo;
    zkd_walk_options_init(&wo);
    wo.max_depth = 2;
    wo.data_filter = instance_data_only;
    int rc = zkd_walk(ctx->client, path, &wo, count_visit, rows, err);
    if (rc == ZKD_ENOMEM)
        zkd_error_clear(err);
    return rc == ZKD_ENOTFOUND ? 0 : rc; /* no services yet */
}

static void print_services(cli *ctx, const service_row *rows, size_t n)
{
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:s,s:I,s:I}", "name", rows[i].name,
                                                 "instances", (json_int_t)rows[i].live,
                                                 "malformed", (json_int_t)rows[i].malformed));
        render_json(arr);
        return;
    }
    static const char *const heads[] = {"SERVICE", "INSTANCES", "MALFORMED"};
    tw_table *t = tw_table_new(3, heads, "lRD");
    for (size_t i = 0; i < n; i++) {
        char live[24], bad[24];
        snprintf(live, sizeof live, "%zu", rows[i].live);
        snprintf(bad, sizeof bad, "%llu", (unsigned long long)rows[i].malformed);
        tw_table_add(t, (const char *const[]){rows[i].name, live, bad});
    }
    tw_table_print(t, stdout, tw_table_width(), 1);
}

static int run_services(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"all", no_argument, NULL, 'a'}, {0}};
    int all = 0;
    char **args;
    int rc = service_args(ctx, &cmd_services, argc, argv, 0, lo, "a", flag_opt, &all, &args);
    if (rc)
        return rc;
    service_rows rows = {0};
    zkd_error err;
    zkd_error_clear(&err);
    if ((rc = count_services(ctx, &rows, &err))) {
        rc = err.code ? cli_fail(ctx, rc, &err) : cli_error(ctx, EXIT_ERROR, "out of memory");
    } else {
        size_t shown = 0;
        for (size_t i = 0; i < rows.n; i++) /* shown ones first, order kept; all freed below */
            if (all || rows.v[i].live > 0) {
                service_row t = rows.v[shown];
                rows.v[shown++] = rows.v[i];
                rows.v[i] = t;
            }
        print_services(ctx, rows.v, shown);
    }
    for (size_t i = 0; i < rows.n; i++)
        free(rows.v[i].name);
    free(rows.v);
    return rc;
}

const cli_command cmd_services = {
    "services", "list services with their live instance counts",
    "services [--all]\n\nLists the services under <root>/services that have at least one live\n"
    "instance, with the number of live instances and of malformed records\n"
    "skipped (-o json: [{\"name\":...,\"instances\":N,\"malformed\":M}]).\n"
    "A ServerSet member that is not ALIVE is not live and not malformed.\n"
    "  -a, --all   also list services with no live instance",
    run_services};

/* ---- instances ------------------------------------------------------------- */

/* 1 when another instance of the snapshot carries the same record id (two
 * znodes, one id: a copy by hand, or a writer that reuses ids). A snapshot
 * is sorted by id, so equal ids are neighbours: O(1), not a scan. */
static int duplicate_id(const zkd_snapshot *s, size_t k)
{
    const char *id = zkd_instance_id(zkd_snapshot_at(s, k));
    return (k > 0 && !strcmp(id, zkd_instance_id(zkd_snapshot_at(s, k - 1)))) ||
           (k + 1 < zkd_snapshot_count(s) && !strcmp(id, zkd_instance_id(zkd_snapshot_at(s, k + 1))));
}

/* The table of instances: as wide as its content when piped (scripts get
 * every byte of every cell); on a terminal or with COLUMNS set, the widest
 * columns give way with "…". */
static void print_table(const zkd_snapshot *s, int ssl)
{
    int show_znode = 0; /* some znode is not named after its record's id */
    for (size_t k = 0; k < zkd_snapshot_count(s); k++) {
        const zkd_instance *i = zkd_snapshot_at(s, k);
        show_znode |= strcmp(zkd_instance_id(i), zkd_instance_znode(i)) != 0;
    }
    static const char *const heads[] = {"ID", "ZNODE", "ENDPOINT", "ZONE", "WEIGHT", "STATE"};
    int skip = !show_znode; /* the ZNODE column only when it says something */
    const char *h[6];
    for (int c = 0, o = 0; c < 6; c++)
        if (c != 1 || !skip)
            h[o++] = heads[c];
    tw_table *t = tw_table_new(6 - skip, h, skip ? "lLlDL" : "llLlDL");
    for (size_t k = 0; k < zkd_snapshot_count(s); k++) {
        const zkd_instance *i = zkd_snapshot_at(s, k);
        char ep[300], weight[16], state[32];
        zkd_instance_endpoint(i, ssl, ep, sizeof ep);
        snprintf(weight, sizeof weight, "%d", zkd_instance_weight(i));
        snprintf(state, sizeof state, "%s%s", zkd_instance_enabled(i) ? "up" : "drained",
                 duplicate_id(s, k) ? ",duplicate-id" : "");
        const char *zone = zkd_instance_zone(i);
        const char *row[6] = {zkd_instance_id(i), zkd_instance_znode(i), ep, zone ? zone : "-",
                              weight, state};
        const char *r[6];
        for (int c = 0, o = 0; c < 6; c++)
            if (c != 1 || !skip)
                r[o++] = row[c];
        tw_table_add(t, r);
    }
    tw_table_print(t, stdout, tw_table_width(), 1);
}

/* Appends ,"key":<value as compact JSON> before the record's closing brace;
 * nothing when jansson will not hold the value (as json_object_set_new). */
static void put_field(const char *key, json_t *value, int *empty)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (text)
        printf("%s\"%s\":%s", *empty ? "" : ",", key, text);
    if (text)
        *empty = 0;
    free(text);
    json_decref(value);
}

/* Compact -o json, the bytes render_json writes for the array instance_json
 * builds, without parsing each record's text back into a tree and dumping
 * it again (half of a large listing's CPU). */
static void print_instances_compact(const zkd_snapshot *s)
{
    putchar('[');
    for (size_t k = 0; k < zkd_snapshot_count(s); k++) {
        const zkd_instance *i = zkd_snapshot_at(s, k);
        char *text = zkd_instance_to_json(i);
        size_t len = text ? strlen(text) : 0;
        json_t *check = NULL; /* a \u0000 jansson will not read back: null, as instance_json */
        if (k)
            putchar(',');
        if (len < 2 || text[len - 1] != '}' ||
            (strstr(text, "\\u0000") && !(check = json_loads(text, 0, NULL)))) {
            fputs("null", stdout);
            zkd_free(text);
            continue;
        }
        json_decref(check);
        fwrite(text, 1, len - 1, stdout);
        int empty = len == 2; /* "{}" */
        put_field("znode", json_string(zkd_instance_znode(i)), &empty);
        if (zkd_instance_registration_time(i) > 0) {
            char when[RENDER_TIME_LEN];
            render_time(when, sizeof when, zkd_instance_registration_time(i));
            put_field("registrationTime", json_string(when), &empty);
        }
        if (zkd_instance_format(i) != ZKD_FORMAT_CURATOR)
            put_field("format", json_string(format_name(i)), &empty);
        if (duplicate_id(s, k))
            put_field("duplicateId", json_true(), &empty);
        putchar('}');
        zkd_free(text);
    }
    fputs("]\n", stdout);
}

static void print_instances(cli *ctx, const char *service, const zkd_snapshot *s, int ssl)
{
    size_t dups = 0;
    for (size_t k = 0; k < zkd_snapshot_count(s); k++)
        dups += (size_t)duplicate_id(s, k);
    if (ctx->json && !render_json_is_pretty()) {
        print_instances_compact(s);
    } else if (ctx->json) {
        json_t *arr = json_array();
        for (size_t k = 0; k < zkd_snapshot_count(s); k++) {
            json_t *v = instance_json(zkd_snapshot_at(s, k));
            if (duplicate_id(s, k))
                json_object_set_new(v, "duplicateId", json_true());
            json_array_append_new(arr, v);
        }
        render_json(arr);
    } else {
        print_table(s, ssl);
    }
    if (dups)
        fprintf(stderr, "zkdisc instances: %zu znodes of %s share a record id with another "
                        "(marked duplicate-id); name them by znode\n", dups, service);
}

typedef struct watch_ctx {
    cli *cli;
    int ssl;
} watch_ctx;

static void print_delta(zkd_cache *k, const zkd_delta *d, size_t n, void *ud)
{
    (void)k;
    watch_ctx *w = ud;
    static const char *names[] = {"", "added", "removed", "changed"}; /* as `watch` says */
    char ts[40];
    term_timestamp(ts, sizeof ts);
    for (size_t x = 0; x < n; x++) {
        const zkd_instance *i = d[x].now ? d[x].now : d[x].before;
        if (w->cli->json) {
            render_json_line(json_pack("{s:s,s:s,s:o}", "time", ts, "event", names[d[x].kind],
                                 "instance", instance_json(i)));
        } else {
            char ep[300];
            zkd_instance_endpoint(i, w->ssl, ep, sizeof ep);
            printf("%s %s %s %s\n", ts, names[d[x].kind], zkd_instance_id(i), ep);
        }
    }
    fflush(stdout);
}

static void print_skipped(cli *ctx, uint64_t malformed)
{
    char ts[40];
    term_timestamp(ts, sizeof ts);
    if (ctx->json)
        render_json_line(json_pack("{s:s,s:s,s:I}", "time", ts, "event", "skipped", "malformed",
                             (json_int_t)malformed));
    else
        printf("%s skipped %llu malformed record%s\n", ts, (unsigned long long)malformed,
               malformed == 1 ? "" : "s");
    fflush(stdout);
}

/* Prints deltas as they come, and a skipped line whenever the count of
 * malformed records changes (the cache reports no delta for those). */
static int watch_instances(cli *ctx, const char *service, int ssl, const sigset_t *set)
{
    zkd_cache *k;
    zkd_error err;
    watch_ctx w = {ctx, ssl};
    int rc = zkd_cache_open(ctx->client, service, print_delta, &w, &k, &err);
    if (rc)
        return cli_fail(ctx, rc, &err);
    zkd_cache_wait_ready(k, ctx->timeout_ms > 0 ? ctx->timeout_ms : 10000, NULL);
    uint64_t shown = 0;
    const struct timespec poll = {0, 200 * 1000 * 1000};
    for (;;) {
        uint64_t now = zkd_cache_malformed(k);
        if (now != shown)
            print_skipped(ctx, now);
        shown = now;
        if (sigtimedwait(set, NULL, &poll) >= 0)
            break;
    }
    zkd_cache_close(k);
    return 0;
}

typedef struct instances_args {
    int watch, ssl;
} instances_args;

static int instances_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    instances_args *a = ud;
    return flag_opt(ctx, opt, arg, opt == 'w' ? &a->watch : &a->ssl);
}

static int run_instances(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"watch", no_argument, NULL, 'w'},
                                       {"ssl", no_argument, NULL, 's'},
                                       {0}};
    instances_args a = {0};
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* Before connecting: the library's threads inherit the blocked mask. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    char **args;
    int rc = service_args(ctx, &cmd_instances, argc, argv, 1, lo, "w", instances_opt, &a, &args);
    if (rc)
        return rc;
    if (a.watch)
        return watch_instances(ctx, args[0], a.ssl, &set);
    zkd_snapshot *s;
    uint64_t malformed = 0;
    zkd_error err;
    if ((rc = zkd_instances_query(ctx->client, args[0], &s, &malformed, &err)))
        return cli_fail(ctx, rc, &err);
    /* Exit 4 for a service that is not there, as pick does; an existing
     * service with no instance is an empty table. */
    if (zkd_snapshot_count(s) == 0 && malformed == 0 && !node_exists(ctx, args[0], NULL)) {
        zkd_snapshot_unref(s);
        return cli_error(ctx, EXIT_NOTFOUND, "no service %s", args[0]);
    }
    print_instances(ctx, args[0], s, a.ssl);
    if (malformed)
        fprintf(stderr, "zkdisc instances: skipped %llu malformed record%s under %s%s\n",
                (unsigned long long)malformed, malformed == 1 ? "" : "s", args[0],
                ctx->verbose ? "" : " (-v names them)");
    zkd_snapshot_unref(s);
    return 0;
}

const cli_command cmd_instances = {
    "instances", "list a service's instances, or watch them change",
    "instances SERVICE [--watch] [--ssl]\n\n"
    "Lists SERVICE's instances as a table; a ZNODE column appears when a znode\n"
    "is not named after its record's id (Curator's DYNAMIC_SEQUENTIAL), and\n"
    "two znodes with one record id are marked duplicate-id. -o json: an array\n"
    "of records with Curator's field names plus \"znode\" (and \"format\" for\n"
    "ServerSet and Nerve records). Malformed records are skipped and counted on\n"
    "stderr. Exit 4 when the service does not exist.\n"
    "  --ssl     show sslPort where a record has one (a record with only an\n"
    "            sslPort always shows it, as https:// when its uriSpec has a scheme)\n"
    "  --watch   print one line per change until interrupted:\n"
    "            TIME added|removed|changed <id> <endpoint>, and\n"
    "            TIME skipped <n> malformed records when that count changes;\n"
    "            TIME is RFC 3339 UTC. The current instances come first, as\n"
    "            added (-o json: one object per line, with \"time\")",
    run_instances};

/* ---- pick -------------------------------------------------------------------- */

typedef struct pick_args {
    zkd_balancer_options o;
    const char *meta[33];
    int nmeta;
    int ssl;
} pick_args;

static int pick_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    pick_args *p = ud;
    if (opt == 's') {
        static const char *names[] = {"round-robin", "random", "weighted"};
        for (int i = 0; i < 3; i++)
            if (!strcmp(arg, names[i])) {
                p->o.strategy = (zkd_strategy)i;
                return 0;
            }
        return cli_error(ctx, EXIT_USAGE, "--strategy takes round-robin, random or weighted");
    }
    if (opt == 'z') {
        p->o.zone = arg;
        return 0;
    }
    if (opt == 'S')
        return flag_opt(ctx, opt, arg, &p->ssl);
    if (opt == 'm' && p->nmeta < 32 && strchr(arg, '=')) {
        p->meta[p->nmeta++] = arg;
        return 0;
    }
    return cli_error(ctx, EXIT_USAGE, "--meta takes key=value (at most 32)");
}

static int run_pick(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"strategy", required_argument, NULL, 's'},
                                       {"zone", required_argument, NULL, 'z'},
                                       {"meta", required_argument, NULL, 'm'},
                                       {"ssl", no_argument, NULL, 'S'},
                                       {0}};
    pick_args p = {0};
    zkd_balancer_options_init(&p.o);
    p.o.strategy = ZKD_PICK_RANDOM;
    char **args;
    int rc = service_args(ctx, &cmd_pick, argc, argv, 1, lo, "", pick_opt, &p, &args);
    if (rc)
        return rc;
    p.meta[p.nmeta] = NULL;
    p.o.meta = p.meta;
    zkd_snapshot *s;
    zkd_balancer *b;
    zkd_instance *chosen;
    zkd_error err;
    if ((rc = zkd_instances_query(ctx->client, args[0], &s, NULL, &err)))
        return cli_fail(ctx, rc, &err);
    if ((rc = zkd_balancer_new(NULL, &p.o, &b, &err)) == 0) {
        rc = zkd_balancer_select_from(b, s, &chosen, &err);
        zkd_balancer_close(b);
    }
    zkd_snapshot_unref(s);
    if (rc == ZKD_ENOTFOUND)
        return cli_error(ctx, EXIT_NOTFOUND, "no instance of %s matches", args[0]);
    if (rc)
        return cli_fail(ctx, rc, &err);
    if (ctx->json) {
        render_json(instance_json(chosen));
    } else {
        char ep[300];
        zkd_instance_endpoint(chosen, p.ssl, ep, sizeof ep);
        puts(ep);
    }
    zkd_instance_unref(chosen);
    return 0;
}

const cli_command cmd_pick = {
    "pick", "choose one instance of a service",
    "pick SERVICE [--strategy random|weighted|round-robin] [--zone Z]\n"
    "       [--meta k=v ...] [--ssl]\n\n"
    "Prints one address:port of SERVICE (-o json: the record), skipping drained\n"
    "instances. Exit 4 when none matches. Default strategy: random (a one-shot\n"
    "pick has no memory, so round-robin always gives the first eligible one).\n"
    "A record with only an sslPort prints address:sslPort (https://address:sslPort\n"
    "when its uriSpec has a scheme); --ssl prefers the sslPort where there is one.",
    run_pick};

/* ---- deregister, drain, undrain ------------------------------------------------ */

/* The znode an operator means by ID: the znode of that name, else the one
 * znode whose record carries that id (Curator's DYNAMIC_SEQUENTIAL
 * instances live in "q10000000000" with the id "q1"). *out is that name
 * (malloc'd); returns 0 or an exit code after a message. */
static int resolve_znode(cli *ctx, const char *service, const char *id, char **out)
{
    *out = NULL;
    if (node_exists(ctx, service, id)) /* the common case: one request, not the records */
        return (*out = strdup(id)) ? 0 : cli_error(ctx, EXIT_ERROR, "out of memory");
    zkd_snapshot *s;
    zkd_error err;
    int rc = zkd_instances_query(ctx->client, service, &s, NULL, &err);
    if (rc)
        return cli_fail(ctx, rc, &err);
    size_t found = 0;
    const zkd_instance *by_id = NULL;
    for (size_t k = 0; k < zkd_snapshot_count(s); k++)
        if (!strcmp(zkd_instance_id(zkd_snapshot_at(s, k)), id)) {
            by_id = zkd_snapshot_at(s, k);
            found++;
        }
    /* Not there at all: the action reports it (exit 4). */
    *out = strdup(found == 1 ? zkd_instance_znode(by_id) : id);
    if (found > 1)
        rc = cli_error(ctx, EXIT_USAGE,
                       "%zu znodes of %s carry the record id \"%s\"; name one by its znode "
                       "(zkdisc instances %s shows them)", found, service, id, service);
    else if (!*out)
        rc = cli_error(ctx, EXIT_ERROR, "out of memory");
    zkd_snapshot_unref(s);
    return rc;
}

/* Whether the instance's record already says `enabled` (1), not (0), or it
 * cannot be read (-1: the write that follows reports why). */
static int enabled_now(cli *ctx, const char *service, const char *znode, int enabled)
{
    const char *root = zkd_client_root(ctx->client);
    char *path = NULL, *data = NULL;
    size_t len = 0;
    zkd_instance *i = NULL;
    int same = -1;
    if (asprintf(&path, "%s/services/%s/%s", strcmp(root, "/") ? root : "", service, znode) >= 0 &&
        zkd_node_get(ctx->client, path, &data, &len, NULL, NULL) == 0 &&
        zkd_instance_parse(service, znode, data, len, &i, NULL) == 0)
        same = !zkd_instance_enabled(i) == !enabled;
    zkd_instance_unref(i);
    zkd_free(data);
    free(path);
    return same;
}

/* "drained web/w1", "web/w1 already drained", or the JSON of it. */
static int operator_report(cli *ctx, const char *service, const char *id, int what, int changed)
{
    static const char *const verbs[] = {"deregister", "drain", "undrain"};
    static const char *const done[] = {"deregistered", "drained", "undrained"};
    static const char *const already[] = {"", "already drained", "not drained"};
    json_t *f = json_pack("{s:s,s:s}", "service", service, "id", id);
    if (changed)
        return mr_report(ctx, verbs[what + 1], 1, f, "%s %s/%s", done[what + 1], service, id);
    return mr_report(ctx, verbs[what + 1], 0, f, "%s/%s %s", service, id, already[what + 1]);
}

static int operator_action(cli *ctx, const cli_command *cmd, int argc, char **argv, int what)
{
    char **args;
    int rc = service_args(ctx, cmd, argc, argv, 2, NULL, NULL, NULL, NULL, &args);
    if (rc)
        return rc;
    char *znode;
    if ((rc = resolve_znode(ctx, args[0], args[1], &znode))) {
        free(znode);
        return rc;
    }
    if (what >= 0 && enabled_now(ctx, args[0], znode, what) == 1) {
        free(znode);
        return operator_report(ctx, args[0], args[1], what, 0);
    }
    zkd_error err;
    rc = what < 0 ? zkd_instance_remove(ctx->client, args[0], znode, &err)
                  : zkd_instance_set_enabled(ctx->client, args[0], znode, what, &err);
    if (rc == ZKD_ENOAUTH) {
        /* a drain writes the instance; a removal is checked on the service */
        const char *root = zkd_client_root(ctx->client);
        char svc[1024], inst[1300];
        snprintf(svc, sizeof svc, "%s/services/%s", strcmp(root, "/") ? root : "", args[0]);
        snprintf(inst, sizeof inst, "%s/%s", svc, znode);
        free(znode);
        return acl_refused(ctx, cmd->name, inst, what < 0 ? svc : inst,
                           what < 0 ? ZKD_PERM_DELETE : ZKD_PERM_WRITE);
    }
    free(znode);
    return rc ? cli_fail(ctx, rc, &err) : operator_report(ctx, args[0], args[1], what, 1);
}

static int run_deregister(cli *ctx, int argc, char **argv)
{
    return operator_action(ctx, &cmd_deregister, argc, argv, -1);
}
static int run_drain(cli *ctx, int argc, char **argv)
{
    return operator_action(ctx, &cmd_drain, argc, argv, 0);
}
static int run_undrain(cli *ctx, int argc, char **argv)
{
    return operator_action(ctx, &cmd_undrain, argc, argv, 1);
}

const cli_command cmd_deregister = {
    "deregister", "remove an instance (operator)",
    "deregister SERVICE ID\n\nRemoves instance ID of SERVICE. Exit 4 if it is not registered.\n"
    "ID is a znode's name, any that exists under SERVICE (\"web 1\", \"q1@host\":\n"
    "quote it for the shell), or a record's id (the znode is found by reading\n"
    "the records; an id carried by two znodes is refused, exit 2). Same for\n"
    "drain and undrain.\n"
    "A process holding the registration does not put it back; to stop traffic\n"
    "but keep the record, use drain.\n"
    "Prints what it did (\"deregistered web/w1\"; -o json: {\"action\", \"service\",\n"
    "\"id\", \"changed\"}); drain and undrain too.",
    run_deregister};

const cli_command cmd_drain = {
    "drain", "mark an instance disabled so balancers skip it",
    "drain SERVICE ID\n\nSets \"enabled\": false in the instance's record. The registering\n"
    "process keeps that flag across its own updates and re-registrations.\n"
    "Prints \"drained web/w1\", or \"web/w1 already drained\" (exit 0, nothing\n"
    "written) when it is.",
    run_drain};

const cli_command cmd_undrain = {
    "undrain", "enable a drained instance again",
    "undrain SERVICE ID\n\nRemoves \"enabled\": false from the instance's record. Prints\n"
    "\"undrained web/w1\", or \"web/w1 not drained\" (exit 0) when it was not.",
    run_undrain};
