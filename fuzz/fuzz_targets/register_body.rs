#![no_main]

// The check lives in fuzz/checks.rs, which crates/protocol/tests/fuzz_corpus.rs replays.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferromq_fuzz::register_body(data));
