/* SPDX-License-Identifier: Apache-2.0 */
/* `zkdisc config` reading subcommands: history, list, diff, watch. */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd_config.h"
#include "term.h"
#include "textwidth.h"

enum { O_COUNT = 2100, O_SNAPSHOT_DIR };

static int plain_parse(cli *ctx, const cli_command *cmd, int argc, char **argv, int min, int max,
                       int *first)
{
    int rc = cli_parse(ctx, cmd, argc, argv, NULL, NULL, NULL, NULL, first);
    return rc ? rc : cli_expect_args(ctx, cmd, argc - *first, min, max);
}

static int check_app(cli *ctx, const char *app)
{
    zkd_error err;
    int rc = zkd_validate_name("app", app, &err);
    return rc ? cli_fail(ctx, rc, &err) : 0;
}

/* ---- history ------------------------------------------------------------------- */

static int run_history(cli *ctx, int argc, char **argv)
{
    int first;
    int rc = plain_parse(ctx, &cfg_history, argc, argv, 1, 1, &first);
    if (rc)
        return rc;
    const char *app = argv[first];
    if ((rc = check_app(ctx, app)) || (rc = cli_connect(ctx)))
        return rc;
    zkd_config_meta *h = NULL;
    size_t n = 0;
    zkd_error err;
    if ((rc = zkd_config_history(ctx->client, app, &h, &n, &err)))
        return cli_fail(ctx, rc, &err);
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            char when[RENDER_TIME_LEN];
            render_time(when, sizeof when, h[i].time_ms);
            json_array_append_new(
                arr, json_pack("{s:I,s:s,s:I,s:s,s:s,s:s,s:I}", "version",
                               (json_int_t)h[i].version, "time", when, "timeMs",
                               (json_int_t)h[i].time_ms, "author", h[i].author, "message", h[i].message,
                               "checksum", h[i].checksum, "size", (json_int_t)h[i].size));
        }
        render_json(arr);
    } else {
        /* the terminal's width (80 when piped); author and message give way first */
        static const char *const heads[] = {"VERSION", "TIME (UTC)", "SIZE", "AUTHOR", "SHA256",
                                            "MESSAGE"};
        tw_table *t = tw_table_new(6, heads, "RLDddl");
        for (size_t i = 0; i < n; i++) {
            char when[RENDER_TIME_LEN], version[24], size[24], sum[9], message[256];
            render_time(when, sizeof when, h[i].time_ms);
            snprintf(version, sizeof version, "%" PRId64, h[i].version);
            snprintf(size, sizeof size, "%zu", h[i].size);
            const char *s = strncmp(h[i].checksum, "sha256:", 7) ? h[i].checksum : h[i].checksum + 7;
            snprintf(sum, sizeof sum, "%.8s", s);
            cfg_fit(h[i].message, 200, message, sizeof message); /* one line */
            tw_table_add(t, (const char *const[]){version, when, size, h[i].author, sum, message});
        }
        tw_table_print(t, stdout, term_width(), 2);
    }
    zkd_config_meta_free(h, n);
    return 0;
}

const cli_command cfg_history = {
    "config history", "list an app's retained versions",
    "config history APP\n\n"
    "Lists the retained versions of APP, oldest first: number, time (UTC), size\n"
    "of the document in bytes, author, the start of its SHA-256 and the message.\n"
    "  -o json  an array with the full metadata of each version",
    run_history};

/* ---- list ----------------------------------------------------------------------- */

static int run_list(cli *ctx, int argc, char **argv)
{
    int first;
    int rc = plain_parse(ctx, &cfg_list, argc, argv, 0, 0, &first);
    if (rc || (rc = cli_connect(ctx)))
        return rc;
    zkd_config_app *apps = NULL;
    size_t n = 0;
    zkd_error err;
    if ((rc = zkd_config_list(ctx->client, &apps, &n, &err)))
        return cli_fail(ctx, rc, &err);
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            char when[RENDER_TIME_LEN] = "";
            if (apps[i].version > 0)
                render_time(when, sizeof when, apps[i].time_ms);
            json_array_append_new(arr, json_pack("{s:s,s:I,s:s,s:I,s:s}", "app", apps[i].name,
                                                 "version", (json_int_t)apps[i].version, "time",
                                                 when, "timeMs", (json_int_t)apps[i].time_ms,
                                                 "author", apps[i].author));
        }
        render_json(arr);
    } else {
        static const char *const heads[] = {"APP", "VERSION", "CHANGED (UTC)", "AUTHOR"};
        tw_table *t = tw_table_new(4, heads, "lRLd");
        for (size_t i = 0; i < n; i++) {
            char when[RENDER_TIME_LEN] = "?", version[24] = "?";
            if (apps[i].version > 0) {
                render_time(when, sizeof when, apps[i].time_ms);
                snprintf(version, sizeof version, "%" PRId64, apps[i].version);
            }
            tw_table_add(t, (const char *const[]){apps[i].name, version, when, apps[i].author});
        }
        tw_table_print(t, stdout, term_width(), 2);
    }
    zkd_config_apps_free(apps, n);
    return 0;
}

const cli_command cfg_list = {
    "config list", "list the apps with their current version",
    "config list\n\n"
    "Lists every app under <root>/config with its current version, the time of\n"
    "its last change (UTC) and who made it (? for a node that is not readable).\n"
    "  -o json  an array of objects",
    run_list};

/* ---- diff ----------------------------------------------------------------------- */

typedef struct change {
    char kind; /* '+', '-', '~' */
    char *key;
    json_t *before, *after; /* borrowed from the documents */
} change;

typedef struct changes {
    change *items;
    size_t n, cap;
} changes;

static void add_change(changes *cs, char kind, const char *key, json_t *before, json_t *after)
{
    if (cs->n == cs->cap) {
        size_t cap = cs->cap ? cs->cap * 2 : 16;
        change *grown = realloc(cs->items, cap * sizeof *grown);
        if (!grown)
            return;
        cs->items = grown;
        cs->cap = cap;
    }
    cs->items[cs->n++] = (change){kind, strdup(key), before, after};
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of both objects, sorted, without duplicates. */
static const char **union_keys(json_t *a, json_t *b, size_t *n_out)
{
    size_t cap = json_object_size(a) + json_object_size(b) + 1, n = 0;
    const char **keys = malloc(cap * sizeof *keys);
    const char *k;
    json_t *v;
    json_object_foreach(a, k, v) keys[n++] = k;
    json_object_foreach(b, k, v) if (!json_object_get(a, k)) keys[n++] = k;
    qsort(keys, n, sizeof *keys, cmp_keys);
    *n_out = n;
    return keys;
}

static void diff_objects(changes *cs, const char *prefix, json_t *a, json_t *b)
{
    size_t n;
    const char **keys = union_keys(a, b, &n);
    for (size_t i = 0; keys && i < n; i++) {
        size_t len = strlen(prefix) + strlen(keys[i]) + 2;
        char *path = malloc(len);
        snprintf(path, len, "%s%s%s", prefix, *prefix ? "." : "", keys[i]);
        json_t *x = json_object_get(a, keys[i]), *y = json_object_get(b, keys[i]);
        if (!x)
            add_change(cs, '+', path, NULL, y);
        else if (!y)
            add_change(cs, '-', path, x, NULL);
        else if (json_is_object(x) && json_is_object(y))
            diff_objects(cs, path, x, y);
        else if (!json_equal(x, y))
            add_change(cs, '~', path, x, y);
        free(path);
    }
    free(keys);
}

static int load_version(cli *ctx, const char *app, int64_t version, zkd_config_version **v,
                        json_t **doc)
{
    zkd_error err;
    int rc = zkd_config_get(ctx->client, app, version, v, &err);
    if (rc)
        return cli_fail(ctx, rc, &err);
    *doc = json_loads(zkd_config_version_json(*v), 0, NULL);
    return 0;
}

/* One line of at most 80 columns: values shortened when they would not fit. */
static void print_change(const change *c)
{
    char *before = c->before ? cfg_compact(c->before) : NULL;
    char *after = c->after ? cfg_compact(c->after) : NULL;
    char key[200], b[160], a[160];
    cfg_fit(c->key, 40, key, sizeof key);
    size_t used = 2 + strlen(key) + 2; /* "~ key: " */
    size_t room = used < 70 ? 80 - used : 10;
    if (c->kind == '~') {
        size_t each = room > 4 ? (room - 4) / 2 : 3;
        cfg_fit(before ? before : "", each, b, sizeof b);
        cfg_fit(after ? after : "", each, a, sizeof a);
        printf("~ %s: %s -> %s\n", key, b, a);
    } else {
        cfg_fit(c->kind == '+' ? (after ? after : "") : (before ? before : ""), room, b, sizeof b);
        printf("%c %s: %s\n", c->kind, key, b);
    }
    free(before);
    free(after);
}

static int run_diff(cli *ctx, int argc, char **argv)
{
    int first;
    int rc = plain_parse(ctx, &cfg_diff, argc, argv, 2, 3, &first);
    if (rc)
        return rc;
    const char *app = argv[first];
    int64_t v1, v2 = 0;
    if ((rc = check_app(ctx, app)) ||
        (rc = cfg_parse_version(ctx, "V1", argv[first + 1], 1, &v1)) ||
        (argc - first > 2 && (rc = cfg_parse_version(ctx, "V2", argv[first + 2], 1, &v2))) ||
        (rc = cli_connect(ctx)))
        return rc;
    zkd_config_version *a = NULL, *b = NULL;
    json_t *da = NULL, *db = NULL;
    if ((rc = load_version(ctx, app, v1, &a, &da)) || (rc = load_version(ctx, app, v2, &b, &db))) {
        zkd_config_version_unref(a);
        json_decref(da);
        return rc;
    }
    changes cs = {0};
    diff_objects(&cs, "", da, db);
    int64_t from = zkd_config_version_number(a), to = zkd_config_version_number(b);
    if (ctx->json) {
        json_t *added = json_array(), *removed = json_array(), *changed = json_array();
        for (size_t i = 0; i < cs.n; i++) {
            change *c = &cs.items[i];
            if (c->kind == '+')
                json_array_append_new(added, json_pack("{s:s,s:O}", "key", c->key, "value", c->after));
            else if (c->kind == '-')
                json_array_append_new(removed, json_pack("{s:s,s:O}", "key", c->key, "value", c->before));
            else
                json_array_append_new(changed, json_pack("{s:s,s:O,s:O}", "key", c->key, "old",
                                                         c->before, "new", c->after));
        }
        render_json(json_pack("{s:s,s:I,s:I,s:o,s:o,s:o}", "app", app, "from", (json_int_t)from,
                                 "to", (json_int_t)to, "added", added, "removed", removed,
                                 "changed", changed));
    } else {
        printf("--- %s version %" PRId64 "\n+++ %s version %" PRId64 "\n", app, from, app, to);
        for (size_t i = 0; i < cs.n; i++)
            print_change(&cs.items[i]);
    }
    for (size_t i = 0; i < cs.n; i++)
        free(cs.items[i].key);
    free(cs.items);
    json_decref(da);
    json_decref(db);
    zkd_config_version_unref(a);
    zkd_config_version_unref(b);
    return 0;
}

const cli_command cfg_diff = {
    "config diff", "show what changed between two versions",
    "config diff APP V1 [V2]\n\n"
    "Compares version V1 of APP with V2 (default: the current version), key by\n"
    "key, by dotted path: '+ key: value' added, '- key: value' removed,\n"
    "'~ key: old -> new' changed (arrays compare as whole values). Long values\n"
    "are shortened to fit 80 columns; -o json gives them whole, as added,\n"
    "removed and changed arrays.",
    run_diff};

/* ---- watch ----------------------------------------------------------------------- */

typedef struct watch_state {
    cli *ctx;
    int limit;          /* --count; 0: until interrupted */
    _Atomic int seen;
    _Atomic int done;
} watch_state;

static void on_version(zkd_config_watch *w, const zkd_config_version *v, uint64_t skipped,
                       void *arg)
{
    watch_state *s = arg;
    const char *app = zkd_config_watch_app(w);
    if (s->ctx->json) {
        json_t *o;
        if (!v) {
            char now[RENDER_TIME_LEN];
            render_time_now(now, sizeof now);
            o = json_pack("{s:s,s:s,s:s}", "time", now, "event", "removed", "app", app);
        } else {
            char when[RENDER_TIME_LEN];
            render_time(when, sizeof when, zkd_config_version_time(v));
            o = json_pack("{s:s,s:s,s:I,s:I,s:b,s:s,s:I,s:s,s:s,s:s,s:o}", "event", "changed", "app", app, "version",
                          (json_int_t)zkd_config_version_number(v), "skipped",
                          (json_int_t)skipped, "stale", zkd_config_version_stale(v), "time",
                          when, "timeMs", (json_int_t)zkd_config_version_time(v), "author",
                          zkd_config_version_author(v), "message", zkd_config_version_message(v),
                          "checksum", zkd_config_version_checksum(v), "document",
                          json_loads(zkd_config_version_json(v), 0, NULL));
        }
        render_json_line(o);
    } else if (!v) {
        printf("=== %s removed\n", app);
    } else {
        char when[RENDER_TIME_LEN], author[64], message[64];
        render_time(when, sizeof when, zkd_config_version_time(v));
        cfg_fit(zkd_config_version_author(v), 16, author, sizeof author);
        cfg_fit(zkd_config_version_message(v), 20, message, sizeof message);
        printf("=== %s version %" PRId64 "  %s  %s  %s", app, zkd_config_version_number(v),
               when, author, message);
        if (skipped)
            printf("  (%" PRIu64 " skipped)", skipped);
        if (zkd_config_version_stale(v))
            printf("  (stale: from the snapshot)");
        printf("\n");
        char *out = NULL;
        const char *doc = zkd_config_version_json(v);
        if (zkd_config_render(doc, strlen(doc), ZKD_CONFIG_JSON, &out, NULL) == 0)
            fputs(out, stdout);
        zkd_free(out);
    }
    fflush(stdout);
    if (s->limit && atomic_fetch_add(&s->seen, 1) + 1 >= s->limit)
        atomic_store(&s->done, 1);
}

typedef struct watch_opts {
    int count;
    const char *snapshot_dir;
} watch_opts;

static int on_watch_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    watch_opts *o = ud;
    if (opt == O_COUNT)
        return cli_parse_int(ctx, "--count", arg, 1, &o->count);
    if (opt == O_SNAPSHOT_DIR) {
        o->snapshot_dir = arg;
        return 0;
    }
    return EXIT_USAGE;
}

static int run_watch(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"count", required_argument, NULL, O_COUNT},
                                       {"snapshot-dir", required_argument, NULL, O_SNAPSHOT_DIR},
                                       {0}};
    watch_opts wo = {0};
    int first;
    int rc = cli_parse(ctx, &cfg_watch, argc, argv, lo, "", on_watch_opt, &wo, &first);
    if (rc || (rc = cli_expect_args(ctx, &cfg_watch, argc - first, 1, 1)))
        return rc;
    const char *app = argv[first];
    if ((rc = check_app(ctx, app)))
        return rc;
    /* SIGINT and SIGTERM end the watch: blocked here, before any thread
     * exists, so every thread inherits the mask and sigtimedwait sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    zkd_options o;
    cli_options(ctx, &o);
    if (wo.snapshot_dir) {
        /* Serve the snapshot while ZooKeeper is away; connect when it answers. */
        o.snapshot_dir = wo.snapshot_dir;
        o.connect_in_background = 1;
    }
    if ((rc = cli_connect_with(ctx, &o)))
        return rc;
    watch_state s = {.ctx = ctx, .limit = wo.count};
    zkd_config_watch *w;
    zkd_error err;
    if ((rc = zkd_config_watch_open(ctx->client, app, on_version, &s, &w, &err)))
        return cli_fail(ctx, rc, &err);
    while (!atomic_load(&s.done)) {
        struct timespec tick = {0, 100 * 1000000L};
        if (sigtimedwait(&stop, NULL, &tick) > 0)
            break;
    }
    zkd_config_watch_close(w);
    return 0;
}

const cli_command cfg_watch = {
    "config watch", "print each new version of an app as it arrives",
    "config watch APP [--count N] [--snapshot-dir DIR]\n\n"
    "Prints the current version of APP, then each new one as it is published,\n"
    "in order, until interrupted (or after N versions). When versions arrive\n"
    "faster than they can be read, it jumps to the latest and says how many it\n"
    "skipped. An app that does not exist yet is waited for; a deleted one is\n"
    "reported.\n"
    "  --snapshot-dir DIR  keep the last version seen in DIR, and serve it\n"
    "                      (marked stale) while ZooKeeper is unreachable\n"
    "  -o json             one JSON object per line: event (changed, or removed\n"
    "                      when the app is deleted), app, version, skipped,\n"
    "                      stale, time, timeMs, author, message, checksum, document",
    run_watch};
