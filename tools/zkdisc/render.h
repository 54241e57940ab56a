/* SPDX-License-Identifier: Apache-2.0 */
/* How node data and Stat are shown: pretty JSON, text, hex dump, base64. */
#ifndef ZKDISC_RENDER_H
#define ZKDISC_RENDER_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <zkdisc/node.h>

/* True when buf[0..len) is valid UTF-8 without control bytes other than
 * tab, newline and carriage return: safe to print as text. */
int render_is_text(const char *buf, size_t len);

/* Writes data the way `zkdisc get` shows it to a person: indented JSON when
 * it parses as JSON, the text when it is text, else a hex dump. */
void render_data(FILE *out, const char *buf, size_t len);

/* A canonical hex dump (offset, 16 bytes, ASCII column): 78 columns wide. */
void render_hexdump(FILE *out, const char *buf, size_t len);

/* Base64 (RFC 4648, padded); the result is malloc'd. */
char *render_base64(const char *buf, size_t len);

/* Every time the CLI shows, in RFC 3339 UTC with milliseconds:
 * "2026-11-24T13:37:00.123Z" for ms since the epoch. RENDER_TIME_LEN holds it. */
#define RENDER_TIME_LEN 32
void render_time(char *out, size_t outlen, int64_t ms);

/* The same for the present moment. */
void render_time_now(char *out, size_t outlen);

/* The one way the CLI prints JSON (-o json): v (any value; the reference is
 * stolen) and a newline to stdout, indented when stdout is a terminal or
 * after render_json_pretty(1) (--pretty), else compact on one line, so piped
 * output is one document per line. Reals in their shortest exact form. */
void render_json(json_t *v);

/* A streamed event (watch): always one compact line, flushed. Steals v. */
void render_json_line(json_t *v);

/* --pretty: indent JSON even when stdout is not a terminal. */
void render_json_pretty(int on);
/* Whether render_json indents (else: compact, one line). */
int render_json_is_pretty(void);

/* The Stat as a JSON object with ZooKeeper's field names (new reference). */
json_t *render_stat_json(const zkd_stat *st);

/* A node as JSON: {"path", "encoding" ("utf-8" or "base64"), "data", "stat"};
 * "data" is null (and no encoding) for a node without data. New reference. */
json_t *render_node_json(const char *path, const char *data, size_t len, const zkd_stat *st);

/* Decodes base64 (RFC 4648, padding optional, whitespace ignored) into a
 * malloc'd buffer; NULL when the text is not base64. */
char *render_unbase64(const char *text, size_t *len_out);

/* The Stat as aligned "field  value" lines. */
void render_stat_text(FILE *out, const zkd_stat *st);

#endif
