/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: the tree layout (DESIGN.md section 3) in one place.
 * Every result is malloc'd (NULL when out of memory). */
#ifndef ZKD_INTERNAL_PATHS_H
#define ZKD_INTERNAL_PATHS_H

#include <stddef.h>

#include <zkdisc/client.h>

char *zkd__services_path(zkd_client *c);                                   /* <root>/services */
char *zkd__service_path(zkd_client *c, const char *service);               /* .../<service> */
char *zkd__instance_path(zkd_client *c, const char *service, const char *id); /* .../<id> */
char *zkd__config_root_path(zkd_client *c);                                /* <root>/config */
char *zkd__config_path(zkd_client *c, const char *app);                    /* .../<app> */

/* Joins parent and a child name with '/', handling parent "/". */
char *zkd__path_join(const char *parent, const char *child);


#endif
