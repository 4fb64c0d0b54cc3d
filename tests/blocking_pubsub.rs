//! The blocking `PubSub` against real servers: it reconnects and resubscribes after the server restarts
//! or kills the connection, and a slow consumer under a flood stays within its buffer, with the overflow
//! policy it chose.

mod pubsub_common;
mod support;

use pubsub_common::{assert_subscribed, flood, OmemSampler, Tally, FLOOD_MESSAGES, PAYLOAD};
use redwire::blocking::{Client, Message, Overflow, PubSub, PubSubBuffer, PubSubEvent};
use redwire::resp::Value;
use redwire::Error;
use std::time::{Duration, Instant};
use support::{RawClient, Server};

/// The next message within 5 s; panics on a notice or an error.
fn next_message(sub: &mut PubSub) -> Message {
    match sub.get_message(Duration::from_secs(5)) {
        Ok(Some(PubSubEvent::Message(m))) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn publish(raw: &mut RawClient, command: &str, channel: &str, payload: &str) -> Value {
    raw.cmd_str(&[command, channel, payload])
}

/// Subscribes to two channels, a pattern and a shard channel, and checks one message on each.
fn subscribe_everything(sub: &mut PubSub, raw: &mut RawClient, round: &str) {
    sub.subscribe(["news", "weather"]).unwrap();
    sub.psubscribe("alerts:*").unwrap();
    sub.ssubscribe("shard").unwrap();
    check_delivery(sub, raw, round);
}

/// Publishes once on each subscription; every message arrives, exactly once.
fn check_delivery(sub: &mut PubSub, raw: &mut RawClient, round: &str) {
    for (command, channel) in
        [("PUBLISH", "news"), ("PUBLISH", "weather"), ("PUBLISH", "alerts:disk"), ("SPUBLISH", "shard")]
    {
        assert_eq!(publish(raw, command, channel, round), Value::Integer(1), "{command} {channel}");
    }
    let got: Vec<(String, Value)> = (0..4)
        .map(|_| next_message(sub))
        .map(|m| (String::from_utf8_lossy(&m.channel).into_owned(), m.payload))
        .collect();
    let round = Value::BulkString(round.to_string().into());
    let want = ["news", "weather", "alerts:disk", "shard"].map(|c| (c.to_string(), round.clone()));
    assert_eq!(got, want);
    assert!(sub.get_message(Duration::from_millis(50)).unwrap().is_none(), "a message came twice");
}

/// Kill the server under a subscriber, restart it: the next read reconnects (never waiting past its
/// timeout while the server is down), resubscribes everything, says so, and delivers exactly once.
fn resubscribes_after_a_restart(unix: bool, protocol: u8) {
    let mut server = Server::start();
    let base = if unix { server.unix_url() } else { server.url() };
    let client = Client::open(&format!("{base}?protocol={protocol}&connect_timeout=1s")).unwrap();
    let mut sub = client.pubsub().unwrap();
    subscribe_everything(&mut sub, &mut server.raw(), "before");

    server.kill();
    // While the server is down, reads fail (a refused reconnect) or time out, each within its timeout.
    let mut refused = 0;
    for _ in 0..4 {
        let started = Instant::now();
        match sub.get_message(Duration::from_millis(300)) {
            Err(e) => {
                assert!(e.is_fatal(), "{e:?}");
                refused += 1;
            }
            Ok(None) => {}
            Ok(Some(event)) => panic!("nothing can arrive from a dead server: {event:?}"),
        }
        assert!(started.elapsed() < Duration::from_millis(1300), "{:?}", started.elapsed());
    }
    assert!(refused >= 1, "the first read after the kill tries to reconnect at once");
    // A read whose timeout ends before the backoff does not try, and returns in time.
    let started = Instant::now();
    assert!(sub.get_message(Duration::ZERO).unwrap().is_none());
    assert!(started.elapsed() < Duration::from_millis(100), "{:?}", started.elapsed());
    assert!(sub.is_subscribed(), "the subscriptions wait to be restored");

    server.restart();
    let mut raw = server.raw();
    assert_eq!(raw.cmd_str(&["PUBLISH", "news", "in the gap"]), Value::Integer(0));
    match sub.get_message(Duration::from_secs(5)) {
        Ok(Some(PubSubEvent::Reconnected { cause })) => assert!(cause.is_fatal(), "{cause:?}"),
        other => panic!("expected the reconnect notice, got {other:?}"),
    }
    assert_subscribed(&mut raw, &["news", "weather"], 1, &["shard"]);
    check_delivery(&mut sub, &mut raw, "after");

    // Subscriptions changed after the reconnect are what the next one restores.
    sub.unsubscribe("weather").unwrap();
    let killed = raw.cmd_str(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    assert_eq!(killed, Value::Integer(1));
    match sub.get_message(Duration::from_secs(5)) {
        Ok(Some(PubSubEvent::Reconnected { cause })) => assert!(cause.is_fatal(), "{cause:?}"),
        other => panic!("expected the reconnect notice, got {other:?}"),
    }
    assert_subscribed(&mut raw, &["news", "weather"][..1], 1, &["shard"]);
    assert_eq!(publish(&mut raw, "PUBLISH", "weather", "unheard"), Value::Integer(0));
    assert_eq!(publish(&mut raw, "PUBLISH", "news", "last"), Value::Integer(1));
    assert_eq!(next_message(&mut sub).payload, Value::BulkString("last".into()));
}

#[test]
fn resubscribes_after_a_restart_tcp_resp2() {
    resubscribes_after_a_restart(false, 2);
}

#[test]
fn resubscribes_after_a_restart_tcp_resp3() {
    resubscribes_after_a_restart(false, 3);
}

#[test]
fn resubscribes_after_a_restart_unix_resp2() {
    resubscribes_after_a_restart(true, 2);
}

#[test]
fn resubscribes_after_a_restart_unix_resp3() {
    resubscribes_after_a_restart(true, 3);
}

#[test]
fn subscribing_after_the_connection_broke_reconnects_first() {
    let server = Server::start();
    let client = Client::open(&server.url()).unwrap();
    let mut sub = client.pubsub().unwrap();
    sub.subscribe("a").unwrap();
    let mut raw = server.raw();
    assert_eq!(raw.cmd_str(&["CLIENT", "KILL", "TYPE", "pubsub"]), Value::Integer(1));
    // The first subscribe finds the connection closed and fails with it; the next one reconnects,
    // restores "a", then subscribes to "b".
    let err = sub.subscribe("b").unwrap_err();
    assert!(err.is_fatal(), "{err:?}");
    sub.subscribe("b").unwrap();
    assert_subscribed(&mut raw, &["a", "b"], 0, &[]);
    for channel in ["a", "b"] {
        assert_eq!(publish(&mut raw, "PUBLISH", channel, channel), Value::Integer(1));
    }
    assert!(matches!(sub.get_message(Duration::from_secs(5)), Ok(Some(PubSubEvent::Reconnected { .. }))));
    assert_eq!(next_message(&mut sub).payload, Value::BulkString("a".into()));
    assert_eq!(next_message(&mut sub).payload, Value::BulkString("b".into()));
}

/// A publisher floods 200 000 messages of 1 KiB while the consumer sleeps a millisecond between reads.
fn slow_consumer(buffer: PubSubBuffer, protocol: u8) {
    let server = Server::start();
    let client = Client::open(&format!("{}?protocol={protocol}", server.url())).unwrap();
    let mut sub = client.pubsub().unwrap();
    sub.set_buffer(buffer).unwrap();
    sub.subscribe("flood").unwrap();
    let omem = OmemSampler::start(server.addr());
    let started = Instant::now();
    let publisher = flood(server.addr(), "flood", FLOOD_MESSAGES, PAYLOAD);
    let mut tally = Tally::default();
    loop {
        let flooding = !publisher.is_finished();
        match sub.get_message(Duration::from_millis(if flooding { 50 } else { 300 })) {
            Ok(None) if !flooding => break,
            Ok(None) => {}
            Ok(Some(event)) => tally.record(Ok(event)),
            Err(e) => tally.record(Err(e)),
        }
        if flooding {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let published = publisher.join().unwrap();
    let peak_omem = omem.stop();
    let stats = sub.buffer_stats();
    eprintln!(
        "{:?} RESP{protocol}: {published} published in {:?}; received {}, dropped {}; peak buffered {} messages / \
         {} bytes (limits {} / {}); server output buffer peak {peak_omem} bytes; {tally:?}",
        buffer.on_overflow(),
        started.elapsed(),
        tally.received,
        stats.dropped,
        stats.peak_messages,
        stats.peak_bytes,
        buffer.max_messages(),
        buffer.max_bytes()
    );
    tally.check(stats, published, buffer);
    // The connection is kept and still delivers.
    let mut last = format!("{:08}", published);
    last.extend(std::iter::repeat('.').take(PAYLOAD - last.len()));
    assert_eq!(sub.publish("flood", last).unwrap(), 1);
    tally.record(sub.get_message(Duration::from_secs(5)).unwrap().ok_or(Error::Closed("none came".into())));
    assert_eq!(tally.last, Some(published));
}

#[test]
fn a_slow_consumer_gets_one_error_per_overflow_by_default() {
    // The byte limit binds first: 256 KiB hold about 250 messages of 1 KiB.
    let buffer = PubSubBuffer::default().with_max_bytes(256 * 1024);
    assert_eq!(buffer.on_overflow(), Overflow::Error);
    slow_consumer(buffer, 2);
}

#[test]
fn a_slow_consumer_drops_the_oldest_with_a_count() {
    slow_consumer(PubSubBuffer::default().with_max_messages(500).with_overflow(Overflow::DropOldest), 3);
}

#[test]
fn a_slow_consumer_drops_the_newest_with_a_count() {
    let buffer = PubSubBuffer::default().with_max_bytes(300 * 1024).with_overflow(Overflow::DropNewest);
    slow_consumer(buffer, 2);
}

#[test]
fn a_buffer_that_holds_nothing_is_refused() {
    let server = Server::start();
    let client = Client::open(&server.url()).unwrap();
    let mut sub = client.pubsub().unwrap();
    let err = sub.set_buffer(PubSubBuffer::default().with_max_messages(0)).unwrap_err();
    assert!(matches!(&err, Error::Config(m) if m.contains("at least 1")), "{err:?}");
}

#[test]
fn pushes_on_the_pubsub_connection_reach_the_push_handler() {
    use redwire::blocking::Pool;
    use redwire::config::Tracking;
    use std::sync::{Arc, Mutex};
    let server = Server::start();
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = seen.clone();
    let config = redwire::Config::from_url(&format!("{}?protocol=3", server.url()))
        .unwrap()
        .with_tracking(Tracking::new().bcast().prefix("k:"));
    let pool = Pool::builder(config).push_handler(move |v| log.lock().unwrap().push(v)).build();
    let client = Client::with_pool(pool.clone());
    let mut sub = client.pubsub().unwrap();
    sub.subscribe("ch").unwrap();
    // A message, an invalidation and a message, read together: the push goes to the handler, whichever
    // way the PubSub reads it, and the messages to the reader.
    let mut raw = server.raw();
    assert_eq!(publish(&mut raw, "PUBLISH", "ch", "one"), Value::Integer(1));
    assert_eq!(raw.cmd_str(&["SET", "k:1", "v"]), Value::SimpleString("OK".into()));
    assert_eq!(publish(&mut raw, "PUBLISH", "ch", "two"), Value::Integer(1));
    assert_eq!(next_message(&mut sub).payload, Value::BulkString("one".into()));
    assert_eq!(next_message(&mut sub).payload, Value::BulkString("two".into()));
    let invalidate = Value::Push(vec![
        Value::BulkString("invalidate".into()),
        Value::Array(vec![Value::BulkString("k:1".into())]),
    ]);
    assert_eq!(*seen.lock().unwrap(), vec![invalidate]);
    assert_eq!(pool.stats().unhandled_pushes, 0);
}
