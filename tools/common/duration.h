/* SPDX-License-Identifier: Apache-2.0 */
/* Durations as people write them, shared by the CLI's options and the
 * agent's configuration: "500ms", "5s", "1.5s", "2m", "1h". */
#ifndef ZKD_DURATION_H
#define ZKD_DURATION_H

#include <stdint.h>

/* Parses text into milliseconds (rounded). A number without a unit counts
 * in `bare_unit_ms` (1: milliseconds, as the CLI's options always took;
 * 1000: seconds, as the agent's configuration). Returns -1 for anything
 * else: no number, a negative one, an unknown unit, over 10^12 ms. */
int64_t duration_parse_ms(const char *text, int64_t bare_unit_ms);

#endif
