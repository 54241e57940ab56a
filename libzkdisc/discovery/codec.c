/* SPDX-License-Identifier: Apache-2.0 */
/* Reading and writing instance records: Curator (read and write), Twitter
 * ServerSet and Airbnb Nerve (read only). A record that is none of these is
 * refused with ZKD_EBADDATA and a reason; the cache counts and skips it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json_text.h"
#include "instance_impl.h"

static const char *str_field(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A port: an integer 0..65535 (-1 for null or absent); -2 when malformed. */
static int port_field(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return -1;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535)
        return -2;
    return (int)json_integer_value(v);
}

/* Copies an object's string values into the metadata arrays. */
static int take_meta(zkd_instance *i, json_t *obj)
{
    if (!json_is_object(obj))
        return 0;
    size_t n = json_object_size(obj);
    if (!n)
        return 0;
    zkd__inst_more *m = zkd__instance_more(i);
    if (!m)
        return ZKD_ENOMEM;
    m->meta_keys = calloc(n, sizeof *m->meta_keys);
    m->meta_values = calloc(n, sizeof *m->meta_values);
    if (!m->meta_keys || !m->meta_values)
        return ZKD_ENOMEM;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (!json_is_string(v))
            continue; /* Readers ignore what they do not understand. */
        m->meta_keys[i->nmeta] = strdup(k);
        m->meta_values[i->nmeta] = strdup(json_string_value(v));
        if (!m->meta_keys[i->nmeta] || !m->meta_values[i->nmeta]) {
            i->nmeta++;
            return ZKD_ENOMEM;
        }
        i->nmeta++;
    }
    return 0;
}

/* zkdisc's extras inside a Curator payload object. */
static int take_payload(zkd_instance *i, json_t *payload)
{
    i->payload = zkd__json_dump(payload ? payload : json_null(), JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!i->payload)
        return ZKD_ENOMEM;
    if (!json_is_object(payload))
        return 0;
    json_t *w = json_object_get(payload, "weight");
    if (json_is_integer(w) && json_integer_value(w) >= 0 && json_integer_value(w) <= 1000000)
        i->weight = (int)json_integer_value(w);
    int rc = zkd__instance_set_more(i, &(zkd__inst_more){.zone = (char *)str_field(payload, "zone"),
                                           .version = (char *)str_field(payload, "version")});
    return rc ? rc : take_meta(i, json_object_get(payload, "metadata"));
}

/* Whether a record id may live in znode `node`: the znode is named after
 * the id, or (Curator's DYNAMIC_SEQUENTIAL) after the id and the 10-digit
 * sequence number ZooKeeper appended. */
static int id_fits_node(const char *id, const char *node, const char *type)
{
    if (!strcmp(id, node))
        return 1;
    size_t k = strlen(id);
    if (!type || strcmp(type, "DYNAMIC_SEQUENTIAL") || strlen(node) != k + 10 || strncmp(node, id, k))
        return 0;
    for (const char *d = node + k; *d; d++)
        if (*d < '0' || *d > '9')
            return 0;
    return 1;
}

/* s as a JSON string, at most 80 bytes of it, so that a message naming a
 * writer's text stays one line of sane length. */
static void quote(const char *s, char *buf, size_t len)
{
    json_t *str = json_string(s);
    char *q = str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
    snprintf(buf, len, "%.80s%s", q ? q : "(not UTF-8)", q && strlen(q) > 80 ? "...\"" : "");
    free(q);
    json_decref(str);
}

/* A record is bound to where it lives: its service is the one of its path
 * and its id the one of its znode. Otherwise anyone who may write one znode
 * could take another instance's id (its proxy slot, DNS name, error
 * counts) or move it into another service. */
static int check_identity(json_t *o, const char *service, const char *node, zkd_error *err)
{
    const char *name = str_field(o, "name");
    const char *id = str_field(o, "id");
    json_t *n = json_object_get(o, "name"), *d = json_object_get(o, "id");
    if ((n && !name && !json_is_null(n)) || (d && !id && !json_is_null(d)))
        return zkd__fail(err, ZKD_EBADDATA, "Curator record whose \"name\" or \"id\" is not a string");
    if (!name && !service)
        return zkd__fail(err, ZKD_EBADDATA, "Curator record without a \"name\" string");
    if (!id && !node)
        return zkd__fail(err, ZKD_EBADDATA, "Curator record without an \"id\" string");
    char q[96];
    if (name && service && strcmp(name, service)) {
        quote(name, q, sizeof q);
        return zkd__fail(err, ZKD_EBADDATA, "record names service %s but lives under service \"%s\"",
                         q, service);
    }
    if (id && node && !id_fits_node(id, node, str_field(o, "serviceType"))) {
        quote(id, q, sizeof q);
        return zkd__fail(err, ZKD_EBADDATA, "record id %s is not its znode's name \"%s\"", q, node);
    }
    return 0;
}

/* The instance's own copies of its service, id and address; ZKD_ENOMEM when
 * one could not be made (what was made is freed with the instance). */
static int set_names(zkd_instance *i, const char *service, const char *id, const char *address)
{
    i->service = strdup(service);
    i->id = strdup(id);
    i->address = strdup(address);
    return i->service && i->id && i->address ? 0 : ZKD_ENOMEM;
}

static int parse_curator(zkd_instance *i, json_t *o, const char *service, const char *node,
                         zkd_error *err)
{
    const char *name = str_field(o, "name");
    const char *id = str_field(o, "id");
    const char *address = str_field(o, "address");
    if (!address)
        return zkd__fail(err, ZKD_EBADDATA, "Curator record without an \"address\" string");
    int rc = check_identity(o, service, node, err);
    if (rc)
        return rc;
    i->port = port_field(o, "port");
    i->ssl_port = port_field(o, "sslPort");
    if (i->port == -2 || i->ssl_port == -2)
        return zkd__fail(err, ZKD_EBADDATA, "Curator record with a port that is not 0..65535");
    json_t *enabled = json_object_get(o, "enabled");
    if (enabled && !json_is_boolean(enabled) && !json_is_null(enabled))
        return zkd__fail(err, ZKD_EBADDATA, "Curator record whose \"enabled\" is not a boolean");
    /* Curator reads a null into its primitive boolean: false (Jackson's
     * default for a null primitive). Absent is Curator's default, true. */
    i->enabled = !enabled || json_is_true(enabled);
    json_t *t = json_object_get(o, "registrationTimeUTC");
    i->registration_time = json_is_integer(t) ? (int64_t)json_integer_value(t) : 0;
    if (set_names(i, name ? name : service, id ? id : node, address))
        return ZKD_ENOMEM;
    const char *type = str_field(o, "serviceType");
    json_t *uri = json_object_get(o, "uriSpec");
    int has_uri = uri && !json_is_null(uri);
    char *uri_spec = has_uri ? zkd__json_dump(uri, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (has_uri && !uri_spec)
        return ZKD_ENOMEM;
    /* DYNAMIC, the usual, is kept as NULL (and written back as DYNAMIC). */
    zkd__inst_more more = {.service_type = type && strcmp(type, "DYNAMIC") ? (char *)type : NULL,
                           .uri_spec = uri_spec};
    rc = zkd__instance_set_more(i, &more);
    free(uri_spec);
    return rc ? rc : take_payload(i, json_object_get(o, "payload"));
}

static int parse_serverset(zkd_instance *i, json_t *o, const char *service, const char *node,
                           zkd_error *err)
{
    json_t *ep = json_object_get(o, "serviceEndpoint");
    const char *host = str_field(ep, "host");
    int port = port_field(ep, "port");
    if (!host || port < 0)
        return zkd__fail(err, ZKD_EBADDATA, "ServerSet member without serviceEndpoint host and port");
    const char *status = str_field(o, "status");
    if (status && strcmp(status, "ALIVE"))
        return zkd__fail(err, ZKD_ENOTFOUND, "ServerSet member is %s, not ALIVE", status);
    i->format = ZKD_FORMAT_SERVERSET;
    i->port = port;
    if (set_names(i, service, node, host))
        return ZKD_ENOMEM;
    json_t *extra = json_object_get(o, "additionalEndpoints");
    return take_payload(i, json_is_object(extra) ? extra : NULL);
}

static int parse_nerve(zkd_instance *i, json_t *o, const char *service, const char *node,
                       zkd_error *err)
{
    const char *host = str_field(o, "host");
    int port = port_field(o, "port");
    if (!host || port < 0)
        return zkd__fail(err, ZKD_EBADDATA, "Nerve record without host and port");
    i->format = ZKD_FORMAT_NERVE;
    i->port = port;
    if (set_names(i, service, node, host))
        return ZKD_ENOMEM;
    json_t *w = json_object_get(o, "weight");
    if (json_is_integer(w) && json_integer_value(w) >= 0 && json_integer_value(w) <= 1000000)
        i->weight = (int)json_integer_value(w);
    json_t *labels = json_object_get(o, "labels");
    /* The payload keeps what Nerve wrote beyond the endpoint (weight,
     * labels, name...), so JSON readers see what the table shows. */
    json_t *rest = json_deep_copy(o);
    json_object_del(rest, "host");
    json_object_del(rest, "port");
    i->payload = rest && json_object_size(rest) ? zkd__json_dump(rest, JSON_COMPACT | JSON_PRESERVE_ORDER)
                                                : strdup("null");
    json_decref(rest);
    if (!i->payload)
        return ZKD_ENOMEM;
    int rc = take_meta(i, labels);
    return rc ? rc : zkd__instance_set_more(i, &(zkd__inst_more){.zone = (char *)str_field(labels, "zone")});
}

int zkd_instance_parse(const char *service, const char *node_name, const char *data, size_t len,
                       zkd_instance **out, zkd_error *err)
{
    if (!data || len == 0)
        return zkd__fail(err, ZKD_EBADDATA, "empty record");
    if (len > ZKD_INSTANCE_MAX_BYTES)
        return zkd__fail(err, ZKD_EBADDATA, "record of %zu bytes is over the %d byte limit", len,
                         ZKD_INSTANCE_MAX_BYTES);
    json_error_t jerr;
    json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return zkd__fail(err, ZKD_EBADDATA, "not JSON (%s, line %d column %d)", jerr.text,
                         jerr.line, jerr.column);
    if (!json_is_object(o)) {
        json_decref(o);
        return zkd__fail(err, ZKD_EBADDATA, "record is JSON but not an object");
    }
    zkd_instance *i = zkd__instance_new();
    int rc;
    if (!i)
        rc = ZKD_ENOMEM;
    else if (json_object_get(o, "serviceEndpoint"))
        rc = parse_serverset(i, o, service, node_name, err);
    else if (json_object_get(o, "address") || json_object_get(o, "id"))
        rc = parse_curator(i, o, service, node_name, err);
    else if (json_object_get(o, "host"))
        rc = parse_nerve(i, o, service, node_name, err);
    else
        rc = zkd__fail(err, ZKD_EBADDATA, "not a Curator, ServerSet or Nerve record");
    json_decref(o);
    /* Kept only when it differs from the id (zkd_instance_znode says the
     * id otherwise): a cache of UUID-named instances saves 37 bytes each. */
    if (!rc && node_name && strcmp(node_name, i->id) && !(i->znode = strdup(node_name)))
        rc = ZKD_ENOMEM;
    if (rc == ZKD_ENOMEM)
        zkd__fail(err, rc, "out of memory parsing a record");
    if (rc) {
        zkd_instance_unref(i);
        return rc;
    }
    if (!(*out = zkd__instance_pack(i)))
        return zkd__fail(err, ZKD_ENOMEM, "out of memory parsing a record");
    return 0;
}

static json_t *port_json(int port)
{
    return port >= 0 ? json_integer(port) : json_null();
}

/* Curator's field order: name, id, address, port, sslPort, payload,
 * registrationTimeUTC, serviceType, uriSpec. `enabled` is written only when
 * false: compatibility-mode readers never see a field they do not know
 * unless an operator drained the instance. */
char *zkd_instance_to_json(const zkd_instance *i)
{
    json_t *payload = json_loads(i->payload ? i->payload : "null", JSON_DECODE_ANY, NULL);
    json_t *uri = zkd__uri_spec_of(i) ? json_loads(zkd__uri_spec_of(i), 0, NULL) : NULL;
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(i->service));
    json_object_set_new(o, "id", json_string(i->id));
    json_object_set_new(o, "address", json_string(i->address));
    json_object_set_new(o, "port", port_json(i->port));
    json_object_set_new(o, "sslPort", port_json(i->ssl_port));
    json_object_set_new(o, "payload", payload ? payload : json_null());
    json_object_set_new(o, "registrationTimeUTC", json_integer(i->registration_time));
    json_object_set_new(o, "serviceType",
                        json_string(zkd__service_type_of(i) ? zkd__service_type_of(i) : "DYNAMIC"));
    json_object_set_new(o, "uriSpec", uri ? uri : json_null());
    if (!i->enabled)
        json_object_set_new(o, "enabled", json_false());
    char *s = zkd__json_dump(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}
