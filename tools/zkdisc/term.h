/* SPDX-License-Identifier: Apache-2.0 */
/* Terminal helpers for the CLI: colour (only on a terminal, never with
 * NO_COLOR set), the terminal's width, a yes/no confirmation, reading a
 * value argument ("-" is stdin), progress on stderr. JSON output and times
 * are render.h's. */
#ifndef ZKDISC_TERM_H
#define ZKDISC_TERM_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* 1 when stdout is a terminal and NO_COLOR is not set. */
int term_color(void);

/* SGR sequences, or "" when colour is off. */
const char *term_sgr(const char *code); /* e.g. "1;34" */
const char *term_reset(void);

/* Columns: $COLUMNS when set (20..10000), else stdout's terminal's, else 80. */
int term_width(void);

/* 1 when stdin and stderr are terminals (someone can answer a question). */
int term_interactive(void);

/* Asks `question [y/N] ` on stderr and reads an answer from stdin; 1 for
 * yes. */
int term_confirm(const char *question);

/* The bytes of a VALUE argument: "-" reads all of stdin. *out is malloc'd
 * (NUL-terminated past *len). Returns 0, or -1 with errno set. */
int term_read_value(const char *arg, char **out, size_t *len);

/* Reads a whole file ("-" is stdin); same conventions. */
int term_read_file(const char *path, char **out, size_t *len);

/* Kept for callers written against the earlier names; new code calls
 * render.h directly. term_print_json(v, 1) is render_json_line(v) (one
 * compact line, for streams), term_print_json(v, 0) is render_json(v) (the
 * one format: compact when piped, indented on a terminal or with --pretty).
 * term_timestamp is render_time_now. Both steal/fill as those do. */
void term_print_json(json_t *v, int compact);
void term_timestamp(char *out, size_t outlen);

/* Progress of a long operation (export, import, rm -R) on stderr, only when
 * stderr is a terminal: "\r<what>: N nodes, R/s", at most 5 times a second,
 * the line cleared at the end so nothing of it stays in the scrollback or
 * reaches a pipe. */
typedef struct term_progress {
    int on;
    const char *what;
    size_t count;
    long long start_ns, shown_ns;
} term_progress;

void term_progress_start(term_progress *p, const char *what);
void term_progress_add(term_progress *p, size_t n);
void term_progress_end(term_progress *p);

/* Parses a session id: "0x1a2b..." (hex) or decimal. 0 on success. */
int term_parse_session(const char *text, long long *out);

#endif
