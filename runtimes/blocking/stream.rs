//! Byte streams for the blocking runtime: the [`Stream`] trait a transport implements, the [`Connector`]
//! that opens one for a [`Config`], and [`DefaultConnector`] (TCP with `TCP_NODELAY`, unix sockets).
//!
//! Bytes only: nothing here knows RESP or the protocol state. A TLS library or a custom transport plugs in
//! by implementing [`Stream`] for its stream type and [`Connector`] to open it.

use crate::config::Address;
use crate::Config;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// A bidirectional byte stream that can carry a redwire connection: any `Read + Write` with timeouts.
///
/// Timeouts of `Some(d)` must make a blocked `read` or `write` fail with `WouldBlock` or `TimedOut` after
/// about `d` (std sockets do); `None` blocks without limit. The runtime never asks for a zero timeout.
///
/// [`set_nonblocking`](Stream::set_nonblocking) is optional: the pool uses it for a quick liveness probe
/// when it hands out an idle connection (a non-blocking read that sees end-of-file means the server
/// closed the connection, so it is replaced before a command is written). Without it the probe is
/// skipped and only the idle health check (`PING`) finds dead connections. A [`PubSub`](super::PubSub)
/// uses it too, to take what the socket holds while its consumer is behind; without it, a slow consumer
/// leaves more in the server's output buffer. [`peek_nonblocking`](Stream::peek_nonblocking), optional
/// too, makes the pool's probe one system call (std's sockets have both).
///
/// ```
/// use redwire::blocking::Stream;
/// use std::io::{self, Read, Write};
/// use std::net::TcpStream;
/// use std::time::Duration;
///
/// /// A TCP stream that counts the bytes it writes (a TLS stream would wrap the socket the same way).
/// struct Counting {
///     inner: TcpStream,
///     written: u64,
/// }
/// impl Read for Counting {
///     fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
///         self.inner.read(buf)
///     }
/// }
/// impl Write for Counting {
///     fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
///         let n = self.inner.write(buf)?;
///         self.written += n as u64;
///         Ok(n)
///     }
///     fn flush(&mut self) -> io::Result<()> {
///         self.inner.flush()
///     }
/// }
/// impl Stream for Counting {
///     fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
///         self.inner.set_read_timeout(timeout)
///     }
///     fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
///         self.inner.set_write_timeout(timeout)
///     }
///     fn set_nonblocking(&mut self, nonblocking: bool) -> io::Result<()> {
///         self.inner.set_nonblocking(nonblocking)
///     }
///     fn peek_nonblocking(&mut self) -> io::Result<usize> {
///         self.inner.peek_nonblocking()
///     }
/// }
/// ```
pub trait Stream: Read + Write + Send {
    /// Sets how long a `read` may block (`None`: no limit).
    ///
    /// # Errors
    /// When the transport cannot set the timeout; the connection is then not used.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;

    /// Sets how long a `write` may block (`None`: no limit).
    ///
    /// # Errors
    /// When the transport cannot set the timeout; the connection is then not used.
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;

    /// Switches non-blocking mode on or off, for the pool's liveness probe and a pub/sub read that takes
    /// what is there. The default returns `ErrorKind::Unsupported`, which skips both.
    ///
    /// # Errors
    /// `ErrorKind::Unsupported` when the transport has no non-blocking mode; other errors discard the
    /// connection.
    fn set_nonblocking(&mut self, nonblocking: bool) -> io::Result<()> {
        let _ = nonblocking;
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Looks, without blocking and without consuming anything, at what is waiting to be read: `Ok(0)`
    /// when the peer closed the stream, `Ok(n)` with `n > 0` when bytes are waiting, an error of kind
    /// `WouldBlock` when nothing is. The pool's liveness probe calls it at every checkout: one system
    /// call where [`set_nonblocking`](Stream::set_nonblocking) and a read take three. The default
    /// returns `ErrorKind::Unsupported`, and the probe uses `set_nonblocking` instead.
    ///
    /// # Errors
    /// `WouldBlock` when nothing is waiting; `Unsupported` when the transport cannot peek; other errors
    /// (a reset connection) make the probe read the stream, which reports them.
    fn peek_nonblocking(&mut self) -> io::Result<usize> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// One `recv(MSG_PEEK | MSG_DONTWAIT)` of one byte on a socket.
fn peek_socket(socket: &impl std::os::fd::AsFd) -> io::Result<usize> {
    let mut byte = [std::mem::MaybeUninit::<u8>::uninit()];
    socket2::SockRef::from(socket).recv_with_flags(&mut byte, libc::MSG_PEEK | libc::MSG_DONTWAIT)
}

impl Stream for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }
    fn set_nonblocking(&mut self, nonblocking: bool) -> io::Result<()> {
        TcpStream::set_nonblocking(self, nonblocking)
    }
    fn peek_nonblocking(&mut self) -> io::Result<usize> {
        peek_socket(self)
    }
}

impl Stream for UnixStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_write_timeout(self, timeout)
    }
    fn set_nonblocking(&mut self, nonblocking: bool) -> io::Result<()> {
        UnixStream::set_nonblocking(self, nonblocking)
    }
    fn peek_nonblocking(&mut self) -> io::Result<usize> {
        peek_socket(self)
    }
}

impl<S: Stream + ?Sized> Stream for Box<S> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_read_timeout(timeout)
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_write_timeout(timeout)
    }
    fn set_nonblocking(&mut self, nonblocking: bool) -> io::Result<()> {
        (**self).set_nonblocking(nonblocking)
    }
    fn peek_nonblocking(&mut self) -> io::Result<usize> {
        (**self).peek_nonblocking()
    }
}

/// Opens the byte stream a connection runs over. The pool calls it for every new connection; the
/// handshake (HELLO, AUTH, SELECT) then runs over the stream it returns.
///
/// Closures `Fn(&Config, Option<Duration>) -> io::Result<Box<dyn Stream>>` are connectors too.
///
/// ```no_run
/// use redwire::blocking::{Client, DefaultConnector, Pool, Stream};
/// use redwire::Config;
///
/// // Wrap every TCP connection (a TLS connector would start its handshake here).
/// let config = Config::from_url("redis://127.0.0.1:6379")?;
/// let pool = Pool::builder(config)
///     .connector(|config: &Config, timeout| {
///         let tcp = DefaultConnector::tcp(config, timeout)?;
///         Ok(Box::new(tcp) as Box<dyn Stream>)
///     })
///     .build();
/// let client = Client::with_pool(pool);
/// # Ok::<(), redwire::Error>(())
/// ```
pub trait Connector: Send + Sync + 'static {
    /// Opens a stream to `config.addr()`, taking no longer than `timeout` when one is given (the
    /// handshake that follows shares the same budget, [`Config::connect_timeout`]).
    ///
    /// # Errors
    /// The I/O error that prevented the connection; the pool reports it as [`Error::Io`](crate::Error::Io).
    fn connect(&self, config: &Config, timeout: Option<Duration>) -> io::Result<Box<dyn Stream>>;
}

impl<F> Connector for F
where
    F: Fn(&Config, Option<Duration>) -> io::Result<Box<dyn Stream>> + Send + Sync + 'static,
{
    fn connect(&self, config: &Config, timeout: Option<Duration>) -> io::Result<Box<dyn Stream>> {
        self(config, timeout)
    }
}

/// The connector every pool uses unless told otherwise: TCP (every resolved address in turn, with
/// `TCP_NODELAY` on) or a unix socket, as [`Config::addr`] says.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultConnector;

impl DefaultConnector {
    /// Connects over TCP to `config.addr()`, trying each address the host resolves to within `timeout`,
    /// with `TCP_NODELAY` on (requests are written whole, so Nagle's algorithm would only add latency).
    ///
    /// # Errors
    /// The last connection error, `InvalidInput` when the address is a unix socket or resolves to nothing,
    /// `TimedOut` when `timeout` passed.
    pub fn tcp(config: &Config, timeout: Option<Duration>) -> io::Result<TcpStream> {
        let Address::Tcp { host, port } = config.addr() else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a TCP address"));
        };
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut last = None;
        for addr in (host.as_str(), *port).to_socket_addrs()? {
            let attempt = match deadline {
                Some(at) => match at.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
                    Some(left) => TcpStream::connect_timeout(&addr, left),
                    None => return Err(last.unwrap_or_else(|| io::ErrorKind::TimedOut.into())),
                },
                None => TcpStream::connect(addr),
            };
            match attempt {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    return Ok(stream);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{host} resolved to no address"))
        }))
    }

    /// Connects to the unix socket at `config.addr()`.
    ///
    /// # Errors
    /// The connection error, or `InvalidInput` when the address is not a unix socket.
    pub fn unix(config: &Config) -> io::Result<UnixStream> {
        match config.addr() {
            Address::Unix(path) => UnixStream::connect(path),
            _ => Err(io::Error::new(io::ErrorKind::InvalidInput, "not a unix socket address")),
        }
    }
}

impl Connector for DefaultConnector {
    fn connect(&self, config: &Config, timeout: Option<Duration>) -> io::Result<Box<dyn Stream>> {
        match config.addr() {
            Address::Unix(_) => Ok(Box::new(DefaultConnector::unix(config)?)),
            _ => Ok(Box::new(DefaultConnector::tcp(config, timeout)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// The probe's peek on real sockets: nothing waiting, bytes waiting (and still there afterwards),
    /// end of stream.
    #[test]
    fn sockets_peek_without_blocking_or_consuming() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let err = Stream::peek_nonblocking(&mut client).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);

        server.write_all(b"+PONG\r\n").unwrap();
        let mut line = [0u8; 7];
        client.peek(&mut line).unwrap(); // blocks until the bytes are there
        assert!(Stream::peek_nonblocking(&mut client).unwrap() > 0);
        client.read_exact(&mut line).unwrap();
        assert_eq!(&line, b"+PONG\r\n", "the peek consumed nothing");

        drop(server);
        assert_eq!(client.read(&mut line).unwrap(), 0);
        assert_eq!(Stream::peek_nonblocking(&mut client).unwrap(), 0);

        let (mut a, b) = UnixStream::pair().unwrap();
        assert_eq!(Stream::peek_nonblocking(&mut a).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        drop(b);
        assert_eq!(Stream::peek_nonblocking(&mut a).unwrap(), 0);
    }
}
