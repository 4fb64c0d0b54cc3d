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
//! `benches/clients.rs` has the same comparison (on both runtimes, beside the redis crate) in its table;
//! this one, with criterion's statistics, adds the executor's own cost (`spawned_noop_tasks`).

#[path = "clients/join.rs"]
mod join;
#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use join::join_all;
use redwire::cmd::{Commands, PipelineCommands};
use redwire::smol::Client;

const N: usize = 100;

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
                let values: Vec<String> = join_all(keys.iter().map(|k| client.get::<String>(k)))
                    .await
                    .into_iter()
                    .map(|r| r.expect("GET"))
                    .collect();
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
