//! Helpers shared by the blocking runtime's own tests (`tests/blocking_*.rs`): reading the server's
//! command counters, so a test can prove what was (and was not) sent.
#![allow(dead_code)]

use crate::support::RawClient;
use redwire::resp::Value;

/// `calls=` of `cmdstat_<name>` in `INFO commandstats` (0 when the command never ran).
pub fn calls(raw: &mut RawClient, name: &str) -> u64 {
    let info = match raw.cmd_str(&["INFO", "commandstats"]) {
        Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO answered {other:?}"),
    };
    let prefix = format!("cmdstat_{name}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |rest| rest.split(',').next().expect("split yields one item").parse().expect("a count"))
}

/// How many normal (non-pub/sub) clients the server has, not counting `raw` itself.
pub fn normal_clients(raw: &mut RawClient) -> usize {
    match raw.cmd_str(&["CLIENT", "LIST", "TYPE", "normal"]) {
        Value::BulkString(b) => String::from_utf8_lossy(&b).lines().count() - 1,
        other => panic!("CLIENT LIST answered {other:?}"),
    }
}
