//! Parsers side by side on identical inputs, through `redwire::resp::ReplyParser`: redwire's `Decoder`,
//! the `redis-protocol` crate (RESP2 and RESP3 decoders) and the `redis` crate's parser.
//!
//! Every benchmark checks what it parsed (value count and a checksum over payload lengths), so a parser
//! that skips work fails loudly instead of looking fast. Inputs are fed in 16 KiB slices, the way socket
//! reads arrive.
//!
//! Run: `cargo bench --bench decoder` (add `-- <filter>` for one workload).

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use redwire::resp::{Decoder, ReplyParser, Value};
use std::hint::black_box;

const READ: usize = 16 * 1024;

/// A checksum over what a parser produced: (values, sum of payload lengths and integers).
type Sum = (u64, u64);

struct Redwire(Decoder);
impl ReplyParser for Redwire {
    type Output = Sum;
    type Error = String;
    fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Sum>, String> {
        fn sum(v: &Value) -> u64 {
            match v {
                Value::BulkString(b) | Value::SimpleString(b) => b.len() as u64,
                Value::Integer(i) => *i as u64,
                Value::Array(items) | Value::Set(items) | Value::Push(items) => items.iter().map(sum).sum(),
                Value::Map(pairs) => pairs.iter().map(|(k, v)| sum(k) + sum(v)).sum(),
                _ => 0,
            }
        }
        Ok(self.0.decode(buf).map_err(|e| e.to_string())?.map(|v| (1, sum(&v))))
    }
}

struct RedisProtocol2;
impl ReplyParser for RedisProtocol2 {
    type Output = Sum;
    type Error = String;
    fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Sum>, String> {
        use redis_protocol::resp2::types::BytesFrame as F;
        fn sum(f: &F) -> u64 {
            match f {
                F::BulkString(b) | F::SimpleString(b) => b.len() as u64,
                F::Integer(i) => *i as u64,
                F::Array(items) => items.iter().map(sum).sum(),
                _ => 0,
            }
        }
        let r = redis_protocol::resp2::decode::decode_bytes_mut(buf).map_err(|e| e.to_string())?;
        Ok(r.map(|(f, _, _)| (1, sum(&f))))
    }
}

struct RedisProtocol3;
impl ReplyParser for RedisProtocol3 {
    type Output = Sum;
    type Error = String;
    fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Sum>, String> {
        use redis_protocol::resp3::types::BytesFrame as F;
        fn sum(f: &F) -> u64 {
            match f {
                F::BlobString { data, .. } | F::SimpleString { data, .. } => data.len() as u64,
                F::Number { data, .. } => *data as u64,
                F::Array { data, .. } | F::Push { data, .. } => data.iter().map(sum).sum(),
                F::Set { data, .. } => data.iter().map(sum).sum(),
                F::Map { data, .. } => data.iter().map(|(k, v)| sum(k) + sum(v)).sum(),
                _ => 0,
            }
        }
        let r = redis_protocol::resp3::decode::complete::decode_bytes_mut(buf).map_err(|e| e.to_string())?;
        Ok(r.map(|(f, _, _)| (1, sum(&f))))
    }
}

/// The `redis` crate's parser works on complete input (its sync client reads through a `BufReader`);
/// here it is handed the buffer and advanced by what it consumed, retrying when a value is incomplete.
struct RedisRs;
impl ReplyParser for RedisRs {
    type Output = Sum;
    type Error = String;
    fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Sum>, String> {
        use redis::Value as V;
        fn sum(v: &V) -> u64 {
            match v {
                V::BulkString(b) => b.len() as u64,
                V::SimpleString(s) => s.len() as u64,
                V::Okay => 2,
                V::Int(i) => *i as u64,
                V::Array(items) | V::Set(items) => items.iter().map(sum).sum(),
                V::Map(pairs) => pairs.iter().map(|(k, v)| sum(k) + sum(v)).sum(),
                _ => 0,
            }
        }
        if buf.is_empty() {
            return Ok(None);
        }
        let mut reader: &[u8] = &buf[..];
        match redis::Parser::new().parse_value(&mut reader) {
            Ok(v) => {
                let used = buf.len() - reader.len();
                let _ = buf.split_to(used);
                Ok(Some((1, sum(&v))))
            }
            Err(e) if e.is_io_error() => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Feeds `input` in 16 KiB slices and drains every value, returning the checksum.
fn run<P: ReplyParser<Output = Sum>>(p: &mut P, input: &[u8]) -> Sum
where
    P::Error: std::fmt::Debug,
{
    let mut buf = BytesMut::with_capacity(READ * 2);
    let mut total = (0, 0);
    for chunk in input.chunks(READ) {
        buf.extend_from_slice(chunk);
        while let Some((n, s)) = p.parse(&mut buf).expect("valid input") {
            total.0 += n;
            total.1 += s;
        }
    }
    assert!(buf.is_empty(), "input left unparsed");
    total
}

fn lrange_like(arrays: usize, items: usize) -> Vec<u8> {
    let mut one = format!("*{items}\r\n").into_bytes();
    for i in 0..items {
        one.extend_from_slice(format!("$16\r\n{i:016}\r\n").as_bytes());
    }
    one.repeat(arrays)
}

fn bench(c: &mut Criterion) {
    let workloads: Vec<(&str, Vec<u8>, bool, Sum)> = vec![
        ("lrange_600x16B", lrange_like(1000, 600), true, (1000, 1000 * 600 * 16)),
        ("ok_x100k", b"+OK\r\n".repeat(100_000), true, (100_000, 200_000)),
        ("int_x100k", b":12345\r\n".repeat(100_000), true, (100_000, 1_234_500_000)),
    ];
    for (name, input, resp2, expected) in &workloads {
        let mut g = c.benchmark_group(format!("decode/{name}"));
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.sample_size(20);
        g.bench_with_input(BenchmarkId::from_parameter("redwire"), input, |b, i| {
            b.iter(|| assert_eq!(run(&mut Redwire(Decoder::new()), black_box(i)), *expected))
        });
        if *resp2 {
            g.bench_with_input(BenchmarkId::from_parameter("redis-protocol-resp2"), input, |b, i| {
                b.iter(|| assert_eq!(run(&mut RedisProtocol2, black_box(i)), *expected))
            });
        }
        g.bench_with_input(BenchmarkId::from_parameter("redis-protocol-resp3"), input, |b, i| {
            b.iter(|| assert_eq!(run(&mut RedisProtocol3, black_box(i)), *expected))
        });
        g.bench_with_input(BenchmarkId::from_parameter("redis-rs"), input, |b, i| {
            b.iter(|| assert_eq!(run(&mut RedisRs, black_box(i)), *expected))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
