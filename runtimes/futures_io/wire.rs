//! [`Wire`]: one socket and the [`Connection`] that speaks over it. Connects (bounded by the connect
//! timeout, handshake included), writes what `poll_transmit` hands out, reads into `read_buf`, and turns
//! `poll_timeout` into a runtime timer. Used by the shared driver task and, directly, by the dedicated
//! connections (blocking commands, WATCH transactions, pub/sub).
//!
//! No routing, no pooling and no reply matching here: the caller decides what an event means.

use super::{replicate, AsyncIo, Rt};
use crate::push::PushSink;
use crate::{Config, Connection, Error, Event, RequestId, Result};
use bytes::{Buf, Bytes};
use futures_io::{AsyncRead, AsyncWrite};
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

/// Bytes asked of the socket per read; doubled (up to `MAX_READ`) while reads fill it.
const MIN_READ: usize = 16 * 1024;
const MAX_READ: usize = 256 * 1024;

/// A connected socket and its protocol state.
pub(crate) struct Wire<R: Rt> {
    io: Box<dyn AsyncIo>,
    pub(crate) conn: Connection,
    /// The chunk being written (what is left of it).
    writing: Bytes,
    /// Bytes were written since the last completed flush.
    unflushed: bool,
    read_size: usize,
    /// The timer for the nearest deadline, and that deadline.
    sleep: Option<(Instant, R::Sleep)>,
    /// Until the handshake completes: when the connect timeout passes.
    handshake_deadline: Option<Instant>,
    /// Set on an I/O error or a failed handshake deadline: the wire is dead.
    failed: Option<Error>,
    /// Where RESP3 pushes that answer no request go.
    pushes: PushSink,
}

impl<R: Rt> Wire<R> {
    /// Opens a socket and completes the handshake, both within `config`'s connect timeout. Pushes that
    /// answer no request will go to `pushes`.
    ///
    /// # Errors
    /// The socket's I/O error, [`Error::Timeout`] when the connect timeout passed, or the handshake's error.
    pub(crate) async fn connect(config: &Config, pushes: PushSink) -> Result<Wire<R>> {
        let deadline = config.connect_timeout().and_then(|d| Instant::now().checked_add(d));
        let connect = R::connect(config.addr().clone());
        let io = match deadline {
            Some(at) => match race(connect, R::sleep_until(at)).await {
                Some(io) => io,
                None => return Err(connect_timeout(config)),
            },
            None => connect.await,
        }
        .map_err(|e| {
            Error::Io(io::Error::new(e.kind(), format!("cannot connect to {}: {e}", config.addr())))
        })?;
        let mut wire = Wire {
            io,
            conn: Connection::new(config.clone()),
            writing: Bytes::new(),
            unflushed: false,
            read_size: MIN_READ,
            sleep: None,
            handshake_deadline: deadline,
            failed: None,
            pushes,
        };
        loop {
            match poll_fn(|cx| wire.poll_event(cx)).await? {
                Event::Ready => break,
                _ => continue, // nothing else can come before Ready on a fresh connection
            }
        }
        wire.handshake_deadline = None;
        Ok(wire)
    }

    /// `true` while a pool may hand this wire to someone else: nothing in flight or half-written, no
    /// failure, and the connection itself clean (see [`Connection::is_reusable`]).
    pub(crate) fn is_reusable(&self) -> bool {
        self.failed.is_none() && self.writing.is_empty() && !self.unflushed && self.conn.is_reusable()
    }

    /// A health check without waiting: a wire that has anything to say while idle (other than a push,
    /// which goes to the push sink) has been closed by the server or sent something nobody asked for,
    /// and must not be reused.
    pub(crate) fn is_idle_and_open(&mut self) -> bool {
        if !self.is_reusable() {
            return false;
        }
        let waker = Waker::from(std::sync::Arc::new(Noop));
        self.poll_event(&mut Context::from_waker(&waker)).is_pending() && self.is_reusable()
    }

    /// Sends one request through `send` (which calls a `Connection::send*`) and waits for the event that
    /// answers it. Events for no request (pushes, pub/sub traffic) are handed to `other`.
    ///
    /// # Errors
    /// `send`'s usage error (the wire stays usable), [`Error::Timeout`] when the request's deadline
    /// passed, or the wire's fatal error.
    pub(crate) async fn request(
        &mut self,
        send: impl FnOnce(&mut Connection, Instant) -> Result<RequestId>,
        mut other: impl FnMut(Event),
    ) -> Result<Event> {
        if let Some(e) = &self.failed {
            return Err(replicate(e));
        }
        let id = send(&mut self.conn, Instant::now())?;
        loop {
            let event = poll_fn(|cx| self.poll_event(cx)).await?;
            match event.id() {
                Some(got) if got == id => {
                    return match event {
                        Event::TimedOut { .. } => Err(timed_out(&self.conn, id)),
                        // Confirmations come one per channel; the last one ends the request.
                        Event::Subscription { done: false, .. } => {
                            other(event);
                            continue;
                        }
                        event => Ok(event),
                    };
                }
                _ => other(event),
            }
        }
    }

    /// The next event: writes what is queued, reads when the connection needs input, fires deadlines.
    /// RESP3 pushes that answer no request go to the push sink, never to the caller. `Ready(Err)` is
    /// fatal (sticky: later calls return it again).
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Result<Event>> {
        loop {
            if let Some(e) = &self.failed {
                return Poll::Ready(Err(replicate(e)));
            }
            if let Poll::Ready(Err(e)) = self.poll_write(cx) {
                self.failed = Some(e.into());
                continue;
            }
            match self.conn.poll_event() {
                Ok(Some(Event::Push(push))) => {
                    self.pushes.deliver(push);
                    continue;
                }
                Ok(Some(event)) => return Poll::Ready(Ok(event)),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            if self.poll_deadline(cx).is_ready() {
                continue;
            }
            match self.poll_read(cx) {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(e)) => self.failed = Some(e.into()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Writes everything `poll_transmit` has, then flushes (a stream with its own buffer, such as TLS,
    /// sends nothing until flushed). `Pending` leaves the rest for the next call.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.writing.is_empty() {
                match self.conn.poll_transmit() {
                    Some(chunk) => self.writing = chunk,
                    None => break,
                }
            }
            match Pin::new(&mut self.io).poll_write(cx, &self.writing) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.writing.advance(n);
                    self.unflushed = true;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.unflushed {
            std::task::ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// One read into the connection's buffer; end of stream becomes `handle_eof`. When the core knows
    /// the reply needs fewer than `read_size` bytes (the tail of a large bulk string), the read asks for
    /// that much (at least `MIN_READ`): no more room than the reply fills is zeroed.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let needed = self.conn.bytes_needed();
        let want = if needed > 0 && needed < self.read_size { needed.max(MIN_READ) } else { self.read_size };
        let buf = self.conn.read_buf();
        let start = buf.len();
        buf.resize(start + want, 0);
        let result = Pin::new(&mut self.io).poll_read(cx, &mut buf[start..]);
        let n = match &result {
            Poll::Ready(Ok(n)) => *n,
            _ => 0,
        };
        buf.truncate(start + n);
        match result {
            Poll::Ready(Ok(0)) => {
                self.conn.handle_eof();
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Ok(n)) => {
                if n == self.read_size {
                    self.read_size = (self.read_size * 2).min(MAX_READ);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Sleeps until the nearest deadline (a request's, or the handshake's); `Ready` once it passed and
    /// the connection was told.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let handshake = self.handshake_deadline.filter(|_| !self.conn.is_ready());
        let at = match (self.conn.poll_timeout(), handshake) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(at) => at,
                None => {
                    self.sleep = None;
                    return Poll::Pending;
                }
            },
        };
        let sleep = match &mut self.sleep {
            Some((set, sleep)) if *set == at => sleep,
            slot => &mut slot.insert((at, R::sleep_until(at))).1,
        };
        if Instant::now() < at && Pin::new(sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.sleep = None;
        let now = Instant::now();
        if handshake.is_some_and(|h| h <= now) {
            self.failed = Some(connect_timeout(self.conn.config()));
        } else {
            self.conn.handle_timeout(now);
        }
        Poll::Ready(())
    }
}

/// The error a request gets when its own deadline passed.
pub(crate) fn timed_out(conn: &Connection, id: RequestId) -> Error {
    let timeout = conn.config().response_timeout().unwrap_or_default();
    Error::Timeout(format!(
        "request {id} got no reply within the response timeout ({timeout:?}); its connection was closed"
    ))
}

fn connect_timeout(config: &Config) -> Error {
    Error::Timeout(format!(
        "could not connect to {} and complete the handshake within the connect timeout ({:?})",
        config.addr(),
        config.connect_timeout().unwrap_or_default()
    ))
}

struct Noop;
impl Wake for Noop {
    fn wake(self: std::sync::Arc<Self>) {}
}

/// Polls `f` and `timer` together: `Some(output)` if `f` finished first, `None` if the timer did.
pub(crate) async fn race<F: Future, T: Future + Unpin>(f: F, mut timer: T) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    poll_fn(|cx| {
        if let Poll::Ready(v) = f.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        Pin::new(&mut timer).poll(cx).map(|_| None)
    })
    .await
}
