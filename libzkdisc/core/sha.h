/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: the two hashes zkdisc needs, small and dependency-free.
 * SHA-256 checksums configuration documents; SHA-1 (with base64) makes
 * ZooKeeper's digest ACL ids, "user:base64(sha1(user:password))". Both
 * follow FIPS 180-4 and are checked against its test vectors in
 * tests/test_config_convert.c. */
#ifndef ZKD_INTERNAL_SHA_H
#define ZKD_INTERNAL_SHA_H

#include <stddef.h>

#define ZKD_SHA1_LEN 20
#define ZKD_SHA256_LEN 32

void zkd__sha1(const void *data, size_t len, unsigned char out[ZKD_SHA1_LEN]);
void zkd__sha256(const void *data, size_t len, unsigned char out[ZKD_SHA256_LEN]);

/* Lower-case hex of in[0..n) into out (2n + 1 bytes, NUL-terminated). */
void zkd__hex(const unsigned char *in, size_t n, char *out);

/* Base64 (RFC 4648, padded) of in[0..n) into out (4 * ((n + 2) / 3) + 1
 * bytes, NUL-terminated); returns the length written. */
size_t zkd__base64(const unsigned char *in, size_t n, char *out);

#endif
