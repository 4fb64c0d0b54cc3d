//! [`PubSub`]: a dedicated pub/sub connection read as a stream of [`PubSubEvent`]s. Subscriptions change
//! between reads (`&mut self`) or, while another task reads, through a [`PubSubControl`] handle; either
//! way messages that arrive meanwhile are kept, in order. When the connection breaks, the stream
//! reconnects with backoff, subscribes again to every channel, pattern and shard channel, and yields
//! [`PubSubEvent::Reconnected`]: messages published in the gap were missed. What is read waits in the
//! core's [`Inbox`], bounded as the user chose. No background task: the connection moves only while the
//! stream (or a `&mut self` method) is polled.
//!
//! What is subscribed, what to restore, how long to back off and what to drop are the core's answers
//! (`Connection`, `Outage`, `Inbox`), the same as the blocking runtime's; this file moves bytes and wakes
//! tasks.

use super::pool::Pool;
use super::wire::{race, Wire};
use super::{oneshot, replicate, Rt};
use crate::inbox::{BufferStats, Inbox, PubSubBuffer, READ_BUDGET};
use crate::outage::Outage;
use crate::push::PushSink;
use crate::resp::Value;
use crate::{Cmd, Config, Error, Event, RequestId, Result, ToArgs};
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

pub use crate::event::PubSubEvent;

/// An (un)subscription asked for and not confirmed yet.
struct Change {
    cmd: Cmd,
    done: oneshot::Sender<Result<()>>,
}

#[derive(Default)]
struct Control {
    /// Asked for, not sent yet.
    queued: Vec<Change>,
    /// The reading task, woken when a change is queued.
    waker: Option<Waker>,
    /// The `PubSub` is gone: changes fail at once.
    closed: bool,
}

type Shared = Arc<Mutex<Control>>;

fn lock(control: &Shared) -> MutexGuard<'_, Control> {
    control.lock().unwrap_or_else(|p| p.into_inner())
}

/// Changes a [`PubSub`]'s subscriptions from any task while another one reads its stream; from
/// [`PubSub::control`]. Each call completes once the server confirmed it, which happens while the stream
/// is being read (there is no background task).
#[derive(Clone)]
pub struct PubSubControl {
    control: Shared,
}

impl fmt::Debug for PubSubControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PubSubControl").field("queued", &lock(&self.control).queued.len()).finish()
    }
}

impl PubSubControl {
    fn change(&self, cmd: Cmd) -> oneshot::Receiver<Result<()>> {
        let (done, rx) = oneshot::channel();
        let waker = {
            let mut control = lock(&self.control);
            if control.closed {
                return rx; // `done` is dropped here: the change fails as closed
            }
            control.queued.push(Change { cmd, done });
            control.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        rx
    }

    async fn run(&self, cmd: Cmd) -> Result<()> {
        self.change(cmd).await.unwrap_or_else(|oneshot::Canceled| {
            Err(Error::Closed("the PubSub was dropped before the server confirmed".into()))
        })
    }

    /// Subscribes to channels; see [`PubSub::subscribe`].
    ///
    /// # Errors
    /// As [`PubSub::subscribe`], or [`Error::Closed`] when the `PubSub` is dropped first.
    pub async fn subscribe(&self, channels: impl ToArgs) -> Result<()> {
        self.run(Cmd::new("SUBSCRIBE").arg(channels)).await
    }

    /// Subscribes to patterns; see [`PubSub::psubscribe`].
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn psubscribe(&self, patterns: impl ToArgs) -> Result<()> {
        self.run(Cmd::new("PSUBSCRIBE").arg(patterns)).await
    }

    /// Subscribes to shard channels; see [`PubSub::ssubscribe`].
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn ssubscribe(&self, shard_channels: impl ToArgs) -> Result<()> {
        self.run(Cmd::new("SSUBSCRIBE").arg(shard_channels)).await
    }

    /// Unsubscribes from channels (all when given none); see [`PubSub::unsubscribe`].
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn unsubscribe(&self, channels: impl ToArgs) -> Result<()> {
        self.run(Cmd::new("UNSUBSCRIBE").arg(channels)).await
    }

    /// Unsubscribes from patterns (all when given none); see [`PubSub::punsubscribe`].
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn punsubscribe(&self, patterns: impl ToArgs) -> Result<()> {
        self.run(Cmd::new("PUNSUBSCRIBE").arg(patterns)).await
    }

    /// Unsubscribes from shard channels (all when given none); see [`PubSub::sunsubscribe`].
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn sunsubscribe(&self, shard_channels: impl ToArgs) -> Result<()> {
        self.run(Cmd::new("SUNSUBSCRIBE").arg(shard_channels)).await
    }
}

type Connect<R> = Pin<Box<dyn Future<Output = Result<Wire<R>>> + Send>>;

/// A dedicated pub/sub connection, from [`Client::pubsub`](super::Client::pubsub).
///
/// Read it with [`next`](Self::next) or as a [`futures_core::Stream`] (which never ends: after an error
/// the next read reconnects). Subscribe and unsubscribe between reads, with `&mut self`, or from another
/// task while this one reads, through [`control`](Self::control); messages that arrive while a change
/// waits for its confirmation are kept for the stream.
///
/// # Reconnects
/// When the connection breaks, the next poll reconnects (within the connect timeout, at once the first
/// time, then after a backoff of 50 ms doubling to 2 s), subscribes again to every channel, pattern and
/// shard channel the server had confirmed, and only then yields [`PubSubEvent::Reconnected`]: every
/// message published after that event arrives, once. A failed attempt is yielded as an error; the next
/// read tries again.
///
/// # A slow consumer
/// Each read first takes what the socket holds (without waiting, at most every millisecond while events
/// are buffered), so the server's output buffer stays small; what is not consumed waits in a buffer
/// bounded by a [`PubSubBuffer`] (default: 64 MiB, counting about 120 bytes of bookkeeping per message),
/// whose overflow policy decides what happens when it is full: [`Error::PubSubOverflow`] once per
/// overflow (the default, [`Overflow::Error`](crate::inbox::Overflow::Error)), or dropping the oldest or
/// newest messages, reported as [`PubSubEvent::Lagged`]. Set it with [`set_buffer`](Self::set_buffer);
/// [`buffer_stats`](Self::buffer_stats) shows the bound holding.
///
/// ```no_run
/// use redwire::smol::{Client, Overflow, PubSubBuffer, PubSubEvent};
///
/// # fn main() -> redwire::Result<()> {
/// smol::block_on(async {
///     let client = Client::open("redis://127.0.0.1:6379")?;
///     let mut sub = client.pubsub().await?;
///     sub.set_buffer(PubSubBuffer::default().with_max_bytes(8 << 20).with_overflow(Overflow::DropNewest))?;
///     sub.subscribe("news").await?;
///     loop {
///         match sub.next().await? {
///             PubSubEvent::Message(m) => println!("{:?}", m.payload),
///             PubSubEvent::Lagged { dropped } => println!("{dropped} messages dropped: too slow"),
///             PubSubEvent::Reconnected { cause } => println!("reconnected after {cause}"),
///             _ => {}
///         }
///     }
/// })
/// # }
/// ```
pub struct PubSub<R: Rt> {
    config: Config,
    /// Where pushes that are not pub/sub traffic go, on this connection and the ones after it.
    pushes: PushSink,
    wire: Option<Wire<R>>,
    /// Set from the moment the connection breaks until a new one has every subscription back.
    outage: Option<Outage>,
    /// The restoring commands sent on the new wire and not confirmed yet.
    restoring: Vec<RequestId>,
    connecting: Option<Connect<R>>,
    inbox: Inbox,
    /// A failed reconnect attempt, for the stream to yield (after what is buffered).
    failed: Option<Error>,
    control: Shared,
    /// Changes sent on the current connection, waiting for their confirmation.
    sent: Vec<(RequestId, Change)>,
}

impl<R: Rt> fmt::Debug for PubSub<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PubSub")
            .field("connected", &self.wire.is_some())
            .field("restoring", &self.outage.is_some())
            .field("subscribed", &self.is_subscribed())
            .field("buffer", &self.inbox.stats())
            .finish_non_exhaustive()
    }
}

impl<R: Rt> PubSub<R> {
    pub(super) async fn open(config: Config, pool: &Arc<Pool<R>>) -> Result<PubSub<R>> {
        let wire = pool.take().await?;
        Ok(PubSub {
            config,
            pushes: pool.pushes().clone(),
            wire: Some(wire),
            outage: None,
            restoring: Vec::new(),
            connecting: None,
            inbox: Inbox::default(),
            failed: None,
            control: Shared::default(),
            sent: Vec::new(),
        })
    }

    /// Subscribes to one or more channels (`"news"`, `["a", "b"]`) and waits for the confirmations.
    ///
    /// # Errors
    /// The server's error reply, or the connection's error (the next read reconnects; the channels of a
    /// failed call are not restored).
    pub async fn subscribe(&mut self, channels: impl ToArgs) -> Result<()> {
        self.command(Cmd::new("SUBSCRIBE").arg(channels)).await
    }

    /// Subscribes to one or more glob-style patterns.
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn psubscribe(&mut self, patterns: impl ToArgs) -> Result<()> {
        self.command(Cmd::new("PSUBSCRIBE").arg(patterns)).await
    }

    /// Subscribes to one or more shard channels (Redis 7+).
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn ssubscribe(&mut self, shard_channels: impl ToArgs) -> Result<()> {
        self.command(Cmd::new("SSUBSCRIBE").arg(shard_channels)).await
    }

    /// Unsubscribes from channels; from every channel when given none (`&[] as &[&str]`).
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn unsubscribe(&mut self, channels: impl ToArgs) -> Result<()> {
        self.command(Cmd::new("UNSUBSCRIBE").arg(channels)).await
    }

    /// Unsubscribes from patterns; from every pattern when given none.
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn punsubscribe(&mut self, patterns: impl ToArgs) -> Result<()> {
        self.command(Cmd::new("PUNSUBSCRIBE").arg(patterns)).await
    }

    /// Unsubscribes from shard channels; from every shard channel when given none.
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn sunsubscribe(&mut self, shard_channels: impl ToArgs) -> Result<()> {
        self.command(Cmd::new("SUNSUBSCRIBE").arg(shard_channels)).await
    }

    /// The next event: a message, or a notice that messages are missing here
    /// ([`PubSubEvent::Reconnected`], [`PubSubEvent::Lagged`]). Never "ends": after an error, the next
    /// call reconnects.
    ///
    /// # Errors
    /// [`Error::PubSubOverflow`] where the default overflow policy dropped messages (the connection is
    /// kept); a failed reconnect attempt (the next call tries again, after a backoff).
    pub async fn next(&mut self) -> Result<PubSubEvent> {
        poll_fn(|cx| self.poll_event(cx)).await
    }

    /// The next event, waiting at most `timeout`; `Ok(None)` when none came.
    ///
    /// # Errors
    /// As [`next`](Self::next).
    pub async fn get_message(&mut self, timeout: Duration) -> Result<Option<PubSubEvent>> {
        let deadline = Instant::now().checked_add(timeout);
        match deadline {
            Some(at) => race(self.next(), R::sleep_until(at)).await.transpose(),
            None => self.next().await.map(Some),
        }
    }

    /// `true` while a channel, pattern or shard channel is subscribed (confirmed by the server), or, while
    /// the connection is down, is to be restored.
    pub fn is_subscribed(&self) -> bool {
        match (&self.outage, &self.wire) {
            (Some(outage), _) => outage.is_subscribed(),
            (None, Some(wire)) => wire.conn.subscriptions().next().is_some(),
            (None, None) => false,
        }
    }

    /// A handle that changes this stream's subscriptions from another task.
    pub fn control(&self) -> PubSubControl {
        PubSubControl { control: self.control.clone() }
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

    /// Queues a change and reads the connection until the server confirmed it; messages that arrive
    /// meanwhile are kept for the stream.
    async fn command(&mut self, cmd: Cmd) -> Result<()> {
        let mut done = self.control().change(cmd);
        poll_fn(|cx| loop {
            let progressed = self.fill(cx);
            if let Poll::Ready(result) = Pin::new(&mut done).poll(cx) {
                return Poll::Ready(result.unwrap_or_else(|oneshot::Canceled| Err(lost())));
            }
            if !progressed {
                return Poll::Pending;
            }
        })
        .await
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Result<PubSubEvent>> {
        loop {
            let now = Instant::now();
            let mut progressed = false;
            if self.inbox.is_empty() || self.inbox.read_due(now) {
                progressed = self.fill(cx);
                self.inbox.note_read(now);
            }
            if let Some(event) = self.inbox.pop() {
                return Poll::Ready(event);
            }
            if let Some(e) = self.failed.take() {
                return Poll::Ready(Err(e));
            }
            if !progressed {
                return Poll::Pending;
            }
        }
    }

    /// Moves the connection on as far as it goes without waiting: reconnects, sends queued changes, and
    /// files what arrives (at most [`READ_BUDGET`] events) — messages into the inbox, confirmations to
    /// their changes. `true` when something happened (look again); `false` when everything waits, a
    /// wake-up registered.
    fn fill(&mut self, cx: &mut Context<'_>) -> bool {
        let mut filed = 0;
        let mut sent_queued = false;
        loop {
            if self.wire.is_none() {
                if self.poll_connect(cx).is_pending() {
                    return filed > 0;
                }
                if self.wire.is_none() {
                    return true; // the attempt failed: `failed` holds why
                }
            }
            if !sent_queued {
                self.send_queued(cx);
                sent_queued = true;
            }
            let Some(wire) = &mut self.wire else { return true };
            // What the connection has decoded first; only then detach and read.
            let event = match wire.conn.poll_event() {
                Ok(Some(event)) => Ok(event),
                Ok(None) => {
                    self.inbox.detach();
                    match wire.poll_event(cx) {
                        Poll::Ready(result) => result,
                        Poll::Pending => return filed > 0,
                    }
                }
                Err(e) => Err(e),
            };
            match event {
                Ok(event) => self.file(event),
                Err(e) => self.lose(e),
            }
            filed += 1;
            if filed >= READ_BUDGET {
                return true;
            }
        }
    }

    /// Sends the changes queued by `&mut self` methods and [`PubSubControl`] handles, and registers the
    /// reading task to be woken when more are queued.
    fn send_queued(&mut self, cx: &mut Context<'_>) {
        let Some(wire) = &mut self.wire else { return };
        let queued = {
            let mut control = lock(&self.control);
            match &control.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => control.waker = Some(cx.waker().clone()),
            }
            std::mem::take(&mut control.queued)
        };
        let now = Instant::now();
        for change in queued {
            match wire.conn.send(&change.cmd, now) {
                Ok(id) => self.sent.push((id, change)),
                Err(e) => {
                    let _ = change.done.send(Err(e));
                }
            }
        }
    }

    /// Files one event: a message into the inbox, a confirmation or error reply to the change (or the
    /// restoring command) it answers.
    fn file(&mut self, event: Event) {
        match event {
            Event::Message(m) => self.inbox.push_message(m),
            // The last confirmation of a change or of a restoring command.
            Event::Subscription { id: Some(id), done: true, .. } => {
                match self.restoring.iter().position(|r| *r == id) {
                    Some(at) => {
                        self.restoring.swap_remove(at);
                        if self.restoring.is_empty() {
                            self.restored();
                        }
                    }
                    None => self.settle(id, Ok(())),
                }
            }
            Event::Reply { id, value, .. } => {
                let answer = match value {
                    Value::Error(e) => Error::Server(e),
                    other => Error::Protocol(format!("a subscription command was answered by {other:?}")),
                };
                if self.restoring.contains(&id) {
                    self.lose(answer); // the reconnect cannot restore what it must: try again later
                } else {
                    self.settle(id, Err(answer));
                }
            }
            // Read straight from the connection (not through the wire, which hands them over itself).
            Event::Push(push) => self.pushes.deliver(push),
            // Confirmations the server sent on its own (the core updated its subscriptions), and
            // `TimedOut` (the wire's next event is the poisoned error).
            _ => {}
        }
    }

    /// Completes the change `id` answered.
    fn settle(&mut self, id: RequestId, answer: Result<()>) {
        let Some(at) = self.sent.iter().position(|(sent, _)| *sent == id) else { return };
        let (_, change) = self.sent.swap_remove(at);
        let _ = change.done.send(answer);
    }

    /// The connection failed (`cause`): the changes sent on it fail with it, and the outage begins (or,
    /// when this was a reconnect still restoring, goes on as a failed attempt).
    fn lose(&mut self, cause: Error) {
        for (_, change) in self.sent.drain(..) {
            let _ = change.done.send(Err(replicate(&cause)));
        }
        let wire = self.wire.take();
        match &mut self.outage {
            Some(outage) => {
                self.restoring.clear();
                self.inbox.restore_failed();
                outage.failed(Instant::now());
                self.failed = Some(cause);
            }
            None => self.outage = wire.map(|wire| Outage::new(&wire.conn, cause)),
        }
    }

    /// Drives a reconnect attempt (started on demand, after the backoff). On success the new wire is in
    /// place with the restoring commands sent; on failure the changes waiting for a connection fail with
    /// it and `failed` holds the error.
    fn poll_connect(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(outage) = &mut self.outage else { return Poll::Ready(()) };
        let (config, pushes) = (&self.config, &self.pushes);
        let future = self.connecting.get_or_insert_with(|| {
            Box::pin(connect::<R>(config.clone(), pushes.clone(), outage.next_attempt()))
        });
        let result = std::task::ready!(future.as_mut().poll(cx));
        self.connecting = None;
        match result {
            Ok(mut wire) => {
                self.inbox.begin_restore();
                let now = Instant::now();
                let sent =
                    outage.restore().iter().map(|cmd| wire.conn.send(cmd, now)).collect::<Result<Vec<_>>>();
                self.wire = Some(wire);
                match sent {
                    Ok(ids) => self.restoring = ids,
                    Err(e) => self.lose(e),
                }
                if self.wire.is_some() && self.restoring.is_empty() {
                    self.restored();
                }
            }
            Err(e) => {
                outage.failed(Instant::now());
                for change in lock(&self.control).queued.drain(..) {
                    let _ = change.done.send(Err(replicate(&e)));
                }
                self.failed = Some(e);
            }
        }
        Poll::Ready(())
    }

    /// Every subscription is back: the outage ends with `Reconnected`.
    fn restored(&mut self) {
        if let Some(outage) = self.outage.take() {
            self.inbox.restored(outage.into_cause());
        }
    }
}

fn lost() -> Error {
    Error::Closed("the pub/sub connection was lost before the server confirmed".into())
}

/// Waits until `at` (the backoff), then connects; pushes on the new wire go to `pushes`.
async fn connect<R: Rt>(config: Config, pushes: PushSink, at: Option<Instant>) -> Result<Wire<R>> {
    if let Some(at) = at.filter(|at| *at > Instant::now()) {
        R::sleep_until(at).await;
    }
    Wire::<R>::connect(&config, pushes).await
}

impl<R: Rt> Drop for PubSub<R> {
    /// Fails the changes still queued by [`PubSubControl`] handles, and any later ones.
    fn drop(&mut self) {
        let queued = {
            let mut control = lock(&self.control);
            control.closed = true;
            std::mem::take(&mut control.queued)
        };
        drop(queued);
    }
}

impl<R: Rt> futures_core::Stream for PubSub<R> {
    type Item = Result<PubSubEvent>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_event(cx).map(Some)
    }
}
