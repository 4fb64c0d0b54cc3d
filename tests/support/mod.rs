//! The integration-test harness: real `redis-server` (or `valkey-server`) processes on loopback, and a tiny
//! blocking RESP client for test setup.
//!
//! Use it from a test file with `mod support;`:
//!
//! ```ignore
//! mod support;
//! use support::{RawClient, Server};
//!
//! let server = Server::start();                 // free 127.0.0.1 port + unix socket in a fresh temp dir
//! let mut c = RawClient::connect(server.addr());
//! assert_eq!(c.cmd(&[b"SET", b"k", b"v"]), redwire::resp::Value::SimpleString("OK".into()));
//! ```
//!
//! - The binary is `REDWIRE_SERVER_BIN` if set, else `redis-server` on `PATH` (`bash .ci/setup` installs
//!   it). Persistence is off (`--save ""`, `--appendonly no`), the server's files live in a temp dir that
//!   is removed on drop, and `DEBUG` is enabled where the server supports `--enable-debug-command`
//!   (Redis >= 7, every Valkey).
//! - A server is stopped by pid (SIGKILL, then reaped) when its [`Server`] is dropped, which includes
//!   unwinding from a failed assertion. If the test process dies without unwinding (killed, `abort`,
//!   `panic = "abort"`, `process::exit`), a watchdog process kills the server within moments; see
//!   `process::start_watchdog`.
//! - Ports are picked by the kernel and retried when another test binary grabbed the same port first.
//!
//! Fault injection for the reliability scenarios lives beside it: [`fault::FaultProxy`] (a loopback proxy
//! in front of a real server that delays, splits, stalls and cuts bytes) and [`fake::FakeServer`] (a
//! scripted server for replies no real server sends, with the hostile payloads in [`fake::hostile`]).
//!
//! This module must not depend on redwire beyond `redwire::resp` (used by [`RawClient`] only), so a broken
//! client never breaks the harness that tests it; the proxy and the fake server use std only.
#![allow(dead_code)]

pub mod fake;
pub mod fault;
mod host;
pub mod net;
mod probe;
mod process;
mod raw;
pub mod rng;

pub use host::TempDir;
pub use raw::RawClient;

use probe::Info;
use process::{Running, Spawn};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// How to start a [`Server`].
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Extra `redis-server` arguments, appended after the harness's own (so they win), e.g.
    /// `["--requirepass", "pw"]`. Do not override `--port`, `--bind`, `--unixsocket`, `--dir` or
    /// `--logfile`: the harness relies on them.
    pub args: Vec<String>,
    /// Also listen on a unix socket in the server's temp dir (default `true`).
    pub unix: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions { args: Vec::new(), unix: true }
    }
}

/// One real server process on `127.0.0.1` (and a unix socket), stopped when dropped.
#[derive(Debug)]
pub struct Server {
    bin: PathBuf,
    opts: ServerOptions,
    dir: TempDir,
    unix_path: PathBuf,
    port: u16,
    pid: u32,
    running: Option<Running>,
    info: Info,
}

impl Server {
    /// Starts a server with default options; panics with instructions when no server binary is found.
    pub fn start() -> Server {
        Server::start_with(ServerOptions::default())
    }

    /// Starts a server with `opts`; waits (at most 10 s) until it answers PING.
    pub fn start_with(opts: ServerOptions) -> Server {
        let bin = host::server_binary();
        let dir = TempDir::new();
        let unix_path = dir.0.join("redis.sock");
        let spawn =
            Spawn { bin: &bin, dir: &dir.0, unix: opts.unix.then_some(&*unix_path), extra: &opts.args };
        let (port, running, info) = process::spawn_on_free_port(&spawn);
        Server { pid: running.pid(), running: Some(running), bin, opts, dir, unix_path, port, info }
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The unix socket path; panics when the server was started with `unix: false`.
    pub fn unix_path(&self) -> &Path {
        assert!(
            self.opts.unix,
            "this server was started with ServerOptions {{ unix: false, .. }}: no unix socket"
        );
        &self.unix_path
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `redis+unix:///path/to/redis.sock`.
    pub fn unix_url(&self) -> String {
        format!("redis+unix://{}", self.unix_path().display())
    }

    /// The pid of the server process (of the last one started, after [`Server::kill`]).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `true` while the server process runs.
    pub fn is_running(&self) -> bool {
        self.running.is_some() && host::pid_alive(self.pid)
    }

    /// Kills the server now (SIGKILL) and waits for it to exit. The port and socket path stay reserved
    /// for [`Server::restart`]. A no-op when already killed.
    pub fn kill(&mut self) {
        self.running = None; // Running's Drop kills and reaps.
    }

    /// Starts the server again on the same port and unix socket path (killing it first if it runs).
    /// Data does not survive: persistence is off.
    pub fn restart(&mut self) {
        self.kill();
        let spawn = Spawn {
            bin: &self.bin,
            dir: &self.dir.0,
            unix: self.opts.unix.then_some(&*self.unix_path),
            extra: &self.opts.args,
        };
        let (running, info) = process::spawn_on_port(&spawn, self.port);
        self.pid = running.pid();
        self.running = Some(running);
        self.info = info;
    }

    /// `true` when the server is Valkey (from `INFO server`; from `--version` if INFO was unreadable).
    pub fn is_valkey(&self) -> bool {
        match self.info.redis_version {
            Some(_) => self.info.valkey,
            None => host::binary_version(&self.bin).valkey,
        }
    }

    /// `redis_version` from `INFO server`. Valkey reports the Redis version it is compatible with here
    /// (`7.2.4` for Valkey 8 and 9); see [`Server::valkey_version`] for its own.
    ///
    /// When the harness could not read INFO (a server requiring auth other than `--requirepass`), a Redis
    /// binary's `--version` answers instead; for Valkey that cannot be derived, and this panics.
    pub fn version(&self) -> (u32, u32, u32) {
        if let Some(v) = self.info.redis_version {
            return v;
        }
        let b = host::binary_version(&self.bin);
        assert!(!b.valkey, "INFO server was unreadable, and Valkey's redis_version is not in its --version");
        b.version
    }

    /// `valkey_version` from `INFO server` (or `--version`), `None` for Redis.
    pub fn valkey_version(&self) -> Option<(u32, u32, u32)> {
        match self.info.redis_version {
            Some(_) => self.info.valkey_version,
            None => self.is_valkey().then(|| host::binary_version(&self.bin).version),
        }
    }

    /// The server binary this harness runs.
    pub fn binary(&self) -> &Path {
        &self.bin
    }

    /// The server's log and its stdout/stderr (the last lines of each), for diagnosing a failure.
    pub fn logs(&self) -> String {
        let spawn = Spawn { bin: &self.bin, dir: &self.dir.0, unix: None, extra: &[] };
        spawn.logs()
    }

    /// A new [`RawClient`] over TCP.
    pub fn raw(&self) -> RawClient {
        RawClient::connect(self.addr())
    }
}

impl Drop for Server {
    /// Kills the server before its temp dir goes.
    fn drop(&mut self) {
        self.kill();
    }
}

/// `true` while `pid` is a live process (zombies count as gone). For asserting that a server stopped.
pub fn pid_alive(pid: u32) -> bool {
    host::pid_alive(pid)
}
