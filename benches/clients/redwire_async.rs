//! redwire's async clients in the table, once for every runtime: one `futures_io::Client<R>` (its one
//! shared connection, automatic pipelining), commands through the typed `Commands` methods, pipelines
//! with `pipeline().transaction(false)`. smol and async-std differ only in [`Exec`]: how the bench
//! blocks on a future and spawns a task. Every batch checks its replies.
//!
//! Two forms of "100 concurrent requests": [`Workload::Tasks`] spawns 100 tasks on the runtime's
//! executor (as a server handling 100 requests would), [`Workload::Joined`] polls 100 futures in the
//! bench's own task (no executor involved). Both are compared with the same client's explicit pipeline
//! of 100 (`GET 16 B, pipeline 100`).

use crate::join::join_all;
use crate::measure::{timed, Sample};
use crate::workload::*;
use bytes::Bytes;
use redwire::cmd::{Commands, PipelineCommands};
use redwire::futures_io::{Client, Rt};
use redwire::resp::Value;
use std::future::Future;
use std::time::Duration;

/// What the bench needs of a runtime besides what the client needs ([`Rt`]).
pub trait Exec: Rt {
    /// Runs `f` to completion on the calling thread.
    fn block_on<T>(f: impl Future<Output = T>) -> T;
    /// Spawns `f` on the runtime's executor; the returned future awaits its output.
    fn spawn_task<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> impl Future<Output = T>;
}

#[cfg(feature = "smol")]
impl Exec for redwire::smol::Smol {
    fn block_on<T>(f: impl Future<Output = T>) -> T {
        smol::block_on(f)
    }
    fn spawn_task<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> impl Future<Output = T> {
        smol::spawn(f)
    }
}

#[cfg(feature = "async-std")]
impl Exec for redwire::async_std::AsyncStd {
    fn block_on<T>(f: impl Future<Output = T>) -> T {
        async_std::task::block_on(f)
    }
    fn spawn_task<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> impl Future<Output = T> {
        async_std::task::spawn(f)
    }
}

fn check_ok(v: &Value) {
    assert!(matches!(v, Value::SimpleString(s) if &s[..] == b"OK"), "SET replied {v:?}");
}

async fn set<R: Rt>(c: &Client<R>, depth: usize) -> u64 {
    if depth == 1 {
        check_ok(&c.set::<Value>(SET_KEY, VALUE16).await.expect("SET"));
        return 1;
    }
    let mut p = c.pipeline().transaction(false);
    for _ in 0..depth {
        p.set(SET_KEY, VALUE16);
    }
    let replies = p.execute_raw().await.expect("SET pipeline");
    assert_eq!(replies.len(), depth);
    replies.iter().for_each(check_ok);
    depth as u64
}

async fn get<R: Rt>(c: &Client<R>, depth: usize) -> u64 {
    if depth == 1 {
        check_get(&c.get::<Bytes>(GET_KEY).await.expect("GET"));
        return 1;
    }
    let mut p = c.pipeline().transaction(false);
    for _ in 0..depth {
        p.get(GET_KEY);
    }
    let replies: Vec<Bytes> = p.execute().await.expect("GET pipeline");
    assert_eq!(replies.len(), depth);
    replies.iter().for_each(|r| check_get(r));
    depth as u64
}

async fn lrange<R: Rt>(c: &Client<R>) -> u64 {
    let items: Vec<Bytes> = c.lrange(LIST_KEY, 0, LIST_LEN as i64 - 1).await.expect("LRANGE");
    check_lrange(items.len(), &items[0], &items[items.len() - 1]);
    1
}

async fn get_big<R: Rt>(c: &Client<R>) -> u64 {
    check_big(&c.get::<Bytes>(BIG_KEY).await.expect("GET 1 MiB"));
    1
}

/// [`TASKS`] tasks spawned on the runtime's executor, each with a clone of the client, each awaiting
/// one GET.
async fn tasks<R: Exec>(c: &Client<R>) -> u64 {
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let c = c.clone();
            R::spawn_task(async move { c.get::<Bytes>(GET_KEY).await.expect("GET") })
        })
        .collect();
    for t in tasks {
        check_get(&t.await);
    }
    TASKS as u64
}

/// [`TASKS`] GET futures polled together in this task.
async fn joined<R: Rt>(c: &Client<R>) -> u64 {
    let replies = join_all((0..TASKS).map(|_| c.get::<Bytes>(GET_KEY))).await;
    replies.into_iter().for_each(|r| check_get(&r.expect("GET")));
    TASKS as u64
}

/// One cell, driven by the runtime's `block_on`.
pub fn run<R: Exec>(c: &Client<R>, w: Workload, secs: Duration) -> Option<Sample> {
    R::block_on(async {
        Some(match w {
            Workload::Set { depth } => timed!(secs, set(c, depth).await),
            Workload::Get { depth } => timed!(secs, get(c, depth).await),
            Workload::Lrange600 => timed!(secs, lrange(c).await),
            Workload::GetBig => timed!(secs, get_big(c).await),
            Workload::Tasks => timed!(secs, tasks(c).await),
            Workload::Joined => timed!(secs, joined(c).await),
        })
    })
}
