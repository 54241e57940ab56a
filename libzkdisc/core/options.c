/* Option defaults and their validation. */
#include "options.h"

#include <string.h>
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

int zkd__options_check(const zkd_options *opts, zkd_error *err)
{
    if (!opts)
        return zkd__fail(err, ZKD_EINVAL, "no options given");
    if (!opts->connect || !*opts->connect)
        return zkd__fail(err, ZKD_EINVAL, "the connect string is empty");
    if (!opts->root || zkd_validate_path(opts->root, NULL) != 0 || !strcmp(opts->root, "/"))
        return zkd__fail(err, ZKD_EINVAL,
                         "root \"%s\" must be an absolute path below '/', like /zkdisc",
                         opts->root ? opts->root : "");
    if (opts->session_timeout_ms <= 0 || opts->connect_timeout_ms <= 0 ||
        opts->request_timeout_ms <= 0)
        return zkd__fail(err, ZKD_EINVAL, "timeouts must be positive numbers of milliseconds");
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
