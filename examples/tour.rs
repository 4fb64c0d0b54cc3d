//! A tour of redwire's RESP codec against a real server — the README's first command:
//!
//! ```text
//! bash .ci/setup && cargo run --example tour               # starts a throwaway redis-server
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example tour # or uses yours (keys: redwire:tour:*)
//! ```
//!
//! It speaks RESP over a plain `TcpStream` with nothing but `redwire::resp::encode_command` and the
//! `Decoder`: the sans-IO core turns commands into bytes and bytes into values, and this file owns the
//! socket. The blocking client (`redwire::blocking`) will replace the hand-rolled loop below.

use bytes::BytesMut;
use redwire::resp::{encode_command, Decoder, Value};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

fn main() -> std::process::ExitCode {
    match tour() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tour failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn tour() -> Result<()> {
    // The server (if we start one) is a local: dropped, and so killed, on return, on `?` and on panic.
    let (addr, _server) = match std::env::var("REDIS_URL") {
        Ok(url) => (parse_url(&url)?, None),
        Err(_) => {
            let server = Throwaway::start()?;
            (server.addr, Some(server))
        }
    };
    let mut wire = Wire::connect(addr)?;
    println!("redwire tour: RESP over a plain TcpStream to {addr}");
    if let Some(server) = &_server {
        println!(
            "(a throwaway {} started for this tour, pid {}; it is killed at the end)",
            server.name,
            server.pid()
        );
    }

    section("1. One command, one reply: bytes out, bytes in, one value");
    let mut out = BytesMut::new();
    encode_command(&mut out, &["PING"]);
    wire.stream.write_all(&out)?;
    println!("   > PING          encoded as {}", quote(&out));
    wire.fill()?;
    println!("   bytes received: {}", quote(&wire.buf));
    println!("   < {}   decoded from those bytes, leaving none behind", show(&wire.read()?));

    section("2. Strings are bytes: CRLF and NUL need no escaping in RESP");
    wire.show(&["SET", "redwire:tour:greeting", "hello\r\nworld\0!"])?;
    wire.show(&["GET", "redwire:tour:greeting"])?;
    wire.show(&["GET", "redwire:tour:missing"])?;
    wire.show(&["ZADD", "redwire:tour:z", "1.5", "member"])?;
    wire.show(&["ZSCORE", "redwire:tour:z", "member"])?;

    section("3. A pipeline: five commands, one write, five replies in order");
    let commands: [&[&str]; 5] = [
        &["DEL", "redwire:tour:n", "redwire:tour:list"],
        &["INCR", "redwire:tour:n"],
        &["INCRBY", "redwire:tour:n", "41"],
        &["RPUSH", "redwire:tour:list", "a", "b", "c"],
        &["LRANGE", "redwire:tour:list", "0", "-1"],
    ];
    let mut out = BytesMut::new();
    for cmd in &commands {
        encode_command(&mut out, cmd);
    }
    wire.stream.write_all(&out)?;
    println!("   wrote {} commands as {} bytes in one write_all", commands.len(), out.len());
    for cmd in &commands {
        println!("   > {}", cmd.iter().map(|a| word(a.as_bytes())).collect::<Vec<_>>().join(" "));
        println!("   < {}", show(&wire.read()?));
    }

    section("4. RESP3: HELLO 3 switches the protocol and answers with a map");
    println!("   > HELLO 3");
    match wire.call(&["HELLO", "3"])? {
        Value::Map(pairs) => {
            println!("   < a map of {} entries:", pairs.len());
            for (k, v) in &pairs {
                println!("       {:<10} => {}", short(k), short(v));
            }
        }
        other => println!("   < {} (this server does not speak RESP3)", show(&other)),
    }
    println!("   RESP3 replies carry their types: the same score is now a double, not a string");
    wire.show(&["ZSCORE", "redwire:tour:z", "member"])?;

    section("Cleaning up");
    let keys = ["redwire:tour:greeting", "redwire:tour:n", "redwire:tour:list", "redwire:tour:z"];
    wire.show(&[&["DEL"][..], &keys[..]].concat())?;
    println!("\nDone.");
    Ok(())
}

fn section(title: &str) {
    println!("\n{title}");
}

/// A connection: a socket, the decoder's read buffer, and the decoder.
struct Wire {
    stream: TcpStream,
    decoder: Decoder,
    buf: BytesMut,
}

impl Wire {
    fn connect(addr: SocketAddr) -> Result<Wire> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        Ok(Wire { stream, decoder: Decoder::new(), buf: BytesMut::with_capacity(16 * 1024) })
    }

    /// Encodes one command, writes it, and reads its reply.
    fn call(&mut self, args: &[&str]) -> Result<Value> {
        let mut out = BytesMut::new();
        encode_command(&mut out, args);
        self.stream.write_all(&out)?;
        self.read()
    }

    /// Reads until the decoder has one whole value. `Ok(None)` from the decoder means "need more bytes";
    /// it keeps its progress, so nothing is re-parsed when the next read arrives.
    fn read(&mut self) -> Result<Value> {
        loop {
            if let Some(value) = self.decoder.decode(&mut self.buf)? {
                return Ok(value);
            }
            self.fill()?;
        }
    }

    /// One read from the socket, appended to the decoder's buffer.
    fn fill(&mut self) -> Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// `call`, printing the command and the reply.
    fn show(&mut self, args: &[&str]) -> Result<Value> {
        println!("   > {}", args.iter().map(|a| word(a.as_bytes())).collect::<Vec<_>>().join(" "));
        let reply = self.call(args)?;
        println!("   < {}", show(&reply));
        Ok(reply)
    }
}

/// A reply the way redis-cli prints it, with its RESP type.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "(nil)".into(),
        Value::SimpleString(s) => format!("{} (simple string)", String::from_utf8_lossy(s)),
        Value::Error(e) => format!("(error) {}", String::from_utf8_lossy(e)),
        Value::Integer(i) => format!("(integer) {i}"),
        Value::BulkString(b) => format!("{} (bulk string, {} bytes)", quote(b), b.len()),
        Value::Double(d) => format!("(double) {d}"),
        Value::Boolean(b) => format!("(boolean) {b}"),
        Value::Array(items) | Value::Set(items) | Value::Push(items) => {
            let inner: Vec<String> = items.iter().map(short).collect();
            format!("[{}] ({}, {} elements)", inner.join(", "), v.kind(), items.len())
        }
        Value::Map(pairs) => format!("(map of {} entries)", pairs.len()),
        other => format!("{other:?}"),
    }
}

/// A value inside an aggregate, without type annotations.
fn short(v: &Value) -> String {
    match v {
        Value::SimpleString(s) | Value::BulkString(s) => quote(s),
        Value::Integer(i) => i.to_string(),
        Value::Null => "nil".into(),
        Value::Array(items) | Value::Set(items) => {
            format!("[{}]", items.iter().map(short).collect::<Vec<_>>().join(", "))
        }
        Value::Map(pairs) => format!("{{{} entries}}", pairs.len()),
        other => show(other),
    }
}

/// A command argument: as it is when it is a plain word, else quoted.
fn word(bytes: &[u8]) -> String {
    match bytes.iter().all(|b| b.is_ascii_graphic() && *b != b'"') {
        true if !bytes.is_empty() => String::from_utf8_lossy(bytes).into_owned(),
        _ => quote(bytes),
    }
}

/// `"text"` with CR, LF, NUL and other bytes escaped.
fn quote(bytes: &[u8]) -> String {
    format!("\"{}\"", bytes.escape_ascii())
}

/// `redis://host:port` (an optional `/db` is ignored) into a socket address.
fn parse_url(url: &str) -> Result<SocketAddr> {
    let rest = url
        .strip_prefix("redis://")
        .ok_or_else(|| format!("REDIS_URL={url:?}: expected redis://host:port"))?;
    let hostport = rest.split('/').next().unwrap_or_default();
    if hostport.contains('@') {
        return Err(format!(
            "REDIS_URL={url:?}: the tour does not authenticate; use a server without a password"
        )
        .into());
    }
    let hostport = if hostport.contains(':') { hostport.to_string() } else { format!("{hostport}:6379") };
    let addr = hostport.to_socket_addrs()?.next().ok_or_else(|| format!("REDIS_URL={url:?}: no address"))?;
    Ok(addr)
}

/// A `redis-server` on a free loopback port with persistence off, killed (SIGKILL) when dropped.
struct Throwaway {
    child: Child,
    addr: SocketAddr,
    name: String,
}

impl Throwaway {
    fn start() -> Result<Throwaway> {
        let bin = std::env::var_os("REDWIRE_SERVER_BIN").unwrap_or_else(|| "redis-server".into());
        let name =
            PathBuf::from(&bin).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // The kernel picks a free port; if another process takes it first the server exits, and we retry.
        for _ in 0..5 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port();
            let child = Command::new(&bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .arg("--dir") // persistence is off, so nothing is written there
                .arg(std::env::temp_dir())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| {
                    format!(
                        "cannot start {}: {e}. Run `bash .ci/setup` to install redis-server, or set REDIS_URL",
                        bin.to_string_lossy()
                    )
                })?;
            let mut server =
                Throwaway { child, addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)), name: name.clone() };
            if server.wait_ready()? {
                return Ok(server);
            }
        }
        Err("redis-server could not bind a free port in 5 tries".into())
    }

    /// `Ok(true)` once the port accepts connections, `Ok(false)` when the server exited (port taken).
    fn wait_ready(&mut self) -> Result<bool> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(false);
            }
            if TcpStream::connect(self.addr).is_ok() {
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(format!("redis-server did not accept connections on {} within 10 s", self.addr).into())
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
