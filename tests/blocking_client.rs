//! The blocking `Client` against real servers: typed commands, threads sharing one client, WATCH
//! increments with retries counted, typed and raw pipelines, the manual WATCH flow and what dropping it
//! does, refused commands, SCAN iterators, scripts falling back on NOSCRIPT, pub/sub between threads,
//! and a custom connector. The scenarios shared with other runtimes are in blocking_scenarios.rs.

mod blocking_common;
mod support;

use redwire::blocking::{Client, DefaultConnector, Message, Pool, PubSubEvent, Stream};
use redwire::cmd::{self, Commands, PipelineCommands, Script};
use redwire::config::Tracking;
use redwire::resp::Value;
use redwire::{Cmd, Config, Error, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;
use support::Server;

fn urls(server: &Server) -> [String; 2] {
    [server.url(), server.unix_url()]
}

#[test]
fn typed_commands_and_builders() {
    let server = Server::start();
    for url in [format!("{}?protocol=2", server.url()), format!("{}?protocol=3", server.unix_url())] {
        let client = Client::open(&url).unwrap();
        let _: () = client.flushdb().unwrap();
        let _: () = client.set("k", "v").unwrap();
        assert_eq!(client.get::<Option<String>>("k").unwrap().as_deref(), Some("v"));
        assert_eq!(client.get::<Option<String>>("missing").unwrap(), None);
        assert!(!client.run::<bool>(cmd::set("k", "other").nx()).unwrap());
        assert!(client.run::<bool>(cmd::set("fresh", "1").nx().ex(60)).unwrap());
        let _: () = client.hset("h", [("a", 1), ("b", 2)]).unwrap();
        let h: HashMap<String, i64> = client.hgetall("h").unwrap();
        assert_eq!(h, HashMap::from([("a".into(), 1), ("b".into(), 2)]));
        let _: () = client.zadd("z", [(2.5, "x"), (1.0, "y")]).unwrap();
        let z: Vec<(String, f64)> = client.run(cmd::zrange("z", 0, -1).withscores()).unwrap();
        assert_eq!(z, [("y".to_string(), 1.0), ("x".to_string(), 2.5)]);
        // Server errors are typed errors, and the raw escape hatch still works.
        let err = client.lpush::<i64>("k", "x").unwrap_err();
        assert_eq!(err.server_code(), Some("WRONGTYPE"), "{err}");
        assert_eq!(client.exec(&Cmd::new("ECHO").arg("hi")).unwrap(), Value::BulkString("hi".into()));
    }
}

#[test]
fn eight_threads_share_one_client() {
    let server = Server::start();
    for url in urls(&server) {
        let client = Client::open(&url).unwrap();
        let _: () = client.del("counter").unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let client = client.clone();
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        client.incr::<i64>("counter").unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(client.get::<i64>("counter").unwrap(), 16_000, "{url}");
        let stats = client.pool().stats();
        assert!(stats.created <= 8 + 1, "{stats:?}"); // at most one connection per thread (+ open's)
        assert_eq!(stats.discarded, 0, "{stats:?}");
    }
}

#[test]
fn watch_increments_from_four_threads_count_their_retries() {
    let server = Server::start();
    for url in urls(&server) {
        let client = Client::open(&url).unwrap();
        let _: () = client.del("seq").unwrap();
        let start = Arc::new(Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (client, start) = (client.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let mut retries = 0;
                    for _ in 0..500 {
                        let done = client
                            .transaction_with::<((),)>("seq", 10_000, |tx| {
                                let n: Option<i64> = tx.get("seq")?;
                                tx.multi().set("seq", n.unwrap_or(0) + 1);
                                Ok(())
                            })
                            .unwrap();
                        retries += done.attempts - 1;
                    }
                    retries
                })
            })
            .collect();
        let retries: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(client.get::<i64>("seq").unwrap(), 2000, "{url}");
        println!("{url}: 2000 WATCH increments from 4 threads needed {retries} retries");
        assert!(
            retries > 0,
            "4 threads contending for one key never conflicted: the WATCH was not exercised"
        );
        assert_eq!(client.pool().stats().discarded, 0);
    }
}

#[test]
fn pipelines_typed_raw_and_refused() {
    let server = Server::start();
    let client = Client::open(&server.url()).unwrap();
    let (ok, n, len, items): (bool, i64, usize, Vec<String>) = client
        .pipeline()
        .set("s", "v")
        .incr("n")
        .rpush("l", ["a", "b"])
        .lrange("l", 0, -1)
        .execute()
        .unwrap();
    assert_eq!((ok, n, len, items), (true, 1, 2, vec!["a".to_string(), "b".to_string()]));

    // The caller chooses: a typed tuple raises the first error, `Vec<Result<_>>` keeps every slot.
    for atomic in [true, false] {
        let mut pipe = client.pipeline().transaction(atomic);
        assert_eq!(pipe.is_atomic(), atomic);
        let err = pipe.incr("n").incr("s").incr("n").execute::<(i64, i64, i64)>().unwrap_err();
        assert!(matches!(err, Error::Server(_)), "{err}");
        assert!(pipe.is_empty(), "execute empties the pipeline, even when it fails");
        let slots: Vec<Result<i64>> = pipe.incr("n").incr("s").incr("n").execute().unwrap();
        assert!(matches!(slots[..], [Ok(_), Err(Error::Server(_)), Ok(_)]), "{slots:?}");
        let raw = pipe.get("s").lpush("s", "x").execute_raw().unwrap();
        assert!(matches!(&raw[1], Value::Error(e) if e.starts_with(b"WRONGTYPE")), "{raw:?}");
    }
    assert_eq!(client.get::<i64>("n").unwrap(), 9);

    // A command a pooled connection must not run is refused at execute, and nothing is sent.
    let mut raw = server.raw();
    let before = raw.calls("set");
    let err = client.pipeline().set("x", 1).queue(Cmd::new("SELECT").arg(1)).execute::<()>().unwrap_err();
    assert!(matches!(&err, Error::Usage(m) if m.contains("command 2 of the pipeline")), "{err}");
    assert_eq!(raw.calls("set"), before);
}

#[test]
fn refused_commands_say_what_to_use_instead() {
    let server = Server::start();
    let client = Client::open(&server.url()).unwrap();
    for (cmd, hint) in [
        (Cmd::new("SELECT").arg(2), "Config::with_db"),
        (Cmd::new("WATCH").arg("k"), "client.transaction"),
        (Cmd::new("EXEC"), "client.transaction"),
        (Cmd::new("PSUBSCRIBE").arg("a*"), "client.pubsub()"),
        (Cmd::new("AUTH").arg("pw"), "Config"),
        (Cmd::new("CLIENT").arg("TRACKING").arg("ON"), "Config::with_tracking"),
    ] {
        let err = client.exec(&cmd).unwrap_err();
        assert!(matches!(&err, Error::Usage(m) if m.contains(hint)), "{cmd:?}: {err}");
        let err = client.run::<()>(cmd.clone()).unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{cmd:?}: {err}");
    }
    // Refused locally: no connection was touched.
    assert_eq!(client.pool().stats().discarded, 0);
    assert_eq!(client.pool().stats().created, 1);
}

#[test]
fn manual_watch_flow_and_dropping_a_watching_transaction() {
    let server = Server::start();
    let client = Client::open(&server.url()).unwrap();
    let mut raw = server.raw();
    let _: () = client.set("acct", 100).unwrap();

    let mut tx = client.watch("acct").unwrap();
    assert!(tx.is_watching());
    let balance: i64 = tx.get("acct").unwrap();
    let _: i64 = client.incrby("acct", 5).unwrap(); // another connection writes the watched key
    tx.multi().set("acct", balance - 10);
    assert!(matches!(tx.execute::<()>(), Err(Error::Watch)));
    assert!(!tx.is_watching(), "EXEC unwatches");
    tx.watch("acct").unwrap();
    let balance: i64 = tx.get("acct").unwrap();
    tx.multi().set("acct", balance - 10).get("acct");
    let ((), after): ((), i64) = tx.execute().unwrap();
    assert_eq!(after, 95);
    // Transaction commands are refused in immediate mode, with the way to do it instead.
    let err = tx.exec(&Cmd::new("MULTI")).unwrap_err();
    assert!(matches!(err, Error::Usage(_)), "{err}");
    tx.reset();

    // Dropped while watching: UNWATCH is sent and the connection goes back to the pool.
    let unwatch_before = raw.calls("unwatch");
    let stats_before = client.pool().stats();
    let tx = client.watch(["acct", "other"]).unwrap();
    drop(tx);
    assert_eq!(raw.calls("unwatch"), unwatch_before + 1);
    let stats = client.pool().stats();
    assert_eq!((stats.in_use, stats.discarded), (0, stats_before.discarded), "{stats:?}");
    assert_eq!(stats.idle, stats_before.idle.max(1));
    // ... and whoever gets it next is not watching anything.
    let (n,): (i64,) = client
        .transaction("unrelated", |tx| {
            let _: i64 = client.incr("acct")?; // would abort the transaction if "acct" were still watched
            tx.multi().incr("acct");
            Ok(())
        })
        .unwrap();
    assert_eq!(n, 97);

    // An error inside the closure unwatches too, and the error comes back.
    let err = client
        .transaction::<()>("acct", |tx| {
            let _: i64 = tx.lpush("acct", "x")?; // WRONGTYPE
            Ok(())
        })
        .unwrap_err();
    assert_eq!(err.server_code(), Some("WRONGTYPE"));
    assert_eq!(raw.calls("unwatch"), unwatch_before + 2);
}

#[test]
fn scan_iterators_walk_every_page() {
    let server = Server::start();
    let client = Client::open(&format!("{}?protocol=3", server.url())).unwrap();
    let keys: BTreeSet<String> = (0..300).map(|i| format!("user:{i}")).collect();
    let mut pipe = client.pipeline().transaction(false);
    for k in &keys {
        pipe.set(k, 1);
    }
    pipe.set("other", 1).sadd("set", (0..200).collect::<Vec<i32>>());
    pipe.hset("hash", (0..150).map(|i| (format!("f{i}"), i)).collect::<Vec<_>>());
    pipe.zadd("zset", (0..120).map(|i| (i as f64 / 2.0, format!("m{i}"))).collect::<Vec<_>>());
    pipe.execute::<()>().unwrap();

    let found: BTreeSet<String> =
        client.scan_iter(cmd::scan(0).match_("user:*").count(20)).unwrap().map(|k| k.unwrap()).collect();
    assert_eq!(found, keys);
    let members: BTreeSet<i32> = client.sscan_iter("set").unwrap().map(|m| m.unwrap()).collect();
    assert_eq!(members, (0..200).collect());
    let fields: BTreeMap<String, i64> = client.hscan_iter("hash").unwrap().map(|f| f.unwrap()).collect();
    assert_eq!(fields.len(), 150);
    assert_eq!(fields["f42"], 42);
    let scored: Vec<(String, f64)> = client.zscan_iter("zset").unwrap().map(|m| m.unwrap()).collect();
    assert_eq!(scored.len(), 120);
    assert!(scored.contains(&("m7".to_string(), 3.5)));

    // A failing page ends the iteration with its error.
    let mut wrong = client.sscan_iter::<String>("hash").unwrap();
    assert!(matches!(wrong.next(), Some(Err(Error::Server(_)))));
    assert!(wrong.next().is_none());
    assert!(matches!(client.scan_iter::<String>(cmd::get("k")), Err(Error::Usage(_))));
}

#[test]
fn scripts_fall_back_to_eval_on_noscript() {
    let server = Server::start();
    let client = Client::open(&server.url()).unwrap();
    let mut raw = server.raw();
    let add = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    let _: () = client.run(cmd::script_flush()).unwrap();
    assert_eq!(client.invoke::<i64>(&add.call().key("c").arg(5)).unwrap(), 5);
    assert_eq!(raw.calls("eval"), 1, "NOSCRIPT, so the source was sent once");
    assert_eq!(client.invoke::<i64>(&add.call().key("c").arg(2)).unwrap(), 7);
    assert_eq!(raw.calls("eval"), 1, "cached by the EVAL: EVALSHA suffices");
    let broken = Script::new("return redis.call('NO-SUCH-COMMAND')");
    assert!(matches!(client.invoke::<()>(&broken.call()), Err(Error::Server(_))));
}

/// The message an event holds; panics on a notice (nothing here reconnects or overflows).
fn message(event: PubSubEvent) -> Message {
    match event {
        PubSubEvent::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[test]
fn pubsub_between_threads() {
    let server = Server::start();
    for url in [format!("{}?protocol=2", server.url()), format!("{}?protocol=3", server.unix_url())] {
        let client = Client::open(&url).unwrap();
        let mut sub = client.pubsub().unwrap();
        sub.subscribe(["jobs", "control"]).unwrap();
        assert!(sub.is_subscribed());
        assert!(sub.get_message(Duration::ZERO).unwrap().is_none());
        let publisher = client.clone();
        let thread = std::thread::spawn(move || {
            for i in 0..100 {
                assert_eq!(publisher.publish::<i64>("jobs", i).unwrap(), 1);
            }
        });
        let got: Vec<i64> = sub
            .messages()
            .take(100)
            .map(|event| {
                let m = message(event.unwrap());
                assert_eq!(&m.channel[..], b"jobs");
                redwire::FromValue::from_value(m.payload).unwrap()
            })
            .collect();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        thread.join().unwrap();
        assert_eq!(sub.publish("control", "stop").unwrap(), 1); // publish from the PubSub too
        assert_eq!(
            message(sub.get_message(Duration::from_secs(5)).unwrap().unwrap()).payload,
            Value::BulkString("stop".into())
        );
        sub.unsubscribe([""; 0]).unwrap(); // an empty list: from every channel
        assert!(!sub.is_subscribed());
        assert!(sub.messages().next().is_none(), "nothing subscribed: the iterator ends");
        assert_eq!(client.publish::<i64>("jobs", "x").unwrap(), 0);
    }
}

/// A TCP stream that counts bytes both ways: any `Read + Write` can carry a connection.
struct Counting {
    inner: TcpStream,
    read: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Stream for Counting {
    fn set_read_timeout(&mut self, t: Option<Duration>) -> io::Result<()> {
        self.inner.set_read_timeout(t)
    }
    fn set_write_timeout(&mut self, t: Option<Duration>) -> io::Result<()> {
        self.inner.set_write_timeout(t)
    }
    fn set_nonblocking(&mut self, on: bool) -> io::Result<()> {
        self.inner.set_nonblocking(on)
    }
}

#[test]
fn a_connector_carries_connections_over_any_stream() {
    let server = Server::start();
    let (read, written) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (r, w) = (read.clone(), written.clone());
    let config = Config::from_url(&format!("{}?protocol=2", server.url())).unwrap();
    let pool = Pool::builder(config)
        .connector(move |config: &Config, timeout| {
            let inner = DefaultConnector::tcp(config, timeout)?;
            Ok(Box::new(Counting { inner, read: r.clone(), written: w.clone() }) as Box<dyn Stream>)
        })
        .build();
    let client = Client::with_pool(pool);
    let encoded = |cmd: Cmd| {
        let mut buf = bytes::BytesMut::new();
        cmd.encode(&mut buf);
        buf.len() as u64
    };
    // RESP2, no credentials, database 0: no handshake, so every byte is a command or its reply.
    let _: () = client.set("k", "value").unwrap();
    assert_eq!(written.load(Ordering::Relaxed), encoded(Cmd::new("SET").arg("k").arg("value")));
    assert_eq!(read.load(Ordering::Relaxed), b"+OK\r\n".len() as u64);
    let v: String = client.get("k").unwrap();
    assert_eq!(v, "value");
    assert_eq!(
        written.load(Ordering::Relaxed),
        encoded(Cmd::new("SET").arg("k").arg("value")) + encoded(Cmd::new("GET").arg("k"))
    );
    assert_eq!(read.load(Ordering::Relaxed), (b"+OK\r\n".len() + b"$5\r\nvalue\r\n".len()) as u64);
    assert_eq!(client.pool().stats().created, 1);
}

#[test]
fn handles_cross_threads_as_documented() {
    fn send_sync_clone<T: Send + Sync + Clone>() {}
    fn send<T: Send>() {}
    send_sync_clone::<Client>();
    send_sync_clone::<Pool>();
    send::<redwire::blocking::Pipeline>();
    send::<redwire::blocking::Transaction>();
    send::<redwire::blocking::PubSub>();
    // Moved to another thread mid-use, a transaction keeps its connection and its watch.
    let server = Server::start();
    let client = Client::open(&server.url()).unwrap();
    let mut tx = client.watch("k").unwrap();
    let _: Option<String> = tx.get("k").unwrap();
    let committed = std::thread::spawn(move || {
        tx.multi().set("k", "from another thread");
        tx.execute::<((),)>()
    });
    committed.join().unwrap().unwrap();
    assert_eq!(client.get::<String>("k").unwrap(), "from another thread");
}

#[test]
fn tracking_invalidations_reach_the_push_handler_and_never_a_reply() {
    let server = Server::start();
    let writer = Client::open(&server.url()).unwrap();
    for base in urls(&server) {
        let seen: Arc<std::sync::Mutex<Vec<Value>>> = Arc::default();
        let log = seen.clone();
        let config = Config::from_url(&format!("{base}?protocol=3")).unwrap().with_tracking(Tracking::new());
        let pool =
            Pool::builder(config).max_size(1).push_handler(move |v| log.lock().unwrap().push(v)).build();
        let tracked = Client::with_pool(pool.clone());
        let _: () = writer.set("cached", "v1").unwrap();
        assert_eq!(tracked.get::<String>("cached").unwrap(), "v1"); // the server now tracks "cached"
        let _: () = writer.set("cached", "v2").unwrap(); // ... and invalidates it on the tracked connection
                                                         // The invalidation is read before the next reply; the reply is the command's own.
        assert_eq!(tracked.get::<String>("cached").unwrap(), "v2");
        let pushes = seen.lock().unwrap().clone();
        let expected = Value::Push(vec![
            Value::BulkString("invalidate".into()),
            Value::Array(vec![Value::BulkString("cached".into())]),
        ]);
        assert_eq!(pushes, vec![expected], "{base}");
        assert_eq!(pool.stats().unhandled_pushes, 0);

        // Without a handler, the push is counted, not delivered as a reply.
        let config = Config::from_url(&format!("{base}?protocol=3")).unwrap().with_tracking(Tracking::new());
        let pool = Pool::builder(config).max_size(1).build();
        let untracked_handler = Client::with_pool(pool.clone());
        assert_eq!(untracked_handler.get::<String>("cached").unwrap(), "v2");
        let _: () = writer.set("cached", "v3").unwrap();
        assert_eq!(untracked_handler.get::<String>("cached").unwrap(), "v3");
        assert_eq!(pool.stats().unhandled_pushes, 1, "{base}");
    }
}

#[test]
fn tracking_over_resp2_needs_a_redirect_and_says_so() {
    let server = Server::start();
    let config =
        Config::from_url(&format!("{}?protocol=2", server.url())).unwrap().with_tracking(Tracking::new());
    match Client::new(config) {
        Err(Error::Handshake { step, message }) => {
            assert_eq!(step, "CLIENT TRACKING");
            assert!(message.contains("Tracking::redirect") && message.contains("protocol=3"), "{message}");
        }
        other => panic!("expected a handshake error, got {other:?}"),
    }
    // With a redirect the server accepts it and the tracked connections report where invalidations go.
    let mut raw = server.raw();
    let Value::Integer(id) = raw.cmd_str(&["CLIENT", "ID"]) else { panic!("CLIENT ID is an integer") };
    let config = Config::from_url(&format!("{}?protocol=2", server.url()))
        .unwrap()
        .with_tracking(Tracking::new().redirect(id as u64));
    let client = Client::new(config).unwrap();
    let redirect: i64 = client.run(cmd::client_getredir()).unwrap();
    assert_eq!(redirect, id);
    // A server refusal names the step: prefixes without BCAST.
    let config = Config::from_url(&format!("{}?protocol=3", server.url()))
        .unwrap()
        .with_tracking(Tracking::new().prefix("p:"));
    match Client::new(config) {
        Err(Error::Handshake { step: "CLIENT TRACKING", message }) => {
            assert!(message.contains("refused"), "{message}")
        }
        other => panic!("expected a handshake error, got {other:?}"),
    }
}
