//go:build !asan

package main

// leakCheck does nothing without -asan (see leakcheck_asan.go).
func leakCheck() {}
