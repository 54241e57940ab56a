/* SPDX-License-Identifier: Apache-2.0 */
/* The instance record: accessors and reference counting. */
#include "instance_impl.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

zkd_instance *zkd__instance_new(void)
{
    zkd_instance *i = calloc(1, sizeof *i);
    if (!i)
        return NULL;
    atomic_init(&i->refs, 1);
    i->port = i->ssl_port = -1;
    i->enabled = 1;
    i->weight = ZKD_DEFAULT_WEIGHT;
    return i;
}

zkd_instance *zkd_instance_ref(const zkd_instance *ci)
{
    zkd_instance *i = (zkd_instance *)ci;
    if (i)
        atomic_fetch_add(&i->refs, 1);
    return i;
}

void zkd_instance_unref(const zkd_instance *ci)
{
    zkd_instance *i = (zkd_instance *)ci;
    if (!i || atomic_fetch_sub(&i->refs, 1) != 1)
        return;
    if (i->packed) {
        free(i);
        return;
    }
    free(i->service);
    free(i->id);
    free(i->address);
    free(i->payload);
    free(i->znode);
    zkd__inst_more *m = i->more;
    if (m) {
        free(m->zone);
        free(m->version);
        free(m->service_type);
        free(m->uri_spec);
        for (size_t k = 0; k < i->nmeta; k++) {
            free(m->meta_keys[k]);
            free(m->meta_values[k]);
        }
        free(m->meta_keys);
        free(m->meta_values);
        free(m);
    }
    free(i);
}

zkd__inst_more *zkd__instance_more(zkd_instance *i)
{
    if (!i->more)
        i->more = calloc(1, sizeof *i->more);
    return i->more;
}

int zkd__instance_set_more(zkd_instance *i, const zkd__inst_more *from)
{
    const char *const src[] = {from->zone, from->version, from->service_type, from->uri_spec};
    if (!src[0] && !src[1] && !src[2] && !src[3])
        return 0;
    zkd__inst_more *m = zkd__instance_more(i);
    if (!m)
        return ZKD_ENOMEM;
    char **dst[] = {&m->zone, &m->version, &m->service_type, &m->uri_spec};
    for (size_t k = 0; k < 4; k++) {
        if (!src[k])
            continue;
        free(*dst[k]);
        if (!(*dst[k] = strdup(src[k])))
            return ZKD_ENOMEM;
    }
    return 0;
}

static size_t str_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* Copies s to *at (moving it on); NULL stays NULL. */
static char *put(char **at, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = memcpy(*at, s, n);
    *at += n;
    return p;
}

/* Whether i->more holds anything (a record may have made it and set none). */
static int has_more(const zkd_instance *i)
{
    const zkd__inst_more *m = i->more;
    return m && (m->zone || m->version || m->service_type || m->uri_spec || i->nmeta);
}

/* Layout of a packed record: the struct, then (when it has them) its
 * zkd__inst_more and the metadata arrays, pointer-aligned since the struct's
 * size is a multiple of a pointer's, then every string. */
zkd_instance *zkd__instance_pack(zkd_instance *i)
{
    if (!i || i->packed)
        return i;
    const zkd__inst_more *m = has_more(i) ? i->more : NULL;
    size_t strings = str_size(i->service) + str_size(i->id) + str_size(i->address) +
                     str_size(i->payload) + str_size(i->znode);
    size_t arrays = 0;
    if (m) {
        strings += str_size(m->zone) + str_size(m->version) + str_size(m->service_type) +
                   str_size(m->uri_spec);
        for (size_t k = 0; k < i->nmeta; k++)
            strings += str_size(m->meta_keys[k]) + str_size(m->meta_values[k]);
        arrays = sizeof *m + 2 * i->nmeta * sizeof(char *);
    }
    zkd_instance *p = malloc(sizeof *p + arrays + strings);
    if (!p) {
        zkd_instance_unref(i);
        return NULL;
    }
    memcpy(p, i, sizeof *p);
    atomic_init(&p->refs, 1);
    p->packed = 1;
    p->more = NULL;
    char *at = p->blob + arrays;
    if (m) {
        zkd__inst_more *pm = p->more = (zkd__inst_more *)(void *)p->blob;
        pm->meta_keys = i->nmeta ? (char **)(void *)(pm + 1) : NULL;
        pm->meta_values = i->nmeta ? pm->meta_keys + i->nmeta : NULL;
        pm->zone = put(&at, m->zone);
        pm->version = put(&at, m->version);
        pm->service_type = put(&at, m->service_type);
        pm->uri_spec = put(&at, m->uri_spec);
        for (size_t k = 0; k < i->nmeta; k++) {
            pm->meta_keys[k] = put(&at, m->meta_keys[k]);
            pm->meta_values[k] = put(&at, m->meta_values[k]);
        }
    }
    p->service = put(&at, i->service);
    p->id = put(&at, i->id);
    p->address = put(&at, i->address);
    p->payload = put(&at, i->payload);
    p->znode = put(&at, i->znode);
    zkd_instance_unref(i);
    return p;
}

static int str_eq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

int zkd__instance_equal(const zkd_instance *a, const zkd_instance *b)
{
    return a->format == b->format && str_eq(a->service, b->service) && str_eq(a->id, b->id) &&
           str_eq(a->address, b->address) && a->port == b->port && a->ssl_port == b->ssl_port &&
           a->registration_time == b->registration_time && a->enabled == b->enabled &&
           a->weight == b->weight && str_eq(a->payload, b->payload) &&
           str_eq(zkd__service_type_of(a), zkd__service_type_of(b)) &&
           str_eq(zkd__uri_spec_of(a), zkd__uri_spec_of(b));
}

const char *zkd_instance_service(const zkd_instance *i) { return i->service; }
const char *zkd_instance_id(const zkd_instance *i) { return i->id; }
const char *zkd_instance_address(const zkd_instance *i) { return i->address; }
int zkd_instance_port(const zkd_instance *i) { return i->port; }
int zkd_instance_ssl_port(const zkd_instance *i) { return i->ssl_port; }
int64_t zkd_instance_registration_time(const zkd_instance *i) { return i->registration_time; }
int zkd_instance_enabled(const zkd_instance *i) { return i->enabled; }
int zkd_instance_weight(const zkd_instance *i) { return i->weight; }
const char *zkd_instance_zone(const zkd_instance *i) { return zkd__zone_of(i); }
const char *zkd_instance_version(const zkd_instance *i) { return zkd__version_of(i); }
zkd_format zkd_instance_format(const zkd_instance *i) { return i->format; }
const char *zkd_instance_payload(const zkd_instance *i) { return i->payload ? i->payload : "null"; }
const char *zkd_instance_uri_spec(const zkd_instance *i) { return zkd__uri_spec_of(i); }
const char *zkd_instance_znode(const zkd_instance *i) { return i->znode ? i->znode : i->id; }

/* Curator's UriSpec names the scheme as the part {"value":"scheme","variable":true}. */
static int has_scheme_part(const char *uri_spec)
{
    json_t *spec = uri_spec ? json_loads(uri_spec, 0, NULL) : NULL;
    json_t *part;
    size_t k;
    int found = 0;
    json_array_foreach(json_object_get(spec, "parts"), k, part) {
        const char *value = json_string_value(json_object_get(part, "value"));
        found |= json_is_true(json_object_get(part, "variable")) && value && !strcmp(value, "scheme");
    }
    json_decref(spec);
    return found;
}

int zkd_instance_endpoint(const zkd_instance *i, int prefer_ssl, char *buf, size_t len)
{
    int ssl = i->ssl_port >= 0 && (prefer_ssl || i->port < 0);
    int port = ssl ? i->ssl_port : i->port;
    const char *scheme = ssl && has_scheme_part(zkd__uri_spec_of(i)) ? "https://" : "";
    int v6 = strchr(i->address, ':') != NULL;
    int n;
    if (port < 0)
        n = snprintf(buf, len, "%s", i->address);
    else
        n = snprintf(buf, len, "%s%s%s%s:%d", scheme, v6 ? "[" : "", i->address, v6 ? "]" : "",
                     port);
    return n < 0 ? 0 : n;
}

const char *zkd_instance_meta(const zkd_instance *i, const char *key)
{
    for (size_t k = 0; k < i->nmeta; k++)
        if (!strcmp(i->more->meta_keys[k], key))
            return i->more->meta_values[k];
    return NULL;
}
