//! `redwire::mio::Connection` against a real server, over TCP and a unix socket, in RESP2 and RESP3:
//! the handshake, commands, pipelines, transactions (with a WATCH conflict from a second connection in the
//! same Poll), pub/sub with a publisher in the same Poll, and the interest the connection asks for.

mod mio_common;
mod support;

use mio::Interest;
use mio_common::{bulk, cmd, ok, text, Loop};
use redwire::config::Protocol;
use redwire::event::MessageKind;
use redwire::resp::Value;
use redwire::{Cmd, Error, Event, Pipeline};
use std::time::Instant;
use support::Server;

/// Every transport and protocol: `(label, url with the query started)`.
fn targets(server: &Server) -> Vec<(String, String, Protocol)> {
    let mut all = Vec::new();
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let v = protocol.version();
        all.push((format!("tcp/resp{v}"), format!("{}/2?protocol={v}", server.url()), protocol));
        all.push((format!("unix/resp{v}"), format!("{}?db=2&protocol={v}", server.unix_url()), protocol));
    }
    all
}

#[test]
fn commands_with_handshake_over_tcp_and_unix_in_both_protocols() {
    let server = Server::start();
    for (label, url, protocol) in targets(&server) {
        let mut lp = Loop::new();
        let c = lp.connect_url(&format!("{url}&client_name=mio-{}", label.replace('/', "-")));
        // Sent before the connect completed: queued behind the handshake, answered in order.
        let key = format!("mio:{label}:k");
        let set = lp.send(c, &["SET", &key, "a\r\nb\0c"]);
        let get = lp.send(c, &["GET", &key]);
        assert_eq!(lp.conn(c).core().in_flight(), 2, "{label}");
        lp.ready(c);
        assert_eq!(lp.conn(c).core().protocol(), protocol, "{label}");
        match lp.wait(c, set).unwrap() {
            Event::Reply { value, .. } => assert_eq!(value, ok(), "{label}"),
            other => panic!("{label}: {other:?}"),
        }
        match lp.wait(c, get).unwrap() {
            Event::Reply { value, .. } => assert_eq!(value, bulk("a\r\nb\0c"), "{label}"),
            other => panic!("{label}: {other:?}"),
        }
        assert_eq!(lp.call(c, &["CLIENT", "GETNAME"]), bulk(&format!("mio-{}", label.replace('/', "-"))));
        assert_eq!(lp.call(c, &["INCR", &format!("mio:{label}:n")]), Value::Integer(1), "{label}");
        // A server error is the reply of the command that caused it; the connection stays usable.
        match lp.call(c, &["INCR", &key]) {
            Value::Error(e) => assert!(text(&e).starts_with("ERR"), "{label}: {}", text(&e)),
            other => panic!("{label}: expected an error reply, got {other:?}"),
        }
        assert_eq!(lp.call(c, &["PING"]), Value::SimpleString("PONG".into()), "{label}");
        // The handshake's SELECT 2 took effect: the key is in database 2.
        let mut raw = server.raw();
        raw.cmd_str(&["SELECT", "2"]);
        assert_eq!(raw.cmd_str(&["GET", &key]), bulk("a\r\nb\0c"), "{label}");
        // Idle again: nothing unwritten, WRITABLE no longer asked for.
        assert_eq!(lp.conn(c).unwritten(), 0);
        assert_eq!(lp.conn(c).interest(), Some(Interest::READABLE), "{label}");
        assert_eq!(lp.conn(c).core().in_flight(), 0);
        let stats = lp.conn(c).stats();
        assert!(stats.reads >= 1 && stats.writes >= 1 && stats.bytes_read > 0, "{label}: {stats:?}");
    }
}

#[test]
fn pipelines_keep_order_and_errors_in_their_slots() {
    let server = Server::start();
    for (label, url, _) in targets(&server) {
        let mut lp = Loop::new();
        let c = lp.connect_url(&url);
        lp.ready(c);
        let list = format!("mio:{label}:list");
        let mut pipe = Pipeline::new();
        pipe.add(cmd(&["DEL", &list]))
            .add(cmd(&["RPUSH", &list, "a", "b", "c"]))
            .add(cmd(&["INCR", &list])) // WRONGTYPE: stays in its slot
            .add(cmd(&["LRANGE", &list, "0", "-1"]));
        let first = lp.conn(c).send_pipeline(&pipe, Instant::now()).unwrap();
        // A thousand more, all queued at once, answered by one event each in order.
        let mut ids = Vec::new();
        for n in 0..1000 {
            let p: Pipeline = [cmd(&["ECHO", &n.to_string()]), cmd(&["ECHO", "x"])].into_iter().collect();
            ids.push(lp.conn(c).send_pipeline(&p, Instant::now()).unwrap());
        }
        match lp.wait(c, first).unwrap() {
            Event::Pipeline { values, .. } => {
                assert_eq!(values.len(), 4, "{label}");
                assert_eq!(values[1], Value::Integer(3), "{label}");
                assert!(matches!(&values[2], Value::Error(e) if text(e).starts_with("WRONGTYPE")), "{label}");
                assert_eq!(values[3], Value::Array(vec![bulk("a"), bulk("b"), bulk("c")]), "{label}");
            }
            other => panic!("{label}: {other:?}"),
        }
        for (n, id) in ids.into_iter().enumerate() {
            match lp.next(c).unwrap() {
                Event::Pipeline { id: got, values, .. } => {
                    assert_eq!(got, id, "{label}: out of order");
                    assert_eq!(values, vec![bulk(&n.to_string()), bulk("x")], "{label}");
                }
                other => panic!("{label}: {other:?}"),
            }
        }
    }
}

#[test]
fn transactions_commit_and_abort_on_a_watch_conflict_from_the_same_poll() {
    let server = Server::start();
    for (label, url, _) in targets(&server) {
        let mut lp = Loop::new();
        let a = lp.connect_url(&url);
        let b = lp.connect_url(&url);
        let key = format!("mio:{label}:tx");
        let id =
            lp.conn(a).send_transaction(&[cmd(&["SET", &key, "1"]), cmd(&["INCR", &key])], Instant::now());
        match lp.wait(a, id.unwrap()).unwrap() {
            Event::Transaction { result, .. } => assert_eq!(result.unwrap(), vec![ok(), Value::Integer(2)]),
            other => panic!("{label}: {other:?}"),
        }
        // An atomic pipeline is a transaction too.
        let tx = Pipeline::transaction().cmd(cmd(&["INCR", &key])).cmd(cmd(&["GET", &key]));
        let id = lp.conn(a).send_pipeline(&tx, Instant::now()).unwrap();
        match lp.wait(a, id).unwrap() {
            Event::Transaction { result, .. } => {
                assert_eq!(result.unwrap(), vec![Value::Integer(3), bulk("3")])
            }
            other => panic!("{label}: {other:?}"),
        }
        // WATCH on a, a write from b in the same loop, then a's transaction is aborted.
        assert_eq!(lp.call(a, &["WATCH", &key]), ok());
        assert!(lp.conn(a).core().is_watching());
        assert_eq!(lp.call(b, &["SET", &key, "changed"]), ok());
        let id = lp.conn(a).send_transaction(&[cmd(&["SET", &key, "mine"])], Instant::now()).unwrap();
        match lp.wait(a, id).unwrap() {
            Event::Transaction { result, .. } => {
                assert!(matches!(result, Err(Error::Watch)), "{label}: {result:?}")
            }
            other => panic!("{label}: {other:?}"),
        }
        assert_eq!(lp.call(b, &["GET", &key]), bulk("changed"), "{label}");
        assert!(!lp.conn(a).core().is_watching());
    }
}

#[test]
fn pubsub_with_the_publisher_in_the_same_poll() {
    let server = Server::start();
    for (label, url, protocol) in targets(&server) {
        let mut lp = Loop::new();
        let sub = lp.connect_url(&url);
        let publisher = lp.connect_url(&url);
        lp.ready(sub);
        let channel = format!("mio:{label}:news");
        let id = lp.conn(sub).send(&Cmd::new("SUBSCRIBE").arg(channel.as_str()), Instant::now()).unwrap();
        match lp.wait(sub, id).unwrap() {
            Event::Subscription { channel: Some(c), done: true, count: 1, .. } => {
                assert_eq!(text(&c), channel)
            }
            other => panic!("{label}: {other:?}"),
        }
        let id = lp.send(sub, &["PSUBSCRIBE", &format!("mio:{label}:*")]);
        assert!(matches!(lp.wait(sub, id).unwrap(), Event::Subscription { done: true, count: 2, .. }));
        assert!(lp.conn(sub).core().is_subscribed());
        for n in 0..50 {
            // One subscriber, matched twice: by the channel and by the pattern.
            assert_eq!(lp.call(publisher, &["PUBLISH", &channel, &format!("m{n}")]), Value::Integer(2));
        }
        let (mut direct, mut by_pattern) = (Vec::new(), Vec::new());
        while direct.len() + by_pattern.len() < 100 {
            match lp.next(sub).unwrap() {
                Event::Message(m) if m.kind == MessageKind::Message => direct.push(m),
                Event::Message(m) if m.kind == MessageKind::PMessage => by_pattern.push(m),
                other => panic!("{label}: {other:?}"),
            }
        }
        for (n, m) in direct.iter().enumerate() {
            assert_eq!((text(&m.channel), &m.payload), (channel.clone(), &bulk(&format!("m{n}"))), "{label}");
        }
        assert_eq!(by_pattern.len(), 50);
        assert_eq!(by_pattern[49].pattern.as_deref(), Some(format!("mio:{label}:*").as_bytes()));
        // RESP2 subscribed mode refuses ordinary commands locally; RESP3 lets them through.
        let get = lp.conn(sub).send(&cmd(&["GET", &channel]), Instant::now());
        match protocol {
            Protocol::Resp2 => assert!(matches!(get, Err(Error::Usage(_))), "{label}: {get:?}"),
            _ => assert!(matches!(
                lp.wait(sub, get.unwrap()).unwrap(),
                Event::Reply { value: Value::Null, .. }
            )),
        }
        let id = lp.send(sub, &["UNSUBSCRIBE"]);
        assert!(matches!(lp.wait(sub, id).unwrap(), Event::Subscription { done: true, count: 1, .. }));
        assert_eq!(lp.call(publisher, &["PUBLISH", &channel, "late"]), Value::Integer(1), "{label}");
    }
}
