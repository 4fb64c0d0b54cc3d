//! Property test of the `Connection`: random request sequences, the server byte stream that answers them
//! (built by a model of the server, with pub/sub pushes and attributes sprinkled in), random chunking of
//! that stream and random interleaving of sends with input. Every run must give exactly the events the
//! model predicts: each reply carries its request's unique tag, so a reply attributed to the wrong
//! request shows up as a mismatch.

mod connection_common;

use connection_common::{chunkings, cmd, confirm, cut, event, Chunking};
use proptest::prelude::*;
use redwire::config::Protocol;
use redwire::{Cmd, Config, Connection, Pipeline};
use std::time::Instant;

/// A request shape; tags are filled in by the model.
#[derive(Debug, Clone)]
enum Shape {
    /// `ECHO tag`, answered with the tag, as an error, or with an attribute in front.
    Echo { error: bool, attribute: bool },
    /// A pipeline of `ECHO`s; `true` marks a slot answered with an error.
    Pipe(Vec<bool>),
    /// A transaction of `n` commands and how it ends.
    Tx(usize, TxEnd),
    /// `BLPOP tag 0`.
    Block,
    /// RESP3: `SUBSCRIBE` `n` new channels.
    Subscribe(usize),
    /// RESP3: `UNSUBSCRIBE` `n` channels (subscribed ones first, then never-subscribed ones).
    Unsubscribe(usize),
    /// RESP3: `UNSUBSCRIBE` from everything.
    UnsubscribeAll,
}

#[derive(Debug, Clone, Copy)]
enum TxEnd {
    Commit,
    Watch,
    Abort,
}

fn shape(resp3: bool) -> impl Strategy<Value = Shape> {
    let common = prop_oneof![
        4 => (any::<bool>(), any::<bool>()).prop_map(move |(error, attribute)| Shape::Echo { error, attribute: attribute && resp3 }),
        2 => prop::collection::vec(any::<bool>(), 1..6).prop_map(Shape::Pipe),
        2 => (0..4usize, prop_oneof![Just(TxEnd::Commit), Just(TxEnd::Watch), Just(TxEnd::Abort)]).prop_map(|(n, e)| Shape::Tx(n, e)),
        1 => Just(Shape::Block),
    ];
    if resp3 {
        prop_oneof![
            6 => common,
            1 => (1..4usize).prop_map(Shape::Subscribe),
            1 => (1..3usize).prop_map(Shape::Unsubscribe),
            1 => Just(Shape::UnsubscribeAll),
        ]
        .boxed()
    } else {
        common.boxed()
    }
}

/// One frame of the server's stream: its bytes, the request it belongs to (`None` for pushes and the
/// handshake), and the events it completes.
struct Frame {
    bytes: Vec<u8>,
    owner: Option<usize>,
    events: Vec<String>,
}

/// What to send, in order.
enum Send {
    One(Cmd),
    Pipe(Pipeline),
    Tx(Vec<Cmd>),
}

fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{s}\r\n", s.len()).into_bytes()
}

fn push(items: &[&str]) -> Vec<u8> {
    let mut out = format!(">{}\r\n", items.len()).into_bytes();
    items.iter().for_each(|i| out.extend(bulk(i)));
    out
}

/// The server model: builds the requests, the answering stream and the expected events together.
struct Model {
    resp3: bool,
    next_tag: usize,
    subscribed: Vec<String>,
    sends: Vec<Send>,
    frames: Vec<Frame>,
}

impl Model {
    fn tag(&mut self) -> String {
        self.next_tag += 1;
        format!("t{}", self.next_tag)
    }

    fn frame(&mut self, bytes: Vec<u8>, owner: usize, events: Vec<String>) {
        self.frames.push(Frame { bytes, owner: Some(owner), events });
    }

    fn nil(&self) -> &'static [u8] {
        if self.resp3 {
            b"_\r\n"
        } else {
            b"*-1\r\n"
        }
    }

    fn add(&mut self, shape: &Shape) {
        let i = self.sends.len();
        let id = format!("#{}", i + 1);
        match shape {
            Shape::Echo { error, attribute } => {
                let t = self.tag();
                self.sends.push(Send::One(cmd(&["ECHO", &t])));
                let (mut bytes, mut rendered) = match error {
                    true => (format!("-ERR {t}\r\n").into_bytes(), format!("reply {id} -ERR {t}")),
                    false => (bulk(&t), format!("reply {id} \"{t}\"")),
                };
                if *attribute {
                    bytes = [format!("|1\r\n+tag\r\n+{t}\r\n").into_bytes(), bytes].concat();
                    rendered += &format!(" attr={{+tag: +{t}}}");
                }
                self.frame(bytes, i, vec![rendered]);
            }
            Shape::Pipe(errors) => {
                let tags: Vec<String> = errors.iter().map(|_| self.tag()).collect();
                self.sends.push(Send::Pipe(tags.iter().map(|t| cmd(&["ECHO", t])).collect()));
                let mut values = Vec::new();
                for (k, (t, error)) in tags.iter().zip(errors).enumerate() {
                    let bytes = if *error { format!("-ERR {t}\r\n").into_bytes() } else { bulk(t) };
                    values.push(if *error { format!("-ERR {t}") } else { format!("\"{t}\"") });
                    let events = if k + 1 == tags.len() {
                        vec![format!("pipeline {id} [{}]", values.join(", "))]
                    } else {
                        vec![]
                    };
                    self.frame(bytes, i, events);
                }
            }
            Shape::Tx(n, end) => {
                let tags: Vec<String> = (0..*n).map(|_| self.tag()).collect();
                self.sends.push(Send::Tx(tags.iter().map(|t| cmd(&["ECHO", t])).collect()));
                self.frame(b"+OK\r\n".to_vec(), i, vec![]);
                for (k, t) in tags.iter().enumerate() {
                    let queued = match end {
                        TxEnd::Abort if k == 0 => format!("-ERR {t}\r\n").into_bytes(),
                        _ => b"+QUEUED\r\n".to_vec(),
                    };
                    self.frame(queued, i, vec![]);
                }
                let (bytes, outcome) = match end {
                    TxEnd::Commit => {
                        let mut bytes = format!("*{n}\r\n").into_bytes();
                        tags.iter().for_each(|t| bytes.extend(bulk(t)));
                        let values: Vec<String> = tags.iter().map(|t| format!("\"{t}\"")).collect();
                        (bytes, format!("ok [{}]", values.join(", ")))
                    }
                    TxEnd::Watch => (self.nil().to_vec(), "watch".into()),
                    TxEnd::Abort => {
                        let errors = tags.first().map(|t| format!("-ERR {t}")).unwrap_or_default();
                        (b"-EXECABORT discarded\r\n".to_vec(), format!("execabort [{errors}]"))
                    }
                };
                self.frame(bytes, i, vec![format!("tx {id} {outcome}")]);
            }
            Shape::Block => {
                let t = self.tag();
                self.sends.push(Send::One(cmd(&["BLPOP", &t, "0"])));
                let bytes = [b"*2\r\n".to_vec(), bulk(&t), bulk("v")].concat();
                self.frame(bytes, i, vec![format!("reply {id} [\"{t}\", \"v\"]")]);
            }
            Shape::Subscribe(n) => {
                let tags: Vec<String> = (0..*n).map(|_| self.tag()).collect();
                let mut c = cmd(&["SUBSCRIBE"]);
                tags.iter().for_each(|t| {
                    c.add_arg(t.as_str());
                });
                self.sends.push(Send::One(c));
                for (k, t) in tags.iter().enumerate() {
                    self.subscribed.push(t.clone());
                    let count = self.subscribed.len();
                    let done = if k + 1 == tags.len() { " done" } else { "" };
                    let bytes = confirm('>', "subscribe", Some(t), count as i64);
                    self.frame(bytes, i, vec![format!("subscribe {id} {t} {count}{done}")]);
                }
            }
            Shape::Unsubscribe(n) => {
                let mut channels: Vec<String> = self.subscribed.iter().take(*n).cloned().collect();
                while channels.len() < *n {
                    let t = self.tag();
                    channels.push(t);
                }
                let mut c = cmd(&["UNSUBSCRIBE"]);
                channels.iter().for_each(|t| {
                    c.add_arg(t.as_str());
                });
                self.sends.push(Send::One(c));
                for (k, t) in channels.iter().enumerate() {
                    self.subscribed.retain(|s| s != t);
                    let count = self.subscribed.len();
                    let done = if k + 1 == channels.len() { " done" } else { "" };
                    let bytes = confirm('>', "unsubscribe", Some(t), count as i64);
                    self.frame(bytes, i, vec![format!("unsubscribe {id} {t} {count}{done}")]);
                }
            }
            Shape::UnsubscribeAll => {
                self.sends.push(Send::One(cmd(&["UNSUBSCRIBE"])));
                if self.subscribed.is_empty() {
                    let bytes = confirm('>', "unsubscribe", None, 0);
                    self.frame(bytes, i, vec![format!("unsubscribe {id} nil 0 done")]);
                }
                // The server picks its own order.
                let mut channels = std::mem::take(&mut self.subscribed);
                channels.reverse();
                for (k, t) in channels.iter().enumerate() {
                    let count = channels.len() - k - 1;
                    let done = if count == 0 { " done" } else { "" };
                    let bytes = confirm('>', "unsubscribe", Some(t), count as i64);
                    self.frame(bytes, i, vec![format!("unsubscribe {id} {t} {count}{done}")]);
                }
            }
        }
    }
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Runs the model's sends and stream through a connection; returns the events and the ids `send` gave.
fn run(resp3: bool, model: &Model, chunking: Chunking, seed: u64) -> (Vec<String>, Vec<u64>, Connection) {
    let config = Config::default().with_protocol(if resp3 { Protocol::Resp3 } else { Protocol::Resp2 });
    let mut conn = Connection::new(config);
    let now = Instant::now();
    let mut rng = seed | 1;
    let stream: Vec<u8> = model.frames.iter().flat_map(|f| f.bytes.clone()).collect();
    // limits[i]: how much of the stream may be fed once request i has been sent (everything before the
    // first frame of a later request).
    let mut limits = vec![stream.len(); model.sends.len() + 1];
    let mut offset = 0;
    for f in &model.frames {
        if let Some(owner) = f.owner {
            for limit in limits.iter_mut().take(owner) {
                *limit = (*limit).min(offset);
            }
        }
        offset += f.bytes.len();
    }
    let mut events = Vec::new();
    let mut ids = Vec::new();
    let mut fed = 0;
    let feed = |conn: &mut Connection, from: usize, upto: usize, rng: &mut u64, events: &mut Vec<String>| {
        for piece in cut(&stream[from..upto], chunking, rng) {
            conn.handle_input(&piece);
            while let Some(e) = conn.poll_event().expect("no fatal error") {
                events.push(event(&e));
            }
        }
    };
    for (i, send) in model.sends.iter().enumerate() {
        let id = match send {
            Send::One(c) => conn.send(c, now),
            Send::Pipe(p) => conn.send_pipeline(p, now),
            Send::Tx(cmds) => conn.send_transaction(cmds, now),
        }
        .expect("every generated request is valid");
        ids.push(id.get());
        let _ = conn.poll_transmit();
        let upto = fed + (xorshift(&mut rng) as usize) % (limits[i] - fed + 1);
        feed(&mut conn, fed, upto, &mut rng, &mut events);
        fed = upto;
    }
    feed(&mut conn, fed, stream.len(), &mut rng, &mut events);
    (events, ids, conn)
}

fn check(
    resp3: bool,
    shapes: Vec<Shape>,
    pushes: Vec<(usize, bool)>,
    seed: u64,
) -> Result<(), TestCaseError> {
    let mut model =
        Model { resp3, next_tag: 0, subscribed: Vec::new(), sends: Vec::new(), frames: Vec::new() };
    if resp3 {
        let hello = b"%1\r\n$5\r\nproto\r\n:3\r\n".to_vec();
        model.frames.push(Frame { bytes: hello, owner: None, events: vec!["ready".into()] });
    }
    for s in &shapes {
        model.add(s);
    }
    if resp3 {
        // Pushes land between any two frames, even inside a pipeline or a run of confirmations.
        for (n, (at, message)) in pushes.into_iter().enumerate() {
            let at = 1 + at % model.frames.len();
            let (bytes, rendered) = if message {
                let payload = format!("p{n}");
                (push(&["message", "news", &payload]), format!("message news \"{payload}\""))
            } else {
                let key = format!("k{n}");
                (push(&["invalidate", &key]), format!("push >[\"invalidate\", \"{key}\"]"))
            };
            model.frames.insert(at, Frame { bytes, owner: None, events: vec![rendered] });
        }
    } else {
        model.frames.insert(0, Frame { bytes: vec![], owner: None, events: vec!["ready".into()] });
    }
    let expected: Vec<String> = model.frames.iter().flat_map(|f| f.events.clone()).collect();
    let expected_ids: Vec<u64> = (1..=model.sends.len() as u64).collect();
    let all = chunkings();
    for chunking in [all[0], all[1], all[(seed % 40) as usize + 2], Chunking::Random(seed)] {
        let (events, ids, conn) = run(resp3, &model, chunking, seed);
        prop_assert_eq!(&ids, &expected_ids);
        prop_assert_eq!(&events, &expected, "chunking {:?}", chunking);
        prop_assert_eq!(conn.in_flight(), 0);
        prop_assert!(!conn.is_fatal());
        prop_assert_eq!(conn.is_subscribed(), !model.subscribed.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn resp2_replies_reach_their_requests(
        shapes in prop::collection::vec(shape(false), 1..25),
        seed in any::<u64>(),
    ) {
        check(false, shapes, vec![], seed)?;
    }

    #[test]
    fn resp3_replies_reach_their_requests_among_pushes(
        shapes in prop::collection::vec(shape(true), 1..25),
        pushes in prop::collection::vec((any::<usize>(), any::<bool>()), 0..8),
        seed in any::<u64>(),
    ) {
        check(true, shapes, pushes, seed)?;
    }
}
