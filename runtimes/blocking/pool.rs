//! [`Pool`]: the blocking runtime's connection pool (a `Mutex` and a `Condvar`): a maximum size, a
//! checkout that waits up to a timeout, a liveness probe and an idle health check at checkout, and a
//! check-in that keeps only connections the core calls reusable.
//!
//! No protocol here: whether a connection may be handed out again is `Connection::is_reusable`'s answer
//! (nothing in flight, no WATCH, no MULTI, no subscription, the configured database, not poisoned).

use super::conn::Conn;
use super::stream::{Connector, DefaultConnector};
use crate::push::PushSink;
use crate::resp::Value;
use crate::{Config, Error, Result};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The default maximum number of connections.
pub const DEFAULT_MAX_SIZE: usize = 16;
/// The default time a checkout waits for a free connection.
pub const DEFAULT_CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default idle time after which a connection is checked with `PING` before it is handed out.
pub const DEFAULT_HEALTH_CHECK_AFTER: Duration = Duration::from_secs(30);

/// A pool of connections to one server, shared by every clone (and by every [`Client`](super::Client)
/// made from it with [`Client::with_pool`](super::Client::with_pool)).
///
/// - At most [`max_size`](PoolBuilder::max_size) connections exist at once, idle or in use. A checkout
///   when all are in use waits up to [`checkout_timeout`](PoolBuilder::checkout_timeout), then fails with
///   [`Error::PoolExhausted`].
/// - An idle connection is probed before it is handed out: a non-blocking read that finds the server
///   closed it (`CLIENT KILL`, the server's `timeout`, a restart) replaces it with another, so the
///   command is written only to a live connection. One idle for longer than
///   [`health_check_after`](PoolBuilder::health_check_after) must also answer `PING`.
/// - A connection comes back only when the core says it is reusable: after an I/O error, a timeout, a
///   protocol error, or with `WATCH`, `MULTI` or subscriptions active, it is closed instead.
/// - Commands are never retried: a request that failed on a connection is reported, not sent again.
///
/// ```no_run
/// use redwire::blocking::{Client, Pool};
/// use redwire::cmd::Commands;
/// use redwire::Config;
/// use std::time::Duration;
///
/// let pool = Pool::builder(Config::from_url("redis://127.0.0.1:6379")?)
///     .max_size(4)
///     .checkout_timeout(Duration::from_secs(1))
///     .build();
/// let sessions = Client::with_pool(pool.clone());
/// let jobs = Client::with_pool(pool.clone()); // the same four connections
/// let _: () = sessions.set("a", 1)?;
/// let _: () = jobs.incr("a")?;
/// assert!(pool.stats().created <= 4);
/// # Ok::<(), redwire::Error>(())
/// ```
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    connector: Box<dyn Connector>,
    max_size: usize,
    checkout_timeout: Duration,
    health_check_after: Duration,
    pushes: PushSink,
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Default)]
struct State {
    /// Idle connections, most recently used last (handed out first: the likeliest to be alive).
    idle: Vec<Conn>,
    /// Checked out, or being opened.
    in_use: usize,
    /// Threads waiting in `checkout` (a `notify_one` costs a syscall even with nobody waiting).
    waiting: usize,
    created: u64,
    discarded: u64,
}

/// A snapshot of a pool's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Open connections waiting in the pool.
    pub idle: usize,
    /// Connections checked out (or being opened).
    pub in_use: usize,
    /// The maximum of `idle + in_use`.
    pub max_size: usize,
    /// Connections opened since the pool was made.
    pub created: u64,
    /// Connections closed instead of reused (dead at checkout, failed health check, broken, poisoned, or
    /// left in a state another user must not inherit).
    pub discarded: u64,
    /// RESP3 pushes that answered no request and found no [`push_handler`](PoolBuilder::push_handler)
    /// (with [`Config::with_tracking`] off and no module sending pushes, this stays 0).
    pub unhandled_pushes: u64,
}

/// Builds a [`Pool`]: `Pool::builder(config).max_size(8).build()`.
#[must_use = "a builder does nothing until build() is called"]
pub struct PoolBuilder {
    config: Config,
    connector: Box<dyn Connector>,
    max_size: usize,
    checkout_timeout: Duration,
    health_check_after: Duration,
    push_handler: Option<crate::push::PushHandler>,
}

impl PoolBuilder {
    /// The most connections open at once, idle or in use (default [`DEFAULT_MAX_SIZE`]; at least 1).
    pub fn max_size(mut self, max_size: usize) -> PoolBuilder {
        self.max_size = max_size.max(1);
        self
    }

    /// How long a checkout waits for a connection when all are in use (default
    /// [`DEFAULT_CHECKOUT_TIMEOUT`]).
    pub fn checkout_timeout(mut self, timeout: Duration) -> PoolBuilder {
        self.checkout_timeout = timeout;
        self
    }

    /// How long a connection may sit idle before it must answer `PING` at checkout (default
    /// [`DEFAULT_HEALTH_CHECK_AFTER`]; `Duration::ZERO` checks at every checkout).
    pub fn health_check_after(mut self, idle: Duration) -> PoolBuilder {
        self.health_check_after = idle;
        self
    }

    /// Opens streams with `connector` instead of [`DefaultConnector`] (TLS, a proxy, a wrapper).
    pub fn connector(mut self, connector: impl Connector) -> PoolBuilder {
        self.connector = Box::new(connector);
        self
    }

    /// Calls `handler` with every RESP3 push that answers no request, from any connection of the pool
    /// (pub/sub connections included): the `invalidate` pushes of client-side caching
    /// ([`Config::with_tracking`]), a module's pushes. Pub/sub messages are not pushes: they go to the
    /// [`PubSub`](super::PubSub). Without a handler, such pushes are counted in
    /// [`PoolStats::unhandled_pushes`] and dropped.
    ///
    /// The handler runs on the thread that reads the connection, in the middle of a command or a
    /// checkout: keep it short, and do not call the client from it. A push on a connection that sits
    /// idle in the pool is read when the connection is next checked out.
    ///
    /// ```no_run
    /// use redwire::blocking::{Client, Pool};
    /// use redwire::config::Tracking;
    /// use redwire::Config;
    /// use std::sync::mpsc;
    ///
    /// let (tx, invalidations) = mpsc::channel();
    /// let config = Config::from_url("redis://127.0.0.1:6379?protocol=3")?.with_tracking(Tracking::new());
    /// let pool = Pool::builder(config)
    ///     .push_handler(move |push| {
    ///         let _ = tx.send(push);
    ///     })
    ///     .build();
    /// let client = Client::with_pool(pool);
    /// # let _ = (client, invalidations);
    /// # Ok::<(), redwire::Error>(())
    /// ```
    pub fn push_handler(mut self, handler: impl Fn(Value) + Send + Sync + 'static) -> PoolBuilder {
        self.push_handler = Some(std::sync::Arc::new(handler));
        self
    }

    /// The pool. Opens no connection: the first checkout does.
    pub fn build(self) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                config: self.config,
                connector: self.connector,
                max_size: self.max_size,
                checkout_timeout: self.checkout_timeout,
                health_check_after: self.health_check_after,
                pushes: PushSink::new(self.push_handler),
                state: Mutex::new(State::default()),
                freed: Condvar::new(),
            }),
        }
    }
}

impl Pool {
    /// A pool with the default settings.
    pub fn new(config: Config) -> Pool {
        Pool::builder(config).build()
    }

    /// A builder starting from the default settings.
    pub fn builder(config: Config) -> PoolBuilder {
        PoolBuilder {
            config,
            connector: Box::new(DefaultConnector),
            max_size: DEFAULT_MAX_SIZE,
            checkout_timeout: DEFAULT_CHECKOUT_TIMEOUT,
            health_check_after: DEFAULT_HEALTH_CHECK_AFTER,
            push_handler: None,
        }
    }

    /// The configuration every connection is made from.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The current counters.
    pub fn stats(&self) -> PoolStats {
        let state = self.lock();
        PoolStats {
            idle: state.idle.len(),
            in_use: state.in_use,
            max_size: self.inner.max_size,
            created: state.created,
            discarded: state.discarded,
            unhandled_pushes: self.inner.pushes.unhandled(),
        }
    }

    /// Closes every idle connection (in-use ones close when they come back unusable, or stay).
    pub fn clear_idle(&self) {
        let idle = std::mem::take(&mut self.lock().idle);
        let n = idle.len() as u64;
        drop(idle);
        self.lock().discarded += n;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held, so a poisoned lock still holds consistent counters.
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands out a live connection: an idle one that passes the probe (and the health check when it was
    /// idle long), or a new one while there is room; else waits for one to come back.
    pub(crate) fn checkout(&self) -> Result<Pooled> {
        let deadline = Instant::now().checked_add(self.inner.checkout_timeout);
        let mut state = self.lock();
        loop {
            if let Some(mut conn) = state.idle.pop() {
                state.in_use += 1;
                drop(state);
                if self.healthy(&mut conn) {
                    return Ok(Pooled { conn: Some(conn), pool: self.clone() });
                }
                drop(conn);
                state = self.lock();
                state.in_use -= 1;
                state.discarded += 1;
                continue;
            }
            if state.in_use < self.inner.max_size {
                state.in_use += 1;
                drop(state);
                return match self.open() {
                    Ok(conn) => {
                        self.lock().created += 1;
                        Ok(Pooled { conn: Some(conn), pool: self.clone() })
                    }
                    Err(e) => {
                        let mut state = self.lock();
                        state.in_use -= 1;
                        self.wake_one(state);
                        Err(e)
                    }
                };
            }
            let now = Instant::now();
            let left = deadline.map(|at| at.saturating_duration_since(now));
            if left.is_some_and(|d| d.is_zero()) {
                return Err(self.exhausted());
            }
            state.waiting += 1;
            state = match left {
                Some(d) => self.inner.freed.wait_timeout(state, d).unwrap_or_else(PoisonError::into_inner).0,
                None => self.inner.freed.wait(state).unwrap_or_else(PoisonError::into_inner),
            };
            state.waiting -= 1;
        }
    }

    /// A connection of its own, outside the pool's count (pub/sub): same config, same connector.
    pub(crate) fn open(&self) -> Result<Conn> {
        Conn::open(&self.inner.config, &*self.inner.connector, self.inner.pushes.clone())
    }

    /// [`open`](Self::open) within `within` too (a pub/sub read reconnecting inside its caller's timeout).
    pub(crate) fn open_within(&self, within: Duration) -> Result<Conn> {
        let config = &self.inner.config;
        let budget = config.connect_timeout().map_or(within, |t| t.min(within));
        Conn::open(
            &config.clone().with_connect_timeout(budget),
            &*self.inner.connector,
            self.inner.pushes.clone(),
        )
    }

    fn healthy(&self, conn: &mut Conn) -> bool {
        if !conn.probe() {
            return false;
        }
        if conn.idle_since.elapsed() < self.inner.health_check_after {
            return true;
        }
        let config = &self.inner.config;
        let within = config.response_timeout().or(config.connect_timeout()).unwrap_or(Duration::from_secs(5));
        conn.ping(within)
    }

    fn checkin(&self, mut conn: Conn) {
        let reusable = conn.is_reusable();
        conn.idle_since = Instant::now();
        let mut state = self.lock();
        state.in_use -= 1;
        let closing = if reusable {
            state.idle.push(conn);
            None
        } else {
            state.discarded += 1;
            Some(conn)
        };
        self.wake_one(state);
        drop(closing); // the socket closes outside the lock
    }

    /// Releases the lock and wakes one waiting checkout, if any.
    fn wake_one(&self, state: MutexGuard<'_, State>) {
        let waiting = state.waiting > 0;
        drop(state);
        if waiting {
            self.inner.freed.notify_one();
        }
    }

    fn exhausted(&self) -> Error {
        Error::PoolExhausted(format!(
            "no connection to {} came free within {:?}: all {} are in use; raise Pool::builder(..).max_size \
             or checkout_timeout, or hold connections for less time (a Transaction keeps its connection until \
             it is dropped)",
            self.inner.config.addr(),
            self.inner.checkout_timeout,
            self.inner.max_size
        ))
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("addr", self.inner.config.addr())
            .field("checkout_timeout", &self.inner.checkout_timeout)
            .field("health_check_after", &self.inner.health_check_after)
            .field("stats", &self.stats())
            .finish()
    }
}

/// A checked-out connection; goes back to its pool (or is closed) when dropped.
#[derive(Debug)]
pub(crate) struct Pooled {
    conn: Option<Conn>,
    pool: Pool,
}

impl Pooled {
    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }
}

impl Deref for Pooled {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn.as_ref().expect("a Pooled holds its connection until dropped")
    }
}

impl DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("a Pooled holds its connection until dropped")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.checkin(conn);
        }
    }
}
