/* SPDX-License-Identifier: Apache-2.0 */
/* Option defaults and their validation. */
#include "options.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <zkdisc/names.h>
#include "errors.h"

void zkd_options_init(zkd_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->connect = "127.0.0.1:2181";
    opts->root = "/zkdisc";
    opts->session_timeout_ms = 10000;
    opts->connect_timeout_ms = 5000;
    opts->request_timeout_ms = 10000;
    opts->log_level = ZKD_LOG_WARN;
    opts->zk_log_level = ZKD_LOG_OFF;
}

/* One "host:port" of a connect string: the port must be 1..65535. */
static int check_server(const char *server, size_t len, zkd_error *err)
{
    const char *colon = memrchr(server, ':', len);
    const char *port = colon ? colon + 1 : NULL;
    size_t digits = port ? len - (size_t)(port - server) : 0;
    long value = 0;
    for (size_t i = 0; i < digits && value <= 65535; i++)
        value = port[i] >= '0' && port[i] <= '9' ? value * 10 + (port[i] - '0') : 65536;
    if (!colon || colon == server || digits == 0 || value < 1 || value > 65535)
        return zkd__fail(err, ZKD_EINVAL,
                         "\"%.*s\" in the connect string is not host:port with a port 1..65535",
                         (int)len, server);
    return 0;
}

/* 1 when the host of "host:port" resolves. */
static int resolves(const char *server, size_t len)
{
    const char *colon = memrchr(server, ':', len);
    int bracket = server[0] == '[' && colon > server + 1 && colon[-1] == ']'; /* [::1]:2181 */
    char host[256];
    int n = snprintf(host, sizeof host, "%.*s", (int)(colon - server) - 2 * bracket,
                     server + bracket);
    if (n < 0 || (size_t)n >= sizeof host)
        return 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (res)
        freeaddrinfo(res);
    return rc == 0;
}

/* Checked before any handle exists, so that a typo is one clear message at
 * once rather than a connect timeout: every port well formed (ZKD_EINVAL),
 * and at least one host that resolves (ZKD_ETIMEDOUT, unreachable; the C
 * client refuses a connect string with none). */
static int check_connect(const char *connect, zkd_error *err)
{
    size_t end = strcspn(connect, "/"); /* the chroot, if any, follows */
    int any = 0, rc = 0;
    const char *first_bad = NULL;
    size_t bad_len = 0;
    for (size_t at = 0; at < end && !rc;) {
        size_t len = strcspn(connect + at, ",/");
        rc = check_server(connect + at, len, err);
        if (!rc && resolves(connect + at, len))
            any = 1;
        else if (!rc && !first_bad)
            first_bad = connect + at, bad_len = len;
        at += len + 1;
    }
    if (!rc && end == 0)
        rc = zkd__fail(err, ZKD_EINVAL, "the connect string \"%s\" names no server", connect);
    if (!rc && !any)
        rc = zkd__fail(err, ZKD_ETIMEDOUT, "no host of the connect string resolves (\"%.*s\" does not)",
                       (int)bad_len, first_bad);
    return rc;
}

int zkd__options_check(const zkd_options *opts, zkd_error *err)
{
    if (!opts)
        return zkd__fail(err, ZKD_EINVAL, "no options given");
    if (!opts->connect || !*opts->connect)
        return zkd__fail(err, ZKD_EINVAL, "the connect string is empty");
    int rc = check_connect(opts->connect, err);
    if (rc)
        return rc;
    if (!opts->root || zkd_validate_path(opts->root, NULL) != 0)
        return zkd__fail(err, ZKD_EINVAL, "root \"%s\" must be an absolute path, like /zkdisc or /",
                         opts->root ? opts->root : "");
    if (opts->session_timeout_ms <= 0 || opts->connect_timeout_ms <= 0 ||
        opts->request_timeout_ms <= 0)
        return zkd__fail(err, ZKD_EINVAL, "timeouts must be positive numbers of milliseconds");
    if (opts->auth && opts->auth_file)
        return zkd__fail(err, ZKD_EINVAL, "give credentials or a credentials file, not both");
    if (opts->auth && !strchr(opts->auth, ':'))
        return zkd__fail(err, ZKD_EINVAL, "credentials must be given as USER:PASSWORD");
    if (opts->log_level < ZKD_LOG_OFF || opts->log_level > ZKD_LOG_DEBUG ||
        opts->zk_log_level < ZKD_LOG_OFF || opts->zk_log_level > ZKD_LOG_DEBUG)
        return zkd__fail(err, ZKD_EINVAL, "log level out of range");
    /* An empty directory would mean the current one to some calls and the
     * filesystem root to others: refuse it rather than guess. */
    if (opts->snapshot_dir && !*opts->snapshot_dir)
        return zkd__fail(err, ZKD_EINVAL,
                         "snapshot_dir is empty: give a directory, or leave it unset for none");
    return 0;
}
