//! The RESP2 + RESP3 codec: [`Value`], the resumable [`Decoder`], and the encoder.
//!
//! This module knows bytes and nothing else: no connection state, no commands, no I/O.
//!
//! ```
//! use bytes::BytesMut;
//! use redwire::resp::{Decoder, Value};
//!
//! let mut buf = BytesMut::from(&b"*2\r\n$3\r\nfoo\r\n:4"[..]);
//! let mut decoder = Decoder::new();
//! assert_eq!(decoder.decode(&mut buf).unwrap(), None); // need more bytes
//! buf.extend_from_slice(b"2\r\n");
//! let value = decoder.decode(&mut buf).unwrap().unwrap();
//! assert_eq!(value, Value::Array(vec![Value::BulkString("foo".into()), Value::Integer(42)]));
//! assert!(buf.is_empty());
//! ```

mod decoder;
pub(crate) mod encoder;
mod value;

pub use decoder::{DecodeError, Decoder, Limits};
pub use encoder::encode_command;
pub use value::Value;

use bytes::BytesMut;

/// A pluggable RESP parser: anything that splits complete values off the front of a read buffer.
///
/// [`Decoder`] is redwire's implementation. The benchmarks in `benches/` drive other crates' parsers
/// through this same trait on identical inputs, and a [`Connection`](crate::Connection) can be given any
/// parser whose output is a [`Value`].
pub trait ReplyParser {
    /// What one parsed reply is.
    type Output;
    /// What a parse failure is (fatal for the connection).
    type Error;
    /// Splits the next complete reply off the front of `buf`, or returns `Ok(None)` when more bytes are
    /// needed (keeping whatever progress it made).
    ///
    /// # Errors
    ///
    /// When the bytes are not valid RESP.
    fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Output>, Self::Error>;

    /// At least how many more bytes `buf` needs before the next `parse` can return a value; 0 when the
    /// parser cannot tell (the default). See [`Decoder::bytes_needed`].
    fn bytes_needed(&self, buf: &BytesMut) -> usize {
        let _ = buf;
        0
    }
}

impl ReplyParser for Decoder {
    type Output = Value;
    type Error = DecodeError;
    fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Value>, DecodeError> {
        self.decode(buf)
    }
    fn bytes_needed(&self, buf: &BytesMut) -> usize {
        Decoder::bytes_needed(self, buf.len())
    }
}
