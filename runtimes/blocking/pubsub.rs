//! [`PubSub`]: a dedicated pub/sub connection: (un)subscribe to channels, patterns and shard channels,
//! then read [`PubSubEvent`]s with a timeout or as an iterator. Works the same in RESP2 (subscribed mode)
//! and RESP3 (push frames); the core tells confirmations and messages apart.
//!
//! When the connection breaks, the next read reconnects (backing off between failed attempts, never
//! waiting past the caller's timeout), subscribes again to everything the core had confirmed, and yields
//! `Reconnected`. What arrives waits in the core's [`Inbox`], bounded as the user chose. This file moves
//! bytes and reads the clock; what to restore, how long to back off and what to drop are the core's
//! answers (`Connection::resubscribe_commands`, `Outage`, `Inbox`).

use super::client::Client;
use super::conn::{endless_wait_ended, Conn};
use super::pool::Pool;
use crate::cmd::{self, Commands};
use crate::event::PubSubEvent;
use crate::inbox::{BufferStats, Inbox, PubSubBuffer, READ_BUDGET};
use crate::outage::{replicate, Outage};
use crate::resp::Value;
use crate::{Cmd, Error, Event, FromValue, Result, ToArgs};
use std::time::{Duration, Instant};

/// A connection of its own for pub/sub, from [`Client::pubsub`](super::Client::pubsub); closed when
/// dropped. Not `Sync`: one thread reads it (publish from anywhere with the [`Client`]).
///
/// Each (un)subscribe method returns once the server confirmed every channel. Messages that arrive
/// meanwhile are kept for [`get_message`](PubSub::get_message) and [`messages`](PubSub::messages).
///
/// # Reconnects
/// When the connection breaks (the server closed it or went away, an I/O or protocol error), the next
/// read or (un)subscribe reconnects: within [`Config::connect_timeout`](crate::Config::connect_timeout)
/// per attempt, at once for the first attempt, then after a backoff of 50 ms doubling to 2 s. It
/// subscribes again to every channel, pattern and shard channel the server had confirmed, and only then
/// yields [`PubSubEvent::Reconnected`]: messages published while no connection was subscribed were missed,
/// and every message published after that event arrives, once. A failed attempt is returned as an error
/// (when nothing is buffered); the next read tries again. A read never waits past the timeout it was
/// given, backoff included.
///
/// # A slow consumer
/// Each read first takes what the socket holds (without waiting, at most every millisecond while messages
/// are buffered), so the server's output buffer stays small and `client-output-buffer-limit pubsub` does
/// not disconnect a consumer that falls behind. What is not consumed yet waits in a buffer bounded by a
/// [`PubSubBuffer`] (default: 64 MiB, counting about 120 bytes of bookkeeping per message); when it is
/// full the buffer's overflow policy decides: an [`Error::PubSubOverflow`] once per overflow (the
/// default, [`Overflow::Error`](crate::inbox::Overflow::Error)), or dropping the oldest or the newest
/// messages, reported as [`PubSubEvent::Lagged`].
/// [`buffer_stats`](PubSub::buffer_stats) shows the bound holding.
///
/// ```no_run
/// use redwire::blocking::{Client, Overflow, PubSubBuffer, PubSubEvent};
/// use redwire::cmd::Commands;
/// use std::time::Duration;
///
/// let client = Client::open("redis://127.0.0.1:6379")?;
/// let mut sub = client.pubsub()?;
/// // Keep at most 10 000 messages; past that, drop the oldest and say how many.
/// sub.set_buffer(PubSubBuffer::default().with_max_messages(10_000).with_overflow(Overflow::DropOldest))?;
/// sub.subscribe("news")?;
/// sub.psubscribe("alerts:*")?;
///
/// let publisher = client.clone();
/// std::thread::spawn(move || publisher.publish::<i64>("alerts:disk", "90% full"));
///
/// if let Some(PubSubEvent::Message(msg)) = sub.get_message(Duration::from_secs(1))? {
///     println!("{:?} on {:?} (pattern {:?})", msg.payload, msg.channel, msg.pattern);
/// }
/// for event in sub.messages().take(3) {
///     match event? {
///         PubSubEvent::Message(msg) => println!("{:?}", msg.payload),
///         PubSubEvent::Reconnected { cause } => println!("reconnected after {cause}; messages were missed"),
///         PubSubEvent::Lagged { dropped } => println!("fell behind: {dropped} messages dropped"),
///         _ => {}
///     }
/// }
/// # Ok::<(), redwire::Error>(())
/// ```
#[derive(Debug)]
pub struct PubSub {
    /// `None` while the connection is down; `outage` then says what to restore.
    conn: Option<Conn>,
    outage: Option<Outage>,
    inbox: Inbox,
    pool: Pool,
    client: Client,
}

impl PubSub {
    pub(crate) fn new(conn: Conn, pool: Pool) -> PubSub {
        PubSub {
            conn: Some(conn),
            outage: None,
            inbox: Inbox::default(),
            client: Client::with_pool(pool.clone()),
            pool,
        }
    }

    /// `SUBSCRIBE channels`: one channel, or a list of them.
    ///
    /// # Errors
    /// [`Error::Usage`] for an empty list; the server's error; the connection's error or a failed
    /// reconnect (the next call reconnects; the channels of the failed call are not restored).
    pub fn subscribe(&mut self, channels: impl ToArgs) -> Result<()> {
        self.command(Cmd::new("SUBSCRIBE").arg(channels))
    }

    /// `PSUBSCRIBE patterns` (glob-style: `news.*`).
    ///
    /// # Errors
    /// As [`subscribe`](PubSub::subscribe).
    pub fn psubscribe(&mut self, patterns: impl ToArgs) -> Result<()> {
        self.command(Cmd::new("PSUBSCRIBE").arg(patterns))
    }

    /// `SSUBSCRIBE shard_channels` (Redis 7+).
    ///
    /// # Errors
    /// As [`subscribe`](PubSub::subscribe).
    pub fn ssubscribe(&mut self, shard_channels: impl ToArgs) -> Result<()> {
        self.command(Cmd::new("SSUBSCRIBE").arg(shard_channels))
    }

    /// `UNSUBSCRIBE channels`; an empty list (`[""; 0]`) unsubscribes from every channel.
    ///
    /// # Errors
    /// As [`subscribe`](PubSub::subscribe).
    pub fn unsubscribe(&mut self, channels: impl ToArgs) -> Result<()> {
        self.command(Cmd::new("UNSUBSCRIBE").arg(channels))
    }

    /// `PUNSUBSCRIBE patterns`; an empty list unsubscribes from every pattern.
    ///
    /// # Errors
    /// As [`subscribe`](PubSub::subscribe).
    pub fn punsubscribe(&mut self, patterns: impl ToArgs) -> Result<()> {
        self.command(Cmd::new("PUNSUBSCRIBE").arg(patterns))
    }

    /// `SUNSUBSCRIBE shard_channels`; an empty list unsubscribes from every shard channel.
    ///
    /// # Errors
    /// As [`subscribe`](PubSub::subscribe).
    pub fn sunsubscribe(&mut self, shard_channels: impl ToArgs) -> Result<()> {
        self.command(Cmd::new("SUNSUBSCRIBE").arg(shard_channels))
    }

    /// `true` while a channel, pattern or shard channel is subscribed (or, while the connection is down,
    /// is to be restored).
    pub fn is_subscribed(&self) -> bool {
        match (&self.conn, &self.outage) {
            (Some(conn), _) => conn.conn.is_subscribed(),
            (None, Some(outage)) => outage.is_subscribed(),
            (None, None) => false,
        }
    }

    /// The next event, waiting at most `timeout` (`Duration::ZERO` only takes what already arrived):
    /// a message, or a notice that messages are missing here ([`PubSubEvent::Reconnected`],
    /// [`PubSubEvent::Lagged`]). `Ok(None)` when none came in time.
    ///
    /// # Errors
    /// [`Error::PubSubOverflow`] where the default overflow policy dropped messages (the connection is
    /// kept); a failed reconnect attempt (the next call tries again, after a backoff).
    pub fn get_message(&mut self, timeout: Duration) -> Result<Option<PubSubEvent>> {
        self.next_event(Instant::now().checked_add(timeout))
    }

    /// The events as they arrive, each waited for without a time limit. Goes on across reconnects and
    /// errors (after a failed reconnect attempt the next item tries again; stop on an error if you want to);
    /// ends when nothing is buffered and nothing is subscribed any more.
    pub fn messages(&mut self) -> Messages<'_> {
        Messages { pubsub: self }
    }

    /// Bounds the buffer of events not read yet, and chooses what happens when it is full (see the
    /// type's docs). Applies to what arrives from now on.
    ///
    /// # Errors
    /// [`Error::Config`] when a limit is 0 (nothing changes).
    pub fn set_buffer(&mut self, buffer: PubSubBuffer) -> Result<()> {
        self.inbox.set_buffer(buffer)
    }

    /// The buffer's counters: what it holds now, its high-water marks, what arrived and was dropped.
    pub fn buffer_stats(&self) -> BufferStats {
        self.inbox.stats()
    }

    /// `PUBLISH channel message` through the client's pool (a RESP2 subscribed connection cannot publish);
    /// returns how many subscribers received it.
    ///
    /// # Errors
    /// As [`Client::exec`](super::Client::exec).
    pub fn publish(&self, channel: impl ToArgs, message: impl ToArgs) -> Result<i64> {
        self.client.run(cmd::publish(channel, message))
    }

    /// `SPUBLISH shard_channel message` through the client's pool.
    ///
    /// # Errors
    /// As [`Client::exec`](super::Client::exec).
    pub fn spublish(&self, shard_channel: impl ToArgs, message: impl ToArgs) -> Result<i64> {
        self.client.run(cmd::spublish(shard_channel, message))
    }

    /// Sends a subscription command (reconnecting first if needed) and waits for its last confirmation.
    fn command(&mut self, cmd: Cmd) -> Result<()> {
        self.reconnect(None)?;
        let Some(conn) = self.conn.as_mut() else { return Err(endless_wait_ended()) };
        let id = match conn.conn.send(&cmd, Instant::now()) {
            Ok(id) => id,
            Err(e) if e.is_fatal() => return Err(self.lose(e)),
            Err(e) => return Err(e), // a usage error: nothing was sent
        };
        loop {
            let Some(conn) = self.conn.as_mut() else { return Err(endless_wait_ended()) };
            self.inbox.detach();
            let filed = match conn.next_event(None) {
                Ok(Some(Event::Subscription { id: Some(got), done: true, .. })) if got == id => return Ok(()),
                Ok(Some(Event::Reply { id: got, value, .. })) if got == id => return <()>::from_value(value),
                Ok(Some(event)) => file(&mut self.inbox, event),
                Ok(None) => Err(endless_wait_ended()),
                Err(e) => Err(e),
            };
            if let Err(e) = filed {
                return Err(self.lose(e));
            }
        }
    }

    /// The next event, reconnecting as needed; `Ok(None)` once `until` passed.
    fn next_event(&mut self, until: Option<Instant>) -> Result<Option<PubSubEvent>> {
        loop {
            if let Some(outage) = &self.outage {
                // Reconnect as soon as the backoff allows, so the gap stays short; while it does not,
                // hand out what is buffered first.
                let due = outage.next_attempt().map_or(true, |at| at <= Instant::now());
                if due || self.inbox.is_empty() {
                    match self.reconnect(until) {
                        Ok(true) => {}
                        Ok(false) if self.inbox.is_empty() => return Ok(None),
                        Err(e) if self.inbox.is_empty() => return Err(e),
                        _ => {} // buffered events first; a later read tries again
                    }
                }
            }
            if let Err(e) = self.take_ready() {
                self.lose(e);
                continue;
            }
            if let Some(event) = self.inbox.pop() {
                return event.map(Some);
            }
            // Nothing buffered (so nothing to detach): wait for the next event.
            let Some(conn) = self.conn.as_mut() else { continue };
            let filed = match conn.next_event(until) {
                Ok(Some(event)) => file(&mut self.inbox, event),
                Ok(None) => return Ok(None),
                Err(e) => Err(e),
            };
            self.inbox.note_read(Instant::now());
            if let Err(e) = filed {
                self.lose(e);
            }
        }
    }

    /// Files what the connection has decoded already and, when the inbox says a read is due, what the
    /// socket holds now (without waiting; at most [`READ_BUDGET`] events).
    fn take_ready(&mut self) -> Result<()> {
        let Some(conn) = self.conn.as_mut() else { return Ok(()) };
        let inbox = &mut self.inbox;
        file_decoded(conn, inbox)?;
        let now = Instant::now();
        if inbox.read_due(now) {
            let mut filed = 0;
            conn.read_ready(|c| {
                filed += file_decoded(c, inbox)?;
                inbox.detach();
                Ok(filed < READ_BUDGET)
            })?;
            file_decoded(conn, inbox)?;
            inbox.note_read(now);
        }
        Ok(())
    }

    /// The connection broke because of `cause`: it is dropped, and what it had subscribed is remembered
    /// for the reconnect. Returns a copy of `cause` for the caller.
    fn lose(&mut self, cause: Error) -> Error {
        let copy = replicate(&cause);
        if let Some(conn) = self.conn.take() {
            self.outage = Some(Outage::new(&conn.conn, cause));
        }
        copy
    }

    /// Makes one reconnect attempt when the connection is down (after the backoff, if `until` allows):
    /// connects, restores every subscription, queues `Reconnected`. `Ok(false)` when `until` passed first.
    fn reconnect(&mut self, until: Option<Instant>) -> Result<bool> {
        let Some(outage) = self.outage.as_mut() else { return Ok(true) };
        let now = Instant::now();
        if let Some(at) = outage.next_attempt().filter(|at| *at > now) {
            if let Some(until) = until.filter(|until| *until < at) {
                std::thread::sleep(until.saturating_duration_since(now));
                return Ok(false);
            }
            std::thread::sleep(at - now);
        }
        let left = until.map(|until| until.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Ok(false);
        }
        self.inbox.begin_restore();
        let opened = match left {
            Some(left) => self.pool.open_within(left),
            None => self.pool.open(),
        };
        match opened.and_then(|conn| restore(conn, outage.restore(), &mut self.inbox, until)) {
            Ok(conn) => {
                self.conn = Some(conn);
                if let Some(outage) = self.outage.take() {
                    self.inbox.restored(outage.into_cause());
                }
                Ok(true)
            }
            Err(e) => {
                self.inbox.restore_failed();
                let now = Instant::now();
                outage.failed(now);
                let cut_short = until.is_some_and(|until| until <= now) && matches!(e, Error::Timeout(_));
                if cut_short {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }
}

/// Sends every restoring command on a new connection and waits for all their confirmations (messages
/// arriving meanwhile go to the inbox, staged behind the coming `Reconnected`).
fn restore(mut conn: Conn, cmds: &[Cmd], inbox: &mut Inbox, until: Option<Instant>) -> Result<Conn> {
    let now = Instant::now();
    let mut waiting = cmds.iter().map(|cmd| conn.conn.send(cmd, now)).collect::<Result<Vec<_>>>()?;
    while !waiting.is_empty() {
        inbox.detach();
        match conn.next_event(until)? {
            Some(Event::Subscription { id: Some(id), done: true, .. }) => waiting.retain(|w| *w != id),
            Some(Event::Reply { value: Value::Error(e), .. }) => return Err(Error::Server(e)),
            Some(event) => file(inbox, event)?,
            None => return Err(Error::Timeout(
                "resubscribing after a reconnect: the confirmations did not come within the read's timeout"
                    .into(),
            )),
        }
    }
    Ok(conn)
}

/// Files one event the connection reported while no request waits for it.
fn file(inbox: &mut Inbox, event: Event) -> Result<()> {
    match event {
        Event::Message(m) => inbox.push_message(m),
        Event::TimedOut { .. } => {
            return Err(Error::Timeout(
                "a subscription command got no confirmation within the response timeout; the connection \
                 was closed (the next call reconnects)"
                    .into(),
            ))
        }
        // Confirmations the server sent on its own (the core updated its subscriptions). RESP3 pushes
        // never get here: `Conn` hands them to the push sink.
        _ => {}
    }
    Ok(())
}

/// Files every event `conn` has decoded already; returns how many.
fn file_decoded(conn: &mut Conn, inbox: &mut Inbox) -> Result<usize> {
    let mut n = 0;
    while let Some(event) = conn.poll_decoded()? {
        file(inbox, event)?;
        n += 1;
    }
    Ok(n)
}

/// The events of a [`PubSub`], from [`PubSub::messages`].
#[derive(Debug)]
#[must_use = "iterators do nothing unless iterated"]
pub struct Messages<'a> {
    pubsub: &'a mut PubSub,
}

impl Iterator for Messages<'_> {
    type Item = Result<PubSubEvent>;

    fn next(&mut self) -> Option<Result<PubSubEvent>> {
        if self.pubsub.inbox.is_empty() && !self.pubsub.is_subscribed() {
            return None;
        }
        self.pubsub.next_event(None).transpose()
    }
}
