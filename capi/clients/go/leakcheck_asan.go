//go:build asan

package main

/*
#include <sanitizer/lsan_interface.h>
*/
import "C"

// leakCheck runs LeakSanitizer now: Go programs exit without libc's atexit hooks, so a
// build with -asan would otherwise never check for leaks. Reports and exits non-zero on a
// leak.
func leakCheck() {
	C.__lsan_do_leak_check()
}
