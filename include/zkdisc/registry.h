/* Registering this process's instances as ephemeral znodes.
 *
 * A registration lives at <root>/services/<service>/<id>, holding the
 * Curator-compatible record (see instance.h). It survives its session: after
 * an expiry the client's new session re-creates it. If the old session's node
 * is still there, it is removed when its owner is one of this client's dead
 * sessions, so the tree ends with exactly one node. A reconnect inside the
 * same session changes nothing in the tree.
 *
 * An operator may drain an instance by setting "enabled": false in its znode
 * (`zkdisc drain`); the registering process keeps that flag when it updates
 * or re-creates the record. */
#ifndef ZKDISC_REGISTRY_H
#define ZKDISC_REGISTRY_H

#include <zkdisc/export.h>
#include <zkdisc/error.h>
#include <zkdisc/client.h>
#include <zkdisc/instance.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zkd_registration zkd_registration;

/* What to register. Strings are copied. */
typedef struct zkd_instance_spec {
    const char *service;  /* required, a valid name */
    const char *id;       /* NULL: a random UUID */
    const char *address;  /* NULL: the host's first non-loopback IPv4 address */
    int port;             /* -1: none */
    int ssl_port;         /* -1: none */
    const char *payload;  /* JSON object or NULL; zkdisc's extras are merged into it */
    int weight;           /* 0: not written (readers assume 100) */
    const char *zone;     /* NULL: not written */
    const char *version;  /* NULL: not written */
    const char *const *meta; /* NULL-terminated "key=value" strings, into payload.metadata */
} zkd_instance_spec;

/* Fills `spec` with the defaults (ports -1, everything else empty). */
ZKD_EXPORT void zkd_instance_spec_init(zkd_instance_spec *spec);

/* Creates the ephemeral node (and its parents; the service node is a
 * container, so it disappears when its last instance goes). *out owns the
 * registration until zkd_deregister. ZKD_EEXISTS when another live session
 * holds the same service/id. */
ZKD_EXPORT int zkd_register(zkd_client *c, const zkd_instance_spec *spec, zkd_registration **out,
                            zkd_error *err);

/* Replaces the record's payload and ports in place (setData; never a delete).
 * `spec->service` and `spec->id` must match or be NULL; `address` NULL keeps
 * the current address. The tree's "enabled" flag is kept. While the
 * connection is down it returns at once and the record is written when the
 * session is back (or re-created with it after an expiry). */
ZKD_EXPORT int zkd_registration_update(zkd_registration *r, const zkd_instance_spec *spec,
                                       zkd_error *err);

/* The registered id (owned by r). */
ZKD_EXPORT const char *zkd_registration_id(const zkd_registration *r);
/* The record as currently intended (a new reference; zkd_instance_unref). */
ZKD_EXPORT zkd_instance *zkd_registration_instance(const zkd_registration *r);

/* Removes the node and frees r. Idempotent in effect: a node already gone is
 * success, and only this session's node is ever deleted. When the
 * connection is down it returns at once: the removal is queued and done when
 * the connection returns (if the session expires first, the node went with
 * it); r is freed either way. */
ZKD_EXPORT int zkd_deregister(zkd_registration *r, zkd_error *err);

/* Operator actions on any instance (not only this process's). */
ZKD_EXPORT int zkd_instance_remove(zkd_client *c, const char *service, const char *id,
                                   zkd_error *err);
/* Sets "enabled" in the instance's record (compare-and-set, retried on a
 * concurrent change). */
ZKD_EXPORT int zkd_instance_set_enabled(zkd_client *c, const char *service, const char *id,
                                        int enabled, zkd_error *err);

/* Returns the default address: the first non-loopback IPv4 address of an
 * interface that is up, in `buf` (at least 16 bytes). ZKD_ENOTFOUND when the
 * host has none. */
ZKD_EXPORT int zkd_default_address(char *buf, size_t len, zkd_error *err);

#ifdef __cplusplus
}
#endif
#endif
