//! The mio runtime: a redwire connection the user registers in their own `mio::Poll` with their own
//! `Token`, driven by readiness events.
//!
//! This file moves bytes between a non-blocking socket and the sans-IO [`crate::Connection`], tracks which
//! readiness to ask for, and bounds connect + handshake with [`Config::connect_timeout`]. It makes no
//! protocol decision: replies, pipelines, transactions, pub/sub and deadlines are the core's.

mod stream;

use crate::config::Address;
use crate::{Cmd, Config, Error, Event, Pipeline, RequestId, Result};
use bytes::{Buf, Bytes};
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Instant;
use stream::Stream;

/// The smallest and largest read, in bytes. Reads start small and double while they fill the buffer, so
/// a big reply costs few system calls and a small one does not zero a big buffer.
const MIN_READ: usize = 16 * 1024;
const MAX_READ: usize = 1024 * 1024;

/// A non-blocking redwire connection over a mio TCP or unix stream.
///
/// It owns the socket, the core [`crate::Connection`] and the bytes the socket did not take yet. Readiness
/// events go in, the core's [`Event`]s come out.
///
/// # Methods, by role
/// - **Construct**: [`connect`](Self::connect) (a non-blocking connect to [`Config::addr`]), or
///   [`from_tcp`](Self::from_tcp) / [`from_unix`](Self::from_unix) for a stream you opened yourself.
/// - **Register**: [`register`](Self::register) in your `Poll` with your `Token`;
///   [`deregister`](Self::deregister).
/// - **Send** (at any time, even before the connect completes; requests wait in order):
///   [`send`](Self::send), [`send_pipeline`](Self::send_pipeline),
///   [`send_transaction`](Self::send_transaction). Each writes what the socket takes at once and leaves
///   the rest to the next writable event.
/// - **Inputs**: [`handle_readiness`](Self::handle_readiness) for every mio event with this connection's
///   token, [`handle_timeout`](Self::handle_timeout) after `poll` returns.
/// - **Outputs**: [`poll_event`](Self::poll_event) (the core's events, then I/O failures),
///   [`poll_timeout`](Self::poll_timeout) (the earliest deadline, for `Poll::poll`'s timeout).
/// - **Getters**: [`core`](Self::core) (the protocol state: `is_ready`, `in_flight`, `is_subscribed`, ...),
///   [`is_connected`](Self::is_connected), [`is_fatal`](Self::is_fatal), [`interest`](Self::interest),
///   [`token`](Self::token), [`unwritten`](Self::unwritten), [`stats`](Self::stats).
///
/// # Readiness
/// Mio is edge-triggered, so every input goes as far as it can: a readable event reads until the socket
/// would block, a writable event writes until it would block. The connection asks for `READABLE`
/// always and for `WRITABLE` only while connecting or while bytes wait for the socket; it calls
/// `reregister` only when that changes.
///
/// # Errors
/// A refused connect, a reset, any I/O error and a connect + handshake slower than
/// [`Config::connect_timeout`] are fatal and sticky, as are the core's own fatal errors: after the events
/// already decoded, [`poll_event`](Self::poll_event) returns the error on this call and every later one,
/// and the `send*` methods return it. The server closing the socket mid-reply is the core's
/// [`Error::Closed`]: the half reply is never delivered. Drop the connection then.
///
/// # Example
/// One connection in a loop; with many, give each its own token and take the earliest
/// [`poll_timeout`](Self::poll_timeout) (`examples/mio_loop.rs` runs 101).
///
/// ```no_run
/// use mio::{Events, Poll, Token};
/// use redwire::{Cmd, Config, Event};
/// use std::time::Instant;
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let mut poll = Poll::new()?;
///     let mut events = Events::with_capacity(64);
///     let config = Config::from_url("redis://127.0.0.1:6379?response_timeout=2s")?;
///     let mut conn = redwire::mio::Connection::connect(config, Instant::now())?;
///     conn.register(poll.registry(), Token(7))?;
///     let id = conn.send(&Cmd::new("INCR").arg("visits"), Instant::now())?;
///     loop {
///         let timeout = conn.poll_timeout().map(|at| at.saturating_duration_since(Instant::now()));
///         poll.poll(&mut events, timeout)?;
///         for event in &events {
///             if event.token() == Token(7) {
///                 conn.handle_readiness(event);
///             }
///         }
///         conn.handle_timeout(Instant::now());
///         while let Some(event) = conn.poll_event()? {
///             if let Event::Reply { id: got, value, .. } = event {
///                 assert_eq!(got, id);
///                 println!("visits: {value:?}");
///                 return Ok(());
///             }
///         }
///     }
/// }
/// ```
pub struct Connection {
    core: crate::Connection,
    stream: Stream,
    /// The address connected (or being connected) to, for error messages.
    target: String,
    /// Further addresses the host name resolved to, tried in order when a connect fails.
    untried: std::vec::IntoIter<SocketAddr>,
    phase: Phase,
    /// The part of the last `poll_transmit` chunk the socket has not taken yet.
    unwritten: Bytes,
    registration: Option<Registration>,
    connect_deadline: Option<Instant>,
    dead: Option<Dead>,
    read_size: usize,
    stats: IoStats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Open,
    /// The server closed its end; the core was told.
    Eof,
}

#[derive(Debug)]
struct Registration {
    /// A clone of the user's registry (one duplicated file descriptor), so interest can change from any
    /// method without the caller passing the registry around.
    registry: Registry,
    token: Token,
    interest: Interest,
}

/// Why the adapter (not the core) gave up. `Error` is not `Clone`, so the sticky error is rebuilt.
#[derive(Debug)]
enum Dead {
    Io(io::ErrorKind, String),
    Timeout(String),
}

impl Dead {
    fn error(&self) -> Error {
        match self {
            Dead::Io(kind, message) => Error::Io(io::Error::new(*kind, message.clone())),
            Dead::Timeout(message) => Error::Timeout(message.clone()),
        }
    }
}

/// Counters of what a [`Connection`]'s socket did, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IoStats {
    /// Reads that returned bytes.
    pub reads: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Reads that found nothing (`WouldBlock`): the end of a readable event.
    pub read_would_block: u64,
    /// Writes that took bytes.
    pub writes: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Writes the socket refused (`WouldBlock`): the rest waits for a writable event.
    pub write_would_block: u64,
    /// Calls to `Registry::reregister` (interest changes).
    pub reregisters: u64,
}

impl Connection {
    /// Starts a non-blocking connect to `config`'s address and queues the handshake; `now` starts the
    /// [`Config::connect_timeout`] that bounds connect + handshake. Then [`register`](Self::register) it.
    ///
    /// A host name is resolved with the system resolver, which blocks; when the name has several
    /// addresses they are tried in order until one connects. Pass an IP address (or open the stream
    /// yourself and use [`from_tcp`](Self::from_tcp)) to never block.
    ///
    /// # Errors
    /// [`Error::Io`] when the name does not resolve or every address fails at once (a unix socket path
    /// that does not exist, a refused unix connect). A TCP connect that fails later is reported by
    /// [`poll_event`](Self::poll_event).
    pub fn connect(config: Config, now: Instant) -> Result<Connection> {
        match config.addr().clone() {
            Address::Tcp { host, port } => {
                let resolved = (host.as_str(), port)
                    .to_socket_addrs()
                    .map_err(|e| context(e, format_args!("cannot resolve {host}:{port}")))?;
                Ok(Connection::connect_addrs(resolved.collect(), config, now)?)
            }
            Address::Unix(path) => {
                let stream = UnixStream::connect(&path)
                    .map_err(|e| context(e, format_args!("cannot connect to unix:{}", path.display())))?;
                Ok(Connection::with_stream(Stream::Unix(stream), config, now))
            }
        }
    }

    /// Connects to the first of `addrs` that does not fail, keeping the rest for when it fails later.
    fn connect_addrs(addrs: Vec<SocketAddr>, config: Config, now: Instant) -> io::Result<Connection> {
        let mut untried = addrs.into_iter();
        let (stream, addr) = connect_next(&mut untried, None)?;
        let mut conn = Connection::with_stream(stream, config, now);
        conn.target = addr.to_string();
        conn.untried = untried;
        Ok(conn)
    }

    /// Wraps a TCP stream you opened (connected, or connecting without blocking): [`Config::addr`] is
    /// not used, everything else is. `now` starts the connect + handshake timeout.
    pub fn from_tcp(stream: TcpStream, config: Config, now: Instant) -> Connection {
        let mut conn = Connection::with_stream(Stream::Tcp(stream), config, now);
        if let Stream::Tcp(s) = &conn.stream {
            conn.target = s.peer_addr().map_or_else(|_| conn.target.clone(), |a| a.to_string());
        }
        conn
    }

    /// Wraps a unix stream you opened; see [`from_tcp`](Self::from_tcp).
    pub fn from_unix(stream: UnixStream, config: Config, now: Instant) -> Connection {
        Connection::with_stream(Stream::Unix(stream), config, now)
    }

    fn with_stream(stream: Stream, config: Config, now: Instant) -> Connection {
        let connect_deadline = config.connect_timeout().and_then(|t| now.checked_add(t));
        Connection {
            target: config.addr().to_string(),
            core: crate::Connection::new(config),
            stream,
            untried: Vec::new().into_iter(),
            phase: Phase::Connecting,
            unwritten: Bytes::new(),
            registration: None,
            connect_deadline,
            dead: None,
            read_size: MIN_READ,
            stats: IoStats::default(),
        }
    }

    // ---- registration ----

    /// Registers the socket in `registry` under `token`. Every mio event carrying `token` must then be
    /// passed to [`handle_readiness`](Self::handle_readiness). The connection keeps a clone of the
    /// registry (`Registry::try_clone`, one file descriptor) to change its interest later.
    ///
    /// # Errors
    /// [`Error::Usage`] when already registered (call [`deregister`](Self::deregister) first);
    /// [`Error::Io`] when mio refuses.
    pub fn register(&mut self, registry: &Registry, token: Token) -> Result<()> {
        if self.registration.is_some() {
            return Err(Error::Usage(
                "this connection is already registered; call deregister() before registering it again".into(),
            ));
        }
        let interest = self.wanted_interest();
        let clone = registry.try_clone()?;
        registry.register(&mut self.stream, token, interest)?;
        self.registration = Some(Registration { registry: clone, token, interest });
        Ok(())
    }

    /// Removes the socket from the registry it was registered in (a no-op when not registered).
    ///
    /// # Errors
    /// [`Error::Io`] when mio refuses.
    pub fn deregister(&mut self) -> Result<()> {
        if let Some(reg) = self.registration.take() {
            reg.registry.deregister(&mut self.stream)?;
        }
        Ok(())
    }

    // ---- getters ----

    /// The protocol state: [`is_ready`](crate::Connection::is_ready),
    /// [`in_flight`](crate::Connection::in_flight), [`is_subscribed`](crate::Connection::is_subscribed),
    /// [`is_poisoned`](crate::Connection::is_poisoned), [`protocol`](crate::Connection::protocol), ...
    pub fn core(&self) -> &crate::Connection {
        &self.core
    }

    /// `true` once the socket is connected (the handshake may still be under way: see
    /// [`crate::Connection::is_ready`]). Stays `true` after the server closed.
    pub fn is_connected(&self) -> bool {
        self.phase != Phase::Connecting
    }

    /// `true` when the connection must be dropped: an I/O failure or a connect timeout here, or a fatal
    /// error in the core ([`crate::Connection::is_fatal`]).
    pub fn is_fatal(&self) -> bool {
        self.dead.is_some() || self.core.is_fatal()
    }

    /// The token given to [`register`](Self::register), if registered.
    pub fn token(&self) -> Option<Token> {
        self.registration.as_ref().map(|r| r.token)
    }

    /// The interest registered now: `READABLE`, plus `WRITABLE` while connecting or while
    /// [`unwritten`](Self::unwritten) bytes wait. `None` when not registered.
    pub fn interest(&self) -> Option<Interest> {
        self.registration.as_ref().map(|r| r.interest)
    }

    /// Bytes handed out by the core that the socket has not taken yet.
    pub fn unwritten(&self) -> usize {
        self.unwritten.len()
    }

    /// What the socket did so far.
    pub fn stats(&self) -> IoStats {
        self.stats
    }

    // ---- sending ----

    /// Queues a command (see [`crate::Connection::send`]) and writes what the socket takes at once.
    ///
    /// # Errors
    /// The core's usage errors (nothing sent, the connection stays usable) and the sticky fatal error
    /// once the connection is dead. A write that fails here is reported by [`poll_event`](Self::poll_event).
    pub fn send(&mut self, cmd: &Cmd, now: Instant) -> Result<RequestId> {
        self.alive()?;
        let id = self.core.send(cmd, now)?;
        self.write_new();
        Ok(id)
    }

    /// Queues a pipeline (see [`crate::Connection::send_pipeline`]) and writes what the socket takes.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn send_pipeline(&mut self, pipeline: &Pipeline, now: Instant) -> Result<RequestId> {
        self.alive()?;
        let id = self.core.send_pipeline(pipeline, now)?;
        self.write_new();
        Ok(id)
    }

    /// Queues `MULTI`, `cmds`, `EXEC` (see [`crate::Connection::send_transaction`]) and writes what the
    /// socket takes.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn send_transaction(&mut self, cmds: &[Cmd], now: Instant) -> Result<RequestId> {
        self.alive()?;
        let id = self.core.send_transaction(cmds, now)?;
        self.write_new();
        Ok(id)
    }

    // ---- inputs ----

    /// Handles one mio event for this connection's token: completes the connect, reads until the socket
    /// would block, writes until it would block. Then drain [`poll_event`](Self::poll_event).
    pub fn handle_readiness(&mut self, event: &mio::event::Event) {
        if self.dead.is_some() {
            return;
        }
        if self.phase == Phase::Connecting {
            self.check_connect();
            return; // a completed connect already read and wrote what it could
        }
        if event.is_error() {
            if let Ok(Some(e)) = self.stream.take_error() {
                return self.fail_io(e);
            }
        }
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            self.read();
        }
        if event.is_writable() {
            self.write();
        }
    }

    /// Tells the connection the time; call it after every `Poll::poll`. Past the connect deadline
    /// (connect + handshake), the connection fails with [`Error::Timeout`]; past a request's deadline,
    /// the core emits [`Event::TimedOut`] and is poisoned.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.dead.is_some() {
            return;
        }
        match self.connect_deadline {
            Some(at) if now >= at && self.connecting_or_handshaking() => {
                let step =
                    if self.phase == Phase::Connecting { "connecting to" } else { "the handshake with" };
                let limit = self.core.config().connect_timeout().unwrap_or_default();
                self.dead = Some(Dead::Timeout(format!(
                    "{step} {} took longer than the connect timeout ({limit:?}, Config::with_connect_timeout)",
                    self.target
                )));
            }
            _ => self.core.handle_timeout(now),
        }
    }

    // ---- outputs ----

    /// The next event: the core's events first, then the adapter's own failure. `Ok(None)`: nothing
    /// more until the next readiness event or timeout.
    ///
    /// # Errors
    /// Sticky, once the connection is dead: the core's fatal errors (decode, protocol, handshake,
    /// [`Error::Poisoned`], [`Error::Closed`]), [`Error::Io`] for a failed connect or socket, and
    /// [`Error::Timeout`] for a connect + handshake slower than [`Config::connect_timeout`].
    #[must_use = "events must be drained after every input"]
    pub fn poll_event(&mut self) -> Result<Option<Event>> {
        let event = self.core.poll_event()?;
        // Decoding may have released output: requests held behind the handshake, a RESP2 fallback.
        self.write_new();
        match (event, &self.dead) {
            (Some(event), _) => Ok(Some(event)),
            (None, Some(dead)) => Err(dead.error()),
            (None, None) => Ok(None),
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next: the connect deadline until the
    /// socket is connected and the handshake completed, and the core's earliest request deadline.
    /// `None`: no deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.dead.is_some() {
            return None;
        }
        let connect = self.connect_deadline.filter(|_| self.connecting_or_handshaking());
        match (connect, self.core.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ---- internals ----

    fn alive(&self) -> Result<()> {
        match &self.dead {
            Some(dead) => Err(dead.error()),
            None => Ok(()),
        }
    }

    /// While the connect deadline applies: until the socket is connected *and* the handshake is done.
    /// Both count, because a connection with no handshake to do (RESP2, no credentials, database 0) is
    /// ready in the core before its socket connects.
    fn connecting_or_handshaking(&self) -> bool {
        self.phase == Phase::Connecting || (!self.core.is_ready() && !self.core.is_fatal())
    }

    fn fail_io(&mut self, e: io::Error) {
        self.dead = Some(Dead::Io(e.kind(), format!("{}: {e}", self.target)));
    }

    /// After a writable or error event while connecting: connected, still connecting, or on to the next
    /// address.
    fn check_connect(&mut self) {
        let error = match self.stream.connect_state() {
            Ok(false) => return,
            Ok(true) => {
                self.phase = Phase::Open;
                self.write();
                self.read();
                return;
            }
            Err(e) => e,
        };
        let failed = context(error, format_args!("cannot connect to {}", self.target));
        match connect_next(&mut self.untried, Some(failed)) {
            Ok((stream, addr)) => self.replace_stream(stream, addr),
            Err(e) => self.dead = Some(Dead::Io(e.kind(), e.to_string())),
        }
    }

    fn replace_stream(&mut self, stream: Stream, addr: SocketAddr) {
        let mut old = std::mem::replace(&mut self.stream, stream);
        self.target = addr.to_string();
        if let Some(reg) = &self.registration {
            let result = reg.registry.deregister(&mut old).and_then(|()| {
                reg.registry.register(&mut self.stream, reg.token, Interest::READABLE | Interest::WRITABLE)
            });
            if let Err(e) = result {
                self.fail_io(e);
            }
        }
    }

    fn wanted_interest(&self) -> Interest {
        match self.phase {
            Phase::Connecting => Interest::READABLE | Interest::WRITABLE,
            _ if !self.unwritten.is_empty() => Interest::READABLE | Interest::WRITABLE,
            _ => Interest::READABLE,
        }
    }

    fn update_interest(&mut self) {
        let want = self.wanted_interest();
        let Some(reg) = &mut self.registration else { return };
        if reg.interest == want {
            return;
        }
        match reg.registry.reregister(&mut self.stream, reg.token, want) {
            Ok(()) => {
                reg.interest = want;
                self.stats.reregisters += 1;
            }
            Err(e) => self.fail_io(e),
        }
    }

    /// Writes new output from the core, unless earlier bytes are still waiting for a writable event (then
    /// the socket is full: trying again now would only return `WouldBlock`).
    fn write_new(&mut self) {
        if self.unwritten.is_empty() {
            self.write();
        }
    }

    /// Writes until the socket would block or the core has nothing more; then sets the interest.
    fn write(&mut self) {
        if self.phase != Phase::Open || self.dead.is_some() {
            return;
        }
        loop {
            if self.unwritten.is_empty() {
                match self.core.poll_transmit() {
                    Some(bytes) => self.unwritten = bytes,
                    None => break,
                }
            }
            match self.stream.write(&self.unwritten) {
                Ok(0) => return self.fail_io(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.stats.writes += 1;
                    self.stats.bytes_written += n as u64;
                    self.unwritten.advance(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.stats.write_would_block += 1;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.fail_io(e),
            }
        }
        self.update_interest();
    }

    /// Reads straight into the core's buffer until the socket would block or closes.
    fn read(&mut self) {
        while self.phase == Phase::Open && self.dead.is_none() {
            let size = self.read_size;
            let buf = self.core.read_buf();
            let start = buf.len();
            buf.resize(start + size, 0);
            let result = self.stream.read(&mut buf[start..]);
            buf.truncate(start + *result.as_ref().unwrap_or(&0));
            match result {
                Ok(0) => {
                    self.phase = Phase::Eof;
                    self.core.handle_eof();
                }
                Ok(n) => {
                    self.stats.reads += 1;
                    self.stats.bytes_read += n as u64;
                    self.read_size = match n {
                        n if n == size => (size * 2).min(MAX_READ),
                        n if n < size / 4 => (size / 2).max(MIN_READ),
                        _ => size,
                    };
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.stats.read_would_block += 1;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.fail_io(e),
            }
        }
    }
}

impl std::fmt::Debug for Connection {
    /// A summary: the unwritten bytes are shown by length only (they may hold credentials).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("target", &self.target)
            .field("phase", &self.phase)
            .field("token", &self.token())
            .field("interest", &self.interest())
            .field("unwritten", &self.unwritten.len())
            .field("dead", &self.dead)
            .field("core", &self.core)
            .finish()
    }
}

/// Starts a non-blocking connect to the next address that accepts one; `last` is the error to report
/// when none is left.
fn connect_next(
    untried: &mut std::vec::IntoIter<SocketAddr>,
    mut last: Option<io::Error>,
) -> io::Result<(Stream, SocketAddr)> {
    for addr in untried.by_ref() {
        match TcpStream::connect(addr).and_then(|s| s.set_nodelay(true).map(|()| s)) {
            Ok(stream) => return Ok((Stream::Tcp(stream), addr)),
            Err(e) => last = Some(context(e, format_args!("cannot connect to {addr}"))),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the host name has no address")))
}

/// `e` with what was being done in front of its message, keeping its kind.
fn context(e: io::Error, what: std::fmt::Arguments<'_>) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

#[cfg(test)]
mod tests;
