//! The `Connection` state machine without I/O: what the core costs per request on top of the decoder.
//!
//! Each benchmark sends requests, takes the bytes to write, feeds canned server replies in 16 KiB slices
//! (the way socket reads arrive) and drains the events, then checks what came out (event count and a
//! checksum), so a state machine that skips work fails loudly instead of looking fast.
//!
//! Run: `cargo bench --bench connection` (add `-- <filter>` for one workload).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use redwire::config::Protocol;
use redwire::resp::Value;
use redwire::{Cmd, Config, Connection, Event, Pipeline};
use std::hint::black_box;
use std::time::{Duration, Instant};

const READ: usize = 16 * 1024;
const N: usize = 10_000;

fn ready(protocol: Protocol) -> Connection {
    let mut conn = Connection::new(
        Config::default().with_protocol(protocol).with_response_timeout(Duration::from_secs(5)),
    );
    if protocol == Protocol::Resp3 {
        let _ = conn.poll_transmit();
        conn.handle_input(b"%1\r\n$5\r\nproto\r\n:3\r\n");
    }
    assert!(matches!(conn.poll_event(), Ok(Some(Event::Ready))));
    conn
}

/// Feeds `replies` in socket-sized slices through `read_buf`, draining events; returns (events, checksum).
fn feed(conn: &mut Connection, replies: &[u8]) -> (usize, u64) {
    let (mut events, mut sum) = (0, 0u64);
    for slice in replies.chunks(READ) {
        conn.read_buf().extend_from_slice(slice);
        while let Some(event) = conn.poll_event().expect("valid replies") {
            events += 1;
            sum += match event {
                Event::Reply { value: Value::BulkString(b), .. } => b.len() as u64,
                Event::Pipeline { values, .. } => values.len() as u64,
                Event::Message(m) => m.channel.len() as u64,
                other => panic!("unexpected {other:?}"),
            };
        }
    }
    (events, sum)
}

fn bulk_replies(n: usize, payload: &str) -> Vec<u8> {
    format!("${}\r\n{payload}\r\n", payload.len()).repeat(n).into_bytes()
}

fn requests(c: &mut Criterion) {
    let mut group = c.benchmark_group("connection");
    let replies = bulk_replies(N, "value-of-16-byte");
    group.throughput(Throughput::Bytes(replies.len() as u64));
    let cmd = Cmd::new("GET").arg("key:000000");
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        group.bench_function(format!("10k single GETs/{protocol:?}"), |b| {
            b.iter(|| {
                let mut conn = ready(protocol);
                let now = Instant::now();
                for _ in 0..N {
                    conn.send(&cmd, now).unwrap();
                }
                let out = conn.poll_transmit().unwrap();
                assert_eq!(out.len(), N * 30);
                let (events, sum) = feed(&mut conn, &replies);
                assert_eq!((events, sum), (N, 16 * N as u64));
                black_box(conn.in_flight())
            })
        });
    }
    let pipe: Pipeline = (0..N).map(|_| cmd.clone()).collect();
    group.bench_function("10k-command pipeline", |b| {
        b.iter(|| {
            let mut conn = ready(Protocol::Resp2);
            conn.send_pipeline(&pipe, Instant::now()).unwrap();
            assert_eq!(conn.poll_transmit().unwrap().len(), N * 30);
            assert_eq!(feed(&mut conn, &replies), (1, N as u64));
        })
    });
    let pushes =
        ">3\r\n$7\r\nmessage\r\n$8\r\nchannel1\r\n$16\r\nvalue-of-16-byte\r\n".repeat(N).into_bytes();
    group.throughput(Throughput::Bytes(pushes.len() as u64));
    group.bench_function("10k RESP3 pub/sub messages", |b| {
        b.iter(|| {
            let mut conn = ready(Protocol::Resp3);
            assert_eq!(feed(&mut conn, &pushes), (N, 8 * N as u64));
        })
    });
    group.finish();
}

criterion_group!(benches, requests);
criterion_main!(benches);
