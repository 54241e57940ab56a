/* SPDX-License-Identifier: Apache-2.0 */
/* The DNS wire format, as much as the agent's responder needs: a query's
 * header, question and EDNS size read without allocating, and answers
 * written into one buffer with compressed names, record by record, each
 * either whole or not at all under a size limit. */
#ifndef ZKDISC_AGENT_DNS_WIRE_H
#define ZKDISC_AGENT_DNS_WIRE_H

#include <stddef.h>
#include <stdint.h>

enum { DNS_T_A = 1, DNS_T_NS = 2, DNS_T_SOA = 6, DNS_T_AAAA = 28, DNS_T_SRV = 33, DNS_T_OPT = 41 };
enum { DNS_ANSWER = 1, DNS_AUTHORITY = 2, DNS_ADDITIONAL = 3 };
#define DNS_MAX_LABELS 128

typedef struct dns_query {
    uint16_t id, qtype, qclass;
    uint8_t opcode, rd;
    int edns;                 /* an OPT record came with it */
    uint16_t edns_size;       /* its UDP payload size */
    size_t qend;              /* the header and question end here */
    int nlabels;
    uint16_t label_off[DNS_MAX_LABELS]; /* where each question label starts */
    char name[256];           /* the question name, dotted, lower case, no final dot */
} dns_query;

/* 0: parsed. DNS_DROP: nothing is to be answered (a runt, a response).
 * DNS_BAD: malformed, answer FORMERR. */
enum { DNS_DROP = -1, DNS_BAD = -2 };
int dns_parse(const uint8_t *q, size_t len, dns_query *out);

/* A header-only FORMERR for `q` into out (12 bytes); 0 when no answer is due. */
size_t dns_formerr(const uint8_t *q, size_t len, uint8_t *out);

typedef struct dns_msg {
    uint8_t *b;
    size_t len, cap;   /* cap: the buffer's size */
    size_t limit;      /* records that would end past this are not added */
    uint16_t count[4];
    int full;          /* a record did not fit */
    size_t rdlen_at;   /* the rdlength of the record being written */
} dns_msg;

/* Starts an answer to `qq` (raw packet `q`) in buf: header and question. */
void dns_msg_start(dns_msg *m, uint8_t *buf, size_t cap, size_t limit, const uint8_t *q,
                   const dns_query *qq);

/* Writes a name: the labels of dotted `text` (len bytes, may be 0), then a
 * pointer to `ptr` (an offset in the message), or the root label when ptr
 * is 0. Returns the offset where it starts (usable as a pointer below
 * 0x4000), or -1 (an empty or over-long label; the message is unchanged). */
int dns_put_name(dns_msg *m, const char *text, size_t len, uint16_t ptr);
void dns_put16(dns_msg *m, uint16_t v);
void dns_put32(dns_msg *m, uint32_t v);
void dns_put(dns_msg *m, const void *p, size_t n);

/* A record: owner as a pointer to `owner`, then rdata written by the
 * caller, then dns_rr_end, which counts it in `section`, or takes it back
 * (returns -1 and sets full) when it ends past the limit. */
size_t dns_rr_begin(dns_msg *m, uint16_t owner, uint16_t type, uint32_t ttl);
/* The same with the owner written as dns_put_name writes it (for names
 * past the reach of a pointer, 16 KB into the message). */
size_t dns_rr_begin_name(dns_msg *m, const char *text, size_t len, uint16_t ptr, uint16_t type,
                         uint32_t ttl);
int dns_rr_end(dns_msg *m, size_t mark, int section);

/* Header flags and counts; the message is m->b[0 .. m->len). */
void dns_msg_finish(dns_msg *m, int aa, int tc, int rcode);

#endif
