/* SPDX-License-Identifier: Apache-2.0 */
/* Global options, connecting and exit codes shared by every command. */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "suggest.h"
#include "textwidth.h"

enum { OPT_ZK = 1000, OPT_ROOT, OPT_TIMEOUT, OPT_AUTH, OPT_HELP, OPT_PRETTY, OPT_NO_HEADERS };

static const struct option global_opts[] = {
    {"zk", required_argument, NULL, OPT_ZK},
    {"root", required_argument, NULL, OPT_ROOT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"auth", required_argument, NULL, OPT_AUTH},
    {"output", required_argument, NULL, 'o'},
    {"verbose", no_argument, NULL, 'v'},
    {"pretty", no_argument, NULL, OPT_PRETTY},
    {"no-headers", no_argument, NULL, OPT_NO_HEADERS},
    {"help", no_argument, NULL, OPT_HELP},
};
#define NGLOBAL (sizeof global_opts / sizeof global_opts[0])

int cli_error(cli *ctx, int exit_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (ctx->json) {
        /* -o json: a script reads the error as it reads the answer */
        char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
            msg = NULL;
        json_t *o = json_pack("{s:s,s:s,s:i}", "error", msg ? msg : fmt, "command",
                              ctx->cmd ? ctx->cmd : "", "exitCode", exit_code);
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fprintf(stderr, "%s\n", s ? s : "{\"error\": \"out of memory\"}");
        free(s);
        json_decref(o);
        free(msg);
    } else {
        fprintf(stderr, "zkdisc%s%s: ", ctx->cmd ? " " : "", ctx->cmd ? ctx->cmd : "");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    va_end(ap);
    return exit_code;
}

int cli_exit_code(int code)
{
    switch (code) {
    case ZKD_OK: return EXIT_OK;
    case ZKD_EINVAL: return EXIT_USAGE;
    case ZKD_ETIMEDOUT:
    case ZKD_ECONNLOSS:
    case ZKD_EEXPIRED: return EXIT_UNREACHABLE;
    case ZKD_ENOTFOUND: return EXIT_NOTFOUND;
    case ZKD_ECONFLICT: return EXIT_CONFLICT;
    case ZKD_ENOAUTH:
    case ZKD_EAUTHFAILED: return EXIT_NOAUTH;
    default: return EXIT_ERROR;
    }
}

int cli_fail(cli *ctx, int code, const zkd_error *err)
{
    const char *msg = err && err->message[0] ? err->message : zkd_strerror(code);
    return cli_error(ctx, cli_exit_code(code), "%s", msg);
}

int cli_usage(cli *ctx, const cli_command *cmd)
{
    (void)ctx;
    fprintf(stderr, "usage: zkdisc %.*s\n", (int)strcspn(cmd->usage, "\n"), cmd->usage);
    fprintf(stderr, "Run 'zkdisc help%s%s' for details.\n", *cmd->name ? " " : "", cmd->name);
    return EXIT_USAGE;
}

int cli_parse_int(cli *ctx, const char *what, const char *text, int min, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > INT_MAX)
        return cli_error(ctx, EXIT_USAGE, "%s must be a whole number >= %d, not \"%s\"", what, min, text);
    *out = (int)v;
    return 0;
}

static int global_opt(cli *ctx, int opt, const char *arg)
{
    switch (opt) {
    case OPT_ZK: ctx->zk = arg; return 0;
    case OPT_ROOT: ctx->root = arg; return 0;
    case OPT_AUTH: ctx->auth = arg; return 0;
    case OPT_TIMEOUT: return cli_parse_duration(ctx, "--timeout", arg, 1, &ctx->timeout_ms);
    case 'v': ctx->verbose = 1; return 0;
    case OPT_PRETTY: render_json_pretty(1); return 0;
    case OPT_NO_HEADERS: tw_set_headers(0); return 0;
    case 'o':
        if (!strcmp(arg, "json") || !strcmp(arg, "text")) {
            ctx->json = !strcmp(arg, "json");
            return 0;
        }
        return cli_error(ctx, EXIT_USAGE, "-o takes text or json, not \"%s\"", arg);
    }
    return EXIT_USAGE;
}

static const char global_help[] =
    "Global options (anywhere on the line, before or after the command):\n"
    "  --zk HOSTS        ZooKeeper connect string, host:port[,host:port...][/chroot]\n"
    "                    (env ZKDISC_ZK, default 127.0.0.1:2181)\n"
    "  --root PATH       zkdisc's root path (env ZKDISC_ROOT, default /zkdisc)\n"
    "  --timeout TIME    connect and request timeout: 500ms, 5s, 2m (a bare\n"
    "                    number is milliseconds; default 5s)\n"
    "  --auth-file FILE  digest credentials USER:PASSWORD from the first line of FILE,\n"
    "                    which only its owner may read (env ZKDISC_AUTH_FILE)\n"
    "  --auth USER:PASS  digest credentials (env ZKDISC_AUTH); visible to every local\n"
    "                    user while the command starts: prefer --auth-file\n"
    "  -o text|json      output format (default text); JSON is compact when piped,\n"
    "                    indented on a terminal\n"
    "  --pretty          indented JSON even when piped\n"
    "  --no-headers      tables without their header line\n"
    "  -v, --verbose     log the library's session events to stderr, each line with\n"
    "                    an RFC 3339 UTC time and a level\n"
    "  -h, --help        the command's options (zkdisc help COMMAND)\n"
    "  -V, --version     print zkdisc's version (zkdisc version)\n"
    "\nExit codes: 0 ok, 1 error, 2 usage, 3 ZooKeeper unreachable or timed out,\n"
    "4 not found, 5 version conflict, 6 not authorized.\n";

void cli_print_global_help(FILE *out)
{
    fputs(global_help, out);
}

void cli_print_help(const cli_command *cmd)
{
    printf("usage: zkdisc %s\n", cmd->usage);
    printf("\nGlobal options (--zk, --root, --auth, -o json, -v...): zkdisc help global\n");
}

/* The option as typed ("--name" without "=value", or "-x"), for messages. */
static void typed_option(char **argv, char *out, size_t len)
{
    const char *arg = argv[optind - 1];
    if (!strncmp(arg, "--", 2))
        snprintf(out, len, "%.*s", (int)strcspn(arg, "="), arg);
    else
        snprintf(out, len, "-%c", optopt ? optopt : '?');
}

static int unknown_option(cli *ctx, const cli_command *cmd, char **argv, const struct option *all)
{
    char bad[64], names[64][40];
    const char *cands[64];
    size_t n = 0;
    typed_option(argv, bad, sizeof bad);
    for (; all[n].name && n < 64; n++) {
        snprintf(names[n], sizeof names[n], "--%s", all[n].name);
        cands[n] = names[n];
    }
    const char *near = suggest_nearest(bad, cands, n);
    if (near)
        cli_error(ctx, EXIT_USAGE, "unknown option \"%s\"; did you mean \"%s\"?", bad, near);
    else
        cli_error(ctx, EXIT_USAGE, "unknown option \"%s\"", bad);
    return cli_usage(ctx, cmd);
}

int cli_parse(cli *ctx, const cli_command *cmd, int argc, char **argv,
              const struct option *longopts, const char *shortopts,
              int (*on_opt)(cli *ctx, int opt, const char *arg, void *ud), void *ud,
              int *first_arg)
{
    size_t ncmd = 0;
    while (longopts && longopts[ncmd].name)
        ncmd++;
    struct option all[NGLOBAL + 32];
    if (ncmd > 31)
        ncmd = 31;
    memcpy(all, global_opts, sizeof global_opts);
    if (ncmd)
        memcpy(all + NGLOBAL, longopts, ncmd * sizeof *longopts);
    memset(&all[NGLOBAL + ncmd], 0, sizeof all[0]);
    char shorts[128];
    snprintf(shorts, sizeof shorts, ":o:vh%s", shortopts ? shortopts : "");

    optind = 0; /* glibc: re-initialise for each parse */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
        int rc;
        if (opt == OPT_HELP || opt == 'h') {
            cli_print_help(cmd);
            return -1;
        } else if (opt == '?') {
            return unknown_option(ctx, cmd, argv, all);
        } else if (opt == ':') {
            char name[64];
            typed_option(argv, name, sizeof name);
            cli_error(ctx, EXIT_USAGE, "option \"%s\" needs a value", name);
            return cli_usage(ctx, cmd);
        } else if ((opt >= OPT_ZK && opt <= OPT_AUTH) || opt == OPT_PRETTY ||
                   opt == OPT_NO_HEADERS) {
            rc = global_opt(ctx, opt, optarg);
        } else if (opt == 'o' || opt == 'v') {
            rc = global_opt(ctx, opt, optarg);
        } else {
            rc = on_opt ? on_opt(ctx, opt, optarg, ud) : EXIT_USAGE;
        }
        if (rc)
            return rc;
    }
    *first_arg = optind;
    return 0;
}

int cli_expect_args(cli *ctx, const cli_command *cmd, int have, int min, int max)
{
    if (have < min) {
        cli_error(ctx, EXIT_USAGE, "missing argument");
        return cli_usage(ctx, cmd);
    }
    if (max >= 0 && have > max) {
        cli_error(ctx, EXIT_USAGE, "too many arguments");
        return cli_usage(ctx, cmd);
    }
    return 0;
}

/* -v: the library's lines with a time and a level, like every log zkdisc writes. */
static void log_line(zkd_log_level level, const char *message, void *ud)
{
    static const char *const names[] = {"OFF", "ERROR", "WARN", "INFO", "DEBUG"};
    (void)ud;
    char ts[RENDER_TIME_LEN];
    render_time_now(ts, sizeof ts);
    fprintf(stderr, "%s %-5s %s\n", ts, level <= ZKD_LOG_DEBUG ? names[level] : "?", message);
}

int cli_find_word(int argc, char **argv)
{
    static const char *const with_value[] = {"--zk",        "--root",   "--timeout", "--auth",
                                             "--auth-file", "--output", "-o"};
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-' || !strcmp(argv[i], "-"))
            return i;
        if (!strcmp(argv[i], "--"))
            return -1;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++)
            if (!strcmp(argv[i], with_value[k])) {
                i++;
                break;
            }
    }
    return -1;
}

const cli_command *cli_lookup(cli *ctx, const cli_command *const *cmds, size_t n, size_t skip,
                              const char *what, const char *name)
{
    const char *names[64];
    for (size_t i = 0; i < n && i < 64; i++) {
        names[i] = cmds[i]->name + skip;
        if (!strcmp(names[i], name))
            return cmds[i];
    }
    const char *near = suggest_nearest(name, names, n < 64 ? n : 64);
    if (near)
        cli_error(ctx, EXIT_USAGE, "unknown %s \"%s\"; did you mean \"%s\"?", what, name, near);
    else
        cli_error(ctx, EXIT_USAGE, "unknown %s \"%s\"", what, name);
    return NULL;
}

void cli_options(const cli *ctx, zkd_options *o)
{
    zkd_options_init(o);
    o->connect = ctx->zk;
    if (ctx->root)
        o->root = ctx->root;
    o->auth = ctx->auth;
    o->connect_timeout_ms = ctx->timeout_ms;
    o->request_timeout_ms = ctx->timeout_ms;
    o->log_level = ctx->verbose ? ZKD_LOG_INFO : ZKD_LOG_ERROR;
    o->log_fn = log_line;
}

int cli_connect_with(cli *ctx, const zkd_options *o)
{
    zkd_error err;
    int rc = zkd_connect(o, &ctx->client, &err);
    return rc ? cli_fail(ctx, rc, &err) : 0;
}

int cli_connect(cli *ctx)
{
    if (ctx->client) /* zkdisc shell: every command over the shell's session */
        return 0;
    zkd_options o;
    cli_options(ctx, &o);
    return cli_connect_with(ctx, &o);
}

/* --NAME VALUE or --NAME=VALUE at argv[i]: the value, and how many
 * arguments the option took (0 when argv[i] is not it). */
static char *option_value(int argc, char **argv, int i, const char *name, int *took)
{
    size_t n = strlen(name);
    *took = 0;
    if (strncmp(argv[i], name, n))
        return NULL;
    if (argv[i][n] == '=') {
        *took = 1;
        return argv[i] + n + 1;
    }
    if (argv[i][n] || i + 1 >= argc)
        return NULL;
    *took = 2;
    return argv[i + 1];
}

static int read_auth_file(cli *ctx, const char *path)
{
    zkd_error err;
    int rc = zkd_auth_file_read(path, &ctx->auth_owned, &err);
    if (rc)
        return cli_error(ctx, rc == ZKD_EINVAL ? EXIT_USAGE : EXIT_ERROR, "%s", err.message);
    ctx->auth = ctx->auth_owned;
    return 0;
}

int cli_take_credentials(cli *ctx, int *argc, char **argv)
{
    char *given = NULL, *file = NULL;
    for (int i = 1; i < *argc && strcmp(argv[i], "--");) {
        int took;
        char *v = option_value(*argc, argv, i, "--auth", &took);
        int is_file = !took;
        if (is_file)
            v = option_value(*argc, argv, i, "--auth-file", &took);
        if (!took) {
            i++;
            continue;
        }
        if (is_file) {
            file = v;
        } else {
            free(given);
            given = strdup(v);
            memset(v, 'x', strlen(v)); /* what /proc/PID/cmdline shows from now on */
        }
        memmove(&argv[i], &argv[i + took], (size_t)(*argc - i - took + 1) * sizeof *argv);
        *argc -= took;
    }
    if (given && file) {
        free(given);
        return cli_error(ctx, EXIT_USAGE, "give --auth or --auth-file, not both");
    }
    if (given) {
        fprintf(stderr, "zkdisc: warning: --auth puts the password where every local user can "
                        "read it (ps, /proc/PID/cmdline); use --auth-file or ZKDISC_AUTH_FILE\n");
        ctx->auth = ctx->auth_owned = given;
        return 0;
    }
    if (file)
        return read_auth_file(ctx, file);
    const char *env = getenv("ZKDISC_AUTH");
    if (env && *env) {
        ctx->auth = env;
        return 0;
    }
    env = getenv("ZKDISC_AUTH_FILE");
    return env && *env ? read_auth_file(ctx, env) : 0;
}

void cli_forget_credentials(cli *ctx)
{
    if (ctx->auth_owned) {
        volatile char *v = ctx->auth_owned;
        while (*v)
            *v++ = 0;
        free(ctx->auth_owned);
    }
    ctx->auth = ctx->auth_owned = NULL;
}
