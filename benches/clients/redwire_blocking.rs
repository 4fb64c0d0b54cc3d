//! redwire's blocking client in the table: one `Client` whose pool holds its one connection (every call
//! checks it out and back, as an application would), commands through the typed `Commands` methods,
//! pipelines with `pipeline().transaction(false)`. Every batch checks its replies.

use crate::measure::{timed, Sample};
use crate::workload::*;
use bytes::Bytes;
use redwire::blocking::Client;
use redwire::cmd::{Commands, PipelineCommands};
use redwire::resp::Value;
use std::time::Duration;

fn check_ok(v: &Value) {
    assert!(matches!(v, Value::SimpleString(s) if &s[..] == b"OK"), "SET replied {v:?}");
}

fn set(c: &Client, depth: usize) -> u64 {
    if depth == 1 {
        check_ok(&c.set::<Value>(SET_KEY, VALUE16).expect("SET"));
        return 1;
    }
    let mut p = c.pipeline().transaction(false);
    for _ in 0..depth {
        p.set(SET_KEY, VALUE16);
    }
    let replies = p.execute_raw().expect("SET pipeline");
    assert_eq!(replies.len(), depth);
    replies.iter().for_each(check_ok);
    depth as u64
}

fn get(c: &Client, depth: usize) -> u64 {
    if depth == 1 {
        check_get(&c.get::<Bytes>(GET_KEY).expect("GET"));
        return 1;
    }
    let mut p = c.pipeline().transaction(false);
    for _ in 0..depth {
        p.get(GET_KEY);
    }
    let replies: Vec<Bytes> = p.execute().expect("GET pipeline");
    assert_eq!(replies.len(), depth);
    replies.iter().for_each(|r| check_get(r));
    depth as u64
}

fn lrange(c: &Client) -> u64 {
    let items: Vec<Bytes> = c.lrange(LIST_KEY, 0, LIST_LEN as i64 - 1).expect("LRANGE");
    check_lrange(items.len(), &items[0], &items[items.len() - 1]);
    1
}

fn get_big(c: &Client) -> u64 {
    check_big(&c.get::<Bytes>(BIG_KEY).expect("GET 1 MiB"));
    1
}

/// One cell; `None` for a workload this client has no form of (tasks and joined futures need an async client).
pub fn run(c: &Client, w: Workload, secs: Duration) -> Option<Sample> {
    Some(match w {
        Workload::Set { depth } => timed!(secs, set(c, depth)),
        Workload::Get { depth } => timed!(secs, get(c, depth)),
        Workload::Lrange600 => timed!(secs, lrange(c)),
        Workload::GetBig => timed!(secs, get_big(c)),
        Workload::Tasks | Workload::Joined => return None,
    })
}
