//! Starting and stopping one `redis-server`/`valkey-server` process: finding the binary, picking ports,
//! the parent-death watchdog, and waiting until the server answers.
//!
//! Nothing here uses redwire's codec: the harness must keep working (and keep its error messages clear)
//! while the codec under test is broken. The few replies it reads are parsed by [`read_reply`] below.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a server gets to answer PING after it was spawned.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one readiness probe waits for a reply.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How many fresh ports a start tries when the chosen one turns out to be taken.
const PORT_ATTEMPTS: usize = 20;

/// Where the server binary is: `REDWIRE_SERVER_BIN`, else `redis-server` on `PATH`.
pub(crate) fn server_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("REDWIRE_SERVER_BIN").filter(|b| !b.is_empty()) {
        let bin = PathBuf::from(bin);
        assert!(
            bin.is_file(),
            "REDWIRE_SERVER_BIN={} does not exist; point it at a redis-server or valkey-server binary, \
             or unset it to use redis-server from PATH",
            bin.display()
        );
        return bin;
    }
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("redis-server")).find(|c| c.is_file()));
    match found.flatten() {
        Some(bin) => bin,
        None => panic!(
            "redis-server was not found on PATH. The integration tests need a real server: run \
             `bash .ci/setup` (or `sudo apt-get install redis-server` on Debian/Ubuntu, `brew install redis` \
             on macOS), or set REDWIRE_SERVER_BIN to a redis-server or valkey-server binary"
        ),
    }
}

/// What `<binary> --version` says: the product and its version.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BinaryVersion {
    pub valkey: bool,
    pub version: (u32, u32, u32),
}

/// `<binary> --version`, run once per binary per test process.
pub(crate) fn binary_version(bin: &Path) -> BinaryVersion {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, BinaryVersion>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    *cache.entry(bin.to_path_buf()).or_insert_with(|| {
        let out = Command::new(bin)
            .arg("--version")
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{} --version`: {e}", bin.display()));
        let text = String::from_utf8_lossy(&out.stdout);
        // "Redis server v=7.0.15 sha=..." or "Valkey server v=9.1.2 sha=...".
        let version = text
            .split_whitespace()
            .find_map(|w| w.strip_prefix("v="))
            .and_then(parse_version)
            .unwrap_or_else(|| panic!("cannot read a version from `{} --version`: {text:?}", bin.display()));
        BinaryVersion { valkey: text.to_ascii_lowercase().starts_with("valkey"), version }
    })
}

/// Parses `7.0.15` (missing parts are 0).
pub(crate) fn parse_version(s: &str) -> Option<(u32, u32, u32)> {
    let mut parts = s.trim().split('.').map(|p| p.parse::<u32>());
    let major = parts.next()?.ok()?;
    let minor = parts.next().unwrap_or(Ok(0)).ok()?;
    let patch = parts.next().unwrap_or(Ok(0)).ok()?;
    Some((major, minor, patch))
}

/// A free loopback port: the kernel picks one (bind to port 0), and no port is handed out twice in this
/// process. Another process may still take it before the server binds it; [`spawn_ready`] retries then.
pub(crate) fn pick_port() -> u16 {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let mut given = GIVEN.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("cannot bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr of a bound listener").port();
        if given.insert(port) {
            return port;
        }
    }
}

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

/// What `INFO server` said.
#[derive(Debug, Clone, Default)]
pub(crate) struct Info {
    pub process_id: Option<u32>,
    pub redis_version: Option<(u32, u32, u32)>,
    pub valkey_version: Option<(u32, u32, u32)>,
    pub valkey: bool,
}

/// Sends PING; `Some` for any well-formed reply (`+PONG`, or `-NOAUTH` when a password is required).
fn ping(s: &mut (impl Read + Write)) -> Option<()> {
    s.write_all(b"*1\r\n$4\r\nPING\r\n").ok()?;
    read_reply(s).ok().map(|_| ())
}

/// `INFO server`, authenticating first with a `--requirepass` from `extra` when the server asks for it.
pub(crate) fn fetch_info(s: &mut (impl Read + Write), extra: &[String]) -> Option<Info> {
    let mut reply = command(s, &["INFO", "server"])?;
    if reply.starts_with("-NOAUTH") {
        let pass = extra.iter().position(|a| a == "--requirepass").and_then(|i| extra.get(i + 1))?;
        command(s, &["AUTH", pass]).filter(|r| r.starts_with('+'))?;
        reply = command(s, &["INFO", "server"])?;
    }
    let text = reply.strip_prefix('$')?;
    let field = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':'))).map(str::trim)
    };
    Some(Info {
        process_id: field("process_id").and_then(|p| p.parse().ok()),
        redis_version: field("redis_version").and_then(parse_version),
        valkey_version: field("valkey_version").and_then(parse_version),
        valkey: field("valkey_version").is_some() || field("server_name") == Some("valkey"),
    })
}

fn command(s: &mut (impl Read + Write), args: &[&str]) -> Option<String> {
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(out.as_bytes()).ok()?;
    read_reply(s).ok()
}

/// Reads one RESP2 reply of the kinds the harness asks for (`+`, `-`, `:`, `$`) and returns it as text:
/// a line reply with its type byte, a bulk string as `$` followed by its payload. Reads byte by byte on
/// purpose (startup only), so nothing past the reply is consumed.
fn read_reply(s: &mut impl Read) -> std::io::Result<String> {
    let mut r = BufReader::with_capacity(1, s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let line = line.trim_end_matches("\r\n");
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, format!("unexpected reply {line:?}"));
    match line.as_bytes().first() {
        Some(b'+' | b'-' | b':') => Ok(line.to_string()),
        Some(b'$') => {
            let len: usize = line[1..].parse().map_err(|_| bad())?;
            let mut body = vec![0; len.min(1 << 20) + 2];
            r.read_exact(&mut body)?;
            body.truncate(len);
            Ok(format!("${}", String::from_utf8_lossy(&body)))
        }
        _ => Err(bad()),
    }
}

/// `true` while `pid` is a live process (a zombie counts as gone: it no longer runs or listens).
pub(crate) fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "pid (comm) S ...": the state is the first field after the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|s| s != 'Z' && s != 'X'),
        Err(_) if Path::new("/proc/self").exists() => false,
        // No procfs (macOS, BSD): ask kill(1).
        Err(_) => Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
    }
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

/// A directory that is removed when dropped.
#[derive(Debug)]
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh, empty directory, short enough for a unix socket path (at most 107 bytes on Linux).
    pub fn new() -> TempDir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let mut base = std::env::temp_dir();
        if base.as_os_str().len() > 60 {
            base = PathBuf::from("/tmp");
        }
        loop {
            let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir = base.join(format!("redwire-{}-{n}", std::process::id()));
            match std::fs::create_dir(&dir) {
                Ok(()) => return TempDir(dir),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create a temp dir in {}: {e}", base.display()),
            }
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
