// A Go node embedding Gasket through its C API (cgo): deploys the token contract, runs
// transfers with the contract's storage in a Go map (served to Gasket through
// bridge.h), checks balances, a panic message and
// gas, then runs the same sequence from several goroutines at once on one engine and
// module, each on its own map, and checks they all agree. Built and run by
// scripts/capi-clients.sh:
//
//	token_client TOKEN_WASM
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -l:libgasket_capi.a -lpthread -ldl -lm -lgcc_s
#include <stdlib.h>
#include "gasket_capi.h"

#include "bridge.h"
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"unsafe"
)

// node is one contract account's storage: a Go map owned by the goroutine that serves
// its bridge (see bridge.h), so the map needs no lock.
type node struct {
	bridge *C.Bridge
	state  map[string][]byte
	done   chan struct{}
}

func newNode() *node {
	n := &node{bridge: C.bridge_new(), state: map[string][]byte{}, done: make(chan struct{})}
	if n.bridge == nil {
		fail("out of memory")
	}
	go n.serve()
	return n
}

// serve answers the bridge's requests from the map until close.
func (n *node) serve() {
	defer close(n.done)
	for {
		var req C.BridgeRequest
		op := C.bridge_wait(n.bridge, &req)
		if op == C.BRIDGE_CLOSED {
			return
		}
		key := string(C.GoBytes(unsafe.Pointer(req.key), C.int(req.key_len)))
		switch op {
		case C.BRIDGE_GET, C.BRIDGE_HAS:
			v, ok := n.state[key]
			if op == C.BRIDGE_HAS {
				v = nil
			}
			var p *C.uint8_t
			if len(v) > 0 {
				p = (*C.uint8_t)(unsafe.Pointer(&v[0]))
			}
			C.bridge_reply(n.bridge, 0, C.bool(ok), p, C.size_t(len(v)))
		case C.BRIDGE_SET:
			n.state[key] = C.GoBytes(unsafe.Pointer(req.value), C.int(req.value_len))
			C.bridge_reply(n.bridge, 0, false, nil, 0)
		case C.BRIDGE_REMOVE:
			delete(n.state, key)
			C.bridge_reply(n.bridge, 0, false, nil, 0)
		default:
			C.bridge_reply(n.bridge, 1, false, nil, 0)
		}
	}
}

// close stops the server; the map may be read afterwards.
func (n *node) close() {
	C.bridge_close(n.bridge)
	<-n.done
	C.bridge_free(n.bridge)
}

// outcome is what a call produced, copied out of the GasketOutcome.
type outcome struct {
	status  uint32
	trap    string
	message string
	data    []byte
	logs    []string
	gasUsed uint64
	writes  int
}

func errorText(err *C.GasketError) string {
	defer C.gasket_error_free(err)
	return fmt.Sprintf("code %d: %s", C.gasket_error_code(err), C.GoString(C.gasket_error_message(err)))
}

// cbytes copies b into C memory (freed by the caller) so no Go pointer is passed to C
// inside a C struct.
func cbytes(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(C.CBytes(b)), C.size_t(len(b))
}

func call(module *C.GasketModule, n *node, method, caller string, input []byte, gas uint64) outcome {
	storage := C.bridge_storage(n.bridge)
	cMethod := C.CString(method)
	defer C.free(unsafe.Pointer(cMethod))
	in, inLen := cbytes(input)
	defer C.free(unsafe.Pointer(in))
	who, whoLen := cbytes([]byte(caller))
	defer C.free(unsafe.Pointer(who))
	account, accountLen := cbytes([]byte("token"))
	defer C.free(unsafe.Pointer(account))
	params := C.GasketCallParams{
		method: cMethod, input: in, input_len: inLen, caller: who, caller_len: whoLen,
		current_account: account, current_account_len: accountLen,
		gas_limit: C.uint64_t(gas), block_height: 7, block_timestamp: 1000000000,
	}
	var out *C.GasketOutcome
	var err *C.GasketError
	if C.gasket_call(module, &params, &storage, &out, &err) != C.GASKET_OK {
		fail("%s: %s", method, errorText(err))
	}
	defer C.gasket_outcome_free(out)
	o := outcome{status: uint32(C.gasket_outcome_status(out)), gasUsed: uint64(C.gasket_outcome_gas_used(out))}
	if kind := C.gasket_outcome_trap_kind(out); kind != nil {
		o.trap = C.GoString(kind)
	}
	var n2 C.size_t
	if p := C.gasket_outcome_message(out, &n2); p != nil {
		o.message = string(C.GoBytes(unsafe.Pointer(p), C.int(n2)))
	}
	p := C.gasket_outcome_return_data(out, &n2)
	o.data = C.GoBytes(unsafe.Pointer(p), C.int(n2))
	for i := C.size_t(0); i < C.gasket_outcome_log_count(out); i++ {
		p := C.gasket_outcome_log(out, i, &n2)
		o.logs = append(o.logs, string(C.GoBytes(unsafe.Pointer(p), C.int(n2))))
	}
	o.writes = int(C.gasket_outcome_state_change_count(out))
	return o
}

func amountTo(amount uint64, account string) []byte {
	b := make([]byte, 8, 8+len(account))
	binary.LittleEndian.PutUint64(b, amount)
	return append(b, account...)
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go token_client: check failed: "+format+"\n", args...)
	os.Exit(1)
}

func expectOK(o outcome, what string) {
	if o.status != C.GASKET_CALL_OK {
		fail("%s: status %d trap %q message %q", what, o.status, o.trap, o.message)
	}
}

func balance(module *C.GasketModule, n *node, who string) uint64 {
	o := call(module, n, "balance_of", "anyone", []byte(who), 100000000)
	expectOK(o, "balance_of")
	if len(o.data) != 8 {
		fail("balance_of returned %d bytes", len(o.data))
	}
	return binary.LittleEndian.Uint64(o.data)
}

// scenario runs the token sequence on a fresh map; returns the gas of each call.
func scenario(module *C.GasketModule) []uint64 {
	n := newNode()
	var gas []uint64
	o := call(module, n, "init", "owner", nil, 100000000)
	expectOK(o, "init")
	gas = append(gas, o.gasUsed)
	o = call(module, n, "mint", "owner", amountTo(100, "alice"), 100000000)
	expectOK(o, "mint")
	if len(o.logs) != 1 || o.logs[0] != "mint" {
		fail("mint logs %q", o.logs)
	}
	gas = append(gas, o.gasUsed)
	o = call(module, n, "transfer", "alice", amountTo(30, "bob"), 100000000)
	expectOK(o, "transfer")
	if o.writes != 2 {
		fail("transfer wrote %d keys", o.writes)
	}
	gas = append(gas, o.gasUsed)
	o = call(module, n, "transfer", "alice", amountTo(10, "bob"), 100000000)
	expectOK(o, "transfer between funded accounts")
	again := o.gasUsed
	o = call(module, n, "transfer", "alice", amountTo(10, "bob"), again-1)
	if o.status != C.GASKET_CALL_TRAP || o.trap != "out_of_gas" || o.gasUsed != again-1 {
		fail("expected out_of_gas at %d gas, got %+v", again-1, o)
	}
	o = call(module, n, "transfer", "alice", amountTo(10, "bob"), again)
	expectOK(o, "transfer with exactly enough gas")
	if o.gasUsed != again {
		fail("the same transfer used %d gas, then %d", again, o.gasUsed)
	}
	gas = append(gas, again)
	o = call(module, n, "transfer", "bob", amountTo(51, "alice"), 100000000)
	if o.status != C.GASKET_CALL_PANIC || o.message != "insufficient balance" || o.writes != 0 {
		fail("expected the panic \"insufficient balance\", got %+v", o)
	}
	if a, b := balance(module, n, "alice"), balance(module, n, "bob"); a != 50 || b != 50 {
		fail("balances alice %d bob %d, expected 50 and 50", a, b)
	}
	n.close()
	if len(n.state) != 4 {
		fail("storage has %d keys", len(n.state))
	}
	return gas
}

func main() {
	run()
	leakCheck()
}

// run is the whole client; everything it creates is freed when it returns.
func run() {
	if len(os.Args) != 2 {
		fail("usage: token_client TOKEN_WASM")
	}
	if C.gasket_abi_version() != C.GASKET_ABI_VERSION {
		fail("library ABI %d, header ABI %d", C.gasket_abi_version(), C.GASKET_ABI_VERSION)
	}
	wasm, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	config := C.GasketEngineConfig{profile: C.GASKET_PROFILE_CONTRACT, floats: C.GASKET_FLOATS_PROFILE_DEFAULT}
	var engine *C.GasketEngine
	var gerr *C.GasketError
	if C.gasket_engine_new(&config, &engine, &gerr) != C.GASKET_OK {
		fail("engine: %s", errorText(gerr))
	}
	defer C.gasket_engine_free(engine)
	code, codeLen := cbytes(wasm)
	var module *C.GasketModule
	rc := C.gasket_engine_load(engine, code, codeLen, &module, &gerr)
	C.free(unsafe.Pointer(code))
	if rc != C.GASKET_OK {
		fail("load: %s", errorText(gerr))
	}
	defer C.gasket_module_free(module)

	want := scenario(module)
	const goroutines = 4
	results := make([][]uint64, goroutines)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for round := 0; round < 3; round++ {
				results[g] = scenario(module)
			}
		}(g)
	}
	wg.Wait()
	for g, got := range results {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			fail("goroutine %d used gas %v, the first run %v", g, got, want)
		}
	}
	fmt.Printf("go token_client: ok (%d goroutines agree, gas per call %v)\n", goroutines, want)
}
