/* SPDX-License-Identifier: Apache-2.0 */
/* Text in terminal columns: how wide a UTF-8 string shows (CJK and emoji
 * take two columns, combining marks none), cutting one to a width without
 * splitting a character, and padding table cells. The CLI's tables (tree,
 * instances, services, config history and list, health, du) go through
 * here, and `--no-headers` drops their header lines. */
#ifndef ZKDISC_TEXTWIDTH_H
#define ZKDISC_TEXTWIDTH_H

#include <stddef.h>
#include <stdio.h>

/* Columns `s` takes; a byte that is not UTF-8 counts as one (it is shown
 * as one replacement glyph by most terminals). */
int tw_width(const char *s);

/* Copies into out (outlen bytes) the longest prefix of `s` that fits in
 * `cols` columns, whole characters only; when s does not fit, the prefix
 * leaves a column for "…" and ends with it. Returns the columns used. */
int tw_cut(const char *s, int cols, char *out, size_t outlen);

/* Prints `s` cut to `cols` columns ("…" when cut), then spaces up to cols
 * (none when `last`: the row's last cell). */
void tw_cell(FILE *out, const char *s, int cols, int last);

/* Prints `s` right-aligned in `cols` columns (cut as tw_cell). */
void tw_cell_right(FILE *out, const char *s, int cols);

/* A table whose columns fit the terminal: rows are collected, then each
 * column is as wide as its widest cell, and while the row is wider than
 * the terminal the widest column that can shrink gives a column (its
 * cells cut with "…"). `align` has one letter per column: 'l' or 'r' (left
 * or right aligned) for a column that may shrink; 'L' or 'R' for one that
 * shrinks only when nothing else can (a time, an address); 'd' (left, may
 * shrink) or 'D' (right) for one dropped, rightmost first, when shrinking
 * is not enough. */
typedef struct tw_table tw_table;
tw_table *tw_table_new(int ncols, const char *const *heads, const char *align);
/* Copies the cells (ncols strings; NULL is ""). */
void tw_table_add(tw_table *t, const char *const *cells);
/* Prints the header (unless --no-headers) and the rows within `width`
 * columns, `gap` spaces between columns; frees t. */
void tw_table_print(tw_table *t, FILE *out, int width, int gap);

/* The width a table that is never cut for a script fits: COLUMNS when set,
 * the terminal's on a terminal, else no limit. */
int tw_table_width(void);

/* --no-headers: whether tables print their header line. */
void tw_set_headers(int on);
int tw_headers(void);

#endif
