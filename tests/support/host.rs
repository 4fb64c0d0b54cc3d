//! Facts about this machine the harness needs: which server binary and what version it is, a free
//! loopback port, whether a pid still runs, and a temp dir that removes itself. Starts no server.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

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
/// process. Another process may still take it before the server binds it; `process::spawn_on_free_port` retries then.
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

/// A directory that is removed when dropped (for sockets and files a test makes; the path is `.0`).
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

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
