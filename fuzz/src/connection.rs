//! The `connection` fuzz target's property: a `Connection` driven by a random script of requests, a model
//! server that answers each request with bytes echoing that request's unique tag, and faults (garbage bytes,
//! EOF, an expired response timeout). It checks that nothing panics, that while the stream is clean every
//! event is exactly the one the model predicts (so a reply attributed to the wrong request is caught), that
//! no event names an id `send` never returned or completes a request twice, and that after a fatal error
//! every call fails and no reply arrives. Script decoding only; the checks live in `run`.

use arbitrary::{Result as ArbResult, Unstructured};
use redwire::config::Protocol;
use redwire::resp::Value;
use redwire::{Cmd, Config, Connection, Error, Event, Pipeline};
use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// The property: see the module docs. Panics on a violation.
pub fn connection(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let _ = run(&mut u);
}

fn cmd(words: &[&str]) -> Cmd {
    let mut c = Cmd::new(words[0]);
    words[1..].iter().for_each(|w| {
        c.add_arg(*w);
    });
    c
}

fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{s}\r\n", s.len()).into_bytes()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A value as the model writes it: `"bulk"`, `-error`, `[a, b]`, anything else by `Debug`.
fn value(v: &Value) -> String {
    match v {
        Value::BulkString(b) => format!("{:?}", text(b)),
        Value::Error(e) => format!("-{}", text(e)),
        Value::Array(items) | Value::Push(items) => {
            format!("[{}]", items.iter().map(value).collect::<Vec<_>>().join(", "))
        }
        other => format!("{other:?}"),
    }
}

/// An event as the model writes it, e.g. `reply 3 "t3"`, `tx 4 watch`, `subscribe 5 t7 1 done`.
fn event(e: &Event) -> String {
    match e {
        Event::Ready => "ready".into(),
        Event::Reply { id, value: v, .. } => format!("reply {} {}", id.get(), value(v)),
        Event::Pipeline { id, values, .. } => {
            format!("pipeline {} [{}]", id.get(), values.iter().map(value).collect::<Vec<_>>().join(", "))
        }
        Event::Transaction { id, result, .. } => match result {
            Ok(values) => format!("tx {} ok {}", id.get(), value(&Value::Array(values.clone()))),
            Err(Error::Watch) => format!("tx {} watch", id.get()),
            Err(Error::ExecAbort(errors)) => {
                format!("tx {} abort {}", id.get(), value(&Value::Array(errors.clone())))
            }
            Err(other) => format!("tx {} error {other}", id.get()),
        },
        Event::Message(m) => format!("message {} {}", text(&m.channel), value(&m.payload)),
        Event::Subscription { id, kind, channel, count, done, .. } => format!(
            "{} {} {} {count}{}",
            kind.as_str(),
            id.map(|i| i.get().to_string()).unwrap_or_else(|| "-".into()),
            channel.as_ref().map(|c| text(c)).unwrap_or_else(|| "nil".into()),
            if *done { " done" } else { "" }
        ),
        Event::Push(v) => format!("push {}", value(v)),
        Event::TimedOut { id } => format!("timeout {}", id.get()),
        other => format!("{other:?}"),
    }
}

/// RESP3 pub/sub confirmation push.
fn confirm(kind: &str, channel: Option<&str>, count: usize) -> Vec<u8> {
    let mut out = b">3\r\n".to_vec();
    out.extend(bulk(kind));
    out.extend(channel.map(bulk).unwrap_or_else(|| b"_\r\n".to_vec()));
    out.extend(format!(":{count}\r\n").into_bytes());
    out
}

/// The model: the server's not yet delivered frames (each with the events it completes) and the
/// connection-side bookkeeping.
struct Model {
    resp3: bool,
    next_tag: usize,
    subscribed: Vec<String>,
    /// Frames not yet delivered (bytes, events it completes); `offset` bytes of the first one are delivered.
    frames: VecDeque<(Vec<u8>, Vec<String>)>,
    offset: usize,
    /// Events delivered bytes have completed, in order; checked while `clean`.
    expected: VecDeque<String>,
    /// False once garbage was injected: from then on only the id and fatal rules are checked.
    clean: bool,
    /// Ids `send*` returned and not yet completed (reply, pipeline, transaction or timeout).
    open: BTreeSet<u64>,
    /// Every id `send*` returned.
    issued: BTreeSet<u64>,
}

impl Model {
    fn tag(&mut self) -> String {
        self.next_tag += 1;
        format!("t{}", self.next_tag)
    }

    fn nil(&self) -> &'static [u8] {
        if self.resp3 {
            b"_\r\n"
        } else {
            b"*-1\r\n"
        }
    }
}

/// The frames (bytes, events each completes) the server answers a request with.
type Answer = Vec<(Vec<u8>, Vec<String>)>;

/// Builds a request's [`Answer`] once `send` has given its id.
type Answerer = Box<dyn Fn(u64, &Model) -> Answer>;

fn run(u: &mut Unstructured) -> ArbResult<()> {
    let resp3 = u.arbitrary::<bool>()?;
    let config = Config::default()
        .with_protocol(if resp3 { Protocol::Resp3 } else { Protocol::Resp2 })
        .with_response_timeout(Duration::from_secs(1));
    let mut conn = Connection::new(config);
    let now = Instant::now();
    let mut m = Model {
        resp3,
        next_tag: 0,
        subscribed: Vec::new(),
        frames: VecDeque::new(),
        offset: 0,
        expected: VecDeque::new(),
        clean: true,
        open: BTreeSet::new(),
        issued: BTreeSet::new(),
    };
    if resp3 {
        m.frames.push_back((b"%1\r\n$5\r\nproto\r\n:3\r\n".to_vec(), vec!["ready".into()]));
    } else {
        m.expected.push_back("ready".into());
    }
    let mut fatal = false;
    let mut pushes = 0;
    while !u.is_empty() {
        match u.int_in_range(0..=11u8)? {
            op @ 0..=4 => {
                let tags_n = if op == 2 || op == 3 { u.int_in_range(0..=4usize)? } else { 1 };
                let tags: Vec<String> = (0..tags_n.max(usize::from(op == 2))).map(|_| m.tag()).collect();
                let errors: Vec<bool> = tags.iter().map(|_| u.ratio(1, 4)).collect::<ArbResult<_>>()?;
                let (result, answer): (_, Answerer) = match op {
                    0 | 1 => {
                        let c = if op == 0 { cmd(&["ECHO", &tags[0]]) } else { cmd(&["GET", &tags[0]]) };
                        let (t, e) = (tags[0].clone(), errors[0]);
                        (
                            conn.send(&c, now),
                            Box::new(move |id, _| {
                                let (bytes, v) = match e {
                                    true => (format!("-ERR {t}\r\n").into_bytes(), format!("-ERR {t}")),
                                    false => (bulk(&t), format!("{t:?}")),
                                };
                                vec![(bytes, vec![format!("reply {id} {v}")])]
                            }),
                        )
                    }
                    2 => {
                        let p: Pipeline = tags.iter().map(|t| cmd(&["ECHO", t])).collect();
                        let (tags, errors) = (tags.clone(), errors.clone());
                        (
                            conn.send_pipeline(&p, now),
                            Box::new(move |id, _| {
                                let mut frames = Vec::new();
                                let mut values = Vec::new();
                                for (t, e) in tags.iter().zip(&errors) {
                                    let bytes =
                                        if *e { format!("-ERR {t}\r\n").into_bytes() } else { bulk(t) };
                                    values.push(if *e { format!("-ERR {t}") } else { format!("{t:?}") });
                                    frames.push((bytes, vec![]));
                                }
                                let done = format!("pipeline {id} [{}]", values.join(", "));
                                frames.last_mut().expect("a pipeline of one or more").1.push(done);
                                frames
                            }),
                        )
                    }
                    3 => {
                        let cmds: Vec<Cmd> = tags.iter().map(|t| cmd(&["ECHO", t])).collect();
                        // 0: commit, 1: watch (nil EXEC), 2: first command refused, EXECABORT.
                        let end = u.int_in_range(0..=2u8)?;
                        let tags = tags.clone();
                        (
                            conn.send_transaction(&cmds, now),
                            Box::new(move |id, m: &Model| {
                                let mut frames = vec![(b"+OK\r\n".to_vec(), vec![])];
                                for (k, t) in tags.iter().enumerate() {
                                    let q = match end == 2 && k == 0 {
                                        true => format!("-ERR {t}\r\n").into_bytes(),
                                        false => b"+QUEUED\r\n".to_vec(),
                                    };
                                    frames.push((q, vec![]));
                                }
                                let (bytes, outcome) = match end {
                                    0 => {
                                        let mut b = format!("*{}\r\n", tags.len()).into_bytes();
                                        tags.iter().for_each(|t| b.extend(bulk(t)));
                                        let vals: Vec<String> =
                                            tags.iter().map(|t| format!("{t:?}")).collect();
                                        (b, format!("ok [{}]", vals.join(", ")))
                                    }
                                    1 => (m.nil().to_vec(), "watch".into()),
                                    _ => {
                                        let errs =
                                            tags.first().map(|t| format!("-ERR {t}")).unwrap_or_default();
                                        (b"-EXECABORT discarded\r\n".to_vec(), format!("abort [{errs}]"))
                                    }
                                };
                                frames.push((bytes, vec![format!("tx {id} {outcome}")]));
                                frames
                            }),
                        )
                    }
                    _ if !resp3 => continue,
                    _ => {
                        // SUBSCRIBE to new channels (RESP3 only: RESP2 refuses other commands meanwhile).
                        let mut c = cmd(&["SUBSCRIBE"]);
                        tags.iter().for_each(|t| {
                            c.add_arg(t.as_str());
                        });
                        let tags = tags.clone();
                        let before = m.subscribed.len();
                        m.subscribed.extend(tags.iter().cloned());
                        (
                            conn.send(&c, now),
                            Box::new(move |id, _| {
                                let last = tags.len() - 1;
                                (tags.iter().enumerate())
                                    .map(|(k, t)| {
                                        let n = before + k + 1;
                                        let done = if k == last { " done" } else { "" };
                                        (
                                            confirm("subscribe", Some(t), n),
                                            vec![format!("subscribe {id} {t} {n}{done}")],
                                        )
                                    })
                                    .collect()
                            }),
                        )
                    }
                };
                answer_or_fail(&mut conn, &mut m, fatal, result, &*answer)?;
            }
            5 if resp3 => {
                // UNSUBSCRIBE: from everything (the server picks the order), or from one channel that may
                // not be subscribed.
                let all = u.arbitrary::<bool>()?;
                let named = !(all || m.subscribed.is_empty());
                let (c, channels) = if !named {
                    let mut channels = std::mem::take(&mut m.subscribed);
                    channels.reverse();
                    (cmd(&["UNSUBSCRIBE"]), channels)
                } else {
                    let k = u.choose_index(m.subscribed.len() + 1)?;
                    let t = m.subscribed.get(k).cloned().unwrap_or_else(|| m.tag());
                    m.subscribed.retain(|s| *s != t);
                    (cmd(&["UNSUBSCRIBE", &t]), vec![t])
                };
                let left = m.subscribed.len();
                let result = conn.send(&c, now);
                answer_or_fail(&mut conn, &mut m, fatal, result, &move |id, _| {
                    if channels.is_empty() {
                        return vec![(
                            confirm("unsubscribe", None, 0),
                            vec![format!("unsubscribe {id} nil 0 done")],
                        )];
                    }
                    let last = channels.len() - 1;
                    (channels.iter().enumerate())
                        .map(|(k, t)| {
                            let n = if named { left } else { left + last - k };
                            let done = if k == last { " done" } else { "" };
                            (
                                confirm("unsubscribe", Some(t), n),
                                vec![format!("unsubscribe {id} {t} {n}{done}")],
                            )
                        })
                        .collect()
                })?;
            }
            6 if resp3 => {
                // A push between two undelivered frames (even inside a pipeline's replies).
                pushes += 1;
                let first = usize::from(m.offset > 0);
                let at = u.int_in_range(first..=m.frames.len().max(first))?.min(m.frames.len());
                let (bytes, ev) = if u.arbitrary::<bool>()? {
                    let p = format!("p{pushes}");
                    let mut b = b">3\r\n".to_vec();
                    [&b"message"[..], b"news", p.as_bytes()].iter().for_each(|x| b.extend(bulk(&text(x))));
                    (b, format!("message news {p:?}"))
                } else {
                    let k = format!("k{pushes}");
                    let mut b = b">2\r\n".to_vec();
                    b.extend(bulk("invalidate"));
                    b.extend(bulk(&k));
                    (b, format!("push [\"invalidate\", {k:?}]"))
                };
                m.frames.insert(at, (bytes, vec![ev]));
            }
            7..=9 => {
                // Deliver up to n of the server's pending bytes in one piece.
                let n = u.int_in_range(1..=64usize)?;
                deliver(&mut conn, &mut m, n, &mut fatal);
            }
            10 => {
                // Garbage bytes: the stream is no longer the model's, only the id and fatal rules remain.
                let garbage: Vec<u8> =
                    (0..u.int_in_range(1..=16usize)?).map(|_| u.arbitrary()).collect::<ArbResult<_>>()?;
                m.clean = false;
                conn.handle_input(&garbage);
                drain(&mut conn, &mut m, &mut fatal);
            }
            11 => {
                // EOF, or an expired response timeout: either way the connection is done for.
                if u.arbitrary::<bool>()? {
                    conn.handle_eof();
                    // Whatever was delivered is still decoded first; then the connection fails.
                    drain(&mut conn, &mut m, &mut fatal);
                    assert!(fatal, "poll_event after EOF must end in an error");
                    return Ok(());
                }
                let due = conn.poll_timeout().is_some();
                conn.handle_timeout(now + Duration::from_secs(2));
                if due {
                    // A `TimedOut` for the oldest request with a deadline, then the error.
                    m.clean = false;
                    drain(&mut conn, &mut m, &mut fatal);
                    assert!(fatal, "an expired deadline with requests in flight must be fatal");
                    return Ok(());
                }
            }
            _ => {}
        }
    }
    // Deliver everything left; with a clean stream every predicted event must have come.
    let rest = m.frames.iter().map(|f| f.0.len()).sum::<usize>();
    deliver(&mut conn, &mut m, rest, &mut fatal);
    if m.clean && !fatal {
        assert!(m.expected.is_empty(), "events never came: {:?}", m.expected);
        assert!(m.open.is_empty(), "requests never answered: {:?}", m.open);
        assert_eq!(conn.in_flight(), 0);
    }
    Ok(())
}

/// Records a send's outcome: an id queues the model's answer; after a fatal error every send must fail.
fn answer_or_fail(
    conn: &mut Connection,
    m: &mut Model,
    fatal: bool,
    result: redwire::Result<redwire::RequestId>,
    answer: &dyn Fn(u64, &Model) -> Answer,
) -> ArbResult<()> {
    match result {
        Ok(id) => {
            assert!(!fatal, "send succeeded after a fatal error");
            let id = id.get();
            assert!(m.issued.insert(id), "id {id} issued twice");
            m.open.insert(id);
            let frames = answer(id, m);
            m.frames.extend(frames);
            // (RESP3 holds requests back until the handshake's reply, so there may be nothing yet.)
            let _ = conn.poll_transmit();
        }
        Err(e) => {
            // Every generated request is valid, so only a dead connection may refuse it.
            assert!(fatal || conn.is_fatal(), "a valid request was refused: {e}");
            assert!(conn.poll_transmit().is_none(), "a fatal connection still transmits");
        }
    }
    Ok(())
}

/// Hands the connection up to `n` pending server bytes, then drains its events.
fn deliver(conn: &mut Connection, m: &mut Model, mut n: usize, fatal: &mut bool) {
    let mut piece = Vec::new();
    while n > 0 {
        let Some((bytes, events)) = m.frames.front() else { break };
        let take = n.min(bytes.len() - m.offset);
        piece.extend_from_slice(&bytes[m.offset..m.offset + take]);
        m.offset += take;
        n -= take;
        if m.offset == bytes.len() {
            m.expected.extend(events.iter().cloned());
            m.frames.pop_front();
            m.offset = 0;
        }
    }
    conn.handle_input(&piece);
    drain(conn, m, fatal);
}

/// Polls every event, checking each against the model; records a fatal error.
fn drain(conn: &mut Connection, m: &mut Model, fatal: &mut bool) {
    loop {
        match conn.poll_event() {
            Ok(Some(e)) => {
                assert!(!*fatal, "an event after a fatal error: {e:?}");
                if let Some(id) = e.id() {
                    assert!(m.issued.contains(&id.get()), "event for an unknown id: {e:?}");
                }
                if matches!(
                    e,
                    Event::Reply { .. }
                        | Event::Pipeline { .. }
                        | Event::Transaction { .. }
                        | Event::TimedOut { .. }
                ) {
                    let id = e.id().expect("completions carry an id").get();
                    assert!(m.open.remove(&id), "request {id} completed twice: {e:?}");
                }
                if let Event::Subscription { id: Some(id), done: true, .. } = &e {
                    m.open.remove(&id.get());
                }
                if m.clean {
                    let got = event(&e);
                    assert_eq!(Some(&got), m.expected.front(), "event differs from the model's");
                    m.expected.pop_front();
                }
            }
            Ok(None) => {
                assert!(!*fatal, "poll_event recovered after a fatal error");
                return;
            }
            Err(_) => {
                *fatal = true;
                assert!(conn.is_fatal());
                assert!(conn.send(&cmd(&["PING"]), Instant::now()).is_err(), "send after a fatal error");
                assert!(conn.poll_event().is_err(), "poll_event after a fatal error");
                return;
            }
        }
    }
}
