//! [`PubSub`]: a dedicated pub/sub connection: (un)subscribe to channels, patterns and shard channels,
//! then read messages with a timeout or as an iterator. Works the same in RESP2 (subscribed mode) and
//! RESP3 (push frames); the core tells confirmations and messages apart.

use super::client::Client;
use super::conn::{endless_wait_ended, Conn};
use super::pool::Pool;
use crate::cmd::{self, Commands};
use crate::event::Message;
use crate::{Cmd, Event, FromValue, Result, ToArgs};
use std::time::{Duration, Instant};

/// A connection of its own for pub/sub, from [`Client::pubsub`](super::Client::pubsub); closed when
/// dropped. Not `Sync`: one thread reads it (publish from anywhere with the [`Client`]).
///
/// Each (un)subscribe method returns once the server confirmed every channel. Messages that arrive
/// meanwhile are kept for [`get_message`](PubSub::get_message) and [`messages`](PubSub::messages).
///
/// ```no_run
/// use redwire::blocking::Client;
/// use redwire::cmd::Commands;
/// use std::time::Duration;
///
/// let client = Client::open("redis://127.0.0.1:6379")?;
/// let mut sub = client.pubsub()?;
/// sub.subscribe("news")?;
/// sub.psubscribe("alerts:*")?;
///
/// let publisher = client.clone();
/// std::thread::spawn(move || publisher.publish::<i64>("alerts:disk", "90% full"));
///
/// if let Some(msg) = sub.get_message(Duration::from_secs(1))? {
///     println!("{:?} on {:?} (pattern {:?})", msg.payload, msg.channel, msg.pattern);
/// }
/// for msg in sub.messages().take(3) {
///     let msg = msg?;
///     println!("{:?}", msg.payload);
/// }
/// # Ok::<(), redwire::Error>(())
/// ```
#[derive(Debug)]
pub struct PubSub {
    conn: Conn,
    client: Client,
}

impl PubSub {
    pub(crate) fn new(conn: Conn, pool: Pool) -> PubSub {
        PubSub { conn, client: Client::with_pool(pool) }
    }

    /// `SUBSCRIBE channels`: one channel, or a list of them.
    ///
    /// # Errors
    /// [`Error::Usage`](crate::Error::Usage) for an empty list; the server's or the connection's error.
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
    /// The server's or the connection's error.
    pub fn unsubscribe(&mut self, channels: impl ToArgs) -> Result<()> {
        self.command(Cmd::new("UNSUBSCRIBE").arg(channels))
    }

    /// `PUNSUBSCRIBE patterns`; an empty list unsubscribes from every pattern.
    ///
    /// # Errors
    /// The server's or the connection's error.
    pub fn punsubscribe(&mut self, patterns: impl ToArgs) -> Result<()> {
        self.command(Cmd::new("PUNSUBSCRIBE").arg(patterns))
    }

    /// `SUNSUBSCRIBE shard_channels`; an empty list unsubscribes from every shard channel.
    ///
    /// # Errors
    /// The server's or the connection's error.
    pub fn sunsubscribe(&mut self, shard_channels: impl ToArgs) -> Result<()> {
        self.command(Cmd::new("SUNSUBSCRIBE").arg(shard_channels))
    }

    /// `true` while a channel, pattern or shard channel is subscribed.
    pub fn is_subscribed(&self) -> bool {
        self.conn.conn.is_subscribed()
    }

    /// The next message, waiting at most `timeout` (`Duration::ZERO` only takes what already arrived).
    /// `Ok(None)` when none came in time.
    ///
    /// # Errors
    /// The connection's error (the server closed it, ...): the `PubSub` is then unusable.
    pub fn get_message(&mut self, timeout: Duration) -> Result<Option<Message>> {
        self.next_message(Instant::now().checked_add(timeout))
    }

    /// Messages as they arrive, each waited for without a time limit. Ends when nothing is subscribed any
    /// more, or after an error.
    pub fn messages(&mut self) -> Messages<'_> {
        Messages { pubsub: self, failed: false }
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

    /// Sends a subscription command and waits for its last confirmation.
    fn command(&mut self, cmd: Cmd) -> Result<()> {
        let id = self.conn.conn.send(&cmd, Instant::now())?;
        loop {
            match self.conn.wait_for(id, None)? {
                Some(Event::Subscription { done: true, .. }) => return Ok(()),
                Some(Event::Subscription { .. }) => {}
                Some(Event::Reply { value, .. }) => return <()>::from_value(value),
                Some(other) => return Err(self.conn.unexpected(&other)),
                None => return Err(endless_wait_ended()),
            }
        }
    }

    fn next_message(&mut self, until: Option<Instant>) -> Result<Option<Message>> {
        while let Some(event) = self.conn.stash.pop_front() {
            if let Event::Message(m) = event {
                return Ok(Some(m));
            }
        }
        loop {
            match self.conn.next_event(until)? {
                Some(Event::Message(m)) => return Ok(Some(m)),
                Some(_) => {} // a confirmation the server sent on its own, a RESP3 push
                None => return Ok(None),
            }
        }
    }
}

/// The messages of a [`PubSub`], from [`PubSub::messages`].
#[derive(Debug)]
#[must_use = "iterators do nothing unless iterated"]
pub struct Messages<'a> {
    pubsub: &'a mut PubSub,
    failed: bool,
}

impl Iterator for Messages<'_> {
    type Item = Result<Message>;

    fn next(&mut self) -> Option<Result<Message>> {
        let stashed = self.pubsub.conn.stash.iter().any(|e| matches!(e, Event::Message(_)));
        if self.failed || !(stashed || self.pubsub.is_subscribed()) {
            return None;
        }
        match self.pubsub.next_message(None) {
            Ok(message) => message.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
