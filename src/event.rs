//! What a [`Connection`](crate::Connection) reports: [`Event`], [`RequestId`], pub/sub [`Message`]s and
//! the kinds of subscription confirmations; and [`PubSubEvent`], what every runtime's `PubSub` hands out.
//!
//! Plain data only; the decisions that produce these live in `src/connection.rs` and `src/state.rs`.

use crate::resp::Value;
use crate::Error;
use bytes::Bytes;
use std::fmt;

/// Identifies one request (a command, a pipeline or a transaction) on one connection.
///
/// Ids increase in the order requests were sent, starting at 1; they are unique per connection only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);

impl RequestId {
    /// The id as a number (1 for the first request of a connection).
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A RESP3 attribute map (`|`), taken off the front of the reply it came with.
pub type Attributes = Vec<(Value, Value)>;

/// Something the connection has to report. Drain them with
/// [`Connection::poll_event`](crate::Connection::poll_event) after every input.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// The handshake completed: requests sent so far are on their way. Emitted once per connection.
    Ready,
    /// The reply to a command sent with [`send`](crate::Connection::send). Server errors (`-ERR ...`) are
    /// replies too: [`Value::Error`].
    #[non_exhaustive]
    Reply {
        /// The request this answers.
        id: RequestId,
        /// The reply, without a top-level attribute.
        value: Value,
        /// The RESP3 attribute the server sent in front of the reply, if any.
        attribute: Option<Attributes>,
    },
    /// The replies to a pipeline, one per command in order; server errors stay in their slots as
    /// [`Value::Error`].
    #[non_exhaustive]
    Pipeline {
        /// The request this answers.
        id: RequestId,
        /// One reply per command, without top-level attributes.
        values: Vec<Value>,
        /// `(slot, attribute)` for every reply that came with a RESP3 attribute (usually empty).
        attributes: Vec<(usize, Attributes)>,
    },
    /// The outcome of a transaction (`MULTI` ... `EXEC`).
    #[non_exhaustive]
    Transaction {
        /// The request this answers.
        id: RequestId,
        /// The committed replies, one per command (a command that failed at run time has its
        /// [`Value::Error`] in its slot), or why nothing was committed: [`Error::Watch`] when a watched
        /// key changed, [`Error::ExecAbort`] with the errors the server gave while queueing,
        /// [`Error::Server`] when `MULTI` or `EXEC` itself was refused.
        result: Result<Vec<Value>, Error>,
        /// The RESP3 attribute sent in front of the `EXEC` reply, if any.
        attribute: Option<Attributes>,
    },
    /// A pub/sub message on a channel the connection subscribed to.
    Message(Message),
    /// A subscription confirmation (`subscribe`, `unsubscribe`, ...): one per channel or pattern.
    #[non_exhaustive]
    Subscription {
        /// The request that asked for it; `None` when the server sent it unasked (for example a
        /// `sunsubscribe` after a cluster slot moved).
        id: Option<RequestId>,
        /// What was confirmed.
        kind: SubscriptionKind,
        /// The channel or pattern; `None` when an unsubscribe-from-all found nothing to unsubscribe.
        channel: Option<Bytes>,
        /// The server's count of subscriptions after this one (channels + patterns, or shard channels
        /// for the `S` kinds).
        count: i64,
        /// `true` on the request's last confirmation: it is no longer in flight.
        done: bool,
    },
    /// A RESP3 push that is not pub/sub traffic (for example `invalidate` from `CLIENT TRACKING`).
    Push(Value),
    /// A request's deadline passed before its reply arrived. The connection is now poisoned: every later
    /// call returns [`Error::Poisoned`] and the other requests in flight will never be answered.
    TimedOut {
        /// The request that waited too long.
        id: RequestId,
    },
}

impl Event {
    /// The request this event answers, for replies, pipelines, transactions, confirmations and timeouts.
    pub fn id(&self) -> Option<RequestId> {
        match self {
            Event::Reply { id, .. } | Event::Pipeline { id, .. } | Event::Transaction { id, .. } => Some(*id),
            Event::TimedOut { id } => Some(*id),
            Event::Subscription { id, .. } => *id,
            Event::Ready | Event::Message(_) | Event::Push(_) => None,
        }
    }
}

/// What a runtime's `PubSub` reader hands out (`redwire::blocking::PubSub`, `redwire::smol::PubSub`,
/// `redwire::async_std::PubSub`): the same on every runtime.
///
/// Messages come in the order the server sent them. The other variants say where that order has a gap:
/// a reconnect ([`Reconnected`](Self::Reconnected)) or messages the buffer's overflow policy dropped
/// ([`Lagged`](Self::Lagged), see [`PubSubBuffer`](crate::inbox::PubSubBuffer)).
#[derive(Debug)]
#[non_exhaustive]
pub enum PubSubEvent {
    /// A message on a subscribed channel, pattern or shard channel.
    Message(Message),
    /// The connection broke (`cause`) and a new one now has every subscription back: messages published
    /// while no connection was subscribed were missed. Messages after this event arrived on the new
    /// connection.
    Reconnected {
        /// Why the previous connection ended.
        cause: Error,
    },
    /// The buffer was full and `dropped` messages were discarded here, as the overflow policy
    /// ([`Overflow::DropOldest`](crate::inbox::Overflow::DropOldest) or
    /// [`Overflow::DropNewest`](crate::inbox::Overflow::DropNewest)) says.
    Lagged {
        /// How many messages are missing at this point of the stream.
        dropped: u64,
    },
}

/// A pub/sub message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Message {
    /// `message`, `pmessage` or `smessage`.
    pub kind: MessageKind,
    /// The channel it was published to.
    pub channel: Bytes,
    /// The pattern that matched, for [`MessageKind::PMessage`].
    pub pattern: Option<Bytes>,
    /// What was published: a bulk string, except for the few server-generated messages that carry an
    /// array (client-side caching invalidations redirected to `__redis__:invalidate` in RESP2).
    pub payload: Value,
}

/// How a [`Message`] reached the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageKind {
    /// Through a `SUBSCRIBE`d channel.
    Message,
    /// Through a `PSUBSCRIBE`d pattern.
    PMessage,
    /// Through an `SSUBSCRIBE`d shard channel.
    SMessage,
}

/// The confirmations the server sends for subscription commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubscriptionKind {
    /// `SUBSCRIBE`.
    Subscribe,
    /// `UNSUBSCRIBE`.
    Unsubscribe,
    /// `PSUBSCRIBE`.
    PSubscribe,
    /// `PUNSUBSCRIBE`.
    PUnsubscribe,
    /// `SSUBSCRIBE`.
    SSubscribe,
    /// `SUNSUBSCRIBE`.
    SUnsubscribe,
}

impl SubscriptionKind {
    /// The confirmation's name as the server spells it (`"subscribe"`, `"punsubscribe"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionKind::Subscribe => "subscribe",
            SubscriptionKind::Unsubscribe => "unsubscribe",
            SubscriptionKind::PSubscribe => "psubscribe",
            SubscriptionKind::PUnsubscribe => "punsubscribe",
            SubscriptionKind::SSubscribe => "ssubscribe",
            SubscriptionKind::SUnsubscribe => "sunsubscribe",
        }
    }

    /// `true` for the three subscribe kinds, `false` for the unsubscribes.
    pub fn is_subscribe(self) -> bool {
        matches!(
            self,
            SubscriptionKind::Subscribe | SubscriptionKind::PSubscribe | SubscriptionKind::SSubscribe
        )
    }

    /// Parses a confirmation name (ASCII case-insensitive).
    pub(crate) fn from_name(name: &[u8]) -> Option<SubscriptionKind> {
        const ALL: [SubscriptionKind; 6] = [
            SubscriptionKind::Subscribe,
            SubscriptionKind::Unsubscribe,
            SubscriptionKind::PSubscribe,
            SubscriptionKind::PUnsubscribe,
            SubscriptionKind::SSubscribe,
            SubscriptionKind::SUnsubscribe,
        ];
        ALL.into_iter().find(|k| k.as_str().as_bytes().eq_ignore_ascii_case(name))
    }
}
