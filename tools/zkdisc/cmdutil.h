/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the tree commands (ls -R, tree, find, grep, du, watch,
 * create/set/rm, export/import, health). */
#ifndef ZKDISC_CMDUTIL_H
#define ZKDISC_CMDUTIL_H

#include "cli.h"

/* Parses "CMD [options] ARGS": checks min..max positional arguments and
 * sets *first. Returns 0, -1 (--help shown) or an exit code. */
int cu_parse(cli *ctx, const cli_command *cmd, int argc, char **argv, const struct option *lo,
             const char *so, int (*on_opt)(cli *, int, const char *, void *), void *ud, int min,
             int max, int *first);

/* A path argument (NULL: none given) as the command uses it: trailing
 * slashes dropped (in place: "/app/" is "/app"); inside the shell,
 * relative to its working node (ctx->cwd), with "." and ".." resolved. */
const char *cu_path(cli *ctx, char *arg);

/* Joins arg to cwd (when arg is relative and cwd is not NULL) and resolves
 * "." and ".." and repeated slashes into out. 0, or -1 when it does not fit. */
int cu_resolve(const char *cwd, const char *arg, char *out, size_t len);

/* Validates `path` (exit 2 with a message) and connects (exit 3 ...). */
int cu_connect_path(cli *ctx, const char *path);

/* Like cli_fail, but ZKD_EEXISTS is a conflict (exit 5): the tree is not
 * in the state the command expects. */
int cu_fail(cli *ctx, int code, const zkd_error *err);

/* The exit code for a code, with ZKD_EEXISTS as a conflict. */
int cu_exit_code(int code);

#endif
