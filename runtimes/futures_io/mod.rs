//! The async client, generic over the runtime: one driver over the futures-io traits that
//! `redwire::smol` and `redwire::async_std` instantiate. Use it through
//! those modules (`redwire::smol::Client` is `Client<Smol>`); this module documents the types and holds
//! [`Rt`], the trait a runtime implements (tasks, timers, sockets) — implement it to run redwire's async
//! client on another runtime.
//!
//! Everything lives here once: the multiplexed connection with automatic pipelining ([`Client`]), the
//! pool of dedicated connections for blocking commands and WATCH transactions, pipelines ([`Pipeline`]),
//! WATCH transactions ([`Transaction`]), pub/sub streams ([`PubSub`]), timeouts and reconnects. It makes no
//! protocol decision: replies are matched to requests, deadlines set and handshakes run by
//! [`Connection`](crate::Connection); this module only moves bytes, reads the clock and wakes tasks.
//!
//! Files: `oneshot.rs` (the reply slot a request waits on), `wire.rs` (one socket and its `Connection`),
//! `driver.rs` (the task that owns the shared connection and batches queued requests), `client.rs`
//! (`Client`, its command future, routing, reconnect), `pool.rs` (dedicated connections), and the
//! user-facing `pipeline.rs`, `transaction.rs`, `pubsub.rs`, `scan.rs` (SCAN streams, scripts).

mod client;
mod driver;
mod oneshot;
mod pipeline;
mod pool;
mod pubsub;
mod scan;
mod transaction;
mod wire;

pub use client::{Client, Reply};
pub use pipeline::Pipeline;
pub use pubsub::{PubSub, PubSubControl, PubSubEvent};
pub use scan::Scan;
pub use transaction::{Committed, Multi, Transaction, DEFAULT_MAX_ATTEMPTS};

use crate::config::Address;
use crate::Error;
use futures_io::{AsyncRead, AsyncWrite};
use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

/// A byte stream to a server: what [`Rt::connect`] returns.
pub trait AsyncIo: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> AsyncIo for T {}

/// What a runtime gives the driver: tasks, timers and sockets. Implemented by `redwire::smol::Smol` and
/// `redwire::async_std::AsyncStd`; a type parameter of every async client type.
pub trait Rt: Send + Sync + 'static {
    /// A timer future (its output is ignored); [`Rt::sleep_until`] makes one.
    type Sleep: Future + Send + Unpin + 'static;

    /// Runs `future` in the background (the shared connection's driver), detached.
    fn spawn<F: Future<Output = ()> + Send + 'static>(future: F);

    /// A future that completes at `at`.
    fn sleep_until(at: Instant) -> Self::Sleep;

    /// Opens a TCP (with `TCP_NODELAY`) or unix socket to `addr`.
    fn connect(addr: Address) -> impl Future<Output = io::Result<Box<dyn AsyncIo>>> + Send;
}

/// How long to wait before reconnecting after `failures` failed attempts in a row: nothing for the
/// first, then 50 ms doubling up to 2 s.
pub(crate) fn backoff(failures: u32) -> Duration {
    match failures {
        0 => Duration::ZERO,
        n => Duration::from_millis(50u64 << (n - 1).min(6)).min(Duration::from_secs(2)),
    }
}

/// A copy of a fatal error, for every request that shares its fate. (`Error` holds an `io::Error`, which
/// is not `Clone`.)
pub(crate) fn replicate(e: &Error) -> Error {
    match e {
        Error::Io(io) => Error::Io(io::Error::new(io.kind(), io.to_string())),
        Error::Poisoned(m) => Error::Poisoned(m.clone()),
        Error::Closed(m) => Error::Closed(m.clone()),
        Error::Protocol(m) => Error::Protocol(m.clone()),
        Error::Decode(d) => Error::Decode(d.clone()),
        Error::Timeout(m) => Error::Timeout(m.clone()),
        Error::Handshake { step, message } => Error::Handshake { step, message: message.clone() },
        Error::Usage(m) => Error::Usage(m.clone()),
        Error::Config(m) => Error::Config(m.clone()),
        other => Error::Closed(other.to_string()),
    }
}

/// The usage error for a command that must not run on a shared or pooled connection, from the command
/// table's `excluded` reason. Runs on every request: almost every command is let through by
/// `cmd::may_be_excluded` without a table lookup.
pub(crate) fn refuse_excluded(cmd: &crate::Cmd) -> crate::Result<()> {
    if !crate::cmd::may_be_excluded(cmd.name()) {
        return Ok(());
    }
    match crate::cmd::info_for(cmd).and_then(|info| info.excluded.map(|why| (info, why))) {
        Some((info, why)) => Err(Error::Usage(format!(
            "{} cannot run on an async client's connections: {why}",
            info.display_name()
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::from_millis(50));
        assert_eq!(backoff(2), Duration::from_millis(100));
        assert_eq!(backoff(6), Duration::from_millis(1600));
        assert_eq!(backoff(7), Duration::from_secs(2));
        assert_eq!(backoff(u32::MAX), Duration::from_secs(2));
    }

    #[test]
    fn replicated_errors_keep_kind_and_message() {
        let e = Error::Io(io::Error::new(io::ErrorKind::ConnectionReset, "reset by peer"));
        let copy = replicate(&e);
        assert!(matches!(&copy, Error::Io(io) if io.kind() == io::ErrorKind::ConnectionReset));
        assert_eq!(copy.to_string(), e.to_string());
        let e = Error::Closed("the server closed the connection".into());
        assert_eq!(replicate(&e).to_string(), e.to_string());
        assert!(replicate(&Error::Watch).is_fatal());
    }

    #[test]
    fn excluded_commands_are_refused_with_the_table_reason() {
        let err = refuse_excluded(&crate::Cmd::new("select").arg(2)).unwrap_err();
        assert!(matches!(&err, Error::Usage(m) if m.contains("SELECT") && m.contains("Config::db")), "{err}");
        assert!(refuse_excluded(&crate::Cmd::new("GET").arg("k")).is_ok());
        // Subcommands: CLIENT SETNAME is excluded, CLIENT ID is not.
        let err = refuse_excluded(&crate::Cmd::new("client").arg("setname").arg("x")).unwrap_err();
        assert!(matches!(&err, Error::Usage(m) if m.contains("CLIENT SETNAME")), "{err}");
        assert!(refuse_excluded(&crate::Cmd::new("CLIENT").arg("ID")).is_ok());
        // Every excluded table entry is refused.
        for info in crate::cmd::COMMANDS.iter().filter(|c| c.excluded.is_some()) {
            let mut cmd = crate::Cmd::new(info.container.unwrap_or(info.name));
            if let Some(sub) = info.name.split('|').nth(1) {
                cmd.push_arg(sub.as_bytes());
            }
            assert!(refuse_excluded(&cmd).is_err(), "{} passed", info.name);
        }
        assert!(refuse_excluded(&crate::Cmd::new("no-such-command")).is_ok());
    }
}
