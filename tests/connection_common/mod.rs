//! Helpers shared by the connection tests: render events, values and sent bytes as short strings, and a
//! `Driver` that feeds server bytes to a `Connection` in a chosen chunking and records every event.
//!
//! Test-only; no assertions live here, the tests make them.
#![allow(dead_code)]

use bytes::BytesMut;
use redwire::event::MessageKind;
use redwire::resp::{Decoder, Value};
use redwire::{Cmd, Config, Connection, Error, Event, Pipeline, RequestId};
use std::time::{Duration, Instant};

/// A value as a short string: `"bulk"`, `+simple`, `-error`, `:1`, `nil`, `[a, b]`, `{k: v}`, `>[..]`.
pub fn value(v: &Value) -> String {
    let list = |items: &[Value]| items.iter().map(value).collect::<Vec<_>>().join(", ");
    let pairs = |pairs: &[(Value, Value)]| {
        pairs.iter().map(|(k, v)| format!("{}: {}", value(k), value(v))).collect::<Vec<_>>().join(", ")
    };
    match v {
        Value::Null => "nil".into(),
        Value::SimpleString(s) => format!("+{}", text(s)),
        Value::Error(e) => format!("-{}", text(e)),
        Value::Integer(i) => format!(":{i}"),
        Value::BulkString(b) => format!("{:?}", text(b)),
        Value::Array(items) => format!("[{}]", list(items)),
        Value::Double(d) => format!(",{d}"),
        Value::Boolean(b) => format!("#{b}"),
        Value::BigNumber(n) => format!("({}", text(n)),
        Value::VerbatimString { text: t, .. } => format!("={}", text(t)),
        Value::Map(p) => format!("{{{}}}", pairs(p)),
        Value::Set(items) => format!("~[{}]", list(items)),
        Value::Attribute { attributes, value: inner } => {
            format!("|{{{}}} {}", pairs(attributes), value(inner))
        }
        Value::Push(items) => format!(">[{}]", list(items)),
        other => format!("{other:?}"),
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn attr(a: &Option<Vec<(Value, Value)>>) -> String {
    match a {
        Some(pairs) => format!(" attr={}", value(&Value::Map(pairs.clone()))),
        None => String::new(),
    }
}

/// An event as a short string, e.g. `reply #1 "v"`, `pipeline #2 [:1, -ERR x]`, `tx #3 watch`.
pub fn event(e: &Event) -> String {
    match e {
        Event::Ready => "ready".into(),
        Event::Reply { id, value: v, attribute, .. } => format!("reply {id} {}{}", value(v), attr(attribute)),
        Event::Pipeline { id, values, attributes, .. } => {
            let mut s = format!("pipeline {id} {}", value(&Value::Array(values.clone())));
            for (slot, a) in attributes {
                s += &format!(" attr[{slot}]={}", value(&Value::Map(a.clone())));
            }
            s
        }
        Event::Transaction { id, result, attribute, .. } => {
            let outcome = match result {
                Ok(values) => format!("ok {}", value(&Value::Array(values.clone()))),
                Err(Error::Watch) => "watch".into(),
                Err(Error::ExecAbort(errors)) => {
                    format!("execabort {}", value(&Value::Array(errors.clone())))
                }
                Err(Error::Server(e)) => format!("server -{}", text(e)),
                Err(other) => format!("error {other}"),
            };
            format!("tx {id} {outcome}{}", attr(attribute))
        }
        Event::Message(m) => {
            let kind = match m.kind {
                MessageKind::Message => "message",
                MessageKind::PMessage => "pmessage",
                MessageKind::SMessage => "smessage",
                _ => "?message",
            };
            let pattern = m.pattern.as_ref().map(|p| format!(" {}", text(p))).unwrap_or_default();
            format!("{kind}{pattern} {} {}", text(&m.channel), value(&m.payload))
        }
        Event::Subscription { id, kind, channel, count, done, .. } => {
            let id = id.map(|i| i.to_string()).unwrap_or_else(|| "-".into());
            let channel = channel.as_ref().map(|c| text(c)).unwrap_or_else(|| "nil".into());
            format!("{} {id} {channel} {count}{}", kind.as_str(), if *done { " done" } else { "" })
        }
        Event::Push(v) => format!("push {}", value(v)),
        Event::TimedOut { id } => format!("timeout {id}"),
        other => format!("{other:?}"),
    }
}

/// Commands written by the client, as `GET k | SET k v`.
pub fn commands(bytes: &[u8]) -> String {
    let mut buf = BytesMut::from(bytes);
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    while let Ok(Some(Value::Array(args))) = decoder.decode(&mut buf) {
        out.push(
            args.iter()
                .map(|a| match a {
                    Value::BulkString(b) => text(b),
                    other => format!("<{}>", other.kind()),
                })
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    assert!(buf.is_empty(), "the client wrote something that is not a command: {buf:?}");
    out.join(" | ")
}

/// Builds a command from words.
pub fn cmd(words: &[&str]) -> Cmd {
    let mut c = Cmd::new(words[0]);
    for w in &words[1..] {
        c.add_arg(*w);
    }
    c
}

/// How server bytes are cut before being handed to the connection.
#[derive(Debug, Clone, Copy)]
pub enum Chunking {
    /// One `handle_input` per `server` call.
    Whole,
    /// One byte at a time.
    ByteAtATime,
    /// Two pieces, cut after `n` bytes, written through `read_buf`.
    SplitAt(usize),
    /// Random piece sizes from 1 to 7 bytes, from a seed.
    Random(u64),
}

/// Every chunking the transcript tests run: whole, byte at a time, every two-piece cut up to 48 bytes,
/// and a few random ones.
pub fn chunkings() -> Vec<Chunking> {
    let mut all = vec![Chunking::Whole, Chunking::ByteAtATime];
    all.extend((1..48).map(Chunking::SplitAt));
    all.extend((1..6).map(Chunking::Random));
    all
}

/// Cuts `bytes` into pieces according to `chunking`.
pub fn cut(bytes: &[u8], chunking: Chunking, rng: &mut u64) -> Vec<Vec<u8>> {
    match chunking {
        Chunking::Whole => vec![bytes.to_vec()],
        Chunking::ByteAtATime => bytes.iter().map(|b| vec![*b]).collect(),
        Chunking::SplitAt(n) => {
            let n = n.min(bytes.len());
            vec![bytes[..n].to_vec(), bytes[n..].to_vec()]
        }
        Chunking::Random(_) => {
            let mut out = Vec::new();
            let mut rest = bytes;
            while !rest.is_empty() {
                *rng ^= *rng << 13;
                *rng ^= *rng >> 7;
                *rng ^= *rng << 17;
                let n = ((*rng % 7) as usize + 1).min(rest.len());
                out.push(rest[..n].to_vec());
                rest = &rest[n..];
            }
            out
        }
    }
}

/// Runs a connection against scripted server bytes, recording every event as a string.
pub struct Driver {
    pub conn: Connection,
    pub start: Instant,
    pub now: Instant,
    chunking: Chunking,
    rng: u64,
    events: Vec<String>,
    failed: bool,
}

impl Driver {
    pub fn new(config: Config, chunking: Chunking) -> Driver {
        let now = Instant::now();
        let seed = match chunking {
            Chunking::Random(s) => s.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            _ => 1,
        };
        Driver {
            conn: Connection::new(config),
            start: now,
            now,
            chunking,
            rng: seed,
            events: Vec::new(),
            failed: false,
        }
    }

    pub fn send(&mut self, words: &[&str]) -> Result<RequestId, Error> {
        self.conn.send(&cmd(words), self.now)
    }

    pub fn pipe(&mut self, cmds: &[&[&str]]) -> Result<RequestId, Error> {
        let p: Pipeline = cmds.iter().map(|w| cmd(w)).collect();
        self.conn.send_pipeline(&p, self.now)
    }

    pub fn tx(&mut self, cmds: &[&[&str]]) -> Result<RequestId, Error> {
        let cmds: Vec<Cmd> = cmds.iter().map(|w| cmd(w)).collect();
        self.conn.send_transaction(&cmds, self.now)
    }

    /// Everything the connection wants written, rendered as commands.
    pub fn sent(&mut self) -> String {
        let mut all = Vec::new();
        while let Some(chunk) = self.conn.poll_transmit() {
            all.extend_from_slice(&chunk);
        }
        commands(&all)
    }

    /// Feeds server bytes in this driver's chunking, draining events after every piece.
    pub fn server(&mut self, bytes: &[u8]) {
        for piece in cut(bytes, self.chunking, &mut self.rng) {
            match self.chunking {
                Chunking::SplitAt(_) => self.conn.read_buf().extend_from_slice(&piece),
                _ => self.conn.handle_input(&piece),
            }
            self.drain();
        }
    }

    /// Drains events into the record; a fatal error is recorded once, as `error: ...`.
    pub fn drain(&mut self) {
        loop {
            match self.conn.poll_event() {
                Ok(Some(e)) => self.events.push(event(&e)),
                Ok(None) => break,
                Err(e) => {
                    if !self.failed {
                        self.events.push(format!("error: {e}"));
                        self.failed = true;
                    }
                    break;
                }
            }
        }
    }

    /// The events recorded since the last call.
    pub fn events(&mut self) -> Vec<String> {
        self.drain();
        std::mem::take(&mut self.events)
    }

    /// Moves the clock forward and tells the connection.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.conn.handle_timeout(self.now);
    }
}

/// A RESP2 bulk string frame.
pub fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{s}\r\n", s.len()).into_bytes()
}

/// A frame of bulk strings with the given header (`*` array, `>` push).
pub fn frame(kind: char, items: &[&str]) -> Vec<u8> {
    let mut out = format!("{kind}{}\r\n", items.len()).into_bytes();
    for i in items {
        out.extend(bulk(i));
    }
    out
}

/// A subscription confirmation frame (`*` in RESP2, `>` in RESP3).
pub fn confirm(kind: char, name: &str, channel: Option<&str>, count: i64) -> Vec<u8> {
    let mut out = format!("{kind}3\r\n").into_bytes();
    out.extend(bulk(name));
    match channel {
        Some(c) => out.extend(bulk(c)),
        None if kind == '>' => out.extend(b"_\r\n"),
        None => out.extend(b"$-1\r\n"),
    }
    out.extend(format!(":{count}\r\n").into_bytes());
    out
}

pub fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}
