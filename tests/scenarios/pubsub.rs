//! Reliability scenarios for pub/sub (issue #9): a subscriber whose connection is killed and whose server
//! restarts resubscribes and signals the gap; a slow consumer under a fast publisher stays within its
//! buffer, then gets the overflow policy it chose.

use super::*;
use crate::support::Server;
use redwire::inbox::{Overflow, PubSubBuffer};
use redwire::resp::Value;
use redwire::Error;
use std::time::{Duration, Instant};

/// Reads events until `done` says so or `timeout` passes; errors (reconnect attempts that failed while
/// the server was down) are collected, not fatal.
fn read_until<R: Runtime>(
    p: &mut R::PubSub,
    timeout: Duration,
    mut done: impl FnMut(&PubSubItem) -> bool,
) -> (Vec<PubSubItem>, Vec<Error>) {
    let (mut items, mut errors) = (Vec::new(), Vec::new());
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        match R::next_event(p, Duration::from_millis(100)) {
            Ok(Some(item)) => {
                let stop = done(&item);
                items.push(item);
                if stop {
                    break;
                }
            }
            Ok(None) => {}
            Err(e) => {
                errors.push(e);
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    (items, errors)
}

/// `PUBSUB NUMSUB`/`NUMPAT`/`SHARDNUMSUB` as the server counts them: (news, patterns, shard).
fn server_subscriptions(server: &Server) -> (i64, i64, i64) {
    let mut raw = server.raw();
    let second = |v: Value| match v {
        Value::Array(items) if items.len() == 2 => match items[1] {
            Value::Integer(n) => n,
            ref other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    let numsub = second(raw.cmd_str(&["PUBSUB", "NUMSUB", "news"]));
    let numpat = match raw.cmd_str(&["PUBSUB", "NUMPAT"]) {
        Value::Integer(n) => n,
        other => panic!("{other:?}"),
    };
    let shard = second(raw.cmd_str(&["PUBSUB", "SHARDNUMSUB", "shard"]));
    (numsub, numpat, shard)
}

/// The subscriber's server is killed (SIGKILL) and restarted: the subscriber reconnects, subscribes again
/// to its channel, pattern and shard channel, signals the gap with a reconnect notice, and each message
/// published afterwards arrives exactly once.
pub fn pubsub_resubscribes_after_the_server_restarts_and_signals_the_gap<R: Runtime>(
    url: &str,
    server: &mut Server,
) {
    let c = R::connect(&format!("{url}&connect_timeout=2s")).unwrap();
    let mut p = R::pubsub(&c).unwrap();
    R::subscribe(&mut p, &["news"], &["alerts:*"], &["shard"]).unwrap();
    assert_eq!(server_subscriptions(server), (1, 1, 1));

    server.kill();
    // While the server is down: nothing, or failed reconnect attempts; never a message.
    let (items, _errors) = read_until::<R>(&mut p, Duration::from_millis(300), |_| false);
    assert!(items.iter().all(|i| !matches!(i, PubSubItem::Message(_))), "[{}] {items:?}", R::NAME);
    server.restart();

    let (items, errors) =
        read_until::<R>(&mut p, Duration::from_secs(10), |i| matches!(i, PubSubItem::Reconnected(_)));
    assert!(
        matches!(items.last(), Some(PubSubItem::Reconnected(_))),
        "[{}] no reconnect notice: {items:?} (errors {errors:?})",
        R::NAME
    );
    assert_eq!(server_subscriptions(server), (1, 1, 1), "[{}] not every subscription came back", R::NAME);

    let mut raw = server.raw();
    assert_eq!(raw.cmd_str(&["PUBLISH", "news", "after"]), Value::Integer(1));
    assert_eq!(raw.cmd_str(&["PUBLISH", "alerts:disk", "full"]), Value::Integer(1));
    assert_eq!(raw.cmd_str(&["SPUBLISH", "shard", "s-after"]), Value::Integer(1));
    let mut got = Vec::new();
    while got.len() < 3 {
        match R::next_message(&mut p, Duration::from_secs(5)).unwrap() {
            Some(m) => got.push(m),
            None => panic!("[{}] only {got:?} arrived after the restart", R::NAME),
        }
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            ("alerts:disk".to_string(), Some("alerts:*".to_string()), b"full".to_vec()),
            ("news".to_string(), None, b"after".to_vec()),
            ("shard".to_string(), None, b"s-after".to_vec()),
        ]
    );
    // Exactly once: nothing else follows.
    assert_eq!(R::next_event(&mut p, Duration::from_millis(300)).unwrap(), None, "[{}]", R::NAME);
}

/// How many messages the slow-consumer scenario publishes, and how big each is.
const FLOOD: usize = 20_000;
const FLOOD_PAYLOAD: usize = 512;

/// The sequence number a flood message carries in its first bytes.
fn seq(payload: &[u8]) -> usize {
    std::str::from_utf8(&payload[..8]).ok().and_then(|s| s.parse().ok()).expect("a flood payload")
}

/// A publisher floods a channel (20 000 × 512 B) while the consumer sleeps between reads (2 500
/// messages a second at most); the buffer is 1 000 messages / 256 KiB. For each policy: the buffer's bound held, nothing arrived twice or out of
/// order, every message is accounted for (received + reported dropped = published), and the policy's
/// signal came: a clear overflow error, or lag notices with counts.
pub fn a_slow_consumer_stays_within_its_buffer_then_gets_its_policy<R: Runtime>(
    url: &str,
    server: &mut Server,
) {
    const MAX_MESSAGES: usize = 1000;
    const MAX_BYTES: usize = 256 * 1024;
    let c = R::connect(url).unwrap();
    for policy in [Overflow::Error, Overflow::DropOldest, Overflow::DropNewest] {
        let mut p = R::pubsub(&c).unwrap();
        let buffer = PubSubBuffer::default()
            .with_max_messages(MAX_MESSAGES)
            .with_max_bytes(MAX_BYTES)
            .with_overflow(policy);
        R::set_buffer(&mut p, buffer).unwrap();
        R::subscribe(&mut p, &["flood"], &[], &[]).unwrap();

        let publisher = {
            let mut raw = server.raw();
            std::thread::spawn(move || {
                let filler = "x".repeat(FLOOD_PAYLOAD - 8);
                for chunk in (0..FLOOD).collect::<Vec<_>>().chunks(500) {
                    for i in chunk {
                        raw.send(&[b"PUBLISH", b"flood", format!("{i:08}{filler}").as_bytes()]);
                    }
                    for _ in chunk {
                        assert_eq!(raw.read(), Value::Integer(1), "one subscriber");
                    }
                }
            })
        };
        let (mut received, mut last, mut lagged, mut overflow_errors, mut overflowed) =
            (0usize, None, 0u64, 0, 0u64);
        let mut quiet_since = None;
        loop {
            match R::next_event(&mut p, Duration::from_millis(200)) {
                Ok(Some(PubSubItem::Message((channel, _, payload)))) => {
                    assert_eq!(channel, "flood");
                    let n = seq(&payload);
                    assert!(last < Some(n), "[{}] {policy:?}: {n} after {last:?}", R::NAME);
                    last = Some(n);
                    received += 1;
                    quiet_since = None;
                    if received % 50 == 0 {
                        // The slow consumer: at most 2 500 messages a second.
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                Ok(Some(PubSubItem::Lagged(n))) => lagged += n,
                Ok(Some(other)) => panic!("[{}] {policy:?}: {other:?}", R::NAME),
                Ok(None) => {
                    if publisher.is_finished()
                        && quiet_since.get_or_insert_with(Instant::now).elapsed() > Duration::from_millis(500)
                    {
                        break;
                    }
                }
                Err(Error::PubSubOverflow { dropped, max_messages, max_bytes }) => {
                    assert_eq!((max_messages, max_bytes), (MAX_MESSAGES, MAX_BYTES));
                    overflow_errors += 1;
                    overflowed += dropped;
                }
                Err(e) => panic!("[{}] {policy:?}: {e}", R::NAME),
            }
        }
        publisher.join().unwrap();
        let stats = R::buffer_stats(&p);
        eprintln!(
            "[{}] {policy:?}: received {received}, lagged {lagged}, overflow errors {overflow_errors} ({overflowed} dropped), {stats:?}",
            R::NAME
        );
        assert!(
            stats.peak_messages <= MAX_MESSAGES && stats.peak_bytes <= MAX_BYTES,
            "[{}] {policy:?}: {stats:?}",
            R::NAME
        );
        assert_eq!(stats.arrived, FLOOD as u64, "[{}] {policy:?}: {stats:?}", R::NAME);
        let reported = lagged + overflowed;
        assert_eq!(received as u64 + reported, FLOOD as u64, "[{}] {policy:?}: {stats:?}", R::NAME);
        assert_eq!(reported, stats.dropped, "[{}] {policy:?}", R::NAME);
        assert!(stats.dropped > 0, "[{}] {policy:?}: the consumer kept up, nothing was tested", R::NAME);
        match policy {
            Overflow::Error => assert!(lagged == 0 && overflow_errors > 0, "[{}] {policy:?}", R::NAME),
            _ => assert_eq!(overflow_errors, 0, "[{}] {policy:?}", R::NAME),
        }
    }
}
