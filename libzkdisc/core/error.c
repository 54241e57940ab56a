/* SPDX-License-Identifier: Apache-2.0 */
/* Error codes, their text, and the mapping from ZooKeeper's codes. */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zookeeper/zookeeper.h>

const char *zkd_strerror(int code)
{
    switch (code) {
    case ZKD_OK: return "success";
    case ZKD_EINVAL: return "invalid argument";
    case ZKD_ENOMEM: return "out of memory";
    case ZKD_ETIMEDOUT: return "ZooKeeper unreachable or timed out";
    case ZKD_ECONNLOSS: return "connection to ZooKeeper lost";
    case ZKD_ENOTFOUND: return "not found";
    case ZKD_ECONFLICT: return "version conflict";
    case ZKD_ENOAUTH: return "not authorized";
    case ZKD_EEXISTS: return "already exists";
    case ZKD_ENOTEMPTY: return "node has children";
    case ZKD_EEXPIRED: return "session expired";
    case ZKD_ECLOSED: return "client closed";
    case ZKD_EBADDATA: return "malformed data";
    case ZKD_ETOOBIG: return "too large";
    case ZKD_EIO: return "input/output error";
    case ZKD_EZK: return "ZooKeeper error";
    case ZKD_EAUTHFAILED: return "authentication failed";
    default: return "unknown error";
    }
}

void zkd_error_clear(zkd_error *err)
{
    if (err) {
        err->code = 0;
        err->message[0] = '\0';
    }
}

int zkd__fail(zkd_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

int zkd__from_zk(int zrc)
{
    switch (zrc) {
    case ZOK: return ZKD_OK;
    case ZNONODE: return ZKD_ENOTFOUND;
    case ZNODEEXISTS: return ZKD_EEXISTS;
    case ZBADVERSION: return ZKD_ECONFLICT;
    case ZNOAUTH: return ZKD_ENOAUTH;
    case ZAUTHFAILED: return ZKD_EAUTHFAILED;
    case ZNOTEMPTY: return ZKD_ENOTEMPTY;
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT: return ZKD_ECONNLOSS;
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE: return ZKD_EEXPIRED;
    case ZCLOSING: return ZKD_ECLOSED;
    case ZBADARGUMENTS: return ZKD_EINVAL;
    /* The server refused what was asked, not how: no usage error. */
    case ZINVALIDACL:
    case ZNOCHILDRENFOREPHEMERALS: return ZKD_EZK;
    case ZSYSTEMERROR: return ZKD_EIO;
    default: return ZKD_EZK;
    }
}

const char *zkd__zk_text(int zrc)
{
    return zerror(zrc);
}
