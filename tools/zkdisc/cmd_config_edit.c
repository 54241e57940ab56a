/* SPDX-License-Identifier: Apache-2.0 */
/* `zkdisc config set` and `config edit`: change the current document in
 * place and publish it with compare-and-set on the version that was read,
 * so a concurrent publish is reported, never overwritten. Also the check
 * that makes an unchanged `config put` a no-op. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_config.h"

enum { O_FORMAT = 2100, O_MESSAGE, O_RETAIN };

typedef struct eopts {
    zkd_config_format format;
    const char *message;
    int retain;
} eopts;

static int on_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    eopts *o = ud;
    int64_t v;
    int rc;
    switch (opt) {
    case O_FORMAT: return cfg_parse_format(ctx, arg, &o->format);
    case 'm':
    case O_MESSAGE: o->message = arg; return 0;
    case O_RETAIN:
        if ((rc = cfg_parse_version(ctx, "--retain", arg, 1, &v)) == 0)
            o->retain = v > 1000000 ? 1000000 : (int)v;
        return rc;
    }
    return EXIT_USAGE;
}

static const struct option edit_lo[] = {{"format", required_argument, NULL, O_FORMAT},
                                        {"message", required_argument, NULL, O_MESSAGE},
                                        {"retain", required_argument, NULL, O_RETAIN},
                                        {0}};

/* The current document of `app` as a jansson tree and its version; a
 * missing app is an empty document at version 0 when `missing_ok`. */
static int read_current(cli *ctx, const char *app, int missing_ok, json_t **doc, int64_t *version)
{
    zkd_config_version *v = NULL;
    zkd_error err;
    int rc = zkd_config_get(ctx->client, app, 0, &v, &err);
    if (rc == ZKD_ENOTFOUND && missing_ok) {
        *doc = json_object();
        *version = 0;
        return 0;
    }
    if (rc)
        return cli_fail(ctx, rc, &err);
    *doc = json_loads(zkd_config_version_json(v), 0, NULL);
    *version = zkd_config_version_number(v);
    zkd_config_version_unref(v);
    return *doc ? 0 : cli_error(ctx, EXIT_ERROR, "%s: the stored document is not JSON", app);
}

static void print_result(cli *ctx, const char *app, int64_t version, int changed)
{
    if (ctx->json)
        render_json(json_pack("{s:s,s:I,s:b}", "app", app, "version", (json_int_t)version,
                              "changed", changed));
    else if (changed)
        printf("%" PRId64 "\n", version);
    else
        printf("nothing changed: %s stays at version %" PRId64 "\n", app, version);
}

int cfg_put_unchanged(cli *ctx, const char *app, const char *json)
{
    zkd_config_version *v = NULL;
    if (zkd_config_get(ctx->client, app, 0, &v, NULL) != 0)
        return 0; /* missing or unreadable: let the publish say what is wrong */
    json_t *now = json_loads(zkd_config_version_json(v), 0, NULL);
    json_t *next = json_loads(json, 0, NULL);
    int same = now && next && json_equal(now, next);
    if (same)
        print_result(ctx, app, zkd_config_version_number(v), 0);
    json_decref(now);
    json_decref(next);
    zkd_config_version_unref(v);
    return same;
}

/* Publishes doc with compare-and-set on `base` (0: the app must not exist).
 * A conflict is exit 5 naming the version that won. */
static int publish(cli *ctx, const char *app, const json_t *doc, int64_t base, const eopts *o,
                   int64_t *version)
{
    char *json = cfg_compact(doc);
    if (!json)
        return cli_error(ctx, EXIT_ERROR, "out of memory");
    zkd_config_publish_opts p;
    char author[256];
    zkd_config_publish_opts_init(&p);
    p.message = o->message;
    p.retain = o->retain;
    p.if_version = base;
    p.author = cfg_author(ctx, author, sizeof author);
    zkd_error err;
    int rc = zkd_config_publish(ctx->client, app, json, strlen(json), &p, version, &err);
    free(json);
    return rc ? cli_fail(ctx, rc, &err) : 0;
}

static int check_app(cli *ctx, const char *app)
{
    zkd_error err;
    int rc = zkd_validate_name("app", app, &err);
    return rc ? cli_fail(ctx, rc, &err) : 0;
}

/* ---- set ------------------------------------------------------------------------- */

/* An array index: digits only, no sign, no leading zero. */
static int array_index(const char *seg, size_t *out)
{
    if (!*seg || strspn(seg, "0123456789") != strlen(seg) || (seg[0] == '0' && seg[1]))
        return -1;
    *out = strtoul(seg, NULL, 10);
    return 0;
}

/* Sets the dotted `key` in doc to val (stolen): objects on the way are
 * created, an array index may be one past the end (appends). */
static int set_path(cli *ctx, json_t *doc, const char *key, json_t *val)
{
    char *copy = strdup(key), *save = NULL;
    json_t *at = doc;
    int rc = 0;
    char *seg = copy ? strtok_r(copy, ".", &save) : NULL;
    if (!seg || key[0] == '.' || key[strlen(key) - 1] == '.' || strstr(key, ".."))
        rc = cli_error(ctx, EXIT_USAGE, "\"%s\" is not a dotted key (like db.pool.size)", key);
    while (!rc && seg) {
        char *next = strtok_r(NULL, ".", &save);
        size_t idx;
        json_t *child = NULL;
        if (json_is_object(at)) {
            child = json_object_get(at, seg);
            if (!next) {
                json_object_set(at, seg, val);
                break;
            }
            if (!child) {
                child = json_object();
                json_object_set_new(at, seg, child);
            }
        } else if (json_is_array(at) && array_index(seg, &idx) == 0 && idx <= json_array_size(at)) {
            child = json_array_get(at, idx);
            if (!next) {
                if (child)
                    json_array_set(at, idx, val);
                else
                    json_array_append(at, val);
                break;
            }
            if (!child) {
                child = json_object();
                json_array_append_new(at, child);
            }
        } else {
            rc = cli_error(ctx, EXIT_USAGE, "%s: cannot set \"%s\" inside %s", key, seg,
                           json_is_array(at) ? "an array (give an index up to its length)"
                                             : "a value that is not an object");
        }
        at = child;
        seg = next;
    }
    json_decref(val);
    free(copy);
    return rc;
}

/* VALUE as JSON when it parses (5, true, null, [1,2], {"a":1}, "quoted"), else the text. */
static json_t *parse_value(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    return v ? v : json_string(text);
}

static int run_set(cli *ctx, int argc, char **argv)
{
    eopts o = {0};
    int first;
    int rc = cli_parse(ctx, &cfg_set, argc, argv, edit_lo + 1, "m:", on_opt, &o, &first);
    if (rc || (rc = cli_expect_args(ctx, &cfg_set, argc - first, 2, -1)))
        return rc;
    const char *app = argv[first];
    if ((rc = check_app(ctx, app)))
        return rc;
    for (int i = first + 1; i < argc; i++)
        if (!strchr(argv[i], '=') || argv[i][0] == '=')
            return cli_error(ctx, EXIT_USAGE, "\"%s\" is not KEY=VALUE", argv[i]);
    if ((rc = cli_connect(ctx)))
        return rc;
    json_t *doc;
    int64_t base;
    if ((rc = read_current(ctx, app, 1, &doc, &base)))
        return rc;
    json_t *before = json_deep_copy(doc);
    for (int i = first + 1; i < argc && !rc; i++) {
        char *eq = strchr(argv[i], '=');
        *eq = '\0';
        rc = set_path(ctx, doc, argv[i], parse_value(eq + 1));
        *eq = '=';
    }
    int64_t v = base;
    if (!rc && json_equal(before, doc) && base)
        print_result(ctx, app, base, 0);
    else if (!rc && !(rc = publish(ctx, app, doc, base, &o, &v)))
        print_result(ctx, app, v, 1);
    json_decref(before);
    json_decref(doc);
    return rc;
}

const cli_command cfg_set = {
    "config set", "change keys of the current document and publish it",
    "config set APP KEY=VALUE [KEY=VALUE...] [-m M] [--retain K]\n\n"
    "Reads the current document of APP (an app that does not exist starts\n"
    "empty), sets each dotted KEY (db.pool.size; a number indexes an array, one\n"
    "past its end appends; missing objects on the way are created) and\n"
    "publishes the result with compare-and-set on the version read: if another\n"
    "publish came first, nothing is written and it exits 5. VALUE is taken as\n"
    "JSON when it parses as JSON (5, true, null, [1,2], {\"a\":1}, \"5\"), else\n"
    "as a string. Prints the new version; a document left as it was is not\n"
    "published (\"nothing changed\", exit 0).\n"
    "  -m, --message M  recorded with the version\n"
    "  --retain K       versions to keep (default 100)\n"
    "  -o json          {\"app\", \"version\", \"changed\"}",
    run_set};

/* ---- edit ------------------------------------------------------------------------ */

/* Writes text to a new private temp file named for the app; *path is malloc'd. */
static int write_temp(cli *ctx, const char *app, const char *ext, const char *text, char **path)
{
    const char *dir = getenv("TMPDIR");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/zkdisc-%s-XXXXXX%s", dir && *dir ? dir : "/tmp", app, ext);
    int fd = mkstemps(buf, (int)strlen(ext));
    if (fd < 0)
        return cli_error(ctx, EXIT_ERROR, "cannot create a file in %s: %s",
                         dir && *dir ? dir : "/tmp", strerror(errno));
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = errno;
            close(fd);
            unlink(buf);
            return cli_error(ctx, EXIT_ERROR, "cannot write %s: %s", buf, strerror(e));
        }
        off += (size_t)n;
    }
    close(fd);
    *path = strdup(buf);
    return 0;
}

/* Runs $VISUAL, else $EDITOR, else vi on path through sh (so an editor with
 * arguments, "code --wait", works), with the terminal. 0 when it exited 0. */
static int run_editor(cli *ctx, const char *path)
{
    const char *ed = getenv("VISUAL");
    if (!ed || !*ed)
        ed = getenv("EDITOR");
    if (!ed || !*ed)
        ed = "vi";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s \"$@\"", ed);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return cli_error(ctx, EXIT_ERROR, "cannot start the editor: %s", strerror(errno));
    if (pid == 0) {
        /* zkdisc shell blocks signals for its own use: the editor gets none blocked. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execl("/bin/sh", "sh", "-c", cmd, ed, path, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return cli_error(ctx, EXIT_ERROR, "waiting for the editor: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status))
        return cli_error(ctx, EXIT_ERROR, "the editor (%s) failed; your edit is kept in %s", ed,
                         path);
    return 0;
}

/* The edited file as a document; a parse error names the file, which stays. */
static int read_edit(cli *ctx, const char *path, zkd_config_format fmt, json_t **doc)
{
    char *text = NULL, *json = NULL;
    size_t len = 0;
    int rc = cfg_read_input(ctx, path, &text, &len);
    if (rc)
        return rc;
    zkd_error err;
    rc = zkd_config_parse(text, len, fmt, path, &json, &err);
    free(text);
    if (rc) {
        cli_fail(ctx, rc, &err);
        return cli_error(ctx, EXIT_ERROR, "nothing published; your edit is kept in %s", path);
    }
    *doc = json_loads(json, 0, NULL);
    zkd_free(json);
    return *doc ? 0 : cli_error(ctx, EXIT_ERROR, "out of memory");
}

static int edit_and_publish(cli *ctx, const char *app, const json_t *doc, int64_t base,
                            const eopts *o, const char *path)
{
    int rc = run_editor(ctx, path);
    json_t *edited = NULL;
    if (rc || (rc = read_edit(ctx, path, o->format, &edited)))
        return rc;
    int64_t v = base;
    if (json_equal(doc, edited))
        print_result(ctx, app, base, 0);
    else if ((rc = publish(ctx, app, edited, base, o, &v)) == 0)
        print_result(ctx, app, v, 1);
    json_decref(edited);
    if (rc == EXIT_CONFLICT)
        cli_error(ctx, rc, "%s was published by someone else while you edited; nothing "
                  "published; your edit is kept in %s", app, path);
    else if (rc == 0)
        unlink(path);
    else
        cli_error(ctx, rc, "your edit is kept in %s", path);
    return rc;
}

static int run_edit(cli *ctx, int argc, char **argv)
{
    eopts o = {0};
    int first;
    int rc = cli_parse(ctx, &cfg_edit, argc, argv, edit_lo, "m:", on_opt, &o, &first);
    if (rc || (rc = cli_expect_args(ctx, &cfg_edit, argc - first, 1, 1)))
        return rc;
    const char *app = argv[first];
    if ((rc = check_app(ctx, app)) || (rc = cli_connect(ctx)))
        return rc;
    json_t *doc;
    int64_t base;
    if ((rc = read_current(ctx, app, 0, &doc, &base)))
        return rc;
    char *raw = json_dumps(doc, JSON_COMPACT), *text = NULL, *path = NULL;
    zkd_error err;
    rc = raw ? zkd_config_render(raw, strlen(raw), o.format, &text, &err) : ZKD_ENOMEM;
    free(raw);
    if (rc)
        rc = cli_fail(ctx, rc, &err);
    else if (!(rc = write_temp(ctx, app, o.format == ZKD_CONFIG_LIBCONFIG ? ".cfg" : ".json",
                               text, &path)))
        rc = edit_and_publish(ctx, app, doc, base, &o, path);
    zkd_free(text);
    free(path);
    json_decref(doc);
    return rc;
}

const cli_command cfg_edit = {
    "config edit", "edit the current document in $EDITOR and publish it",
    "config edit APP [--format json|libconfig] [-m M] [--retain K]\n\n"
    "Writes the current document of APP to a temporary file, opens it in\n"
    "$VISUAL, else $EDITOR, else vi, and when the editor exits 0 checks it and\n"
    "publishes it with compare-and-set on the version read. A file that does not\n"
    "parse, a failed editor, or a publish that someone else beat (exit 5) leaves\n"
    "nothing published and keeps the edited file, naming it. A document left as\n"
    "it was says \"nothing changed\" and publishes nothing (exit 0). A missing\n"
    "app exits 4 (create it with config put or config set).\n"
    "  --format F       the file's format: json (default) or libconfig\n"
    "  -m, --message M  recorded with the version\n"
    "  --retain K       versions to keep (default 100)\n"
    "  -o json          {\"app\", \"version\", \"changed\"}",
    run_edit};
