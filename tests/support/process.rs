//! Starting and stopping one `redis-server`/`valkey-server` process: the command line, the parent-death
//! watchdog, waiting until the server answers on a port that is really its own, and retrying ports.
//! Uses no redwire code (see `probe.rs`).

use std::fs::File;
use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::host::{binary_version, pick_port};
use super::probe::{fetch_info, ping, Info};

/// How long a server gets to answer PING after it was spawned.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one readiness probe waits for a reply.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How many fresh ports a start tries when the chosen one turns out to be taken.
const PORT_ATTEMPTS: usize = 20;

/// A running server process and its watchdog; dropping it kills both and reaps them.
#[derive(Debug)]
pub(crate) struct Running {
    pub child: Child,
    watchdog: Option<Child>,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // The watchdog goes first: once the server is reaped its pid may be reused, and a watchdog
        // that outlived it must not kill a stranger.
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

/// Starts a watchdog that kills `pid` and removes `dir` when this test process dies without dropping its
/// `Server` (killed by a signal, `abort`, `panic = "abort"`, `std::process::exit`): `sh` blocks reading a
/// pipe whose only writer is this process (std opens it close-on-exec, so no other child inherits it);
/// the kernel closes it when this process ends, the read returns, and the server gets SIGKILL.
fn start_watchdog(pid: u32, dir: &Path) -> Option<Child> {
    let watchdog = Command::new("sh")
        .arg("-c")
        .arg("read _ignored; kill -9 \"$0\" 2>/dev/null; sleep 1; rm -rf \"$1\"")
        .arg(pid.to_string())
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match watchdog {
        Ok(w) => Some(w),
        Err(e) => {
            eprintln!("redwire test harness: no watchdog for server pid {pid} (cannot run sh: {e}); a killed test process may leave it running");
            None
        }
    }
}

/// Everything one spawn needs.
pub(crate) struct Spawn<'a> {
    pub bin: &'a Path,
    pub dir: &'a Path,
    pub unix: Option<&'a Path>,
    pub extra: &'a [String],
}

/// Why a spawn did not give a ready server.
pub(crate) enum SpawnError {
    /// The port was taken by someone else; try another one.
    PortTaken,
    /// Anything else; the message says what and shows the server's log.
    Failed(String),
}

impl Spawn<'_> {
    fn command(&self, port: u16) -> Command {
        let mut cmd = Command::new(self.bin);
        let dir = self.dir.to_str().expect("temp dir path is UTF-8");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--daemonize", "no"])
            .args(["--save", "", "--appendonly", "no", "--dir", dir])
            .args(["--logfile", &format!("{dir}/server.log"), "--loglevel", "notice"]);
        match self.unix {
            Some(path) => {
                cmd.args(["--unixsocket", path.to_str().expect("UTF-8"), "--unixsocketperm", "700"])
            }
            None => &mut cmd,
        };
        let version = binary_version(self.bin);
        if version.valkey || version.version.0 >= 7 {
            cmd.args(["--enable-debug-command", "yes"]);
        }
        cmd.args(self.extra);
        cmd
    }

    /// Spawns the server on `port` and waits until it answers PING and is known to own the port.
    pub fn start(&self, port: u16) -> Result<(Running, Info), SpawnError> {
        let stdio = File::create(self.dir.join("stdio.log")).expect("create stdio.log in the temp dir");
        let child = self
            .command(port)
            .stdin(Stdio::null())
            .stdout(stdio.try_clone().expect("dup stdio.log"))
            .stderr(stdio)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        let watchdog = start_watchdog(child.id(), self.dir);
        let mut running = Running { child, watchdog };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = running.child.try_wait() {
                let log = self.logs();
                return Err(if log.contains("Address already in use") {
                    SpawnError::PortTaken
                } else {
                    SpawnError::Failed(format!("server exited at start ({status}); its output:\n{log}"))
                });
            }
            if let Some(info) = self.probe(port, running.pid()) {
                return match info {
                    Probe::Ours(info) => Ok((running, info)),
                    Probe::Stranger => Err(SpawnError::PortTaken),
                };
            }
            if Instant::now() > deadline {
                let log = self.logs();
                return Err(SpawnError::Failed(format!(
                    "server pid {} did not answer PING on port {port} within {READY_TIMEOUT:?}; its output:\n{log}",
                    running.pid()
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// `None` while nothing answers yet.
    fn probe(&self, port: u16, pid: u32) -> Option<Probe> {
        // Our unix socket lives in our private temp dir, so anything answering there is our server, and
        // a server only answers once every listener is bound: after that, the TCP port is ours too.
        if let Some(path) = self.unix {
            let mut s = UnixStream::connect(path).ok()?;
            s.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
            ping(&mut s)?;
        }
        let mut tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
        // A stranger holding the port may accept and never answer.
        tcp.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
        ping(&mut tcp)?;
        let info = fetch_info(&mut tcp, self.extra);
        Some(match info {
            Some(info) if info.process_id != Some(pid) => Probe::Stranger,
            Some(info) => Probe::Ours(info),
            None if self.unix.is_some() => Probe::Ours(Info::default()),
            // Cannot ask (auth the harness cannot supply) and no unix socket to be sure: trust the pid
            // is alive a moment later (a server that lost the port exits at start).
            None => {
                std::thread::sleep(Duration::from_millis(100));
                Probe::Ours(Info::default())
            }
        })
    }

    /// The server's log and its stdout/stderr, for panic messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for name in ["stdio.log", "server.log"] {
            if let Ok(text) = std::fs::read_to_string(self.dir.join(name)) {
                let lines: Vec<&str> = text.lines().collect();
                let tail = &lines[lines.len().saturating_sub(40)..];
                out.push_str(&format!("--- {name} ---\n{}\n", tail.join("\n")));
            }
        }
        out
    }
}

enum Probe {
    Ours(Info),
    Stranger,
}

/// Starts a server on a fresh port, retrying with another port when someone else holds the chosen one.
pub(crate) fn spawn_on_free_port(spawn: &Spawn<'_>) -> (u16, Running, Info) {
    for _ in 0..PORT_ATTEMPTS {
        let port = pick_port();
        match spawn.start(port) {
            Ok((running, info)) => return (port, running, info),
            Err(SpawnError::PortTaken) => continue,
            Err(SpawnError::Failed(msg)) => panic!("{}: {msg}", spawn.bin.display()),
        }
    }
    panic!("{}: every one of {PORT_ATTEMPTS} ports tried was already in use", spawn.bin.display())
}

/// Starts a server again on `port` (for `Server::restart`), waiting up to [`READY_TIMEOUT`] for the port
/// to be free if something holds it.
pub(crate) fn spawn_on_port(spawn: &Spawn<'_>, port: u16) -> (Running, Info) {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        match spawn.start(port) {
            Ok(ok) => return ok,
            Err(SpawnError::PortTaken) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(SpawnError::PortTaken) => {
                panic!(
                    "{}: cannot restart: port {port} stayed in use by another process",
                    spawn.bin.display()
                )
            }
            Err(SpawnError::Failed(msg)) => panic!("{}: {msg}", spawn.bin.display()),
        }
    }
}
