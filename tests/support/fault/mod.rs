//! [`FaultProxy`]: a loopback proxy between a client and a real server that delays, splits, holds and
//! cuts the bytes it forwards, controlled at run time from the test thread; for the faults a real server
//! produces only by chance (a reply arriving byte by byte, a reply stalled halfway, a connection cut after
//! exactly N bytes).
//!
//! It never changes, drops (except by cutting the connection) or reorders a byte. It listens on a free
//! 127.0.0.1 port and on a unix socket in a fresh temp dir (so a test picks the transport with
//! [`FaultProxy::url`] or [`FaultProxy::unix_url`]) and forwards each connection to one upstream
//! [`Endpoint`], TCP or unix. Std only: no redwire here, so a broken client cannot break the proxy.
//!
//! ```ignore
//! use support::fault::{Direction::ToClient, FaultProxy, Split};
//! let server = Server::start();
//! let proxy = FaultProxy::start(server.unix_path());       // unix upstream; clients may use either URL
//! proxy.split(ToClient, Split::Bytes);                     // every server byte in its own write
//! let mut c = RawClient::connect(proxy.addr());
//! c.cmd_str(&["SET", "k", "key1"]);
//! proxy.pass_then_stall(ToClient, 5);                      // "$4\r\nk" passes, "ey1\r\n" is held
//! c.send(&[b"GET", b"k"]);
//! proxy.wait_until("5 bytes passed, 5 held", Duration::from_secs(5), |s| s.to_client.held == 5);
//! proxy.release(ToClient);
//! ```
//!
//! - The rules ([`Faults`]) are shared by every connection, current and future, and read before every
//!   piece a pump forwards, so a change takes effect within one piece. Byte budgets (`pass_then_stall`,
//!   `cut_after`) count bytes in one direction across all connections: give them to a test with one
//!   connection at a time, or wait on [`Stats`] first.
//! - Each connection has two pump threads (client → server, server → client). Every thread ends when the
//!   proxy is dropped (drop shuts every socket and joins every thread), and every wait is bounded.
//! - A cut sends FIN both ways. An RST (`SO_LINGER` 0) is not possible with std alone: `set_linger` is
//!   unstable, and std has no `setsockopt`.
//! - Random choices (piece sizes, pauses) come from a per-proxy seed: [`rng::seed`](super::rng::seed)
//!   (`REDWIRE_FAULT_SEED` replays one) unless [`FaultProxy::with_seed`] fixes it. It is printed to the
//!   test's output the first time a random rule is set and in every [`Faults::wait_until`] panic. Piece
//!   sizes repeat for a seed; where reads happen to end still depends on timing.

mod pump;

pub use super::net::Endpoint;

use super::net::{Listeners, Stream, Via};
use super::rng;
use pump::Link;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Which way bytes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → server (commands).
    ToServer,
    /// Server → client (replies).
    ToClient,
}

impl Direction {
    fn index(self) -> usize {
        self as usize
    }
}

/// A pause before each forwarded piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delay {
    /// No pause (the default).
    #[default]
    None,
    /// The same pause before every piece.
    Fixed(Duration),
    /// A random pause in `0..=max` before every piece.
    UpTo(Duration),
}

/// How the bytes read in one direction are cut into writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Split {
    /// Forward what was read in one write (the default).
    #[default]
    None,
    /// Every byte in a write of its own.
    Bytes,
    /// Writes of a random size in `1..=max`.
    UpTo(usize),
}

/// What the proxy has done so far (see [`Faults::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted (refused ones included).
    pub accepted: u64,
    /// Connections closed at once because [`Faults::refuse`] was on.
    pub refused: u64,
    /// Connections closed at once because the upstream could not be reached.
    pub upstream_failed: u64,
    /// Connections whose pumps still run.
    pub open: usize,
    /// Connections cut by [`Faults::cut_after`] or [`Faults::cut_all`].
    pub cuts: u64,
    /// Client → server.
    pub to_server: Flow,
    /// Server → client.
    pub to_client: Flow,
}

impl Stats {
    /// The flow in `direction`.
    pub fn flow(&self, direction: Direction) -> &Flow {
        match direction {
            Direction::ToServer => &self.to_server,
            Direction::ToClient => &self.to_client,
        }
    }

    fn flow_mut(&mut self, direction: Direction) -> &mut Flow {
        match direction {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        }
    }
}

/// Bytes forwarded in one direction. A piece is counted just before it is written, so whoever reacts to it
/// (a server answering, a client reading) already finds it counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flow {
    /// Bytes written to the receiving side.
    pub bytes: u64,
    /// Writes (pieces) it took.
    pub writes: u64,
    /// The largest single write.
    pub largest_write: usize,
    /// Bytes read but held back by a stall, right now (over every connection).
    pub held: usize,
}

/// The rules for one direction.
#[derive(Debug, Clone, Copy, Default)]
struct Rules {
    delay: Delay,
    split: Split,
    /// `None`: forward freely; `Some(n)`: `n` more bytes may pass, then hold.
    pass: Option<u64>,
    /// `Some(n)`: cut the connection that carries the `n`-th next byte, right after writing it.
    cut_after: Option<u64>,
}

/// Everything the proxy's threads share, behind one lock.
struct State {
    rules: [Rules; 2],
    refuse: bool,
    stats: Stats,
    links: Vec<Arc<Link>>,
    pumps: Vec<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    /// Rules changed, a link was cut, or the proxy stops: pumps that hold or pause look again.
    rules_changed: Condvar,
    /// Stats changed: [`Faults::wait_until`] looks again.
    stats_changed: Condvar,
    seed: u64,
    seed_printed: AtomicBool,
    next_link: AtomicU64,
    upstream: Endpoint,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The cloneable control handle of a [`FaultProxy`] (the proxy derefs to it): set rules, read counters,
/// wait for them. Every setter affects current and future connections and returns `&Self` for chaining.
#[derive(Clone)]
pub struct Faults {
    shared: Arc<Shared>,
}

impl Faults {
    fn update(&self, direction: Direction, f: impl FnOnce(&mut Rules)) -> &Self {
        f(&mut self.shared.lock().rules[direction.index()]);
        self.shared.rules_changed.notify_all();
        self
    }

    fn note_random(&self, what: &str) {
        if !self.shared.seed_printed.swap(true, Ordering::SeqCst) {
            let seed = self.shared.seed;
            eprintln!("fault proxy: random {what}; seed {seed:#x} ({}={seed:#x} replays it)", rng::SEED_VAR);
        }
    }

    /// Pauses before each piece forwarded in `direction`.
    pub fn delay(&self, direction: Direction, delay: Delay) -> &Self {
        if let Delay::UpTo(_) = delay {
            self.note_random("delays");
        }
        self.update(direction, |r| r.delay = delay)
    }

    /// Cuts what is read in `direction` into pieces.
    pub fn split(&self, direction: Direction, split: Split) -> &Self {
        if let Split::UpTo(max) = split {
            assert!(max > 0, "Split::UpTo(0): pieces are at least 1 byte; use Split::Bytes");
            self.note_random("piece sizes");
        }
        self.update(direction, |r| r.split = split)
    }

    /// Stops forwarding in `direction` until [`Faults::release`]; bytes read meanwhile are held (and
    /// counted in [`Flow::held`]), nothing is dropped.
    pub fn stall(&self, direction: Direction) -> &Self {
        self.update(direction, |r| r.pass = Some(0))
    }

    /// Lets exactly `n` more bytes through in `direction` (over every connection), then holds the rest as
    /// [`Faults::stall`] does. Replaces an earlier budget.
    pub fn pass_then_stall(&self, direction: Direction, n: u64) -> &Self {
        self.update(direction, |r| r.pass = Some(n))
    }

    /// Forwards freely again in `direction`; held bytes go out first, in order.
    pub fn release(&self, direction: Direction) -> &Self {
        self.update(direction, |r| r.pass = None)
    }

    /// Cuts the connection that carries the `n`-th next byte in `direction`, right after writing it, so its
    /// receiver gets exactly `n` more bytes, then EOF. `n == 0` cuts the next connection that has a byte
    /// to forward, before writing it. One-shot: later connections are left alone.
    ///
    /// A cut connection sends FIN both ways; the server's side is closed, the client's is kept open for
    /// reading (and what the client still writes is dropped) until the client closes it, so the client
    /// sees EOF on its next read rather than a write error.
    pub fn cut_after(&self, direction: Direction, n: u64) -> &Self {
        self.update(direction, |r| r.cut_after = Some(n))
    }

    /// Cuts every open connection now (FIN to the client and to the server); returns how many.
    pub fn cut_all(&self) -> usize {
        let links: Vec<Arc<Link>> = self.shared.lock().links.clone();
        let cut = links.iter().filter(|l| l.cut(|| self.shared.lock().stats.cuts += 1)).count();
        self.shared.rules_changed.notify_all();
        self.shared.stats_changed.notify_all();
        cut
    }

    /// While on, new connections are accepted and closed at once (the client reads EOF); open ones go on.
    pub fn refuse(&self, on: bool) -> &Self {
        self.shared.lock().refuse = on;
        self
    }

    /// Back to pass-through in both directions, releasing any stall; counters stay.
    pub fn clear(&self) -> &Self {
        self.shared.lock().rules = Default::default();
        self.shared.rules_changed.notify_all();
        self
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats.clone()
    }

    /// Waits until `done(stats)` holds, at most `timeout`; returns the stats that satisfied it. Panics on
    /// timeout, naming `what`, the last stats and the seed.
    pub fn wait_until(&self, what: &str, timeout: Duration, mut done: impl FnMut(&Stats) -> bool) -> Stats {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if done(&state.stats) {
                return state.stats.clone();
            }
            let now = Instant::now();
            if now >= deadline {
                panic!(
                    "fault proxy: waited {timeout:?} for {what}; stats: {:?}; seed {:#x}",
                    state.stats, self.shared.seed
                );
            }
            state = self
                .shared
                .stats_changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The seed random rules draw from.
    pub fn seed(&self) -> u64 {
        self.shared.seed
    }
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("Faults")
            .field("upstream", &self.shared.upstream)
            .field("seed", &format_args!("{:#x}", self.shared.seed))
            .field("to_server", &state.rules[Direction::ToServer.index()])
            .field("to_client", &state.rules[Direction::ToClient.index()])
            .field("refuse", &state.refuse)
            .field("stats", &state.stats)
            .finish()
    }
}

/// A running proxy: listeners on 127.0.0.1 and a unix socket, forwarding to one upstream. Derefs to its
/// [`Faults`] handle. Dropping it closes every connection and joins every thread it started.
pub struct FaultProxy {
    faults: Faults,
    listeners: Listeners,
}

impl FaultProxy {
    /// Starts a pass-through proxy to `upstream` (`server.addr()` or `server.unix_path()`), with a seed
    /// from [`rng::seed`](super::rng::seed).
    pub fn start(upstream: impl Into<Endpoint>) -> FaultProxy {
        FaultProxy::with_seed(upstream, rng::seed())
    }

    /// Like [`FaultProxy::start`] with a fixed seed for random rules.
    pub fn with_seed(upstream: impl Into<Endpoint>, seed: u64) -> FaultProxy {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                rules: Default::default(),
                refuse: false,
                stats: Stats::default(),
                links: Vec::new(),
                pumps: Vec::new(),
            }),
            rules_changed: Condvar::new(),
            stats_changed: Condvar::new(),
            seed,
            seed_printed: AtomicBool::new(false),
            next_link: AtomicU64::new(0),
            upstream: upstream.into(),
        });
        let on_accept = shared.clone();
        let listeners =
            Listeners::bind("proxy.sock", Arc::new(move |client, via| accept(&on_accept, client, via)));
        FaultProxy { faults: Faults { shared }, listeners }
    }

    /// The control handle (clone it to move it into another thread).
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// `127.0.0.1:PORT` where clients connect over TCP.
    pub fn addr(&self) -> SocketAddr {
        self.listeners.addr()
    }

    /// The unix socket where clients connect.
    pub fn unix_path(&self) -> &Path {
        self.listeners.unix_path()
    }

    /// `redis://127.0.0.1:PORT` of the proxy.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr())
    }

    /// `redis+unix:///path/to/proxy.sock` of the proxy.
    pub fn unix_url(&self) -> String {
        format!("redis+unix://{}", self.unix_path().display())
    }

    /// Where the proxy forwards to.
    pub fn upstream(&self) -> &Endpoint {
        &self.faults.shared.upstream
    }
}

impl std::ops::Deref for FaultProxy {
    type Target = Faults;

    fn deref(&self) -> &Faults {
        &self.faults
    }
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr())
            .field("unix_path", &self.unix_path())
            .field("faults", &self.faults)
            .finish()
    }
}

impl Drop for FaultProxy {
    /// Stops accepting, cuts every connection, wakes every pump and joins them all.
    fn drop(&mut self) {
        self.listeners.stop();
        let shared = &self.faults.shared;
        let (links, pumps) = {
            let mut state = shared.lock();
            (std::mem::take(&mut state.links), std::mem::take(&mut state.pumps))
        };
        for link in &links {
            link.close();
        }
        shared.rules_changed.notify_all();
        for pump in pumps {
            let _ = pump.join();
        }
    }
}

/// On the accept thread: connect upstream and start the two pumps, or close the client at once.
fn accept(shared: &Arc<Shared>, client: Stream, _via: Via) {
    let mut state = shared.lock();
    state.stats.accepted += 1;
    if state.refuse {
        state.stats.refused += 1;
        drop(state);
        shared.stats_changed.notify_all();
        return; // dropping `client` closes it: the client reads EOF
    }
    drop(state);
    let upstream = match Stream::connect(&shared.upstream, Duration::from_secs(5)) {
        Ok(upstream) => upstream,
        Err(_) => {
            shared.lock().stats.upstream_failed += 1;
            shared.stats_changed.notify_all();
            return;
        }
    };
    let id = shared.next_link.fetch_add(1, Ordering::SeqCst);
    if pump::start(shared.clone(), id, client, upstream).is_err() {
        shared.lock().stats.upstream_failed += 1;
    }
    shared.stats_changed.notify_all();
}
