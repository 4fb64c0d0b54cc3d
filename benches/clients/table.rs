//! The results: per cell the median ops/s over the rounds and the CPU time per operation over all of
//! them; printed as Markdown tables (ops/s, CPU per op, ratios), then the targets, each met or
//! missed by how much. A ratio is the median of the per-round ratios (cells of one round ran seconds
//! apart, under the same load). Printing only: no measuring here.

use crate::workload::{Workload, TASKS};
use crate::Peer;
use std::collections::BTreeMap;
use std::time::Duration;

/// A column of the ratio table: ops/s of `a` over `b`, or (`cpu`) CPU per op of `b` over `a`.
struct Ratio {
    name: &'static str,
    cpu: bool,
    a: Peer,
    b: Peer,
}

/// Every round of one (workload, client) cell, in round order.
#[derive(Debug, Default, Clone)]
pub struct Cell {
    rates: Vec<f64>,
    /// CPU microseconds per operation, per round.
    cpus: Vec<f64>,
    ops: u64,
    cpu: Duration,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The median over the rounds of `a[i] / b[i]`.
fn median_ratio(a: &[f64], b: &[f64]) -> Option<f64> {
    (!a.is_empty() && a.len() == b.len()).then(|| median(a.iter().zip(b).map(|(x, y)| x / y).collect()))
}

impl Cell {
    pub fn add(&mut self, s: &crate::measure::Sample) {
        self.rates.push(s.ops_per_sec());
        self.cpus.push(s.cpu.as_secs_f64() * 1e6 / s.ops as f64);
        self.ops += s.ops;
        self.cpu += s.cpu;
    }

    /// The median of the rounds' ops/s.
    pub fn rate(&self) -> f64 {
        median(self.rates.clone())
    }

    /// CPU microseconds per operation, over every round.
    pub fn cpu_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.ops as f64
    }
}

#[derive(Debug, Default)]
pub struct Results {
    cells: BTreeMap<(Workload, Peer), Cell>,
}

fn rate_text(r: f64) -> String {
    match r {
        r if r >= 1e6 => format!("{:.2} M", r / 1e6),
        r if r >= 1e4 => format!("{:.0} k", r / 1e3),
        r if r >= 1e3 => format!("{:.1} k", r / 1e3),
        r => format!("{r:.0}"),
    }
}

fn ratio_text(r: Option<f64>) -> String {
    r.map_or_else(|| "—".into(), |r| format!("{r:.2}×"))
}

impl Results {
    pub fn add(&mut self, w: Workload, p: Peer, s: &crate::measure::Sample) {
        self.cells.entry((w, p)).or_default().add(s);
    }

    fn get(&self, w: Workload, p: Peer) -> Option<&Cell> {
        self.cells.get(&(w, p))
    }

    fn workloads(&self) -> Vec<Workload> {
        let mut ws: Vec<Workload> = self.cells.keys().map(|(w, _)| *w).collect();
        ws.dedup();
        ws.sort_by_key(|w| Workload::ALL.iter().position(|a| a == w));
        ws
    }

    /// `a`'s ops/s over `b`'s (median of the rounds).
    fn speed(&self, w: Workload, a: Peer, b: Peer) -> Option<f64> {
        median_ratio(&self.get(w, a)?.rates, &self.get(w, b)?.rates)
    }

    /// `b`'s CPU per op over `a`'s (how many times less CPU `a` spends; median of the rounds).
    fn thrift(&self, w: Workload, a: Peer, b: Peer) -> Option<f64> {
        median_ratio(&self.get(w, b)?.cpus, &self.get(w, a)?.cpus)
    }

    fn table(&self, title: &str, cell: impl Fn(&Cell) -> String) {
        println!("\n{title}\n");
        print!("| workload |");
        Peer::ALL.iter().for_each(|p| print!(" {} |", p.name()));
        print!("\n|---|");
        Peer::ALL.iter().for_each(|_| print!("---:|"));
        println!();
        for w in self.workloads() {
            print!("| {} |", w.name());
            for p in Peer::ALL {
                print!(" {} |", self.get(w, p).map_or_else(|| "—".into(), &cell));
            }
            println!();
        }
    }

    pub fn print(&self) {
        self.table("Operations per second (median of the rounds):", |c| rate_text(c.rate()));
        self.table("Client CPU time per operation, µs (user + system, all rounds):", |c| {
            format!("{:.2}", c.cpu_us())
        });
        println!(
            "\nRatios, median of the rounds (redwire over the peer; \"CPU\" = the peer's CPU per op over \
             redwire's):\n"
        );
        let columns = [
            Ratio {
                name: "blocking / redis-benchmark",
                cpu: false,
                a: Peer::Blocking,
                b: Peer::RedisBenchmark,
            },
            Ratio { name: "blocking / redis sync", cpu: false, a: Peer::Blocking, b: Peer::RedisSync },
            Ratio { name: "CPU redis sync / blocking", cpu: true, a: Peer::Blocking, b: Peer::RedisSync },
            Ratio {
                name: "CPU redis-benchmark / blocking",
                cpu: true,
                a: Peer::Blocking,
                b: Peer::RedisBenchmark,
            },
            Ratio { name: "floor / redis sync", cpu: false, a: Peer::Floor, b: Peer::RedisSync },
            Ratio { name: "CPU redis sync / floor", cpu: true, a: Peer::Floor, b: Peer::RedisSync },
            Ratio { name: "smol / redis async", cpu: false, a: Peer::Smol, b: Peer::RedisAsync },
            Ratio { name: "CPU redis async / smol", cpu: true, a: Peer::Smol, b: Peer::RedisAsync },
            Ratio { name: "async-std / redis async", cpu: false, a: Peer::AsyncStd, b: Peer::RedisAsync },
            Ratio { name: "CPU redis async / async-std", cpu: true, a: Peer::AsyncStd, b: Peer::RedisAsync },
        ];
        print!("| workload |");
        columns.iter().for_each(|c| print!(" {} |", c.name));
        print!("\n|---|");
        columns.iter().for_each(|_| print!("---:|"));
        println!();
        for w in self.workloads() {
            print!("| {} |", w.name());
            for c in &columns {
                let r = if c.cpu { self.thrift(w, c.a, c.b) } else { self.speed(w, c.a, c.b) };
                print!(" {} |", ratio_text(r));
            }
            println!();
        }
        self.targets();
    }

    /// The targets, each with its measured ratio.
    fn targets(&self) {
        println!("\nTargets (issue 8):");
        // `want` 0: a reference figure, no target.
        let line = |what: String, got: Option<f64>, want: f64| {
            let Some(g) = got else { return };
            let verdict = if g >= want {
                "met".to_string()
            } else {
                format!("MISSED by {:.1}%", (1.0 - g / want) * 100.0)
            };
            match want {
                0.0 => println!("  - {what}: {g:.2}× (reference)"),
                _ => println!("- {what}: {g:.2}× (target ≥ {want}×) {verdict}"),
            }
        };
        for w in [Workload::Get { depth: 16 }, Workload::Set { depth: 16 }, Workload::Get { depth: 128 }]
            .into_iter()
            .chain([Workload::Set { depth: 128 }, Workload::Lrange600, Workload::GetBig])
        {
            let what = format!("blocking vs redis-benchmark ops/s, {}", w.name());
            line(what, self.speed(w, Peer::Blocking, Peer::RedisBenchmark), 1.0);
        }
        for w in self.workloads().into_iter().filter(|w| !w.is_async_only()) {
            line(
                format!("blocking vs redis sync ops/s, {}", w.name()),
                self.speed(w, Peer::Blocking, Peer::RedisSync),
                1.2,
            );
            line(
                format!("floor vs redis sync ops/s, {} (a client doing no work)", w.name()),
                self.speed(w, Peer::Floor, Peer::RedisSync),
                0.0,
            );
            line(
                format!("CPU per op, redis sync over blocking, {}", w.name()),
                self.thrift(w, Peer::Blocking, Peer::RedisSync),
                2.0,
            );
            line(
                format!("CPU per op, redis sync over the floor, {}", w.name()),
                self.thrift(w, Peer::Floor, Peer::RedisSync),
                0.0,
            );
        }
        // The target is about tasks; joined futures (no executor between the requests and the client)
        // are shown beside it, so the executor's share is visible.
        for p in [Peer::Smol, Peer::AsyncStd, Peer::RedisAsync] {
            let explicit = Workload::Get { depth: TASKS };
            let own = |w| {
                let (t, e) = self.get(w, p).zip(self.get(explicit, p))?;
                median_ratio(&t.rates, &e.rates)
            };
            let name = p.name();
            let want = if p == Peer::RedisAsync { 0.0 } else { 0.8 };
            line(
                format!("{name}: {TASKS} spawned tasks vs its own pipeline of {TASKS}"),
                own(Workload::Tasks),
                want,
            );
            line(
                format!("{name}: {TASKS} joined futures vs its own pipeline of {TASKS}"),
                own(Workload::Joined),
                want,
            );
        }
    }
}
