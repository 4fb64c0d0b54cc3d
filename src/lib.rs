//! redwire: a Redis client with a sans-IO core.
//!
//! The core ([`resp`], [`Cmd`], [`Connection`]) turns commands into bytes and bytes into [`Event`]s. It never
//! touches a socket, a clock, a thread or a runtime, so every runtime adapter (blocking, mio, smol,
//! async-std) behaves the same: the handshake, pipelines, transactions, pub/sub and deadlines are decided
//! once, here.
//!
//! # The sans-IO contract
//! - **Inputs** are `handle_*` calls: bytes read from the server ([`Connection::handle_input`], or read
//!   straight into [`Connection::read_buf`]), the time ([`Connection::handle_timeout`]), the end of the
//!   stream ([`Connection::handle_eof`]). Requests go in through [`Connection::send`],
//!   [`Connection::send_pipeline`] and [`Connection::send_transaction`], which take `now` to start their
//!   deadlines.
//! - **Outputs** are `poll_*` calls: bytes to write ([`Connection::poll_transmit`], all pending requests
//!   coalesced into one chunk), events ([`Connection::poll_event`]), and when to wake up
//!   ([`Connection::poll_timeout`]).
//! - After every input, drain every output. Nothing happens between calls: the connection has no
//!   background work.
//! - Local misuse is an [`Error::Usage`] that changes nothing. A decode or protocol error, a refused
//!   handshake, a passed deadline or a closed stream is fatal and sticky: drop the connection.
//!
//! # The run loop
//! 1. Create the connection from a [`Config`]: [`Connection::new`] queues the handshake.
//! 2. Queue requests with `send*` whenever you like, even before [`Event::Ready`]; keep the
//!    [`RequestId`]s.
//! 3. Write every chunk [`Connection::poll_transmit`] returns.
//! 4. Drain [`Connection::poll_event`] until it returns `Ok(None)`; match replies to requests by id.
//! 5. Wait for the socket to be readable, but no longer than [`Connection::poll_timeout`]; read into
//!    [`Connection::read_buf`] (a read of 0 bytes: [`Connection::handle_eof`]); on a timeout call
//!    [`Connection::handle_timeout`] with the current time. Go to 3.
//!
//! ```no_run
//! use redwire::{Cmd, Config, Connection, Event};
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use std::time::{Duration, Instant};
//!
//! fn main() -> Result<(), redwire::Error> {
//!     let config = Config::from_url("redis://127.0.0.1:6379/0?response_timeout=2s")?;
//!     let mut socket = TcpStream::connect("127.0.0.1:6379")?;
//!     let mut conn = Connection::new(config); // 1.
//!     let id = conn.send(&Cmd::new("INCR").arg("visits"), Instant::now())?; // 2.
//!     loop {
//!         while let Some(bytes) = conn.poll_transmit() {
//!             socket.write_all(&bytes)?; // 3.
//!         }
//!         while let Some(event) = conn.poll_event()? {
//!             // 4.
//!             match event {
//!                 Event::Reply { id: got, value, .. } if got == id => {
//!                     println!("visits: {value:?}");
//!                     return Ok(());
//!                 }
//!                 // Anything else: another request's reply, a pub/sub message, or `TimedOut`
//!                 // (after which the next `poll_event` returns `Error::Poisoned`).
//!                 _ => {}
//!             }
//!         }
//!         // 5.
//!         let wait = conn.poll_timeout().map(|at| at.saturating_duration_since(Instant::now()));
//!         socket.set_read_timeout(wait.map(|d| d.max(Duration::from_millis(1))))?;
//!         let buf = conn.read_buf();
//!         let start = buf.len();
//!         buf.resize(start + 64 * 1024, 0);
//!         let read = socket.read(&mut buf[start..]);
//!         buf.truncate(start + *read.as_ref().unwrap_or(&0));
//!         match read {
//!             Ok(0) => conn.handle_eof(),
//!             Ok(_) => {}
//!             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {
//!                 conn.handle_timeout(Instant::now())
//!             }
//!             Err(e) => return Err(e.into()),
//!         }
//!     }
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cmd;
pub mod config;
pub mod connection;
pub mod error;
pub mod event;
pub mod inbox;
pub mod pipeline;
pub mod resp;

mod classify;
mod handshake;
// Used by the runtimes whose `PubSub` reconnects.
#[cfg(any(feature = "blocking", feature = "smol", feature = "async-std", test))]
mod outage;
mod pubsub;
#[cfg(any(feature = "blocking", feature = "smol", feature = "async-std"))]
mod push;
mod request;
mod state;
mod url;

pub use cmd::{Cmd, FromValue, ToArgs};
pub use config::Config;
pub use connection::Connection;
pub use error::{Error, Result};
pub use event::{Event, RequestId};
pub use pipeline::Pipeline;

#[cfg(feature = "blocking")]
#[path = "../runtimes/blocking/mod.rs"]
pub mod blocking;

#[cfg(feature = "mio")]
#[path = "../runtimes/mio/mod.rs"]
pub mod mio;

#[cfg(any(feature = "smol", feature = "async-std"))]
#[path = "../runtimes/futures_io/mod.rs"]
pub mod futures_io;

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
