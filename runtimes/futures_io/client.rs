//! [`Client`]: the async client, `Clone + Send + Sync`, and [`Reply`], the future every command method
//! returns. Routing lives here: ordinary commands and pipelines go to the shared multiplexed connection
//! (replaced by a new one, with backoff, after it dies); blocking commands go to a dedicated connection
//! from the pool; commands that would change the state of a shared connection are refused with the
//! command table's reason.

use super::driver::{self, Health, Payload, Request, Shared};
use super::pipeline::Pipeline;
use super::pool::Pool;
use super::pubsub::PubSub;
use super::{oneshot, Rt};
use crate::cmd::{block_time, Block, Commands};
use crate::push::PushSink;
use crate::resp::Value;
use crate::{Cmd, Config, Error, Event, FromValue, Result};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// An async Redis client: many tasks share one multiplexed connection.
///
/// Cheap to clone (an `Arc`); every clone uses the same connections. Requests from concurrent tasks are
/// written together, in batches, as they arrive (automatic pipelining), so N tasks awaiting one command
/// each cost about what one explicit pipeline of N commands costs.
///
/// - Every command is a method, from the generated [`Commands`] trait
///   (`client.get::<String>("k").await`), or [`exec`](Self::exec)/[`run`](Commands::run) for any
///   [`Cmd`] or builder.
/// - Blocking commands (`BLPOP`, `XREAD ... BLOCK`, `WAIT`, ...) run on a dedicated connection, so they
///   never stall the shared one; [`transaction`](Self::transaction) (WATCH) and [`pubsub`](Self::pubsub)
///   use dedicated connections too.
/// - A request whose future is dropped before its reply arrives never disturbs the others: its reply is
///   read and thrown away.
/// - When the shared connection dies (the server closed it, a response timeout passed, an I/O error),
///   every request waiting on it fails with that error, and the next request opens a new connection
///   (after a backoff of 50 ms doubling to 2 s while connecting keeps failing). Requests are never
///   retried behind your back.
/// - Commands that change per-connection state (`SELECT`, `AUTH`, `MULTI`, `SUBSCRIBE`, `CLIENT
///   TRACKING`, ...) are refused with [`Error::Usage`] saying what to use instead.
///
/// The connection is opened by the first request, not by [`new`](Self::new). Dedicated connections are
/// opened as needed; up to 4 idle ones are kept for reuse, after a health check.
pub struct Client<R: Rt> {
    inner: Arc<Inner<R>>,
}

struct Inner<R: Rt> {
    config: Config,
    shared: Mutex<Option<Arc<Shared>>>,
    health: Arc<Health>,
    pub(super) pool: Arc<Pool<R>>,
}

impl<R: Rt> Drop for Inner<R> {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            shared.detach();
        }
    }
}

impl<R: Rt> Clone for Client<R> {
    fn clone(&self) -> Self {
        Client { inner: self.inner.clone() }
    }
}

impl<R: Rt> fmt::Debug for Client<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("addr", self.inner.config.addr()).finish_non_exhaustive()
    }
}

impl<R: Rt> Client<R> {
    /// A client for the server `url` names (`redis://host:port/db?protocol=3&response_timeout=1s`,
    /// `redis+unix:///path/to/socket`; see [`Config::from_url`]). Nothing is connected yet.
    ///
    /// # Errors
    /// [`Error::Config`] when the URL cannot be parsed.
    pub fn open(url: &str) -> Result<Client<R>> {
        Ok(Client::new(Config::from_url(url)?))
    }

    /// A client for `config`. Nothing is connected yet: the first request connects.
    pub fn new(config: Config) -> Client<R> {
        Client::with_pushes(config, PushSink::default())
    }

    /// A client for `config` that calls `handler` with every RESP3 push that answers no request, from
    /// any of its connections (shared, dedicated, pub/sub): the `invalidate` pushes of client-side
    /// caching ([`Config::with_tracking`]), a module's pushes. Pub/sub messages are not pushes: they go to
    /// the [`PubSub`]. A [`new`](Self::new) client counts such pushes in
    /// [`unhandled_pushes`](Self::unhandled_pushes) and drops them.
    ///
    /// The handler runs inside the task that reads the connection (the shared connection's driver, or
    /// the task awaiting a dedicated connection): keep it short and never block in it.
    ///
    /// ```no_run
    /// use redwire::config::Tracking;
    /// use redwire::Config;
    ///
    /// let config = Config::from_url("redis://127.0.0.1:6379?protocol=3")?.with_tracking(Tracking::new());
    /// let (tx, invalidations) = std::sync::mpsc::channel();
    /// let client = redwire::smol::Client::with_push_handler(config, move |push| {
    ///     let _ = tx.send(push);
    /// });
    /// # let _ = (client, invalidations);
    /// # Ok::<(), redwire::Error>(())
    /// ```
    pub fn with_push_handler(config: Config, handler: impl Fn(Value) + Send + Sync + 'static) -> Client<R> {
        Client::with_pushes(config, PushSink::new(Some(Arc::new(handler))))
    }

    fn with_pushes(config: Config, pushes: PushSink) -> Client<R> {
        Client {
            inner: Arc::new(Inner {
                pool: Pool::new(config.clone(), pushes),
                config,
                shared: Mutex::new(None),
                health: Arc::default(),
            }),
        }
    }

    /// RESP3 pushes that answered no request and had no handler (see
    /// [`with_push_handler`](Self::with_push_handler)); 0 unless tracking or a module sends pushes.
    pub fn unhandled_pushes(&self) -> u64 {
        self.inner.pool.pushes().unhandled()
    }

    /// The configuration every connection of this client is made from.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Sends any command (a [`Cmd`] or a builder) and converts its reply; the same as
    /// [`Commands::run`]. A server error reply is [`Error::Server`] (ask for `Result<T>` to keep it as a
    /// value).
    ///
    /// # Errors
    /// See [`Reply`].
    pub fn exec<T: FromValue>(&self, cmd: impl Into<Cmd>) -> Reply<'_, R, T> {
        Reply { client: self, state: State::Start(cmd.into()), _t: PhantomData }
    }

    /// A pipeline: commands sent in one write and answered together. Atomic (`MULTI`/`EXEC`) unless
    /// [`transaction(false)`](Pipeline::transaction) is called.
    pub fn pipeline(&self) -> Pipeline<'_, R> {
        Pipeline::new(self)
    }

    /// A pub/sub connection of its own: subscribe, then read messages as a stream.
    ///
    /// # Errors
    /// Connecting failed (I/O, connect timeout, handshake).
    pub async fn pubsub(&self) -> Result<PubSub<R>> {
        PubSub::open(self.inner.config.clone(), &self.inner.pool).await
    }

    pub(super) fn pool(&self) -> &Arc<Pool<R>> {
        &self.inner.pool
    }

    /// Queues a request on the shared connection, opening a new one when there is none or it died.
    pub(super) fn submit(&self, payload: Payload) -> oneshot::Receiver<Result<Event>> {
        let (reply, rx) = oneshot::channel();
        let mut request = Request { payload, reply };
        let mut current = self.inner.shared.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shared) = current.as_ref() {
            match shared.submit(request) {
                Ok(()) => return rx,
                Err(back) => request = back,
            }
        }
        let shared = Shared::new();
        if let Err(back) = shared.submit(request) {
            let _ = back.reply.send(Err(Error::Closed("a fresh connection refused a request".into())));
        }
        let pushes = self.inner.pool.pushes().clone();
        R::spawn(driver::run::<R>(
            shared.clone(),
            self.inner.config.clone(),
            self.inner.health.clone(),
            pushes,
        ));
        *current = Some(shared);
        rx
    }

    /// `true` while a shared connection is open or opening (for tests and diagnostics).
    pub fn is_connected(&self) -> bool {
        let current = self.inner.shared.lock().unwrap_or_else(|p| p.into_inner());
        current.as_ref().is_some_and(|s| !s.is_dead())
    }
}

impl<R: Rt> Commands for Client<R> {
    type Reply<'a, T: FromValue> = Reply<'a, R, T>;

    fn run<T: FromValue>(&self, cmd: impl Into<Cmd>) -> Reply<'_, R, T> {
        self.exec(cmd)
    }
}

/// The reply to one command: a future of `Result<T>`.
///
/// Lazy: nothing is sent until it is first polled. Dropping it after that is safe — the reply is read
/// and discarded, and no other request is affected.
///
/// # Errors
/// - [`Error::Server`] for an error reply, [`Error::Conversion`] when the reply does not fit `T`;
/// - [`Error::Usage`] for a command refused on a shared connection (the message says what to use);
/// - [`Error::Timeout`] when this request's response timeout passed, and [`Error::Poisoned`],
///   [`Error::Closed`] or [`Error::Io`] when the connection died under it (the next request reconnects).
#[must_use = "futures do nothing unless polled"]
pub struct Reply<'a, R: Rt, T> {
    client: &'a Client<R>,
    state: State<'a>,
    _t: PhantomData<fn() -> T>,
}

enum State<'a> {
    Start(Cmd),
    Shared(oneshot::Receiver<Result<Event>>),
    Dedicated(Pin<Box<dyn Future<Output = Result<Value>> + Send + 'a>>),
    Done,
}

impl<R: Rt, T> fmt::Debug for Reply<'_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Start(_) => "not sent",
            State::Shared(_) => "waiting on the shared connection",
            State::Dedicated(_) => "running on a dedicated connection",
            State::Done => "done",
        };
        f.debug_struct("Reply").field("state", &state).finish_non_exhaustive()
    }
}

impl<R: Rt, T: FromValue> Future for Reply<'_, R, T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = self.get_mut();
        loop {
            let value = match &mut this.state {
                State::Start(_) => {
                    let State::Start(cmd) = std::mem::replace(&mut this.state, State::Done) else {
                        unreachable!("matched just above")
                    };
                    if let Err(e) = crate::cmd::refuse_on_shared(&cmd) {
                        return Poll::Ready(Err(e));
                    }
                    this.state = if block_time(&cmd) == Block::No {
                        State::Shared(this.client.submit(Payload::Cmd(cmd)))
                    } else {
                        State::Dedicated(Box::pin(dedicated(this.client.pool().clone(), cmd)))
                    };
                    continue;
                }
                State::Shared(rx) => match Pin::new(rx).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(answer)) => answer.and_then(event_value),
                    Poll::Ready(Err(oneshot::Canceled)) => Err(driver_gone()),
                },
                State::Dedicated(f) => match f.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(v) => v,
                },
                State::Done => panic!("`Reply` polled after it completed"),
            };
            this.state = State::Done;
            return Poll::Ready(value.and_then(T::from_value));
        }
    }
}

/// Runs one command on a pooled dedicated connection.
async fn dedicated<R: Rt>(pool: Arc<Pool<R>>, cmd: Cmd) -> Result<Value> {
    let mut lease = pool.checkout().await?;
    let event = lease.request(|conn, now| conn.send(&cmd, now), |_| {}).await?;
    event_value(event)
}

/// The value an answering event carries: a reply, a pipeline's replies, or a transaction's.
pub(crate) fn event_value(event: Event) -> Result<Value> {
    match event {
        Event::Reply { value, .. } => Ok(value),
        Event::Pipeline { values, .. } => Ok(Value::Array(values)),
        Event::Transaction { result, .. } => result.map(Value::Array),
        other => Err(Error::Protocol(format!("a request was answered by an unexpected event: {other:?}"))),
    }
}

pub(crate) fn driver_gone() -> Error {
    Error::Closed("the connection's driver task stopped before answering (was the runtime shut down?)".into())
}
