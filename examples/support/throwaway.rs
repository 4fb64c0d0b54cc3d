//! A throwaway `redis-server` for the examples that run without `REDIS_URL` (shared by `tour`, `mio_loop`;
//! include it with `#[path = "support/throwaway.rs"] mod throwaway;`). Not a runtime: examples only.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

/// A `redis-server` on a free loopback port with persistence off, killed (SIGKILL) when dropped.
pub struct Throwaway {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The binary's file name, for messages.
    pub name: String,
}

impl Throwaway {
    /// Starts `REDWIRE_SERVER_BIN` (default `redis-server`) with `extra_args`; waits until it accepts.
    pub fn start(extra_args: &[&str]) -> Result<Throwaway> {
        let bin = std::env::var_os("REDWIRE_SERVER_BIN").unwrap_or_else(|| "redis-server".into());
        let name =
            PathBuf::from(&bin).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // The kernel picks a free port; if another process takes it first the server exits, and we retry.
        for _ in 0..5 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port();
            let child = Command::new(&bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(extra_args)
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

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
