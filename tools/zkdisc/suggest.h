/* SPDX-License-Identifier: Apache-2.0 */
/* "Did you mean": the nearest of a few known words to a mistyped one. */
#ifndef ZKDISC_SUGGEST_H
#define ZKDISC_SUGGEST_H

#include <stddef.h>

/* Optimal string alignment distance (insertions, deletions, substitutions
 * and swaps of neighbours each cost 1) between a and b. */
size_t suggest_distance(const char *a, const char *b);

/* The candidate nearest to `word`, or NULL when none is near enough to be a
 * typo: at most 2 edits, and fewer edits than the word has characters. */
const char *suggest_nearest(const char *word, const char *const *cands, size_t n);

#endif
