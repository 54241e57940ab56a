/* SPDX-License-Identifier: Apache-2.0 */
/* The zkdisc CLI's shared context: global options, connecting, exit codes and
 * output helpers. Each command lives in its own cmd_*.c file. */
#ifndef ZKDISC_CLI_H
#define ZKDISC_CLI_H

#include <getopt.h>
#include <stdio.h>
#include <zkdisc/zkdisc.h>

/* Exit codes, the CLI's contract with scripts. */
enum {
    EXIT_OK = 0,
    EXIT_ERROR = 1,
    EXIT_USAGE = 2,
    EXIT_UNREACHABLE = 3,
    EXIT_NOTFOUND = 4,
    EXIT_CONFLICT = 5,
    EXIT_NOAUTH = 6
};

typedef struct cli {
    const char *zk;   /* --zk / ZKDISC_ZK */
    const char *root; /* --root / ZKDISC_ROOT */
    const char *auth; /* --auth, --auth-file, ZKDISC_AUTH or ZKDISC_AUTH_FILE */
    char *auth_owned; /* ctx->auth when it is a copy (wiped at exit) */
    int timeout_ms;   /* --timeout */
    int json;         /* -o json */
    int verbose;      /* -v: library log lines to stderr, timestamped */
    const char *cmd;  /* the command's name, for messages */
    const char *cwd;  /* `zkdisc shell`: the working node for relative paths */
    zkd_client *client;
} cli;

typedef struct cli_command {
    const char *name;
    const char *summary;
    const char *usage; /* --help text after "usage: zkdisc ": the usage line, a blank
                        * line, what it does and each of its own options explained */
    int (*run)(cli *ctx, int argc, char **argv);
} cli_command;

/* Parses a command's arguments: the global options are accepted anywhere,
 * `longopts`/`shortopts` are the command's own (each returned through
 * on_opt, which returns 0 or an exit code). --help prints usage and yields
 * -1 (the caller exits 0). On success *first_arg is the index of the first
 * positional argument. Returns 0, -1, or EXIT_USAGE. */
int cli_parse(cli *ctx, const cli_command *cmd, int argc, char **argv,
              const struct option *longopts, const char *shortopts,
              int (*on_opt)(cli *ctx, int opt, const char *arg, void *ud), void *ud,
              int *first_arg);

/* Checks the count of positional arguments; prints usage on error. */
int cli_expect_args(cli *ctx, const cli_command *cmd, int have, int min, int max);

/* Takes the credentials out of argv before anything else reads it:
 * --auth USER:PASS (copied, its bytes in argv overwritten so that
 * /proc/PID/cmdline no longer shows them, and a warning), --auth-file FILE,
 * else ZKDISC_AUTH, else ZKDISC_AUTH_FILE. Removes those arguments from
 * argv (*argc shrinks). Returns 0 or an exit code with a message. */
int cli_take_credentials(cli *ctx, int *argc, char **argv);

/* Wipes and frees the credentials cli_take_credentials copied. */
void cli_forget_credentials(cli *ctx);

/* Connects with the global options; on failure prints the error and returns
 * the exit code (3 when ZooKeeper cannot be reached). */
int cli_connect(cli *ctx);

/* The client options the global options stand for, for a command that
 * needs to change one (a session timeout, say) before cli_connect_with. */
void cli_options(const cli *ctx, zkd_options *o);
int cli_connect_with(cli *ctx, const zkd_options *o);

/* Prints "zkdisc CMD: message" for a library error; returns its exit code. */
int cli_fail(cli *ctx, int code, const zkd_error *err);

/* Prints "zkdisc CMD: <formatted>" to stderr; returns `exit_code`. */
int cli_error(cli *ctx, int exit_code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The exit code for a ZKD_E* code. */
int cli_exit_code(int zkd_code);

/* Parses a non-negative int option; returns 0 or EXIT_USAGE with a message. */
int cli_parse_int(cli *ctx, const char *what, const char *text, int min, int *out);

/* Parses a duration option (500ms, 5s, 1.5s, 2m, 1h; a bare number is
 * milliseconds) into *out_ms >= min_ms; 0 or EXIT_USAGE with a message. */
int cli_parse_duration(cli *ctx, const char *what, const char *text, int min_ms, int *out_ms);

/* Prints the command's usage line to stderr and returns EXIT_USAGE. */
int cli_usage(cli *ctx, const cli_command *cmd);

/* Prints the command's --help text to stdout (its own options, then one line
 * pointing at `zkdisc help global`). */
void cli_print_help(const cli_command *cmd);

/* The global options and exit codes, as `zkdisc help global` shows them. */
void cli_print_global_help(FILE *out);

/* The index in argv of the first word that is not an option nor a global
 * option's value (the command or subcommand), or -1. */
int cli_find_word(int argc, char **argv);

/* Finds `name` among cmds[0..n) (names compared after `skip` characters, so
 * "config put" matches "put" with skip 7). Unknown: prints "unknown
 * <what> NAME" with the nearest name as a suggestion and returns NULL. */
const cli_command *cli_lookup(cli *ctx, const cli_command *const *cmds, size_t n, size_t skip,
                              const char *what, const char *name);

/* Every top-level command, in the order `zkdisc help` lists them. */
extern const cli_command *const cli_commands[];
extern const size_t cli_ncommands;

/* A write ZooKeeper refused (ZKD_ENOAUTH): prints "VERB TARGET: not
 * allowed: identity digest:USER lacks PERM [on CHECKED] (ACL: ...)", with
 * CHECKED's ACL read back, and returns EXIT_NOAUTH. CHECKED is the node
 * whose ACL decides (a create's or delete's parent). */
int acl_refused(cli *ctx, const char *verb, const char *target, const char *checked, int perm);
/* The same message into buf, for a caller that shows it elsewhere (the console). */
void acl_refused_text(cli *ctx, const char *verb, const char *target, const char *checked,
                      int perm, char *buf, size_t len);

/* One ACL SPEC (open, read-only, creator, SCHEME:ID:PERMS) into *e; *owned
 * holds the strings to free. 0 or EXIT_USAGE with a message naming opt. */
int acl_spec_parse(cli *ctx, const char *opt, const char *spec, zkd_acl_entry *e, char **owned);

/* The commands. */
extern const cli_command cmd_ls, cmd_get, cmd_stat, cmd_dev, cmd_help, cmd_version,
    cmd_completion, cmd_shell, cmd_sync, cmd_whoami;
extern const cli_command cmd_config, cmd_acl, cmd_service;
/* Their subcommands, for completion. */
extern const cli_command *const acl_subs[], *const svc_subs[];
extern const size_t acl_nsubs, svc_nsubs;
extern const cli_command cmd_tree, cmd_find, cmd_grep, cmd_du, cmd_watch, cmd_create, cmd_set,
    cmd_rm, cmd_export, cmd_import, cmd_health;
extern const cli_command cmd_services, cmd_instances, cmd_register, cmd_run, cmd_deregister,
    cmd_drain, cmd_undrain, cmd_pick;
extern const cli_command cmd_ui;

#endif
