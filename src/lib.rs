//! redwire: a Redis client with a sans-IO core.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cmd;
pub mod config;
pub mod connection;
pub mod error;
pub mod event;
pub mod pipeline;
pub mod resp;

mod classify;
mod handshake;
mod pubsub;
mod request;
mod state;
mod url;

pub use cmd::{Cmd, ToArgs};
pub use config::Config;
pub use connection::Connection;
pub use error::{Error, Result};
pub use event::{Event, RequestId};
pub use pipeline::Pipeline;

#[cfg(feature = "blocking")]
#[path = "../runtimes/blocking/mod.rs"]
pub mod blocking;

#[cfg(feature = "mio")]
#[path = "../runtimes/mio.rs"]
pub mod mio;

#[cfg(any(feature = "smol", feature = "async-std"))]
#[path = "../runtimes/futures_io/mod.rs"]
mod futures_io;

#[cfg(feature = "smol")]
#[path = "../runtimes/smol.rs"]
pub mod smol;

#[cfg(feature = "async-std")]
#[path = "../runtimes/async_std.rs"]
pub mod async_std;
