//! Fuzz target `decode`: the property is `redwire_fuzz::props::decode` (documented there), so `cargo test` in
//! this crate replays the committed seeds through the very same checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| redwire_fuzz::props::decode(data));
