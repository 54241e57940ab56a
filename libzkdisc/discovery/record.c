/* SPDX-License-Identifier: Apache-2.0 */
/* Building the record a registration writes: the id (a random UUID by
 * default), the address (the first non-loopback IPv4 by default), and the
 * payload with zkdisc's extras (weight, zone, version, metadata) merged in. */
#include "record.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <zkdisc/names.h>

#include "errors.h"
#include "json_text.h"
#include "instance_impl.h"

void zkd_instance_spec_init(zkd_instance_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->port = -1;
    spec->ssl_port = -1;
    spec->enabled = 1;
}

int zkd_default_address(char *buf, size_t len, zkd_error *err)
{
    struct ifaddrs *all;
    if (getifaddrs(&all) != 0)
        return zkd__fail(err, ZKD_EIO, "cannot list network interfaces");
    int rc = zkd__fail(err, ZKD_ENOTFOUND, "this host has no non-loopback IPv4 address; pass one");
    for (struct ifaddrs *a = all; a; a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || (a->ifa_flags & IFF_LOOPBACK) ||
            !(a->ifa_flags & IFF_UP))
            continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)a->ifa_addr)->sin_addr, buf, (socklen_t)len);
        rc = 0;
        zkd_error_clear(err);
        break;
    }
    freeifaddrs(all);
    return rc;
}

static int new_uuid(char out[37])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        return ZKD_EIO;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
    return 0;
}

static int add_meta(json_t *payload, const char *const *meta, zkd_error *err)
{
    json_t *m = json_object_get(payload, "metadata");
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(payload, "metadata", m);
    }
    for (; *meta; meta++) {
        const char *eq = strchr(*meta, '=');
        if (!eq || eq == *meta)
            return zkd__fail(err, ZKD_EINVAL, "metadata \"%s\" is not key=value", *meta);
        char *key = strndup(*meta, (size_t)(eq - *meta));
        json_object_set_new(m, key, json_string(eq + 1));
        free(key);
    }
    return 0;
}

/* The fields readers take from a payload must have the types they read,
 * or a record would say one thing and every reader assume another (a
 * "weight":"heavy" read as 100). */
static int check_payload_types(json_t *p, zkd_error *err)
{
    json_t *w = json_object_get(p, "weight");
    if (w && (!json_is_integer(w) || json_integer_value(w) < 0 || json_integer_value(w) > 1000000))
        return zkd__fail(err, ZKD_EINVAL, "payload \"weight\" must be an integer 0..1000000");
    static const char *const strings[] = {"zone", "version"};
    for (size_t k = 0; k < 2; k++) {
        json_t *v = json_object_get(p, strings[k]);
        if (v && !json_is_string(v))
            return zkd__fail(err, ZKD_EINVAL, "payload \"%s\" must be a string", strings[k]);
    }
    json_t *m = json_object_get(p, "metadata");
    if (m && !json_is_object(m))
        return zkd__fail(err, ZKD_EINVAL, "payload \"metadata\" must be an object");
    const char *key;
    json_t *v;
    json_object_foreach(m, key, v)
        if (!json_is_string(v))
            return zkd__fail(err, ZKD_EINVAL, "payload \"metadata\".\"%s\" must be a string", key);
    return 0;
}

/* The caller's payload: a JSON object, or null when there is none. */
static int load_payload(const char *text, json_t **out, zkd_error *err)
{
    *out = json_null();
    if (!text)
        return 0;
    json_error_t jerr;
    json_t *p = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!p)
        return zkd__fail(err, ZKD_EINVAL, "payload is not JSON: %s", jerr.text);
    int rc = json_is_object(p) || json_is_null(p)
                 ? check_payload_types(p, err)
                 : zkd__fail(err, ZKD_EINVAL, "payload must be a JSON object, not %s", text);
    if (rc)
        json_decref(p);
    else
        *out = p;
    return rc;
}

/* The payload JSON: the caller's, with the extras merged in. */
static int build_payload(const zkd_instance_spec *spec, char **out, zkd_error *err)
{
    json_t *p;
    int rc = load_payload(spec->payload, &p, err);
    if (rc)
        return rc;
    int extras = spec->weight || spec->zone || spec->version || (spec->meta && *spec->meta);
    if (extras && json_is_null(p))
        p = json_object();
    if (spec->weight < 0 || spec->weight > 1000000)
        rc = zkd__fail(err, ZKD_EINVAL, "weight %d is not 0..1000000", spec->weight);
    if (!rc && spec->weight)
        json_object_set_new(p, "weight", json_integer(spec->weight));
    if (!rc && spec->zone)
        json_object_set_new(p, "zone", json_string(spec->zone));
    if (!rc && spec->version)
        json_object_set_new(p, "version", json_string(spec->version));
    if (!rc && spec->meta && *spec->meta)
        rc = add_meta(p, spec->meta, err);
    if (!rc && !(*out = zkd__json_dump(p, JSON_COMPACT | JSON_PRESERVE_ORDER)))
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    json_decref(p);
    return rc;
}

static int check_port(const char *what, int port, zkd_error *err)
{
    if (port < -1 || port > 65535)
        return zkd__fail(err, ZKD_EINVAL, "%s %d is not a port (0..65535)", what, port);
    return 0;
}

int zkd__record_from_spec(const zkd_instance_spec *spec, const zkd_instance *prev,
                          zkd_instance **out, zkd_error *err)
{
    const char *service = spec->service ? spec->service : prev ? prev->service : NULL;
    int rc = zkd_validate_name("service", service, err);
    if (!rc && spec->id)
        rc = zkd_validate_name("instance id", spec->id, err);
    if (!rc)
        rc = check_port("port", spec->port, err);
    if (!rc)
        rc = check_port("ssl port", spec->ssl_port, err);
    if (rc)
        return rc;
    char uuid[37], addr[64];
    const char *id = spec->id ? spec->id : prev ? prev->id : NULL;
    if (!id && (rc = new_uuid(uuid)) == 0)
        id = uuid;
    const char *address = spec->address ? spec->address : prev ? prev->address : NULL;
    if (!rc && !address && (rc = zkd_default_address(addr, sizeof addr, err)) == 0)
        address = addr;
    if (rc)
        return rc == ZKD_EIO ? zkd__fail(err, rc, "cannot make a random id") : rc;

    zkd_instance *i = zkd__instance_new();
    if (!i)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    i->service = strdup(service);
    i->id = strdup(id);
    i->address = strdup(address);
    i->port = spec->port;
    i->ssl_port = spec->ssl_port;
    i->weight = spec->weight > 0 ? spec->weight : ZKD_DEFAULT_WEIGHT;
    int more = zkd__instance_set_more(i, &(zkd__inst_more){.zone = (char *)spec->zone,
                                                           .version = (char *)spec->version});
    i->enabled = prev ? prev->enabled : spec->enabled != 0;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    i->registration_time = prev ? prev->registration_time
                                : (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    rc = build_payload(spec, &i->payload, err);
    if (!rc && (more || !i->service || !i->id || !i->address))
        rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    if (rc) {
        zkd_instance_unref(i);
        return rc;
    }
    char *json = zkd_instance_to_json(i);
    size_t size = json ? strlen(json) : 0;
    free(json);
    if (size > ZKD_INSTANCE_MAX_BYTES) {
        zkd_instance_unref(i);
        return zkd__fail(err, ZKD_ETOOBIG,
                         "the record would be %zu bytes; readers skip records over %d bytes", size,
                         ZKD_INSTANCE_MAX_BYTES);
    }
    /* Read back what will be written, so the record's getters (weight, zone,
     * metadata) say exactly what readers of the tree will see. */
    zkd_instance *final = size ? zkd__record_with_enabled(i, i->enabled) : NULL;
    zkd_instance_unref(i);
    if (!final)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    *out = final;
    return 0;
}

zkd_instance *zkd__record_with_enabled(const zkd_instance *i, int enabled)
{
    char *json = zkd_instance_to_json(i);
    zkd_instance *copy = NULL;
    if (json && zkd_instance_parse(i->service, zkd_instance_znode(i), json, strlen(json), &copy,
                                   NULL) == 0)
        copy->enabled = enabled != 0;
    free(json);
    return copy;
}
