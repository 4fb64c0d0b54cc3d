//! Prints the side-by-side table from criterion's results of this run: rows are workloads, columns are each
//! parser's MB/s, then redwire's speed as a multiple of each peer's (> 1.00 means redwire is faster).
//!
//! Reads `<criterion dir>/<workload>/<parser>/new/sample.json` (the fastest sample's time per iteration)
//! for the benchmarks this process ran, skipping files older than the run. Measures nothing itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// How a row's figures are expressed.
#[derive(Clone, Copy)]
pub enum Unit {
    /// MB/s from this many input bytes per iteration.
    Bytes(u64),
    /// Nanoseconds per call, from this many calls per iteration.
    Calls(u64),
}

/// A benchmark that ran (or was skipped, with the reason shown in its cell).
pub struct Cell {
    pub workload: &'static str,
    pub parser: &'static str,
    pub unit: Unit,
    pub skipped: Option<&'static str>,
}

/// Where criterion writes: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else `criterion/` in the
/// target dir holding this executable (`target/release/deps/decoder-*`).
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Path::new(&target).join("criterion");
    }
    let exe = std::env::current_exe().expect("path of the running bench");
    exe.ancestors().nth(3).map_or_else(|| "target".into(), Path::to_path_buf).join("criterion")
}

/// The fastest sample's nanoseconds per iteration, when criterion wrote it after `since`. The fastest, not
/// the median: on a machine shared with other work, interference only ever adds time.
fn best_ns(dir: &Path, workload: &str, parser: &str, since: SystemTime) -> Option<f64> {
    let path = dir.join(workload).join(parser).join("new").join("sample.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    let per_iter =
        |(iters, time): (&serde_json::Value, &serde_json::Value)| Some(time.as_f64()? / iters.as_f64()?);
    let iters = json["iters"].as_array()?;
    let times = json["times"].as_array()?;
    iters.iter().zip(times).filter_map(per_iter).reduce(f64::min)
}

/// Prints the table for `cells` (in the order the parsers first appear), `reference` being the parser the
/// ratio columns compare everyone against.
pub fn print(cells: &[Cell], reference: &str, since: SystemTime) {
    let dir = criterion_dir();
    let mut parsers: Vec<&str> = Vec::new();
    let mut rows: Vec<(&str, Unit)> = Vec::new();
    let mut figures: BTreeMap<(&str, &str), Result<f64, &str>> = BTreeMap::new();
    for c in cells {
        if !parsers.contains(&c.parser) {
            parsers.push(c.parser);
        }
        if !rows.iter().any(|(w, _)| *w == c.workload) {
            rows.push((c.workload, c.unit));
        }
        let figure = match c.skipped {
            Some(why) => Err(why),
            None => match best_ns(&dir, c.workload, c.parser, since) {
                // MB/s (higher is better) or ns/call (lower is better).
                Some(ns) => Ok(match c.unit {
                    Unit::Bytes(b) => b as f64 / ns * 1e3,
                    Unit::Calls(n) => ns / n as f64,
                }),
                None => continue, // filtered out or `--test` mode: no measurement this run
            },
        };
        figures.insert((c.workload, c.parser), figure);
    }
    if !figures.values().any(Result::is_ok) {
        return;
    }
    let peers: Vec<&str> = parsers.iter().copied().filter(|p| *p != reference).collect();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    println!(
        "Parsers side by side, thread CPU time, fastest of 10 samples: MB/s (ns/call on the huge_len row);"
    );
    println!("`x peer` = redwire's speed / the peer's (> 1: redwire is faster).");
    println!(
        "Machine: {cores} cores, load average {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    let mut header = format!("{:<20}", "workload");
    for p in &parsers {
        header += &format!(" {p:>13}");
    }
    for p in &peers {
        header += &format!(" {:>13}", format!("x {p}"));
    }
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    for (w, unit) in &rows {
        if !parsers.iter().any(|p| matches!(figures.get(&(*w, *p)), Some(Ok(_)))) {
            continue; // not measured in this run (criterion filter)
        }
        let mut line = format!("{w:<20}");
        for p in &parsers {
            line += &match figures.get(&(*w, *p)) {
                Some(Ok(f)) => format!(" {f:>13.1}"),
                Some(Err(why)) => format!(" {why:>13}"),
                None => format!(" {:>13}", "-"),
            };
        }
        let ours = match figures.get(&(*w, reference)) {
            Some(Ok(f)) => Some(*f),
            _ => None,
        };
        for p in &peers {
            let ratio = match (ours, figures.get(&(*w, *p))) {
                (Some(ours), Some(Ok(theirs))) => match unit {
                    Unit::Bytes(_) => format!("{:.2}", ours / theirs),
                    Unit::Calls(_) => format!("{:.2}", theirs / ours),
                },
                _ => "-".into(),
            };
            line += &format!(" {ratio:>13}");
        }
        println!("{line}");
    }
}
