//! [`PubSub`]: a dedicated pub/sub connection read as a stream of [`PubSubEvent`]s. Subscriptions change
//! between reads (`&mut self`) or, while another task reads, through a [`PubSubControl`] handle; either
//! way messages that arrive meanwhile are kept, in order. When the connection breaks, the stream
//! reconnects with backoff, subscribes again to every channel, pattern and shard channel, and yields
//! [`PubSubEvent::Reconnected`]: messages published in the gap were missed. No background task: the
//! connection moves only while the stream (or a `&mut self` method) is polled.
//!
//! Subscription state is decided by the core (`Connection` tracks confirmations); this file keeps only
//! the list of names to restore after a reconnect.

use super::pool::Pool;
use super::wire::{race, Wire};
use super::{backoff, oneshot, replicate, Rt};
use crate::event::{Message, SubscriptionKind};
use crate::push::PushSink;
use crate::resp::Value;
use crate::{Cmd, Config, Error, Event, RequestId, Result, ToArgs};
use bytes::Bytes;
use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// What a pub/sub stream yields (`redwire::smol::PubSub`, `redwire::async_std::PubSub`).
#[derive(Debug)]
#[non_exhaustive]
pub enum PubSubEvent {
    /// A message on a subscribed channel, pattern or shard channel.
    Message(Message),
    /// The connection broke (`cause`) and a new one now has every subscription back. Messages published
    /// while no connection was subscribed were missed.
    Reconnected {
        /// Why the previous connection ended.
        cause: Error,
    },
}

/// The names to subscribe again after a reconnect.
#[derive(Default, Clone)]
struct Subs {
    channels: BTreeSet<Bytes>,
    patterns: BTreeSet<Bytes>,
    shard_channels: BTreeSet<Bytes>,
}

impl Subs {
    fn set(&mut self, kind: SubscriptionKind) -> &mut BTreeSet<Bytes> {
        match kind {
            SubscriptionKind::Subscribe | SubscriptionKind::Unsubscribe => &mut self.channels,
            SubscriptionKind::PSubscribe | SubscriptionKind::PUnsubscribe => &mut self.patterns,
            _ => &mut self.shard_channels,
        }
    }

    /// Records a confirmed (un)subscription command.
    fn apply(&mut self, kind: SubscriptionKind, cmd: &Cmd) {
        let names = self.set(kind);
        let mut args = cmd.args().skip(1).peekable();
        if kind.is_subscribe() {
            names.extend(args.map(Bytes::copy_from_slice));
        } else if args.peek().is_none() {
            names.clear();
        } else {
            args.for_each(|a| {
                names.remove(a);
            });
        }
    }

    /// The commands that restore every subscription.
    fn commands(&self) -> Vec<Cmd> {
        [("SUBSCRIBE", &self.channels), ("PSUBSCRIBE", &self.patterns), ("SSUBSCRIBE", &self.shard_channels)]
            .into_iter()
            .filter(|(_, names)| !names.is_empty())
            .map(|(name, names)| Cmd::new(name).arg(names.iter().collect::<Vec<_>>()))
            .collect()
    }
}

/// An (un)subscription asked for and not confirmed yet.
struct Change {
    kind: SubscriptionKind,
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
    fn change(&self, kind: SubscriptionKind, cmd: Cmd) -> oneshot::Receiver<Result<()>> {
        let (done, rx) = oneshot::channel();
        let waker = {
            let mut control = lock(&self.control);
            if control.closed {
                return rx; // `done` is dropped here: the change fails as closed
            }
            control.queued.push(Change { kind, cmd, done });
            control.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        rx
    }

    async fn run(&self, kind: SubscriptionKind, cmd: Cmd) -> Result<()> {
        self.change(kind, cmd).await.unwrap_or_else(|oneshot::Canceled| {
            Err(Error::Closed("the PubSub was dropped before the server confirmed".into()))
        })
    }

    /// Subscribes to channels; see [`PubSub::subscribe`].
    ///
    /// # Errors
    /// As [`PubSub::subscribe`], or [`Error::Closed`] when the `PubSub` is dropped first.
    pub async fn subscribe(&self, channels: impl ToArgs) -> Result<()> {
        self.run(SubscriptionKind::Subscribe, Cmd::new("SUBSCRIBE").arg(channels)).await
    }

    /// Subscribes to patterns; see [`PubSub::psubscribe`].
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn psubscribe(&self, patterns: impl ToArgs) -> Result<()> {
        self.run(SubscriptionKind::PSubscribe, Cmd::new("PSUBSCRIBE").arg(patterns)).await
    }

    /// Subscribes to shard channels; see [`PubSub::ssubscribe`].
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn ssubscribe(&self, shard_channels: impl ToArgs) -> Result<()> {
        self.run(SubscriptionKind::SSubscribe, Cmd::new("SSUBSCRIBE").arg(shard_channels)).await
    }

    /// Unsubscribes from channels (all when given none); see [`PubSub::unsubscribe`].
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn unsubscribe(&self, channels: impl ToArgs) -> Result<()> {
        self.run(SubscriptionKind::Unsubscribe, Cmd::new("UNSUBSCRIBE").arg(channels)).await
    }

    /// Unsubscribes from patterns (all when given none); see [`PubSub::punsubscribe`].
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn punsubscribe(&self, patterns: impl ToArgs) -> Result<()> {
        self.run(SubscriptionKind::PUnsubscribe, Cmd::new("PUNSUBSCRIBE").arg(patterns)).await
    }

    /// Unsubscribes from shard channels (all when given none); see [`PubSub::sunsubscribe`].
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn sunsubscribe(&self, shard_channels: impl ToArgs) -> Result<()> {
        self.run(SubscriptionKind::SUnsubscribe, Cmd::new("SUNSUBSCRIBE").arg(shard_channels)).await
    }
}

type Reconnect<R> = Pin<Box<dyn Future<Output = Result<(Wire<R>, Vec<Message>)>> + Send>>;

/// A dedicated pub/sub connection, from [`Client::pubsub`](super::Client::pubsub).
///
/// Read it with [`next`](Self::next) or as a [`futures_core::Stream`] (which never ends: after an error
/// the next read reconnects). Subscribe and unsubscribe between reads, with `&mut self`, or from another
/// task while this one reads, through [`control`](Self::control); messages that arrive while a change
/// waits for its confirmation are kept for the stream.
pub struct PubSub<R: Rt> {
    config: Config,
    /// Where pushes that are not pub/sub traffic go, on this connection and the ones after it.
    pushes: PushSink,
    wire: Option<Wire<R>>,
    subs: Subs,
    ready: VecDeque<Result<PubSubEvent>>,
    reconnect: Option<Reconnect<R>>,
    failures: u32,
    /// Why the last connection ended, for the `Reconnected` event.
    cause: Option<Error>,
    control: Shared,
    /// Changes sent on the current connection, waiting for their confirmation.
    sent: Vec<(RequestId, Change)>,
}

impl<R: Rt> fmt::Debug for PubSub<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PubSub")
            .field("connected", &self.wire.is_some())
            .field("channels", &self.subs.channels.len())
            .field("patterns", &self.subs.patterns.len())
            .field("shard_channels", &self.subs.shard_channels.len())
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
            subs: Subs::default(),
            ready: VecDeque::new(),
            reconnect: None,
            failures: 0,
            cause: None,
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
        self.command(SubscriptionKind::Subscribe, Cmd::new("SUBSCRIBE").arg(channels)).await
    }

    /// Subscribes to one or more glob-style patterns.
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn psubscribe(&mut self, patterns: impl ToArgs) -> Result<()> {
        self.command(SubscriptionKind::PSubscribe, Cmd::new("PSUBSCRIBE").arg(patterns)).await
    }

    /// Subscribes to one or more shard channels (Redis 7+).
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn ssubscribe(&mut self, shard_channels: impl ToArgs) -> Result<()> {
        self.command(SubscriptionKind::SSubscribe, Cmd::new("SSUBSCRIBE").arg(shard_channels)).await
    }

    /// Unsubscribes from channels; from every channel when given none (`&[] as &[&str]`).
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn unsubscribe(&mut self, channels: impl ToArgs) -> Result<()> {
        self.command(SubscriptionKind::Unsubscribe, Cmd::new("UNSUBSCRIBE").arg(channels)).await
    }

    /// Unsubscribes from patterns; from every pattern when given none.
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn punsubscribe(&mut self, patterns: impl ToArgs) -> Result<()> {
        self.command(SubscriptionKind::PUnsubscribe, Cmd::new("PUNSUBSCRIBE").arg(patterns)).await
    }

    /// Unsubscribes from shard channels; from every shard channel when given none.
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn sunsubscribe(&mut self, shard_channels: impl ToArgs) -> Result<()> {
        self.command(SubscriptionKind::SUnsubscribe, Cmd::new("SUNSUBSCRIBE").arg(shard_channels)).await
    }

    /// The next message or reconnect notice. Never "ends": after an error, the next call reconnects.
    ///
    /// # Errors
    /// A failed reconnect attempt (the next call tries again, after a backoff).
    pub async fn next(&mut self) -> Result<PubSubEvent> {
        poll_fn(|cx| self.poll_event(cx)).await
    }

    /// The next message or reconnect notice, waiting at most `timeout`; `Ok(None)` when none came.
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

    /// `true` while a channel, pattern or shard channel is subscribed (confirmed by the server).
    pub fn is_subscribed(&self) -> bool {
        !(self.subs.channels.is_empty()
            && self.subs.patterns.is_empty()
            && self.subs.shard_channels.is_empty())
    }

    /// A handle that changes this stream's subscriptions from another task.
    pub fn control(&self) -> PubSubControl {
        PubSubControl { control: self.control.clone() }
    }

    /// Queues a change and reads the connection until the server confirmed it; messages that arrive
    /// meanwhile are kept for the stream.
    async fn command(&mut self, kind: SubscriptionKind, cmd: Cmd) -> Result<()> {
        let mut done = self.control().change(kind, cmd);
        poll_fn(|cx| loop {
            if let Poll::Ready(result) = Pin::new(&mut done).poll(cx) {
                return Poll::Ready(result.unwrap_or_else(|oneshot::Canceled| Err(lost())));
            }
            std::task::ready!(self.poll_drive(cx));
        })
        .await
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Result<PubSubEvent>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Poll::Ready(item);
            }
            std::task::ready!(self.poll_drive(cx));
        }
    }

    /// Moves the connection on by one step: sends queued changes, then files what arrives — messages,
    /// reconnect notices and reconnect errors into `ready`, confirmations to their changes. `Ready` once
    /// something was filed.
    fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(wire) = &mut self.wire else {
            if let Err(e) = std::task::ready!(self.poll_reconnect(cx)) {
                // The changes waiting for a connection fail with it; the stream reports it too.
                for change in lock(&self.control).queued.drain(..) {
                    let _ = change.done.send(Err(replicate(&e)));
                }
                self.ready.push_back(Err(e));
            }
            return Poll::Ready(());
        };
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
        let event = match std::task::ready!(wire.poll_event(cx)) {
            Ok(event) => event,
            Err(e) => {
                for (_, change) in self.sent.drain(..) {
                    let _ = change.done.send(Err(replicate(&e)));
                }
                self.wire = None;
                self.cause = Some(e);
                return Poll::Ready(());
            }
        };
        match event {
            Event::Message(m) => self.ready.push_back(Ok(PubSubEvent::Message(m))),
            // The last confirmation of a change, or its error reply.
            Event::Subscription { id: Some(id), done: true, .. } => self.settle(id, Ok(())),
            Event::Reply { id, value, .. } => {
                let answer = match value {
                    Value::Error(e) => Err(Error::Server(e)),
                    other => {
                        Err(Error::Protocol(format!("a subscription command was answered by {other:?}")))
                    }
                };
                self.settle(id, answer);
            }
            // The server dropped a subscription on its own (a shard slot moved): do not restore it.
            Event::Subscription { id: None, kind, channel: Some(name), .. } if !kind.is_subscribe() => {
                self.subs.set(kind).remove(&name);
            }
            _ => {}
        }
        Poll::Ready(())
    }

    /// Completes the change `id` answered, recording it when it succeeded.
    fn settle(&mut self, id: RequestId, answer: Result<()>) {
        let Some(at) = self.sent.iter().position(|(sent, _)| *sent == id) else { return };
        let (_, change) = self.sent.swap_remove(at);
        if answer.is_ok() {
            self.subs.apply(change.kind, &change.cmd);
        }
        let _ = change.done.send(answer);
    }

    /// Drives a reconnect (started on demand) to completion: the new wire is in place, the subscriptions
    /// restored, and the `Reconnected` event queued.
    fn poll_reconnect(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let future = self.reconnect.get_or_insert_with(|| {
            let (config, pushes) = (self.config.clone(), self.pushes.clone());
            Box::pin(reconnect::<R>(config, pushes, self.subs.commands(), backoff(self.failures)))
        });
        let result = std::task::ready!(future.as_mut().poll(cx));
        self.reconnect = None;
        match result {
            Ok((wire, messages)) => {
                self.failures = 0;
                self.wire = Some(wire);
                let cause =
                    self.cause.take().unwrap_or_else(|| Error::Closed("the connection was lost".into()));
                self.ready.push_back(Ok(PubSubEvent::Reconnected { cause }));
                self.ready.extend(messages.into_iter().map(|m| Ok(PubSubEvent::Message(m))));
                Poll::Ready(Ok(()))
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                Poll::Ready(Err(e))
            }
        }
    }
}

fn lost() -> Error {
    Error::Closed("the pub/sub connection was lost before the server confirmed".into())
}

/// Waits out the backoff, connects, and sends every restoring command, waiting for its confirmations.
async fn reconnect<R: Rt>(
    config: Config,
    pushes: PushSink,
    restore: Vec<Cmd>,
    delay: std::time::Duration,
) -> Result<(Wire<R>, Vec<Message>)> {
    if !delay.is_zero() {
        R::sleep_until(Instant::now() + delay).await;
    }
    let mut wire = Wire::<R>::connect(&config, pushes).await?;
    let mut messages = Vec::new();
    for cmd in restore {
        let keep = |event| {
            if let Event::Message(m) = event {
                messages.push(m)
            }
        };
        match wire.request(|conn, now| conn.send(&cmd, now), keep).await? {
            Event::Subscription { .. } => {}
            Event::Reply { value: Value::Error(e), .. } => return Err(Error::Server(e)),
            other => return Err(Error::Protocol(format!("a resubscription was answered by {other:?}"))),
        }
    }
    Ok((wire, messages))
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
