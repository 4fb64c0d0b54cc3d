//! The first scenarios: commands and typed replies, server errors, pipelines, WATCH transactions, pub/sub,
//! blocking commands and timeouts, protocol and transport, threads, and commands a shared client refuses.

use super::*;
use crate::support::Server;
use redwire::resp::Value;
use redwire::{Cmd, Error, FromValue};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

/// Plain commands: raw reply shapes per protocol, and the same Rust type from either shape.
pub fn commands_and_typed_replies<R: Runtime>(url: &str, _server: &mut Server) {
    let c = R::connect(url).unwrap();
    let three = resp3(url);
    assert_eq!(exec::<R>(&c, &["SET", "k", "v"]), ok());
    assert_eq!(exec::<R>(&c, &["GET", "k"]), bulk("v"));
    assert_eq!(exec::<R>(&c, &["GET", "missing"]), Value::Null);
    assert_eq!(exec::<R>(&c, &["INCRBY", "n", "41"]), Value::Integer(41));
    assert_eq!(exec::<R>(&c, &["INCR", "n"]), Value::Integer(42));

    // A hash: a RESP3 map or a RESP2 flat array; the same HashMap either way.
    assert_eq!(exec::<R>(&c, &["HSET", "h", "f1", "v1", "f2", "v2"]), Value::Integer(2));
    let raw = exec::<R>(&c, &["HGETALL", "h"]);
    match (&raw, three) {
        (Value::Map(pairs), true) => assert_eq!(pairs.len(), 2),
        (Value::Array(items), false) => assert_eq!(items.len(), 4),
        (other, _) => panic!("HGETALL answered {other:?}"),
    }
    let map: HashMap<String, String> = convert(raw);
    assert_eq!(map, HashMap::from([("f1".into(), "v1".into()), ("f2".into(), "v2".into())]));

    // A score: a RESP3 double or a RESP2 bulk string; the same f64.
    exec::<R>(&c, &["ZADD", "z", "1.5", "m"]);
    let score = exec::<R>(&c, &["ZSCORE", "z", "m"]);
    assert_eq!(matches!(score, Value::Double(_)), three, "{score:?}");
    assert_eq!(convert::<f64>(score), 1.5);

    // A set: a RESP3 set or a RESP2 array.
    exec::<R>(&c, &["SADD", "s", "a", "b", "c"]);
    let members = exec::<R>(&c, &["SMEMBERS", "s"]);
    assert_eq!(matches!(members, Value::Set(_)), three, "{members:?}");
    assert_eq!(convert::<BTreeSet<String>>(members), BTreeSet::from(["a".into(), "b".into(), "c".into()]));
    assert!(convert::<bool>(exec::<R>(&c, &["EXISTS", "k"])));

    // Binary-safe values, a large one, and a large aggregate.
    let binary = b"a\r\nb\0c\xff".to_vec();
    R::exec(&c, Cmd::new("SET").arg("bin").arg(&binary[..])).unwrap();
    assert_eq!(convert::<Vec<u8>>(exec::<R>(&c, &["GET", "bin"])), binary);
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    R::exec(&c, Cmd::new("SET").arg("big").arg(&big[..])).unwrap();
    assert_eq!(convert::<Vec<u8>>(exec::<R>(&c, &["GET", "big"])), big);
    let items: Vec<String> = (0..5000).map(|i| format!("item-{i}")).collect();
    R::exec(&c, Cmd::new("RPUSH").arg("list").arg(&items)).unwrap();
    assert_eq!(convert::<Vec<String>>(exec::<R>(&c, &["LRANGE", "list", "0", "-1"])), items);
}

/// Error replies are `Err(Error::Server)` with their code, and the next command gets its own reply.
pub fn server_errors_leave_the_client_usable<R: Runtime>(url: &str, _server: &mut Server) {
    let c = R::connect(url).unwrap();
    exec::<R>(&c, &["SET", "k", "text"]);
    for (words, code) in [
        (&["LPUSH", "k", "x"][..], "WRONGTYPE"),
        (&["INCR", "k"][..], "ERR"),
        (&["NO-SUCH-COMMAND", "x"][..], "ERR"),
        (&["GET"][..], "ERR"),
    ] {
        match R::exec(&c, cmd(words)) {
            Err(e @ Error::Server(_)) => assert_eq!(e.server_code(), Some(code), "{words:?}: {e}"),
            other => panic!("[{}] {words:?} answered {other:?}", R::NAME),
        }
        assert_eq!(exec::<R>(&c, &["GET", "k"]), bulk("text"), "after {words:?}");
    }
}

/// Pipelines, plain and atomic: a WRONGTYPE error in the middle stays in its slot and loses no other
/// reply; a command refused while queueing aborts an atomic pipeline; a thousand commands in order.
pub fn pipelines_keep_every_slot<R: Runtime>(url: &str, _server: &mut Server) {
    let c = R::connect(url).unwrap();
    for atomic in [false, true] {
        exec::<R>(&c, &["DEL", "s", "l"]);
        let cmds = vec![
            cmd(&["SET", "s", "v"]),
            cmd(&["LPUSH", "s", "x"]),
            cmd(&["GET", "s"]),
            cmd(&["RPUSH", "l", "a", "b"]),
            cmd(&["LRANGE", "l", "0", "-1"]),
        ];
        let replies = R::pipeline(&c, cmds, atomic).unwrap();
        assert_eq!(replies.len(), 5, "atomic={atomic}: {replies:?}");
        assert_eq!(replies[0], ok());
        assert!(
            matches!(&replies[1], Value::Error(e) if e.starts_with(b"WRONGTYPE")),
            "atomic={atomic}: {:?}",
            replies[1]
        );
        assert_eq!(replies[2], bulk("v"));
        assert_eq!(replies[3], Value::Integer(2));
        assert_eq!(replies[4], Value::Array(vec![bulk("a"), bulk("b")]));
        assert_eq!(R::pipeline(&c, Vec::new(), atomic).unwrap(), Vec::<Value>::new());
    }

    // Wrong arity is refused at queue time: EXECABORT, and nothing ran.
    let aborted = R::pipeline(&c, vec![cmd(&["SET", "untouched", "1"]), cmd(&["SET", "only-key"])], true);
    assert!(matches!(aborted, Err(Error::ExecAbort(ref errors)) if errors.len() == 1), "{aborted:?}");
    assert_eq!(exec::<R>(&c, &["EXISTS", "untouched"]), Value::Integer(0));

    let many: Vec<Cmd> = (0..1000).map(|_| cmd(&["INCR", "counter"])).collect();
    let replies = R::pipeline(&c, many, false).unwrap();
    assert_eq!(replies, (1..=1000).map(Value::Integer).collect::<Vec<_>>());
}

/// WATCH: a write from elsewhere during the first attempt aborts it, the second commits; a body that
/// always loses gives up with `Error::Watch`; EXECABORT and body errors come back as errors; every
/// failure leaves the client usable.
pub fn transactions_watch_abort_and_retry<R: Runtime>(url: &str, _server: &mut Server) {
    let c = R::connect(url).unwrap();
    let other = c.clone();
    exec::<R>(&c, &["SET", "k", "10"]);
    let mut first = true;
    let (values, attempts) = R::transaction(&c, &["k"], 5, &mut |read| {
        let n: i64 = i64::from_value(read(cmd(&["GET", "k"]))?)?;
        if first {
            first = false;
            exec::<R>(&other, &["INCRBY", "k", "5"]); // someone else writes the watched key
        }
        Ok(vec![cmd(&["SET", "k", &(n + 1).to_string()]), cmd(&["GET", "k"])])
    })
    .unwrap();
    assert_eq!(attempts, 2);
    assert_eq!(values, vec![ok(), bulk("16")]);

    let mut runs = 0;
    let lost = R::transaction(&c, &["k"], 3, &mut |_read| {
        runs += 1;
        exec::<R>(&other, &["INCR", "k"]);
        Ok(vec![cmd(&["SET", "k", "0"])])
    });
    assert!(matches!(lost, Err(Error::Watch)), "{lost:?}");
    assert_eq!(runs, 3);
    assert_eq!(exec::<R>(&c, &["GET", "k"]), bulk("19"));

    // A run-time error stays in its slot; a queue-time error aborts everything.
    let (values, attempts) =
        R::transaction(&c, &["k"], 1, &mut |_| Ok(vec![cmd(&["LPUSH", "k", "x"]), cmd(&["INCR", "k"])]))
            .unwrap();
    assert_eq!(attempts, 1);
    assert!(matches!(&values[0], Value::Error(e) if e.starts_with(b"WRONGTYPE")), "{values:?}");
    assert_eq!(values[1], Value::Integer(20));
    let aborted = R::transaction(&c, &["k"], 1, &mut |_| Ok(vec![cmd(&["INCR", "k"]), cmd(&["SET", "k"])]));
    assert!(matches!(aborted, Err(Error::ExecAbort(_))), "{aborted:?}");
    let failed = R::transaction(&c, &["k"], 1, &mut |read| {
        read(cmd(&["LPUSH", "k", "x"]))?; // WRONGTYPE: the body gives up
        Ok(vec![cmd(&["SET", "k", "never"])])
    });
    assert!(matches!(failed, Err(Error::Server(_))), "{failed:?}");
    assert_eq!(exec::<R>(&c, &["GET", "k"]), bulk("20"));
    // Nothing stays watched: a write from elsewhere does not abort an unrelated transaction.
    let (values, attempts) = R::transaction(&c, &["other"], 1, &mut |_| {
        exec::<R>(&other, &["INCR", "k"]);
        Ok(vec![cmd(&["INCR", "k"])])
    })
    .unwrap();
    assert_eq!((values, attempts), (vec![Value::Integer(22)], 1));
}

/// Channels, patterns and shard channels; messages that arrive during a subscribe call are kept;
/// binary payloads; unsubscribing stops delivery; a timeout gives `None`.
pub fn pubsub_channels_patterns_and_shards<R: Runtime>(url: &str, _server: &mut Server) {
    let c = R::connect(url).unwrap();
    let mut p = R::pubsub(&c).unwrap();
    R::subscribe(&mut p, &["news"], &[], &[]).unwrap();
    // Published before the next subscribe is confirmed: it must not be lost.
    assert_eq!(exec::<R>(&c, &["PUBLISH", "news", "first"]), Value::Integer(1));
    R::subscribe(&mut p, &[], &["alerts:*"], &["shard"]).unwrap();
    let payload = b"bin\r\n\0ary".to_vec();
    R::exec(&c, Cmd::new("PUBLISH").arg("alerts:disk").arg(&payload[..])).unwrap();
    assert_eq!(exec::<R>(&c, &["SPUBLISH", "shard", "s1"]), Value::Integer(1));

    let mut got = Vec::new();
    while got.len() < 3 {
        match R::next_message(&mut p, Duration::from_secs(5)).unwrap() {
            Some(m) => got.push(m),
            None => panic!("[{}] only {got:?} arrived", R::NAME),
        }
    }
    assert_eq!(
        got,
        vec![
            ("news".to_string(), None, b"first".to_vec()),
            ("alerts:disk".to_string(), Some("alerts:*".to_string()), payload),
            ("shard".to_string(), None, b"s1".to_vec()),
        ]
    );
    assert_eq!(R::next_message(&mut p, Duration::from_millis(50)).unwrap(), None);

    // Publishing from another thread while this one waits.
    let publisher = c.clone();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        R::exec(&publisher, cmd(&["PUBLISH", "news", "from-thread"]))
    });
    let m = R::next_message(&mut p, Duration::from_secs(5)).unwrap();
    assert_eq!(m, Some(("news".into(), None, b"from-thread".to_vec())));
    assert_eq!(thread.join().unwrap().unwrap(), Value::Integer(1));

    R::unsubscribe(&mut p, &["news"], &["alerts:*"], &[]).unwrap();
    assert_eq!(exec::<R>(&c, &["PUBLISH", "news", "unheard"]), Value::Integer(0));
    assert_eq!(exec::<R>(&c, &["PUBLISH", "alerts:x", "unheard"]), Value::Integer(0));
    assert_eq!(exec::<R>(&c, &["SPUBLISH", "shard", "s2"]), Value::Integer(1));
    let m = R::next_message(&mut p, Duration::from_secs(5)).unwrap();
    assert_eq!(m, Some(("shard".into(), None, b"s2".to_vec())));
    R::unsubscribe(&mut p, &[], &[], &["shard"]).unwrap();
    assert_eq!(exec::<R>(&c, &["SPUBLISH", "shard", "s3"]), Value::Integer(0));
    assert_eq!(R::next_message(&mut p, Duration::from_millis(50)).unwrap(), None);
}

/// `BLPOP k 0`, `BLPOP k 0.6` and `XREAD BLOCK` wait longer than the response timeout without tripping it.
pub fn blocking_commands_outlast_the_response_timeout<R: Runtime>(url: &str, _server: &mut Server) {
    let timeout = Duration::from_millis(200);
    let c = R::connect(&format!("{url}&response_timeout=200ms")).unwrap();
    let waiter = c.clone();
    let blpop = std::thread::spawn(move || R::exec(&waiter, cmd(&["BLPOP", "queue", "0"])));
    // Wait until the server has the BLPOP blocked, then keep it waiting past the response timeout.
    let started = Instant::now();
    while !convert::<String>(exec::<R>(&c, &["INFO", "clients"])).contains("blocked_clients:1") {
        assert!(started.elapsed() < Duration::from_secs(10), "BLPOP never blocked");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(timeout * 2);
    assert_eq!(exec::<R>(&c, &["RPUSH", "queue", "job"]), Value::Integer(1));
    assert_eq!(blpop.join().unwrap().unwrap(), Value::Array(vec![bulk("queue"), bulk("job")]));

    let t0 = Instant::now();
    assert_eq!(exec::<R>(&c, &["BLPOP", "queue", "0.6"]), Value::Null);
    assert!(t0.elapsed() >= Duration::from_millis(550), "{:?}", t0.elapsed());
    let t0 = Instant::now();
    assert_eq!(exec::<R>(&c, &["XREAD", "BLOCK", "500", "STREAMS", "stream", "$"]), Value::Null);
    assert!(t0.elapsed() >= Duration::from_millis(450), "{:?}", t0.elapsed());
    assert_eq!(exec::<R>(&c, &["ECHO", "still fine"]), bulk("still fine"));
}

/// A reply later than the response timeout fails with `Error::Timeout` (alone, and in the middle of a
/// pipeline whose first reply arrived); the next command gets its own reply, never the late one.
pub fn response_timeout_then_the_next_command_gets_its_own_reply<R: Runtime>(
    url: &str,
    _server: &mut Server,
) {
    let c = R::connect(&format!("{url}&response_timeout=500ms")).unwrap();
    exec::<R>(&c, &["SET", "k", "mine"]);
    let late = R::exec(&c, cmd(&["DEBUG", "SLEEP", "0.8"]));
    assert!(matches!(late, Err(Error::Timeout(_))), "[{}] {late:?}", R::NAME);
    assert_eq!(exec::<R>(&c, &["GET", "k"]), bulk("mine"));

    let cmds = vec![cmd(&["INCR", "n"]), cmd(&["DEBUG", "SLEEP", "0.8"]), cmd(&["INCR", "n"])];
    let late = R::pipeline(&c, cmds, false);
    assert!(matches!(late, Err(Error::Timeout(_))), "[{}] {late:?}", R::NAME);
    assert_eq!(exec::<R>(&c, &["INCR", "n"]), Value::Integer(3));
    assert_eq!(exec::<R>(&c, &["GET", "k"]), bulk("mine"));
}

/// The connection speaks the protocol the URL asked for, over the transport it named.
pub fn protocol_and_transport_are_as_asked<R: Runtime>(url: &str, server: &mut Server) {
    let c = R::connect(url).unwrap();
    let info: String = convert(exec::<R>(&c, &["CLIENT", "INFO"]));
    let resp = if resp3(url) { "resp=3" } else { "resp=2" };
    assert!(info.split_whitespace().any(|f| f == resp), "{info}");
    let field = |name: &str| info.split_whitespace().find_map(|f| f.strip_prefix(name)).unwrap_or_default();
    // Flag U: a unix socket client. Redis shows `laddr=/path:0`, Valkey `laddr=[/path:0]:0`.
    let unix = field("flags=").contains('U');
    assert_eq!(unix, url.starts_with("redis+unix:"), "{info}");
    if unix {
        assert!(field("laddr=").contains(&server.unix_path().display().to_string()), "{info}");
    } else {
        assert_eq!(field("laddr="), format!("127.0.0.1:{}", server.port()), "{info}");
    }
}

/// One client shared by threads: every reply reaches the caller that asked for it.
pub fn one_client_many_threads<R: Runtime>(url: &str, _server: &mut Server) {
    let c = R::connect(url).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || {
                (0..250).map(|_| convert::<i64>(exec::<R>(&c, &["INCR", "n"]))).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen: Vec<i64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=1000).collect::<Vec<_>>());
    let unique: HashSet<i64> = seen.into_iter().collect();
    assert_eq!(unique.len(), 1000);
}

/// Commands that would change a shared connection for its next user are refused locally with a usage
/// error, and the client stays usable.
pub fn pooled_clients_refuse_connection_state_commands<R: Runtime>(url: &str, _server: &mut Server) {
    let c = R::connect(url).unwrap();
    exec::<R>(&c, &["SET", "k", "db0"]);
    for words in [
        &["SELECT", "1"][..],
        &["WATCH", "k"],
        &["MULTI"],
        &["SUBSCRIBE", "ch"],
        &["CLIENT", "SETNAME", "x"],
        &["QUIT"],
    ] {
        match R::exec(&c, cmd(words)) {
            Err(Error::Usage(m)) => assert!(!m.is_empty()),
            other => panic!("[{}] {words:?} answered {other:?}", R::NAME),
        }
        assert_eq!(exec::<R>(&c, &["GET", "k"]), bulk("db0"), "after {words:?}");
    }
}
