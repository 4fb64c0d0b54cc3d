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
