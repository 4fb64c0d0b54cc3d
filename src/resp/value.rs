//! [`Value`]: one enum for every RESP2 and RESP3 frame. Payloads are `Bytes` slices of the read buffer.

use bytes::{Bytes, BytesMut};

/// A decoded RESP2 or RESP3 value.
///
/// String-like payloads are [`Bytes`] sliced from the buffer the decoder read, so no reply bytes are copied.
/// RESP3 streamed strings and streamed aggregates are assembled into the ordinary variants.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// RESP2 `$-1` and `*-1`, RESP3 `_`.
    Null,
    /// `+OK`.
    SimpleString(Bytes),
    /// `-ERR ...` (simple error) or `!<len>` (blob error).
    Error(Bytes),
    /// `:42`.
    Integer(i64),
    /// `$3\r\nfoo`.
    BulkString(Bytes),
    /// `*<n>`.
    Array(Vec<Value>),
    /// RESP3 `,3.14`, including `inf`, `-inf` and `nan`.
    Double(f64),
    /// RESP3 `#t` / `#f`.
    Boolean(bool),
    /// RESP3 `(` big number, kept as its decimal digits.
    BigNumber(Bytes),
    /// RESP3 `=` verbatim string: a three-byte format (`txt`, `mkd`) and the text.
    VerbatimString {
        /// The format, such as `txt` or `mkd`.
        format: [u8; 3],
        /// The text after the `xxx:` prefix.
        text: Bytes,
    },
    /// RESP3 `%` map, in the order the server sent it.
    Map(Vec<(Value, Value)>),
    /// RESP3 `~` set, in the order the server sent it.
    Set(Vec<Value>),
    /// RESP3 `|` attribute: out-of-band data attached to the value that follows it.
    Attribute {
        /// The attribute map.
        attributes: Vec<(Value, Value)>,
        /// The value the attribute belongs to.
        value: Box<Value>,
    },
    /// RESP3 `>` push frame (pub/sub messages, client-side caching invalidations, ...).
    Push(Vec<Value>),
}

impl Value {
    /// Appends this value's RESP encoding to `buf`, in RESP3 where the value is a RESP3 type.
    ///
    /// `Null` is written as RESP3 `_`. Every variant round-trips through [`Decoder`](super::Decoder)
    /// (a `Double` NaN decodes to a NaN).
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use redwire::resp::Value;
    ///
    /// let mut buf = BytesMut::new();
    /// Value::Array(vec![Value::Integer(1), Value::BulkString("a".into())]).encode(&mut buf);
    /// assert_eq!(&buf[..], b"*2\r\n:1\r\n$1\r\na\r\n");
    /// ```
    pub fn encode(&self, buf: &mut BytesMut) {
        super::encoder::encode_value(self, buf)
    }

    /// `true` for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The error text when this is an [`Value::Error`].
    pub fn as_error(&self) -> Option<&[u8]> {
        match self {
            Value::Error(e) => Some(e),
            _ => None,
        }
    }

    /// The value without any [`Value::Attribute`] wrapper.
    #[inline]
    pub fn strip_attributes(self) -> Value {
        // A loop, not recursion: small enough to inline into every conversion of every element.
        let mut v = self;
        while let Value::Attribute { value, .. } = v {
            v = *value;
        }
        v
    }

    /// A short name of the variant, for error messages (`"bulk string"`, `"map"`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::SimpleString(_) => "simple string",
            Value::Error(_) => "error",
            Value::Integer(_) => "integer",
            Value::BulkString(_) => "bulk string",
            Value::Array(_) => "array",
            Value::Double(_) => "double",
            Value::Boolean(_) => "boolean",
            Value::BigNumber(_) => "big number",
            Value::VerbatimString { .. } => "verbatim string",
            Value::Map(_) => "map",
            Value::Set(_) => "set",
            Value::Attribute { .. } => "attribute",
            Value::Push(_) => "push",
        }
    }
}
