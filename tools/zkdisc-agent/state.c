/* state_dir/maintenance.json: which services an operator put in
 * maintenance, so that a restarted agent keeps them drained. Written with
 * atomic_file (a reader or a crash sees the old file or the new one). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "atomic_file.h"
#include "runtime.h"

#define STATE_MAX (1 << 20)

static char *state_path(const char *dir)
{
    char *p = NULL;
    return asprintf(&p, "%s/maintenance.json", dir) < 0 ? NULL : p;
}

/* Each entry is "ID": {"reason": TEXT, "since": TIME}; anything else (a
 * hand edit, `{"app-1": 5}`) would put a service in maintenance that nobody
 * asked for: logged and left out (the next save drops it from the file). */
static void drop_bad_entries(json_t *m, const char *path)
{
    const char *id;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(m, tmp, id, v) {
        json_t *reason = json_object_get(v, "reason"), *since = json_object_get(v, "since");
        if (json_is_object(v) && (!reason || json_is_string(reason)) && (!since || json_is_string(since)))
            continue;
        agent_log(AGENT_WARN, "%s: entry \"%s\" ignored: not {\"reason\": TEXT, \"since\": TIME}", path, id);
        json_object_del(m, id);
    }
}

json_t *state_load(const char *dir)
{
    json_t *m = NULL;
    char *path = dir ? state_path(dir) : NULL, *text = NULL;
    if (path && atomic_file_read(path, STATE_MAX, &text) >= 0) {
        json_error_t je;
        m = json_loads(text, 0, &je);
        if (!json_is_object(m)) {
            agent_log(AGENT_WARN, "%s:%d: ignored, not a JSON object: %s", path, je.line, je.text);
            json_decref(m);
            m = NULL;
        }
        drop_bad_entries(m, path);
    } else if (path && errno != ENOENT) {
        agent_log(AGENT_WARN, "%s: cannot read: %m", path);
    }
    free(text);
    free(path);
    return m ? m : json_object();
}

int state_save(const char *dir, json_t *maint)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        agent_log(AGENT_ERROR, "%s: %m", dir);
        return -1;
    }
    char *path = state_path(dir);
    char *text = json_dumps(maint, JSON_INDENT(2) | JSON_SORT_KEYS);
    char err[512];
    int rc = path && text ? atomic_file_write(path, text, strlen(text), 0644, NULL, err, sizeof err) : -1;
    if (rc < 0)
        agent_log(AGENT_ERROR, "%s", path && text ? err : "out of memory");
    free(text);
    free(path);
    return rc < 0 ? -1 : 0;
}
