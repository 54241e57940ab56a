/* SPDX-License-Identifier: Apache-2.0 */
/* Durations with units (duration.h). */
#include "duration.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int64_t duration_parse_ms(const char *text, int64_t bare_unit_ms)
{
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    /* strtod also reads "inf", "nan" and hex: only plain decimals are durations. */
    if (end == text || errno || v < 0 || strspn(text, "0123456789.") != (size_t)(end - text))
        return -1;
    double mult = *end ? -1 : (double)bare_unit_ms;
    for (size_t i = 0; i < sizeof units / sizeof units[0] && mult < 0; i++)
        if (!strcmp(end, units[i].unit))
            mult = units[i].ms;
    if (mult < 0)
        return -1;
    double ms = v * mult;
    return ms > 1e12 ? -1 : (int64_t)(ms + 0.5);
}
