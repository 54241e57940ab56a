/* Internal: requests answered on the loop thread. Kept for the files that
 * include it; the request layer lives in request.h. */
#ifndef ZKD_INTERNAL_ASYNC_H
#define ZKD_INTERNAL_ASYNC_H

#include "request.h"

#endif
