/* SPDX-License-Identifier: Apache-2.0 */
/* `zkdisc health`: what cmd_health.c hands to --4lw (cmd_health_4lw.c). */
#ifndef ZKDISC_CMD_HEALTH_H
#define ZKDISC_CMD_HEALTH_H

#include "cli.h"

typedef struct health_server {
    const char *host;
    int port;
    const char *label; /* host:port, [v6]:port */
} health_server;

/* 0 when word is four lowercase letters, else EXIT_USAGE with a message. */
int health_check_word(cli *ctx, const char *word);

/* Sends word to each server and prints its reply as it came (-o json:
 * {servers: [{server, word, reply|error}]}). Exit 0; 3 when a server did not
 * answer; 1 when one answered that the word is not whitelisted. */
int health_4lw(cli *ctx, const char *word, const health_server *s, int n);

#endif
