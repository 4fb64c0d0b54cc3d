//! [`Conn`]: one sans-IO [`Connection`] over one [`Stream`], and the one small loop that drives it: write
//! what `poll_transmit` gives, read into `read_buf`, drain `poll_event`, and call `handle_timeout` when
//! the socket's read timeout (derived from `poll_timeout`) ends a wait.
//!
//! The clock is read here (`Instant::now`), never in the core. No protocol decision is made here: which
//! request a reply answers, when a connection is poisoned or reusable, is the core's answer.

use super::stream::{Connector, Stream};
use crate::push::PushSink;
use crate::resp::Value;
use crate::{Cmd, Config, Connection, Error, Event, RequestId, Result};
use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::time::{Duration, Instant};

/// The first read asks for this much; the size doubles while reads fill it and shrinks when they do not.
const MIN_READ: usize = 8 * 1024;
const MAX_READ: usize = 1024 * 1024;
/// The shortest socket timeout set (std refuses zero).
const MIN_WAIT: Duration = Duration::from_millis(1);

/// A connection with its stream.
pub(crate) struct Conn {
    pub(crate) conn: Connection,
    stream: Box<dyn Stream>,
    /// An I/O error or a fatal event happened: never reuse, whatever the core says.
    broken: bool,
    /// The read timeout the socket has now, to skip redundant `setsockopt` calls.
    read_timeout: Option<Duration>,
    read_size: usize,
    /// Pub/sub messages and unsolicited confirmations that arrived while waiting for a reply.
    pub(crate) stash: VecDeque<Event>,
    /// When the connection was last handed back (for the pool's idle health check).
    pub(crate) idle_since: Instant,
    /// Where RESP3 pushes that answer no request go.
    pushes: PushSink,
}

impl Conn {
    /// Connects with `connector` and completes the handshake, all within `Config::connect_timeout`.
    /// Pushes that answer no request go to `pushes`.
    pub(crate) fn open(config: &Config, connector: &dyn Connector, pushes: PushSink) -> Result<Conn> {
        let started = Instant::now();
        let budget = config.connect_timeout();
        let deadline = budget.and_then(|t| started.checked_add(t));
        let addr = config.addr();
        let mut stream = connector
            .connect(config, budget)
            .map_err(|e| Error::Io(io::Error::new(e.kind(), format!("cannot connect to {addr}: {e}"))))?;
        stream.set_write_timeout(budget)?;
        let mut conn = Conn {
            conn: Connection::new(config.clone()),
            stream,
            broken: false,
            read_timeout: Some(Duration::MAX), // unknown: the first wait sets it
            read_size: MIN_READ,
            stash: VecDeque::new(),
            idle_since: started,
            pushes,
        };
        loop {
            match conn.next_event(deadline)? {
                Some(Event::Ready) => break,
                Some(other) => conn.stash.push_back(other),
                None => {
                    return Err(Error::Timeout(format!(
                        "connecting to {addr}: no answer to the handshake within {:?} \
                         (Config::connect_timeout, URL parameter connect_timeout)",
                        budget.unwrap_or_default()
                    )))
                }
            }
        }
        conn.stream.set_write_timeout(config.response_timeout())?;
        Ok(conn)
    }

    /// `true` when a pool may hand this connection to someone else (the core's verdict, plus what only
    /// the runtime knows: no I/O error, nothing stashed, no unread bytes).
    pub(crate) fn is_reusable(&mut self) -> bool {
        !self.broken && self.stash.is_empty() && self.conn.is_reusable() && self.conn.read_buf().is_empty()
    }

    /// Sends one request built by `send` and waits for the event that answers it. Pub/sub messages that
    /// arrive meanwhile are stashed.
    ///
    /// # Errors
    /// A usage error from `send` (nothing was sent, the connection is fine); [`Error::Timeout`] when the
    /// response timeout passed (the connection is poisoned); the connection's fatal error.
    pub(crate) fn call(
        &mut self,
        send: impl FnOnce(&mut Connection, Instant) -> Result<RequestId>,
    ) -> Result<Event> {
        let id = send(&mut self.conn, Instant::now())?;
        self.wait_for(id, None)?.ok_or_else(endless_wait_ended)
    }

    /// Sends one command and returns its raw reply (server errors as [`Value::Error`]).
    pub(crate) fn request(&mut self, cmd: &Cmd) -> Result<Value> {
        match self.call(|c, now| c.send(cmd, now))? {
            Event::Reply { value, .. } => Ok(value),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Waits for the event answering `id`; `Ok(None)` when `until` passes first (the request is still in
    /// flight, so the connection is no longer reusable).
    pub(crate) fn wait_for(&mut self, id: RequestId, until: Option<Instant>) -> Result<Option<Event>> {
        loop {
            let Some(event) = self.next_event(until)? else { return Ok(None) };
            match event {
                Event::TimedOut { .. } => {
                    self.broken = true;
                    return Err(Error::Timeout(format!(
                        "no reply from {} within the response timeout of {:?}; the connection was closed, \
                         because a late reply could be matched to the wrong request",
                        self.conn.config().addr(),
                        self.conn.config().response_timeout().unwrap_or_default()
                    )));
                }
                e if e.id() == Some(id) => return Ok(Some(e)),
                e @ (Event::Message(_) | Event::Subscription { .. }) => self.stash.push_back(e),
                _ => {} // Ready after RESET
            }
        }
    }

    /// A protocol error for an event that cannot answer the request (the connection is discarded).
    pub(crate) fn unexpected(&mut self, event: &Event) -> Error {
        self.broken = true;
        Error::Protocol(format!("internal: unexpected {event:?} for a request"))
    }

    /// Writes what is pending, then returns the next event, reading as needed. `Ok(None)` once `until`
    /// passes with no event. RESP3 pushes that answer no request go to the push sink, never to the
    /// caller. Every error is fatal for this connection.
    pub(crate) fn next_event(&mut self, until: Option<Instant>) -> Result<Option<Event>> {
        let result = self.turn(until);
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    fn turn(&mut self, until: Option<Instant>) -> Result<Option<Event>> {
        loop {
            while let Some(bytes) = self.conn.poll_transmit() {
                self.stream.write_all(&bytes)?;
            }
            match self.conn.poll_event()? {
                Some(Event::Push(push)) => {
                    self.pushes.deliver(push);
                    continue;
                }
                Some(event) => return Ok(Some(event)),
                None => {}
            }
            let now = Instant::now();
            let deadline = self.conn.poll_timeout();
            if deadline.is_some_and(|at| at <= now) {
                self.conn.handle_timeout(now);
                continue;
            }
            if until.is_some_and(|at| at <= now) {
                return Ok(None);
            }
            let wake = match (deadline, until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            self.arm_read_timeout(wake.map(|at| at.saturating_duration_since(now).max(MIN_WAIT)))?;
            match self.read() {
                Ok(0) => self.conn.handle_eof(),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Takes what the socket holds right now, without waiting (a pub/sub reader keeping the server's
    /// output buffer small): `between` runs before each read (it drains the events of the previous one, so
    /// at most one read's bytes wait undecoded) and says whether to read on; reading also stops at a short
    /// read (the socket is empty), end-of-file or `WouldBlock`, leaving the last read's events to the
    /// caller. `Ok(false)`: the stream has no non-blocking mode and
    /// nothing was read. Every error is fatal for this connection.
    pub(crate) fn read_ready(&mut self, mut between: impl FnMut(&mut Conn) -> Result<bool>) -> Result<bool> {
        match self.stream.set_nonblocking(true) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Unsupported => return Ok(false),
            Err(e) => {
                self.broken = true;
                return Err(e.into());
            }
        }
        let mut result = Ok(true);
        while matches!(result, Ok(true)) {
            result = between(self);
            if !matches!(result, Ok(true)) {
                break;
            }
            let asked = self.read_size;
            result = match self.read() {
                Ok(0) => {
                    self.conn.handle_eof();
                    Ok(false)
                }
                Ok(n) => Ok(n == asked),
                Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => Ok(true),
                Err(e) => Err(e.into()),
            };
        }
        if let Err(e) = self.stream.set_nonblocking(false) {
            result = result.and(Err(e.into()));
        }
        if result.is_err() {
            self.broken = true;
        }
        result.map(|_| true)
    }

    /// The next event the connection has decoded already, without any I/O (pushes that answer no
    /// request go to the push sink). Every error is fatal for this connection.
    pub(crate) fn poll_decoded(&mut self) -> Result<Option<Event>> {
        loop {
            match self.conn.poll_event() {
                Ok(Some(Event::Push(push))) => self.pushes.deliver(push),
                Ok(event) => return Ok(event),
                Err(e) => {
                    self.broken = true;
                    return Err(e);
                }
            }
        }
    }

    /// Sets the socket's read timeout to about `wait`. A timeout already set that is at most a little
    /// longer is kept (a wait may end up to 1/64 late, at least 1 ms): one `setsockopt` per request would
    /// otherwise be spent on a value that barely changed.
    fn arm_read_timeout(&mut self, wait: Option<Duration>) -> io::Result<()> {
        let keep = match (self.read_timeout, wait) {
            (None, None) => true,
            (Some(set), Some(want)) => set >= want && set - want <= (want / 64).max(MIN_WAIT),
            _ => false,
        };
        if !keep {
            self.stream.set_read_timeout(wait)?;
            self.read_timeout = wait;
        }
        Ok(())
    }

    /// One read straight into the connection's buffer, of up to `read_size` bytes, which then adapts.
    /// When the core knows the reply needs fewer (the tail of a large bulk string), the read asks for
    /// that much (at least `MIN_READ`), so no more room than the reply fills is zeroed, and the size
    /// stays as it was.
    fn read(&mut self) -> io::Result<usize> {
        let needed = self.conn.bytes_needed();
        if needed > 0 && needed < self.read_size {
            return self.read_at_most(needed.max(MIN_READ));
        }
        let result = self.read_at_most(self.read_size);
        let n = *result.as_ref().unwrap_or(&0);
        if n == self.read_size {
            self.read_size = (self.read_size * 2).min(MAX_READ);
        } else if n > 0 && n < self.read_size / 4 {
            self.read_size = (self.read_size / 2).max(MIN_READ);
        }
        result
    }

    /// One read of at most `max` bytes into the connection's buffer. The room is zero-filled before the
    /// read (safe code cannot hand the socket uninitialised memory), so `max` bounds that cost as well.
    fn read_at_most(&mut self, max: usize) -> io::Result<usize> {
        let buf = self.conn.read_buf();
        let start = buf.len();
        buf.resize(start + max, 0);
        let result = self.stream.read(&mut buf[start..]);
        buf.truncate(start + *result.as_ref().unwrap_or(&0));
        result
    }

    /// The pool's quick liveness probe for an idle connection: one non-blocking read. End-of-file (the
    /// server closed it: `CLIENT KILL`, `timeout`, a restart) or bytes the core rejects mean dead. When the
    /// stream has no non-blocking mode the probe cannot tell and says alive.
    pub(crate) fn probe(&mut self) -> bool {
        // Sockets peek in one system call: nothing waiting (the usual case) is alive, end-of-file dead;
        // waiting bytes (and streams that cannot peek) take the read below, whose bytes the core judges.
        match self.stream.peek_nonblocking() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => return self.is_reusable(),
            Ok(0) => return false,
            _ => {}
        }
        match self.stream.set_nonblocking(true) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Unsupported => return !self.broken,
            Err(_) => return false,
        }
        // Almost always nothing is there: a small read, not one sized for the last big reply (whose room
        // would be zero-filled for nothing). Unasked bytes beyond it leave the buffer partial: discarded.
        let read = self.read_at_most(MIN_READ);
        let restored = self.stream.set_nonblocking(false).is_ok();
        let alive = match read {
            Ok(0) => false,
            Err(e) => e.kind() == ErrorKind::WouldBlock,
            // Unasked bytes: only the core knows whether they are harmless (a RESP3 push, handed to the
            // push sink) or not.
            Ok(_) => loop {
                match self.conn.poll_event() {
                    Ok(Some(Event::Push(push))) => self.pushes.deliver(push),
                    Ok(Some(_)) | Err(_) => break false,
                    Ok(None) => break true,
                }
            },
        };
        alive && restored && self.is_reusable()
    }

    /// The idle health check: `PING`, answered within `within`.
    pub(crate) fn ping(&mut self, within: Duration) -> bool {
        let Ok(id) = self.conn.send(&Cmd::new("PING"), Instant::now()) else { return false };
        let until = Instant::now().checked_add(within);
        match self.wait_for(id, until) {
            Ok(Some(Event::Reply { value, .. })) => !matches!(value, Value::Error(_)) && self.is_reusable(),
            _ => {
                self.broken = true;
                false
            }
        }
    }

    /// Sends `UNWATCH` if the connection is watching, waiting at most `within` for the reply; when that
    /// fails the connection is marked broken (the pool then discards it).
    pub(crate) fn unwatch(&mut self, within: Duration) {
        if !self.conn.is_watching() || self.broken {
            return;
        }
        let Ok(id) = self.conn.send(&Cmd::new("UNWATCH"), Instant::now()) else {
            self.broken = true;
            return;
        };
        let until = Instant::now().checked_add(within);
        if !matches!(self.wait_for(id, until), Ok(Some(Event::Reply { .. }))) {
            self.broken = true;
        }
    }
}

/// The error for a wait without a time limit that returned nothing (it cannot).
pub(crate) fn endless_wait_ended() -> Error {
    Error::Protocol("internal: a wait without a time limit ended".into())
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("conn", &self.conn).field("broken", &self.broken).finish()
    }
}
