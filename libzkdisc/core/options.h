/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: checking a zkd_options before a client is built from it. */
#ifndef ZKD_INTERNAL_OPTIONS_H
#define ZKD_INTERNAL_OPTIONS_H

#include <zkdisc/client.h>

int zkd__options_check(const zkd_options *opts, zkd_error *err);

/* Zeroes and frees credentials (NULL is fine). */
void zkd__auth_wipe(char *auth);

#endif
