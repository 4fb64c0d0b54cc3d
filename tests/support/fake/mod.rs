//! [`FakeServer`]: a scripted stand-in for redis-server, for what a real server never sends (malformed
//! frames, a reply too many, a FIN after two of three replies, a declared 4 GiB bulk with ten bytes behind
//! it); [`hostile`] holds those payloads. For anything a real server can do, use a real
//! [`Server`](super::Server) (and a [`FaultProxy`](super::fault::FaultProxy) for timing and cuts).
//!
//! It listens on a free 127.0.0.1 port and on a unix socket in a fresh temp dir. Each accepted connection
//! runs a [`Script`] of [`Step`]s on a thread of its own: read N commands, reply with given bytes, answer
//! the handshake, pause, hold the connection open, close. It records what each connection sent
//! ([`Received`]: raw bytes and parsed commands) for the test to assert on. Std only: no redwire here.
//!
//! ```ignore
//! use support::fake::{FakeServer, Script};
//! let fake = FakeServer::start(Script::new().handshake().read(1).reply(b"$10\r\nhello").close());
//! // ... point a client at fake.url() or fake.unix_url(), send GET k, expect a "closed" error ...
//! let received = fake.join();
//! assert_eq!(received[0].commands.last().unwrap().words(), ["GET", "k"]);
//! ```
//!
//! - Never hangs a test: every read waits at most the script's timeout ([`Script::timeout`], default
//!   10 s), every pause and hold is bounded, [`FakeServer::join`] is bounded, and dropping the server
//!   shuts every socket and joins every thread.
//! - Every script ends with a FIN (whether or not it says [`Script::close`]); after that the server reads
//!   and drops whatever the client still sends (so closing never turns into an RST), until the client
//!   closes or the server is dropped. [`Received`] stops recording at the script's end.

mod command;
mod conn;
pub mod hostile;

pub use super::net::Via;
pub use command::Command;

use super::net::{Listeners, Stream};
use std::net::{Shutdown, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One thing a connection's script does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Answers handshake commands as a real server would (`HELLO 3` → a RESP3 map like Redis 7's, `HELLO
    /// 2` → its RESP2 array, `AUTH`, `SELECT`, `CLIENT SETNAME`/`SETINFO` → `+OK`) until the first other
    /// command arrives, which stays for the next [`Step::Read`]. With no handshake (RESP2, database 0, no
    /// credentials) it only waits for that first command. `knows_hello: false` answers `HELLO` like Redis
    /// 5 (`-ERR unknown command`), for the RESP2 fallback.
    Handshake { knows_hello: bool },
    /// Waits until `n` more complete commands have arrived.
    Read(usize),
    /// Writes these bytes at once.
    Reply(Vec<u8>),
    /// Writes these bytes `piece` at a time with `pause` between pieces.
    ReplySlowly { bytes: Vec<u8>, piece: usize, pause: Duration },
    /// Does nothing for a while.
    Pause(Duration),
    /// Keeps the connection open without answering, recording what arrives, until the client closes or
    /// the time is up.
    Hold(Duration),
    /// Ends the script: FIN. Must be the last step.
    Close,
}

/// The steps one connection runs (a builder: `Script::new().handshake().read(1).reply(b"+OK\r\n")`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    steps: Vec<Step>,
    timeout: Duration,
}

impl Default for Script {
    fn default() -> Self {
        Script::new()
    }
}

impl Script {
    /// An empty script (the connection gets a FIN at once) with a 10 s read timeout.
    pub fn new() -> Script {
        Script { steps: Vec::new(), timeout: Duration::from_secs(10) }
    }

    /// Adds a step; panics when the script already ended with [`Step::Close`] or the step is invalid.
    pub fn step(mut self, step: Step) -> Script {
        assert!(
            self.steps.last() != Some(&Step::Close),
            "nothing runs after close(): {step:?} is unreachable"
        );
        if let Step::ReplySlowly { piece, .. } = &step {
            assert!(*piece > 0, "ReplySlowly with pieces of 0 bytes never ends");
        }
        self.steps.push(step);
        self
    }

    /// [`Step::Handshake`] like Redis 7.
    pub fn handshake(self) -> Script {
        self.step(Step::Handshake { knows_hello: true })
    }

    /// [`Step::Handshake`] like Redis 5: `HELLO` is an unknown command.
    pub fn handshake_without_hello(self) -> Script {
        self.step(Step::Handshake { knows_hello: false })
    }

    /// [`Step::Read`]: waits for `n` more commands.
    pub fn read(self, n: usize) -> Script {
        self.step(Step::Read(n))
    }

    /// [`Step::Reply`].
    pub fn reply(self, bytes: impl AsRef<[u8]>) -> Script {
        self.step(Step::Reply(bytes.as_ref().to_vec()))
    }

    /// Reads one command, then replies `bytes`.
    pub fn answer(self, bytes: impl AsRef<[u8]>) -> Script {
        self.read(1).reply(bytes)
    }

    /// [`Step::ReplySlowly`].
    pub fn reply_slowly(self, bytes: impl AsRef<[u8]>, piece: usize, pause: Duration) -> Script {
        self.step(Step::ReplySlowly { bytes: bytes.as_ref().to_vec(), piece, pause })
    }

    /// [`Step::Pause`].
    pub fn pause(self, d: Duration) -> Script {
        self.step(Step::Pause(d))
    }

    /// [`Step::Hold`].
    pub fn hold(self, d: Duration) -> Script {
        self.step(Step::Hold(d))
    }

    /// [`Step::Close`].
    pub fn close(self) -> Script {
        self.step(Step::Close)
    }

    /// The longest any read waits for the client (default 10 s); also the write timeout.
    pub fn timeout(mut self, d: Duration) -> Script {
        self.timeout = d;
        self
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// An upper bound on how long the script can run: every wait bounded, plus one timeout per step.
    fn bound(&self) -> Duration {
        let waits: Duration = self
            .steps
            .iter()
            .map(|s| match s {
                Step::Pause(d) | Step::Hold(d) => *d,
                Step::ReplySlowly { bytes, piece, pause } => *pause * (bytes.len() / piece + 1) as u32,
                _ => Duration::ZERO,
            })
            .sum();
        waits + self.timeout * (self.steps.len() as u32 + 1)
    }
}

/// How a connection's script ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Still running at step `step` (only in snapshots taken before the end).
    Running { step: usize },
    /// Every step ran.
    Done,
    /// The client closed its side while step `step` waited for a command.
    ClientClosed { step: usize },
    /// Step `step` waited the script's timeout for a command that never came.
    TimedOut { step: usize },
    /// The client sent bytes that are not a command (`why` says what) during step `step`.
    BadInput { step: usize, why: String },
    /// Reading or writing failed during step `step`.
    Io { step: usize, error: String },
    /// The server was dropped while step `step` ran.
    Stopped { step: usize },
    /// [`FakeServer::start_each`] had no script left for this connection: it was closed at once.
    NoScript,
}

/// What one connection sent, up to its script's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The connection's place in accept order, from 0.
    pub index: usize,
    /// Which listener it came through.
    pub via: Via,
    /// Every byte read, in order.
    pub raw: Vec<u8>,
    /// Every complete command, handshake commands included, in order.
    pub commands: Vec<Command>,
    /// `true` once the client closed its side (EOF).
    pub client_closed: bool,
    /// How the script ended.
    pub end: End,
}

impl Received {
    fn new(index: usize, via: Via, end: End) -> Received {
        Received { index, via, raw: Vec::new(), commands: Vec::new(), client_closed: false, end }
    }

    /// How many commands start with `words` (`count("SET")`, `count("CLIENT SETNAME")`).
    pub fn count(&self, words: &str) -> usize {
        self.commands.iter().filter(|c| c.is(words)).count()
    }

    /// The commands' names in order (`["HELLO", "GET"]`).
    pub fn names(&self) -> Vec<String> {
        self.commands.iter().map(Command::name).collect()
    }
}

/// How many commands starting with `words` arrived over every connection (a write sent exactly once).
pub fn count(received: &[Received], words: &str) -> usize {
    received.iter().map(|r| r.count(words)).sum()
}

/// Which script each connection runs.
enum Scripts {
    Every(Script),
    Each(Vec<Script>),
}

impl Scripts {
    fn for_connection(&self, index: usize) -> Option<&Script> {
        match self {
            Scripts::Every(s) => Some(s),
            Scripts::Each(list) => list.get(index),
        }
    }
}

struct State {
    received: Vec<Received>,
    /// Second handles on every accepted socket, to shut them when the server is dropped.
    sockets: Vec<Stream>,
    threads: Vec<JoinHandle<()>>,
    stopping: bool,
}

struct Shared {
    state: Mutex<State>,
    /// A record changed, a script ended, or the server stops.
    changed: Condvar,
    scripts: Scripts,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fake server; see the module docs. Dropping it closes every connection and joins every
/// thread it started.
pub struct FakeServer {
    shared: Arc<Shared>,
    listeners: Listeners,
}

impl FakeServer {
    /// Every connection runs `script`.
    pub fn start(script: Script) -> FakeServer {
        FakeServer::launch(Scripts::Every(script))
    }

    /// The `i`-th connection (in accept order) runs the `i`-th script; any later connection is closed at
    /// once and recorded with [`End::NoScript`].
    pub fn start_each(scripts: impl IntoIterator<Item = Script>) -> FakeServer {
        FakeServer::launch(Scripts::Each(scripts.into_iter().collect()))
    }

    fn launch(scripts: Scripts) -> FakeServer {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                received: Vec::new(),
                sockets: Vec::new(),
                threads: Vec::new(),
                stopping: false,
            }),
            changed: Condvar::new(),
            scripts,
        });
        let on_accept = shared.clone();
        let listeners =
            Listeners::bind("fake.sock", Arc::new(move |stream, via| conn::accept(&on_accept, stream, via)));
        FakeServer { shared, listeners }
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.listeners.addr()
    }

    /// The unix socket (`.../fake.sock`).
    pub fn unix_path(&self) -> &Path {
        self.listeners.unix_path()
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr())
    }

    /// `redis+unix:///path/to/fake.sock`.
    pub fn unix_url(&self) -> String {
        format!("redis+unix://{}", self.unix_path().display())
    }

    /// What every connection so far has sent (running ones included, with [`End::Running`]).
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().received.clone()
    }

    /// Waits until `done(records)` holds, at most `timeout`; returns the records that satisfied it. Panics
    /// on timeout, naming `what` and showing the records.
    pub fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if done(&state.received) {
                return state.received.clone();
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "fake server: waited {timeout:?} for {what}; received: {:#?}",
                state.received
            );
            state =
                self.shared.changed.wait_timeout(state, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Stops accepting, waits until every accepted connection's script has ended (bounded by the scripts'
    /// own limits; panics past them, showing the records), and returns what each connection sent, in
    /// accept order. Then the server is dropped.
    pub fn join(mut self) -> Vec<Received> {
        self.listeners.stop();
        let limit = match &self.shared.scripts {
            Scripts::Every(s) => s.bound(),
            Scripts::Each(list) => list.iter().map(Script::bound).max().unwrap_or_default(),
        } + Duration::from_secs(5);
        let deadline = Instant::now() + limit;
        let mut state = self.shared.lock();
        loop {
            if state.received.iter().all(|r| !matches!(r.end, End::Running { .. })) {
                return state.received.clone();
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "fake server: scripts still running after {limit:?}: {:#?}",
                state.received
            );
            state =
                self.shared.changed.wait_timeout(state, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr())
            .field("unix_path", &self.unix_path())
            .field("received", &self.shared.lock().received)
            .finish()
    }
}

impl Drop for FakeServer {
    /// Stops accepting, shuts every socket (waking every connection thread) and joins the threads.
    fn drop(&mut self) {
        self.listeners.stop();
        let threads = {
            let mut state = self.shared.lock();
            state.stopping = true;
            for s in &state.sockets {
                s.shutdown(Shutdown::Both);
            }
            std::mem::take(&mut state.threads)
        };
        self.shared.changed.notify_all();
        for t in threads {
            let _ = t.join();
        }
    }
}
