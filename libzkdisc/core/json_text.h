/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: JSON text with reals in their shortest exact form (json_text.c). */
#ifndef ZKD_INTERNAL_JSON_TEXT_H
#define ZKD_INTERNAL_JSON_TEXT_H

#include <jansson.h>
#include <stddef.h>

/* json_dumps, with every real written in its shortest form that reads back
 * to the same double ("0.1", not "0.10000000000000001"). malloc'd. */
char *zkd__json_dump(const json_t *v, size_t flags);

/* The shortest text for d that strtod reads back exactly, always with a '.'
 * or an exponent ("100.0", "0.1", "1e+300"). out: at least 32 bytes. */
void zkd__format_double(double d, char *out, size_t len);

#endif
