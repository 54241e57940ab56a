/* SPDX-License-Identifier: Apache-2.0 */
/* Errors: every call returns 0 or a negative ZKD_E* code. The codes are part
 * of the ABI and are never renumbered; new ones are only appended.
 * Calls that can fail also take an optional `zkd_error *` (NULL is fine) that
 * receives the code and a message fit to show a person. */
#ifndef ZKDISC_ERROR_H
#define ZKDISC_ERROR_H

#include <zkdisc/export.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    ZKD_OK = 0,
    ZKD_EINVAL = -1,      /* bad argument, name, path or option */
    ZKD_ENOMEM = -2,      /* out of memory */
    ZKD_ETIMEDOUT = -3,   /* ZooKeeper could not be reached or did not answer in time */
    ZKD_ECONNLOSS = -4,   /* the connection dropped while a request was in flight */
    ZKD_ENOTFOUND = -5,   /* no such node / service / instance / app */
    ZKD_ECONFLICT = -6,   /* version mismatch on a compare-and-set */
    ZKD_ENOAUTH = -7,     /* the session's identity may not do this (ACL) */
    ZKD_EEXISTS = -8,     /* the node already exists */
    ZKD_ENOTEMPTY = -9,   /* the node has children */
    ZKD_EEXPIRED = -10,   /* the session expired; a new one is being opened */
    ZKD_ECLOSED = -11,    /* the client is closing or closed */
    ZKD_EBADDATA = -12,   /* data in the tree or a file is malformed */
    ZKD_ETOOBIG = -13,    /* larger than ZooKeeper accepts */
    ZKD_EIO = -14,        /* a local file or system call failed */
    ZKD_EZK = -15,        /* another ZooKeeper error; the message has details */
    ZKD_EAUTHFAILED = -16 /* the server rejected the credentials */
};

#define ZKD_ERROR_MESSAGE_MAX 512

typedef struct zkd_error {
    int code;                            /* one of ZKD_E*, 0 when no error */
    char message[ZKD_ERROR_MESSAGE_MAX]; /* NUL-terminated, for a person */
} zkd_error;

/* A short static description of a code ("not found"); never NULL. */
ZKD_EXPORT const char *zkd_strerror(int code);

/* Resets an error struct to "no error". */
ZKD_EXPORT void zkd_error_clear(zkd_error *err);

#ifdef __cplusplus
}
#endif
#endif
