//! The loop the mio tests drive connections with: one `mio::Poll`, connections told apart by token, and
//! helpers that turn the loop until a connection produces the event a test waits for.
//!
//! Test-only and assertion-free, except the guard that fails a test waiting longer than `IDLE`.
#![allow(dead_code)]

use mio::{Events, Poll, Token};
use redwire::mio::Connection;
use redwire::resp::Value;
use redwire::{Cmd, Config, Error, Event, RequestId};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The longest a test waits for one event: a hung test fails instead.
pub const IDLE: Duration = Duration::from_secs(20);

/// One poll, many connections; connection `i` is registered with `Token(i)`.
pub struct Loop {
    poll: Poll,
    events: Events,
    conns: Vec<Connection>,
    /// Events that arrived while the test waited for something else, per connection.
    stash: Vec<VecDeque<Event>>,
    /// `Poll::poll` calls so far.
    pub polls: u64,
}

impl Default for Loop {
    fn default() -> Self {
        Loop::new()
    }
}

impl Loop {
    pub fn new() -> Loop {
        Loop {
            poll: Poll::new().unwrap(),
            events: Events::with_capacity(256),
            conns: vec![],
            stash: vec![],
            polls: 0,
        }
    }

    /// Connects to `config`'s address and registers the connection; returns its index.
    pub fn connect(&mut self, config: Config) -> usize {
        let conn = Connection::connect(config, Instant::now()).expect("connect");
        self.add(conn)
    }

    pub fn connect_url(&mut self, url: &str) -> usize {
        self.connect(Config::from_url(url).unwrap())
    }

    /// Registers a connection made elsewhere; returns its index.
    pub fn add(&mut self, mut conn: Connection) -> usize {
        let i = self.conns.len();
        conn.register(self.poll.registry(), Token(i)).unwrap();
        self.conns.push(conn);
        self.stash.push(VecDeque::new());
        i
    }

    pub fn conn(&mut self, i: usize) -> &mut Connection {
        &mut self.conns[i]
    }

    /// One turn: poll (no longer than the earliest deadline or `cap`), hand every event to its connection,
    /// tell every connection the time, and stash every connection's events.
    pub fn turn(&mut self, cap: Duration) {
        let now = Instant::now();
        let wait = self
            .conns
            .iter()
            .filter_map(Connection::poll_timeout)
            .min()
            .map_or(cap, |at| at.saturating_duration_since(now).min(cap));
        self.poll.poll(&mut self.events, Some(wait)).unwrap();
        self.polls += 1;
        for event in &self.events {
            if let Some(conn) = self.conns.get_mut(event.token().0) {
                conn.handle_readiness(event);
            }
        }
        let now = Instant::now();
        for (conn, stash) in self.conns.iter_mut().zip(&mut self.stash) {
            conn.handle_timeout(now);
            while let Ok(Some(event)) = conn.poll_event() {
                stash.push_back(event);
            }
        }
    }

    /// The next event of connection `i` (or its sticky error), turning the loop as needed.
    pub fn next(&mut self, i: usize) -> Result<Event, Error> {
        self.next_matching(i, |_| true)
    }

    /// The next event of connection `i` that answers `id`, leaving the others stashed.
    pub fn wait(&mut self, i: usize, id: RequestId) -> Result<Event, Error> {
        self.next_matching(i, |e| e.id() == Some(id))
    }

    pub fn next_matching(&mut self, i: usize, want: impl Fn(&Event) -> bool) -> Result<Event, Error> {
        let give_up = Instant::now() + IDLE;
        loop {
            if let Some(at) = self.stash[i].iter().position(&want) {
                return Ok(self.stash[i].remove(at).unwrap());
            }
            match self.conns[i].poll_event() {
                Ok(Some(event)) => self.stash[i].push_back(event),
                Ok(None) => {
                    assert!(Instant::now() < give_up, "connection {i}: nothing within {IDLE:?}");
                    self.turn(Duration::from_millis(200));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits for the handshake of connection `i`.
    pub fn ready(&mut self, i: usize) {
        match self.next_matching(i, |e| matches!(e, Event::Ready)) {
            Ok(_) => {}
            Err(e) => panic!("connection {i}: handshake failed: {e}"),
        }
    }

    /// Turns the loop until connection `i`'s socket is connected (a RESP2 connection with nothing to
    /// set up is `Ready` before that: it has no handshake to wait for).
    pub fn connected(&mut self, i: usize) {
        let give_up = Instant::now() + IDLE;
        while !self.conns[i].is_connected() {
            assert!(Instant::now() < give_up, "connection {i}: not connected within {IDLE:?}");
            self.turn(Duration::from_millis(200));
        }
    }

    pub fn send(&mut self, i: usize, words: &[&str]) -> RequestId {
        self.conns[i].send(&cmd(words), Instant::now()).unwrap()
    }

    /// Sends a command and waits for its reply.
    pub fn call(&mut self, i: usize, words: &[&str]) -> Value {
        let id = self.send(i, words);
        match self.wait(i, id) {
            Ok(Event::Reply { value, .. }) => value,
            other => panic!("{words:?}: expected a reply, got {other:?}"),
        }
    }

    /// Every event stashed for connection `i` so far.
    pub fn take_stash(&mut self, i: usize) -> Vec<Event> {
        self.stash[i].drain(..).collect()
    }
}

pub fn cmd(words: &[&str]) -> Cmd {
    let mut c = Cmd::new(words[0]);
    for w in &words[1..] {
        c.add_arg(*w);
    }
    c
}

pub fn bulk(s: &str) -> Value {
    Value::BulkString(s.to_string().into())
}

pub fn ok() -> Value {
    Value::SimpleString("OK".into())
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
