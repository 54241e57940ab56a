/* SPDX-License-Identifier: Apache-2.0 */
/* How every command that changes something says what it did: one line on
 * stdout ("drained web/w1", "web/w1 already drained"), or with -o json one
 * object {"action": ACTION, ...fields, "changed": true|false}. A no-op is
 * reported the same way, with changed false, and is no error (exit 0). */
#ifndef ZKDISC_MUTATION_REPORT_H
#define ZKDISC_MUTATION_REPORT_H

#include <jansson.h>

#include "cli.h"

/* Prints the report; `fields` (an object or NULL) is stolen, its keys
 * follow "action". Returns EXIT_OK. */
int mr_report(cli *ctx, const char *action, int changed, json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
