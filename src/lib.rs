//! redwire: a Redis client with a sans-IO core.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cmd;
pub mod config;
pub mod connection;
pub mod error;
pub mod resp;
mod state;

pub use cmd::{Cmd, FromValue, ToArgs};
pub use error::{Error, Result};

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

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
