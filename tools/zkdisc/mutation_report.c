/* SPDX-License-Identifier: Apache-2.0 */
/* The report of a change (mutation_report.h). */
#include <stdarg.h>
#include <stdio.h>

#include "mutation_report.h"
#include "render.h"

int mr_report(cli *ctx, const char *action, int changed, json_t *fields, const char *fmt, ...)
{
    if (ctx->json) {
        json_t *o = json_pack("{s:s}", "action", action);
        if (fields)
            json_object_update(o, fields);
        json_decref(fields);
        json_object_set_new(o, "changed", json_boolean(changed));
        render_json(o);
        return EXIT_OK;
    }
    json_decref(fields);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    return EXIT_OK;
}
