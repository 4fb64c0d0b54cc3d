//! Fuzz target `roundtrip`: the property is `redwire_fuzz::props::roundtrip` (documented there), so `cargo test` in
//! this crate replays the committed seeds through the very same checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| redwire_fuzz::props::roundtrip(data));
