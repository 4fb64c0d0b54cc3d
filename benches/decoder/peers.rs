//! The Rust parsers, each behind `redwire::resp::ReplyParser`, each tallying what it parsed into a [`Sum`].
//!
//! An adapter only calls the parser and walks its output the way a user would; it must not help or hinder
//! (no extra copies, no shortcuts). Workload definitions and measuring live elsewhere.

use super::workloads::{Sum, Tally};
use bytes::BytesMut;
use redwire::resp::{Decoder, Limits, ReplyParser, Value};

/// redwire's `Decoder`.
pub struct Redwire(Decoder, Sum);

impl Redwire {
    pub fn new() -> Redwire {
        Redwire(Decoder::new(), Sum::default())
    }
    /// With a bulk limit above 2 GiB, so `$2147483647` is "incomplete" as for the peers, which have none.
    pub fn unlimited() -> Redwire {
        let limits = Limits { max_bulk_len: u32::MAX as usize, ..Limits::default() };
        Redwire(Decoder::with_limits(limits), Sum::default())
    }
}

fn add_redwire(v: &Value, s: &mut Sum) {
    match v {
        Value::BulkString(b) | Value::SimpleString(b) | Value::Error(b) => s.leaf(b.len() as u64),
        Value::Integer(i) => s.leaf(*i as u64),
        Value::Null => s.leaf(0),
        Value::Array(items) | Value::Set(items) | Value::Push(items) => {
            items.iter().for_each(|v| add_redwire(v, s))
        }
        Value::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            add_redwire(k, s);
            add_redwire(v, s);
        }),
        other => panic!("no workload sends {other:?}"),
    }
}

impl ReplyParser for Redwire {
    type Output = ();
    type Error = String;
    #[inline]
    fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<()>, String> {
        match self.0.decode(buf) {
            Ok(Some(v)) => {
                self.1.replies += 1;
                add_redwire(&v, &mut self.1);
                Ok(Some(()))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl Tally for Redwire {
    fn tally(&self) -> Sum {
        self.1
    }
}

/// `redis-protocol`'s RESP2 decoder (`resp2::decode::decode_bytes_mut`, zero-copy `BytesFrame`s).
#[derive(Default)]
pub struct RedisProtocol2(Sum);

impl ReplyParser for RedisProtocol2 {
    type Output = ();
    type Error = String;
    #[inline]
    fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<()>, String> {
        use redis_protocol::resp2::types::BytesFrame as F;
        fn add(f: &F, s: &mut Sum) {
            match f {
                F::BulkString(b) | F::SimpleString(b) => s.leaf(b.len() as u64),
                F::Error(e) => s.leaf(e.len() as u64),
                F::Integer(i) => s.leaf(*i as u64),
                F::Null => s.leaf(0),
                F::Array(items) => items.iter().for_each(|f| add(f, s)),
            }
        }
        match redis_protocol::resp2::decode::decode_bytes_mut(buf) {
            Ok(Some((f, _, _))) => {
                self.0.replies += 1;
                add(&f, &mut self.0);
                Ok(Some(()))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl Tally for RedisProtocol2 {
    fn tally(&self) -> Sum {
        self.0
    }
}

/// `redis-protocol`'s RESP3 decoder (`resp3::decode::complete::decode_bytes_mut`).
#[derive(Default)]
pub struct RedisProtocol3(Sum);

impl ReplyParser for RedisProtocol3 {
    type Output = ();
    type Error = String;
    #[inline]
    fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<()>, String> {
        use redis_protocol::resp3::types::BytesFrame as F;
        fn add(f: &F, s: &mut Sum) {
            match f {
                F::BlobString { data, .. } | F::SimpleString { data, .. } => s.leaf(data.len() as u64),
                F::Number { data, .. } => s.leaf(*data as u64),
                F::Null => s.leaf(0),
                F::Array { data, .. } | F::Push { data, .. } => data.iter().for_each(|f| add(f, s)),
                F::Set { data, .. } => data.iter().for_each(|f| add(f, s)),
                F::Map { data, .. } => data.iter().for_each(|(k, v)| {
                    add(k, s);
                    add(v, s);
                }),
                other => panic!("no workload sends {other:?}"),
            }
        }
        match redis_protocol::resp3::decode::complete::decode_bytes_mut(buf) {
            Ok(Some((f, _, _))) => {
                self.0.replies += 1;
                add(&f, &mut self.0);
                Ok(Some(()))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl Tally for RedisProtocol3 {
    fn tally(&self) -> Sum {
        self.0
    }
}

/// The `redis` crate's resumable parser, `ValueCodec`: the one its async clients decode replies with (its
/// partial-parse state survives an incomplete buffer, like redwire's).
#[derive(Default)]
pub struct RedisRs(redis::ValueCodec, Sum);

impl ReplyParser for RedisRs {
    type Output = ();
    type Error = String;
    #[inline]
    fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<()>, String> {
        use redis::Value as V;
        use tokio_util::codec::Decoder as _;
        fn add(v: &V, s: &mut Sum) {
            match v {
                V::BulkString(b) => s.leaf(b.len() as u64),
                V::SimpleString(t) => s.leaf(t.len() as u64),
                V::Okay => s.leaf(2),
                V::Int(i) => s.leaf(*i as u64),
                V::Nil => s.leaf(0),
                V::Array(items) | V::Set(items) => items.iter().for_each(|v| add(v, s)),
                V::Map(pairs) => pairs.iter().for_each(|(k, v)| {
                    add(k, s);
                    add(v, s);
                }),
                other => panic!("no workload sends {other:?}"),
            }
        }
        match self.0.decode(buf) {
            Ok(Some(v)) => {
                self.1.replies += 1;
                add(&v, &mut self.1);
                Ok(Some(()))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl Tally for RedisRs {
    fn tally(&self) -> Sum {
        self.1
    }
}
