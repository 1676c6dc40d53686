#!/usr/bin/env bash
# Runs one fuzz target on stable Rust.
#
# usage: fuzz/run.sh <target> [seconds] [-- extra libFuzzer args]
#   targets: frame_decode json_header binary_header json_body stored_record message_batch
#            register_body offset_msg_id  (`cargo fuzz list`)
#   seconds: default 600; 0 runs until a crash or Ctrl-C
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`) and a C++ compiler (libFuzzer is
# built from source by libfuzzer-sys). cargo-fuzz passes nightly-only flags to rustc, so
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them; `-s none` skips AddressSanitizer,
# which only matters for unsafe code (the protocol crate has none: unsafe_code = "deny").
#
# New inputs go to fuzz/target/corpus/<target>/ (not committed); the committed seeds in
# fuzz/corpus/<target>/ are read only. Crashes land in fuzz/artifacts/<target>/: copy them to
# fuzz/regressions/<target>/ so `cargo test -p ferromq-protocol --test fuzz_corpus` replays them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

target="${1:?usage: fuzz/run.sh <target> [seconds] [-- libFuzzer args]}"
shift
secs=600
if [[ $# -gt 0 && "$1" != "--" ]]; then
    secs="$1"
    shift
fi
[[ "${1:-}" == "--" ]] && shift

command -v cargo-fuzz >/dev/null 2>&1 || {
    echo "cargo-fuzz not installed: cargo install cargo-fuzz --locked" >&2
    exit 1
}
[[ -d "fuzz/corpus/$target" ]] || {
    echo "unknown target $target (no fuzz/corpus/$target)" >&2
    exit 1
}
work="fuzz/target/corpus/$target"
mkdir -p "$work"
RUSTC_BOOTSTRAP=1 exec cargo fuzz run --sanitizer none "$target" "$work" "fuzz/corpus/$target" -- \
    -max_total_time="$secs" -max_len=4096 -timeout=10 -print_final_stats=1 "$@"
