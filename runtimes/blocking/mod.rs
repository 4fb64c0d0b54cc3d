//! The blocking runtime (feature `blocking`, on by default): std sockets, a connection pool, pipelines,
//! transactions and pub/sub.
//!
//! - [`Client`] is `Send + Sync + Clone`; every Redis command is a method through
//!   [`Commands`](crate::cmd::Commands), raw commands go through [`Client::exec`].
//! - [`Pool`] holds the connections: a maximum size, a waiting checkout with a timeout, dead connections
//!   replaced before a command is written, and only clean connections reused. Several clients may share
//!   one pool.
//! - [`Pipeline`] batches commands (atomic by default), [`Transaction`] is the `WATCH` flow and
//!   [`Client::transaction`] its retry loop, [`PubSub`] a dedicated pub/sub connection that reconnects
//!   and resubscribes on its own, with a bounded buffer ([`PubSubBuffer`]) for a consumer that falls
//!   behind.
//! - TCP (`TCP_NODELAY` on) and unix sockets; any other transport (TLS, a proxy) through [`Connector`]
//!   and [`Stream`].
//!
//! Timeouts come from the [`Config`](crate::Config): `connect_timeout` bounds connecting plus the
//! handshake, `response_timeout` bounds each reply (and each write). Blocking commands (`BLPOP k 0`,
//! `XREAD BLOCK`) get their own deadline from the core, so they never trip the response timeout. A
//! request whose reply is late fails with [`Error::Timeout`](crate::Error::Timeout) and its connection is
//! closed; requests are never sent twice.
//!
//! ```no_run
//! use redwire::blocking::Client;
//! use redwire::cmd::{Commands, PipelineCommands};
//!
//! let client = Client::open("redis://127.0.0.1:6379?response_timeout=2s")?;
//! let _: () = client.set("page:views", 0)?;
//! let views: i64 = client.incr("page:views")?;
//!
//! // Atomic (MULTI/EXEC) by default; one tuple element per command.
//! let (after_incr, read_back): (i64, i64) =
//!     client.pipeline().incr("page:views").get("page:views").execute()?;
//! assert_eq!(after_incr, read_back);
//! # let _ = views;
//! # Ok::<(), redwire::Error>(())
//! ```
//!
//! This module makes no protocol decision: it drives [`Connection`](crate::Connection) (write
//! `poll_transmit`, read into `read_buf`, drain `poll_event`, time from `poll_timeout`) in `conn.rs`, and
//! asks the core whether a connection is reusable.

mod client;
mod conn;
mod pipeline;
mod pool;
mod pubsub;
mod stream;
mod transaction;

pub use crate::event::{Message, PubSubEvent};
pub use crate::inbox::{BufferStats, Overflow, PubSubBuffer};
pub use client::{Client, ScanIter};
pub use pipeline::{Pipeline, Queue};
pub use pool::{
    Pool, PoolBuilder, PoolStats, DEFAULT_CHECKOUT_TIMEOUT, DEFAULT_HEALTH_CHECK_AFTER, DEFAULT_MAX_SIZE,
};
pub use pubsub::{Messages, PubSub};
pub use stream::{Connector, DefaultConnector, Stream};
pub use transaction::{Committed, Transaction, DEFAULT_MAX_ATTEMPTS};
