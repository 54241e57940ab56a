/* SPDX-License-Identifier: Apache-2.0 */
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
/* An easy handle with libcurl's defaults, reused from those given back:
 * curl_easy_init is a large allocation and setup, which 500 checks a
 * second would pay each time. Give it back with curlev_easy_put (not
 * curl_easy_cleanup) once its transfer is done or removed. */
CURL *curlev_easy_get(void);
void curlev_easy_put(CURL *easy);

#endif
