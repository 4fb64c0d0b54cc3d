//! Replays every committed seed and regression input (`corpus-seed/<target>/`) through its target's property,
//! on a stable toolchain, so a fixed crash stays fixed without running the fuzzer. Also feeds every `decode`
//! seed byte at a time under each limit set through the `chunked` property.

use std::fs;
use std::path::Path;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus-seed").join(target);
    let mut out: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("readable seed directory").path();
            let data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.display().to_string(), data)
        })
        .collect();
    out.sort();
    assert!(out.len() >= 5, "{}: expected a seed corpus, found {} files", dir.display(), out.len());
    out
}

fn replay(target: &str, property: fn(&[u8])) {
    for (name, data) in seeds(target) {
        let ok = std::panic::catch_unwind(|| property(&data));
        assert!(ok.is_ok(), "{target} fails on {name}");
    }
}

#[test]
fn decode_seeds() {
    replay("decode", redwire_fuzz::props::decode);
}

#[test]
fn chunked_seeds() {
    replay("chunked", redwire_fuzz::props::chunked);
}

#[test]
fn roundtrip_seeds() {
    replay("roundtrip", redwire_fuzz::props::roundtrip);
}

#[test]
fn decode_seeds_byte_at_a_time() {
    for (name, data) in seeds("decode") {
        for limit_set in 0..3u8 {
            let mut input = vec![limit_set];
            input.extend_from_slice(&data);
            let ok = std::panic::catch_unwind(|| redwire_fuzz::props::chunked(&input));
            assert!(ok.is_ok(), "byte-at-a-time, limit set {limit_set}, fails on {name}");
        }
    }
}

#[test]
fn roundtrip_seeds_start_with_every_kind() {
    // The `kind-NN-*` seeds pick variant NN at the top (arb::value's first choice); check they still do, so
    // a change to the generator that reorders kinds is noticed.
    let mut kinds = std::collections::BTreeSet::new();
    for (name, data) in seeds("roundtrip") {
        if name.contains("/kind-") {
            let mut u = arbitrary::Unstructured::new(&data);
            let v = redwire_fuzz::arb::value(&mut u).expect("seed builds a value");
            kinds.insert(v.kind());
        }
    }
    assert_eq!(kinds.len(), 14, "top-level kinds from the kind-* seeds: {kinds:?}");
}

#[test]
fn connection_seeds() {
    replay("connection", redwire_fuzz::connection::connection);
}
