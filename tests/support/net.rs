//! Sockets shared by the fault proxy and the fake server: [`Endpoint`] (a TCP address or a unix socket
//! path), [`Stream`] (either kind of connection) and [`Listeners`] (a free 127.0.0.1 port and a unix socket
//! in a fresh temp dir, each with an accept thread that ends when the listeners are dropped).
//!
//! Std only; no protocol here.

use super::host::TempDir;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Where to connect: a TCP address or a unix socket path (a [`Server`](super::Server)'s `addr()` or
/// `unix_path()` convert into one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `127.0.0.1:PORT`
    Tcp(SocketAddr),
    /// `/tmp/.../redis.sock`
    Unix(PathBuf),
}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Endpoint {
        Endpoint::Tcp(addr)
    }
}

impl From<&Path> for Endpoint {
    fn from(path: &Path) -> Endpoint {
        Endpoint::Unix(path.to_path_buf())
    }
}

impl From<PathBuf> for Endpoint {
    fn from(path: PathBuf) -> Endpoint {
        Endpoint::Unix(path)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp(addr) => write!(f, "{addr}"),
            Endpoint::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Which listener a connection arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The 127.0.0.1 port.
    Tcp,
    /// The unix socket.
    Unix,
}

/// One connection of either kind.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// Connects to `to` (TCP with `timeout`; a unix connect does not wait).
    pub fn connect(to: &Endpoint, timeout: Duration) -> io::Result<Stream> {
        match to {
            Endpoint::Tcp(addr) => {
                let s = TcpStream::connect_timeout(addr, timeout)?;
                s.set_nodelay(true)?;
                Ok(Stream::Tcp(s))
            }
            Endpoint::Unix(path) => Ok(Stream::Unix(UnixStream::connect(path)?)),
        }
    }

    /// A second handle on the same socket (for a second thread).
    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }

    /// `shutdown(2)`, ignoring errors (the socket may already be gone). Wakes any thread blocked on it.
    pub fn shutdown(&self, how: Shutdown) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        };
    }

    /// Read and write timeouts (`None`: block).
    pub fn set_timeouts(&self, read: Option<Duration>, write: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => {
                s.set_read_timeout(read)?;
                s.set_write_timeout(write)
            }
            Stream::Unix(s) => {
                s.set_read_timeout(read)?;
                s.set_write_timeout(write)
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `true` for the errors a read timeout gives (the caller checks its flags and reads again).
pub(crate) fn timed_out(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted)
}

/// How often an idle accept thread looks for a new connection.
const ACCEPT_POLL: Duration = Duration::from_millis(2);

/// What an accept thread hands each connection to. Runs on the accept thread: it must not block for long
/// (spawn a thread for the connection's work).
pub(crate) type OnAccept = Arc<dyn Fn(Stream, Via) + Send + Sync>;

/// A free 127.0.0.1 port and a unix socket in a fresh temp dir, each with an accept thread. Dropping (or
/// [`Listeners::stop`]) stops both threads and removes the socket's directory.
pub(crate) struct Listeners {
    addr: SocketAddr,
    unix_path: PathBuf,
    stopping: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    _dir: TempDir,
}

impl Listeners {
    /// Binds both; the unix socket is `<temp dir>/<socket_name>`. Panics when either bind fails.
    pub fn bind(socket_name: &str, on_accept: OnAccept) -> Listeners {
        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let addr = tcp.local_addr().expect("local_addr of a bound listener");
        let dir = TempDir::new();
        let unix_path = dir.0.join(socket_name);
        let unix = UnixListener::bind(&unix_path)
            .unwrap_or_else(|e| panic!("bind a unix socket at {}: {e}", unix_path.display()));
        tcp.set_nonblocking(true).expect("a non-blocking listener");
        unix.set_nonblocking(true).expect("a non-blocking listener");
        let stopping = Arc::new(AtomicBool::new(false));
        let (stop_tcp, accept_tcp) = (stopping.clone(), on_accept.clone());
        let tcp_thread = std::thread::spawn(move || {
            accept_loop(&stop_tcp, || tcp.accept().map(|(s, _)| Stream::Tcp(s)), &accept_tcp, Via::Tcp)
        });
        let stop_unix = stopping.clone();
        let unix_thread = std::thread::spawn(move || {
            accept_loop(&stop_unix, || unix.accept().map(|(s, _)| Stream::Unix(s)), &on_accept, Via::Unix)
        });
        Listeners { addr, unix_path, stopping, threads: vec![tcp_thread, unix_thread], _dir: dir }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The unix socket's path.
    pub fn unix_path(&self) -> &Path {
        &self.unix_path
    }

    /// Stops accepting: every connection that reached the listener before is still handed on, later
    /// connects are refused. Idempotent; returns once both accept threads ended.
    pub fn stop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Accepts until `stopping` is set and nothing is pending. The listener is non-blocking and polled (every
/// `ACCEPT_POLL`), because std cannot wake a blocked `accept` without making a connection of its own,
/// which would be indistinguishable from a client's. The kernel completes a client's connect without
/// `accept`, so polling delays only the first forwarded byte, by at most `ACCEPT_POLL`.
fn accept_loop(
    stopping: &AtomicBool,
    mut accept: impl FnMut() -> io::Result<Stream>,
    on_accept: &OnAccept,
    via: Via,
) {
    loop {
        match accept() {
            Ok(stream) => {
                let ready = match &stream {
                    Stream::Tcp(s) => s.set_nonblocking(false).and_then(|()| s.set_nodelay(true)),
                    Stream::Unix(s) => s.set_nonblocking(false),
                };
                if ready.is_ok() {
                    on_accept(stream, via);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && stopping.load(Ordering::SeqCst) => return,
            Err(_) => std::thread::sleep(ACCEPT_POLL),
        }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        self.stop();
    }
}
