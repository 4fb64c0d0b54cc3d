//! Clients end to end against one real `redis-server`, side by side in one run: redwire's blocking, smol
//! and async-std clients, the `redis` crate's sync and async (multiplexed, on smol) clients, and
//! `redis-benchmark`. Prints ops/s, the client's own CPU time per operation, and the ratios against the
//! issue's targets.
//!
//! ```text
//! cargo bench --bench clients --all-features            # every workload, every client (a few minutes)
//! cargo bench --bench clients --all-features -- "GET 1" # workloads named so, else whose name contains it
//! REDWIRE_BENCH_SECS=2 REDWIRE_BENCH_ROUNDS=5 cargo bench --bench clients --all-features   # longer
//! REDWIRE_BENCH_CLIENTS=blocking,"redis sync" cargo bench --bench clients -- "pipeline 128"  # to profile
//! ```
//!
//! - One server (`tests/support`: free loopback port, persistence off, killed on drop and by a watchdog if
//!   this process dies), loaded once with the data every workload reads (`clients/workload.rs`).
//! - Each cell (workload × client) runs for `REDWIRE_BENCH_SECS` (default 0.5 s) after one warm-up batch,
//!   once per round; `REDWIRE_BENCH_ROUNDS` rounds (default 5) each run every cell, workload by workload
//!   and client by client, so the cells a ratio compares run seconds apart and a load spike from
//!   elsewhere on the machine (it is shared) hits them alike. ops/s is the median of the rounds; every
//!   ratio is the median of the per-round ratios, so one disturbed round does not decide it.
//! - CPU per op is this process's `utime + stime` from `/proc/self/stat` (every thread, so async
//!   executors count), `cutime + cstime` for `redis-benchmark`. Client and server share the machine's
//!   cores, so CPU per op is the fairer figure; ops/s depends on what else runs.
//! - Every batch checks its replies (values, counts); after every cell the server's `INFO commandstats`
//!   must show exactly the operations the client claims, so nothing is skipped or double counted.
//! - "100 tasks" spawns 100 tasks on the client's executor, each awaiting one GET; "100 joined futures"
//!   polls 100 GET futures in the bench's own task. The issue's async target compares the tasks row with
//!   the same client's `pipeline 100` row; the joined row shows how much of the gap is the executor.
//! - "floor (raw socket)" is no client: it writes pre-encoded request bytes and reads the reply's known
//!   length (`clients/floor.rs`). What it spends is the kernel's and the server's share, which every
//!   client pays; `floor / redis sync` is about the most any client could gain over the `redis` crate.
//! - Without `--features smol` / `async-std` the redwire async columns stay empty; `redis-benchmark`
//!   missing from `PATH` (`REDWIRE_BENCHMARK_BIN`) empties its column with a message.

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "clients/floor.rs"]
mod floor;
#[path = "clients/join.rs"]
mod join;
#[path = "clients/measure.rs"]
mod measure;
#[path = "clients/redis_benchmark.rs"]
mod redis_benchmark;
#[path = "clients/redis_rs.rs"]
mod redis_rs;
#[cfg(any(feature = "smol", feature = "async-std"))]
#[path = "clients/redwire_async.rs"]
mod redwire_async;
#[path = "clients/redwire_blocking.rs"]
mod redwire_blocking;
#[path = "clients/table.rs"]
mod table;
#[path = "clients/workload.rs"]
mod workload;

use std::time::Duration;
use support::Server;
use workload::Workload;

/// A column of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Peer {
    Blocking,
    Smol,
    AsyncStd,
    RedisSync,
    RedisAsync,
    RedisBenchmark,
    Floor,
}

impl Peer {
    pub const ALL: [Peer; 7] = [
        Peer::Blocking,
        Peer::Smol,
        Peer::AsyncStd,
        Peer::RedisSync,
        Peer::RedisAsync,
        Peer::RedisBenchmark,
        Peer::Floor,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Peer::Blocking => "redwire blocking",
            Peer::Smol => "redwire smol",
            Peer::AsyncStd => "redwire async-std",
            Peer::RedisSync => "redis sync",
            Peer::RedisAsync => "redis async",
            Peer::RedisBenchmark => "redis-benchmark",
            Peer::Floor => "floor (raw socket)",
        }
    }
}

/// Every client, connected once and reused by every cell.
struct Clients {
    port: u16,
    blocking: redwire::blocking::Client,
    #[cfg(feature = "smol")]
    smol: redwire::smol::Client,
    #[cfg(feature = "async-std")]
    async_std: redwire::async_std::Client,
    redis_sync: redis::Connection,
    redis_async: redis::aio::MultiplexedConnection,
    benchmark: bool,
    floor: floor::Floor,
}

impl Clients {
    fn connect(server: &Server) -> Clients {
        let url = server.url();
        // The crate is built with tokio-comp too (benches/decoder uses its codec): pick smol explicitly.
        redis::aio::prefer_smol().expect("no runtime chosen yet");
        let redis = redis::Client::open(url.as_str()).expect("redis URL");
        Clients {
            port: server.port(),
            blocking: redwire::blocking::Client::open(&url).expect("redwire blocking client"),
            #[cfg(feature = "smol")]
            smol: redwire::smol::Client::open(&url).expect("redwire smol client"),
            #[cfg(feature = "async-std")]
            async_std: redwire::async_std::Client::open(&url).expect("redwire async-std client"),
            redis_sync: redis.get_connection().expect("redis sync connection"),
            // No response timeout, as redwire's clients have none by default (its 500 ms default fails
            // tasks when the machine is loaded).
            redis_async: smol::block_on(redis.get_multiplexed_async_connection_with_config(
                &redis::AsyncConnectionConfig::new().set_response_timeout(None),
            ))
            .expect("redis multiplexed connection"),
            benchmark: redis_benchmark::available(),
            floor: floor::Floor::connect(server.port()),
        }
    }

    /// One cell; `None` when this client has no form of the workload (or is not built in).
    fn run(&mut self, p: Peer, w: Workload, secs: Duration) -> Option<measure::Sample> {
        match p {
            Peer::Blocking => redwire_blocking::run(&self.blocking, w, secs),
            #[cfg(feature = "smol")]
            Peer::Smol => redwire_async::run(&self.smol, w, secs),
            #[cfg(feature = "async-std")]
            Peer::AsyncStd => redwire_async::run(&self.async_std, w, secs),
            #[allow(unreachable_patterns)] // a runtime not built in
            Peer::Smol | Peer::AsyncStd => None,
            Peer::RedisSync => redis_rs::run_sync(&mut self.redis_sync, w, secs),
            Peer::RedisAsync => redis_rs::run_async(&mut self.redis_async, w, secs),
            Peer::RedisBenchmark if self.benchmark => redis_benchmark::run(self.port, w, secs),
            Peer::RedisBenchmark => None,
            Peer::Floor => self.floor.run(w, secs),
        }
    }
}

/// A filter selects the workload of exactly its name, else every workload whose name contains it.
fn selects(filter: &str, w: Workload) -> bool {
    let name = w.name().to_lowercase();
    let exact = Workload::ALL.iter().any(|a| a.name().to_lowercase() == filter);
    if exact {
        name == filter
    } else {
        name.contains(filter)
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a valid number")),
        Err(_) => default,
    }
}

/// The machine and the time, for the README next to the table.
fn describe_machine() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = std::process::Command::new("date").arg("-u").arg("+%Y-%m-%d %H:%M UTC").output();
    let date = date.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    println!("machine: {cores} cores, {cpu}; {date}");
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map_or_else(|_| "?".into(), |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn main() {
    let filters: Vec<String> =
        std::env::args().skip(1).filter(|a| !a.starts_with('-')).map(|a| a.to_lowercase()).collect();
    let secs = Duration::from_secs_f64(env_or("REDWIRE_BENCH_SECS", 0.5));
    let rounds: usize = env_or("REDWIRE_BENCH_ROUNDS", 5);
    let only: Vec<String> = std::env::var("REDWIRE_BENCH_CLIENTS")
        .map(|v| v.split(',').map(|c| c.trim().to_lowercase()).collect())
        .unwrap_or_default();
    let peers: Vec<Peer> = Peer::ALL
        .into_iter()
        .filter(|p| only.is_empty() || only.iter().any(|c| p.name().contains(c.as_str())))
        .collect();
    let workloads: Vec<Workload> = Workload::ALL
        .into_iter()
        .filter(|w| filters.is_empty() || filters.iter().any(|f| selects(f, *w)))
        .collect();

    let server = Server::start();
    let mut raw = server.raw();
    workload::prepare(&mut raw);
    let mut clients = Clients::connect(&server);
    describe_machine();
    let version = server.version();
    println!(
        "server: {} {}.{}.{} on 127.0.0.1:{}; {rounds} rounds of {secs:?} per cell; load average at start: {}",
        server.binary().display(),
        version.0,
        version.1,
        version.2,
        server.port(),
        loadavg()
    );
    if !clients.benchmark {
        println!(
            "redis-benchmark: not found (install redis-tools or set REDWIRE_BENCHMARK_BIN); column skipped"
        );
    }
    if !cfg!(feature = "smol") || !cfg!(feature = "async-std") {
        println!(
            "redwire async clients: build with --features smol,async-std (or --all-features) to measure them"
        );
    }

    let mut results = table::Results::default();
    for round in 0..rounds {
        for &w in &workloads {
            for &p in &peers {
                let before = raw.calls(w.command());
                let Some(sample) = clients.run(p, w, secs) else { continue };
                let after = raw.calls(w.command());
                assert_eq!(
                    after - before,
                    sample.sent,
                    "{} on {}: the server ran {} {} commands, the client counted {}",
                    w.name(),
                    p.name(),
                    after - before,
                    w.command(),
                    sample.sent
                );
                eprintln!(
                    "{:<24} round {} {:<18} {:>10} ops sent {:>10.0} ops/s {:>8.2} µs CPU/op",
                    w.name(),
                    round + 1,
                    p.name(),
                    sample.sent,
                    sample.ops_per_sec(),
                    sample.cpu.as_secs_f64() * 1e6 / sample.ops as f64
                );
                results.add(w, p, &sample);
            }
        }
    }
    results.print();
    println!("\nload average at the end: {}", loadavg());
}
