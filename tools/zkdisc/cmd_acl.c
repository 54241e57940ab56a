/* SPDX-License-Identifier: Apache-2.0 */
/* `zkdisc acl get|set|digest` for any node, `zkdisc service lock|unlock`,
 * and the message for a write ZooKeeper refused: which identity lacked
 * which permission, and the ACL that refused it. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmdutil.h"
#include "mutation_report.h"
#include "render.h"

/* ---- ACLs as text ----------------------------------------------------------- */

/* zkCli's order: cdrwa. */
static void perms_text(int perms, char out[6])
{
    static const struct { int bit; char ch; } order[] = {
        {ZKD_PERM_CREATE, 'c'}, {ZKD_PERM_DELETE, 'd'}, {ZKD_PERM_READ, 'r'},
        {ZKD_PERM_WRITE, 'w'},  {ZKD_PERM_ADMIN, 'a'}};
    size_t n = 0;
    for (size_t i = 0; i < 5; i++)
        if (perms & order[i].bit)
            out[n++] = order[i].ch;
    out[n] = '\0';
}

static int perms_of(const char *s)
{
    int p = 0;
    for (; *s; s++) {
        const char *at = strchr("rwcda", *s);
        if (!at)
            return -1;
        p |= 1 << (at - "rwcda");
    }
    return p;
}

int acl_spec_parse(cli *ctx, const char *opt, const char *spec, zkd_acl_entry *e, char **owned)
{
    *owned = NULL;
    if (!strcmp(spec, "open")) {
        *e = (zkd_acl_entry){ZKD_PERM_ALL, "world", "anyone"};
    } else if (!strcmp(spec, "read-only")) {
        *e = (zkd_acl_entry){ZKD_PERM_READ, "world", "anyone"};
    } else if (!strcmp(spec, "creator")) {
        *e = (zkd_acl_entry){ZKD_PERM_ALL, "auth", ""};
    } else {
        const char *c1 = strchr(spec, ':'), *c2 = strrchr(spec, ':');
        int perms = c1 && c2 > c1 ? perms_of(c2 + 1) : -1;
        if (perms <= 0)
            return cli_error(ctx, EXIT_USAGE,
                             "%s takes open, read-only, creator or SCHEME:ID:PERMS "
                             "(PERMS of rwcda), not \"%s\"", opt, spec);
        char *copy = strdup(spec);
        if (!copy)
            return cli_error(ctx, EXIT_ERROR, "out of memory");
        copy[c1 - spec] = '\0';
        copy[c2 - spec] = '\0';
        *owned = copy;
        *e = (zkd_acl_entry){perms, copy, copy + (c1 - spec) + 1};
    }
    return 0;
}

/* "world:anyone r, digest:alice:HASH cdrwa" */
static void acl_line(const zkd_acl_entry *acl, size_t n, char *out, size_t len)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && at < len; i++) {
        char p[6];
        perms_text(acl[i].perms, p);
        int w = snprintf(out + at, len - at, "%s%s:%s %s", i ? ", " : "", acl[i].scheme,
                         acl[i].id, p);
        at += w > 0 ? (size_t)w : 0;
    }
}

static const char *perm_name(int perm)
{
    switch (perm) {
    case ZKD_PERM_READ: return "READ";
    case ZKD_PERM_WRITE: return "WRITE";
    case ZKD_PERM_CREATE: return "CREATE";
    case ZKD_PERM_DELETE: return "DELETE";
    default: return "ADMIN";
    }
}

void acl_refused_text(cli *ctx, const char *verb, const char *target, const char *checked,
                      int perm, char *buf, size_t len)
{
    char who[300];
    const char *colon = ctx->auth ? strchr(ctx->auth, ':') : NULL;
    if (colon) /* the user's name only: the rest is the password */
        snprintf(who, sizeof who, "digest:%.*s", (int)(colon - ctx->auth), ctx->auth);
    else
        snprintf(who, sizeof who, "world:anyone (no credentials given)");
    char on[1100] = "";
    if (strcmp(checked, target))
        snprintf(on, sizeof on, " on %s", checked);
    zkd_acl_entry *acl = NULL;
    size_t n = 0;
    char line[2048] = "unreadable";
    if (ctx->client && zkd_node_get_acl(ctx->client, checked, &acl, &n, NULL, NULL) == 0)
        acl_line(acl, n, line, sizeof line);
    zkd_acl_free(acl, n);
    snprintf(buf, len, "%s %s: not allowed: identity %s lacks %s%s (ACL: %s)", verb, target, who,
             perm_name(perm), on, line);
}

int acl_refused(cli *ctx, const char *verb, const char *target, const char *checked, int perm)
{
    char msg[4096];
    acl_refused_text(ctx, verb, target, checked, perm, msg, sizeof msg);
    return cli_error(ctx, EXIT_NOAUTH, "%s", msg);
}

/* ---- acl get / set / digest ----------------------------------------------------- */

static int run_acl_get(cli *ctx, int argc, char **argv);
static int run_acl_set(cli *ctx, int argc, char **argv);
static int run_acl_digest(cli *ctx, int argc, char **argv);

static const cli_command acl_get = {
    "acl get", "show a node's ACL (as zkCli's getAcl)",
    "acl get PATH\n\n"
    "Prints each entry of PATH's ACL as zkCli's getAcl does:\n"
    "  'digest,'alice:BASE64HASH\n"
    "  : cdrwa\n"
    "(c create, d delete, r read, w write, a admin). -o json: {\"path\", \"aversion\",\n"
    "\"acl\": [{\"scheme\", \"id\", \"perms\"}]}.",
    run_acl_get};

static const cli_command acl_set = {
    "acl set", "replace a node's ACL",
    "acl set PATH SPEC [SPEC ...]\n\n"
    "Replaces the ACL of PATH with the entries given. A SPEC is open (world:\n"
    "anyone, all), read-only (world:anyone, r), creator (all, for the identities\n"
    "this session authenticated as) or SCHEME:ID:PERMS with PERMS of rwcda,\n"
    "e.g. digest:alice:BASE64HASH:cdrwa or world:anyone:r (zkdisc acl digest\n"
    "computes a hash). Needs ADMIN on PATH (exit 6 otherwise).",
    run_acl_set};

static const cli_command acl_digest = {
    "acl digest", "the digest id of USER:PASSWORD read from stdin",
    "acl digest\n\n"
    "Reads USER:PASSWORD from the first line of stdin and prints the digest\n"
    "identity ZooKeeper matches, digest:USER:BASE64HASH, for ACLs.",
    run_acl_digest};

static int run_acl_get(cli *ctx, int argc, char **argv)
{
    int first;
    int rc = cli_parse(ctx, &acl_get, argc, argv, NULL, NULL, NULL, NULL, &first);
    if (rc || (rc = cli_expect_args(ctx, &acl_get, argc - first, 1, 1)))
        return rc;
    const char *path = cu_path(ctx, argv[first]);
    zkd_error err;
    if ((rc = zkd_validate_path(path, &err)))
        return cli_fail(ctx, rc, &err);
    if ((rc = cli_connect(ctx)))
        return rc;
    zkd_acl_entry *acl;
    size_t n;
    zkd_stat st;
    if ((rc = zkd_node_get_acl(ctx->client, path, &acl, &n, &st, &err)))
        return cli_fail(ctx, rc, &err);
    json_t *list = ctx->json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        char p[6];
        perms_text(acl[i].perms, p);
        if (list)
            json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "scheme", acl[i].scheme, "id",
                                                  acl[i].id, "perms", p));
        else
            printf("'%s,'%s\n: %s\n", acl[i].scheme, acl[i].id, p);
    }
    if (list)
        render_json(json_pack("{s:s,s:i,s:o}", "path", path, "aversion", st.aversion, "acl", list));
    zkd_acl_free(acl, n);
    return 0;
}

static int run_acl_set(cli *ctx, int argc, char **argv)
{
    int first;
    int rc = cli_parse(ctx, &acl_set, argc, argv, NULL, NULL, NULL, NULL, &first);
    if (rc || (rc = cli_expect_args(ctx, &acl_set, argc - first, 2, 65)))
        return rc;
    const char *path = cu_path(ctx, argv[first]);
    size_t n = (size_t)(argc - first - 1);
    zkd_acl_entry e[64];
    char *owned[64] = {0};
    for (size_t i = 0; i < n && !rc; i++)
        rc = acl_spec_parse(ctx, "acl set", argv[first + 1 + i], &e[i], &owned[i]);
    zkd_error err;
    if (!rc && (rc = zkd_validate_path(path, &err)))
        rc = cli_fail(ctx, rc, &err);
    if (!rc)
        rc = cli_connect(ctx);
    if (!rc && (rc = zkd_node_set_acl(ctx->client, path, e, n, &err)))
        rc = rc == ZKD_ENOAUTH ? acl_refused(ctx, "acl set", path, path, ZKD_PERM_ADMIN)
                               : cli_fail(ctx, rc, &err);
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
    if (!rc)
        mr_report(ctx, "acl set", 1, json_pack("{s:s,s:i}", "path", path, "entries", (int)n),
                  "set the ACL of %s (%zu entr%s)", path, n, n == 1 ? "y" : "ies");
    return rc;
}

static int run_acl_digest(cli *ctx, int argc, char **argv)
{
    int first;
    int rc = cli_parse(ctx, &acl_digest, argc, argv, NULL, NULL, NULL, NULL, &first);
    if (rc || (rc = cli_expect_args(ctx, &acl_digest, argc - first, 0, 0)))
        return rc;
    char line[1024];
    if (!fgets(line, sizeof line, stdin))
        return cli_error(ctx, EXIT_USAGE, "give USER:PASSWORD on stdin");
    line[strcspn(line, "\r\n")] = '\0';
    char *id = NULL;
    zkd_error err;
    rc = zkd_digest_identity(line, &id, &err);
    memset(line, 0, sizeof line);
    if (rc)
        return cli_fail(ctx, rc, &err);
    if (ctx->json)
        render_json(json_pack("{s:s,s:s}", "scheme", "digest", "id", id));
    else
        printf("digest:%s\n", id);
    zkd_free(id);
    return 0;
}

/* ---- service lock / unlock ---------------------------------------------------------- */

enum { O_ALLOW = 3000, O_ADMIN };

typedef struct lock_opts {
    const char *allow[64], *admin[64];
    size_t nallow, nadmin;
} lock_opts;

static int on_lock_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    lock_opts *o = ud;
    const char **list = opt == O_ALLOW ? o->allow : o->admin;
    size_t *n = opt == O_ALLOW ? &o->nallow : &o->nadmin;
    if (*n == 64)
        return cli_error(ctx, EXIT_USAGE, "at most 64 --%s", opt == O_ALLOW ? "allow" : "admin");
    list[(*n)++] = arg;
    return 0;
}

static int run_lock(cli *ctx, int argc, char **argv);
static int run_unlock(cli *ctx, int argc, char **argv);

static const cli_command svc_lock = {
    "service lock", "allow only named identities to register into a service",
    "service lock SERVICE --allow ID [--allow ID ...] [--admin ID ...]\n\n"
    "Makes SERVICE's node persistent with the ACL: anyone may read; the --allow\n"
    "identities may register (create) and deregister (delete) instances; the\n"
    "--admin identities may do everything: drain, undrain, deregister any\n"
    "instance, lock and unlock. Instances registered with credentials are then\n"
    "readable by everyone and writable only by their creator and the admins.\n"
    "Others get exit 6 and nothing changes. An ID is USER:PASSWORD (hashed here;\n"
    "the password goes nowhere else) or digest:USER:BASE64HASH. Give yourself\n"
    "--admin to unlock later. A service with live instances under the container\n"
    "node a registration made cannot be locked in place (exit 5): lock it\n"
    "before its instances register.",
    run_lock};

static const cli_command svc_unlock = {
    "service unlock", "let anyone register into a service again",
    "service unlock SERVICE\n\n"
    "Opens SERVICE's node to everyone again (its instances keep their ACLs).\n"
    "Needs an admin's credentials; otherwise exit 6.",
    run_unlock};

static void print_users(const char *label, const char *const *ids, size_t n)
{
    printf("; %s:", label);
    for (size_t i = 0; i < n; i++) {
        const char *u = strncmp(ids[i], "digest:", 7) ? ids[i] : ids[i] + 7;
        printf("%s %.*s", i ? "," : "", (int)strcspn(u, ":"), u);
    }
}

static json_t *users_json(const char *const *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *u = strncmp(ids[i], "digest:", 7) ? ids[i] : ids[i] + 7;
        json_array_append_new(a, json_stringn(u, strcspn(u, ":")));
    }
    return a;
}

static char *service_path(cli *ctx, const char *service)
{
    const char *root = zkd_client_root(ctx->client);
    size_t len = strlen(root) + strlen(service) + 16;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/services/%s", strcmp(root, "/") ? root : "", service);
    return p;
}

static int run_lock(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"allow", required_argument, NULL, O_ALLOW},
                                       {"admin", required_argument, NULL, O_ADMIN},
                                       {0}};
    lock_opts o = {0};
    int first;
    int rc = cli_parse(ctx, &svc_lock, argc, argv, lo, NULL, on_lock_opt, &o, &first);
    if (rc || (rc = cli_expect_args(ctx, &svc_lock, argc - first, 1, 1)))
        return rc;
    const char *service = argv[first];
    zkd_error err;
    if ((rc = zkd_validate_name("service", service, &err)))
        return cli_fail(ctx, rc, &err);
    if (!o.nallow && !o.nadmin) {
        cli_error(ctx, EXIT_USAGE, "give at least one --allow or --admin identity");
        return cli_usage(ctx, &svc_lock);
    }
    if ((rc = cli_connect(ctx)))
        return rc;
    size_t open = 0;
    rc = zkd_service_lock(ctx->client, service, o.allow, o.nallow, o.admin, o.nadmin, &open, &err);
    if (rc == ZKD_ENOAUTH) {
        char *svc = service_path(ctx, service);
        rc = acl_refused(ctx, "service lock", service, svc ? svc : service, ZKD_PERM_ADMIN);
        free(svc);
        return rc;
    }
    if (rc)
        return cli_fail(ctx, rc, &err);
    if (open)
        fprintf(stderr, "zkdisc service lock: warning: %zu instance%s of %s registered before the "
                        "lock keep an ACL anyone may change; re-register %s\n",
                open, open == 1 ? "" : "s", service, open == 1 ? "it" : "them");
    if (ctx->json) {
        mr_report(ctx, "service lock", 1,
                  json_pack("{s:s,s:b,s:o,s:o,s:I}", "service", service, "locked", 1, "allow",
                            users_json(o.allow, o.nallow), "admin", users_json(o.admin, o.nadmin),
                            "openInstances", (json_int_t)open), "%s", "");
    } else {
        printf("locked %s", service);
        print_users("registrants", o.allow, o.nallow);
        print_users("admins", o.admin, o.nadmin);
        printf("\n");
    }
    return 0;
}

static int run_unlock(cli *ctx, int argc, char **argv)
{
    int first;
    int rc = cli_parse(ctx, &svc_unlock, argc, argv, NULL, NULL, NULL, NULL, &first);
    if (rc || (rc = cli_expect_args(ctx, &svc_unlock, argc - first, 1, 1)))
        return rc;
    const char *service = argv[first];
    zkd_error err;
    if ((rc = zkd_validate_name("service", service, &err)))
        return cli_fail(ctx, rc, &err);
    if ((rc = cli_connect(ctx)))
        return rc;
    rc = zkd_service_unlock(ctx->client, service, &err);
    if (rc == ZKD_ENOAUTH) {
        char *svc = service_path(ctx, service);
        rc = acl_refused(ctx, "service unlock", service, svc ? svc : service, ZKD_PERM_ADMIN);
        free(svc);
        return rc;
    }
    if (rc)
        return cli_fail(ctx, rc, &err);
    return mr_report(ctx, "service unlock", 1, json_pack("{s:s,s:b}", "service", service,
                     "locked", 0), "unlocked %s", service);
}

/* ---- the two dispatchers ------------------------------------------------------------ */

static int dispatch(cli *ctx, const char *group, const cli_command *const *subs, size_t n,
                    int argc, char **argv)
{
    int at = cli_find_word(argc, argv);
    if (at < 0) {
        for (int i = 1; i < argc; i++)
            if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                printf("usage: zkdisc %s SUBCOMMAND [ARGS...]\n\nSubcommands:\n", group);
                for (size_t k = 0; k < n; k++)
                    printf("  %-8s %s\n", subs[k]->name + strlen(group) + 1, subs[k]->summary);
                return -1;
            }
        cli_error(ctx, EXIT_USAGE, "missing subcommand");
        fprintf(stderr, "Run 'zkdisc %s --help' for the subcommands.\n", group);
        return EXIT_USAGE;
    }
    const cli_command *sub = cli_lookup(ctx, subs, n, strlen(group) + 1, "subcommand", argv[at]);
    if (!sub) {
        fprintf(stderr, "Run 'zkdisc %s --help' for the subcommands.\n", group);
        return EXIT_USAGE;
    }
    ctx->cmd = sub->name;
    memmove(&argv[at], &argv[at + 1], (size_t)(argc - at) * sizeof *argv);
    return sub->run(ctx, argc - 1, argv);
}

const cli_command *const acl_subs[] = {&acl_get, &acl_set, &acl_digest};
const cli_command *const svc_subs[] = {&svc_lock, &svc_unlock};
const size_t acl_nsubs = sizeof acl_subs / sizeof *acl_subs;
const size_t svc_nsubs = sizeof svc_subs / sizeof *svc_subs;

static int run_acl(cli *ctx, int argc, char **argv)
{
    return dispatch(ctx, "acl", acl_subs, acl_nsubs, argc, argv);
}

static int run_service(cli *ctx, int argc, char **argv)
{
    return dispatch(ctx, "service", svc_subs, svc_nsubs, argc, argv);
}

const cli_command cmd_acl = {
    "acl", "show or replace any node's ACL: get, set, digest",
    "acl SUBCOMMAND [ARGS...]\n\n"
    "Subcommands: get PATH, set PATH SPEC..., digest. Run 'zkdisc acl --help'.",
    run_acl};

const cli_command cmd_service = {
    "service", "who may register into a service: lock, unlock",
    "service SUBCOMMAND [ARGS...]\n\n"
    "Subcommands: lock SERVICE --allow ID... [--admin ID...], unlock SERVICE.\n"
    "Run 'zkdisc service --help'.",
    run_service};
