/* state_dir/maintenance.json: which services an operator put in
 * maintenance, so that a restarted agent keeps them drained. Written with
 * atomic_file (a reader or a crash sees the old file or the new one). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "atomic_file.h"
#include "runtime.h"

#define STATE_MAX (1 << 20)

static char *state_path(const char *dir)
{
    char *p = NULL;
    return asprintf(&p, "%s/maintenance.json", dir) < 0 ? NULL : p;
}

/* state_dir holds snapshots of configuration documents (secrets) and the
 * API token: the agent's user only, even when something else made it. */
static void make_private(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0 && (st.st_mode & 077) && st.st_uid == geteuid()) {
        if (chmod(dir, 0700) == 0)
            agent_log(AGENT_INFO, "%s: mode %04o -> 0700", dir, (unsigned)(st.st_mode & 07777));
        else
            agent_log(AGENT_WARN, "%s: cannot make it 0700: %m", dir);
    }
}

json_t *state_load(const char *dir)
{
    if (dir)
        make_private(dir);
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
    } else if (path && errno != ENOENT) {
        agent_log(AGENT_WARN, "%s: cannot read: %m", path);
    }
    free(text);
    free(path);
    return m ? m : json_object();
}

int state_save(const char *dir, json_t *maint)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        agent_log(AGENT_ERROR, "%s: %m", dir);
        return -1;
    }
    char *path = state_path(dir);
    char *text = json_dumps(maint, JSON_INDENT(2) | JSON_SORT_KEYS);
    char err[512];
    int rc = path && text ? atomic_file_write(path, text, strlen(text), 0600, NULL, err, sizeof err) : -1;
    if (rc < 0)
        agent_log(AGENT_ERROR, "%s", path && text ? err : "out of memory");
    free(text);
    free(path);
    return rc < 0 ? -1 : 0;
}
