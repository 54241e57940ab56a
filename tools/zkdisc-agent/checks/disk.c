/* SPDX-License-Identifier: Apache-2.0 */
/* disk: the filesystem holding `path` keeps at least `min_free` bytes
 * ("10G", or "10%" of its size) and `min_free_inodes` inodes (a count or
 * "5%") free for unprivileged users. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "checks/check.h"

typedef struct limit {
    double percent; /* > 0: a share of the total */
    uint64_t value;
} limit;

typedef struct disk_conf {
    char *path;
    limit bytes, inodes;
} disk_conf;

static void disk_free(void *p)
{
    disk_conf *d = p;
    free(d->path);
    free(d);
}

static int parse_limit(const config_setting_t *s, const char *key, limit *l, struct evbuffer *errors)
{
    const config_setting_t *m = config_setting_get_member(s, key);
    if (m && config_setting_type(m) == CONFIG_TYPE_STRING) {
        const char *v = config_setting_get_string(m);
        size_t n = strlen(v);
        if (n > 1 && v[n - 1] == '%') {
            char *end;
            l->percent = strtod(v, &end);
            if (end != v + n - 1 || l->percent <= 0 || l->percent > 100) {
                conf_error(errors, s, key, "must be a share from 0%% to 100%%");
                return -1;
            }
            return 0;
        }
    }
    return conf_size(s, key, 0, &l->value, errors);
}

static void *disk_parse(const config_setting_t *s, struct evbuffer *errors)
{
    disk_conf *d = calloc(1, sizeof *d);
    int rc = conf_string(s, "path", &d->path, errors);
    if (rc == 1)
        conf_error(errors, s, "path", "missing: a disk check needs `path`");
    int bad = rc != 0;
    int b = parse_limit(s, "min_free", &d->bytes, errors);
    int i = parse_limit(s, "min_free_inodes", &d->inodes, errors);
    bad |= b < 0 || i < 0;
    if (b == 1 && i == 1) {
        conf_error(errors, s, "min_free", "missing: a disk check needs `min_free` or `min_free_inodes`");
        bad = 1;
    }
    if (bad) {
        disk_free(d);
        return NULL;
    }
    return d;
}

static uint64_t threshold(const limit *l, uint64_t total)
{
    return l->percent > 0 ? (uint64_t)((double)total * l->percent / 100.0) : l->value;
}

static void disk_run(check *c)
{
    const disk_conf *d = check_get_conf(c)->kconf;
    struct statvfs v;
    char note[512];
    if (statvfs(d->path, &v) != 0) {
        snprintf(note, sizeof note, "%s: %m", d->path);
        check_done(c, CHECK_CRITICAL, note);
        return;
    }
    uint64_t free_bytes = (uint64_t)v.f_bavail * v.f_frsize, total = (uint64_t)v.f_blocks * v.f_frsize;
    uint64_t need_bytes = threshold(&d->bytes, total), need_inodes = threshold(&d->inodes, v.f_files);
    int ok = free_bytes >= need_bytes && (uint64_t)v.f_favail >= need_inodes;
    snprintf(note, sizeof note, "%s: %.1f MiB free (at least %.1f), %llu inodes free (at least %llu)",
             d->path, (double)free_bytes / 1048576.0, (double)need_bytes / 1048576.0,
             (unsigned long long)v.f_favail, (unsigned long long)need_inodes);
    check_done(c, ok ? CHECK_PASSING : CHECK_CRITICAL, note);
}

static const char *const disk_keys[] = {"path", "min_free", "min_free_inodes", NULL};

const check_kind check_disk = {
    .name = "disk", .parse = disk_parse, .keys = disk_keys, .free_conf = disk_free,
    .run = disk_run, .cancel = NULL,
};
