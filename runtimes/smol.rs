//! redwire on [smol](https://docs.rs/smol): the recommended async runtime.
//!
//! This file only opens sockets, makes timers and spawns the driver task (on smol's global executor); the
//! client itself is the shared futures-io driver, described on [`futures_io::Client`].
//!
//! ```no_run
//! use redwire::cmd::Commands;
//!
//! fn main() -> redwire::Result<()> {
//!     smol::block_on(async {
//!         let client = redwire::smol::Client::open("redis://127.0.0.1:6379")?;
//!         client.set::<()>("greeting", "hello").await?;
//!         let greeting: String = client.get("greeting").await?;
//!         assert_eq!(greeting, "hello");
//!         Ok(())
//!     })
//! }
//! ```

use crate::config::Address;
use crate::futures_io::{self, AsyncIo, Rt};
use std::future::Future;
use std::io;
use std::time::Instant;

/// The smol runtime, as the type parameter of the async client types.
#[derive(Debug, Clone, Copy)]
pub struct Smol;

impl Rt for Smol {
    type Sleep = smol::Timer;

    fn spawn<F: Future<Output = ()> + Send + 'static>(future: F) {
        smol::spawn(future).detach();
    }

    fn sleep_until(at: Instant) -> smol::Timer {
        smol::Timer::at(at)
    }

    async fn connect(addr: Address) -> io::Result<Box<dyn AsyncIo>> {
        Ok(match addr {
            Address::Tcp { host, port } => {
                let stream = smol::net::TcpStream::connect((host.as_str(), port)).await?;
                stream.set_nodelay(true)?;
                Box::new(stream)
            }
            #[cfg(unix)]
            Address::Unix(path) => Box::new(smol::net::unix::UnixStream::connect(path).await?),
            #[cfg(not(unix))]
            Address::Unix(_) => {
                return Err(io::Error::new(io::ErrorKind::Unsupported, "unix sockets need unix"))
            }
        })
    }
}

/// An async client on smol; see [`futures_io::Client`] for everything it does.
pub type Client = futures_io::Client<Smol>;
/// The future a smol [`Client`]'s command methods return.
pub type Reply<'a, T> = futures_io::Reply<'a, Smol, T>;
/// A pipeline on a smol [`Client`].
pub type Pipeline<'a> = futures_io::Pipeline<'a, Smol>;
/// The WATCHed connection a [`Client`]'s `transaction` body reads through and queues on.
pub type Transaction = futures_io::Transaction<Smol>;
/// A pub/sub stream on smol.
pub type PubSub = futures_io::PubSub<Smol>;
/// A SCAN-family stream on a [`Client`].
pub type Scan<'a, T> = futures_io::Scan<'a, Smol, T>;
pub use futures_io::{
    BufferStats, Committed, Overflow, PubSubBuffer, PubSubControl, PubSubEvent, DEFAULT_MAX_ATTEMPTS,
};
