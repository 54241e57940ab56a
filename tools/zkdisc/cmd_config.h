/* SPDX-License-Identifier: Apache-2.0 */
/* `zkdisc config`: what its subcommands (cmd_config*.c) share. */
#ifndef ZKDISC_CMD_CONFIG_H
#define ZKDISC_CMD_CONFIG_H

#include <jansson.h>

#include "cli.h"
#include "render.h"

/* The subcommands; cmd_config (in cli.h) dispatches to them. */
extern const cli_command cfg_put, cfg_get, cfg_history, cfg_diff, cfg_rollback, cfg_watch,
    cfg_list, cfg_delete, cfg_lock, cfg_unlock, cfg_set, cfg_edit;

/* Reads a file ("-": stdin) whole, at most 64 MiB; *out is malloc'd.
 * Returns 0 or EXIT_ERROR with a message. */
int cfg_read_input(cli *ctx, const char *path, char **out, size_t *len);

/* `config put` without --force: when the app's current document equals
 * json, prints "unchanged" (or its JSON) and returns 1; else 0. */
int cfg_put_unchanged(cli *ctx, const char *app, const char *json);

/* Parses --format: "json" or "libconfig". Returns 0 or EXIT_USAGE. */
int cfg_parse_format(cli *ctx, const char *arg, zkd_config_format *out);

/* Parses a version number (>= min) given as an argument or option value. */
int cfg_parse_version(cli *ctx, const char *what, const char *text, int64_t min, int64_t *out);

/* The author recorded for a publish: the user of --auth, else NULL (the
 * library's $USER@host). Written into buf. */
const char *cfg_author(const cli *ctx, char *buf, size_t len);

/* A value as one line of compact JSON, malloc'd. */
char *cfg_compact(const json_t *v);

/* Copies s into out (at most `width` columns, "..." marking a cut, newlines
 * and tabs as spaces), without splitting a UTF-8 character. */
void cfg_fit(const char *s, size_t width, char *out, size_t outlen);

#endif
