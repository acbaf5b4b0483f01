/*
 * A C node embedding Gasket through its C API: deploys the token contract
 * (fixtures/contracts/token.wasm), runs transfers with the contract's storage in a C hash
 * map, and checks balances, a panic message and gas.
 *
 *   token_client TOKEN_WASM [EXPECTED_TRANSFER_GAS]
 *
 * Exits 0 when every check passes; prints the failed check and exits 1 otherwise. Built
 * and run by capi/tests/c_client.rs and scripts/capi-clients.sh (under valgrind there).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gasket_capi.h"

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "token_client: check failed: %s: ", #cond);      \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

/* ---- The node's storage: a chained hash map of byte strings. ---- */

typedef struct Entry {
    uint8_t *key;
    size_t key_len;
    uint8_t *value;
    size_t value_len;
    struct Entry *next;
} Entry;

#define BUCKETS 64

typedef struct {
    Entry *buckets[BUCKETS];
    size_t len;
} Map;

static size_t hash(const uint8_t *key, size_t len) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ key[i]) * 1099511628211ull;
    return (size_t)(h % BUCKETS);
}

static uint8_t *copy(const uint8_t *data, size_t len) {
    uint8_t *p = malloc(len ? len : 1);
    CHECK(p != NULL, "out of memory");
    if (len) memcpy(p, data, len);
    return p;
}

static Entry **find(Map *map, const uint8_t *key, size_t len) {
    Entry **slot = &map->buckets[hash(key, len)];
    while (*slot && !((*slot)->key_len == len && (len == 0 || memcmp((*slot)->key, key, len) == 0)))
        slot = &(*slot)->next;
    return slot;
}

static void map_free(Map *map) {
    for (size_t b = 0; b < BUCKETS; b++) {
        Entry *e = map->buckets[b];
        while (e) {
            Entry *next = e->next;
            free(e->key);
            free(e->value);
            free(e);
            e = next;
        }
        map->buckets[b] = NULL;
    }
    map->len = 0;
}

static int32_t storage_get(void *ctx, const uint8_t *key, size_t key_len, GasketValue *value) {
    Entry *e = *find(ctx, key, key_len);
    if (e && gasket_value_set(value, e->value, e->value_len, NULL) != GASKET_OK) return 1;
    return 0;
}

static int32_t storage_set(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                           size_t value_len) {
    Map *map = ctx;
    Entry **slot = find(map, key, key_len);
    if (*slot) {
        free((*slot)->value);
    } else {
        *slot = calloc(1, sizeof(Entry));
        if (!*slot) return 1;
        (*slot)->key = copy(key, key_len);
        (*slot)->key_len = key_len;
        map->len++;
    }
    (*slot)->value = copy(value, value_len);
    (*slot)->value_len = value_len;
    return 0;
}

static int32_t storage_remove(void *ctx, const uint8_t *key, size_t key_len) {
    Map *map = ctx;
    Entry **slot = find(map, key, key_len);
    if (*slot) {
        Entry *e = *slot;
        *slot = e->next;
        free(e->key);
        free(e->value);
        free(e);
        map->len--;
    }
    return 0;
}

static int32_t storage_has(void *ctx, const uint8_t *key, size_t key_len, bool *found) {
    *found = *find(ctx, key, key_len) != NULL;
    return 0;
}

/* ---- Calls. ---- */

static Map state;

static GasketOutcome *call(const GasketModule *module, const char *method, const char *caller,
                           const uint8_t *input, size_t input_len, uint64_t gas) {
    GasketStorage storage = {&state, storage_get, storage_set, storage_remove, storage_has};
    GasketCallParams params = {
        .method = method,
        .input = input,
        .input_len = input_len,
        .caller = (const uint8_t *)caller,
        .caller_len = strlen(caller),
        .current_account = (const uint8_t *)"token",
        .current_account_len = 5,
        .gas_limit = gas,
        .block_height = 7,
        .block_timestamp = 1000000000,
    };
    GasketOutcome *outcome = NULL;
    GasketError *error = NULL;
    GasketErrorCode code = gasket_call(module, &params, &storage, &outcome, &error);
    CHECK(code == GASKET_OK, "%s: %s", method, gasket_error_message(error));
    return outcome;
}

/* `amount` (u64 little-endian) followed by an account name: the token's input format. */
static size_t amount_to(uint8_t *buf, uint64_t amount, const char *account) {
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(amount >> (8 * i));
    size_t n = strlen(account);
    memcpy(buf + 8, account, n);
    return 8 + n;
}

static void expect_ok(GasketOutcome *o, const char *what) {
    size_t len = 0;
    const uint8_t *msg = gasket_outcome_message(o, &len);
    CHECK(gasket_outcome_status(o) == GASKET_CALL_OK, "%s: status %d (%.*s)", what,
          (int)gasket_outcome_status(o), (int)len, msg ? (const char *)msg : "");
}

static uint64_t balance(const GasketModule *module, const char *who) {
    GasketOutcome *o = call(module, "balance_of", "anyone", (const uint8_t *)who, strlen(who), 100000000);
    expect_ok(o, "balance_of");
    size_t len = 0;
    const uint8_t *data = gasket_outcome_return_data(o, &len);
    CHECK(len == 8, "balance_of returned %zu bytes", len);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)data[i] << (8 * i);
    gasket_outcome_free(o);
    return v;
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc((size_t)n);
    CHECK(data && fread(data, 1, (size_t)n, f) == (size_t)n, "cannot read %s", path);
    fclose(f);
    *len = (size_t)n;
    return data;
}

int main(int argc, char **argv) {
    CHECK(argc == 2 || argc == 3, "usage: token_client TOKEN_WASM [EXPECTED_TRANSFER_GAS]");
    CHECK(gasket_abi_version() == GASKET_ABI_VERSION, "library ABI %u, header ABI %d",
          gasket_abi_version(), GASKET_ABI_VERSION);

    GasketEngineConfig config = {GASKET_PROFILE_CONTRACT, GASKET_FLOATS_PROFILE_DEFAULT, NULL};
    GasketEngine *engine = NULL;
    GasketError *error = NULL;
    CHECK(gasket_engine_new(&config, &engine, &error) == GASKET_OK, "%s", gasket_error_message(error));

    /* A refused module: a code and a readable message. */
    GasketModule *module = NULL;
    CHECK(gasket_engine_load(engine, (const uint8_t *)"junk", 4, &module, &error) ==
              GASKET_ERROR_INVALID_MODULE, "junk was accepted");
    CHECK(strstr(gasket_error_message(error), "module rejected") != NULL, "%s", gasket_error_message(error));
    gasket_error_free(error);

    size_t wasm_len = 0;
    uint8_t *wasm = read_file(argv[1], &wasm_len);
    CHECK(gasket_engine_load(engine, wasm, wasm_len, &module, &error) == GASKET_OK, "%s",
          gasket_error_message(error));
    free(wasm);

    uint8_t input[64];
    GasketOutcome *o = call(module, "init", "owner", NULL, 0, 100000000);
    expect_ok(o, "init");
    gasket_outcome_free(o);
    o = call(module, "mint", "owner", input, amount_to(input, 100, "alice"), 100000000);
    expect_ok(o, "mint");
    size_t log_len = 0;
    const uint8_t *log = gasket_outcome_log(o, 0, &log_len);
    CHECK(gasket_outcome_log_count(o) == 1 && log_len == 4 && memcmp(log, "mint", 4) == 0, "mint log");
    gasket_outcome_free(o);

    size_t n = amount_to(input, 30, "bob");
    o = call(module, "transfer", "alice", input, n, 100000000);
    expect_ok(o, "transfer");
    uint64_t gas = gasket_outcome_gas_used(o);
    CHECK(gasket_outcome_state_change_count(o) == 2, "transfer wrote %zu keys",
          gasket_outcome_state_change_count(o));
    gasket_outcome_free(o);
    if (argc == 3) {
        uint64_t expected = strtoull(argv[2], NULL, 10);
        CHECK(gas == expected, "transfer used %llu gas, the harness %llu", (unsigned long long)gas,
              (unsigned long long)expected);
    }
    CHECK(balance(module, "alice") == 70, "alice has %llu", (unsigned long long)balance(module, "alice"));
    CHECK(balance(module, "bob") == 30, "bob has %llu", (unsigned long long)balance(module, "bob"));

    /* A transfer between two funded accounts costs the same gas each time: exactly that
       much succeeds, one less runs out of gas and writes nothing. */
    n = amount_to(input, 10, "bob");
    o = call(module, "transfer", "alice", input, n, 100000000);
    expect_ok(o, "transfer between funded accounts");
    uint64_t again = gasket_outcome_gas_used(o);
    gasket_outcome_free(o);
    size_t keys = state.len;
    o = call(module, "transfer", "alice", input, n, again - 1);
    CHECK(gasket_outcome_status(o) == GASKET_CALL_TRAP, "out of gas expected");
    CHECK(strcmp(gasket_outcome_trap_kind(o), "out_of_gas") == 0, "trap %s", gasket_outcome_trap_kind(o));
    CHECK(gasket_outcome_gas_used(o) == again - 1, "gas used on out_of_gas is the limit");
    gasket_outcome_free(o);
    CHECK(balance(module, "alice") == 60 && state.len == keys, "a trapped call wrote");
    o = call(module, "transfer", "alice", input, n, again);
    expect_ok(o, "transfer with exactly enough gas");
    CHECK(gasket_outcome_gas_used(o) == again, "the same transfer used other gas");
    gasket_outcome_free(o);

    /* A contract panic: message, nothing written. */
    o = call(module, "transfer", "bob", input, amount_to(input, 51, "alice"), 100000000);
    size_t len = 0;
    const uint8_t *msg = gasket_outcome_message(o, &len);
    CHECK(gasket_outcome_status(o) == GASKET_CALL_PANIC, "panic expected");
    CHECK(len == 20 && memcmp(msg, "insufficient balance", 20) == 0, "message %.*s", (int)len, msg);
    CHECK(gasket_outcome_state_change_count(o) == 0, "a panicked call wrote");
    gasket_outcome_free(o);
    CHECK(balance(module, "alice") == 50, "alice has %llu", (unsigned long long)balance(module, "alice"));
    CHECK(balance(module, "bob") == 50, "bob has %llu", (unsigned long long)balance(module, "bob"));

    /* Serialize and load the artifact into a second module: same results. */
    GasketBytes *bytes = NULL;
    CHECK(gasket_module_serialize(module, &bytes, &error) == GASKET_OK, "%s", gasket_error_message(error));
    GasketModule *copy = NULL;
    CHECK(gasket_module_deserialize(engine, gasket_bytes_data(bytes), gasket_bytes_len(bytes), &copy,
                                    &error) == GASKET_OK, "%s", gasket_error_message(error));
    gasket_bytes_free(bytes);
    CHECK(balance(copy, "bob") == 50, "deserialized module disagrees");

    gasket_module_free(copy);
    gasket_module_free(module);
    gasket_engine_free(engine);
    map_free(&state);
    printf("token_client: ok (transfer gas %llu)\n", (unsigned long long)gas);
    return 0;
}
