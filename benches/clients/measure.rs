//! Measuring one cell of the table: operations, wall time and CPU time. CPU comes from `/proc/self/stat`
//! (no `unsafe`, no libc): `utime + stime` of every thread of this process, and `cutime + cstime` of the
//! children it has waited for (how `redis-benchmark`, a subprocess, is charged).
//!
//! Nothing here knows a client or a workload; [`timed!`] runs any batch expression, sync or `.await`ed.

use std::time::Duration;

/// CPU time consumed so far.
#[derive(Debug, Clone, Copy)]
pub struct Cpu {
    /// This process, all threads, user + system.
    pub own: Duration,
    /// Reaped children, user + system.
    pub children: Duration,
}

/// Clock ticks per second of the `/proc` counters (`getconf CLK_TCK`; 100 on every Linux we run on).
fn ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

/// Reads `/proc/self/stat` now.
pub fn cpu() -> Cpu {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat (this bench needs Linux)");
    // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
    let rest = &stat[stat.rfind(')').expect("a ')' closes the command name") + 1..];
    let fields: Vec<u64> = rest.split_whitespace().skip(1).map(|f| f.parse().unwrap_or(0)).collect();
    // After the state (field 3), fields 4.. follow: utime is field 14, stime 15, cutime 16, cstime 17.
    let field = |n: usize| fields[n - 4];
    let ticks = |t: u64| Duration::from_nanos(t * 1_000_000_000 / ticks_per_second());
    Cpu { own: ticks(field(14) + field(15)), children: ticks(field(16) + field(17)) }
}

/// One measured cell.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Operations timed (a pipeline of 16 counts 16).
    pub ops: u64,
    /// Operations sent in all, warm-up included (what the server's command counter must show).
    pub sent: u64,
    pub wall: Duration,
    pub cpu: Duration,
}

impl Sample {
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.wall.as_secs_f64()
    }
}

/// Runs `$batch` (an expression returning the number of operations it did, after checking their replies)
/// once to warm up, then again and again until `$secs` of wall time passed; a [`Sample`] with the
/// process's CPU time over the timed part. Works inside `async` blocks (`$batch` may `.await`).
macro_rules! timed {
    ($secs:expr, $batch:expr) => {{
        let warm: u64 = $batch;
        let (cpu0, start) = ($crate::measure::cpu(), std::time::Instant::now());
        let mut ops = 0u64;
        while start.elapsed() < $secs {
            ops += $batch;
        }
        let wall = start.elapsed();
        let cpu = $crate::measure::cpu().own.saturating_sub(cpu0.own);
        $crate::measure::Sample { ops, sent: ops + warm, wall, cpu }
    }};
}
pub(crate) use timed;
