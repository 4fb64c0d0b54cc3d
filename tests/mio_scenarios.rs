//! The shared scenarios (tests/scenarios/) run by the mio runtime, over TCP and unix sockets, in RESP2 and
//! RESP3.
//!
//! `redwire::mio::Connection` is a raw connection the user drives in their own `mio::Poll`, so this file
//! holds the facade a mio user would write around it to get a shared, thread-safe client: a bounded pool
//! of [`Driven`] connections, each with a `Poll` of its own, and calls that turn that poll until the
//! event answering their request arrives. The facade only moves requests, events and connections: replies,
//! deadlines, transactions, subscriptions and whether a connection may be reused are the core's answers.
//! (`tests/mio_common`'s `Loop` drives many connections on one poll and panics on what a test does not
//! expect; a pool shared by threads needs one poll per connection and errors as values, hence `Driven`.)

mod scenarios;
mod support;

use mio::{Events, Poll, Token};
use redwire::cmd::refuse_on_shared;
use redwire::mio::Connection;
use redwire::resp::Value;
use redwire::{Cmd, Config, Error, Event, FromValue, Pipeline, RequestId, Result};
use scenarios::{PubSubItem, PushFn, Received, TxBody};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Most connections a client holds at once, idle or in use (the blocking pool's default).
const MAX_CONNECTIONS: usize = 16;
/// How long a call waits for a connection to come free before failing with `Error::PoolExhausted`.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a subscription command or an `UNWATCH` is waited for when no response timeout is configured.
const CONFIRM_WAIT: Duration = Duration::from_secs(10);
/// Every connection is alone in its poll.
const TOKEN: Token = Token(0);

/// Where RESP3 pushes that answer no request go: the user's handler, or counted and dropped.
struct Pushes {
    handler: Option<PushFn>,
    dropped: AtomicU64,
}

impl Pushes {
    fn deliver(&self, push: Value) {
        match &self.handler {
            Some(handler) => handler(push),
            None => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// One mio connection registered alone in its own poll, with the loop that drives it.
struct Driven {
    conn: Connection,
    poll: Poll,
    events: Events,
}

impl Driven {
    /// Connects, registers and waits for the handshake (`Event::Ready`); the connection itself fails a
    /// connect + handshake slower than `Config::connect_timeout`.
    fn open(config: &Config, pushes: &Pushes) -> Result<Driven> {
        let poll = Poll::new()?;
        let mut conn = Connection::connect(config.clone(), Instant::now())?;
        conn.register(poll.registry(), TOKEN)?;
        // One source in the poll: at most one event per turn.
        let mut driven = Driven { conn, poll, events: Events::with_capacity(1) };
        match driven.next(None, pushes)? {
            Some(Event::Ready) => Ok(driven),
            other => Err(Error::Protocol(format!("expected the handshake to complete, got {other:?}"))),
        }
    }

    /// One poll, no longer than `wait`: readiness in, then the time.
    fn turn(&mut self, wait: Option<Duration>) -> Result<()> {
        match self.poll.poll(&mut self.events, wait) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => other?,
        }
        for event in &self.events {
            self.conn.handle_readiness(event);
        }
        self.conn.handle_timeout(Instant::now());
        Ok(())
    }

    /// The next event that is not a push (pushes go to `pushes`), turning the poll as needed; `None` once
    /// `until` passes. The poll never sleeps past the connection's own deadline, so a passed deadline
    /// comes back as `Event::TimedOut` (or, during the handshake, as the connection's timeout error).
    fn next(&mut self, until: Option<Instant>, pushes: &Pushes) -> Result<Option<Event>> {
        loop {
            while let Some(event) = self.conn.poll_event()? {
                match event {
                    Event::Push(push) => pushes.deliver(push),
                    other => return Ok(Some(other)),
                }
            }
            let now = Instant::now();
            if until.is_some_and(|at| now >= at) {
                return Ok(None);
            }
            let wake = self.conn.poll_timeout().into_iter().chain(until).min();
            self.turn(wake.map(|at| at.saturating_duration_since(now)))?;
        }
    }

    /// The event answering `id`, or `None` once `until` passes. A passed deadline is `Error::Timeout`
    /// (the core has poisoned the connection); any other event is out of place on a connection that runs
    /// one request at a time.
    fn answer(&mut self, id: RequestId, until: Option<Instant>, pushes: &Pushes) -> Result<Option<Event>> {
        match self.next(until, pushes)? {
            None => Ok(None),
            Some(Event::TimedOut { id: late }) if late == id => Err(self.timeout(id)),
            Some(event) if event.id() == Some(id) => Ok(Some(event)),
            Some(other) => Err(Error::Protocol(format!("request {id} was answered by {other:?}"))),
        }
    }

    /// Sends one command and returns its reply; an error reply is `Err(Error::Server)`.
    fn call(&mut self, cmd: &Cmd, pushes: &Pushes) -> Result<Value> {
        let id = self.conn.send(cmd, Instant::now())?;
        match self.answer(id, None, pushes)? {
            Some(Event::Reply { value, .. }) => Value::from_value(value),
            other => Err(Error::Protocol(format!("a command was answered by {other:?}"))),
        }
    }

    fn timeout(&self, id: RequestId) -> Error {
        let limit = self.conn.core().config().response_timeout().unwrap_or_default();
        Error::Timeout(format!("request {id} got no reply within the response timeout ({limit:?})"))
    }

    /// May this idle connection be handed out? One zero-timeout turn notices a server that closed it
    /// (`CLIENT KILL`, a restart) and delivers pushes that arrived meanwhile; then the core decides.
    fn is_reusable_now(&mut self, pushes: &Pushes) -> bool {
        let quiet = self.turn(Some(Duration::ZERO)).is_ok()
            && matches!(self.next(Some(Instant::now()), pushes), Ok(None));
        quiet && self.is_reusable()
    }

    fn is_reusable(&self) -> bool {
        !self.conn.is_fatal() && self.conn.core().is_reusable()
    }
}

/// What every clone of a [`Client`] shares.
struct Shared {
    config: Config,
    pushes: Pushes,
    pool: Mutex<Idle>,
    freed: Condvar,
}

#[derive(Default)]
struct Idle {
    /// Idle connections, the most recently used last (handed out first).
    conns: Vec<Driven>,
    /// Connections that exist: idle, in use, or being opened.
    open: usize,
}

/// A mio client: `Clone + Send + Sync`, its clones share at most [`MAX_CONNECTIONS`] connections.
#[derive(Clone)]
pub struct Client(Arc<Shared>);

/// A connection checked out of the pool; dropping it gives it back when the core calls it reusable and
/// closes it otherwise.
struct Lease<'a> {
    shared: &'a Shared,
    driven: Option<Driven>,
}

impl Lease<'_> {
    fn get(&mut self) -> &mut Driven {
        self.driven.as_mut().expect("a lease holds its connection until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        // A connection that is not reusable is dropped here, before the lock: its socket closes.
        let driven = self.driven.take().filter(Driven::is_reusable);
        let mut pool = self.shared.lock();
        match driven {
            Some(driven) => pool.conns.push(driven),
            None => pool.open -= 1,
        }
        drop(pool);
        self.shared.freed.notify_one();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Idle> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle connection that is still alive, a new one while fewer than [`MAX_CONNECTIONS`] exist, or
    /// the first to come free within [`CHECKOUT_TIMEOUT`].
    fn checkout(&self) -> Result<Lease<'_>> {
        let give_up = Instant::now() + CHECKOUT_TIMEOUT;
        let mut pool = self.lock();
        loop {
            if let Some(mut driven) = pool.conns.pop() {
                drop(pool);
                if driven.is_reusable_now(&self.pushes) {
                    return Ok(Lease { shared: self, driven: Some(driven) });
                }
                drop(driven);
                pool = self.lock();
                pool.open -= 1;
                continue;
            }
            if pool.open < MAX_CONNECTIONS {
                pool.open += 1;
                drop(pool);
                // A failed open is a lease without a connection: its drop frees the slot.
                let mut lease = Lease { shared: self, driven: None };
                lease.driven = Some(Driven::open(&self.config, &self.pushes)?);
                return Ok(lease);
            }
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::PoolExhausted(format!(
                    "all {MAX_CONNECTIONS} connections stayed in use for {CHECKOUT_TIMEOUT:?}"
                )));
            }
            pool = self.freed.wait_timeout(pool, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

/// A dedicated pub/sub connection, and the messages that arrived while a (un)subscribe waited.
pub struct PubSub {
    shared: Arc<Shared>,
    driven: Driven,
    messages: VecDeque<Received>,
}

impl PubSub {
    /// Sends a subscription command and waits for its last confirmation, keeping messages in order.
    fn confirm(&mut self, name: &str, targets: &[&str]) -> Result<()> {
        if targets.is_empty() {
            return Ok(());
        }
        let id = self.driven.conn.send(&Cmd::new(name).arg(targets), Instant::now())?;
        let until = Instant::now() + CONFIRM_WAIT;
        loop {
            match self.driven.next(Some(until), &self.shared.pushes)? {
                Some(Event::Subscription { id: Some(got), done: true, .. }) if got == id => return Ok(()),
                Some(Event::Message(m)) => self.messages.push_back(received(m)),
                Some(Event::TimedOut { id: late }) if late == id => return Err(self.driven.timeout(id)),
                Some(Event::Subscription { .. }) => {}
                Some(other) => return Err(Error::Protocol(format!("{name} was answered by {other:?}"))),
                None => {
                    return Err(Error::Timeout(format!("{name} was not confirmed within {CONFIRM_WAIT:?}")))
                }
            }
        }
    }
}

fn received(m: redwire::event::Message) -> Received {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let payload = match m.payload {
        Value::BulkString(b) => b.to_vec(),
        other => format!("{other:?}").into_bytes(), // RESP2 invalidations redirected to a channel
    };
    (text(&m.channel), m.pattern.as_deref().map(text), payload)
}

struct Mio;

impl scenarios::Runtime for Mio {
    const NAME: &'static str = "mio";
    const LOAD_WORKERS: usize = 64;
    type Client = Client;
    type PubSub = PubSub;

    fn connect(url: &str) -> Result<Client> {
        Mio::connect_with(Config::from_url(url)?, None)
    }

    fn connect_with(config: Config, on_push: Option<PushFn>) -> Result<Client> {
        let client = Client(Arc::new(Shared {
            config,
            pushes: Pushes { handler: on_push, dropped: AtomicU64::new(0) },
            pool: Mutex::default(),
            freed: Condvar::new(),
        }));
        drop(client.0.checkout()?); // connect now: a bad address or password fails here
        Ok(client)
    }

    fn exec(c: &Client, cmd: Cmd) -> Result<Value> {
        refuse_on_shared(&cmd)?;
        c.0.checkout()?.get().call(&cmd, &c.0.pushes)
    }

    /// On a connection of its own (outside the pool, never returned to it), so that dropping it abandons
    /// exactly this call.
    fn exec_abandoned(c: &Client, cmd: Cmd, after: Duration) -> Option<Result<Option<Value>>> {
        let abandon = || {
            refuse_on_shared(&cmd)?;
            let mut own = Driven::open(&c.0.config, &c.0.pushes)?;
            let id = own.conn.send(&cmd, Instant::now())?;
            match own.answer(id, Some(Instant::now() + after), &c.0.pushes)? {
                Some(Event::Reply { value, .. }) => Value::from_value(value).map(Some),
                None => Ok(None), // `own` is dropped: the socket closes and the server forgets the call
                Some(other) => Err(Error::Protocol(format!("a command was answered by {other:?}"))),
            }
        };
        Some(abandon())
    }

    fn pipeline(c: &Client, cmds: Vec<Cmd>, atomic: bool) -> Result<Vec<Value>> {
        let mut pipeline = Pipeline::with_capacity(cmds.len()).atomic(atomic);
        for (i, cmd) in cmds.into_iter().enumerate() {
            if let Err(Error::Usage(m)) = refuse_on_shared(&cmd) {
                return Err(Error::Usage(format!("command {} of the pipeline: {m}", i + 1)));
            }
            pipeline.add(cmd);
        }
        let shared = &c.0;
        let mut lease = shared.checkout()?;
        let id = lease.get().conn.send_pipeline(&pipeline, Instant::now())?;
        match lease.get().answer(id, None, &shared.pushes)? {
            Some(Event::Pipeline { values, .. }) => Ok(values),
            Some(Event::Transaction { result, .. }) => result,
            other => Err(Error::Protocol(format!("a pipeline was answered by {other:?}"))),
        }
    }

    fn transaction(
        c: &Client,
        keys: &[&str],
        max_attempts: u32,
        body: &mut TxBody<'_>,
    ) -> Result<(Vec<Value>, u32)> {
        if max_attempts == 0 {
            return Err(Error::Usage("max_attempts is 0: allow at least one attempt".into()));
        }
        let shared = &c.0;
        let mut lease = shared.checkout()?;
        let held = lease.get();
        let mut attempt = || {
            if !keys.is_empty() {
                held.call(&Cmd::new("WATCH").arg(keys), &shared.pushes)?;
            }
            let cmds = body(&mut |cmd| {
                refuse_on_shared(&cmd)?;
                held.call(&cmd, &shared.pushes)
            })?;
            let id = held.conn.send_transaction(&cmds, Instant::now())?;
            match held.answer(id, None, &shared.pushes)? {
                Some(Event::Transaction { result, .. }) => result,
                other => Err(Error::Protocol(format!("a transaction was answered by {other:?}"))),
            }
        };
        let mut outcome = Err(Error::Watch);
        for n in 1..=max_attempts {
            outcome = attempt().map(|values| (values, n));
            if !matches!(outcome, Err(Error::Watch)) {
                break;
            }
        }
        // EXEC unwatched the keys; a body or WATCH that failed left them watched. UNWATCH, or failing
        // that, the lease closes the connection (the core does not call a watching connection reusable).
        if held.conn.core().is_watching() && !held.conn.is_fatal() {
            if let Ok(id) = held.conn.send(&Cmd::new("UNWATCH"), Instant::now()) {
                let _ = held.answer(id, Some(Instant::now() + CONFIRM_WAIT), &shared.pushes);
            }
        }
        outcome
    }

    fn pubsub(c: &Client) -> Result<PubSub> {
        let driven = Driven::open(&c.0.config, &c.0.pushes)?;
        Ok(PubSub { shared: c.0.clone(), driven, messages: VecDeque::new() })
    }

    fn subscribe(
        p: &mut PubSub,
        channels: &[&str],
        patterns: &[&str],
        shard_channels: &[&str],
    ) -> Result<()> {
        p.confirm("SUBSCRIBE", channels)?;
        p.confirm("PSUBSCRIBE", patterns)?;
        p.confirm("SSUBSCRIBE", shard_channels)
    }

    fn unsubscribe(
        p: &mut PubSub,
        channels: &[&str],
        patterns: &[&str],
        shard_channels: &[&str],
    ) -> Result<()> {
        p.confirm("UNSUBSCRIBE", channels)?;
        p.confirm("PUNSUBSCRIBE", patterns)?;
        p.confirm("SUNSUBSCRIBE", shard_channels)
    }

    fn next_event(p: &mut PubSub, timeout: Duration) -> Result<Option<PubSubItem>> {
        if let Some(m) = p.messages.pop_front() {
            return Ok(Some(PubSubItem::Message(m)));
        }
        let until = Instant::now() + timeout;
        loop {
            match p.driven.next(Some(until), &p.shared.pushes)? {
                Some(Event::Message(m)) => return Ok(Some(PubSubItem::Message(received(m)))),
                Some(Event::Subscription { id: None, .. }) => {} // the server's own (a slot moved)
                Some(other) => return Err(Error::Protocol(format!("a subscriber got {other:?}"))),
                None => return Ok(None),
            }
        }
    }
}

scenarios!(Mio);
