// The storage bridge: Gasket's storage callbacks (plain C, on Gasket's native stack) hand
// each request to a Go goroutine blocked in bridge_wait on another thread, which answers
// from its Go map with bridge_reply. No Go code runs on Gasket's stack, where cgo
// callbacks are not allowed (see GasketStorage in gasket_capi.h).
#ifndef GASKET_GO_BRIDGE_H
#define GASKET_GO_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gasket_capi.h"

enum { BRIDGE_GET = 0, BRIDGE_HAS = 1, BRIDGE_SET = 2, BRIDGE_REMOVE = 3, BRIDGE_CLOSED = -1 };

typedef struct Bridge Bridge;

// A request as bridge_wait hands it to Go: pointers valid until bridge_reply.
typedef struct {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
} BridgeRequest;

Bridge *bridge_new(void);
// Frees a closed bridge whose server has returned.
void bridge_free(Bridge *b);
// Blocks until a request (returns its BRIDGE_* op and fills *req) or bridge_close.
int bridge_wait(Bridge *b, BridgeRequest *req);
// Answers the pending request: rc (0 or a failure), whether the key was found, and for a
// get the value (copied).
void bridge_reply(Bridge *b, int32_t rc, bool found, const uint8_t *value, size_t value_len);
// Makes bridge_wait return BRIDGE_CLOSED.
void bridge_close(Bridge *b);
// The storage table whose callbacks go through `b`.
GasketStorage bridge_storage(Bridge *b);

#endif
