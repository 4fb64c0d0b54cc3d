//! The shared multiplexed connection: a queue of requests ([`Shared`]) that any task may push to, and the
//! driver task that owns the socket. Each time it runs, the driver takes every queued request, `send`s
//! them all to the [`Connection`](crate::Connection) and writes them in one `poll_transmit` chunk
//! (automatic pipelining), then hands each reply to the request with the same `RequestId`.
//!
//! A request whose future was dropped is skipped if it was not sent yet, or its reply is read and
//! discarded; the FIFO in the core never loses its place. When the connection dies (I/O error, server
//! closed, deadline passed, protocol error) every waiting request gets a copy of the error, the queue is
//! closed, and the client opens a new connection for the next request. Nothing here retries a request.

use super::wire::{timed_out, Wire};
use super::{oneshot, replicate, Rt};
use crate::push::PushSink;
use crate::{Cmd, Config, Error, Event, Pipeline, RequestId, Result};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// How many rounds (take requests, write, read, dispatch) the driver runs before yielding to other tasks.
const BUDGET: usize = 64;
/// How many events one round dispatches before taking new requests again.
const EVENTS_PER_ROUND: usize = 256;

/// What a request asks for.
pub(crate) enum Payload {
    Cmd(Cmd),
    Pipeline(Pipeline),
}

/// The reply slot: the event that answers the request, or why there will be none.
pub(crate) type ReplyTx = oneshot::Sender<Result<Event>>;

pub(crate) struct Request {
    pub(crate) payload: Payload,
    pub(crate) reply: ReplyTx,
}

struct Queue {
    requests: Vec<Request>,
    waker: Option<Waker>,
    /// Set when the connection died: new requests must go to a new connection.
    dead: bool,
    /// Set when every client handle is gone: the driver stops once nothing is in flight.
    detached: bool,
}

/// The request queue of one shared connection.
pub(crate) struct Shared {
    queue: Mutex<Queue>,
}

impl Shared {
    pub(crate) fn new() -> Arc<Shared> {
        Arc::new(Shared {
            queue: Mutex::new(Queue { requests: Vec::new(), waker: None, dead: false, detached: false }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Critical sections only push, swap or set flags: a panic cannot leave the queue inconsistent.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a request for the driver; gives it back when this connection is dead.
    pub(crate) fn submit(&self, request: Request) -> Result<(), Request> {
        let waker = {
            let mut q = self.lock();
            if q.dead {
                return Err(request);
            }
            q.requests.push(request);
            // Only the first request of a batch wakes the driver; the rest ride along.
            if q.requests.len() == 1 {
                q.waker.take()
            } else {
                None
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.lock().dead
    }

    /// Every client handle is gone: the driver finishes what is in flight and stops.
    pub(crate) fn detach(&self) {
        let waker = {
            let mut q = self.lock();
            q.detached = true;
            q.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Marks the queue dead and fails every request still in it.
    fn close(&self, error: &Error) {
        let requests = {
            let mut q = self.lock();
            q.dead = true;
            std::mem::take(&mut q.requests)
        };
        for r in requests {
            let _ = r.reply.send(Err(replicate(error)));
        }
    }
}

/// Consecutive failed connection attempts, shared by a client and its drivers (for backoff).
#[derive(Default)]
pub(crate) struct Health {
    failures: AtomicU32,
}

impl Health {
    pub(crate) fn failures(&self) -> u32 {
        self.failures.load(Ordering::Relaxed)
    }
}

/// The driver task: waits out the backoff, connects, then serves the queue until the connection dies or
/// every client is gone.
pub(crate) async fn run<R: Rt>(shared: Arc<Shared>, config: Config, health: Arc<Health>, pushes: PushSink) {
    let delay = super::backoff(health.failures());
    if !delay.is_zero() {
        R::sleep_until(Instant::now() + delay).await;
    }
    match Wire::<R>::connect(&config, pushes).await {
        Ok(wire) => {
            health.failures.store(0, Ordering::Relaxed);
            Driver { wire, shared, waiting: VecDeque::new(), wake: Vec::new(), spare: Vec::new() }.await
        }
        Err(e) => {
            health.failures.fetch_add(1, Ordering::Relaxed);
            shared.close(&e);
        }
    }
}

struct Driver<R: Rt> {
    wire: Wire<R>,
    shared: Arc<Shared>,
    /// Requests sent and not answered, oldest first: the order the server answers in.
    waiting: VecDeque<(RequestId, ReplyTx)>,
    /// The tasks whose replies were handed out since the last wake-up round.
    wake: Vec<Waker>,
    /// An empty vector with capacity, swapped with the queue's at each intake (no allocation per batch).
    spare: Vec<Request>,
}

impl<R: Rt> Driver<R> {
    /// Takes every queued request into the connection. Returns whether the clients are all gone.
    fn intake(&mut self, cx: &mut Context<'_>) -> bool {
        let detached = {
            let mut q = self.shared.lock();
            match &q.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => q.waker = Some(cx.waker().clone()),
            }
            std::mem::swap(&mut q.requests, &mut self.spare);
            q.detached
        };
        if self.spare.is_empty() {
            return detached;
        }
        let now = Instant::now();
        let conn = &mut self.wire.conn;
        for Request { payload, reply } in self.spare.drain(..) {
            if reply.is_canceled() {
                continue; // never sent: nothing to discard later
            }
            let sent = match &payload {
                Payload::Cmd(cmd) => conn.send(cmd, now),
                Payload::Pipeline(p) => conn.send_pipeline(p, now),
            };
            match sent {
                Ok(id) => self.waiting.push_back((id, reply)),
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            }
        }
        detached
    }

    /// Hands an event to the request it answers.
    fn dispatch(&mut self, event: Event) {
        let Some(id) = event.id() else { return }; // Ready (pushes went to the push sink in the wire)
        let Some(at) = self.waiting.iter().position(|(waiting, _)| *waiting == id) else { return };
        let Some((_, reply)) = self.waiting.remove(at) else { return };
        let answer = match event {
            Event::TimedOut { .. } => Err(timed_out(&self.wire.conn, id)),
            event => Ok(event),
        };
        // A dropped receiver: the reply is discarded here.
        if let Ok(Some(waker)) = reply.send_deferred(answer) {
            self.wake.push(waker);
        }
    }

    /// Wakes the tasks whose replies were handed out, after the whole round (a task awaiting many
    /// replies is woken once it has them all, not once per reply while the round goes on).
    fn wake_all(&mut self) {
        for w in self.wake.drain(..) {
            w.wake();
        }
    }

    /// The connection died: every request in flight or queued gets the error.
    fn fail(&mut self, error: Error) {
        self.shared.close(&error);
        for (_, reply) in self.waiting.drain(..) {
            let _ = reply.send(Err(replicate(&error)));
        }
    }
}

impl<R: Rt> Future for Driver<R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        for _ in 0..BUDGET {
            let detached = this.intake(cx);
            let mut events = 0;
            let drained = loop {
                if events == EVENTS_PER_ROUND {
                    break false;
                }
                match this.wire.poll_event(cx) {
                    Poll::Ready(Ok(event)) => this.dispatch(event),
                    Poll::Ready(Err(e)) => {
                        // Dead first, then wake: a task woken by its `TimedOut` and sending again at once
                        // must find this connection closed and open a new one.
                        this.fail(e);
                        this.wake_all();
                        return Poll::Ready(());
                    }
                    Poll::Pending => break true,
                }
                events += 1;
            };
            this.wake_all();
            if !drained {
                continue; // more input is waiting: another round (within the budget)
            }
            let idle = this.shared.lock().requests.is_empty();
            if detached && idle && this.waiting.is_empty() {
                this.fail(Error::Closed("the client was dropped".into()));
                return Poll::Ready(());
            }
            if idle {
                return Poll::Pending;
            }
        }
        // Budget spent with work left: let other tasks run, then continue.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
