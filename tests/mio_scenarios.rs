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
use redwire::event::PubSubEvent;
use redwire::inbox::{BufferStats, Inbox, PubSubBuffer, READ_BUDGET};
use redwire::mio::Connection;
use redwire::resp::Value;
use redwire::{Cmd, Config, Error, Event, FromValue, Pipeline, RequestId, Result};
use scenarios::{PubSubItem, PushFn, Received, TxBody};
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

/// A dedicated pub/sub connection with the core's bounded [`Inbox`], reconnecting as a mio user would:
/// when the connection breaks, the next read opens a new one (after a backoff), sends the dead
/// connection's `resubscribe_commands`, and reports `Reconnected` once every subscription is back.
pub struct PubSub {
    shared: Arc<Shared>,
    /// `None` from a failure until a reconnect succeeds.
    driven: Option<Driven>,
    inbox: Inbox,
    /// Why the last connection ended, and what restores its subscriptions.
    broken: Option<(Error, Vec<Cmd>)>,
    /// Failed reconnect attempts in a row, and when the next one may start.
    failures: u32,
    next_attempt: Instant,
}

impl PubSub {
    fn open(shared: Arc<Shared>) -> Result<PubSub> {
        let driven = Driven::open(&shared.config, &shared.pushes)?;
        let inbox = Inbox::new(PubSubBuffer::default())?;
        Ok(PubSub {
            shared,
            driven: Some(driven),
            inbox,
            broken: None,
            failures: 0,
            next_attempt: Instant::now(),
        })
    }

    /// Makes sure a connection is live, reconnecting first if the last one broke (waiting no later than
    /// `until`); `Ok(false)` when `until` passes before the next attempt may start.
    fn live(&mut self, until: Instant) -> Result<bool> {
        if self.driven.is_none() {
            let now = Instant::now();
            if self.next_attempt > until {
                std::thread::sleep(until.saturating_duration_since(now));
                return Ok(false);
            }
            std::thread::sleep(self.next_attempt.saturating_duration_since(now));
            let (cause, restore) = self.broken.take().expect("a broken connection says why");
            self.inbox.begin_restore();
            match self.restore(&restore) {
                Ok(driven) => {
                    self.driven = Some(driven);
                    self.failures = 0;
                    self.inbox.restored(cause);
                }
                Err(e) => {
                    self.inbox.restore_failed();
                    self.failures += 1;
                    let backoff =
                        Duration::from_millis(50 << self.failures.min(6)).min(Duration::from_secs(2));
                    self.next_attempt = Instant::now() + backoff;
                    self.broken = Some((cause, restore));
                    return Err(e);
                }
            }
        }
        Ok(true)
    }

    /// A new connection with every command of `restore` confirmed on it.
    fn restore(&mut self, restore: &[Cmd]) -> Result<Driven> {
        let mut driven = Driven::open(&self.shared.config, &self.shared.pushes)?;
        for cmd in restore {
            confirm(&mut driven, &mut self.inbox, &self.shared.pushes, cmd)?;
        }
        Ok(driven)
    }

    /// Notes that the connection failed with `e`: the next read reconnects.
    fn fail(&mut self, e: Error) -> Error {
        if let Some(dead) = self.driven.take() {
            self.broken = Some((redwire_error_copy(&e), dead.conn.core().resubscribe_commands()));
        }
        e
    }

    /// Sends a subscription command and waits for its last confirmation; messages meanwhile go to the
    /// inbox, in order.
    fn change(&mut self, name: &str, targets: &[&str]) -> Result<()> {
        if targets.is_empty() {
            return Ok(());
        }
        let until = Instant::now() + self.shared.config.connect_timeout().unwrap_or(CONFIRM_WAIT);
        if !self.live(until)? {
            return Err(Error::Timeout(format!("{name}: no connection within the connect timeout")));
        }
        let driven = self.driven.as_mut().expect("live() made one");
        let result = confirm(driven, &mut self.inbox, &self.shared.pushes, &Cmd::new(name).arg(targets));
        result.map_err(|e| self.fail(e))
    }

    /// Takes what the socket has without waiting (at most [`READ_BUDGET`] events), when the inbox holds
    /// events and a read is due: a slow consumer keeps the server's output buffer small.
    fn intake(&mut self) -> Result<()> {
        let now = Instant::now();
        let Some(driven) =
            self.driven.as_mut().filter(|_| !self.inbox.is_empty() && self.inbox.read_due(now))
        else {
            return Ok(());
        };
        let mut filed = 0;
        let result = loop {
            self.inbox.detach();
            if let Err(e) = driven.turn(Some(Duration::ZERO)) {
                break Err(e);
            }
            let before = filed;
            loop {
                match driven.conn.poll_event() {
                    Ok(Some(Event::Message(m))) => {
                        self.inbox.push_message(m);
                        filed += 1;
                    }
                    Ok(Some(Event::Push(push))) => self.shared.pushes.deliver(push),
                    Ok(Some(_)) => {} // an unasked confirmation (a slot moved)
                    Ok(None) => break,
                    Err(e) => return Err(self.fail(e)),
                }
            }
            if filed == before || filed >= READ_BUDGET {
                break Ok(());
            }
        };
        self.inbox.note_read(Instant::now());
        result.map_err(|e| self.fail(e))
    }
}

/// Sends `cmd` (a subscription command) on `driven` and waits for its last confirmation, filing messages
/// that arrive meanwhile in `inbox`.
fn confirm(driven: &mut Driven, inbox: &mut Inbox, pushes: &Pushes, cmd: &Cmd) -> Result<()> {
    let id = driven.conn.send(cmd, Instant::now())?;
    let until = Instant::now() + CONFIRM_WAIT;
    loop {
        inbox.detach();
        match driven.next(Some(until), pushes)? {
            Some(Event::Subscription { id: Some(got), done: true, .. }) if got == id => return Ok(()),
            Some(Event::Message(m)) => inbox.push_message(m),
            Some(Event::TimedOut { id: late }) if late == id => return Err(driven.timeout(id)),
            Some(Event::Reply { id: got, value: Value::Error(e), .. }) if got == id => {
                return Err(Error::Server(e))
            }
            Some(Event::Subscription { .. }) => {}
            Some(other) => return Err(Error::Protocol(format!("{cmd:?} was answered by {other:?}"))),
            None => return Err(Error::Timeout(format!("{cmd:?} was not confirmed within {CONFIRM_WAIT:?}"))),
        }
    }
}

/// A copy of an error for the reconnect notice (the original goes to the caller).
fn redwire_error_copy(e: &Error) -> Error {
    match e {
        Error::Io(io) => Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        other => Error::Closed(other.to_string()),
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
        PubSub::open(c.0.clone())
    }

    fn change(p: &mut PubSub, command: &str, names: &[&str]) -> Result<()> {
        p.change(command, names)
    }

    /// The order of the core's `Inbox`: file what was decoded, take what the socket has when a read is
    /// due, hand out the oldest event; wait for input only when there is none.
    fn next_event(p: &mut PubSub, timeout: Duration) -> Result<Option<PubSubItem>> {
        let until = Instant::now() + timeout;
        loop {
            p.intake()?;
            if let Some(event) = p.inbox.pop() {
                return Ok(Some(match event? {
                    PubSubEvent::Message(m) => PubSubItem::Message(received(m)),
                    PubSubEvent::Reconnected { cause } => PubSubItem::Reconnected(cause.to_string()),
                    PubSubEvent::Lagged { dropped } => PubSubItem::Lagged(dropped),
                    other => panic!("an event the scenarios do not know: {other:?}"),
                }));
            }
            if !p.live(until)? {
                return Ok(None);
            }
            p.inbox.detach();
            let driven = p.driven.as_mut().expect("live() made one");
            match driven.next(Some(until), &p.shared.pushes) {
                Ok(Some(Event::Message(m))) => p.inbox.push_message(m),
                Ok(Some(Event::Subscription { id: None, .. })) => {} // the server's own (a slot moved)
                Ok(Some(other)) => return Err(Error::Protocol(format!("a subscriber got {other:?}"))),
                Ok(None) => return Ok(None),
                Err(e) => return Err(p.fail(e)),
            }
        }
    }

    fn set_buffer(p: &mut PubSub, buffer: PubSubBuffer) -> Result<()> {
        p.inbox.set_buffer(buffer)
    }

    fn buffer_stats(p: &PubSub) -> BufferStats {
        p.inbox.stats()
    }
}

scenarios!(Mio);
