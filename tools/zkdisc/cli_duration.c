/* SPDX-License-Identifier: Apache-2.0 */
/* Duration options (--timeout 5s): the parser the agent's configuration uses. */
#include <limits.h>

#include "cli.h"
#include "duration.h"

int cli_parse_duration(cli *ctx, const char *what, const char *text, int min_ms, int *out_ms)
{
    int64_t ms = duration_parse_ms(text, 1);
    if (ms < min_ms || ms > INT_MAX)
        return cli_error(ctx, EXIT_USAGE,
                         "%s takes a duration of at least %dms such as 500ms, 5s or 2m (a bare "
                         "number is milliseconds), not \"%s\"",
                         what, min_ms, text);
    *out_ms = (int)ms;
    return 0;
}
