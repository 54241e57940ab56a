/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the tree commands (cmdutil.h). */
#include "cmdutil.h"

int cu_parse(cli *ctx, const cli_command *cmd, int argc, char **argv, const struct option *lo,
             const char *so, int (*on_opt)(cli *, int, const char *, void *), void *ud, int min,
             int max, int *first)
{
    int rc = cli_parse(ctx, cmd, argc, argv, lo, so, on_opt, ud, first);
    if (rc)
        return rc;
    return cli_expect_args(ctx, cmd, argc - *first, min, max);
}

int cu_connect_path(cli *ctx, const char *path)
{
    zkd_error err;
    int rc = zkd_validate_path(path, &err);
    if (rc)
        return cli_fail(ctx, rc, &err);
    return cli_connect(ctx);
}

int cu_exit_code(int code)
{
    return code == ZKD_EEXISTS ? EXIT_CONFLICT : cli_exit_code(code);
}

int cu_fail(cli *ctx, int code, const zkd_error *err)
{
    const char *msg = err && err->message[0] ? err->message : zkd_strerror(code);
    return cli_error(ctx, cu_exit_code(code), "%s", msg);
}
