# Sourced by the test scripts: the one package and feature selection every test command
# uses (the whole workspace, with the AArch64 emulator tests' `emu` feature), so the suite,
# the fuzz campaign and the emulator tests share one build instead of compiling the
# workspace once per feature set.
# shellcheck shell=bash
TEST_SCOPE=(--workspace --features gasket-aarch64-tests/emu)
