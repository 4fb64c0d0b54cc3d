//! Streams and consumer groups through the typed constructors, under RESP2 and RESP3. Stream replies are
//! the most deeply nested in Redis (XREAD is an array of `[key, [[id, [field, value, ...]], ...]]` in RESP2
//! and a map in RESP3), so this also exercises nested `FromValue` conversions.

mod commands_common;
mod support;

use commands_common::{each_protocol, Client};
use redwire::cmd::{self, Commands, TrimStrategy};
use redwire::resp::Value;
use redwire::FromValue;
use std::collections::HashMap;

type Entry = (String, HashMap<String, String>);

fn field(map: &HashMap<String, Value>, name: &str) -> i64 {
    let v = map.get(name).unwrap_or_else(|| panic!("no {name} in {map:?}")).clone();
    i64::from_value(v).unwrap()
}

#[test]
fn adding_reading_and_trimming() {
    each_protocol(|c| {
        let id1: String = c.xadd("s", "*", [("temp", "20"), ("hum", "50")]).unwrap();
        assert!(id1.contains('-'), "{id1}");
        let id2: String = c.xadd("s", "*", [("temp", 21)]).unwrap();
        assert!(id2 > id1 || id2.len() > id1.len());
        let explicit: String = c.xadd("e", "5-1", vec![("a", "b")]).unwrap();
        assert_eq!(explicit, "5-1");
        let err = c.xadd::<String>("e", "5-1", [("a", "b")]).unwrap_err();
        assert_eq!(err.server_code(), Some("ERR"));
        assert_eq!(c.xlen::<u64>("s").unwrap(), 2);
        // NOMKSTREAM on a missing stream adds nothing and answers nil.
        assert_eq!(c.ok::<Option<String>>(cmd::xadd("missing", "*", [("a", 1)]).nomkstream()), None);
        assert_eq!(c.exists::<u64>("missing").unwrap(), 0);
        // MAXLEN trims as it adds; the options may come in any order.
        let _: String = c.ok(cmd::xadd("s", "*", [("temp", 22)]).maxlen(2).equal());
        assert_eq!(c.xlen::<u64>("s").unwrap(), 2);
        let _: String = c.ok(cmd::xadd("s", "*", [("temp", 23)]).approximately().maxlen(100).limit(10));
        assert_eq!(c.xlen::<u64>("s").unwrap(), 3);
        let _: String = c.ok(cmd::xadd("e", "9-1", [("a", 1)]).minid("6-0"));
        assert_eq!(c.xlen::<u64>("e").unwrap(), 1);
        // XRANGE / XREVRANGE.
        let all: Vec<Entry> = c.xrange("s", "-", "+").unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].1["temp"], "21");
        let last: Vec<Entry> = c.ok(cmd::xrevrange("s", "+", "-").count(1));
        assert_eq!(last[0].1["temp"], "23");
        // XREAD: an array of [key, entries] in RESP2, a map in RESP3; the same HashMap either way.
        let read: HashMap<String, Vec<Entry>> = c.ok(cmd::xread(["s", "e"], ["0", "0"]).count(1));
        assert_eq!(read.len(), 2);
        assert_eq!(read["s"][0].1["temp"], "21");
        assert_eq!(read["e"][0].0, "9-1");
        let pairs: Vec<(String, Vec<Entry>)> = c.xread("s", &all[2].0).unwrap();
        assert!(pairs.is_empty());
        let none: Option<HashMap<String, Vec<Entry>>> = c.ok(cmd::xread("s", "$").block(50));
        assert_eq!(none, None);
        // Deleting and trimming.
        assert_eq!(c.xdel::<u64>("s", [&all[0].0]).unwrap(), 1);
        assert_eq!(c.xtrim::<u64>("s", TrimStrategy::Maxlen, 1).unwrap(), 1);
        assert_eq!(c.ok::<u64>(cmd::xtrim("s", TrimStrategy::Minid, "0-1").approximately()), 0);
        let _: () = c.xsetid("s", "9999999999999-0").unwrap();
        let info: HashMap<String, Value> = c.xinfo_stream("s").unwrap();
        assert_eq!(String::from_value(info["last-generated-id"].clone()).unwrap(), "9999999999999-0");
    });
}

fn group_setup(c: &Client) -> Vec<String> {
    let ids: Vec<String> = (0..3).map(|i| c.xadd("q", "*", [("job", i)]).unwrap()).collect();
    assert_eq!(c.xgroup_create::<String>("q", "workers", "0").unwrap(), "OK");
    let err = c.xgroup_create::<()>("q", "workers", "$").unwrap_err();
    assert_eq!(err.server_code(), Some("BUSYGROUP"), "{err}");
    let _: () = c.ok(cmd::xgroup_create("fresh", "g", "$").mkstream());
    assert_eq!(c.xlen::<u64>("fresh").unwrap(), 0);
    ids
}

#[test]
fn consumer_groups() {
    each_protocol(|c| {
        let ids = group_setup(c);
        // Two deliveries to alice, one to bob.
        let got: HashMap<String, Vec<Entry>> = c.ok(cmd::xreadgroup("workers", "alice", "q", ">").count(2));
        assert_eq!(got["q"].iter().map(|e| e.0.clone()).collect::<Vec<_>>(), ids[..2]);
        let got: Vec<(String, Vec<Entry>)> = c.xreadgroup("workers", "bob", "q", ">").unwrap();
        assert_eq!(got[0].1[0].1["job"], "2");
        let nothing: Option<HashMap<String, Vec<Entry>>> =
            c.ok(cmd::xreadgroup("workers", "bob", "q", ">").block(50).noack());
        assert_eq!(nothing, None);
        // XPENDING summary and extended forms.
        let (count, min, max, per_consumer): (u64, String, String, Vec<(String, u64)>) =
            c.xpending("q", "workers").unwrap();
        assert_eq!((count, min.as_str(), max.as_str()), (3, ids[0].as_str(), ids[2].as_str()));
        assert_eq!(per_consumer, [("alice".to_string(), 2), ("bob".to_string(), 1)]);
        let detail: Vec<(String, String, u64, u64)> =
            c.ok(cmd::xpending("q", "workers").filters("-", "+", 10));
        assert_eq!(detail.len(), 3);
        assert_eq!((detail[0].1.as_str(), detail[0].3), ("alice", 1));
        let idle_filtered: Vec<(String, String, u64, u64)> =
            c.ok(cmd::xpending("q", "workers").idle(0).filters("-", "+", 10).consumer("bob"));
        assert_eq!(idle_filtered.len(), 1);
        // Acknowledge, claim, auto-claim.
        assert_eq!(c.xack::<u64>("q", "workers", [&ids[0]]).unwrap(), 1);
        let claimed: Vec<Entry> = c.xclaim("q", "workers", "bob", 0, [&ids[1]]).unwrap();
        assert_eq!(claimed[0].0, ids[1]);
        let just_ids: Vec<String> = c.ok(cmd::xclaim("q", "workers", "alice", 0, [&ids[1]]).justid());
        assert_eq!(just_ids, [ids[1].clone()]);
        let (next, entries, deleted): (String, Vec<Entry>, Vec<String>) =
            c.ok(cmd::xautoclaim("q", "workers", "carol", 0, "0-0").count(10));
        assert_eq!(next, "0-0");
        assert_eq!(entries.len(), 2);
        assert!(deleted.is_empty());
        // XINFO: maps in RESP3, flat arrays in RESP2.
        let groups: Vec<HashMap<String, Value>> = c.xinfo_groups("q").unwrap();
        assert_eq!(String::from_value(groups[0]["name"].clone()).unwrap(), "workers");
        assert_eq!(field(&groups[0], "pending"), 2);
        let consumers: Vec<HashMap<String, Value>> = c.xinfo_consumers("q", "workers").unwrap();
        let carol =
            consumers.iter().find(|m| String::from_value(m["name"].clone()).unwrap() == "carol").unwrap();
        assert_eq!(field(carol, "pending"), 2);
        let full: HashMap<String, Value> = c.ok(cmd::xinfo_stream("q").full().count(1));
        assert_eq!(field(&full, "length"), 3);
        assert!(full.contains_key("groups"));
        // Group management.
        assert!(c.xgroup_createconsumer::<bool>("q", "workers", "dave").unwrap());
        assert_eq!(c.xgroup_delconsumer::<u64>("q", "workers", "carol").unwrap(), 2);
        let _: () = c.xgroup_setid("q", "workers", "$").unwrap();
        let got: Option<Vec<(String, Vec<Entry>)>> =
            c.ok(cmd::xreadgroup("workers", "dave", "q", ">").block(20));
        assert_eq!(got, None);
        assert!(c.xgroup_destroy::<bool>("q", "workers").unwrap());
        assert!(!c.xgroup_destroy::<bool>("q", "workers").unwrap());
    });
}
