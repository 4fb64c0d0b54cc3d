//! Automatic pipelining on smol: N = 100 concurrent GETs on one client, against one explicit pipeline of
//! the same 100 GETs, against a real server (tests/support). The target: concurrent requests
//! reach at least 0.8× the explicit pipeline's throughput.
//!
//! - `explicit_pipeline`: one `pipeline().transaction(false)` of 100 GETs.
//! - `joined_futures`: 100 GET futures polled together in one task (no spawn).
//! - `spawned_tasks`: 100 tasks spawned on smol's executor, each awaiting one GET.
//! - `spawned_noop_tasks`: the same 100 spawns without the GET: the executor's share of `spawned_tasks`.
//!
//! Run: `cargo bench --bench async_pipelining --features smol`. Every iteration checks the values it got.

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use redwire::cmd::{Commands, PipelineCommands};
use redwire::smol::Client;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

const N: usize = 100;

/// Polls every future until all are done; their outputs in order.
async fn join_all<T>(futures: Vec<Pin<Box<dyn Future<Output = T> + Send + '_>>>) -> Vec<T> {
    let mut slots: Vec<_> = futures.into_iter().map(|f| (Some(f), None)).collect();
    std::future::poll_fn(|cx: &mut Context<'_>| {
        let mut pending = false;
        for (future, out) in &mut slots {
            if let Some(f) = future {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *future = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    slots.into_iter().map(|(_, out)| out.expect("every future finished")).collect()
}

fn keys() -> Vec<String> {
    (0..N).map(|i| format!("key:{i}")).collect()
}

fn check(values: &[String]) {
    assert_eq!(values.len(), N);
    for (i, v) in values.iter().enumerate() {
        assert_eq!(v, &format!("value:{i}"));
    }
}

fn bench(c: &mut Criterion) {
    let server = support::Server::start();
    let client = Client::open(&server.url()).expect("URL");
    let keys = keys();
    smol::block_on(async {
        let mut p = client.pipeline().transaction(false);
        for (i, k) in keys.iter().enumerate() {
            p.set(k, format!("value:{i}"));
        }
        p.execute::<()>().await.expect("setup");
    });

    let mut group = c.benchmark_group("async_pipelining_100_gets");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("explicit_pipeline", |b| {
        b.iter(|| {
            smol::block_on(async {
                let mut p = client.pipeline().transaction(false);
                for k in &keys {
                    p.get(k);
                }
                let values: Vec<String> = p.execute().await.expect("pipeline");
                check(&values);
            })
        })
    });
    group.bench_function("joined_futures", |b| {
        b.iter(|| {
            smol::block_on(async {
                let futures = keys
                    .iter()
                    .map(|k| {
                        Box::pin(client.get::<String>(k))
                            as Pin<Box<dyn Future<Output = redwire::Result<String>> + Send>>
                    })
                    .collect();
                let values: Vec<String> =
                    join_all(futures).await.into_iter().map(|r| r.expect("GET")).collect();
                check(&values);
            })
        })
    });
    group.bench_function("spawned_tasks", |b| {
        b.iter(|| {
            smol::block_on(async {
                let tasks: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        let (c, k) = (client.clone(), k.clone());
                        smol::spawn(async move { c.get::<String>(k).await.expect("GET") })
                    })
                    .collect();
                let mut values = Vec::with_capacity(N);
                for t in tasks {
                    values.push(t.await);
                }
                check(&values);
            })
        })
    });
    group.bench_function("spawned_noop_tasks", |b| {
        b.iter(|| {
            smol::block_on(async {
                let tasks: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        let (c, k) = (client.clone(), k.clone());
                        smol::spawn(async move { (c, k).1.len() })
                    })
                    .collect();
                let mut total = 0;
                for t in tasks {
                    total += t.await;
                }
                assert!(total >= 5 * N);
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
