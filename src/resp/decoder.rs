//! The resumable, bounded, zero-copy RESP2/RESP3 decoder.

use super::Value;
use bytes::BytesMut;

/// Bounds on what the decoder accepts from the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum nesting of aggregates (default 1024).
    pub max_depth: usize,
    /// Maximum length of one bulk/blob string, in bytes (default 512 MiB).
    pub max_bulk_len: usize,
    /// Maximum number of elements of one aggregate (default 2^32).
    pub max_elements: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_depth: 1024, max_bulk_len: 512 * 1024 * 1024, max_elements: 1 << 32 }
    }
}

/// A decoding failure. Fatal: the connection that produced it must be discarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Placeholder until the decoder lands.
    #[error("invalid RESP: {0}")]
    Invalid(String),
}

/// The resumable RESP decoder.
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
}

impl Decoder {
    /// A decoder with default [`Limits`].
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: Limits) -> Decoder {
        Decoder { limits }
    }

    /// Decodes one value from the front of `buf`.
    ///
    /// # Errors
    /// A [`DecodeError`] when the bytes are not valid RESP; sticky.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Value>, DecodeError> {
        let _ = (buf, self.limits);
        Err(DecodeError::Invalid("decoder not yet implemented".into()))
    }
}
