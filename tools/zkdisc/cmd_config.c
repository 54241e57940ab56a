/* SPDX-License-Identifier: Apache-2.0 */
/* `zkdisc config SUBCOMMAND`: versioned configuration. This file holds the
 * dispatcher, the shared helpers and the writing subcommands (put, get,
 * rollback, delete, lock, unlock); cmd_config_show.c the reading ones. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd_config.h"
#include "mutation_report.h"
#include "term.h"

/* ---- helpers ------------------------------------------------------------------ */

int cfg_parse_format(cli *ctx, const char *arg, zkd_config_format *out)
{
    if (!strcmp(arg, "json")) {
        *out = ZKD_CONFIG_JSON;
        return 0;
    }
    if (!strcmp(arg, "libconfig")) {
        *out = ZKD_CONFIG_LIBCONFIG;
        return 0;
    }
    return cli_error(ctx, EXIT_USAGE, "--format takes json or libconfig, not \"%s\"", arg);
}

int cfg_parse_version(cli *ctx, const char *what, const char *text, int64_t min, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < min)
        return cli_error(ctx, EXIT_USAGE, "%s must be a whole number >= %" PRId64 ", not \"%s\"",
                         what, min, text);
    *out = v;
    return 0;
}

const char *cfg_author(const cli *ctx, char *buf, size_t len)
{
    const char *colon = ctx->auth ? strchr(ctx->auth, ':') : NULL;
    if (!colon || colon == ctx->auth)
        return NULL;
    snprintf(buf, len, "%.*s", (int)(colon - ctx->auth), ctx->auth);
    return buf;
}

char *cfg_compact(const json_t *v)
{
    char *raw = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    char *out = NULL;
    if (raw && zkd_config_render(raw, strlen(raw), ZKD_CONFIG_JSON_COMPACT, &out, NULL) != 0)
        out = NULL;
    free(raw);
    return out;
}

void cfg_fit(const char *s, size_t width, char *out, size_t outlen)
{
    size_t cols = 0, o = 0, i = 0, n = strlen(s);
    /* how many columns the whole string takes */
    size_t total = 0;
    for (size_t k = 0; k < n; k++)
        total += ((unsigned char)s[k] & 0xc0) != 0x80;
    size_t room = total <= width ? width : width > 3 ? width - 3 : 0;
    while (i < n && o + 5 < outlen) {
        unsigned char ch = (unsigned char)s[i];
        size_t len = ch < 0x80 ? 1 : (ch >> 5) == 6 ? 2 : (ch >> 4) == 14 ? 3 : 4;
        if (cols + 1 > room || i + len > n || o + len + 4 >= outlen)
            break;
        if (ch == '\n' || ch == '\t' || ch == '\r')
            out[o++] = ' ';
        else
            for (size_t k = 0; k < len; k++)
                out[o++] = s[i + k];
        i += len;
        cols++;
    }
    if (i < n && width >= 3)
        for (int k = 0; k < 3 && o + 1 < outlen; k++)
            out[o++] = '.';
    out[o] = '\0';
}

/* Reads a file ("-": stdin) whole. */
int cfg_read_input(cli *ctx, const char *path, char **out, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f)
        return cli_error(ctx, EXIT_ERROR, "cannot read %s: %s", path, strerror(errno));
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            break;
        if (n == cap) {
            if (cap >= (size_t)64 << 20) {
                free(buf);
                if (f != stdin)
                    fclose(f);
                return cli_error(ctx, EXIT_ERROR, "%s is larger than 64 MiB", path);
            }
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int failed = !buf || ferror(f);
    int e = errno;
    if (f != stdin)
        fclose(f);
    if (failed) {
        free(buf);
        return cli_error(ctx, EXIT_ERROR, "cannot read %s: %s", path, buf ? strerror(e) : "out of memory");
    }
    *out = buf;
    *len = n;
    return 0;
}

static int format_from_name(const char *path, zkd_config_format *out)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash))
        return -1;
    if (!strcmp(dot, ".json")) {
        *out = ZKD_CONFIG_JSON;
        return 0;
    }
    if (!strcmp(dot, ".cfg") || !strcmp(dot, ".conf")) {
        *out = ZKD_CONFIG_LIBCONFIG;
        return 0;
    }
    return -1;
}

/* ---- options shared by the writing subcommands ---------------------------------- */

enum { O_FORMAT = 2000, O_MESSAGE, O_IF_VERSION, O_RETAIN, O_VERSION, O_ALLOW, O_YES, O_FORCE };

typedef struct wopts {
    int have_format;
    zkd_config_format format;
    const char *message;
    int64_t if_version;
    int retain;
    int64_t version;
    int yes;
    int force;
    const char *allow[64];
    size_t nallow;
} wopts;

static int on_wopt(cli *ctx, int opt, const char *arg, void *ud)
{
    wopts *o = ud;
    int64_t v = 0;
    int rc;
    switch (opt) {
    case O_FORMAT:
        o->have_format = 1;
        return cfg_parse_format(ctx, arg, &o->format);
    case 'm':
    case O_MESSAGE: o->message = arg; return 0;
    case 'y':
    case O_YES: o->yes = 1; return 0;
    case O_FORCE: o->force = 1; return 0;
    case O_IF_VERSION: return cfg_parse_version(ctx, "--if-version", arg, 0, &o->if_version);
    case O_RETAIN:
        if ((rc = cfg_parse_version(ctx, "--retain", arg, 1, &v)) == 0)
            o->retain = v > 1000000 ? 1000000 : (int)v;
        return rc;
    case O_VERSION: return cfg_parse_version(ctx, "--version", arg, 1, &o->version);
    case O_ALLOW:
        if (o->nallow == 64)
            return cli_error(ctx, EXIT_USAGE, "at most 64 --allow");
        o->allow[o->nallow++] = arg;
        return 0;
    }
    return EXIT_USAGE;
}

static void wopts_init(wopts *o)
{
    memset(o, 0, sizeof *o);
    o->if_version = ZKD_CONFIG_ANY_VERSION;
}

/* Parses the subcommand's line; *first is the first positional argument. */
static int parse(cli *ctx, const cli_command *cmd, int argc, char **argv,
                 const struct option *lo, wopts *o, int min, int max, int *first)
{
    wopts_init(o);
    /* -m and -y only where --message and --yes are the subcommand's own. */
    char shorts[8] = "";
    for (const struct option *l = lo; l && l->name; l++)
        if (l->val == O_MESSAGE || l->val == O_YES)
            strcat(shorts, l->val == O_MESSAGE ? "m:" : "y");
    int rc = cli_parse(ctx, cmd, argc, argv, lo, shorts, on_wopt, o, first);
    if (rc)
        return rc;
    return cli_expect_args(ctx, cmd, argc - *first, min, max);
}

static int check_app(cli *ctx, const char *app)
{
    zkd_error err;
    int rc = zkd_validate_name("app", app, &err);
    return rc ? cli_fail(ctx, rc, &err) : 0;
}

static void publish_opts(const cli *ctx, const wopts *o, zkd_config_publish_opts *p, char *author,
                         size_t len)
{
    zkd_config_publish_opts_init(p);
    p->message = o->message;
    p->if_version = o->if_version;
    p->retain = o->retain;
    p->author = cfg_author(ctx, author, len);
}

/* "published APP version N" (-o json: {"action", "app", "version", "changed"}). */
static void print_version(cli *ctx, const char *action, const char *app, int64_t v)
{
    mr_report(ctx, action, 1, json_pack("{s:s,s:I}", "app", app, "version", (json_int_t)v),
              "published %s version %" PRId64, app, v);
}

/* ---- put ------------------------------------------------------------------------- */

static int run_put(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"format", required_argument, NULL, O_FORMAT},
                                       {"message", required_argument, NULL, O_MESSAGE},
                                       {"if-version", required_argument, NULL, O_IF_VERSION},
                                       {"retain", required_argument, NULL, O_RETAIN},
                                       {"force", no_argument, NULL, O_FORCE},
                                       {0}};
    wopts o;
    int first;
    int rc = parse(ctx, &cfg_put, argc, argv, lo, &o, 2, 2, &first);
    if (rc)
        return rc;
    const char *app = argv[first], *file = argv[first + 1];
    if ((rc = check_app(ctx, app)))
        return rc;
    if (!o.have_format && strcmp(file, "-") != 0 && format_from_name(file, &o.format) != 0)
        return cli_error(ctx, EXIT_USAGE,
                         "cannot tell the format of %s from its name (.json, .cfg, .conf); "
                         "give --format json|libconfig",
                         file);
    /* Read and check the document before connecting: a bad file is refused
     * without a word to ZooKeeper. */
    char *text = NULL;
    size_t len = 0;
    if ((rc = cfg_read_input(ctx, file, &text, &len)))
        return rc;
    char *json = NULL;
    zkd_error err;
    /* A file named on the command line may @include its neighbours; stdin may not. */
    int include = strcmp(file, "-") ? ZKD_CONFIG_ALLOW_INCLUDE : 0;
    rc = zkd_config_parse(text, len, (zkd_config_format)((int)o.format | include),
                          strcmp(file, "-") ? file : "<stdin>", &json, &err);
    free(text);
    if (rc)
        return cli_fail(ctx, rc, &err);
    if ((rc = cli_connect(ctx)) || (!o.force && cfg_put_unchanged(ctx, app, json))) {
        zkd_free(json);
        return rc;
    }
    zkd_config_publish_opts p;
    char author[256];
    publish_opts(ctx, &o, &p, author, sizeof author);
    int64_t v = 0;
    rc = zkd_config_publish(ctx->client, app, json, strlen(json), &p, &v, &err);
    zkd_free(json);
    if (rc)
        return cli_fail(ctx, rc, &err);
    print_version(ctx, "config put", app, v);
    return 0;
}

const cli_command cfg_put = {
    "config put", "publish a file as the app's next version",
    "config put APP FILE [--format json|libconfig] [-m M]\n"
    "                         [--if-version N] [--retain K] [--force]\n\n"
    "Publishes FILE (- reads stdin) as the next version of APP and prints\n"
    "\"published APP version N\". The format comes from the name (.json; .cfg\n"
    "or .conf: libconfig), else from --format (stdin: JSON by default). The top\n"
    "level must be an object. A file that does not parse, or is too large, is\n"
    "refused with exit 1 and nothing is published.\n"
    "  --format F      json or libconfig, when the name does not say\n"
    "  -m, --message M recorded with the version\n"
    "  --if-version N  publish only if the current version is N (0: the app must\n"
    "                  not exist yet); otherwise exit 5, naming the current version\n"
    "  --retain K      versions to keep (default 100; only the oldest are pruned)\n"
    "  --force         publish even when the document equals the current one\n"
    "                  (else that prints \"nothing changed\", exit 0)\n"
    "The author recorded is the --auth user, else $USER@hostname.",
    run_put};

/* ---- get ------------------------------------------------------------------------- */

static int print_value(cli *ctx, const zkd_config_version *v, const char *key, zkd_config_format fmt)
{
    char *json = NULL;
    zkd_error err;
    int rc = zkd_config_value(v, key, &json, &err);
    if (rc)
        return cli_fail(ctx, rc, &err);
    json_t *val = json_loads(json, JSON_DECODE_ANY, NULL);
    zkd_free(json);
    if (ctx->json) {
        json_t *o = json_pack("{s:s,s:I,s:s,s:O}", "app", zkd_config_version_app(v), "version",
                              (json_int_t)zkd_config_version_number(v), "key", key, "value", val);
        render_json(o);
    } else if (json_is_string(val)) {
        printf("%s\n", json_string_value(val));
    } else if (json_is_object(val) || json_is_array(val)) {
        char *raw = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY), *out = NULL;
        zkd_config_format f = json_is_object(val) ? fmt : ZKD_CONFIG_JSON;
        rc = zkd_config_render(raw, strlen(raw), f, &out, &err);
        free(raw);
        if (rc) {
            json_decref(val);
            return cli_fail(ctx, rc, &err);
        }
        fputs(out, stdout);
        zkd_free(out);
    } else {
        char *s = cfg_compact(val);
        printf("%s\n", s ? s : "");
        free(s);
    }
    json_decref(val);
    return 0;
}

static int run_get(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"version", required_argument, NULL, O_VERSION},
                                       {"format", required_argument, NULL, O_FORMAT},
                                       {0}};
    wopts o;
    int first;
    int rc = parse(ctx, &cfg_get, argc, argv, lo, &o, 1, 2, &first);
    if (rc)
        return rc;
    const char *app = argv[first], *key = argc - first > 1 ? argv[first + 1] : NULL;
    if ((rc = check_app(ctx, app)) || (rc = cli_connect(ctx)))
        return rc;
    zkd_config_version *v;
    zkd_error err;
    if ((rc = zkd_config_get(ctx->client, app, o.version, &v, &err)))
        return cli_fail(ctx, rc, &err);
    if (key) {
        rc = print_value(ctx, v, key, o.format);
    } else if (ctx->json) {
        json_t *doc = json_loads(zkd_config_version_json(v), 0, NULL);
        char when[RENDER_TIME_LEN];
        render_time(when, sizeof when, zkd_config_version_time(v));
        render_json(json_pack("{s:s,s:I,s:s,s:I,s:s,s:s,s:s,s:I,s:o}", "app", app, "version",
                                 (json_int_t)zkd_config_version_number(v), "time", when,
                                 "timeMs", (json_int_t)zkd_config_version_time(v),
                                 "author", zkd_config_version_author(v), "message",
                                 zkd_config_version_message(v), "checksum",
                                 zkd_config_version_checksum(v), "size",
                                 (json_int_t)zkd_config_version_size(v), "document", doc));
    } else {
        char *out = NULL;
        const char *doc = zkd_config_version_json(v);
        if ((rc = zkd_config_render(doc, strlen(doc), o.format, &out, &err)))
            rc = cli_fail(ctx, rc, &err);
        else
            fputs(out, stdout);
        zkd_free(out);
    }
    zkd_config_version_unref(v);
    return rc;
}

const cli_command cfg_get = {
    "config get", "print a version's document or one key",
    "config get APP [KEY] [--version N] [--format json|libconfig]\n\n"
    "Prints the current document of APP (or version N), as indented JSON or as\n"
    "libconfig. KEY is a dotted path (db.pool.size; a number indexes an array):\n"
    "a string prints as is, other values as JSON. A missing app, version or key\n"
    "exits 4.\n"
    "  -o json  an object with the version's metadata (version, time, author,\n"
    "           message, checksum, size) and the document (or key and value)",
    run_get};

/* ---- rollback ---------------------------------------------------------------------- */

static int run_rollback(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"message", required_argument, NULL, O_MESSAGE},
                                       {"if-version", required_argument, NULL, O_IF_VERSION},
                                       {"retain", required_argument, NULL, O_RETAIN},
                                       {0}};
    wopts o;
    int first;
    int rc = parse(ctx, &cfg_rollback, argc, argv, lo, &o, 2, 2, &first);
    if (rc)
        return rc;
    const char *app = argv[first];
    int64_t target = 0;
    if ((rc = check_app(ctx, app)) ||
        (rc = cfg_parse_version(ctx, "VERSION", argv[first + 1], 1, &target)) ||
        (rc = cli_connect(ctx)))
        return rc;
    zkd_config_publish_opts p;
    char author[256];
    publish_opts(ctx, &o, &p, author, sizeof author);
    int64_t v = 0;
    zkd_error err;
    if ((rc = zkd_config_rollback(ctx->client, app, target, &p, &v, &err)))
        return cli_fail(ctx, rc, &err);
    print_version(ctx, "config rollback", app, v);
    return 0;
}

const cli_command cfg_rollback = {
    "config rollback", "publish an old version's content as a new version",
    "config rollback APP VERSION [-m M] [--if-version N]\n\n"
    "Publishes the content of retained version VERSION of APP as a new version\n"
    "and prints \"published APP version N\"; history is never rewritten.\n"
    "  -m, --message M  recorded with the version (default \"rollback to version\n"
    "                   VERSION\")\n"
    "  --if-version N   only if the current version is N; otherwise exit 5",
    run_rollback};

/* ---- delete ------------------------------------------------------------------------ */

static int run_delete(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"if-version", required_argument, NULL, O_IF_VERSION},
                                       {"yes", no_argument, NULL, O_YES},
                                       {0}};
    wopts o;
    int first;
    int rc = parse(ctx, &cfg_delete, argc, argv, lo, &o, 1, 1, &first);
    if (rc)
        return rc;
    const char *app = argv[first];
    if ((rc = check_app(ctx, app)))
        return rc;
    /* Every version goes: as with rm -R, ask a person, and make a script say so. */
    int interactive = term_interactive();
    if (!o.yes && !interactive)
        return cli_error(ctx, EXIT_USAGE, "refusing to delete %s and all its versions without --yes "
                         "when not on a terminal", app);
    if ((rc = cli_connect(ctx)))
        return rc;
    zkd_error err;
    if (!o.yes) {
        zkd_config_meta *h = NULL;
        size_t n = 0;
        if ((rc = zkd_config_history(ctx->client, app, &h, &n, &err)))
            return cli_fail(ctx, rc, &err);
        zkd_config_meta_free(h, n);
        char q[300];
        snprintf(q, sizeof q, "Delete %s and its %zu retained version%s?", app, n, n == 1 ? "" : "s");
        if (!term_confirm(q))
            return cli_error(ctx, EXIT_ERROR, "not deleted");
    }
    if ((rc = zkd_config_delete(ctx->client, app, o.if_version, &err)))
        return cli_fail(ctx, rc, &err);
    return mr_report(ctx, "config delete", 1, json_pack("{s:s,s:b}", "app", app, "deleted", 1),
                     "deleted %s", app);
}

const cli_command cfg_delete = {
    "config delete", "delete an app with all its versions",
    "config delete APP [--if-version N] [--yes]\n\n"
    "Deletes APP and every retained version. On a terminal it asks first; when\n"
    "stdin is not a terminal it needs --yes (exit 2 otherwise). A missing app\n"
    "exits 4.\n"
    "  --if-version N  only if the current version is N (otherwise exit 5)\n"
    "  -y, --yes       do not ask",
    run_delete};

/* ---- lock and unlock ------------------------------------------------------------------ */

static int run_lock(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"allow", required_argument, NULL, O_ALLOW}, {0}};
    wopts o;
    int first;
    int rc = parse(ctx, &cfg_lock, argc, argv, lo, &o, 1, 1, &first);
    if (rc)
        return rc;
    const char *app = argv[first];
    if ((rc = check_app(ctx, app)))
        return rc;
    if (!o.nallow) {
        cli_error(ctx, EXIT_USAGE, "give at least one --allow identity");
        return cli_usage(ctx, &cfg_lock);
    }
    if ((rc = cli_connect(ctx)))
        return rc;
    zkd_error err;
    if ((rc = zkd_config_lock(ctx->client, app, o.allow, o.nallow, &err)))
        return cli_fail(ctx, rc, &err);
    /* Name the users only: an entry may hold a password. */
    if (ctx->json) {
        json_t *users = json_array();
        for (size_t i = 0; i < o.nallow; i++) {
            const char *u = strncmp(o.allow[i], "digest:", 7) ? o.allow[i] : o.allow[i] + 7;
            json_array_append_new(users, json_stringn(u, strcspn(u, ":")));
        }
        mr_report(ctx, "config lock", 1,
                  json_pack("{s:s,s:b,s:o}", "app", app, "locked", 1, "allow", users), "%s", "");
    } else {
        printf("locked %s; writers:", app);
        for (size_t i = 0; i < o.nallow; i++) {
            const char *u = strncmp(o.allow[i], "digest:", 7) ? o.allow[i] : o.allow[i] + 7;
            printf("%s %.*s", i ? "," : "", (int)strcspn(u, ":"), u);
        }
        printf("\n");
    }
    return 0;
}

const cli_command cfg_lock = {
    "config lock", "allow only named identities to write an app",
    "config lock APP --allow ID [--allow ID ...]\n\n"
    "Sets the digest ACL of APP: anyone may read; only the identities named may\n"
    "publish, roll back, delete, lock or unlock it. Others get exit 6 and nothing\n"
    "is written. An ID is USER:PASSWORD (the digest is computed here and the\n"
    "password goes nowhere else) or a precomputed digest:USER:BASE64HASH. A\n"
    "writer proves an identity with --auth USER:PASSWORD. Include yourself if\n"
    "you want to unlock it later.",
    run_lock};

static int run_unlock(cli *ctx, int argc, char **argv)
{
    wopts o;
    int first;
    int rc = parse(ctx, &cfg_unlock, argc, argv, NULL, &o, 1, 1, &first);
    if (rc)
        return rc;
    const char *app = argv[first];
    if ((rc = check_app(ctx, app)) || (rc = cli_connect(ctx)))
        return rc;
    zkd_error err;
    if ((rc = zkd_config_unlock(ctx->client, app, &err)))
        return cli_fail(ctx, rc, &err);
    return mr_report(ctx, "config unlock", 1, json_pack("{s:s,s:b}", "app", app, "locked", 0),
                     "unlocked %s", app);
}

const cli_command cfg_unlock = {
    "config unlock", "open an app to every writer again",
    "config unlock APP\n\n"
    "Opens APP to every writer again. Needs the credentials (--auth) of an\n"
    "identity the lock allowed; otherwise exit 6.",
    run_unlock};

/* ---- the dispatcher ---------------------------------------------------------------------- */

static const cli_command *const subs[] = {
    &cfg_put, &cfg_set, &cfg_edit, &cfg_get, &cfg_history, &cfg_diff, &cfg_rollback,
    &cfg_watch, &cfg_list, &cfg_delete, &cfg_lock, &cfg_unlock,
};
#define NSUBS (sizeof subs / sizeof subs[0])

static void overview(FILE *out)
{
    fprintf(out, "usage: zkdisc config SUBCOMMAND [ARGS...]\n\n"
                 "Versioned configuration: one JSON document per app under <root>/config.\n\n"
                 "Subcommands:\n");
    for (size_t i = 0; i < NSUBS; i++)
        fprintf(out, "  %-10s %s\n", subs[i]->name + strlen("config "), subs[i]->summary);
    fprintf(out, "\nRun 'zkdisc help config SUBCOMMAND' for its options.\n");
}

static int run_config(cli *ctx, int argc, char **argv)
{
    int at = cli_find_word(argc, argv);
    if (at < 0) {
        for (int i = 1; i < argc; i++)
            if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                overview(stdout);
                return -1;
            }
        cli_error(ctx, EXIT_USAGE, "missing subcommand");
        overview(stderr);
        return EXIT_USAGE;
    }
    const cli_command *sub = cli_lookup(ctx, subs, NSUBS, strlen("config "), "subcommand", argv[at]);
    if (!sub) {
        fprintf(stderr, "Run 'zkdisc help config' for the subcommands.\n");
        return EXIT_USAGE;
    }
    ctx->cmd = sub->name;
    memmove(&argv[at], &argv[at + 1], (size_t)(argc - at) * sizeof *argv);
    return sub->run(ctx, argc - 1, argv);
}

const cli_command cmd_config = {
    "config", "versioned configuration: put, get, history, diff, watch...",
    "config SUBCOMMAND [ARGS...]\n\n"
    "Subcommands: put, set, edit, get, history, diff, rollback, watch, list,\n"
    "delete, lock, unlock. Run 'zkdisc config --help' for the list.",
    run_config};
