/* SPDX-License-Identifier: Apache-2.0 */
/* zkdisc: one CLI for the whole tree. This file finds the command and hands
 * over; the commands are in cmd_*.c. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const cli_command *const cli_commands[] = {
    &cmd_dev, &cmd_ls, &cmd_get, &cmd_stat,
    &cmd_tree, &cmd_find, &cmd_grep, &cmd_du, &cmd_watch, &cmd_create, &cmd_set, &cmd_rm,
    &cmd_export, &cmd_import, &cmd_health, &cmd_sync, &cmd_whoami,
    &cmd_services, &cmd_instances, &cmd_register, &cmd_run, &cmd_deregister, &cmd_drain,
    &cmd_undrain, &cmd_pick,
    &cmd_config, &cmd_service, &cmd_acl, &cmd_ui,
    &cmd_shell, &cmd_help, &cmd_version, &cmd_completion,
};
const size_t cli_ncommands = sizeof cli_commands / sizeof cli_commands[0];

/* The line before a command: only global options, --help or --version.
 * Anything else is an error that says what is wrong (an unknown option, a
 * missing value), never a silent usage dump. */
static const cli_command top = {"", "", "[global options] COMMAND [ARGS...]", NULL};

static int no_command(cli *ctx, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V"))
            return cmd_version.run(ctx, 1, argv);
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return cmd_help.run(ctx, 1, argv);
    }
    int first;
    int rc = cli_parse(ctx, &top, argc, argv, NULL, NULL, NULL, NULL, &first);
    if (rc)
        return rc;
    cli_error(ctx, EXIT_USAGE, "no command given");
    return cli_usage(ctx, &top);
}

int main(int argc, char **argv)
{
    cli ctx = {.zk = getenv("ZKDISC_ZK"), .root = getenv("ZKDISC_ROOT"), .timeout_ms = 5000};
    if (!ctx.zk || !*ctx.zk)
        ctx.zk = "127.0.0.1:2181";
    int rc = cli_take_credentials(&ctx, &argc, argv);
    if (rc)
        return rc;

    int at = cli_find_word(argc, argv);
    if (at < 0) {
        rc = no_command(&ctx, argc, argv);
        cli_forget_credentials(&ctx);
        return rc < 0 ? EXIT_OK : rc;
    }
    const cli_command *cmd = cli_lookup(&ctx, cli_commands, cli_ncommands, 0, "command", argv[at]);
    if (!cmd) {
        cli_forget_credentials(&ctx);
        fprintf(stderr, "Run 'zkdisc help' for the commands.\n");
        return EXIT_USAGE;
    }
    ctx.cmd = cmd->name;
    /* The command sees argv without its own name; global options may sit on
     * either side of it. */
    memmove(&argv[at], &argv[at + 1], (size_t)(argc - at) * sizeof *argv);
    rc = cmd->run(&ctx, argc - 1, argv);
    zkd_close(ctx.client);
    cli_forget_credentials(&ctx);
    return rc < 0 ? EXIT_OK : rc;
}
