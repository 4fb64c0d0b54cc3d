//! The scenarios every runtime runs, written once: commands and typed replies, pipelines with an error in
//! the middle, WATCH transactions, pub/sub with patterns and shard channels, blocking commands against the
//! response timeout, a timeout mid-reply, RESP2 and RESP3, TCP and unix (`basics.rs`); and the
//! reliability suite of issue #9: faults injected by a proxy and by a scripted fake server, a server
//! killed and restarted, bad connect parameters, client-side caching under load, load with `CLIENT KILL`
//! (`faults.rs`, `bad_servers.rs`, `protocol.rs`, `pubsub.rs`, `load.rs`).
//!
//! A runtime's test file implements [`Runtime`] and invokes `scenarios!(ItsType);` at its crate root,
//! after `mod support;` and `mod scenarios;`:
//!
//! ```ignore
//! mod support;
//! mod scenarios;
//! struct Blocking;
//! impl scenarios::Runtime for Blocking { /* ... */ }
//! scenarios!(Blocking);
//! ```
//!
//! Each scenario is a generic function `fn name<R: Runtime>(url: &str, server: &mut Server)`, listed once
//! in [`scenarios!`]; the macro runs it over TCP and a unix socket, in RESP2 and RESP3, each time against
//! a server of its own. Scenarios see a runtime only through [`Runtime`]: nothing here may depend on one.
//! Every scenario is bounded in time: servers are stopped by pid when the test ends (`support::Server`),
//! every wait has a limit.
#![allow(dead_code)]

mod bad_servers;
mod basics;
mod faults;
pub mod load;
mod protocol;
mod pubsub;

pub use bad_servers::*;
pub use basics::*;
pub use faults::*;
pub use protocol::*;
pub use pubsub::*;

use crate::support::Server;
use redwire::config::Protocol;
use redwire::resp::Value;
use redwire::{Cmd, Config, FromValue, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A pub/sub message as [`Runtime::next_message`] returns it: channel, pattern if any, payload.
pub type Received = (String, Option<String>, Vec<u8>);

/// What a pub/sub connection reports, as [`Runtime::next_event`] returns it.
#[derive(Debug, Clone, PartialEq)]
pub enum PubSubItem {
    /// A message.
    Message(Received),
    /// The connection broke (the text says why) and a new one has every subscription back.
    Reconnected(String),
    /// This many messages were dropped because the consumer fell behind (a drop policy).
    Lagged(u64),
}

/// A body for [`Runtime::transaction`]: given a reader that runs commands at once on the watched
/// connection, returns the commands to queue in `MULTI`/`EXEC`.
pub type TxBody<'a> = dyn FnMut(&mut dyn FnMut(Cmd) -> Result<Value>) -> Result<Vec<Cmd>> + 'a;

/// A push handler, for [`Runtime::connect_with`].
pub type PushFn = Arc<dyn Fn(Value) + Send + Sync + 'static>;

/// One runtime under test, seen through a synchronous facade (async runtimes block_on inside).
pub trait Runtime: 'static {
    /// "blocking", "smol", "async-std", "mio"
    const NAME: &'static str;
    /// How many workers the load scenario runs at once: threads for blocking and mio, tasks for async.
    const LOAD_WORKERS: usize;
    /// A client; clones share connections.
    type Client: Clone + Send + Sync + 'static;
    /// A dedicated pub/sub connection.
    type PubSub: Send + 'static;
    /// Connects with a URL (`redis://127.0.0.1:PORT?protocol=2&response_timeout=1s`,
    /// `redis+unix:///path?protocol=3`). Runtimes that connect lazily may return `Ok` and fail at the
    /// first command instead.
    fn connect(url: &str) -> Result<Self::Client>;
    /// A client from `config`; with `on_push`, its connections hand every RESP3 push that answers no
    /// request to it.
    fn connect_with(config: Config, on_push: Option<PushFn>) -> Result<Self::Client>;
    /// One command, its reply as a raw Value (server errors come back as `Err(Error::Server)`).
    fn exec(c: &Self::Client, cmd: Cmd) -> Result<Value>;
    /// Sends `cmd` and stops waiting for its reply after `after`, as a caller giving up would (dropping
    /// the future; for mio, dropping the connection). `Some(Ok(Some(v)))` when the reply came first,
    /// `Some(Ok(None))` when the call was abandoned; `None` when this runtime has no way to abandon a call
    /// in flight (a blocking call returns only with its reply or its timeout).
    fn exec_abandoned(c: &Self::Client, cmd: Cmd, after: Duration) -> Option<Result<Option<Value>>>;
    /// A pipeline (atomic = MULTI/EXEC); one Value per command, server errors kept as `Value::Error` in
    /// their slot.
    fn pipeline(c: &Self::Client, cmds: Vec<Cmd>, atomic: bool) -> Result<Vec<Value>>;
    /// WATCH `keys`, call `body` with a reader over the watched connection (immediate mode), queue the
    /// commands it returns in MULTI/EXEC, retry on a watch error up to `max_attempts`. Returns the EXEC
    /// values (server errors as `Value::Error`) and the number of attempts made.
    fn transaction(
        c: &Self::Client,
        keys: &[&str],
        max_attempts: u32,
        body: &mut TxBody<'_>,
    ) -> Result<(Vec<Value>, u32)>;
    /// A dedicated pub/sub connection.
    fn pubsub(c: &Self::Client) -> Result<Self::PubSub>;
    /// Sends one subscription command (`SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE` or their `UN` forms) for
    /// `names` (not empty) and returns once the server confirmed it.
    fn change(p: &mut Self::PubSub, command: &str, names: &[&str]) -> Result<()>;

    /// Subscribes to every channel, pattern and shard channel given (empty lists send nothing) and returns
    /// once the server confirmed them all.
    fn subscribe(
        p: &mut Self::PubSub,
        channels: &[&str],
        patterns: &[&str],
        shard_channels: &[&str],
    ) -> Result<()> {
        for (command, names) in
            [("SUBSCRIBE", channels), ("PSUBSCRIBE", patterns), ("SSUBSCRIBE", shard_channels)]
        {
            if !names.is_empty() {
                Self::change(p, command, names)?;
            }
        }
        Ok(())
    }

    /// Unsubscribes from those given (empty lists send nothing), once confirmed.
    fn unsubscribe(
        p: &mut Self::PubSub,
        channels: &[&str],
        patterns: &[&str],
        shard_channels: &[&str],
    ) -> Result<()> {
        let changes =
            [("UNSUBSCRIBE", channels), ("PUNSUBSCRIBE", patterns), ("SUNSUBSCRIBE", shard_channels)];
        for (command, names) in changes {
            if !names.is_empty() {
                Self::change(p, command, names)?;
            }
        }
        Ok(())
    }

    /// The next pub/sub event, or None after `timeout`. An overflow under [`Overflow::Error`] is
    /// `Err(Error::PubSubOverflow)`.
    ///
    /// [`Overflow::Error`]: redwire::inbox::Overflow::Error
    fn next_event(p: &mut Self::PubSub, timeout: Duration) -> Result<Option<PubSubItem>>;
    /// Sets the pub/sub connection's buffer limits and overflow policy (`PubSub::set_buffer`).
    fn set_buffer(p: &mut Self::PubSub, buffer: redwire::inbox::PubSubBuffer) -> Result<()>;
    /// The pub/sub connection's buffer counters (`PubSub::buffer_stats`).
    fn buffer_stats(p: &Self::PubSub) -> redwire::inbox::BufferStats;

    /// The next message (channel, pattern if any, payload), or None after `timeout`; reconnect and lag
    /// notices are skipped.
    fn next_message(p: &mut Self::PubSub, timeout: Duration) -> Result<Option<Received>> {
        let until = Instant::now() + timeout;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match Self::next_event(p, left)? {
                Some(PubSubItem::Message(m)) => return Ok(Some(m)),
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }

    /// Runs [`LOAD_WORKERS`](Self::LOAD_WORKERS) [`load::Worker`]s on `c` until `until`, each checking
    /// every reply, and adds their reports up. The default runs one thread per worker through
    /// [`exec`](Self::exec) and [`pipeline`](Self::pipeline); async runtimes run tasks instead.
    fn load(c: &Self::Client, until: Instant) -> load::Report {
        let threads: Vec<_> = (0..Self::LOAD_WORKERS)
            .map(|id| {
                let c = c.clone();
                std::thread::spawn(move || {
                    let mut worker = load::Worker::new(id);
                    let mut report = load::Report::default();
                    while Instant::now() < until {
                        let replies = match worker.next_op() {
                            load::Op::Single(cmd) => Self::exec(&c, cmd).map(|v| vec![v]),
                            load::Op::Pipeline { cmds, atomic } => Self::pipeline(&c, cmds, atomic),
                        };
                        report.add(worker.check(replies));
                    }
                    report
                })
            })
            .collect();
        let mut total = load::Report::default();
        for t in threads {
            total.merge(t.join().expect("a load worker panicked"));
        }
        total
    }
}

/// Expands to one `#[test]` per scenario for runtime `$rt`, over TCP and unix sockets and under RESP2 and
/// RESP3, each against its own `support::Server`: a module per scenario with tests `tcp_resp2`,
/// `tcp_resp3`, `unix_resp2`, `unix_resp3`.
#[macro_export]
macro_rules! scenarios {
    ($rt:ty) => {
        $crate::scenario_matrix!($rt;
            // basics.rs
            commands_and_typed_replies,
            server_errors_leave_the_client_usable,
            pipelines_keep_every_slot,
            transactions_watch_abort_and_retry,
            pubsub_channels_patterns_and_shards,
            blocking_commands_outlast_the_response_timeout,
            response_timeout_then_the_next_command_gets_its_own_reply,
            protocol_and_transport_are_as_asked,
            one_client_many_threads,
            pooled_clients_refuse_connection_state_commands,
            // protocol.rs
            errors_inside_a_big_pipeline_keep_every_slot_in_step,
            a_blocking_command_longer_than_the_response_timeout_and_one_abandoned,
            tracking_invalidations_reach_only_the_push_handler,
            a_loading_error_is_typed_and_the_connection_stays_in_step,
            // bad_servers.rs
            bad_connect_parameters_fail_clearly_within_the_connect_timeout,
            malformed_replies_are_protocol_errors_and_the_connection_is_never_reused,
            a_hundred_thousand_nested_arrays_are_a_protocol_error,
            declared_huge_bulks_never_grow_memory_by_their_length,
            // pubsub.rs
            pubsub_resubscribes_after_the_server_restarts_and_signals_the_gap,
            a_slow_consumer_stays_within_its_buffer_then_gets_its_policy,
            // faults.rs
            every_reply_split_into_single_bytes_changes_nothing,
            a_reply_stalled_mid_frame_times_out_and_the_next_request_gets_its_own,
            a_connection_cut_during_multi_exec_never_reports_success,
            a_server_killed_mid_pipeline_fails_fast_and_the_client_recovers,
            a_restart_under_idle_pooled_connections_never_sends_a_write_twice,
            load_with_client_kill_every_second,
        );
    };
}

/// The expansion behind [`scenarios!`].
#[doc(hidden)]
#[macro_export]
macro_rules! scenario_matrix {
    ($rt:ty; $($name:ident),* $(,)?) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::scenarios::{run, Transport};

            #[test]
            fn tcp_resp2() {
                run::<$rt>(Transport::Tcp, 2, $crate::scenarios::$name::<$rt>);
            }
            #[test]
            fn tcp_resp3() {
                run::<$rt>(Transport::Tcp, 3, $crate::scenarios::$name::<$rt>);
            }
            #[test]
            fn unix_resp2() {
                run::<$rt>(Transport::Unix, 2, $crate::scenarios::$name::<$rt>);
            }
            #[test]
            fn unix_resp3() {
                run::<$rt>(Transport::Unix, 3, $crate::scenarios::$name::<$rt>);
            }
        }
    )*};
}

/// How a scenario reaches its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `redis://127.0.0.1:PORT`
    Tcp,
    /// `redis+unix:///tmp/.../redis.sock`
    Unix,
}

/// Starts a server and runs `scenario` with a URL for it. The URL always has a query (`?protocol=N`), so
/// a scenario may append `&response_timeout=...`.
pub fn run<R: Runtime>(transport: Transport, protocol: u8, scenario: fn(&str, &mut Server)) {
    let mut server = Server::start();
    let base = match transport {
        Transport::Tcp => server.url(),
        Transport::Unix => server.unix_url(),
    };
    let url = format!("{base}?protocol={protocol}");
    scenario(&url, &mut server);
}

/// Runs `f` in a process of its own: this test binary again, running only the current test (libtest names
/// each test's thread after it), in which `f` runs and what it returns is printed. The parent waits for
/// it, fails when it fails, and returns what it printed; the child gets `None` and has nothing left to do.
/// For scenarios that other tests in the same process would disturb, or be disturbed by: a memory
/// measure, or a load that saturates a runtime's process-wide executor (which the other async tests of
/// this binary share).
fn in_own_process(f: impl FnOnce() -> String) -> Option<String> {
    const CHILD: &str = "REDWIRE_SCENARIO_CHILD";
    const MARK: &str = "REDWIRE_SCENARIO_RESULT=";
    if std::env::var_os(CHILD).is_some() {
        println!("{MARK}{}", f());
        return None;
    }
    let test = std::thread::current().name().expect("libtest names each test's thread").to_string();
    let exe = std::env::current_exe().expect("the test binary");
    let out = std::process::Command::new(exe)
        .args([test.as_str(), "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .expect("run the test binary again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{test} failed in its own process:\n{stdout}\n{stderr}");
    eprint!("{stderr}");
    let result = stdout
        .lines()
        .find_map(|l| l.split(MARK).nth(1)) // libtest may print "test name ... " in front of it
        .unwrap_or_else(|| panic!("{test}: no {MARK} line (did the test run?):\n{stdout}"));
    Some(result.trim().to_string())
}

/// `true` when the scenario's URL is a unix socket's.
fn is_unix(url: &str) -> bool {
    url.starts_with("redis+unix:")
}

/// The scenario's server, reached over the URL's transport: the upstream for a proxy in front of it.
fn upstream(url: &str, server: &Server) -> crate::support::fault::Endpoint {
    use crate::support::fault::Endpoint;
    if is_unix(url) {
        Endpoint::Unix(server.unix_path().to_path_buf())
    } else {
        Endpoint::Tcp(server.addr())
    }
}

/// `url` with its host (or socket path) replaced by one of `tcp_url` / `unix_url` (a proxy's, a fake
/// server's), the same transport and the same parameters.
fn moved(url: &str, tcp_url: &str, unix_url: &str) -> String {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let base = if is_unix(url) { unix_url } else { tcp_url };
    format!("{base}?{query}")
}

fn cmd(words: &[&str]) -> Cmd {
    let mut cmd = Cmd::new(words[0]);
    for w in &words[1..] {
        cmd.push_arg(w.as_bytes());
    }
    cmd
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec().into())
}

fn ok() -> Value {
    Value::SimpleString("OK".into())
}

fn resp3(url: &str) -> bool {
    Config::from_url(url).expect("scenario URLs parse").protocol() == Protocol::Resp3
}

fn exec<R: Runtime>(c: &R::Client, words: &[&str]) -> Value {
    R::exec(c, cmd(words)).unwrap_or_else(|e| panic!("[{}] {words:?} failed: {e}", R::NAME))
}

fn convert<T: FromValue>(v: Value) -> T {
    T::from_value(v).expect("the reply converts")
}
