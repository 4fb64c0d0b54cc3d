//! Helpers shared by the blocking runtime's own tests (`tests/blocking_*.rs`): counting the server's
//! clients. (Its command counters are `RawClient::calls`.)
#![allow(dead_code)]

use crate::support::RawClient;
use redwire::resp::Value;

/// How many normal (non-pub/sub) clients the server has, not counting `raw` itself.
pub fn normal_clients(raw: &mut RawClient) -> usize {
    match raw.cmd_str(&["CLIENT", "LIST", "TYPE", "normal"]) {
        Value::BulkString(b) => String::from_utf8_lossy(&b).lines().count() - 1,
        other => panic!("CLIENT LIST answered {other:?}"),
    }
}
