/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: the instance record's layout, shared by the codec, the registry
 * and the cache. Fields are set once, before the first reference is shared. */
#ifndef ZKD_INTERNAL_INSTANCE_H
#define ZKD_INTERNAL_INSTANCE_H

#include <stdatomic.h>
#include <zkdisc/instance.h>

/* The fields most records leave unset, behind one pointer: four pointers
 * and two arrays in every record would cost 40 bytes each, which moves a
 * usual cached record up a malloc size class (144 -> 176 bytes). */
typedef struct zkd__inst_more {
    char *zone, *version; /* from the payload, or NULL */
    char *service_type;   /* Curator's serviceType; NULL means DYNAMIC */
    char *uri_spec;       /* compact JSON or NULL */
    char **meta_keys, **meta_values; /* nmeta of each (zkd_instance's) */
} zkd__inst_more;

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
    char *payload;        /* compact JSON, "null" when none */
    char *znode;          /* the child's name it was read from, or NULL */
    zkd__inst_more *more; /* NULL while none of its fields is set */
    char blob[]; /* packed records only */
};

/* i->more, made when missing (a record being built: not packed, not yet
 * shared); NULL when out of memory. */
zkd__inst_more *zkd__instance_more(zkd_instance *i);

/* Copies into i->more the strings `from` sets (borrowed; its arrays are
 * ignored), making i->more only when one is set: most records have none.
 * 0 or ZKD_ENOMEM. */
int zkd__instance_set_more(zkd_instance *i, const zkd__inst_more *from);

static inline const char *zkd__zone_of(const zkd_instance *i) { return i->more ? i->more->zone : NULL; }
static inline const char *zkd__version_of(const zkd_instance *i) { return i->more ? i->more->version : NULL; }
static inline const char *zkd__service_type_of(const zkd_instance *i)
{
    return i->more ? i->more->service_type : NULL;
}
static inline const char *zkd__uri_spec_of(const zkd_instance *i) { return i->more ? i->more->uri_spec : NULL; }

/* An empty record with one reference, or NULL. */
zkd_instance *zkd__instance_new(void);

/* The same record in one allocation (strings packed behind the fields), so
 * that a cache of many instances costs little more than their data; `i`'s
 * reference is consumed. NULL when out of memory (`i` is released too). */
zkd_instance *zkd__instance_pack(zkd_instance *i);

/* Two records say the same thing (their JSON would be equal). */
int zkd__instance_equal(const zkd_instance *a, const zkd_instance *b);

#endif
