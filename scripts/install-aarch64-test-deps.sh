#!/usr/bin/env bash
# Installs what the AArch64 emulation tests (crate `aarch64-tests/`, Unicorn) need to build:
# cmake (unicorn-engine-sys builds Unicorn's C code with it) and libclang plus clang's
# built-in headers (bindgen runs at build time), and binutils-aarch64-linux-gnu, whose
# objdump the golden disassembly test (aarch64-tests/tests/disasm.rs) reads: without it
# that test skips itself, and its goldens went stale unnoticed once, so CI installs it.
# Idempotent: does nothing when present.
set -euo pipefail

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
if ! ls /usr/lib/llvm-*/lib/libclang.so* /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1; then
    need+=(libclang1-14)
fi
if ! ls /usr/lib/llvm-*/lib/clang/*/include/stdbool.h >/dev/null 2>&1; then
    need+=(libclang-common-14-dev)
fi
if ! command -v aarch64-linux-gnu-objdump >/dev/null 2>&1; then
    need+=(binutils-aarch64-linux-gnu)
fi
if [ ${#need[@]} -eq 0 ]; then
    echo "aarch64 test deps: already installed"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${need[@]}"
echo "aarch64 test deps: installed ${need[*]}"
