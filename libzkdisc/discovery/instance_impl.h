/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: the instance record's layout, shared by the codec, the registry
 * and the cache. Fields are set once, before the first reference is shared. */
#ifndef ZKD_INTERNAL_INSTANCE_H
#define ZKD_INTERNAL_INSTANCE_H

#include <stdatomic.h>
#include <zkdisc/instance.h>

/* A string or array added here must be packed too: see zkd__instance_pack
 * (instance.c), which copies the struct and then each of them. */
struct zkd_instance { /* ordered so that nothing is padding: a cache holds many */
    _Atomic int refs;
    int port, ssl_port;   /* -1 for null */
    int weight;
    unsigned nmeta;
    unsigned char format; /* zkd_format; small fields in bytes: 8 B less per */
    unsigned char enabled; /* record, which moves a cached one down a malloc size class */
    unsigned char packed; /* strings and arrays live in `blob`: one allocation */
    int64_t registration_time;
    char *service, *id, *address;
    char *zone, *version; /* from the payload, or NULL */
    char *payload;        /* compact JSON, "null" when none */
    char *service_type;   /* Curator's serviceType; NULL means DYNAMIC */
    char *uri_spec;       /* compact JSON or NULL */
    char *znode;          /* the child's name it was read from, or NULL */
    char **meta_keys, **meta_values;
    char blob[]; /* packed records only */
};

/* An empty record with one reference, or NULL. */
zkd_instance *zkd__instance_new(void);

/* The same record in one allocation (strings packed behind the fields), so
 * that a cache of many instances costs little more than their data; `i`'s
 * reference is consumed. NULL when out of memory (`i` is released too). */
zkd_instance *zkd__instance_pack(zkd_instance *i);

/* Two records say the same thing (their JSON would be equal). */
int zkd__instance_equal(const zkd_instance *a, const zkd_instance *b);

#endif
