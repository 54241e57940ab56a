#include <stdlib.h>
#include "dns.h"
struct dns_server { int x; };
dns_server *dns_start(struct event_base *base, const dns_conf *c, watch_set *const *sets, int n,
                      struct evbuffer *errors) { (void)base; (void)c; (void)sets; (void)n; (void)errors; return calloc(1, sizeof(dns_server)); }
void dns_set_watches(dns_server *d, watch_set *const *sets, int n) { (void)d; (void)sets; (void)n; }
void dns_metrics(const dns_server *d, struct evbuffer *out) { (void)d; (void)out; }
void dns_stop(dns_server *d) { free(d); }
