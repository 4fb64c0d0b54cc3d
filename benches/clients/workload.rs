//! The workloads of the table, the data they read (written once, before any client runs) and the checks
//! every client applies to its replies. Clients live in their own files; nothing here does I/O except
//! [`prepare`], which loads the server through the test harness's raw client.

use crate::support::RawClient;
use redwire::resp::Value;

/// The key every SET writes.
pub const SET_KEY: &str = "bench:set16";
/// The key every 16 B GET reads.
pub const GET_KEY: &str = "bench:get16";
/// The 16 B value.
pub const VALUE16: &[u8; 16] = b"0123456789abcdef";
/// A list of 600 elements of 16 B: `elem:00000000000` .. `elem:00000000599`.
pub const LIST_KEY: &str = "bench:list600";
pub const LIST_LEN: usize = 600;
/// A 1 MiB string (see [`big_value`]).
pub const BIG_KEY: &str = "bench:big";
pub const BIG_LEN: usize = 1024 * 1024;
/// Concurrent tasks (and the explicit pipeline's depth they are compared with).
pub const TASKS: usize = 100;

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Workload {
    /// `SET bench:set16 <16 B>`, `depth` commands per round trip (1: unpipelined).
    Set { depth: usize },
    /// `GET bench:get16`, `depth` per round trip.
    Get { depth: usize },
    /// `LRANGE bench:list600 0 599`, unpipelined.
    Lrange600,
    /// `GET bench:big` (1 MiB), unpipelined.
    GetBig,
    /// [`TASKS`] tasks spawned on the executor, each awaiting one `GET bench:get16`, on one async client.
    Tasks,
    /// [`TASKS`] `GET bench:get16` futures polled together in one task (joined, nothing spawned).
    Joined,
}

impl Workload {
    /// Every row, in table order.
    pub const ALL: [Workload; 11] = [
        Workload::Set { depth: 1 },
        Workload::Get { depth: 1 },
        Workload::Set { depth: 16 },
        Workload::Get { depth: 16 },
        Workload::Set { depth: 128 },
        Workload::Get { depth: 128 },
        Workload::Get { depth: TASKS },
        Workload::Tasks,
        Workload::Joined,
        Workload::Lrange600,
        Workload::GetBig,
    ];

    pub fn name(self) -> String {
        match self {
            Workload::Set { depth: 1 } => "SET 16 B".into(),
            Workload::Get { depth: 1 } => "GET 16 B".into(),
            Workload::Set { depth } => format!("SET 16 B, pipeline {depth}"),
            Workload::Get { depth } => format!("GET 16 B, pipeline {depth}"),
            Workload::Lrange600 => "LRANGE 600 x 16 B".into(),
            Workload::GetBig => "GET 1 MiB".into(),
            Workload::Tasks => format!("GET 16 B, {TASKS} tasks"),
            Workload::Joined => format!("GET 16 B, {TASKS} joined futures"),
        }
    }

    /// Only an async client has a form of it (concurrent requests on one client).
    pub fn is_async_only(self) -> bool {
        matches!(self, Workload::Tasks | Workload::Joined)
    }

    /// The server command the workload runs (for the server's `INFO commandstats` check).
    pub fn command(self) -> &'static str {
        match self {
            Workload::Set { .. } => "set",
            Workload::Lrange600 => "lrange",
            Workload::Get { .. } | Workload::GetBig | Workload::Tasks | Workload::Joined => "get",
        }
    }
}

/// The 1 MiB value: every byte depends on its position, so a reply cut or shifted anywhere is caught by
/// [`check_big`]'s samples.
pub fn big_value() -> Vec<u8> {
    (0..BIG_LEN).map(big_byte).collect()
}

fn big_byte(i: usize) -> u8 {
    b'a' + ((i * 7 + i / 4096) % 26) as u8
}

/// The list's element `i`.
pub fn element(i: usize) -> Vec<u8> {
    format!("elem:{i:011}").into_bytes()
}

/// Writes the data the workloads read.
pub fn prepare(raw: &mut RawClient) {
    assert_eq!(raw.cmd(&[b"FLUSHALL"]), Value::SimpleString("OK".into()));
    assert_eq!(raw.cmd(&[b"SET", GET_KEY.as_bytes(), VALUE16]), Value::SimpleString("OK".into()));
    assert_eq!(raw.cmd(&[b"SET", BIG_KEY.as_bytes(), &big_value()]), Value::SimpleString("OK".into()));
    let elements: Vec<Vec<u8>> = (0..LIST_LEN).map(element).collect();
    let mut rpush: Vec<&[u8]> = vec![b"RPUSH", LIST_KEY.as_bytes()];
    rpush.extend(elements.iter().map(|e| &e[..]));
    assert_eq!(raw.cmd(&rpush), Value::Integer(LIST_LEN as i64));
}

/// A GET 16 B reply.
pub fn check_get(got: &[u8]) {
    assert_eq!(got, VALUE16, "GET {GET_KEY}");
}

/// An LRANGE reply, from its length and its first and last elements.
pub fn check_lrange(len: usize, first: &[u8], last: &[u8]) {
    assert_eq!(len, LIST_LEN, "LRANGE {LIST_KEY} length");
    assert_eq!(first, element(0), "LRANGE first element");
    assert_eq!(last, element(LIST_LEN - 1), "LRANGE last element");
}

/// A GET 1 MiB reply: its length and 64 bytes at each of 16 places (a full comparison would add the same
/// memcmp to every client and flatten the ratios).
pub fn check_big(got: &[u8]) {
    assert_eq!(got.len(), BIG_LEN, "GET {BIG_KEY} length");
    for k in 0..16 {
        let at = k * (BIG_LEN - 64) / 15;
        let same = got[at..at + 64].iter().zip(at..).all(|(&b, i)| b == big_byte(i));
        assert!(same, "GET {BIG_KEY}: wrong bytes at {at}..{}", at + 64);
    }
}
