/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: the record a registration writes (see record.c). */
#ifndef ZKD_INTERNAL_RECORD_H
#define ZKD_INTERNAL_RECORD_H

#include <zkdisc/registry.h>

/* A new record from `spec`. With `prev`, fields the spec leaves empty
 * (service, id, address) and the registration time and enabled flag are
 * kept from it. */
int zkd__record_from_spec(const zkd_instance_spec *spec, const zkd_instance *prev,
                          zkd_instance **out, zkd_error *err);

/* A copy of `i` with another "enabled" flag (NULL when out of memory). */
zkd_instance *zkd__record_with_enabled(const zkd_instance *i, int enabled);

#endif
