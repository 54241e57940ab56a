/* SPDX-License-Identifier: Apache-2.0 */
/* Registering this process's instances as ephemeral znodes.
 *
 * A registration lives at <root>/services/<service>/<id>, holding the
 * Curator-compatible record (see instance.h). The client's registry keeps
 * it there: it is driven on the client's own thread, and these calls hand
 * it their work and wait for the answer (at most the request timeout),
 * never blocking that thread or its session events.
 *
 * It survives its session: after an expiry the client's new session
 * re-creates it. A node already held by one of this client's sessions is
 * adopted, never reported as existing: the live session's (a create whose
 * reply was lost, a re-registration of the same id) is taken over and its
 * record rewritten if needed; an expired session's that the server has not
 * removed yet is deleted and created again. So the tree ends with exactly
 * one node. A reconnect inside the same session changes nothing in the tree.
 * A write whose reply was lost is resolved by reading the node, never by
 * sending it again blindly.
 *
 * An operator may drain an instance by setting "enabled": false in its znode
 * (`zkdisc drain`); the registering process keeps that flag when it updates
 * or re-creates the record, also across connection losses and expiries. An
 * operator's removal of the node (while our session lives) is final: the
 * registry does not re-create it.
 *
 * A client with credentials reads the service node first: under a service
 * `zkdisc service lock` locked (see acl.h), the node is created readable
 * by everyone and writable only by this identity and the service's admins;
 * otherwise, and without credentials, open to everyone as before. */
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
    int enabled;          /* 0: created drained ("enabled": false) from its first write;
                           * zkd_registration_update ignores it (the tree's flag is kept) */
    int watch_node;       /* 0 (the default, Curator's): one request, a raw create's
                           * rate; an operator's drain is kept across this
                           * process's updates (each reads the node first) and a
                           * removal is seen at the next update, but an expiry
                           * re-creates the node as this process last knew it.
                           * 1: an exists watch on the node, a second request per
                           * registration (about 0.8x the rate), sees an operator's
                           * drain or removal at once and keeps it across session
                           * expiries; zkdisc-agent and `zkdisc register` set it.
                           * zkd_registration_update ignores it. */
} zkd_instance_spec;

/* Fills `spec` with the defaults (ports -1, enabled 1, watch_node 0,
 * everything else empty). */
ZKD_EXPORT void zkd_instance_spec_init(zkd_instance_spec *spec);

/* Creates the ephemeral node (and its parents; the service node is a
 * container, so it disappears when its last instance goes). *out owns the
 * registration until zkd_registration_close. Errors: ZKD_EINVAL (a bad spec, before
 * any request), ZKD_EEXISTS when another client's live session holds the
 * same service/id or this client registered it already, a refusal of the
 * server (ZKD_ENOAUTH, ...), ZKD_ECLOSED.
 * While the connection is down it returns 0 at once; the node is created
 * when the session is back. If the request timeout passes before the node
 * is in (a lost reply being resolved), it also returns 0, and the registry
 * carries on. If another session's node holds the id by then, the registry
 * waits for that node to go (and logs it). */
ZKD_EXPORT int zkd_register(zkd_client *c, const zkd_instance_spec *spec, zkd_registration **out,
                            zkd_error *err);

/* Replaces the record's payload and ports in place (setData; never a delete).
 * `spec->service` and `spec->id` must match or be NULL; `address` NULL keeps
 * the current address. The tree's "enabled" flag is kept. Waits until the
 * tree holds the record (at most the request timeout). While the connection
 * is down, or when it drops under the write, it returns 0 at once and the
 * record is written when the session is back (or re-created with it after
 * an expiry). */
ZKD_EXPORT int zkd_registration_update(zkd_registration *r, const zkd_instance_spec *spec,
                                       zkd_error *err);

/* The registered id (owned by r). */
ZKD_EXPORT const char *zkd_registration_id(const zkd_registration *r);
/* The record as currently intended (a new reference; zkd_instance_unref). */
ZKD_EXPORT zkd_instance *zkd_registration_instance(const zkd_registration *r);

/* Removes the node and frees r. Idempotent in effect: a node already gone is
 * success, and only a node held by one of this client's sessions is ever
 * deleted. When the connection is down (or drops under the delete) it
 * returns at once: the removal is queued and done when the connection
 * returns, or on the new session after an expiry if the old node is still
 * there. A new registration of the same id takes the queued removal's place.
 * r is freed either way; after zkd_close it only frees r (the session's end
 * removed the node). */
ZKD_EXPORT int zkd_registration_close(zkd_registration *r, zkd_error *err);

/* Operator actions on any instance (not only this process's). `id` is the
 * instance's znode name, whatever other writers allowed in it ("web 1",
 * "q1@host"): any name ZooKeeper accepts as one path component. */
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
