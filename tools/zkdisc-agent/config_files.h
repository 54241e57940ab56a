/* SPDX-License-Identifier: Apache-2.0 */
/* config_files: each app's new versions written to a file, then on_change;
 * the previous file restored when on_change fails. */
#ifndef ZKDISC_AGENT_CONFIG_FILES_H
#define ZKDISC_AGENT_CONFIG_FILES_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <zkdisc/zkdisc.h>

#include "conf_consumers.h"

typedef struct cfiles cfiles;

/* Opens a config watch per entry. The watches' callbacks only wake the loop
 * through `wake_fd`; cfiles_refresh does the work there. */
cfiles *cfiles_start(struct event_base *base, zkd_client *zk, const cfile_conf *files, int n,
                     int wake_fd, struct evbuffer *errors);
/* After a reload: an entry unchanged in `from` (same app, path, format and
 * on_change) keeps the version it last handled, so an unchanged SIGHUP
 * neither rewrites a file nor retries a version whose on_change failed. */
void cfiles_carry(cfiles *to, const cfiles *from);
void cfiles_refresh(cfiles *cf);
void cfiles_metrics(const cfiles *cf, struct evbuffer *out);
void cfiles_stop(cfiles *cf);

#endif
