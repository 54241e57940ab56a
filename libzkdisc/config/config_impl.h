/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: what the config modules share (config_*.c). See
 * include/zkdisc/config.h for the tree, the envelope and the promises. */
#ifndef ZKD_INTERNAL_CONFIG_IMPL_H
#define ZKD_INTERNAL_CONFIG_IMPL_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <zkdisc/config.h>

#include "json_text.h" /* zkd__json_dump, zkd__format_double */

struct zkd_config_version {
    _Atomic int refs;
    char *app;
    int64_t version, time_ms;
    char *author, *message, *checksum;
    size_t size;
    json_t *doc;    /* never modified after construction */
    char *doc_json; /* compact, as stored */
    int stale;      /* read from a snapshot file */
    int64_t czxid;  /* creation zxid of the app node it was read from; 0 unknown */
};

/* Deletes per transaction (retention, delete): keeps a request well under
 * jute.maxbuffer next to two envelopes. */
#define ZKD_CONFIG_DELETES_PER_TXN 32

/* ---- JSON ---------------------------------------------------------------- */

/* "sha256:<hex>" of the document's canonical form (compact, sorted keys). */
int zkd__config_checksum(const json_t *doc, char *out, size_t len);

/* Parses a document (JSON text, top level an object) into a new reference. */
int zkd__config_load_doc(const char *json, size_t len, const char *source, json_t **out,
                         zkd_error *err);

/* ---- envelopes ------------------------------------------------------------ */

/* The envelope text (compact) for a document; *len_out its length. */
char *zkd__config_envelope(const json_t *doc, int64_t version, int64_t time_ms,
                           const char *author, const char *message, size_t *len_out);

/* A version object from an envelope object (borrowed); checks its fields
 * and its checksum. ZKD_EBADDATA naming `what` (a path or file) otherwise. */
int zkd__config_version_from(const char *app, const json_t *env, const char *what,
                             zkd_config_version **out, zkd_error *err);

/* Same, from node data. */
int zkd__config_version_parse(const char *app, const char *data, size_t len, const char *what,
                              zkd_config_version **out, zkd_error *err);

/* The envelope object of a version (new reference), for snapshot files. */
json_t *zkd__config_version_envelope(const zkd_config_version *v);

/* A copy of v with another stale flag (new reference), or NULL. */
zkd_config_version *zkd__config_version_restale(const zkd_config_version *v, int stale);

/* ---- names and paths ------------------------------------------------------ */

/* <root>/config/<app>/versions and .../versions/<NNNNNNNNNN>; malloc'd. */
char *zkd__config_versions_path(zkd_client *c, const char *app);
char *zkd__config_version_path(zkd_client *c, const char *app, int64_t version);

/* The number a version node's name stands for, or -1 when it is not one. */
int64_t zkd__config_version_name(const char *name);

/* "$USER@hostname" into buf. */
void zkd__config_default_author(char *buf, size_t len);

/* Makes <root> and <root>/config exist (plain persistent nodes). */
int zkd__config_make_parents(zkd_client *c, zkd_error *err);

#endif
