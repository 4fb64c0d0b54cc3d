//! Typed constructors and `Commands` methods for the data-structure families against a real server, under
//! RESP2 and RESP3: strings, lists, hashes, sets, sorted sets, hyperloglog, bitmaps and geo. Replies are
//! converted with `FromValue`, so each test also checks that both protocols' reply shapes convert alike.

mod commands_common;
mod support;

use commands_common::each_protocol;
use redwire::cmd::{
    self, Aggregate, BitOperation, Commands, GeoUnit, InsertPosition, MinMax, Overflow, Side,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

#[test]
fn strings() {
    each_protocol(|c| {
        assert_eq!(c.set::<String>("s", "v").unwrap(), "OK");
        assert_eq!(c.get::<String>("s").unwrap(), "v");
        assert_eq!(c.get::<Option<String>>("missing").unwrap(), None);
        // SET options: NX on an existing key is refused (nil), XX GET swaps and returns the old value.
        assert_eq!(c.ok::<Option<String>>(cmd::set("s", "w").nx()), None);
        assert!(!c.ok::<bool>(cmd::set("s", "w").nx()));
        assert_eq!(c.ok::<Option<String>>(cmd::set("s", "w").xx().get()), Some("v".into()));
        assert_eq!(c.get::<String>("s").unwrap(), "w");
        // Expiry options, EXAT/PXAT from the server's own clock.
        let _: () = c.ok(cmd::set("t", 1).ex(100).nx());
        assert!((90..=100).contains(&c.ttl::<i64>("t").unwrap()));
        let _: () = c.ok(cmd::set("t", 2).keepttl());
        assert!(c.ttl::<i64>("t").unwrap() > 0);
        let _: () = c.ok(cmd::set("t", 3).px(50_000));
        assert!((40_000..=50_000).contains(&c.pttl::<i64>("t").unwrap()));
        let (now, _micros): (u64, u64) = c.time().unwrap();
        let _: () = c.ok(cmd::set("t", 4).exat(now + 1000));
        assert!((990..=1000).contains(&c.ttl::<i64>("t").unwrap()));
        let _: () = c.ok(cmd::set("t", 5).pxat((now + 2000) * 1000));
        assert!((1990..=2000).contains(&c.ttl::<i64>("t").unwrap()));
        // Counters.
        assert_eq!(c.incr::<i64>("n").unwrap(), 1);
        assert_eq!(c.incrby::<i64>("n", 41).unwrap(), 42);
        assert_eq!(c.decrby::<u8>("n", 2).unwrap(), 40);
        assert_eq!(c.decr::<i32>("n").unwrap(), 39);
        assert_eq!(c.incrbyfloat::<f64>("n", 0.5).unwrap(), 39.5);
        assert_eq!(c.get::<f64>("n").unwrap(), 39.5);
        // Ranges and lengths.
        assert_eq!(c.append::<usize>("a", "Hello").unwrap(), 5);
        assert_eq!(c.append::<usize>("a", " World").unwrap(), 11);
        assert_eq!(c.strlen::<u64>("a").unwrap(), 11);
        assert_eq!(c.getrange::<String>("a", 0, 4).unwrap(), "Hello");
        assert_eq!(c.setrange::<u64>("a", 6, "Redis").unwrap(), 11);
        assert_eq!(c.get::<String>("a").unwrap(), "Hello Redis");
        // Many keys at once, from tuples, arrays, Vecs and maps.
        let _: () = c.mset([("k1", "1"), ("k2", "2")]).unwrap();
        let _: () = c.mset(BTreeMap::from([("k3", 3)])).unwrap();
        assert_eq!(
            c.mget::<Vec<Option<String>>>(vec!["k1", "k2", "k3", "nope"]).unwrap(),
            vec![Some("1".into()), Some("2".into()), Some("3".into()), None]
        );
        let (a, b): (i64, i64) = c.mget(("k1", "k2")).unwrap();
        assert_eq!((a, b), (1, 2));
        assert!(!c.msetnx::<bool>([("k1", "x"), ("fresh", "y")]).unwrap());
        assert!(c.setnx::<bool>("fresh", "y").unwrap());
        assert_eq!(c.getdel::<Option<String>>("fresh").unwrap(), Some("y".into()));
        assert_eq!(c.getdel::<Option<String>>("fresh").unwrap(), None);
        let _: () = c.setex("sx", 100, "v").unwrap();
        assert_eq!(c.ok::<String>(cmd::getex("sx").persist()), "v");
        assert_eq!(c.ttl::<i64>("sx").unwrap(), -1);
        assert_eq!(c.ok::<String>(cmd::getex("sx").ex(50)), "v");
        assert!(c.ttl::<i64>("sx").unwrap() > 0);
        let _: () = c.psetex("px", 100_000, "v").unwrap();
        assert!(c.pttl::<i64>("px").unwrap() > 90_000);
        let _: () = c.mset([("l1", "ohmytext"), ("l2", "mynewtext")]).unwrap();
        assert_eq!(c.lcs::<String>("l1", "l2").unwrap(), "mytext");
        assert_eq!(c.ok::<usize>(cmd::lcs("l1", "l2").len()), 6);
        // Binary values and floats round-trip.
        let binary = [0u8, 255, b'\r', b'\n', b'$'];
        let _: () = c.set("bin", &binary[..]).unwrap();
        assert_eq!(c.get::<Vec<u8>>("bin").unwrap(), binary);
        assert_eq!(c.get::<bytes::Bytes>("bin").unwrap(), &binary[..]);
        let _: () = c.set("inf", f64::NEG_INFINITY).unwrap();
        assert_eq!(c.get::<f64>("inf").unwrap(), f64::NEG_INFINITY);
        let _: () = c.set("tenth", 0.1f64).unwrap();
        assert_eq!(c.get::<f64>("tenth").unwrap(), 0.1);
        // Errors: a server error and a conversion error, each saying what happened.
        let err = c.incr::<i64>("s").unwrap_err();
        assert_eq!(err.server_code(), Some("ERR"), "{err}");
        let err = c.get::<i64>("s").unwrap_err();
        assert_eq!(err.to_string(), "cannot convert reply: expected i64, got bulk string \"w\"");
    });
}

#[test]
fn lists() {
    each_protocol(|c| {
        assert_eq!(c.rpush::<u64>("l", ["a", "b", "c"]).unwrap(), 3);
        assert_eq!(c.lpush::<u64>("l", "z").unwrap(), 4);
        assert_eq!(c.lrange::<Vec<String>>("l", 0, -1).unwrap(), ["z", "a", "b", "c"]);
        assert_eq!(c.llen::<u64>("l").unwrap(), 4);
        assert_eq!(c.lindex::<Option<String>>("l", -1).unwrap(), Some("c".into()));
        assert_eq!(c.linsert::<i64>("l", InsertPosition::Before, "b", "x").unwrap(), 5);
        assert_eq!(c.linsert::<i64>("l", InsertPosition::After, "nope", "x").unwrap(), -1);
        let _: () = c.lset("l", 0, "y").unwrap();
        assert_eq!(c.lrange::<Vec<String>>("l", 0, -1).unwrap(), ["y", "a", "x", "b", "c"]);
        assert_eq!(c.lmove::<String>("l", "l2", Side::Left, Side::Right).unwrap(), "y");
        assert_eq!(c.rpoplpush::<String>("l", "l2").unwrap(), "c");
        assert_eq!(c.lrange::<Vec<String>>("l2", 0, -1).unwrap(), ["c", "y"]);
        // LPOS with RANK, COUNT and MAXLEN.
        let _: u64 = c.rpush("p", ["a", "b", "a", "c", "a"]).unwrap();
        assert_eq!(c.lpos::<Option<u64>>("p", "a").unwrap(), Some(0));
        assert_eq!(c.lpos::<Option<u64>>("p", "nope").unwrap(), None);
        assert_eq!(c.ok::<u64>(cmd::lpos("p", "a").rank(2)), 2);
        assert_eq!(c.ok::<u64>(cmd::lpos("p", "a").rank(-1)), 4);
        assert_eq!(c.ok::<Vec<u64>>(cmd::lpos("p", "a").count(0)), [0, 2, 4]);
        assert_eq!(c.ok::<Vec<u64>>(cmd::lpos("p", "a").maxlen(2).count(0)), [0]);
        // Pops with counts; a missing key is nil in both protocols.
        assert_eq!(c.lpop::<Option<String>>("p").unwrap(), Some("a".into()));
        assert_eq!(c.ok::<Vec<String>>(cmd::lpop("p").count(2)), ["b", "a"]);
        assert_eq!(c.ok::<Option<Vec<String>>>(cmd::rpop("nope").count(2)), None);
        assert_eq!(c.ok::<Vec<String>>(cmd::rpop("p").count(5)), ["a", "c"]);
        let _: u64 = c.rpush("m", ["1", "2", "3"]).unwrap();
        let (key, items): (String, Vec<i64>) = c.ok(cmd::lmpop(2, ["empty", "m"], Side::Right).count(2));
        assert_eq!((key.as_str(), items), ("m", vec![3, 2]));
        // Blocking pops: immediate when data is there, nil after the timeout otherwise.
        assert_eq!(c.blpop::<(String, String)>(["empty", "m"], 1).unwrap(), ("m".into(), "1".into()));
        assert_eq!(c.blpop::<Option<(String, String)>>("empty", 0.05).unwrap(), None);
        let _: u64 = c.rpush("m", ["4"]).unwrap();
        assert_eq!(c.blmove::<String>("m", "m2", Side::Left, Side::Left, 1).unwrap(), "4");
        assert_eq!(c.ok::<Option<(String, Vec<String>)>>(cmd::blmpop(0.05, 1, "empty", Side::Left)), None);
        let _: u64 = c.rpush("r", ["a", "b", "a", "a"]).unwrap();
        assert_eq!(c.lrem::<u64>("r", 2, "a").unwrap(), 2);
        let _: () = c.ltrim("r", 0, 0).unwrap();
        assert_eq!(c.lrange::<Vec<String>>("r", 0, -1).unwrap(), ["b"]);
        assert_eq!(c.lpushx::<u64>("nope", "a").unwrap(), 0);
        let err = c
            .lpush::<u64>("s", "x")
            .and_then(|_| c.set::<()>("s", "v"))
            .and_then(|_| c.lpush::<u64>("s", "x"));
        assert_eq!(err.unwrap_err().server_code(), Some("WRONGTYPE"));
    });
}

#[test]
fn hashes() {
    each_protocol(|c| {
        assert_eq!(c.hset::<u64>("h", [("f1", "v1"), ("f2", "v2")]).unwrap(), 2);
        assert_eq!(c.hset::<u64>("h", BTreeMap::from([("f3", 3)])).unwrap(), 1);
        assert_eq!(c.hget::<Option<String>>("h", "f1").unwrap(), Some("v1".into()));
        assert_eq!(c.hget::<Option<String>>("h", "nope").unwrap(), None);
        // HGETALL is a flat array in RESP2 and a map in RESP3: the same Rust types either way.
        let all: HashMap<String, String> = c.hgetall("h").unwrap();
        let want: HashMap<String, String> = [("f1", "v1"), ("f2", "v2"), ("f3", "3")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(all, want);
        let mut pairs: Vec<(String, String)> = c.hgetall("h").unwrap();
        pairs.sort();
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[0], ("f1".to_string(), "v1".to_string()));
        let sorted: BTreeMap<String, String> = c.hgetall("h").unwrap();
        assert_eq!(sorted.keys().collect::<Vec<_>>(), ["f1", "f2", "f3"]);
        assert_eq!(
            c.hmget::<Vec<Option<String>>>("h", ["f1", "nope"]).unwrap(),
            vec![Some("v1".to_string()), None]
        );
        assert_eq!(c.hincrby::<i64>("h", "f3", 4).unwrap(), 7);
        assert_eq!(c.hincrbyfloat::<f64>("h", "f3", 0.25).unwrap(), 7.25);
        assert_eq!(c.hkeys::<BTreeSet<String>>("h").unwrap().len(), 3);
        assert!(c.hvals::<Vec<String>>("h").unwrap().contains(&"v2".to_string()));
        assert_eq!(c.hlen::<u64>("h").unwrap(), 3);
        assert!(c.hexists::<bool>("h", "f1").unwrap());
        assert!(!c.hexists::<bool>("h", "nope").unwrap());
        assert!(!c.hsetnx::<bool>("h", "f1", "x").unwrap());
        assert_eq!(c.hstrlen::<u64>("h", "f2").unwrap(), 2);
        assert_eq!(c.hdel::<u64>("h", ["f1", "nope"]).unwrap(), 1);
        // HRANDFIELD WITHVALUES: flat pairs in RESP2, nested pairs in RESP3.
        let picks: Vec<(String, String)> = c.ok(cmd::hrandfield("h").count(-5).withvalues());
        assert_eq!(picks.len(), 5);
        assert!(
            picks.iter().all(|(f, v)| (f == "f2" && v == "v2") || (f == "f3" && v == "7.25")),
            "{picks:?}"
        );
        let fields: Vec<String> = c.ok(cmd::hrandfield("h").count(2));
        assert_eq!(fields.len(), 2);
    });
}

#[test]
fn sets() {
    each_protocol(|c| {
        assert_eq!(c.sadd::<u64>("s1", ["a", "b", "c"]).unwrap(), 3);
        assert_eq!(c.sadd::<u64>("s2", vec!["b", "c", "d"]).unwrap(), 3);
        let members: HashSet<String> = c.smembers("s1").unwrap();
        assert_eq!(members, ["a", "b", "c"].iter().map(|s| s.to_string()).collect());
        assert!(c.sismember::<bool>("s1", "a").unwrap());
        assert_eq!(c.smismember::<Vec<bool>>("s1", ["a", "z"]).unwrap(), [true, false]);
        assert_eq!(c.scard::<u64>("s1").unwrap(), 3);
        assert_eq!(
            c.sinter::<BTreeSet<String>>(["s1", "s2"]).unwrap().into_iter().collect::<Vec<_>>(),
            ["b", "c"]
        );
        assert_eq!(c.sunion::<BTreeSet<String>>(["s1", "s2"]).unwrap().len(), 4);
        assert_eq!(c.sdiff::<Vec<String>>(["s1", "s2"]).unwrap(), ["a"]);
        assert_eq!(c.sinterstore::<u64>("s3", ["s1", "s2"]).unwrap(), 2);
        assert_eq!(c.sintercard::<u64>(2, ["s1", "s2"]).unwrap(), 2);
        assert_eq!(c.ok::<u64>(cmd::sintercard(2, ["s1", "s2"]).limit(1)), 1);
        assert!(c.smove::<bool>("s1", "s2", "a").unwrap());
        assert_eq!(c.srem::<u64>("s2", ["a", "zz"]).unwrap(), 1);
        let popped: Vec<String> = c.ok(cmd::spop("s3").count(5));
        assert_eq!(popped.len(), 2);
        assert_eq!(c.scard::<u64>("s3").unwrap(), 0);
        assert_eq!(c.spop::<Option<String>>("s3").unwrap(), None);
        let random: Vec<String> = c.ok(cmd::srandmember("s2").count(-4));
        assert_eq!(random.len(), 4);
    });
}

#[test]
fn sorted_sets() {
    each_protocol(|c| {
        assert_eq!(c.zadd::<u64>("z", [(1.0, "a"), (2.0, "b"), (3.0, "c")]).unwrap(), 3);
        assert_eq!(c.ok::<u64>(cmd::zadd("z", [(5.0, "a")]).xx().ch()), 1);
        assert_eq!(c.ok::<u64>(cmd::zadd("z", [(9.0, "a"), (4.0, "d")]).nx()), 1);
        assert_eq!(c.ok::<u64>(cmd::zadd("z", [(1.0, "a")]).gt().ch()), 0);
        assert_eq!(c.ok::<f64>(cmd::zadd("z", [(1.5, "a")]).incr()), 6.5);
        assert_eq!(c.ok::<Option<f64>>(cmd::zadd("z", [(1.0, "a")]).nx().incr()), None);
        // Scores: a bulk string in RESP2, a double in RESP3.
        assert_eq!(c.zscore::<f64>("z", "a").unwrap(), 6.5);
        assert_eq!(c.zscore::<Option<f64>>("z", "nope").unwrap(), None);
        assert_eq!(c.zmscore::<Vec<Option<f64>>>("z", ["b", "nope"]).unwrap(), [Some(2.0), None]);
        // WITHSCORES: flat in RESP2, pairs in RESP3.
        let ranked: Vec<(String, f64)> = c.ok(cmd::zrange("z", 0, -1).withscores());
        let want = [("b", 2.0), ("c", 3.0), ("d", 4.0), ("a", 6.5)].map(|(m, s)| (m.to_string(), s));
        assert_eq!(ranked, want);
        let by_member: HashMap<String, f64> = c.ok(cmd::zrange("z", 0, -1).withscores());
        assert_eq!(by_member["a"], 6.5);
        assert_eq!(c.ok::<Vec<String>>(cmd::zrange("z", "(2", "+inf").byscore().limit(0, 2)), ["c", "d"]);
        assert_eq!(c.ok::<Vec<String>>(cmd::zrange("z", "+inf", "-inf").byscore().rev().limit(0, 1)), ["a"]);
        assert_eq!(c.ok::<Vec<String>>(cmd::zrangebyscore("z", 3, 4).withscores()), ["c", "3", "d", "4"]);
        assert_eq!(c.zrank::<Option<u64>>("z", "c").unwrap(), Some(1));
        assert_eq!(c.zrevrank::<Option<u64>>("z", "c").unwrap(), Some(2));
        assert_eq!(c.zrank::<Option<u64>>("z", "nope").unwrap(), None);
        assert_eq!(c.zincrby::<f64>("z", 0.5, "b").unwrap(), 2.5);
        assert_eq!(c.zcard::<u64>("z").unwrap(), 4);
        assert_eq!(c.zcount::<u64>("z", "-inf", "+inf").unwrap(), 4);
        assert_eq!(c.zcount::<u64>("z", "(2.5", 4).unwrap(), 2);
        // Infinite scores come back as infinities.
        let _: u64 = c.zadd("z", [(f64::INFINITY, "top")]).unwrap();
        assert_eq!(c.zscore::<f64>("z", "top").unwrap(), f64::INFINITY);
        // Pops.
        let low: Vec<(String, f64)> = c.ok(cmd::zpopmin("z").count(2));
        assert_eq!(low, [("b".to_string(), 2.5), ("c".to_string(), 3.0)]);
        let (key, popped): (String, Vec<(String, f64)>) =
            c.ok(cmd::zmpop(2, ["empty", "z"], MinMax::Max).count(1));
        assert_eq!((key.as_str(), popped), ("z", vec![("top".to_string(), f64::INFINITY)]));
        let (key, member, score): (String, String, f64) = c.bzpopmin(["empty", "z"], 1).unwrap();
        assert_eq!((key.as_str(), member.as_str(), score), ("z", "d", 4.0));
        assert_eq!(c.bzpopmax::<Option<(String, String, f64)>>("empty", 0.05).unwrap(), None);
        // Combining sets with WEIGHTS and AGGREGATE.
        let _: u64 = c.zadd("z1", [(1, "x"), (2, "y")]).unwrap();
        let _: u64 = c.zadd("z2", [(10, "y"), (20, "w")]).unwrap();
        assert_eq!(
            c.ok::<u64>(cmd::zunionstore("u", 2, ["z1", "z2"]).weights([2, 3]).aggregate(Aggregate::Max)),
            3
        );
        assert_eq!(c.zscore::<f64>("u", "y").unwrap(), 30.0);
        let inter: Vec<(String, f64)> = c.ok(cmd::zinter(2, ["z1", "z2"]).withscores());
        assert_eq!(inter, [("y".to_string(), 12.0)]);
        assert_eq!(c.zrangestore::<u64>("copy", "z2", 0, -1).unwrap(), 2);
        let picks: Vec<(String, f64)> = c.ok(cmd::zrandmember("z2").count(2).withscores());
        assert_eq!(picks.len(), 2);
        assert!(picks.iter().all(|(m, s)| (m == "y" && *s == 10.0) || (m == "w" && *s == 20.0)), "{picks:?}");
        let _: u64 = c.zadd("lex", [(0, "a"), (0, "b"), (0, "c")]).unwrap();
        assert_eq!(c.zlexcount::<u64>("lex", "[b", "+").unwrap(), 2);
        assert_eq!(c.ok::<Vec<String>>(cmd::zrange("lex", "(a", "[c").bylex()), ["b", "c"]);
    });
}

#[test]
fn hyperloglog() {
    each_protocol(|c| {
        assert!(c.ok::<bool>(cmd::pfadd("h1").element(["a", "b", "c"])));
        assert!(!c.ok::<bool>(cmd::pfadd("h1").element("a")));
        assert_eq!(c.pfcount::<u64>("h1").unwrap(), 3);
        let _: bool = c.ok(cmd::pfadd("h2").element(["c", "d"]));
        let _: () = c.ok(cmd::pfmerge("h3").sourcekey(["h1", "h2"]));
        assert_eq!(c.pfcount::<u64>("h3").unwrap(), 4);
        assert_eq!(c.pfcount::<u64>(["h1", "h2"]).unwrap(), 4);
    });
}

#[test]
fn bitmaps() {
    each_protocol(|c| {
        assert_eq!(c.setbit::<u8>("b", 7, 1).unwrap(), 0);
        assert_eq!(c.getbit::<u8>("b", 7).unwrap(), 1);
        assert_eq!(c.bitcount::<u64>("b").unwrap(), 1);
        let _: () = c.set("bs", "foobar").unwrap();
        assert_eq!(c.bitcount::<u64>("bs").unwrap(), 26);
        assert_eq!(c.ok::<u64>(cmd::bitcount("bs").range(1).end(1)), 6);
        assert_eq!(c.ok::<u64>(cmd::bitcount("bs").range(5).end(30).bit()), 17);
        assert_eq!(c.ok::<u64>(cmd::bitcount("bs").range(0).end(0).byte()), 4);
        let _: () = c.set("bp", &[0xffu8, 0xf0, 0x00][..]).unwrap();
        assert_eq!(c.bitpos::<i64>("bp", 0).unwrap(), 12);
        assert_eq!(c.ok::<i64>(cmd::bitpos("bp", 1).range(2)), -1);
        let _: () = c.set("x1", "abc").unwrap();
        let _: () = c.set("x2", "ab").unwrap();
        assert_eq!(c.bitop::<u64>(BitOperation::And, "dst", ["x1", "x2"]).unwrap(), 3);
        assert_eq!(c.get::<Vec<u8>>("dst").unwrap(), b"ab\0");
        // BITFIELD: operations run in call order; OVERFLOW applies to those after it.
        let r: Vec<Option<i64>> =
            c.ok(cmd::bitfield("bf").incrby("u8", 0, 200).incrby("u8", 0, 100).get("u8", 0));
        assert_eq!(r, [Some(200), Some(44), Some(44)]);
        let r: Vec<Option<i64>> =
            c.ok(cmd::bitfield("bf").overflow(Overflow::Sat).incrby("u8", 0, 250).set("u4", 8, 15));
        assert_eq!(r, [Some(255), Some(0)]);
        let r: Vec<Option<i64>> = c.ok(cmd::bitfield("bf").overflow(Overflow::Fail).incrby("u8", 0, 1));
        assert_eq!(r, [None]);
        assert_eq!(c.ok::<Vec<i64>>(cmd::bitfield_ro("bf").get("u8", 0).get("u4", 8)), [255, 15]);
    });
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-3 * b.abs().max(1.0)
}

#[test]
fn geo() {
    each_protocol(|c| {
        let cities = [(13.361389, 38.115556, "Palermo"), (15.087269, 37.502669, "Catania")];
        assert_eq!(c.geoadd::<u64>("g", cities).unwrap(), 2);
        assert_eq!(c.ok::<u64>(cmd::geoadd("g", [(13.361389, 38.115556, "Palermo")]).xx().ch()), 0);
        assert_eq!(c.ok::<u64>(cmd::geoadd("g", [(1.0, 1.0, "Palermo"), (2.0, 2.0, "Nowhere")]).nx()), 1);
        let km: f64 = c.ok(cmd::geodist("g", "Palermo", "Catania").km());
        assert!(close(km, 166.2742), "{km}");
        let m: Option<f64> = c.geodist("g", "Palermo", "nope").unwrap();
        assert_eq!(m, None);
        let pos: Vec<Option<(f64, f64)>> = c.ok(cmd::geopos("g").member(["Palermo", "nope"]));
        let (lon, lat) = pos[0].expect("Palermo has a position");
        assert!(close(lon, 13.361389) && close(lat, 38.115556), "{lon} {lat}");
        assert_eq!(pos[1], None);
        let hashes: Vec<String> = c.ok(cmd::geohash("g").member("Palermo"));
        assert_eq!(hashes, ["sqc8b49rny0"]);
        let near: Vec<(String, f64)> =
            c.ok(cmd::geosearch("g").fromlonlat(15, 37).byradius(200, GeoUnit::Km).asc().withdist());
        assert_eq!(near.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["Catania", "Palermo"]);
        assert!(close(near[0].1, 56.4413), "{near:?}");
        let boxed: Vec<String> =
            c.ok(cmd::geosearch("g").frommember("Palermo").bybox(400, 400, GeoUnit::Km).count(1));
        assert_eq!(boxed, ["Palermo"]);
        let stored: u64 = c.ok(cmd::geosearchstore("dists", "g")
            .frommember("Palermo")
            .byradius(200, GeoUnit::Km)
            .storedist());
        assert_eq!(stored, 2);
        assert!(close(c.zscore::<f64>("dists", "Catania").unwrap(), 166.2742));
        let legacy: Vec<String> = c.ok(cmd::georadius("g", 15, 37, 200, GeoUnit::Km).asc());
        assert_eq!(legacy, ["Catania", "Palermo"]);
    });
}
