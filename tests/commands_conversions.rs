//! `FromValue` on real replies: every RESP3 type (from `DEBUG PROTOCOL`) and its RESP2 spelling convert to
//! the same Rust values, failed conversions say what was expected and what arrived, server errors become
//! `Error::Server`, and a user type converts through the trait.

mod commands_common;
mod support;

use commands_common::{each_protocol, Client};
use redwire::cmd::{self, Commands};
use redwire::resp::Value;
use redwire::{Error, FromValue};
use std::collections::{BTreeSet, HashMap};

fn debug_protocol<T: FromValue>(c: &Client, kind: &str) -> T {
    c.debug(("PROTOCOL", kind)).unwrap_or_else(|e| panic!("RESP{} DEBUG PROTOCOL {kind}: {e}", c.protocol))
}

#[test]
fn every_resp3_type_and_its_resp2_spelling() {
    each_protocol(|c| {
        assert_eq!(debug_protocol::<String>(c, "string"), "Hello World");
        assert_eq!(debug_protocol::<i64>(c, "integer"), 12345);
        assert_eq!(debug_protocol::<String>(c, "integer"), "12345");
        assert_eq!(debug_protocol::<String>(c, "double"), "3.141"); // the server's fixed sample
        let sample: f64 = "3.141".parse().unwrap();
        assert_eq!(debug_protocol::<f64>(c, "double"), sample);
        assert_eq!(debug_protocol::<u128>(c, "bignum"), 1_234_567_999_999_999_999_999_999_999_999_999_999);
        assert_eq!(debug_protocol::<String>(c, "bignum"), "1234567999999999999999999999999999999");
        let err = c.debug::<u64>(("PROTOCOL", "bignum")).unwrap_err();
        assert!(err.to_string().ends_with("(out of range)"), "{err}");
        assert_eq!(debug_protocol::<Option<String>>(c, "null"), None);
        assert_eq!(debug_protocol::<Vec<u8>>(c, "array"), [0, 1, 2]);
        assert_eq!(debug_protocol::<BTreeSet<u32>>(c, "set"), BTreeSet::from([0, 1, 2]));
        // A RESP3 map {0: false, 1: true, 2: false}, in RESP2 the flat [0, 0, 1, 1, 2, 0].
        let map: HashMap<i64, bool> = debug_protocol(c, "map");
        assert_eq!(map, HashMap::from([(0, false), (1, true), (2, false)]));
        let pairs: Vec<(u8, u8)> = debug_protocol(c, "map");
        assert_eq!(pairs, [(0, 0), (1, 1), (2, 0)]);
        // Attributes (RESP3 only) are looked through; verbatim strings lose their format prefix.
        assert_eq!(debug_protocol::<String>(c, "attrib"), "Some real reply following the attribute");
        assert_eq!(debug_protocol::<String>(c, "verbatim"), "This is a verbatim\nstring");
        assert!(debug_protocol::<bool>(c, "true"));
        assert!(!debug_protocol::<bool>(c, "false"));
        let raw = c.value(cmd::debug(("PROTOCOL", "true")));
        assert_eq!(raw, if c.protocol == 3 { Value::Boolean(true) } else { Value::Integer(1) });
    });
}

#[test]
fn failed_conversions_say_what_and_why() {
    each_protocol(|c| {
        let _: () = c.mset([("word", "abc"), ("neg", "-5")]).unwrap();
        let _: () = c.hset("h", [("a", "1"), ("b", "2")]).unwrap();
        let expect = |r: redwire::Result<()>, msg: &str| {
            let err = r.unwrap_err();
            assert!(matches!(err, Error::Conversion { .. }), "RESP{}: {err:?}", c.protocol);
            assert!(!err.is_fatal());
            assert_eq!(err.to_string(), msg, "RESP{}", c.protocol);
        };
        expect(c.get::<i64>("word").map(drop), "cannot convert reply: expected i64, got bulk string \"abc\"");
        expect(
            c.get::<u32>("neg").map(drop),
            "cannot convert reply: expected u32, got bulk string \"-5\" (out of range)",
        );
        expect(
            c.incrby::<u8>("n", 300).map(drop),
            "cannot convert reply: expected u8, got integer 300 (out of range)",
        );
        expect(c.get::<String>("missing").map(drop), "cannot convert reply: expected a string, got null");
        expect(
            c.get::<Vec<String>>("word").map(drop),
            "cannot convert reply: expected an array, got bulk string \"abc\"",
        );
        expect(
            c.hgetall::<(String, String)>("h").map(drop),
            "cannot convert reply: expected an array of 2 elements, got an array of 4 elements",
        );
        expect(c.get::<bool>("word").map(drop), "cannot convert reply: expected a boolean (0 or 1, true or false, OK or null), got bulk string \"abc\"");
        let long = "x".repeat(100);
        let _: () = c.set("long", &long).unwrap();
        expect(
            c.get::<f64>("long").map(drop),
            &format!(
                "cannot convert reply: expected f64, got bulk string \"{}\"... (100 bytes)",
                "x".repeat(40)
            ),
        );
        // Server errors are Error::Server with the code, never a conversion error.
        let err = c.lpush::<u64>("word", "x").unwrap_err();
        assert!(matches!(&err, Error::Server(_)));
        assert_eq!(err.server_code(), Some("WRONGTYPE"));
        assert!(!err.is_fatal());
        // Wrapped in Result, the error reply is a value: the request itself succeeded.
        let kept: redwire::Result<u64> = c.lpush("word", "x").unwrap();
        assert_eq!(kept.unwrap_err().server_code(), Some("WRONGTYPE"));
    });
}

#[test]
fn shapes_that_differ_between_protocols_convert_alike() {
    each_protocol(|c| {
        // SET NX: +OK or nil, as a bool.
        assert!(c.ok::<bool>(cmd::set("k", "1").nx()));
        assert!(!c.ok::<bool>(cmd::set("k", "1").nx()));
        // Whole-number doubles convert to integers (ZSCORE is "3" in RESP2, 3.0 in RESP3).
        let _: u64 = c.zadd("z", [(3, "m"), (4, "n")]).unwrap();
        assert_eq!(c.zscore::<i64>("z", "m").unwrap(), 3);
        assert_eq!(c.zscore::<String>("z", "m").unwrap(), "3");
        // Infinities both ways.
        let _: () = c.set("inf", "inf").unwrap();
        assert_eq!(c.get::<f64>("inf").unwrap(), f64::INFINITY);
        let _: u64 = c.zadd("z", [(f64::NEG_INFINITY, "low")]).unwrap();
        assert_eq!(c.zscore::<f64>("z", "low").unwrap(), f64::NEG_INFINITY);
        // Nesting: ZRANGE WITHSCORES as a map, as pairs, as a flat list of strings.
        let as_map: HashMap<String, f64> = c.ok(cmd::zrange("z", 0, -1).withscores());
        assert_eq!(as_map.len(), 3);
        let flat: Vec<String> = c.ok(cmd::zrange("z", 1, -1).withscores());
        assert_eq!(flat, ["m", "3", "n", "4"]);
        // Lua tables become tuples; per-element errors survive as Err inside Vec<Result<_>>.
        let row: (String, i64, f64, Option<String>) = c.eval("return {'a', 1, '2.5', false}", 0).unwrap();
        assert_eq!(row, ("a".to_string(), 1, 2.5, None));
        let mixed: Vec<redwire::Result<i64>> =
            c.eval("return {1, redis.error_reply('ERR no'), 3}", 0).unwrap();
        assert!(mixed[0].is_ok() && mixed[1].is_err() && *mixed[2].as_ref().unwrap() == 3);
        // Value is the reply as it arrived: an empty map in RESP3, an empty array in RESP2.
        let v: Value = c.hgetall("nope").unwrap();
        assert_eq!(v, if c.protocol == 3 { Value::Map(vec![]) } else { Value::Array(vec![]) });
    });
}

/// A user type: a GEOPOS answer as a struct, converted by composing std conversions.
#[derive(Debug, PartialEq)]
struct Position {
    lon: f64,
    lat: f64,
}

impl FromValue for Position {
    fn from_value(value: Value) -> redwire::Result<Position> {
        let (lon, lat) = <(f64, f64)>::from_value(value)?;
        Ok(Position { lon, lat })
    }
}

#[test]
fn user_types_convert_through_the_trait() {
    each_protocol(|c| {
        let _: u64 = c.geoadd("g", [(2.294481, 48.858370, "eiffel")]).unwrap();
        let found: Vec<Option<Position>> = c.ok(cmd::geopos("g").member(["eiffel", "nowhere"]));
        let p = found[0].as_ref().expect("a position");
        assert!((p.lon - 2.294481).abs() < 1e-4 && (p.lat - 48.858370).abs() < 1e-4, "{p:?}");
        assert_eq!(found[1], None);
        let err = c.get::<Position>("g").unwrap_err();
        assert_eq!(err.server_code(), Some("WRONGTYPE"));
        let _: () = c.set("s", "x").unwrap();
        let err = c.get::<Position>("s").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot convert reply: expected an array of 2 elements, got bulk string \"x\""
        );
    });
}
