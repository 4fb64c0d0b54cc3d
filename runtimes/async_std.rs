//! redwire on [async-std](https://docs.rs/async-std).
//!
//! **async-std is discontinued upstream; prefer [`redwire::smol`](https://docs.rs/redwire/latest/redwire/smol/)**
//! (the feature `smol`), which behaves the same. This adapter stays as small as possible: it opens sockets,
//! makes timers and spawns the driver task; the client is the shared futures-io driver, [`futures_io::Client`].
//!
//! ```no_run
//! use redwire::cmd::Commands;
//!
//! fn main() -> redwire::Result<()> {
//!     async_std::task::block_on(async {
//!         let client = redwire::async_std::Client::open("redis://127.0.0.1:6379")?;
//!         let visits: i64 = client.incr("visits").await?;
//!         println!("visit #{visits}");
//!         Ok(())
//!     })
//! }
//! ```

use crate::config::Address;
use crate::futures_io::{self, AsyncIo, Rt};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Instant;

/// The async-std runtime, as the type parameter of the async client types.
#[derive(Debug, Clone, Copy)]
pub struct AsyncStd;

impl Rt for AsyncStd {
    type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

    fn spawn<F: Future<Output = ()> + Send + 'static>(future: F) {
        async_std::task::spawn(future);
    }

    fn sleep_until(at: Instant) -> Self::Sleep {
        Box::pin(async_std::task::sleep(at.saturating_duration_since(Instant::now())))
    }

    async fn connect(addr: Address) -> io::Result<Box<dyn AsyncIo>> {
        Ok(match addr {
            Address::Tcp { host, port } => {
                let stream = async_std::net::TcpStream::connect((host.as_str(), port)).await?;
                stream.set_nodelay(true)?;
                Box::new(stream)
            }
            #[cfg(unix)]
            Address::Unix(path) => Box::new(async_std::os::unix::net::UnixStream::connect(path).await?),
            #[cfg(not(unix))]
            Address::Unix(_) => {
                return Err(io::Error::new(io::ErrorKind::Unsupported, "unix sockets need unix"))
            }
        })
    }
}

/// An async client on async-std; see [`futures_io::Client`] for everything it does.
pub type Client = futures_io::Client<AsyncStd>;
/// The future an async-std [`Client`]'s command methods return.
pub type Reply<'a, T> = futures_io::Reply<'a, AsyncStd, T>;
/// A pipeline on an async-std [`Client`].
pub type Pipeline<'a> = futures_io::Pipeline<'a, AsyncStd>;
/// The WATCHed connection a [`Client`]'s `transaction` body reads through and queues on.
pub type Transaction = futures_io::Transaction<AsyncStd>;
/// A pub/sub stream on async-std.
pub type PubSub = futures_io::PubSub<AsyncStd>;
/// A SCAN-family stream on a [`Client`].
pub type Scan<'a, T> = futures_io::Scan<'a, AsyncStd, T>;
pub use futures_io::{
    BufferStats, Committed, Overflow, PubSubBuffer, PubSubControl, PubSubEvent, DEFAULT_MAX_ATTEMPTS,
};
