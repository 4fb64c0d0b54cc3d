//! Parsers side by side, on identical inputs in the same run, through `redwire::resp::ReplyParser`:
//! redwire's `Decoder`; `redis-protocol` 6 (`rp-resp2`, `rp-resp3`); the `redis` crate's `ValueCodec`
//! (`redis-rs`); and hiredis's C reader (`hiredis`, with the `bench-hiredis` feature and libhiredis-dev).
//!
//! Run, then read the table printed at the end (MB/s per parser, redwire's ratio to each peer):
//!
//! ```text
//! cargo bench --bench decoder --features bench-hiredis        # all workloads, ~5 minutes
//! cargo bench --bench decoder --features bench-hiredis -- lrange   # one workload (criterion filter)
//! ```
//!
//! Without the feature, hiredis is skipped with a message. To count instructions instead of timing (repeatable
//! on a busy machine): `bash benches/decoder/callgrind.sh --features bench-hiredis -- lrange600_1k/redwire
//! lrange600_1k/hiredis` (it runs `REDWIRE_BENCH_ONCE=<workload>/<parser>` once under callgrind, counting
//! only `drive`).
//!
//! The pathological rows: `bytewise_nested_1k` feeds 1 000 nested replies one byte per call;
//! `deep1000_100` is 100 replies nested 1 000 deep (within redwire's 1024; the redis crate stops at 100 and
//! hiredis 0.14 at 7, so they are marked); `huge_len_10k_calls` offers `$2147483647\r\nabc` 10 000 times and
//! every call must answer "incomplete" (that redwire allocates nothing meanwhile is the decoder test
//! `huge_declared_lengths_allocate_nothing`; here it runs with a 4 GiB bulk limit, since its default 512 MiB
//! limit rejects that header at once).
//!
//! Times are the benchmark thread's CPU time (`benches/decoder/cpu_time.rs`), so that waiting for a core on
//! a busy machine does not count; the table takes each benchmark's fastest sample.
//!
//! Inputs are fed in 16 KiB slices, the way socket reads arrive, and every complete reply is drained after
//! each slice. Every benchmark asserts the count of replies and leaves and a checksum over payload lengths
//! and integers, computed when the input was written, so a parser that skips work fails loudly.

mod cpu_time;
mod peers;
mod table;
mod workloads;

#[cfg(feature = "bench-hiredis")]
mod hiredis;

use bytes::BytesMut;
use criterion::{Criterion, SamplingMode, Throughput};
use peers::{RedisProtocol2, RedisProtocol3, RedisRs, Redwire};
use redwire::resp::ReplyParser;
use std::hint::black_box;
use std::time::{Duration, SystemTime};
use table::{Cell, Unit};
use workloads::{Feed, Sum, Tally, Workload};

/// Feeds `w` to `p` and returns what it parsed. The function callgrind's `--toggle-collect` selects.
#[inline(never)]
fn drive<P: ReplyParser<Output = (), Error = String> + Tally>(mut p: P, w: &Workload) -> Sum {
    match w.feed {
        Feed::Slices(n) => {
            let mut buf = BytesMut::with_capacity(workloads::READ * 2);
            for chunk in w.input.chunks(n) {
                buf.extend_from_slice(chunk);
                while p.parse(&mut buf).expect("valid input").is_some() {}
            }
            assert!(buf.is_empty(), "{}: {} bytes left unparsed", w.name, buf.len());
            p.tally()
        }
        Feed::Stalled { calls } => {
            let mut buf = BytesMut::from(&w.input[..]);
            let mut incomplete = 0;
            for _ in 0..calls {
                if p.parse(&mut buf).expect("valid so far").is_none() {
                    incomplete += 1;
                }
            }
            Sum { weight: incomplete, ..Sum::default() } // expected: every call says "incomplete"
        }
    }
}

/// One parser: its column name, why it cannot take a workload (`Err`), and one full run over a workload.
struct Parser {
    name: &'static str,
    supports: fn(&Workload) -> Result<(), &'static str>,
    run: fn(&Workload) -> Sum,
}

fn parsers() -> Vec<Parser> {
    let all: fn(&Workload) -> Result<(), &'static str> = |_| Ok(());
    let resp2 = |w: &Workload| if w.resp3 { Err("RESP2 only") } else { Ok(()) };
    #[allow(unused_mut)]
    let mut v = vec![
        Parser {
            name: "redwire",
            supports: all,
            run: |w| match w.feed {
                Feed::Stalled { .. } => drive(Redwire::unlimited(), w),
                Feed::Slices(_) => drive(Redwire::new(), w),
            },
        },
        Parser { name: "rp-resp2", supports: resp2, run: |w| drive(RedisProtocol2::default(), w) },
        Parser {
            name: "rp-resp3",
            // A RESP3 decoder: it rejects RESP2's `$-1` null (RESP3 servers send `_`).
            supports: |w| if w.resp2_nulls { Err("no $-1") } else { Ok(()) },
            run: |w| drive(RedisProtocol3::default(), w),
        },
        Parser {
            name: "redis-rs",
            // Its parser refuses nesting deeper than 100 (MAX_RECURSE_DEPTH).
            supports: |w| if w.depth > 100 { Err("depth>100") } else { Ok(()) },
            run: |w| drive(RedisRs::default(), w),
        },
    ];
    #[cfg(feature = "bench-hiredis")]
    v.push(Parser {
        name: "hiredis",
        // hiredis 0.14 parses RESP2 only and refuses nesting deeper than 7.
        supports: |w| match () {
            _ if w.resp3 => Err("RESP2 only"),
            _ if w.depth > 7 => Err("depth>7"),
            _ => Ok(()),
        },
        run: |w| drive(hiredis::Hiredis::new(), w),
    });
    v
}

/// `REDWIRE_BENCH_ONCE=<workload>/<parser>[/<repeats>]`: one untimed run, for callgrind or perf.
fn once(spec: &str, workloads: &[Workload]) {
    let mut parts = spec.split('/');
    let (w, p) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let repeats: usize = parts.next().map_or(1, |r| r.parse().expect("repeats: a number"));
    let w = workloads.iter().find(|x| x.name == w).unwrap_or_else(|| panic!("no workload {w:?}"));
    let p = parsers().into_iter().find(|x| x.name == p).unwrap_or_else(|| panic!("no parser {p:?}"));
    (p.supports)(w).unwrap_or_else(|why| panic!("{} cannot run {}: {why}", p.name, w.name));
    for _ in 0..repeats {
        assert_eq!((p.run)(black_box(w)), w.expected);
    }
    let e = w.expected;
    println!(
        "{}/{}: {} bytes, {} replies, {} leaves, x{repeats}",
        w.name,
        p.name,
        w.input.len(),
        e.replies,
        e.leaves
    );
}

fn main() {
    let workloads = workloads::all();
    if let Ok(spec) = std::env::var("REDWIRE_BENCH_ONCE") {
        return once(&spec, &workloads);
    }
    if cfg!(not(feature = "bench-hiredis")) {
        println!(
            "hiredis: skipped; to compare against its C reader, install libhiredis-dev and run \
             `cargo bench --bench decoder --features bench-hiredis`"
        );
    }
    let since = SystemTime::now();
    let mut c = Criterion::default().with_measurement(cpu_time::CpuTime::new()).configure_from_args();
    let mut cells = Vec::new();
    for w in &workloads {
        let unit = match w.feed {
            Feed::Slices(_) => Unit::Bytes(w.input.len() as u64),
            Feed::Stalled { calls } => Unit::Calls(calls),
        };
        let mut g = c.benchmark_group(w.name);
        g.throughput(match w.feed {
            Feed::Slices(_) => Throughput::Bytes(w.input.len() as u64),
            // Bytes would be meaningless here: the same 16 bytes are offered again on every call.
            Feed::Stalled { calls } => Throughput::Elements(calls),
        });
        g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
        g.sampling_mode(SamplingMode::Flat);
        for p in parsers() {
            let skipped = (p.supports)(w).err();
            if skipped.is_none() {
                g.bench_function(p.name, |b| b.iter(|| assert_eq!((p.run)(black_box(w)), w.expected)));
            }
            cells.push(Cell { workload: w.name, parser: p.name, unit, skipped });
        }
        g.finish();
    }
    c.final_summary();
    table::print(&cells, "redwire", since);
}
