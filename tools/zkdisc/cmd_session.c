/* SPDX-License-Identifier: Apache-2.0 */
/* `zkdisc sync PATH` and `zkdisc whoami`: about this client's session. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "cmdutil.h"
#include "render.h"

static int run_sync(cli *ctx, int argc, char **argv)
{
    int first;
    int rc = cu_parse(ctx, &cmd_sync, argc, argv, NULL, NULL, NULL, NULL, 0, 1, &first);
    if (rc)
        return rc;
    const char *path = cu_path(ctx, first < argc ? argv[first] : NULL);
    if ((rc = cu_connect_path(ctx, path)))
        return rc;
    zkd_error err;
    if ((rc = zkd_node_sync(ctx->client, path, &err)))
        return cu_fail(ctx, rc, &err);
    char server[300] = "";
    zkd_client_server(ctx->client, server, sizeof server);
    if (ctx->json)
        render_json(json_pack("{s:s,s:b,s:s}", "path", path, "synced", 1, "server", server));
    else
        printf("synced %s: %s has caught up with the leader\n", path, server);
    return 0;
}

const cli_command cmd_sync = {
    "sync", "make the server catch up with the leader (ZooKeeper's sync)",
    "sync [PATH]\n\n"
    "Asks the server this session is connected to to catch up with the leader\n"
    "(ZooKeeper's sync) for PATH (default /). A read made after it, on the same\n"
    "session (zkdisc shell), sees every write committed before it; a new\n"
    "zkdisc command opens a new session, perhaps on another server.\n"
    "  -o json  {\"path\", \"synced\", \"server\"}",
    run_sync};

static int run_whoami(cli *ctx, int argc, char **argv)
{
    int first;
    int rc = cu_parse(ctx, &cmd_whoami, argc, argv, NULL, NULL, NULL, NULL, 0, 0, &first);
    if (rc || (rc = cli_connect(ctx)))
        return rc;
    char server[300] = "", session[32];
    zkd_client_server(ctx->client, server, sizeof server);
    snprintf(session, sizeof session, "0x%" PRIx64, (uint64_t)zkd_client_session_id(ctx->client));
    /* ZooKeeper's C client (3.8) has no whoAmI request: these are the
     * identities this client authenticated with, which the server accepted
     * (a refused one ends the session with exit 6). */
    const char *colon = ctx->auth ? strchr(ctx->auth, ':') : NULL;
    int user_len = colon ? (int)(colon - ctx->auth) : 0;
    if (ctx->json) {
        json_t *ids = json_array();
        if (colon)
            json_array_append_new(ids, json_pack("{s:s,s:s%}", "scheme", "digest", "id",
                                                 ctx->auth, (size_t)user_len));
        render_json(json_pack("{s:s,s:s,s:o,s:s}", "sessionId", session, "server", server,
                              "identities", ids, "source", "client"));
        return 0;
    }
    printf("session     %s\nserver      %s\n", session, server);
    if (colon)
        printf("identity    digest:%.*s\n", user_len, ctx->auth);
    else
        printf("identity    none (anonymous; every client also has ip:<its address>)\n");
    printf("(the identities this client authenticated with: ZooKeeper's C client has\n"
           "no whoAmI request to ask the server)\n");
    return 0;
}

const cli_command cmd_whoami = {
    "whoami", "the session and the identities it authenticated with",
    "whoami\n\n"
    "Prints the session id, the server it is connected to, and the identities\n"
    "the session authenticated with (--auth, --auth-file: digest:USER). The\n"
    "server also knows every client as ip:ADDRESS. ZooKeeper's C client has no\n"
    "whoAmI request, so these are the identities sent, which the server\n"
    "accepted (a refused one ends the command with exit 6).\n"
    "  -o json  {\"sessionId\", \"server\", \"identities\": [{\"scheme\", \"id\"}],\n"
    "           \"source\": \"client\"}",
    run_whoami};
