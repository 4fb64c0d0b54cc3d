//! The generated method traits with toy implementors (no server): a client that records each `Cmd`, a
//! pipeline that chains, and a client whose replies are deferred values borrowing it (the shape an async
//! client's futures take). Also the builders' argument order, whatever order the options are given in.

use redwire::cmd::{self, Commands, GeoUnit, PipelineCommands, Side};
use redwire::resp::Value;
use redwire::{Cmd, FromValue};
use std::cell::RefCell;
use std::marker::PhantomData;

fn words(cmd: &Cmd) -> Vec<String> {
    cmd.args().map(|a| String::from_utf8_lossy(a).into_owned()).collect()
}

/// Records every command and answers `+OK`.
#[derive(Default)]
struct Recorder {
    sent: RefCell<Vec<Cmd>>,
}

impl Recorder {
    fn last(&self) -> Vec<String> {
        words(self.sent.borrow().last().expect("a command was sent"))
    }
}

impl Commands for Recorder {
    type Reply<'a, T: FromValue> = redwire::Result<T>;

    fn run<T: FromValue>(&self, cmd: impl Into<Cmd>) -> redwire::Result<T> {
        self.sent.borrow_mut().push(cmd.into());
        T::from_value(Value::SimpleString("OK".into()))
    }
}

#[test]
fn methods_send_the_generated_commands() {
    let r = Recorder::default();
    let ok: String = r.get("k").unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(r.last(), ["GET", "k"]);
    assert!(r.set::<bool>("k", 1.5).unwrap());
    assert_eq!(r.last(), ["SET", "k", "1.5"]);
    let _: () = r.del(["a", "b"]).unwrap();
    assert_eq!(r.last(), ["DEL", "a", "b"]);
    let _: () = r.hset("h", [("f1", "v1"), ("f2", "v2")]).unwrap();
    assert_eq!(r.last(), ["HSET", "h", "f1", "v1", "f2", "v2"]);
    let _: () = r.lmove("a", "b", Side::Left, Side::Right).unwrap();
    assert_eq!(r.last(), ["LMOVE", "a", "b", "LEFT", "RIGHT"]);
    let _: () = r.client_list().unwrap();
    assert_eq!(r.last(), ["CLIENT", "LIST"]);
    let _: () = r.config_get("max*").unwrap();
    assert_eq!(r.last(), ["CONFIG", "GET", "max*"]);
    let _: () = r.xinfo_stream("s").unwrap();
    assert_eq!(r.last(), ["XINFO", "STREAM", "s"]);
    let _: () = r.object_encoding("k").unwrap();
    assert_eq!(r.last(), ["OBJECT", "ENCODING", "k"]);
    let _: () = r.type_("k").unwrap();
    assert_eq!(r.last(), ["TYPE", "k"]);
    let _: () = r.xread(["s1", "s2"], ["0", "$"]).unwrap();
    assert_eq!(r.last(), ["XREAD", "STREAMS", "s1", "s2", "0", "$"]);
    let _: () = r.georadius("g", 15, 37.5, 200, GeoUnit::Km).unwrap();
    assert_eq!(r.last(), ["GEORADIUS", "g", "15", "37.5", "200", "KM"]);
    let _: () = r.debug(("SLEEP", 0)).unwrap();
    assert_eq!(r.last(), ["DEBUG", "SLEEP", "0"]);
    // The escape hatch for anything else (module commands).
    let _: () = r.run(Cmd::new("JSON.GET").arg("doc").arg("$")).unwrap();
    assert_eq!(r.last(), ["JSON.GET", "doc", "$"]);
    assert_eq!(r.sent.borrow().len(), 14);
}

#[test]
fn builders_write_options_in_documented_order() {
    let r = Recorder::default();
    let _: () = r.run(cmd::set("k", "v").get().ex(10).nx()).unwrap();
    assert_eq!(r.last(), ["SET", "k", "v", "NX", "GET", "EX", "10"]);
    // Choosing another alternative of the same option replaces the first.
    let _: () = r.run(cmd::set("k", "v").ex(10).nx().px(5).xx()).unwrap();
    assert_eq!(r.last(), ["SET", "k", "v", "XX", "PX", "5"]);
    let _: () = r.run(cmd::zadd("z", [(1.5, "m"), (2.0, "n")]).incr().ch().gt().nx()).unwrap();
    assert_eq!(r.last(), ["ZADD", "z", "NX", "GT", "CH", "INCR", "1.5", "m", "2.0", "n"]);
    let _: () = r
        .run(cmd::xadd("s", "*", [("f", "v")]).limit(100).approximately().maxlen(1000).nomkstream())
        .unwrap();
    assert_eq!(r.last(), ["XADD", "s", "NOMKSTREAM", "MAXLEN", "~", "1000", "LIMIT", "100", "*", "f", "v"]);
    let _: () = r.run(cmd::xadd("s", "1-1", [("f", "v")]).minid("0-5")).unwrap();
    assert_eq!(r.last(), ["XADD", "s", "MINID", "0-5", "1-1", "f", "v"]);
    let _: () = r.run(cmd::scan(0).type_("hash").count(100).match_("user:*")).unwrap();
    assert_eq!(r.last(), ["SCAN", "0", "MATCH", "user:*", "COUNT", "100", "TYPE", "hash"]);
    let _: () = r.run(cmd::lpos("l", "x").maxlen(10).count(2).rank(-1)).unwrap();
    assert_eq!(r.last(), ["LPOS", "l", "x", "RANK", "-1", "COUNT", "2", "MAXLEN", "10"]);
    let _: () = r.run(cmd::xread("s", "0").block(0).count(5)).unwrap();
    assert_eq!(r.last(), ["XREAD", "COUNT", "5", "BLOCK", "0", "STREAMS", "s", "0"]);
    let _: () = r.run(cmd::sort("k").store("d").get("#").limit(0, 5).get("w_*").alpha()).unwrap();
    assert_eq!(r.last(), ["SORT", "k", "LIMIT", "0", "5", "GET", "#", "GET", "w_*", "ALPHA", "STORE", "d"]);
    let _: () = r
        .run(cmd::geosearch("g").withdist().byradius(5, GeoUnit::Km).frommember("m").count(3).any())
        .unwrap();
    assert_eq!(
        r.last(),
        ["GEOSEARCH", "g", "FROMMEMBER", "m", "BYRADIUS", "5", "KM", "COUNT", "3", "ANY", "WITHDIST"]
    );
    let _: () = r.run(cmd::bitfield("b").incrby("u8", 0, 1).get("u4", 0)).unwrap();
    assert_eq!(r.last(), ["BITFIELD", "b", "INCRBY", "u8", "0", "1", "GET", "u4", "0"]);
    let _: () = r.run(cmd::client_kill().skipme(cmd::YesNo::No).id([1, 2])).unwrap();
    assert_eq!(r.last(), ["CLIENT", "KILL", "SKIPME", "NO", "ID", "1", "2"]);
    // Constructors for commands kept off pooled clients still exist, for dedicated connections.
    assert_eq!(words(&cmd::select(2)), ["SELECT", "2"]);
    assert_eq!(words(&cmd::subscribe(["a", "b"])), ["SUBSCRIBE", "a", "b"]);
    assert_eq!(words(&cmd::client_reply(cmd::ReplyMode::Skip)), ["CLIENT", "REPLY", "SKIP"]);
    assert_eq!(Side::Left.token(), "LEFT");
}

/// A pipeline: each method queues and returns the pipeline.
#[derive(Default)]
struct Pipe(Vec<Cmd>);

impl PipelineCommands for Pipe {
    fn queue(&mut self, cmd: impl Into<Cmd>) -> &mut Self {
        self.0.push(cmd.into());
        self
    }
}

#[test]
fn pipelines_chain() {
    let mut p = Pipe::default();
    p.set("a", 1).incr("a").get("a").queue(cmd::expire("a", 10).nx()).hgetall("h");
    let sent: Vec<Vec<String>> = p.0.iter().map(words).collect();
    assert_eq!(
        sent,
        [
            vec!["SET", "a", "1"],
            vec!["INCR", "a"],
            vec!["GET", "a"],
            vec!["EXPIRE", "a", "10", "NX"],
            vec!["HGETALL", "h"],
        ]
    );
}

/// Replies that are values borrowing the client and resolved later, like an async client's futures.
#[derive(Default)]
struct Deferring {
    queued: RefCell<Vec<Cmd>>,
}

struct Pending<'a, T> {
    client: &'a Deferring,
    index: usize,
    _reply: PhantomData<T>,
}

impl<T: FromValue> Pending<'_, T> {
    /// Resolves the reply: here, the number of arguments of the queued command.
    fn wait(self) -> redwire::Result<T> {
        let argc = self.client.queued.borrow()[self.index].arg_count();
        T::from_value(Value::Integer(argc as i64))
    }
}

impl Commands for Deferring {
    type Reply<'a, T: FromValue> = Pending<'a, T>;

    fn run<T: FromValue>(&self, cmd: impl Into<Cmd>) -> Pending<'_, T> {
        let mut q = self.queued.borrow_mut();
        q.push(cmd.into());
        Pending { client: self, index: q.len() - 1, _reply: PhantomData }
    }
}

#[test]
fn replies_may_borrow_the_client() {
    let d = Deferring::default();
    let a = d.mget::<u8>(["a", "b", "c"]);
    let b = d.run::<String>(cmd::set("k", "v").keepttl());
    assert_eq!(b.wait().unwrap(), "4");
    assert_eq!(a.wait().unwrap(), 4);
    assert_eq!(d.queued.borrow().len(), 2);
}
