//! Generic key commands, expiry and SORT through the typed constructors, under RESP2 and RESP3.

mod commands_common;
mod support;

use commands_common::each_protocol;
use redwire::cmd::{self, Commands};

#[test]
fn keys_and_types() {
    each_protocol(|c| {
        let _: () = c.mset([("k1", "a"), ("k2", "12")]).unwrap();
        let _: u64 = c.rpush("list", "x").unwrap();
        assert_eq!(c.exists::<u64>(["k1", "k2", "nope", "k1"]).unwrap(), 3);
        assert_eq!(c.type_::<String>("k1").unwrap(), "string");
        assert_eq!(c.type_::<String>("list").unwrap(), "list");
        assert_eq!(c.type_::<String>("nope").unwrap(), "none");
        assert_eq!(c.object_encoding::<String>("k2").unwrap(), "int");
        assert_eq!(c.object_encoding::<String>("k1").unwrap(), "embstr");
        assert_eq!(c.object_encoding::<Option<String>>("nope").unwrap(), None);
        assert!(c.object_refcount::<u64>("k1").unwrap() >= 1);
        assert!(c.object_idletime::<u64>("k1").unwrap() < 100);
        let err = c.object_freq::<u64>("k1").unwrap_err();
        assert!(err.to_string().contains("LFU"), "{err}");
        assert_eq!(c.touch::<u64>(["k1", "nope"]).unwrap(), 1);
        let mut names: Vec<String> = c.keys("k*").unwrap();
        names.sort();
        assert_eq!(names, ["k1", "k2"]);
        assert!(c.randomkey::<Option<String>>().unwrap().is_some());
        assert_eq!(c.dbsize::<u64>().unwrap(), 3);
        // Renaming, copying, moving between databases.
        let _: () = c.rename("k1", "r1").unwrap();
        assert!(!c.renamenx::<bool>("r1", "k2").unwrap());
        assert!(c.copy::<bool>("r1", "c1").unwrap());
        assert!(!c.copy::<bool>("r1", "c1").unwrap());
        assert!(c.ok::<bool>(cmd::copy("k2", "c1").replace()));
        assert_eq!(c.get::<i64>("c1").unwrap(), 12);
        assert!(c.ok::<bool>(cmd::copy("r1", "other-db").db(1)));
        assert!(c.move_::<bool>("c1", 1).unwrap());
        assert_eq!(c.exists::<u64>("c1").unwrap(), 0);
        // DUMP is binary; RESTORE takes it back, refusing to overwrite without REPLACE.
        let dumped: Vec<u8> = c.dump("r1").unwrap();
        assert!(dumped.len() > 5);
        let _: () = c.restore("restored", 0, &dumped).unwrap();
        assert_eq!(c.get::<String>("restored").unwrap(), "a");
        let err = c.restore::<()>("restored", 0, &dumped).unwrap_err();
        assert_eq!(err.server_code(), Some("BUSYKEY"), "{err}");
        let _: () = c.ok(cmd::restore("restored", 0, dumped).replace());
        assert_eq!(c.del::<u64>(["restored", "nope"]).unwrap(), 1);
        assert_eq!(c.unlink::<u64>("r1").unwrap(), 1);
        assert_eq!(c.dump::<Option<Vec<u8>>>("nope").unwrap(), None);
    });
}

#[test]
fn expiry() {
    each_protocol(|c| {
        let _: () = c.set("k", "v").unwrap();
        assert_eq!(c.ttl::<i64>("k").unwrap(), -1);
        assert_eq!(c.ttl::<i64>("nope").unwrap(), -2);
        // EXPIRE's conditions (Redis 7): XX needs a TTL, NX needs none, GT/LT compare.
        assert!(!c.ok::<bool>(cmd::expire("k", 100).xx()));
        assert!(c.ok::<bool>(cmd::expire("k", 100).nx()));
        assert!(!c.ok::<bool>(cmd::expire("k", 50).gt()));
        assert!(c.ok::<bool>(cmd::expire("k", 50).lt()));
        assert!((40..=50).contains(&c.ttl::<i64>("k").unwrap()));
        assert!(c.pexpire::<bool>("k", 200_000).unwrap());
        assert!(c.pttl::<i64>("k").unwrap() > 100_000);
        let (now, _): (u64, u64) = c.time().unwrap();
        assert!(c.expireat::<bool>("k", now + 500).unwrap());
        assert_eq!(c.expiretime::<u64>("k").unwrap(), now + 500);
        assert!(c.ok::<bool>(cmd::pexpireat("k", (now + 600) * 1000).gt()));
        assert_eq!(c.pexpiretime::<u64>("k").unwrap(), (now + 600) * 1000);
        assert!(c.persist::<bool>("k").unwrap());
        assert!(!c.persist::<bool>("k").unwrap());
        assert_eq!(c.expiretime::<i64>("k").unwrap(), -1);
        assert!(!c.expire::<bool>("nope", 10).unwrap());
        // A past expiry deletes the key.
        assert!(c.expireat::<bool>("k", 1).unwrap());
        assert_eq!(c.exists::<u64>("k").unwrap(), 0);
    });
}

#[test]
fn sort() {
    each_protocol(|c| {
        let _: u64 = c.rpush("ids", [3, 1, 2]).unwrap();
        let _: () = c.mset([("w_1", "30"), ("w_2", "10"), ("w_3", "20")]).unwrap();
        let _: () = c.mset([("o_1", "one"), ("o_2", "two"), ("o_3", "three")]).unwrap();
        assert_eq!(c.sort::<Vec<i64>>("ids").unwrap(), [1, 2, 3]);
        assert_eq!(c.ok::<Vec<i64>>(cmd::sort("ids").desc().limit(0, 2)), [3, 2]);
        // BY and repeated GET; options given out of order still land in SORT's order.
        let rows: Vec<(i64, String)> = c.ok(cmd::sort("ids").get("#").get("o_*").by("w_*"));
        assert_eq!(rows, [(2, "two".to_string()), (3, "three".to_string()), (1, "one".to_string())]);
        assert_eq!(c.ok::<u64>(cmd::sort("ids").store("sorted").alpha()), 3);
        assert_eq!(c.lrange::<Vec<String>>("sorted", 0, -1).unwrap(), ["1", "2", "3"]);
        assert_eq!(c.ok::<Vec<i64>>(cmd::sort_ro("ids").by("w_*").desc()), [1, 3, 2]);
        let _: u64 = c.rpush("words", ["b", "a"]).unwrap();
        assert_eq!(c.ok::<Vec<String>>(cmd::sort("words").alpha()), ["a", "b"]);
        let err = c.sort::<Vec<i64>>("words").unwrap_err();
        assert_eq!(err.server_code(), Some("ERR"), "{err}");
    });
}
