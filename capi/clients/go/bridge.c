// See bridge.h.
#include "bridge.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { IDLE, REQUESTED, ANSWERED, CLOSED };

struct Bridge {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state;
    int op;
    BridgeRequest req;
    int32_t rc;
    bool found;
    uint8_t *value;
    size_t value_len;
};

Bridge *bridge_new(void) {
    Bridge *b = calloc(1, sizeof(Bridge));
    if (!b) return NULL;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    return b;
}

void bridge_free(Bridge *b) {
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

int bridge_wait(Bridge *b, BridgeRequest *req) {
    pthread_mutex_lock(&b->mu);
    while (b->state != REQUESTED && b->state != CLOSED) pthread_cond_wait(&b->cv, &b->mu);
    int op = b->state == CLOSED ? BRIDGE_CLOSED : b->op;
    *req = b->req;
    pthread_mutex_unlock(&b->mu);
    return op;
}

void bridge_reply(Bridge *b, int32_t rc, bool found, const uint8_t *value, size_t value_len) {
    uint8_t *copy = NULL;
    if (found && value_len > 0) {
        copy = malloc(value_len);
        if (copy) memcpy(copy, value, value_len);
        else rc = 1;
    }
    pthread_mutex_lock(&b->mu);
    b->rc = rc;
    b->found = found;
    b->value = copy;
    b->value_len = value_len;
    b->state = ANSWERED;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

void bridge_close(Bridge *b) {
    pthread_mutex_lock(&b->mu);
    b->state = CLOSED;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

// Sends one request and waits for the answer; the caller frees *value.
static int32_t ask(Bridge *b, int op, const uint8_t *key, size_t key_len, const uint8_t *value,
                   size_t value_len, bool *found, uint8_t **out, size_t *out_len) {
    pthread_mutex_lock(&b->mu);
    b->op = op;
    b->req = (BridgeRequest){key, key_len, value, value_len};
    b->state = REQUESTED;
    pthread_cond_broadcast(&b->cv);
    while (b->state != ANSWERED) pthread_cond_wait(&b->cv, &b->mu);
    int32_t rc = b->rc;
    if (found) *found = b->found;
    if (out) {
        *out = b->value;
        *out_len = b->value_len;
    } else {
        free(b->value);
    }
    b->value = NULL;
    b->state = IDLE;
    pthread_mutex_unlock(&b->mu);
    return rc;
}

static int32_t get_cb(void *ctx, const uint8_t *key, size_t key_len, GasketValue *value) {
    bool found = false;
    uint8_t *data = NULL;
    size_t len = 0;
    int32_t rc = ask(ctx, BRIDGE_GET, key, key_len, NULL, 0, &found, &data, &len);
    if (rc == 0 && found && gasket_value_set(value, data, len, NULL) != GASKET_OK) rc = 1;
    free(data);
    return rc;
}

static int32_t has_cb(void *ctx, const uint8_t *key, size_t key_len, bool *found) {
    return ask(ctx, BRIDGE_HAS, key, key_len, NULL, 0, found, NULL, NULL);
}

static int32_t set_cb(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                      size_t value_len) {
    return ask(ctx, BRIDGE_SET, key, key_len, value, value_len, NULL, NULL, NULL);
}

static int32_t remove_cb(void *ctx, const uint8_t *key, size_t key_len) {
    return ask(ctx, BRIDGE_REMOVE, key, key_len, NULL, 0, NULL, NULL, NULL);
}

GasketStorage bridge_storage(Bridge *b) {
    GasketStorage storage = {b, get_cb, set_cb, remove_cb, has_cb};
    return storage;
}
