//! The fuzz crate's library: `props` holds one property per fuzz target (the targets in `fuzz_targets/` are
//! one-line wrappers), `arb` builds arbitrary `Value`s, and this file the shared scaffolding: the limit sets,
//! a loop that drains a decoder, and a comparable rendering of values and verdicts.
//!
//! Nothing here depends on libFuzzer's runtime, so `cargo test` in this crate (tests/seeds.rs) replays the
//! committed seeds and regression inputs through the same checks on a stable toolchain.

pub mod arb;
pub mod connection;
pub mod props;

use bytes::BytesMut;
use redwire::resp::{DecodeError, Decoder, Limits, Value};

/// The limit sets the targets decode under: the defaults, the "untrusted peer" set (1 MiB bulks), and a tiny
/// set that small inputs can actually exceed, so every limit check is reached.
pub fn limit_sets() -> [Limits; 3] {
    [
        Limits::default(),
        Limits { max_bulk_len: 1 << 20, max_depth: 64, max_elements: 1 << 16 },
        Limits { max_bulk_len: 16, max_depth: 4, max_elements: 8 },
    ]
}

/// How decoding a byte stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No error; these bytes are still in the buffer (an incomplete value, or nothing).
    Incomplete(Vec<u8>),
    /// A fatal error, rendered by [`error_key`].
    Failed(String),
}

/// Decodes values off the front of `buf` until the decoder needs more bytes or fails; appends each value's
/// `Debug` rendering (so a NaN double equals itself) to `out`.
pub fn drain(decoder: &mut Decoder, buf: &mut BytesMut, out: &mut Vec<String>) -> Result<(), DecodeError> {
    loop {
        let before = buf.len();
        match decoder.decode(buf)? {
            Some(v) => {
                assert!(buf.len() < before, "a value was returned without consuming bytes: {v:?}");
                out.push(format!("{v:?}"));
            }
            None => return Ok(()),
        }
    }
}

/// An error as compared between runs: its `Debug` form, except that a text line's `TooLong` length is how
/// much of the line had arrived when the decoder gave up, which depends on where reads were cut (the variant
/// and the limit must not).
pub fn error_key(e: &DecodeError) -> String {
    match e {
        DecodeError::TooLong { limit, .. } => format!("TooLong {{ limit: {limit} }}"),
        e => format!("{e:?}"),
    }
}

/// What decoding a byte stream produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The values, rendered with `Debug` (so a NaN double equals itself).
    pub values: Vec<String>,
    /// How it ended.
    pub verdict: Verdict,
}

/// Decodes `input` in one piece.
pub fn decode_whole(limits: Limits, input: &[u8]) -> Run {
    decode_chunked(limits, input, &[input.len()]).0
}

/// Decodes `input` appended in pieces of the given sizes (cycled; a size of 0 counts as 1), draining after
/// each piece and stopping at the first error, as a connection reading a socket would. Also returns the
/// decoder's [`Decoder::bytes_examined`].
pub fn decode_chunked(limits: Limits, input: &[u8], sizes: &[usize]) -> (Run, u64) {
    let mut decoder = Decoder::with_limits(limits);
    let mut buf = BytesMut::new();
    let mut values = Vec::new();
    let mut sizes = sizes.iter().copied().cycle();
    let mut rest = input;
    let mut result = drain(&mut decoder, &mut buf, &mut values);
    while result.is_ok() && !rest.is_empty() {
        let n = sizes.next().unwrap_or(1).clamp(1, rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        result = drain(&mut decoder, &mut buf, &mut values);
    }
    let verdict = match result {
        Ok(()) => Verdict::Incomplete(buf.to_vec()),
        Err(e) => Verdict::Failed(error_key(&e)),
    };
    (Run { values, verdict }, decoder.bytes_examined())
}

/// Encodes a value into fresh bytes.
pub fn encode(v: &Value) -> BytesMut {
    let mut buf = BytesMut::new();
    v.encode(&mut buf);
    buf
}
