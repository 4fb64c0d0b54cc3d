//! The sans-IO `Connection` against real servers (tests/support), driven by the smallest blocking loop:
//! a std socket, `poll_transmit` → write, read → `read_buf`, `poll_event`, and `poll_timeout` as the
//! socket's read timeout. ACL users, databases, both protocols, big pipelines, WATCH conflicts, pub/sub
//! with patterns, client-side caching pushes, deadlines and RESET.

mod support;

use redwire::config::{Address, Protocol};
use redwire::event::MessageKind;
use redwire::resp::Value;
use redwire::{Cmd, Config, Connection, Error, Event, Pipeline, RequestId};
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};
use support::{RawClient, Server, ServerOptions};

/// How long the loop waits on the socket when no deadline is nearer: a hung test fails instead.
const IDLE: Duration = Duration::from_secs(20);

trait Stream: Read + Write {
    fn set_timeout(&self, t: Duration);
}

impl Stream for TcpStream {
    fn set_timeout(&self, t: Duration) {
        self.set_read_timeout(Some(t)).unwrap();
    }
}

impl Stream for UnixStream {
    fn set_timeout(&self, t: Duration) {
        self.set_read_timeout(Some(t)).unwrap();
    }
}

/// The minimal blocking runtime.
struct Client {
    conn: Connection,
    stream: Box<dyn Stream>,
    /// Events that arrived while waiting for something else.
    stash: VecDeque<Event>,
}

impl Client {
    /// Connects and completes the handshake.
    fn connect(config: Config) -> Result<Client, Error> {
        let stream: Box<dyn Stream> = match config.addr() {
            Address::Tcp { host, port } => Box::new(TcpStream::connect((host.as_str(), *port))?),
            Address::Unix(path) => Box::new(UnixStream::connect(path)?),
            other => panic!("unknown address {other:?}"),
        };
        let mut client = Client { conn: Connection::new(config), stream, stash: VecDeque::new() };
        loop {
            match client.next_event()? {
                Event::Ready => return Ok(client),
                other => client.stash.push_back(other),
            }
        }
    }

    fn url(url: &str) -> Client {
        Client::connect(Config::from_url(url).unwrap()).unwrap()
    }

    /// One turn of the loop: write what is pending, then wait for an event (reading as needed, and
    /// telling the connection the time when the socket wait ends on a deadline).
    fn next_event(&mut self) -> Result<Event, Error> {
        loop {
            while let Some(bytes) = self.conn.poll_transmit() {
                self.stream.write_all(&bytes)?;
            }
            if let Some(event) = self.conn.poll_event()? {
                return Ok(event);
            }
            let wait = match self.conn.poll_timeout() {
                Some(at) => at.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)),
                None => IDLE,
            };
            self.stream.set_timeout(wait);
            let buf = self.conn.read_buf();
            let start = buf.len();
            buf.resize(start + 64 * 1024, 0);
            let read = self.stream.read(&mut buf[start..]);
            let n = *read.as_ref().unwrap_or(&0);
            buf.truncate(start + n);
            match read {
                Ok(0) => self.conn.handle_eof(),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    assert!(self.conn.poll_timeout().is_some(), "no reply within {IDLE:?}");
                    self.conn.handle_timeout(Instant::now());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The next event that is not about another request: a stashed one first.
    fn event(&mut self) -> Event {
        match self.stash.pop_front() {
            Some(e) => e,
            None => self.next_event().unwrap(),
        }
    }

    /// Waits for the event answering `id`, stashing the others.
    fn wait(&mut self, id: RequestId) -> Result<Event, Error> {
        if let Some(i) = self.stash.iter().position(|e| e.id() == Some(id)) {
            return Ok(self.stash.remove(i).unwrap());
        }
        loop {
            let event = self.next_event()?;
            if event.id() == Some(id) {
                return Ok(event);
            }
            self.stash.push_back(event);
        }
    }

    fn send(&mut self, words: &[&str]) -> RequestId {
        self.conn.send(&cmd(words), Instant::now()).unwrap()
    }

    fn call(&mut self, words: &[&str]) -> Value {
        let id = self.send(words);
        match self.wait(id).unwrap() {
            Event::Reply { value, .. } => value,
            other => panic!("{words:?}: expected a reply, got {other:?}"),
        }
    }

    /// Sends a subscription command and waits until every confirmation is in.
    fn subscribe(&mut self, words: &[&str]) -> Vec<String> {
        let id = self.send(words);
        let mut confirmed = Vec::new();
        loop {
            match self.wait(id).unwrap() {
                Event::Subscription { channel, done, kind, .. } => {
                    confirmed.push(format!("{} {}", kind.as_str(), text(&channel.unwrap_or_default())));
                    if done {
                        return confirmed;
                    }
                }
                other => panic!("{words:?}: expected confirmations, got {other:?}"),
            }
        }
    }

    fn transaction(&mut self, cmds: &[&[&str]]) -> Result<Vec<Value>, Error> {
        let cmds: Vec<Cmd> = cmds.iter().map(|w| cmd(w)).collect();
        let id = self.conn.send_transaction(&cmds, Instant::now()).unwrap();
        match self.wait(id).unwrap() {
            Event::Transaction { result, .. } => result,
            other => panic!("expected a transaction outcome, got {other:?}"),
        }
    }
}

fn cmd(words: &[&str]) -> Cmd {
    let mut c = Cmd::new(words[0]);
    for w in &words[1..] {
        c.add_arg(*w);
    }
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.to_string().into())
}

fn ok() -> Value {
    Value::SimpleString("OK".into())
}

fn nil_or_empty(v: &Value) -> bool {
    matches!(v, Value::Null)
}

const PROTOCOLS: [Protocol; 2] = [Protocol::Resp2, Protocol::Resp3];

fn p(protocol: Protocol) -> u8 {
    protocol.version()
}

#[test]
fn acl_user_password_and_db_3_over_tcp_and_unix_in_both_protocols() {
    let server = Server::start();
    let mut admin = server.raw();
    assert_eq!(admin.cmd_str(&["ACL", "SETUSER", "app", "on", ">s3c@ret:x", "~*", "&*", "+@all"]), ok());
    for protocol in PROTOCOLS {
        let tcp = format!(
            "redis://app:s3c%40ret%3Ax@127.0.0.1:{}/3?protocol={}&client_name=rw-tcp-{}",
            server.port(),
            p(protocol),
            p(protocol)
        );
        let unix = format!(
            "redis+unix://app:s3c%40ret%3Ax@{}?db=3&protocol={}&client_name=rw-unix-{}",
            server.unix_path().display(),
            p(protocol),
            p(protocol)
        );
        for (url, transport) in [(tcp, "tcp"), (unix, "unix")] {
            let mut c = Client::url(&url);
            assert_eq!(c.conn.protocol(), protocol);
            assert_eq!(c.conn.db(), 3);
            assert!(c.conn.is_reusable());
            assert_eq!(c.call(&["ACL", "WHOAMI"]), bulk("app"));
            assert_eq!(c.call(&["CLIENT", "GETNAME"]), bulk(&format!("rw-{transport}-{}", p(protocol))));
            let key = format!("k-{transport}-{}", p(protocol));
            assert_eq!(c.call(&["SET", &key, "v"]), ok());
            // The write landed in database 3, and only there.
            assert_eq!(admin.cmd_str(&["SELECT", "3"]), ok());
            assert_eq!(admin.cmd_str(&["GET", &key]), bulk("v"));
            assert_eq!(admin.cmd_str(&["SELECT", "0"]), ok());
            assert!(nil_or_empty(&admin.cmd_str(&["GET", &key])));
            let hello = c.call(&["HELLO"]);
            let proto = match (&hello, protocol) {
                (Value::Map(pairs), Protocol::Resp3) => {
                    pairs.iter().find(|(k, _)| *k == bulk("proto")).map(|(_, v)| v.clone())
                }
                (Value::Array(items), Protocol::Resp2) => {
                    items.iter().position(|v| *v == bulk("proto")).map(|i| items[i + 1].clone())
                }
                other => panic!("HELLO reply {other:?}"),
            };
            assert_eq!(proto, Some(Value::Integer(p(protocol) as i64)));
        }
    }
}

#[test]
fn a_user_without_a_password_authenticates_as_that_user() {
    let server = Server::start();
    assert_eq!(server.raw().cmd_str(&["ACL", "SETUSER", "robot", "on", "nopass", "~*", "+@all"]), ok());
    for protocol in PROTOCOLS {
        let mut c =
            Client::url(&format!("redis://robot@127.0.0.1:{}?protocol={}", server.port(), p(protocol)));
        assert_eq!(c.call(&["ACL", "WHOAMI"]), bulk("robot"));
    }
}

#[test]
fn wrong_password_noauth_and_bad_db_fail_the_handshake_saying_which() {
    let server =
        Server::start_with(ServerOptions { args: vec!["--requirepass".into(), "right".into()], unix: true });
    let base = format!("redis://127.0.0.1:{}", server.port());
    for protocol in PROTOCOLS {
        let v = p(protocol);
        let cases = [
            (
                format!("redis://:wrong@127.0.0.1:{}?protocol={v}", server.port()),
                "AUTH",
                "wrong user name or password",
            ),
            (
                format!("redis://nobody:right@127.0.0.1:{}?protocol={v}", server.port()),
                "AUTH",
                "wrong user name or password",
            ),
            (format!("{base}?protocol={v}&db=1"), "AUTH", "requires a password and none is configured"),
            (
                format!("redis://:right@127.0.0.1:{}/99?protocol={v}", server.port()),
                "SELECT",
                "database 99 does not exist",
            ),
        ];
        for (url, want_step, want_message) in cases {
            match Client::connect(Config::from_url(&url).unwrap()) {
                Err(Error::Handshake { step, message }) => {
                    assert_eq!(step, want_step, "{url}: {message}");
                    assert!(message.contains(want_message), "{url}: {message}");
                }
                Err(other) => panic!("{url}: expected a handshake error, got {other}"),
                Ok(_) => panic!("{url}: the handshake should have failed"),
            }
        }
        // RESP3 without a password fails at HELLO itself (NOAUTH), RESP2 with db 0 has no handshake at all:
        // its first command gets NOAUTH as an ordinary reply.
        let url = format!("{base}?protocol={v}");
        match (protocol, Client::connect(Config::from_url(&url).unwrap())) {
            (Protocol::Resp3, Err(Error::Handshake { step: "AUTH", message })) => {
                assert!(message.contains("NOAUTH"))
            }
            (Protocol::Resp2, Ok(mut c)) => {
                let reply = c.call(&["GET", "k"]);
                assert!(matches!(&reply, Value::Error(e) if e.starts_with(b"NOAUTH")), "{reply:?}");
            }
            (_, other) => panic!("{url}: unexpected {:?}", other.map(|_| ())),
        }
        let mut c = Client::url(&format!("redis://:right@127.0.0.1:{}/2?protocol={v}", server.port()));
        assert_eq!(c.call(&["PING"]), Value::SimpleString("PONG".into()));
    }
}

#[test]
fn a_10_000_command_pipeline_is_one_write_and_one_event() {
    let server = Server::start();
    for protocol in PROTOCOLS {
        let mut c = Client::url(&format!("{}?protocol={}", server.url(), p(protocol)));
        let key = format!("counter-{}", p(protocol));
        let mut pipe = Pipeline::with_capacity(10_000);
        for i in 0..10_000 {
            pipe.add(if i == 5_000 {
                Cmd::new("LPUSH").arg(&key).arg("x")
            } else {
                Cmd::new("INCR").arg(&key)
            });
        }
        let id = c.conn.send_pipeline(&pipe, Instant::now()).unwrap();
        let bytes = c.conn.poll_transmit().unwrap();
        assert!(c.conn.poll_transmit().is_none(), "the whole pipeline comes out as one chunk");
        c.stream.write_all(&bytes).unwrap();
        match c.wait(id).unwrap() {
            Event::Pipeline { values, .. } => {
                assert_eq!(values.len(), 10_000);
                for (i, v) in values.iter().enumerate() {
                    match (i, v) {
                        (5_000, Value::Error(e)) => assert!(e.starts_with(b"WRONGTYPE")),
                        (i, Value::Integer(n)) if i < 5_000 => assert_eq!(*n, i as i64 + 1),
                        (i, Value::Integer(n)) => assert_eq!(*n, i as i64),
                        other => panic!("slot {other:?}"),
                    }
                }
            }
            other => panic!("{other:?}"),
        }
        // 10 000 separate sends are coalesced the same way and answered in order.
        let ids: Vec<RequestId> = (0..10_000).map(|i| c.send(&["ECHO", &i.to_string()])).collect();
        assert_eq!(c.conn.in_flight(), 10_000);
        for (i, id) in ids.into_iter().enumerate() {
            match c.wait(id).unwrap() {
                Event::Reply { value, .. } => assert_eq!(value, bulk(&i.to_string())),
                other => panic!("{other:?}"),
            }
        }
        assert!(c.conn.is_reusable());
    }
}

#[test]
fn a_transaction_aborts_when_another_connection_writes_a_watched_key() {
    let server = Server::start();
    let mut other = server.raw();
    for protocol in PROTOCOLS {
        let mut c = Client::url(&format!("{}?protocol={}", server.url(), p(protocol)));
        let key = format!("balance-{}", p(protocol));
        assert_eq!(c.call(&["SET", &key, "10"]), ok());
        assert_eq!(c.call(&["WATCH", &key]), ok());
        assert!(c.conn.is_watching() && !c.conn.is_reusable());
        assert_eq!(c.call(&["GET", &key]), bulk("10"));
        assert_eq!(other.cmd_str(&["SET", &key, "999"]), ok());
        assert!(matches!(c.transaction(&[&["SET", &key, "9"]]), Err(Error::Watch)));
        assert!(!c.conn.is_watching() && c.conn.is_reusable());
        assert_eq!(c.call(&["GET", &key]), bulk("999"), "nothing of the aborted transaction was applied");
        // Retried without interference, it commits; a run-time error stays in its slot.
        assert_eq!(c.call(&["WATCH", &key]), ok());
        let committed =
            c.transaction(&[&["INCRBY", &key, "-1"], &["LPUSH", &key, "x"], &["GET", &key]]).unwrap();
        assert_eq!(committed[0], Value::Integer(998));
        assert!(matches!(&committed[1], Value::Error(e) if e.starts_with(b"WRONGTYPE")));
        assert_eq!(committed[2], bulk("998"));
        // Queue-time errors abort the whole transaction.
        match c.transaction(&[&["SET", &key, "0"], &["NOSUCHCOMMAND"]]) {
            Err(Error::ExecAbort(errors)) => {
                assert_eq!(errors.len(), 1);
                assert!(
                    matches!(&errors[0], Value::Error(e) if text(e).contains("unknown command")),
                    "{errors:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(c.call(&["GET", &key]), bulk("998"));
        // MULTI/EXEC sent one by one are tracked as well.
        assert_eq!(c.call(&["MULTI"]), ok());
        assert!(c.conn.in_multi());
        assert_eq!(c.call(&["INCR", &key]), Value::SimpleString("QUEUED".into()));
        assert_eq!(c.call(&["EXEC"]), Value::Array(vec![Value::Integer(999)]));
        assert!(!c.conn.in_multi() && c.conn.is_reusable());
    }
}

fn expect_message(c: &mut Client, kind: MessageKind, pattern: Option<&str>, channel: &str, payload: &str) {
    match c.event() {
        Event::Message(m) => {
            assert_eq!(m.kind, kind);
            assert_eq!(m.pattern.as_deref().map(text).as_deref(), pattern);
            assert_eq!(text(&m.channel), channel);
            assert_eq!(m.payload, bulk(payload));
        }
        other => panic!("expected a message on {channel}, got {other:?}"),
    }
}

#[test]
fn pubsub_with_patterns_in_both_protocols() {
    let server = Server::start();
    let mut publisher = server.raw();
    for protocol in PROTOCOLS {
        let mut c = Client::url(&format!("{}?protocol={}", server.url(), p(protocol)));
        assert_eq!(c.subscribe(&["SUBSCRIBE", "plain", "other"]), ["subscribe plain", "subscribe other"]);
        assert_eq!(c.subscribe(&["PSUBSCRIBE", "news.*"]), ["psubscribe news.*"]);
        assert!(c.conn.is_subscribed() && !c.conn.is_reusable());
        assert_eq!(publisher.cmd_str(&["PUBLISH", "news.today", "headline"]), Value::Integer(1));
        assert_eq!(publisher.cmd_str(&["PUBLISH", "plain", "hello"]), Value::Integer(1));
        expect_message(&mut c, MessageKind::PMessage, Some("news.*"), "news.today", "headline");
        expect_message(&mut c, MessageKind::Message, None, "plain", "hello");
        match protocol {
            Protocol::Resp2 => {
                match c.conn.send(&cmd(&["GET", "k"]), Instant::now()) {
                    Err(Error::Usage(m)) => assert!(m.contains("subscribed mode")),
                    other => panic!("{other:?}"),
                }
                assert_eq!(c.call(&["PING"]), Value::Array(vec![bulk("pong"), bulk("")]));
            }
            _ => {
                // RESP3: ordinary commands run between messages.
                assert_eq!(c.call(&["SET", "k", "v"]), ok());
                assert_eq!(publisher.cmd_str(&["PUBLISH", "news.sport", "goal"]), Value::Integer(1));
                assert_eq!(c.call(&["GET", "k"]), bulk("v"));
                expect_message(&mut c, MessageKind::PMessage, Some("news.*"), "news.sport", "goal");
                assert_eq!(c.call(&["PING"]), Value::SimpleString("PONG".into()));
            }
        }
        let mut gone = c.subscribe(&["UNSUBSCRIBE"]);
        gone.sort();
        assert_eq!(gone, ["unsubscribe other", "unsubscribe plain"]);
        assert!(c.conn.is_subscribed(), "the pattern is still there");
        assert_eq!(c.subscribe(&["PUNSUBSCRIBE", "news.*"]), ["punsubscribe news.*"]);
        assert!(!c.conn.is_subscribed() && c.conn.is_reusable());
        assert_eq!(c.call(&["GET", "k2"]), Value::Null);
        assert_eq!(publisher.cmd_str(&["PUBLISH", "plain", "unheard"]), Value::Integer(0));
    }
}

#[test]
fn resp3_invalidation_pushes_come_as_push_events() {
    let server = Server::start();
    let mut writer = server.raw();
    let mut c = Client::url(&server.url());
    assert_eq!(c.call(&["CLIENT", "TRACKING", "on"]), ok());
    assert_eq!(c.call(&["GET", "cached"]), Value::Null);
    assert_eq!(writer.cmd_str(&["SET", "cached", "1"]), ok());
    let id = c.send(&["PING"]);
    let mut pushes = Vec::new();
    loop {
        match c.next_event().unwrap() {
            Event::Push(v) => pushes.push(v),
            Event::Reply { id: got, value, .. } if got == id => {
                assert_eq!(value, Value::SimpleString("PONG".into()));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(pushes, [Value::Push(vec![bulk("invalidate"), Value::Array(vec![bulk("cached")])])]);
}

#[test]
fn deadlines_spare_legitimate_blocks_and_poison_on_a_stalled_reply() {
    let server = Server::start();
    for protocol in PROTOCOLS {
        let url = format!("{}?protocol={}&response_timeout=300ms", server.url(), p(protocol));
        let mut c = Client::url(&url);
        let start = Instant::now();
        assert_eq!(c.call(&["BLPOP", "empty", "1"]), Value::Null, "a 1 s block outlives a 300 ms timeout");
        assert!(start.elapsed() >= Duration::from_millis(900));
        assert_eq!(c.call(&["XREAD", "BLOCK", "500", "STREAMS", "nostream", "$"]), Value::Null);
        assert!(!c.conn.is_poisoned());
        let id = c.send(&["DEBUG", "SLEEP", "1"]);
        match c.next_event().unwrap() {
            Event::TimedOut { id: got } => assert_eq!(got, id),
            other => panic!("{other:?}"),
        }
        assert!(c.conn.is_poisoned() && !c.conn.is_reusable());
        assert!(matches!(c.conn.send(&cmd(&["PING"]), Instant::now()), Err(Error::Poisoned(_))));
        assert!(matches!(c.next_event(), Err(Error::Poisoned(_))));
    }
}

#[test]
fn reset_brings_the_connection_back_to_its_configuration() {
    let server = Server::start();
    let mut c = Client::url(&format!("{}/4?client_name=resettable", server.url()));
    assert_eq!(c.subscribe(&["SUBSCRIBE", "ch"]), ["subscribe ch"]);
    assert_eq!(c.call(&["WATCH", "w"]), ok());
    assert_eq!(c.call(&["SELECT", "5"]), ok());
    assert!(!c.conn.is_reusable());
    assert_eq!(c.call(&["RESET"]), Value::SimpleString("RESET".into()));
    assert_eq!(c.call(&["SET", "after-reset", "1"]), ok());
    assert!(c.conn.is_reusable());
    assert_eq!(c.conn.protocol(), Protocol::Resp3);
    assert_eq!(c.call(&["CLIENT", "GETNAME"]), bulk("resettable"));
    let mut raw = RawClient::connect(server.addr());
    assert_eq!(raw.cmd_str(&["SELECT", "4"]), ok());
    assert_eq!(raw.cmd_str(&["GET", "after-reset"]), bulk("1"), "the handshake's SELECT 4 was replayed");
    assert_eq!(raw.cmd_str(&["PUBLISH", "ch", "nobody"]), Value::Integer(0));
}

#[test]
fn quit_and_server_close_end_the_connection() {
    let mut server = Server::start();
    let mut c = Client::url(&server.url());
    assert_eq!(c.call(&["QUIT"]), ok());
    assert!(c.conn.is_fatal());
    assert!(matches!(c.next_event(), Err(Error::Closed(_))));
    let mut c = Client::url(&server.url());
    let id = c.send(&["BLPOP", "never", "0"]);
    if let Some(bytes) = c.conn.poll_transmit() {
        c.stream.write_all(&bytes).unwrap();
    }
    server.kill();
    match c.wait(id) {
        Err(Error::Closed(m)) => assert!(m.contains("1 request(s) unanswered"), "{m}"),
        Err(Error::Io(_)) => {}
        other => panic!("{other:?}"),
    }
}
