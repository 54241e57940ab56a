/* SPDX-License-Identifier: Apache-2.0 */
/* A service instance as read from (or written to) the tree.
 *
 * zkdisc writes Apache Curator's format (JsonInstanceSerializer,
 * compatibility mode) and reads Curator, Twitter ServerSet and Airbnb Nerve
 * records. An instance is immutable and reference-counted: whatever hands
 * one out documents whether the caller owns a reference. */
#ifndef ZKDISC_INSTANCE_H
#define ZKDISC_INSTANCE_H

#include <stddef.h>
#include <stdint.h>
#include <zkdisc/export.h>
#include <zkdisc/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zkd_instance zkd_instance;

typedef enum zkd_format {
    ZKD_FORMAT_CURATOR = 0,
    ZKD_FORMAT_SERVERSET = 1,
    ZKD_FORMAT_NERVE = 2
} zkd_format;

/* The default weight when a record has none. */
#define ZKD_DEFAULT_WEIGHT 100

/* Instance records larger than this are treated as malformed: a discovery
 * record is a few hundred bytes, and one bad writer must not make every
 * consumer allocate megabytes. */
#define ZKD_INSTANCE_MAX_BYTES (64 * 1024)

ZKD_EXPORT const char *zkd_instance_service(const zkd_instance *i);
ZKD_EXPORT const char *zkd_instance_id(const zkd_instance *i);
ZKD_EXPORT const char *zkd_instance_address(const zkd_instance *i);
ZKD_EXPORT int zkd_instance_port(const zkd_instance *i);     /* -1 when null */
ZKD_EXPORT int zkd_instance_ssl_port(const zkd_instance *i); /* -1 when null */
ZKD_EXPORT int64_t zkd_instance_registration_time(const zkd_instance *i); /* ms, 0 if unknown */
ZKD_EXPORT int zkd_instance_enabled(const zkd_instance *i);  /* 0 when drained */
ZKD_EXPORT int zkd_instance_weight(const zkd_instance *i);   /* payload.weight, default 100 */
ZKD_EXPORT const char *zkd_instance_zone(const zkd_instance *i);    /* payload.zone or NULL */
ZKD_EXPORT const char *zkd_instance_version(const zkd_instance *i); /* payload.version or NULL */
/* payload.metadata[key] (Nerve: labels[key]) when it is a string, else NULL. */
ZKD_EXPORT const char *zkd_instance_meta(const zkd_instance *i, const char *key);
ZKD_EXPORT zkd_format zkd_instance_format(const zkd_instance *i);
/* The payload as compact JSON ("null" when there is none); owned by i. */
ZKD_EXPORT const char *zkd_instance_payload(const zkd_instance *i);

/* Curator's uriSpec as compact JSON, or NULL when the record has none. */
ZKD_EXPORT const char *zkd_instance_uri_spec(const zkd_instance *i);
/* The name of the znode the record was read from. It differs from the id
 * only for Curator's DYNAMIC_SEQUENTIAL instances (znode "q10000000000", id
 * "q1"); for a record not read from the tree it is the id. Owned by i. */
ZKD_EXPORT const char *zkd_instance_znode(const zkd_instance *i);

/* Where to connect, as text in buf (snprintf's return value):
 * "address:port"; with no port, or with prefer_ssl and an sslPort,
 * "address:sslPort", prefixed "https://" when the record's uriSpec has a
 * scheme part (Curator then builds https URIs); a bare address when the
 * record has neither port. IPv6 addresses are bracketed. */
ZKD_EXPORT int zkd_instance_endpoint(const zkd_instance *i, int prefer_ssl, char *buf,
                                     size_t len);

/* The record in Curator's format; malloc'd, release with zkd_free. */
ZKD_EXPORT char *zkd_instance_to_json(const zkd_instance *i);

/* Parses a znode's data. `service` and `node_name` (the child's name) fill
 * in what ServerSet and Nerve records do not carry, and bind a Curator
 * record to where it lives: its "name" must be `service` and its "id"
 * `node_name` (for DYNAMIC_SEQUENTIAL, `node_name` less its 10-digit
 * suffix), or it is ZKD_EBADDATA with both names in the message. NULL for
 * either: the record's own word is taken. "enabled": null reads as false,
 * as Curator reads it. On success *out holds a new reference. ZKD_EBADDATA
 * for anything that is not a record of a known format; ZKD_ENOTFOUND (not
 * an error to count) for a ServerSet member whose status is not ALIVE. */
ZKD_EXPORT int zkd_instance_parse(const char *service, const char *node_name, const char *data,
                                  size_t len, zkd_instance **out, zkd_error *err);

ZKD_EXPORT zkd_instance *zkd_instance_ref(const zkd_instance *i);
ZKD_EXPORT void zkd_instance_unref(const zkd_instance *i);

#ifdef __cplusplus
}
#endif
#endif
