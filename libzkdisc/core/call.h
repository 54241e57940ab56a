/* Internal: waited-for requests. Kept for the files that include it; the
 * request layer lives in request.h. */
#ifndef ZKD_INTERNAL_CALL_H
#define ZKD_INTERNAL_CALL_H

#include "request.h"

#endif
