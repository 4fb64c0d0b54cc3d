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

pub use crate::inbox::{BufferStats, Overflow, PubSubBuffer};
pub use client::{Client, Reply};
pub use pipeline::Pipeline;
pub use pubsub::{PubSub, PubSubControl, PubSubEvent};
pub use scan::Scan;
pub use transaction::{Committed, Multi, Transaction, DEFAULT_MAX_ATTEMPTS};

use crate::config::Address;
use futures_io::{AsyncRead, AsyncWrite};
use std::future::Future;
use std::io;
use std::time::Instant;

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

// Reconnect timing and error copies are the core's, shared with the blocking runtime.
pub(crate) use crate::outage::{backoff, replicate};
