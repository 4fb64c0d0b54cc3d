//! [`Inbox`]: the bounded buffer between a pub/sub connection and the code that consumes its messages,
//! with the limits and overflow policy the user chose ([`PubSubBuffer`], [`Overflow`]) and the counters
//! that show them holding ([`BufferStats`]). Every runtime's `PubSub` keeps one, so a slow consumer is
//! treated the same way everywhere.
//!
//! Bookkeeping only: no sockets and no clock (time is an argument). The runtime files what its connection
//! reports, and hands out what [`Inbox::pop`] returns.

use crate::event::{Message, PubSubEvent};
use crate::resp::Value;
use crate::{Error, Result};
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The default [`PubSubBuffer::max_messages`]: no limit of its own. The byte limit counts each
/// message's bookkeeping ([`MESSAGE_OVERHEAD`]), so it bounds the count too (to about 560 000 messages
/// with the default [`DEFAULT_MAX_BYTES`]).
pub const DEFAULT_MAX_MESSAGES: usize = usize::MAX;

/// The default [`PubSubBuffer::max_bytes`]: 64 MiB, twice the hard limit of Redis's and Valkey's default
/// `client-output-buffer-limit pubsub 32mb 8mb 60`. A small message costs about twice as much here as in
/// the server's buffer (the bookkeeping is counted), so a reader that takes what the socket has holds at
/// least the backlog at which the server would have disconnected it, and a process with a few `PubSub`s
/// stays within a few hundred MiB however slow their consumers are.
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;

/// What a buffered message costs besides its bytes, as the byte limit counts it: the size of its slot in
/// the buffer's queue (120 bytes on 64-bit targets).
pub const MESSAGE_OVERHEAD: usize = std::mem::size_of::<Slot>();

/// While an inbox holds events, a runtime takes what its socket has (without waiting) before handing one
/// out, at most this often: often enough that the server's output buffer stays small, rarely enough that
/// a consumer that keeps up does not pay a system call per message.
pub const READ_INTERVAL: Duration = Duration::from_millis(1);

/// The most events a runtime files in one pass over what its socket has, so that one read of a `PubSub`
/// ends even while a publisher floods it faster than it can decode.
pub const READ_BUDGET: usize = 16 * 1024;

/// What happens when a message arrives and the buffer is full (see [`PubSubBuffer`]). Every dropped
/// message is counted and reported to the consumer, in the stream, where it is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Drop the message, and every later one until the consumer has read what is buffered; it then
    /// gets [`Error::PubSubOverflow`] with the count, once per overflow, and reading goes on with the
    /// messages that arrive after it. The connection and its subscriptions are kept: the protocol is not in
    /// doubt, only the consumer's pace. The default, because it cannot be overlooked: a `?` stops the
    /// consumer where the loss is.
    #[default]
    Error,
    /// Drop the oldest buffered messages to make room: the consumer gets [`PubSubEvent::Lagged`] with
    /// their count in front of the oldest message kept (a ring buffer: the newest messages win).
    DropOldest,
    /// Drop the arriving message: the consumer gets [`PubSubEvent::Lagged`] with the count after the
    /// messages that were kept (the oldest messages win).
    DropNewest,
}

/// The limits of a pub/sub reader's buffer and what to do when they are reached: set with
/// `PubSub::set_buffer` on every runtime.
///
/// A reader takes what the socket has on every read, so a slow consumer keeps the server's output buffer
/// small (and is not disconnected by `client-output-buffer-limit pubsub`); what it has not consumed waits
/// here, at most `max_messages` messages and `max_bytes` bytes (channel, pattern and payload lengths,
/// plus [`MESSAGE_OVERHEAD`] each).
/// Memory is then bounded by this buffer plus one read. A message that alone is larger than `max_bytes`
/// is always dropped (and counted).
///
/// ```
/// use redwire::event::PubSubEvent;
/// use redwire::inbox::{Inbox, Overflow, PubSubBuffer};
/// use redwire::resp::Value;
/// # use redwire::{config::Protocol, Cmd, Config, Connection, Event};
/// # use std::time::Instant;
/// # // Messages as a RESP2 connection subscribed to "news" reports them.
/// # fn message(text: &str) -> redwire::event::Message {
/// #     let mut conn = Connection::new(Config::default().with_protocol(Protocol::Resp2));
/// #     conn.send(&Cmd::new("SUBSCRIBE").arg("news"), Instant::now()).unwrap();
/// #     conn.handle_input(b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
/// #     conn.handle_input(format!("*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n${}\r\n{text}\r\n", text.len()).as_bytes());
/// #     loop {
/// #         if let Some(Event::Message(m)) = conn.poll_event().unwrap() { return m; }
/// #     }
/// # }
/// let text = |s: &'static str| Value::BulkString(s.into());
///
/// // Keep at most two messages; when more arrive, drop the oldest and say how many.
/// let buffer = PubSubBuffer::default().with_max_messages(2).with_overflow(Overflow::DropOldest);
/// let mut inbox = Inbox::new(buffer)?;
/// for n in ["1", "2", "3", "4"] {
///     inbox.push_message(message(n)); // what a runtime's PubSub does with each message it reads
/// }
/// assert!(matches!(inbox.pop(), Some(Ok(PubSubEvent::Lagged { dropped: 2 }))));
/// assert!(matches!(inbox.pop(), Some(Ok(PubSubEvent::Message(m))) if m.payload == text("3")));
/// assert!(matches!(inbox.pop(), Some(Ok(PubSubEvent::Message(m))) if m.payload == text("4")));
/// let stats = inbox.stats();
/// assert_eq!((stats.arrived, stats.dropped, stats.peak_messages), (4, 2, 2));
///
/// // The default policy fails instead, once, after the messages that fitted; the error says what to do.
/// let mut inbox = Inbox::new(PubSubBuffer::default().with_max_messages(1))?;
/// inbox.push_message(message("kept"));
/// inbox.push_message(message("lost"));
/// assert!(matches!(inbox.pop(), Some(Ok(PubSubEvent::Message(m))) if m.payload == text("kept")));
/// let err = inbox.pop().expect("the overflow").unwrap_err();
/// assert!(matches!(err, redwire::Error::PubSubOverflow { dropped: 1, .. }));
/// assert!(err.to_string().contains("consume faster"));
/// assert!(inbox.pop().is_none());
/// # Ok::<(), redwire::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PubSubBuffer {
    max_messages: usize,
    max_bytes: usize,
    on_overflow: Overflow,
}

impl Default for PubSubBuffer {
    /// [`DEFAULT_MAX_MESSAGES`], [`DEFAULT_MAX_BYTES`], [`Overflow::Error`].
    fn default() -> PubSubBuffer {
        PubSubBuffer {
            max_messages: DEFAULT_MAX_MESSAGES,
            max_bytes: DEFAULT_MAX_BYTES,
            on_overflow: Overflow::Error,
        }
    }
}

impl PubSubBuffer {
    /// Holds at most `max` messages (at least 1).
    #[must_use]
    pub fn with_max_messages(mut self, max: usize) -> PubSubBuffer {
        self.max_messages = max;
        self
    }

    /// Holds at most `max` bytes of channels, patterns and payloads, counting [`MESSAGE_OVERHEAD`] for
    /// each message (at least 1).
    #[must_use]
    pub fn with_max_bytes(mut self, max: usize) -> PubSubBuffer {
        self.max_bytes = max;
        self
    }

    /// What to do when a message does not fit.
    #[must_use]
    pub fn with_overflow(mut self, policy: Overflow) -> PubSubBuffer {
        self.on_overflow = policy;
        self
    }

    /// The most messages held.
    pub fn max_messages(&self) -> usize {
        self.max_messages
    }

    /// The most bytes held (channel, pattern and payload lengths, plus [`MESSAGE_OVERHEAD`] each).
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The overflow policy.
    pub fn on_overflow(&self) -> Overflow {
        self.on_overflow
    }

    fn check(&self) -> Result<()> {
        if self.max_messages == 0 || self.max_bytes == 0 {
            return Err(Error::Config(format!(
                "a pub/sub buffer of {} messages and {} bytes could hold nothing: give both limits at least 1 \
                 (PubSubBuffer::with_max_messages, with_max_bytes)",
                self.max_messages, self.max_bytes
            )));
        }
        Ok(())
    }
}

/// Counters of an [`Inbox`] (a `PubSub`'s `buffer_stats()`), to check that its bound holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BufferStats {
    /// Messages buffered now.
    pub messages: usize,
    /// Bytes buffered now (channel, pattern and payload lengths, plus [`MESSAGE_OVERHEAD`] each).
    pub bytes: usize,
    /// The most messages ever buffered at once.
    pub peak_messages: usize,
    /// The most bytes ever buffered at once.
    pub peak_bytes: usize,
    /// Messages that arrived, kept or dropped (not those of a reconnect that failed halfway, which fall in
    /// the gap a [`PubSubEvent::Reconnected`] reports).
    pub arrived: u64,
    /// Messages the overflow policy dropped. `arrived - dropped - messages` were handed out.
    pub dropped: u64,
}

/// The buffer of a pub/sub reader: messages and notices in arrival order, bounded by a [`PubSubBuffer`]
/// whose overflow policy decides what is dropped; every drop is reported in place (see [`Overflow`]).
///
/// # Methods, by role
/// - **Inputs**: [`push_message`](Self::push_message) for each message the connection reports;
///   [`begin_restore`](Self::begin_restore), then [`restored`](Self::restored) or
///   [`restore_failed`](Self::restore_failed), around a reconnect's resubscription;
///   [`note_read`](Self::note_read) after taking what the socket had.
/// - **Outputs**: [`pop`](Self::pop), the oldest event; [`read_due`](Self::read_due), whether to take what
///   the socket has first.
/// - **Mutators**: [`detach`](Self::detach) before every read into the connection's buffer;
///   [`set_buffer`](Self::set_buffer).
/// - **Getters**: [`is_empty`](Self::is_empty), [`buffer`](Self::buffer), [`stats`](Self::stats).
///
/// # Call order (what a runtime's `PubSub` read does)
/// 1. File every event the connection has already decoded.
/// 2. If the inbox holds events and [`read_due`](Self::read_due) says so, read what the socket has without
///    waiting (reads of at most one chunk, until one comes back short, filing the events of each, at most
///    [`READ_BUDGET`] of them), calling [`detach`](Self::detach) before each read; then
///    [`note_read`](Self::note_read).
/// 3. [`pop`](Self::pop) the oldest event; when there is none, [`detach`](Self::detach), wait for input
///    and go back to 1.
///
/// # Memory
/// Messages arrive as slices of the connection's read buffer (no copy). One that stays here while the
/// connection reads again would keep that whole read chunk alive, so [`detach`](Self::detach) copies the
/// messages still buffered out of it first. A consumer that keeps up never pays that copy.
pub struct Inbox {
    buffer: PubSubBuffer,
    live: Lane,
    /// Messages that arrived while a reconnect restores the subscriptions: they come after its
    /// `Reconnected`, which is only queued once the restore succeeded.
    staged: Option<Lane>,
    peak_messages: usize,
    peak_bytes: usize,
    last_read: Option<Instant>,
}

/// One queue of slots, with the counts of what it holds.
#[derive(Debug, Default)]
struct Lane {
    slots: VecDeque<Slot>,
    messages: usize,
    bytes: usize,
    /// The newest `attached` messages still point into the connection's read buffer.
    attached: usize,
    arrived: u64,
    dropped: u64,
}

#[derive(Debug)]
enum Slot {
    Message {
        message: Message,
        weight: usize,
    },
    Reconnected(Error),
    /// `dropped` messages are missing here: a `Lagged` event, or for [`Overflow::Error`] the error, which
    /// keeps absorbing the messages that arrive (`open`) until it is handed out.
    Gap {
        dropped: u64,
        error: bool,
        open: bool,
    },
}

impl std::fmt::Debug for Inbox {
    /// A summary: the limits and the counters, never the messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("buffer", &self.buffer)
            .field("stats", &self.stats())
            .field("events", &self.live.slots.len())
            .field("restoring", &self.staged.is_some())
            .finish()
    }
}

impl Default for Inbox {
    /// An inbox with the default [`PubSubBuffer`].
    fn default() -> Inbox {
        Inbox::with_checked(PubSubBuffer::default())
    }
}

impl Inbox {
    /// An empty inbox bounded by `buffer`.
    ///
    /// # Errors
    /// [`Error::Config`] when a limit is 0.
    pub fn new(buffer: PubSubBuffer) -> Result<Inbox> {
        buffer.check()?;
        Ok(Inbox::with_checked(buffer))
    }

    fn with_checked(buffer: PubSubBuffer) -> Inbox {
        Inbox {
            buffer,
            live: Lane::default(),
            staged: None,
            peak_messages: 0,
            peak_bytes: 0,
            last_read: None,
        }
    }

    /// The limits and policy in force.
    pub fn buffer(&self) -> &PubSubBuffer {
        &self.buffer
    }

    /// Changes the limits and policy for the messages that arrive from now on; what is already buffered
    /// stays.
    ///
    /// # Errors
    /// [`Error::Config`] when a limit is 0 (nothing changes).
    pub fn set_buffer(&mut self, buffer: PubSubBuffer) -> Result<()> {
        buffer.check()?;
        self.buffer = buffer;
        Ok(())
    }

    /// `true` when [`pop`](Self::pop) has nothing to give.
    pub fn is_empty(&self) -> bool {
        self.live.slots.is_empty()
    }

    /// The counters: what is buffered now, the high-water marks, what arrived and what was dropped.
    pub fn stats(&self) -> BufferStats {
        let staged = self.staged.as_ref();
        BufferStats {
            messages: self.live.messages + staged.map_or(0, |s| s.messages),
            bytes: self.live.bytes + staged.map_or(0, |s| s.bytes),
            peak_messages: self.peak_messages,
            peak_bytes: self.peak_bytes,
            arrived: self.live.arrived,
            dropped: self.live.dropped,
        }
    }

    /// Files a message the connection reported, applying the overflow policy when it does not fit. An
    /// O(1) operation (amortised), the drops included.
    pub fn push_message(&mut self, message: Message) {
        let weight = weight(&message);
        let (max_messages, max_bytes, policy) =
            (self.buffer.max_messages, self.buffer.max_bytes, self.buffer.on_overflow);
        let staged = self.staged.is_some();
        let lane = self.staged.as_mut().unwrap_or(&mut self.live);
        lane.arrived += 1;
        if lane.absorbs() {
            return lane.drop_here(true);
        }
        if weight > max_bytes {
            return lane.drop_here(policy == Overflow::Error);
        }
        let fits = |inbox: &Inbox| {
            let s = inbox.stats();
            s.messages < max_messages && s.bytes + weight <= max_bytes
        };
        if !fits(self) {
            if policy != Overflow::DropOldest {
                let lane = self.staged.as_mut().unwrap_or(&mut self.live);
                return lane.drop_here(policy == Overflow::Error);
            }
            // Oldest first: the live lane, then (while restoring) the staged one. Neither can run dry
            // before the message fits: it is no bigger than max_bytes, and max_messages is at least 1.
            while !fits(self) {
                let dropped = self.live.drop_oldest() || (staged && self.staged_lane().drop_oldest());
                if !dropped {
                    break;
                }
            }
        }
        let lane = self.staged.as_mut().unwrap_or(&mut self.live);
        lane.slots.push_back(Slot::Message { message, weight });
        lane.messages += 1;
        lane.bytes += weight;
        lane.attached += 1;
        let now = self.stats();
        self.peak_messages = self.peak_messages.max(now.messages);
        self.peak_bytes = self.peak_bytes.max(now.bytes);
    }

    fn staged_lane(&mut self) -> &mut Lane {
        self.staged.get_or_insert_with(Lane::default)
    }

    /// A reconnect is restoring the subscriptions: the messages that arrive from now on wait until
    /// [`restored`](Self::restored) queues its [`PubSubEvent::Reconnected`] in front of them.
    pub fn begin_restore(&mut self) {
        self.staged.get_or_insert_with(Lane::default);
    }

    /// The reconnect restored every subscription: [`PubSubEvent::Reconnected`] with `cause` (why the old
    /// connection ended) is queued, then the messages that arrived meanwhile.
    pub fn restored(&mut self, cause: Error) {
        self.live.detach();
        self.live.slots.push_back(Slot::Reconnected(cause));
        if let Some(staged) = self.staged.take() {
            let live = &mut self.live;
            live.slots.extend(staged.slots);
            live.messages += staged.messages;
            live.bytes += staged.bytes;
            live.attached = staged.attached;
            live.arrived += staged.arrived;
            live.dropped += staged.dropped;
        }
    }

    /// The reconnect failed before every subscription was back: the messages it received are discarded
    /// (they fall in the gap the next [`PubSubEvent::Reconnected`] reports).
    pub fn restore_failed(&mut self) {
        self.staged = None;
    }

    /// The oldest event: a message, a [`PubSubEvent::Reconnected`] or [`PubSubEvent::Lagged`] notice, or
    /// for [`Overflow::Error`] the [`Error::PubSubOverflow`] where messages were dropped. `None` when
    /// empty.
    pub fn pop(&mut self) -> Option<Result<PubSubEvent>> {
        let lane = &mut self.live;
        Some(match lane.slots.pop_front()? {
            Slot::Message { message, weight } => {
                lane.took(weight);
                Ok(PubSubEvent::Message(message))
            }
            Slot::Reconnected(cause) => Ok(PubSubEvent::Reconnected { cause }),
            Slot::Gap { dropped, error: false, .. } => Ok(PubSubEvent::Lagged { dropped }),
            Slot::Gap { dropped, error: true, .. } => Err(Error::PubSubOverflow {
                dropped,
                max_messages: self.buffer.max_messages,
                max_bytes: self.buffer.max_bytes,
            }),
        })
    }

    /// Copies the buffered messages that still point into the connection's read buffer into their own
    /// memory. Call it before every read into that buffer (it is O(1) when there is nothing to copy), so a
    /// message waiting here never keeps a whole read chunk alive.
    pub fn detach(&mut self) {
        self.live.detach();
        if let Some(staged) = &mut self.staged {
            staged.detach();
        }
    }

    /// `true` when the runtime should take what its socket has before handing out an event: the inbox
    /// holds events and the last such read was at least [`READ_INTERVAL`] before `now`. (With nothing
    /// buffered the runtime waits for input anyway.)
    pub fn read_due(&self, now: Instant) -> bool {
        !self.is_empty()
            && self.last_read.map_or(true, |at| now.saturating_duration_since(at) >= READ_INTERVAL)
    }

    /// The runtime took what its socket had at `now`.
    pub fn note_read(&mut self, now: Instant) {
        self.last_read = Some(now);
    }
}

impl Lane {
    /// The tail is an open error gap: every arriving message is dropped into it.
    fn absorbs(&self) -> bool {
        matches!(self.slots.back(), Some(Slot::Gap { open: true, .. }))
    }

    /// Counts a dropped message at the tail, in the gap already there or a new one.
    fn drop_here(&mut self, error: bool) {
        self.dropped += 1;
        match self.slots.back_mut() {
            Some(Slot::Gap { dropped, error: e, .. }) if *e == error => *dropped += 1,
            _ => self.slots.push_back(Slot::Gap { dropped: 1, error, open: error }),
        }
    }

    /// Drops the oldest message, counting it in the gap in front of it (made if needed); `false` when
    /// the lane holds no message. The slots in front of the oldest message are notices and at most one
    /// gap, so this does not scan.
    fn drop_oldest(&mut self) -> bool {
        let Some(at) = self.slots.iter().position(|s| matches!(s, Slot::Message { .. })) else {
            return false;
        };
        let Some(Slot::Message { weight, .. }) = self.slots.remove(at) else { return false };
        self.took(weight);
        self.dropped += 1;
        match at.checked_sub(1).and_then(|before| self.slots.get_mut(before)) {
            Some(Slot::Gap { dropped, error: false, .. }) => *dropped += 1,
            _ => self.slots.insert(at, Slot::Gap { dropped: 1, error: false, open: false }),
        }
        true
    }

    /// A message of `weight` bytes left the lane from the front.
    fn took(&mut self, weight: usize) {
        self.messages -= 1;
        self.bytes -= weight;
        self.attached = self.attached.min(self.messages);
    }

    /// Copies the attached messages (the newest ones) out of the read buffer, all into one allocation:
    /// messages leave in arrival order, so it is freed when the last of them has gone, and at most the
    /// oldest such allocation is partly unused.
    fn detach(&mut self) {
        if self.attached == 0 {
            return;
        }
        let (slots, n) = (&mut self.slots, self.attached);
        let mut newest = |f: &mut dyn FnMut(&mut Bytes)| {
            let messages = slots.iter_mut().rev().filter_map(|slot| match slot {
                Slot::Message { message, .. } => Some(message),
                _ => None,
            });
            messages.take(n).for_each(|m| for_each_string(m, &mut *f));
        };
        let mut total = 0;
        newest(&mut |b| total += b.len());
        let mut copy = BytesMut::with_capacity(total);
        newest(&mut |b| copy.extend_from_slice(b));
        let mut copy = copy.freeze();
        newest(&mut |b| *b = copy.split_to(b.len()));
        self.attached = 0;
    }
}

/// What a message costs the buffer: its channel, pattern and payload (every string inside an aggregate
/// payload), plus [`MESSAGE_OVERHEAD`].
fn weight(m: &Message) -> usize {
    let mut total = MESSAGE_OVERHEAD + m.channel.len() + m.pattern.as_ref().map_or(0, Bytes::len);
    // The stack allocates only for an aggregate payload (the common bulk string needs none).
    let (mut next, mut stack) = (Some(&m.payload), Vec::new());
    while let Some(v) = next.take().or_else(|| stack.pop()) {
        match v {
            Value::SimpleString(b) | Value::Error(b) | Value::BulkString(b) | Value::BigNumber(b) => {
                total += b.len()
            }
            Value::VerbatimString { text, .. } => total += text.len(),
            Value::Array(items) | Value::Set(items) | Value::Push(items) => stack.extend(items),
            Value::Map(pairs) => pairs.iter().for_each(|(k, v)| stack.extend([k, v])),
            Value::Attribute { attributes, value } => {
                attributes.iter().for_each(|(k, v)| stack.extend([k, v]));
                stack.push(value);
            }
            _ => total += 8,
        }
    }
    total
}

/// Calls `f` on every byte string of `m`, in a fixed order: channel, pattern, then the payload's (an
/// explicit stack: no recursion on peer-shaped data).
fn for_each_string(m: &mut Message, mut f: impl FnMut(&mut Bytes)) {
    f(&mut m.channel);
    if let Some(p) = &mut m.pattern {
        f(p);
    }
    let (mut next, mut stack) = (Some(&mut m.payload), Vec::new());
    while let Some(v) = next.take().or_else(|| stack.pop()) {
        match v {
            Value::SimpleString(b) | Value::Error(b) | Value::BulkString(b) | Value::BigNumber(b) => f(b),
            Value::VerbatimString { text, .. } => f(text),
            Value::Array(items) | Value::Set(items) | Value::Push(items) => {
                stack.extend(items.iter_mut().rev())
            }
            Value::Map(pairs) => pairs.iter_mut().rev().for_each(|(k, v)| stack.extend([v, k])),
            Value::Attribute { attributes, value } => {
                stack.push(value);
                attributes.iter_mut().rev().for_each(|(k, v)| stack.extend([v, k]));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::MessageKind;

    fn msg(payload: &str) -> Message {
        Message {
            kind: MessageKind::Message,
            channel: Bytes::from_static(b"ch"),
            pattern: None,
            payload: Value::BulkString(Bytes::copy_from_slice(payload.as_bytes())),
        }
    }

    /// Pops everything, as text: `m:<payload>`, `lagged:<n>`, `reconnected`, `error:<n>`.
    fn drain(inbox: &mut Inbox) -> Vec<String> {
        std::iter::from_fn(|| inbox.pop())
            .map(|e| match e {
                Ok(PubSubEvent::Message(m)) => match m.payload {
                    Value::BulkString(b) => format!("m:{}", String::from_utf8_lossy(&b)),
                    other => format!("m:{other:?}"),
                },
                Ok(PubSubEvent::Lagged { dropped }) => format!("lagged:{dropped}"),
                Ok(PubSubEvent::Reconnected { .. }) => "reconnected".into(),
                Err(Error::PubSubOverflow { dropped, .. }) => format!("error:{dropped}"),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn bounded(max_messages: usize, max_bytes: usize, policy: Overflow) -> Inbox {
        let buffer = PubSubBuffer::default()
            .with_max_messages(max_messages)
            .with_max_bytes(max_bytes)
            .with_overflow(policy);
        Inbox::new(buffer).unwrap()
    }

    fn push_all(inbox: &mut Inbox, payloads: &[&str]) {
        payloads.iter().for_each(|p| inbox.push_message(msg(p)));
    }

    #[test]
    fn zero_limits_are_refused() {
        for buffer in
            [PubSubBuffer::default().with_max_messages(0), PubSubBuffer::default().with_max_bytes(0)]
        {
            let err = Inbox::new(buffer).unwrap_err();
            assert!(matches!(&err, Error::Config(m) if m.contains("at least 1")), "{err}");
            assert!(Inbox::default().set_buffer(buffer).is_err());
        }
    }

    #[test]
    fn drop_oldest_keeps_the_newest_and_reports_in_front() {
        let mut inbox = bounded(3, usize::MAX, Overflow::DropOldest);
        push_all(&mut inbox, &["1", "2", "3", "4", "5"]);
        assert_eq!(drain(&mut inbox), ["lagged:2", "m:3", "m:4", "m:5"]);
        // Gaps at different places stay apart: a message taken between two floods.
        push_all(&mut inbox, &["a", "b", "c", "d"]);
        assert_eq!(drain(&mut inbox).first().map(String::as_str), Some("lagged:1"));
        let s = inbox.stats();
        assert_eq!((s.arrived, s.dropped, s.messages, s.bytes, s.peak_messages), (9, 3, 0, 0, 3));
    }

    #[test]
    fn drop_newest_keeps_the_oldest_and_reports_after_them() {
        let mut inbox = bounded(2, usize::MAX, Overflow::DropNewest);
        push_all(&mut inbox, &["1", "2", "3", "4"]);
        assert!(matches!(inbox.pop(), Some(Ok(PubSubEvent::Message(_)))));
        push_all(&mut inbox, &["5", "6"]); // room for one: 5 gets in behind the gap, 6 is dropped
        assert_eq!(drain(&mut inbox), ["m:2", "lagged:2", "m:5", "lagged:1"]);
        assert_eq!((inbox.stats().arrived, inbox.stats().dropped), (6, 3));
    }

    #[test]
    fn the_error_policy_fails_once_per_overflow_and_goes_on() {
        let mut inbox = bounded(2, usize::MAX, Overflow::Error);
        push_all(&mut inbox, &["1", "2", "3"]);
        assert!(matches!(inbox.pop(), Some(Ok(PubSubEvent::Message(_)))));
        // Room for one, but the overflow stays open until the consumer reached it: 4 is dropped too.
        push_all(&mut inbox, &["4"]);
        assert_eq!(drain(&mut inbox), ["m:2", "error:2"]);
        push_all(&mut inbox, &["5", "6"]);
        assert_eq!(drain(&mut inbox), ["m:5", "m:6"]);
        let s = inbox.stats();
        assert_eq!((s.arrived, s.dropped), (6, 2));
    }

    #[test]
    fn the_overflow_error_says_what_to_do() {
        let mut inbox = bounded(1, 1000, Overflow::Error);
        push_all(&mut inbox, &["1", "2"]);
        let _ = inbox.pop();
        let text = inbox.pop().unwrap().unwrap_err().to_string();
        for needle in [
            "1 message(s) dropped",
            "1 messages, 1000 bytes",
            "consume faster",
            "with_max_messages",
            "DropOldest",
        ] {
            assert!(text.contains(needle), "{needle:?} missing in {text:?}");
        }
        assert!(!Error::PubSubOverflow { dropped: 1, max_messages: 1, max_bytes: 1 }.is_fatal());
    }

    #[test]
    fn bytes_bound_counts_channel_pattern_payload_and_bookkeeping() {
        // Each message weighs 2 (channel) + 10 (payload) + the overhead.
        let each = 12 + MESSAGE_OVERHEAD;
        let mut inbox = bounded(usize::MAX, 2 * each + each / 2, Overflow::DropOldest);
        push_all(&mut inbox, &["0123456789"; 5]);
        let s = inbox.stats();
        assert_eq!((s.messages, s.bytes, s.peak_bytes, s.dropped), (2, 2 * each, 2 * each, 3));
        // Too big to ever fit: dropped whatever the policy, and counted.
        let mut inbox = bounded(10, each - 1, Overflow::DropOldest);
        push_all(&mut inbox, &["0123456789", "x"]);
        assert_eq!(drain(&mut inbox), ["lagged:1", "m:x"]);
        let mut pattern = msg("abc");
        pattern.pattern = Some(Bytes::from_static(b"c*"));
        pattern.payload = Value::Array(vec![Value::BulkString("k1".into()), Value::Integer(1)]);
        assert_eq!(weight(&pattern), MESSAGE_OVERHEAD + 2 + 2 + 2 + 8);
        // The default bounds the count through the bytes, as DEFAULT_MAX_MESSAGES says.
        let most = DEFAULT_MAX_BYTES / (MESSAGE_OVERHEAD + 1);
        assert!((500_000..600_000).contains(&most), "{most}");
    }

    #[test]
    fn a_reconnect_comes_after_what_was_buffered_and_before_what_came_during_the_restore() {
        let mut inbox = bounded(10, usize::MAX, Overflow::Error);
        push_all(&mut inbox, &["before"]);
        inbox.begin_restore();
        push_all(&mut inbox, &["during"]);
        assert_eq!(inbox.stats().messages, 2, "staged messages count against the bound");
        assert!(matches!(inbox.pop(), Some(Ok(PubSubEvent::Message(_)))));
        assert!(inbox.pop().is_none(), "staged messages wait for the restore");
        inbox.restored(Error::Closed("gone".into()));
        push_all(&mut inbox, &["after"]);
        assert_eq!(drain(&mut inbox), ["reconnected", "m:during", "m:after"]);
        // A failed restore discards what it received; the next one reports the gap.
        inbox.begin_restore();
        push_all(&mut inbox, &["lost"]);
        inbox.restore_failed();
        inbox.begin_restore();
        inbox.restored(Error::Closed("gone".into()));
        assert_eq!(drain(&mut inbox), ["reconnected"]);
        assert_eq!(inbox.stats().arrived, 3);
    }

    #[test]
    fn an_open_overflow_closes_at_a_reconnect() {
        let mut inbox = bounded(1, usize::MAX, Overflow::Error);
        push_all(&mut inbox, &["1", "2", "3"]);
        inbox.begin_restore();
        inbox.restored(Error::Closed("gone".into()));
        let _ = inbox.pop();
        push_all(&mut inbox, &["4"]);
        assert_eq!(drain(&mut inbox), ["error:2", "reconnected", "m:4"]);
    }

    #[test]
    fn drop_oldest_reaches_into_the_staged_lane() {
        let mut inbox = bounded(2, usize::MAX, Overflow::DropOldest);
        push_all(&mut inbox, &["1"]);
        inbox.begin_restore();
        push_all(&mut inbox, &["2", "3", "4"]);
        inbox.restored(Error::Closed("gone".into()));
        assert_eq!(drain(&mut inbox), ["lagged:1", "reconnected", "lagged:1", "m:3", "m:4"]);
        assert_eq!((inbox.stats().arrived, inbox.stats().dropped), (4, 2));
    }

    #[test]
    fn detach_copies_only_what_still_points_into_the_read_buffer() {
        let chunk = Bytes::from_static(b"shared-read-buffer");
        let mut inbox = Inbox::default();
        for _ in 0..3 {
            let mut m = msg("");
            m.payload = Value::BulkString(chunk.slice(0..6));
            inbox.push_message(m);
        }
        assert_eq!(inbox.live.attached, 3);
        let _ = inbox.pop();
        assert_eq!(inbox.live.attached, 2);
        inbox.detach();
        assert_eq!(inbox.live.attached, 0);
        let static_range = chunk.as_ptr_range();
        let mut channels = Vec::new();
        while let Some(Ok(PubSubEvent::Message(m))) = inbox.pop() {
            let Value::BulkString(b) = m.payload else { panic!() };
            assert_eq!((&m.channel[..], &b[..]), (&b"ch"[..], &b"shared"[..]));
            assert!(!static_range.contains(&b.as_ptr()), "still a slice of the read buffer");
            channels.push(m.channel);
        }
        // The two copied messages share one allocation (copied newest first).
        assert_eq!(channels.len(), 2);
        assert_eq!(channels[0].as_ptr(), channels[1].as_ptr().wrapping_add(2 + 6));
    }

    #[test]
    fn debug_shows_counts_never_payloads() {
        let mut inbox = Inbox::default();
        inbox.push_message(msg("secret-payload"));
        let text = format!("{inbox:?}");
        assert!(text.contains("messages: 1") && !text.contains("secret"), "{text}");
    }

    #[test]
    fn reads_are_due_at_most_every_interval_while_events_wait() {
        let mut inbox = Inbox::default();
        let t0 = Instant::now();
        assert!(!inbox.read_due(t0), "nothing buffered: the runtime waits anyway");
        inbox.push_message(msg("x"));
        assert!(inbox.read_due(t0));
        inbox.note_read(t0);
        assert!(!inbox.read_due(t0 + READ_INTERVAL / 2));
        assert!(inbox.read_due(t0 + READ_INTERVAL));
    }
}
