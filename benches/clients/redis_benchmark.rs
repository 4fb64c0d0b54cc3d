//! `redis-benchmark` (the C tool that ships with Redis, on hiredis) in the table, run as a subprocess:
//! one connection (`-c 1`), the workload's pipeline depth (`-P`), and the workload's exact command and
//! keys given on its command line (`redis-benchmark ... GET bench:get16`) rather than `-t get -d 16`, so
//! it reads the same data as the other clients and its CPU time is that workload's alone (`-t` adds its
//! own setup phases to the process). Its ops/s is its own `--csv` figure; its CPU is the reaped child's
//! `cutime + cstime`. It does not check replies: the server's command counter does (see `clients.rs`).

use crate::measure::{self, Sample};
use crate::workload::*;
use std::process::Command;
use std::time::Duration;

/// The redis-benchmark binary (`REDWIRE_BENCHMARK_BIN`, else `redis-benchmark` on `PATH`).
fn binary() -> String {
    std::env::var("REDWIRE_BENCHMARK_BIN").unwrap_or_else(|_| "redis-benchmark".into())
}

/// `true` when the binary runs.
pub fn available() -> bool {
    Command::new(binary()).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// The command line's workload part, `None` for tasks and joined futures (one process, one connection has no such form).
fn command(w: Workload) -> Option<(usize, Vec<String>)> {
    let value = String::from_utf8(VALUE16.to_vec()).expect("ASCII");
    let last = (LIST_LEN - 1).to_string();
    Some(match w {
        Workload::Set { depth } => (depth, vec!["SET".into(), SET_KEY.into(), value]),
        Workload::Get { depth } => (depth, vec!["GET".into(), GET_KEY.into()]),
        Workload::Lrange600 => (1, vec!["LRANGE".into(), LIST_KEY.into(), "0".into(), last]),
        Workload::GetBig => (1, vec!["GET".into(), BIG_KEY.into()]),
        Workload::Tasks | Workload::Joined => return None,
    })
}

/// Runs `n` requests; its requests per second and the CPU it used.
fn once(port: u16, depth: usize, cmd: &[String], n: u64) -> (f64, Duration) {
    let before = measure::cpu().children;
    let out = Command::new(binary())
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-c", "1", "--csv"])
        .args(["-n", &n.to_string(), "-P", &depth.to_string()])
        .args(cmd)
        .output()
        .expect("run redis-benchmark");
    let cpu = measure::cpu().children.saturating_sub(before);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "redis-benchmark failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    // "test","rps",...  then  "GET bench:get16","123456.79",...
    let rps = stdout
        .lines()
        .nth(1)
        .and_then(|line| line.split(',').nth(1))
        .and_then(|f| f.trim_matches('"').parse::<f64>().ok())
        .filter(|r| *r > 0.0)
        .unwrap_or_else(|| panic!("no requests per second in redis-benchmark's output: {stdout}"));
    (rps, cpu)
}

/// One cell: a short calibration run sizes the real one to about `secs`.
pub fn run(port: u16, w: Workload, secs: Duration) -> Option<Sample> {
    let (depth, cmd) = command(w)?;
    let depth64 = depth as u64;
    let calibration = if w == Workload::GetBig { 100 } else { (depth64 * 50).max(2000) };
    let (rps, _) = once(port, depth, &cmd, calibration);
    let n = ((rps * secs.as_secs_f64()) as u64).max(calibration).div_ceil(depth64) * depth64;
    let (rps, cpu) = once(port, depth, &cmd, n);
    let wall = Duration::from_secs_f64(n as f64 / rps);
    Some(Sample { ops: n, sent: n + calibration, wall, cpu })
}
