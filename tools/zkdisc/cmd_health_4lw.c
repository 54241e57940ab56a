/* SPDX-License-Identifier: Apache-2.0 */
/* `zkdisc health --4lw WORD`: a raw four-letter word (cons, wchs, conf,
 * mntr...) to every server of the connect string, each reply printed as the
 * server returns it. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "cmd_health.h"
#include "render.h"
#include "zkserver.h"

int health_check_word(cli *ctx, const char *word)
{
    int ok = strlen(word) == 4;
    for (int i = 0; ok && i < 4; i++)
        ok = islower((unsigned char)word[i]);
    return ok ? 0 : cli_error(ctx, EXIT_USAGE, "--4lw takes a four-letter word such as cons, "
                              "wchs, conf or mntr, not \"%s\"", word);
}

/* ZooKeeper answers a word it was not allowed with this sentence, on an
 * open connection, instead of refusing it. */
static int refused(const char *reply)
{
    return strstr(reply, "is not executed because it is not in the whitelist") != NULL;
}

int health_4lw(cli *ctx, const char *word, const health_server *s, int n)
{
    static char reply[1 << 20]; /* wchc and dump can be long; one server at a time */
    int rc = EXIT_OK;
    json_t *arr = ctx->json ? json_array() : NULL;
    for (int i = 0; i < n; i++) {
        char error[200] = "";
        if (zks_4lw(s[i].host, s[i].port, word, reply, sizeof reply, ctx->timeout_ms) != 0) {
            snprintf(error, sizeof error, "%s", errno == ETIMEDOUT ? "timed out" : strerror(errno));
            rc = EXIT_UNREACHABLE;
        } else if (refused(reply)) {
            snprintf(error, sizeof error, "\"%s\" is not allowed by the server: add it to "
                     "4lw.commands.whitelist in its zoo.cfg", word);
            if (rc == EXIT_OK)
                rc = EXIT_ERROR;
        }
        if (arr) {
            json_t *o = json_pack("{s:s,s:s}", "server", s[i].label, "word", word);
            json_object_set_new(o, error[0] ? "error" : "reply", json_string(error[0] ? error : reply));
            json_array_append_new(arr, o);
            continue;
        }
        if (n > 1)
            printf("%s==> %s <==\n", i ? "\n" : "", s[i].label);
        if (error[0])
            fprintf(stderr, "zkdisc health: %s: %s\n", s[i].label, error);
        else
            fputs(reply, stdout);
        fflush(stdout);
    }
    if (arr)
        render_json(json_pack("{s:o}", "servers", arr));
    return rc;
}
