//! Helpers shared by the pub/sub tests of every runtime (`tests/blocking_pubsub.rs` and
//! `tests/async_common/cases.rs`): a publisher that floods from its own thread, a sampler of the server's
//! output buffer for its pub/sub clients, the server's own count of subscriptions, and the consumer's
//! tally of what arrived, with the checks a bounded buffer must pass. Every runtime's `PubSub` yields the
//! core's `PubSubEvent`, so one tally serves them all.
#![allow(dead_code)]

use crate::support::RawClient;
use bytes::BytesMut;
use redwire::event::PubSubEvent;
use redwire::inbox::{BufferStats, Overflow, PubSubBuffer};
use redwire::resp::{encode_command, Value};
use redwire::Error;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How many messages a flood publishes, and the size of each payload.
pub const FLOOD_MESSAGES: usize = 200_000;
pub const PAYLOAD: usize = 1024;
/// Messages per pipeline of the flooding publisher.
const BATCH: usize = 1000;

/// Publishes `n` messages of `size` bytes on `channel` from a thread of its own, over a raw connection,
/// in pipelines of [`BATCH`]. Each payload starts with its sequence number (8 digits). The thread returns
/// the sum of the subscriber counts the server answered (with one subscriber: how many reached it).
pub fn flood(addr: SocketAddr, channel: &'static str, n: usize, size: usize) -> JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut raw = RawClient::connect(addr);
        let mut out = BytesMut::new();
        let mut reached = 0;
        for start in (0..n).step_by(BATCH) {
            out.clear();
            let end = (start + BATCH).min(n);
            for seq in start..end {
                let mut payload = format!("{seq:08}").into_bytes();
                payload.resize(size, b'.');
                encode_command(&mut out, &[b"PUBLISH", channel.as_bytes(), &payload]);
            }
            raw.send_raw(&out);
            for _ in start..end {
                match raw.read() {
                    Value::Integer(k) => reached += k as u64,
                    other => panic!("PUBLISH answered {other:?}"),
                }
            }
        }
        reached
    })
}

/// Samples, every 5 ms until stopped, the largest output buffer (`omem` in `CLIENT LIST`) the server
/// keeps for a pub/sub client.
pub struct OmemSampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<u64>,
}

impl OmemSampler {
    pub fn start(addr: SocketAddr) -> OmemSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut raw = RawClient::connect(addr);
            let mut peak = 0;
            while !stopping.load(Ordering::SeqCst) {
                peak = peak.max(pubsub_omem(&mut raw));
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        });
        OmemSampler { stop, thread }
    }

    /// Stops sampling; the peak `omem` seen, in bytes.
    pub fn stop(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the sampler panicked")
    }
}

/// The largest `omem=` among the server's pub/sub clients (0 when there is none).
fn pubsub_omem(raw: &mut RawClient) -> u64 {
    match raw.cmd_str(&["CLIENT", "LIST", "TYPE", "pubsub"]) {
        Value::BulkString(list) => String::from_utf8_lossy(&list)
            .split_whitespace()
            .filter_map(|field| field.strip_prefix("omem="))
            .filter_map(|n| n.parse().ok())
            .max()
            .unwrap_or(0),
        other => panic!("CLIENT LIST answered {other:?}"),
    }
}

/// Asserts the server's own count: one subscriber on each of `channels` and `shard_channels`, and
/// `patterns` pattern subscriptions in all.
pub fn assert_subscribed(raw: &mut RawClient, channels: &[&str], patterns: i64, shard_channels: &[&str]) {
    let counts = |raw: &mut RawClient, sub: &str, names: &[&str]| {
        let mut args = vec!["PUBSUB", sub];
        args.extend(names);
        match raw.cmd_str(&args) {
            Value::Array(items) => items
                .chunks(2)
                .map(|pair| match pair {
                    [Value::BulkString(name), Value::Integer(n)] => {
                        (String::from_utf8_lossy(name).into_owned(), *n)
                    }
                    other => panic!("PUBSUB {sub} answered {other:?}"),
                })
                .collect::<Vec<_>>(),
            other => panic!("PUBSUB {sub} answered {other:?}"),
        }
    };
    let want = |names: &[&str]| names.iter().map(|n| (n.to_string(), 1)).collect::<Vec<_>>();
    assert_eq!(counts(raw, "NUMSUB", channels), want(channels), "channel subscribers");
    assert_eq!(raw.cmd_str(&["PUBSUB", "NUMPAT"]), Value::Integer(patterns), "pattern subscriptions");
    assert_eq!(counts(raw, "SHARDNUMSUB", shard_channels), want(shard_channels), "shard subscribers");
}

/// What a consumer of a flood saw.
#[derive(Debug, Default)]
pub struct Tally {
    pub received: u64,
    /// The sum of the `Lagged` counts.
    pub lagged: u64,
    pub overflow_errors: u64,
    /// The sum of the overflow errors' counts.
    pub overflow_dropped: u64,
    pub reconnects: u64,
    pub first: Option<u64>,
    pub last: Option<u64>,
}

impl Tally {
    /// Records one read's outcome; panics on anything a flood must not cause (an error other than the
    /// overflow, a message out of order or repeated, a payload of the wrong size).
    pub fn record(&mut self, item: redwire::Result<PubSubEvent>) {
        match item {
            Ok(PubSubEvent::Message(m)) => {
                let Value::BulkString(payload) = &m.payload else { panic!("payload {:?}", m.payload) };
                assert_eq!(payload.len(), PAYLOAD);
                let seq: u64 = std::str::from_utf8(&payload[..8]).unwrap().parse().unwrap();
                assert!(self.last.map_or(true, |last| seq > last), "message {seq} after {:?}", self.last);
                self.first.get_or_insert(seq);
                self.last = Some(seq);
                self.received += 1;
            }
            Ok(PubSubEvent::Lagged { dropped }) => {
                assert!(dropped > 0);
                self.lagged += dropped;
            }
            Ok(PubSubEvent::Reconnected { .. }) => self.reconnects += 1,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e @ Error::PubSubOverflow { .. }) => {
                let Error::PubSubOverflow { dropped, .. } = e else { unreachable!() };
                let text = e.to_string();
                for what in ["consume faster", "raise the limits", "Overflow::DropOldest"] {
                    assert!(text.contains(what), "{what:?} is not in {text:?}");
                }
                assert!(!e.is_fatal());
                self.overflow_errors += 1;
                self.overflow_dropped += dropped;
            }
            Err(e) => panic!("a flood caused {e:?}"),
        }
    }

    /// The checks every policy must pass after a flood of `published` messages (sequence numbers from 0)
    /// into a buffer bounded by `buffer`: the bound held, the drops happened and were all reported, and
    /// (when the server did not disconnect the consumer) every message is accounted for.
    pub fn check(&self, stats: BufferStats, published: u64, buffer: PubSubBuffer) {
        assert!(stats.peak_messages <= buffer.max_messages(), "{stats:?}");
        assert!(stats.peak_bytes <= buffer.max_bytes(), "{stats:?}");
        assert_eq!((stats.messages, stats.bytes), (0, 0), "all read: {stats:?}");
        assert!(stats.dropped > 0, "the consumer never fell behind, so nothing was tested: {stats:?}");
        assert_eq!(stats.dropped, self.lagged + self.overflow_dropped, "every drop is reported: {self:?}");
        assert_eq!(self.reconnects, 0, "the server disconnected the slow consumer: {self:?}");
        assert_eq!(stats.arrived, published, "{stats:?}");
        assert_eq!(self.received + stats.dropped, published, "{self:?} {stats:?}");
        match buffer.on_overflow() {
            Overflow::Error => {
                assert!(self.overflow_errors >= 1 && self.lagged == 0, "{self:?}");
                assert_eq!(self.first, Some(0), "the oldest messages are kept");
            }
            Overflow::DropOldest => {
                assert!(self.lagged > 0 && self.overflow_errors == 0, "{self:?}");
                assert_eq!(self.last, Some(published - 1), "the newest messages are kept");
            }
            Overflow::DropNewest => {
                assert!(self.lagged > 0 && self.overflow_errors == 0, "{self:?}");
                assert_eq!(self.first, Some(0), "the oldest messages are kept");
            }
            _ => unreachable!("no other policy"),
        }
    }
}
