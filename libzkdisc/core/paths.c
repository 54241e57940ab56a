/* SPDX-License-Identifier: Apache-2.0 */
/* The tree layout: where services, instances and configuration live. */
#include "paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *zkd__path_join(const char *parent, const char *child)
{
    size_t n = strlen(parent) + strlen(child) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", strcmp(parent, "/") ? parent : "", child);
    return p;
}

static char *under_root(zkd_client *c, const char *a, const char *b, const char *d)
{
    /* Root "/" (Spring Cloud Zookeeper's default tree, /services/SERVICE)
     * joins without a doubled slash. */
    const char *root = strcmp(zkd_client_root(c), "/") ? zkd_client_root(c) : "";
    size_t n = strlen(root) + strlen(a) + (b ? strlen(b) : 0) + (d ? strlen(d) : 0) + 4;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s%s%s%s%s", root, a, b ? "/" : "", b ? b : "", d ? "/" : "", d ? d : "");
    return p;
}

char *zkd__services_path(zkd_client *c) { return under_root(c, "services", NULL, NULL); }
char *zkd__service_path(zkd_client *c, const char *s) { return under_root(c, "services", s, NULL); }
char *zkd__instance_path(zkd_client *c, const char *s, const char *id) { return under_root(c, "services", s, id); }
char *zkd__config_root_path(zkd_client *c) { return under_root(c, "config", NULL, NULL); }
char *zkd__config_path(zkd_client *c, const char *app) { return under_root(c, "config", app, NULL); }
