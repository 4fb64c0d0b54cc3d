//! The Rust parsers, each behind `redwire::resp::ReplyParser`, each reducing what it parsed to a [`Sum`].
//!
//! An adapter only calls the parser and walks its output the way a user would; it must not help or hinder
//! (no extra copies, no shortcuts). Workload definitions and measuring live elsewhere.

use super::workloads::Sum;
use bytes::BytesMut;
use redwire::resp::{Decoder, Limits, ReplyParser, Value};

/// redwire's `Decoder`.
pub struct Redwire(pub Decoder);

impl Redwire {
    pub fn new() -> Redwire {
        Redwire(Decoder::new())
    }
    /// With a bulk limit above 2 GiB, so `$2147483647` is "incomplete" as for the peers, which have none.
    pub fn unlimited() -> Redwire {
        Redwire(Decoder::with_limits(Limits { max_bulk_len: u32::MAX as usize, ..Limits::default() }))
    }
}

fn sum_redwire(v: &Value) -> Sum {
    match v {
        Value::BulkString(b) | Value::SimpleString(b) | Value::Error(b) => Sum::leaf(b.len() as u64),
        Value::Integer(i) => Sum::leaf(*i as u64),
        Value::Null => Sum::leaf(0),
        Value::Array(items) | Value::Set(items) | Value::Push(items) => items.iter().map(sum_redwire).sum(),
        Value::Map(pairs) => pairs.iter().map(|(k, v)| sum_redwire(k) + sum_redwire(v)).sum(),
        other => panic!("no workload sends {other:?}"),
    }
}

impl ReplyParser for Redwire {
    type Output = Sum;
    type Error = String;
    #[inline]
    fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Sum>, String> {
        Ok(self.0.decode(buf).map_err(|e| e.to_string())?.map(|v| sum_redwire(&v).reply()))
    }
}

/// `redis-protocol`'s RESP2 decoder (`resp2::decode::decode_bytes_mut`, zero-copy `BytesFrame`s).
pub struct RedisProtocol2;

impl ReplyParser for RedisProtocol2 {
    type Output = Sum;
    type Error = String;
    #[inline]
    fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Sum>, String> {
        use redis_protocol::resp2::types::BytesFrame as F;
        fn sum(f: &F) -> Sum {
            match f {
                F::BulkString(b) | F::SimpleString(b) => Sum::leaf(b.len() as u64),
                F::Error(s) => Sum::leaf(s.len() as u64),
                F::Integer(i) => Sum::leaf(*i as u64),
                F::Null => Sum::leaf(0),
                F::Array(items) => items.iter().map(sum).sum(),
            }
        }
        let r = redis_protocol::resp2::decode::decode_bytes_mut(buf).map_err(|e| e.to_string())?;
        Ok(r.map(|(f, _, _)| sum(&f).reply()))
    }
}

/// `redis-protocol`'s RESP3 decoder (`resp3::decode::complete::decode_bytes_mut`).
pub struct RedisProtocol3;

impl ReplyParser for RedisProtocol3 {
    type Output = Sum;
    type Error = String;
    #[inline]
    fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Sum>, String> {
        use redis_protocol::resp3::types::BytesFrame as F;
        fn sum(f: &F) -> Sum {
            match f {
                F::BlobString { data, .. } | F::SimpleString { data, .. } => Sum::leaf(data.len() as u64),
                F::Number { data, .. } => Sum::leaf(*data as u64),
                F::Null => Sum::leaf(0),
                F::Array { data, .. } | F::Push { data, .. } => data.iter().map(sum).sum(),
                F::Set { data, .. } => data.iter().map(sum).sum(),
                F::Map { data, .. } => data.iter().map(|(k, v)| sum(k) + sum(v)).sum(),
                other => panic!("no workload sends {other:?}"),
            }
        }
        let r = redis_protocol::resp3::decode::complete::decode_bytes_mut(buf).map_err(|e| e.to_string())?;
        Ok(r.map(|(f, _, _)| sum(&f).reply()))
    }
}

/// The `redis` crate's resumable parser, `ValueCodec`: the one its async clients decode replies with (its
/// partial-parse state survives an incomplete buffer, like redwire's).
#[derive(Default)]
pub struct RedisRs(redis::ValueCodec);

impl ReplyParser for RedisRs {
    type Output = Sum;
    type Error = String;
    #[inline]
    fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Sum>, String> {
        use redis::Value as V;
        use tokio_util::codec::Decoder as _;
        fn sum(v: &V) -> Sum {
            match v {
                V::BulkString(b) => Sum::leaf(b.len() as u64),
                V::SimpleString(s) => Sum::leaf(s.len() as u64),
                V::Okay => Sum::leaf(2),
                V::Int(i) => Sum::leaf(*i as u64),
                V::Nil => Sum::leaf(0),
                V::Array(items) | V::Set(items) => items.iter().map(sum).sum(),
                V::Map(pairs) => pairs.iter().map(|(k, v)| sum(k) + sum(v)).sum(),
                other => panic!("no workload sends {other:?}"),
            }
        }
        Ok(self.0.decode(buf).map_err(|e| e.to_string())?.map(|v| sum(&v).reply()))
    }
}
