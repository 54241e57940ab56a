/* SPDX-License-Identifier: Apache-2.0 */
/* health: asks every server of the connect string, with the four-letter
 * words ruok, srvr and mntr (tools/common/zkserver.h), how it is doing, and
 * whether the ensemble has a quorum. Needs no ZooKeeper session. Servers are
 * asked in parallel, each within --timeout. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_health.h"
#include "cmdutil.h"
#include "render.h"
#include "term.h"
#include "health_probe.h"
#include "textwidth.h"

static void fmt_ll(char *out, size_t len, long long v)
{
    if (v < 0)
        snprintf(out, len, "-");
    else
        snprintf(out, len, "%lld", v);
}

static int on_word(cli *ctx, int opt, const char *arg, void *ud)
{
    (void)opt;
    *(const char **)ud = arg;
    return health_check_word(ctx, arg);
}

static int run_health(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"4lw", required_argument, NULL, 'W'}, {0}};
    const char *word = NULL;
    int first;
    int rc = cu_parse(ctx, &cmd_health, argc, argv, lo, NULL, on_word, &word, 0, 0, &first);
    if (rc)
        return rc;
    probe v[MAX_SERVERS];
    int n;
    if ((rc = parse_connect(ctx, ctx->zk, v, &n)))
        return rc;
    if (word) {
        health_server s[MAX_SERVERS];
        for (int i = 0; i < n; i++)
            s[i] = (health_server){v[i].host, v[i].port, v[i].label};
        return health_4lw(ctx, word, s, n);
    }
    for (int i = 0; i < n; i++)
        v[i].timeout_ms = ctx->timeout_ms;
    probe_all(v, n);

    health_summary h;
    health_summarize(v, n, &h);
    int ensemble = h.ensemble, voters = h.voters, down = h.down, members = h.members;
    int needed = h.needed, quorum = h.quorum, healthy = h.healthy;
    const char *leader = h.leader;

    if (ctx->json) {
        render_json(health_json(v, n, &h));
    } else {
        /* columns that fit COLUMNS or the terminal; an ERROR column when a
         * server has something to say */
        int errors = 0;
        for (int i = 0; i < n; i++)
            errors |= v[i].error[0] != 0;
        static const char *const heads[] = {"SERVER", "MODE", "RTT ms", "AVG LAT", "ZNODES",
                                            "WATCHES", "QUEUE", "ERROR"};
        tw_table *t = tw_table_new(7 + errors, heads, "LLRDDDDl");
        for (int i = 0; i < n; i++) {
            probe *p = &v[i];
            const char *sgr = serving(p) ? (p->mode == ZKS_MODE_LEADER ? term_sgr("1;32") : term_sgr("32"))
                                         : term_sgr("1;31");
            char mode[64], rtt[24] = "-", zn[24] = "-", wc[24] = "-", oq[24] = "-", lat[24] = "-";
            snprintf(mode, sizeof mode, "%s%s%s", sgr, p->reachable ? zks_mode_name(p->mode) : "down",
                     term_reset());
            if (p->reachable) {
                fmt_ll(zn, sizeof zn, p->znodes);
                fmt_ll(wc, sizeof wc, p->watches);
                fmt_ll(oq, sizeof oq, p->outstanding);
                snprintf(rtt, sizeof rtt, "%.1f", p->rtt_ms);
                if (p->avg_latency >= 0)
                    snprintf(lat, sizeof lat, "%.1f ms", p->avg_latency);
            }
            tw_table_add(t, (const char *const[]){p->label, mode, rtt, lat, zn, wc, oq, p->error});
        }
        tw_table_print(t, stdout, term_width(), 1);
        if (ensemble)
            printf("\nquorum: %s%s%s (%d of %d voting members serving, %d needed)%s%s\n",
                   quorum ? term_sgr("32") : term_sgr("1;31"), quorum ? "ok" : "LOST", term_reset(),
                   voters, members, needed, leader ? "; leader " : "", leader ? leader : "");
        if (down)
            printf("%s%d of %d server%s down or not serving%s\n", term_sgr("1;31"), down, n, n == 1 ? "" : "s",
                   term_reset());
    }
    return healthy ? EXIT_OK : EXIT_UNREACHABLE;
}

const cli_command cmd_health = {
    "health", "check every server of the ensemble",
    "health [--4lw WORD]\n\n"
    "Asks each server of the connect string (--zk), in parallel, with the\n"
    "four-letter words ruok, srvr and mntr: its mode (leader, follower or\n"
    "standalone, or down), the probe's round trip, the server's average\n"
    "latency, znode and watch counts and outstanding requests (QUEUE). For an\n"
    "ensemble it tells whether a majority of the listed members follows a\n"
    "leader. The servers must allow these words (4lw.commands.whitelist).\n"
    "Exit 0 when every server serves and the quorum holds; 3 when a server is\n"
    "down, unreachable or not serving, or the quorum is lost.\n"
    "  -o json  {servers: [{server, ok, mode, rttMs, avgLatencyMs, znodes,\n"
    "           watches, outstanding, ...}], quorum: {ok, leader, ...}, healthy}\n"
    "  --4lw WORD  send the four-letter word WORD (cons, wchs, conf, mntr, srvr,\n"
    "           envi, ...) to each server instead and print each reply as the\n"
    "           server returns it (-o json: {servers: [{server, word, reply}]});\n"
    "           a word the server does not allow is an error naming\n"
    "           4lw.commands.whitelist (exit 1); no answer exits 3",
    run_health};
