//! [`RawClient`]: a tiny blocking RESP client for test setup and assertions, built from a std socket and
//! redwire's codec (`encode_command` + `Decoder`) only. It is not the product's client: no pooling, no
//! handshake, no state machine, and it panics (with the reason) on any I/O or protocol failure.

use bytes::BytesMut;
use redwire::resp::{encode_command, Decoder, Value};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// How long a [`RawClient`] waits for a connection or for the next bytes of a reply.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Stream::Tcp(s) => s,
            Stream::Unix(s) => s,
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A blocking connection that sends commands and reads replies, one at a time or pipelined.
#[derive(Debug)]
pub struct RawClient {
    stream: Stream,
    decoder: Decoder,
    read_buf: BytesMut,
    scratch: Vec<u8>,
    out: BytesMut,
}

impl RawClient {
    /// Connects over TCP; panics when the connection fails.
    pub fn connect(addr: SocketAddr) -> RawClient {
        RawClient::try_connect(addr).unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"))
    }

    /// Connects over TCP, returning the error (for tests that expect the server to be gone).
    pub fn try_connect(addr: SocketAddr) -> io::Result<RawClient> {
        let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(RawClient::new(Stream::Tcp(s)))
    }

    /// Connects over a unix socket; panics when the connection fails.
    pub fn connect_unix(path: &Path) -> RawClient {
        RawClient::try_connect_unix(path)
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", path.display()))
    }

    /// Connects over a unix socket, returning the error.
    pub fn try_connect_unix(path: &Path) -> io::Result<RawClient> {
        let s = UnixStream::connect(path)?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(RawClient::new(Stream::Unix(s)))
    }

    fn new(stream: Stream) -> RawClient {
        RawClient {
            stream,
            decoder: Decoder::new(),
            read_buf: BytesMut::new(),
            scratch: vec![0; 64 * 1024],
            out: BytesMut::new(),
        }
    }

    /// Sends one command and reads its reply. Server errors come back as [`Value::Error`].
    pub fn cmd(&mut self, args: &[&[u8]]) -> Value {
        self.send(args);
        self.read()
    }

    /// Like [`RawClient::cmd`] with string arguments.
    pub fn cmd_str(&mut self, args: &[&str]) -> Value {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.cmd(&args)
    }

    /// `INFO section` as text; panics when the reply is not a bulk string.
    pub fn info(&mut self, section: &str) -> String {
        match self.cmd_str(&["INFO", section]) {
            Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("INFO {section} answered {other:?}"),
        }
    }

    /// The number `field:` of `INFO section` (`connected_clients` of `clients`); panics when it is missing.
    pub fn info_number(&mut self, section: &str, field: &str) -> u64 {
        let info = self.info(section);
        let prefix = format!("{field}:");
        info.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no number {field} in INFO {section}: {info}"))
    }

    /// `calls=` of `cmdstat_<name>` in `INFO commandstats`: how many times the server ran the command
    /// (0 when it never did), to prove what a client sent, and that it sent it once.
    pub fn calls(&mut self, name: &str) -> u64 {
        let info = self.info("commandstats");
        let prefix = format!("cmdstat_{}:calls=", name.to_ascii_lowercase());
        info.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map_or(0, |rest| rest.split(',').next().and_then(|n| n.parse().ok()).expect("a call count"))
    }

    /// Writes one command without reading its reply (pipelining: call [`RawClient::read`] later, once per
    /// command, in order).
    pub fn send(&mut self, args: &[&[u8]]) {
        self.out.clear();
        encode_command(&mut self.out, args);
        let out = &self.out;
        self.stream.io().write_all(out).unwrap_or_else(|e| panic!("cannot send a command: {e}"));
    }

    /// Writes raw bytes as they are (for tests that send something other than a well-formed command).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.io().write_all(bytes).unwrap_or_else(|e| panic!("cannot send bytes: {e}"));
    }

    /// Reads the next reply; panics on a closed connection, a timeout, or bytes that are not RESP.
    pub fn read(&mut self) -> Value {
        self.try_read().unwrap_or_else(|e| panic!("cannot read a reply: {e}"))
    }

    /// Reads the next reply, returning I/O and protocol failures as errors (EOF is `UnexpectedEof`).
    pub fn try_read(&mut self) -> io::Result<Value> {
        loop {
            match self.decoder.decode(&mut self.read_buf) {
                Ok(Some(value)) => return Ok(value),
                Ok(None) => {}
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
            let n = self.stream.io().read(&mut self.scratch)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"));
            }
            self.read_buf.extend_from_slice(&self.scratch[..n]);
        }
    }
}
