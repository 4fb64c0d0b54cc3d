//! SCAN, SSCAN, HSCAN and ZSCAN followed to the end with `ScanState`, the sans-IO cursor helper every
//! runtime's iterator wraps, under RESP2 and RESP3. Small COUNTs force many round trips.

mod commands_common;
mod support;

use commands_common::{each_protocol, Client};
use redwire::cmd::{self, Commands, ScanState};
use redwire::{Cmd, FromValue};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The runtime's loop: send `next_cmd`, feed the reply back, until the cursor returns to 0.
fn scan_all<T: FromValue>(c: &Client, start: impl Into<Cmd>) -> (Vec<T>, usize) {
    let mut state = ScanState::new(start).unwrap();
    let mut items = Vec::new();
    let mut rounds = 0;
    while let Some(next) = state.next_cmd() {
        items.extend(state.handle_reply::<T>(c.value(next)).unwrap());
        rounds += 1;
        assert!(rounds < 10_000, "the cursor never came back to 0");
    }
    assert!(state.is_done());
    (items, rounds)
}

#[test]
fn scan_iterators_visit_everything() {
    each_protocol(|c| {
        // Hash tables rather than listpacks, so the cursors really move in steps.
        let _: () =
            c.config_set([("hash-max-listpack-entries", "16"), ("zset-max-listpack-entries", "16")]).unwrap();
        let strings: Vec<(String, usize)> = (0..120).map(|i| (format!("k:{i}"), i)).collect();
        let _: () = c.mset(&strings).unwrap();
        for i in 0..30 {
            let _: u64 = c.hset(format!("h:{i}"), ("f", i)).unwrap();
        }
        let members: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
        let _: u64 = c.sadd("set", &members).unwrap();
        let fields: BTreeMap<String, String> = (0..150).map(|i| (format!("f{i}"), format!("v{i}"))).collect();
        let _: u64 = c.hset("hash", &fields).unwrap();
        let scored: Vec<(f64, String)> = (0..150).map(|i| (f64::from(i) / 4.0, format!("z{i}"))).collect();
        let _: u64 = c.zadd("zset", &scored).unwrap();

        let (keys, rounds) = scan_all::<String>(c, cmd::scan(0).match_("k:*").count(20));
        let keys: HashSet<String> = keys.into_iter().collect();
        assert_eq!(keys, strings.iter().map(|(k, _)| k.clone()).collect());
        assert!(rounds > 3, "{rounds} rounds");
        let (hashes, _) = scan_all::<String>(c, cmd::scan(0).type_("hash").count(10));
        assert_eq!(hashes.into_iter().collect::<HashSet<_>>().len(), 31);
        let (everything, _) = scan_all::<String>(c, cmd::scan(0));
        assert_eq!(everything.into_iter().collect::<HashSet<_>>().len(), 120 + 30 + 3);

        let (set, rounds) = scan_all::<String>(c, cmd::sscan("set", 0).count(10));
        assert_eq!(set.into_iter().collect::<HashSet<_>>(), members.iter().cloned().collect());
        assert!(rounds > 1);
        let (some, _) = scan_all::<String>(c, cmd::sscan("set", 0).match_("m1?"));
        assert_eq!(some.len(), 10);

        let (pairs, rounds) = scan_all::<(String, String)>(c, cmd::hscan("hash", 0).count(10));
        let got: BTreeMap<String, String> = pairs.into_iter().collect();
        assert_eq!(got, fields);
        assert!(rounds > 1);

        let (zpairs, _) = scan_all::<(String, f64)>(c, cmd::zscan("zset", 0).count(10));
        let got: HashMap<String, f64> = zpairs.into_iter().collect();
        assert_eq!(got.len(), 150);
        assert_eq!(got["z9"], 2.25);

        let (empty, rounds) = scan_all::<String>(c, cmd::sscan("nope", 0));
        assert!(empty.is_empty());
        assert_eq!(rounds, 1);
        // A wrong type fails the round with the server's error and leaves the state where it was.
        let mut state = ScanState::new(cmd::sscan("hash", 0)).unwrap();
        let err = state.handle_reply::<String>(c.value(state.next_cmd().unwrap())).unwrap_err();
        assert_eq!(err.server_code(), Some("WRONGTYPE"));
        assert!(!state.is_done());
    });
}
