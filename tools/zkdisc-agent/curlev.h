/* libcurl's multi interface driven by the agent's libevent loop: every
 * HTTP check and webhook is an easy handle here, none has a thread. */
#ifndef ZKDISC_AGENT_CURLEV_H
#define ZKDISC_AGENT_CURLEV_H

#include <curl/curl.h>
#include <event2/event.h>

/* Called once per transfer on the loop; the easy handle is still the
 * caller's to clean up (after curlev_remove is not needed). */
typedef void (*curlev_done_fn)(CURL *easy, CURLcode result, void *ctx);

int curlev_init(struct event_base *base);
void curlev_shutdown(void);
/* Starts `easy`; `done` runs when it finishes. */
int curlev_add(CURL *easy, curlev_done_fn done, void *ctx);
/* Abandons a transfer in flight; `done` is not called. */
void curlev_remove(CURL *easy);

#endif
