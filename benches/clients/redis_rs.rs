//! The `redis` crate (redis-rs 1.x) in the table: its sync `Connection`, and its async
//! `MultiplexedConnection` on smol (feature `smol-comp`), used the way its docs show: typed
//! `Commands`/`AsyncCommands` methods, `redis::pipe()` (not atomic) for pipelines. Every batch checks its
//! replies with the same checks as redwire's.

use crate::join::join_all;
use crate::measure::{timed, Sample};
use crate::workload::*;
use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, Commands, Value};
use std::time::Duration;

fn check_ok(v: &Value) {
    assert!(matches!(v, Value::Okay), "SET replied {v:?}");
}

fn pipe_of(depth: usize, set: bool) -> redis::Pipeline {
    let mut p = redis::pipe();
    for _ in 0..depth {
        if set {
            p.set(SET_KEY, VALUE16);
        } else {
            p.get(GET_KEY);
        }
    }
    p
}

fn set(c: &mut redis::Connection, depth: usize) -> u64 {
    if depth == 1 {
        check_ok(&c.set::<_, _, Value>(SET_KEY, VALUE16).expect("SET"));
        return 1;
    }
    let replies: Vec<Value> = pipe_of(depth, true).query(c).expect("SET pipeline");
    assert_eq!(replies.len(), depth);
    replies.iter().for_each(check_ok);
    depth as u64
}

fn get(c: &mut redis::Connection, depth: usize) -> u64 {
    if depth == 1 {
        check_get(&c.get::<_, Vec<u8>>(GET_KEY).expect("GET"));
        return 1;
    }
    let replies: Vec<Vec<u8>> = pipe_of(depth, false).query(c).expect("GET pipeline");
    assert_eq!(replies.len(), depth);
    replies.iter().for_each(|r| check_get(r));
    depth as u64
}

fn lrange(c: &mut redis::Connection) -> u64 {
    let items: Vec<Vec<u8>> = c.lrange(LIST_KEY, 0, LIST_LEN as isize - 1).expect("LRANGE");
    check_lrange(items.len(), &items[0], &items[items.len() - 1]);
    1
}

fn get_big(c: &mut redis::Connection) -> u64 {
    check_big(&c.get::<_, Vec<u8>>(BIG_KEY).expect("GET 1 MiB"));
    1
}

/// One cell on the sync client; `None` for tasks and joined futures.
pub fn run_sync(c: &mut redis::Connection, w: Workload, secs: Duration) -> Option<Sample> {
    Some(match w {
        Workload::Set { depth } => timed!(secs, set(c, depth)),
        Workload::Get { depth } => timed!(secs, get(c, depth)),
        Workload::Lrange600 => timed!(secs, lrange(c)),
        Workload::GetBig => timed!(secs, get_big(c)),
        Workload::Tasks | Workload::Joined => return None,
    })
}

async fn set_async(c: &mut MultiplexedConnection, depth: usize) -> u64 {
    if depth == 1 {
        check_ok(&c.set::<_, _, Value>(SET_KEY, VALUE16).await.expect("SET"));
        return 1;
    }
    let replies: Vec<Value> = pipe_of(depth, true).query_async(c).await.expect("SET pipeline");
    assert_eq!(replies.len(), depth);
    replies.iter().for_each(check_ok);
    depth as u64
}

async fn get_async(c: &mut MultiplexedConnection, depth: usize) -> u64 {
    if depth == 1 {
        check_get(&c.get::<_, Vec<u8>>(GET_KEY).await.expect("GET"));
        return 1;
    }
    let replies: Vec<Vec<u8>> = pipe_of(depth, false).query_async(c).await.expect("GET pipeline");
    assert_eq!(replies.len(), depth);
    replies.iter().for_each(|r| check_get(r));
    depth as u64
}

async fn lrange_async(c: &mut MultiplexedConnection) -> u64 {
    let items: Vec<Vec<u8>> = c.lrange(LIST_KEY, 0, LIST_LEN as isize - 1).await.expect("LRANGE");
    check_lrange(items.len(), &items[0], &items[items.len() - 1]);
    1
}

async fn get_big_async(c: &mut MultiplexedConnection) -> u64 {
    check_big(&c.get::<_, Vec<u8>>(BIG_KEY).await.expect("GET 1 MiB"));
    1
}

/// [`TASKS`] tasks on smol's executor, each with a clone of the one multiplexed connection.
async fn tasks_async(c: &MultiplexedConnection) -> u64 {
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let mut c = c.clone();
            smol::spawn(async move { c.get::<_, Vec<u8>>(GET_KEY).await.expect("GET") })
        })
        .collect();
    for t in tasks {
        check_get(&t.await);
    }
    TASKS as u64
}

/// [`TASKS`] GET futures, each on a clone of the connection, polled together in this task.
async fn joined_async(c: &MultiplexedConnection) -> u64 {
    let mut conns: Vec<MultiplexedConnection> = (0..TASKS).map(|_| c.clone()).collect();
    let replies = join_all(conns.iter_mut().map(|c| c.get::<_, Vec<u8>>(GET_KEY))).await;
    replies.into_iter().for_each(|r| check_get(&r.expect("GET")));
    TASKS as u64
}

/// One cell on the async multiplexed connection, driven by `smol::block_on`.
pub fn run_async(c: &mut MultiplexedConnection, w: Workload, secs: Duration) -> Option<Sample> {
    smol::block_on(async {
        Some(match w {
            Workload::Set { depth } => timed!(secs, set_async(c, depth).await),
            Workload::Get { depth } => timed!(secs, get_async(c, depth).await),
            Workload::Lrange600 => timed!(secs, lrange_async(c).await),
            Workload::GetBig => timed!(secs, get_big_async(c).await),
            Workload::Tasks => timed!(secs, tasks_async(c).await),
            Workload::Joined => timed!(secs, joined_async(c).await),
        })
    })
}
