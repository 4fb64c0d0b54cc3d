//! The resumable, bounded, zero-copy RESP2/RESP3 decoder.
//!
//! Decoding one value takes two steps:
//!
//! 1. **scan**: parses and validates each frame header once, records it as a token, and keeps its progress
//!    in the decoder between calls, so a value arriving in many reads is examined once (O(n) in total);
//!    bulk payloads are skipped by their length, never scanned;
//! 2. **build**: once the whole value is in the buffer, splits it off the front, freezes it, and walks the
//!    tokens to build the [`Value`], whose payloads are `Bytes` slices of that frozen buffer (zero-copy).
//!
//! Nothing is allocated from a length the peer declared until the bytes it announces are in the buffer, and
//! nesting is tracked on an explicit stack bounded by [`Limits::max_depth`]: this file has no recursion.

use super::Value;
use bytes::{Bytes, BytesMut};
use std::ops::Range;

/// Bounds on what the decoder accepts from the peer.
///
/// The defaults are far above anything a real server sends; lower them for untrusted peers.
///
/// ```
/// use redwire::resp::{Decoder, Limits};
/// let decoder = Decoder::with_limits(Limits { max_bulk_len: 1 << 20, ..Limits::default() });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum nesting of aggregates (default 1024, like hiredis).
    pub max_depth: usize,
    /// Maximum length in bytes of one bulk string, blob error, verbatim string, streamed string (all chunks
    /// together) or simple line (default 512 MiB, the server's own `proto-max-bulk-len`).
    pub max_bulk_len: usize,
    /// Maximum number of elements of one aggregate, counting a map's keys and values (default 2^32).
    pub max_elements: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_depth: 1024, max_bulk_len: 512 * 1024 * 1024, max_elements: 1 << 32 }
    }
}

/// Why bytes from the peer are not valid RESP.
///
/// Every variant is **fatal**: the decoder returns it again on every later call, and the connection that
/// owns the decoder must be closed. `offset` fields count bytes from the start of the value being decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A type byte that is neither RESP2 nor RESP3.
    #[error("unknown RESP type byte 0x{byte:02x} at offset {offset}")]
    UnknownType {
        /// The offending byte.
        byte: u8,
        /// Where it stands.
        offset: usize,
    },
    /// A length or count that is not a non-negative decimal (or `-1` where RESP2 allows a null).
    #[error("invalid length or count {text:?} at offset {offset}")]
    InvalidLength {
        /// The header's text (truncated to 32 bytes).
        text: String,
        /// Where the header starts.
        offset: usize,
    },
    /// An integer, double, boolean, big number, null or end marker whose text is malformed.
    #[error("invalid {kind} {text:?} at offset {offset}")]
    InvalidScalar {
        /// What was being parsed (`"integer"`, `"double"`, ...).
        kind: &'static str,
        /// The text (truncated to 32 bytes).
        text: String,
        /// Where the header starts.
        offset: usize,
    },
    /// A line or payload not followed by `\r\n`, or a bare `\n` inside a line.
    #[error("expected CRLF at offset {offset}")]
    MissingCrlf {
        /// Where the CRLF should be.
        offset: usize,
    },
    /// Aggregates nested deeper than [`Limits::max_depth`].
    #[error("nesting deeper than the limit of {limit}")]
    TooDeep {
        /// The limit in force.
        limit: usize,
    },
    /// A bulk, blob, verbatim or streamed string, or a line, longer than [`Limits::max_bulk_len`].
    #[error("string of {len} bytes exceeds the limit of {limit}")]
    TooLong {
        /// The declared (or reached) length.
        len: u64,
        /// The limit in force.
        limit: usize,
    },
    /// An aggregate with more elements than [`Limits::max_elements`].
    #[error("aggregate of {count} elements exceeds the limit of {limit}")]
    TooManyElements {
        /// The declared (or reached) count.
        count: u64,
        /// The limit in force.
        limit: u64,
    },
    /// A frame where it cannot stand: `.` outside a streamed aggregate, `;` outside a streamed string, a
    /// map ending between a key and its value, a verbatim string without its `xxx:` prefix.
    #[error("unexpected {what} at offset {offset}")]
    Unexpected {
        /// What was found.
        what: &'static str,
        /// Where it stands.
        offset: usize,
    },
    /// The caller removed bytes from the buffer between two calls while a value was half-read.
    #[error("the read buffer shrank while a value was half-decoded; only append to it between calls")]
    BufferShrunk,
}

/// The kinds of aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agg {
    Array,
    Map,
    Set,
    Push,
    Attribute,
}

/// One parsed frame header. Ranges index the buffer the header was parsed from.
#[derive(Debug, Clone)]
enum Header {
    Simple(Range<usize>),
    Error(Range<usize>),
    Integer(i64),
    Bulk(Range<usize>),
    BlobError(Range<usize>),
    Verbatim(Range<usize>),
    Null,
    Double(f64),
    Boolean(bool),
    BigNumber(Range<usize>),
    Aggregate(Agg, u64),
    StreamedAggregate(Agg),
    StreamedString,
    Chunk(Range<usize>),
    End,
}

/// Result of parsing one header at a position.
enum Step {
    /// A complete header, and the position just after it (after its payload, for blobs).
    Done(Header, usize),
    /// Not enough bytes: nothing can change until the buffer is at least this long.
    NeedUntil(usize),
}

/// An aggregate the scan pass has opened and not yet closed.
#[derive(Debug, Clone, Copy)]
enum Open {
    /// Still expects this many child frames (a map counts keys and values).
    Counted(u64),
    /// A streamed aggregate, ending at `.`; `pairs` for maps (keys and values counted in `seen`).
    Streamed { pairs: bool, seen: u64 },
    /// A streamed string: `;` chunks until `;0`, `total` bytes so far.
    StreamedString { total: u64 },
}

/// The resumable RESP2/RESP3 decoder.
///
/// Feed it a `BytesMut` that you only ever append to (socket reads); each call to [`Decoder::decode`]
/// returns the next complete value, split off the front of the buffer, or `Ok(None)` when more bytes are
/// needed. Progress is kept between calls: a large reply arriving in many small reads is scanned once.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use redwire::resp::{Decoder, Value};
///
/// let mut decoder = Decoder::new();
/// let mut buf = BytesMut::new();
/// let mut values = Vec::new();
/// for byte in b"+OK\r\n%1\r\n+key\r\n,3.5\r\n" {
///     buf.extend_from_slice(&[*byte]); // one byte at a time, as a slow socket would deliver it
///     while let Some(v) = decoder.decode(&mut buf).unwrap() {
///         values.push(v);
///     }
/// }
/// assert_eq!(values[0], Value::SimpleString("OK".into()));
/// assert_eq!(values[1], Value::Map(vec![(Value::SimpleString("key".into()), Value::Double(3.5))]));
/// ```
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    /// The scan pass: aggregates opened by the value in progress.
    stack: Vec<Open>,
    /// Bytes of the value in progress that the scan pass has validated.
    pos: usize,
    /// Nothing can be decoded until the buffer holds at least this many bytes.
    need: usize,
    /// How far the search for the current line's CR has gone (absolute index in the buffer).
    searched: usize,
    /// The headers the scan pass parsed for the value in progress, in order; the build pass walks them.
    tokens: Vec<Header>,
    /// Sticky error.
    error: Option<DecodeError>,
    /// Bytes inspected so far (headers and line contents; bulk payloads are skipped, not inspected).
    examined: u64,
}

impl Decoder {
    /// A decoder with default [`Limits`].
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: Limits) -> Decoder {
        Decoder { limits, ..Decoder::default() }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The number of bytes this decoder has inspected so far: header lines are counted, bulk payloads are
    /// skipped by their length and not counted. A diagnostic that makes the linear cost observable.
    pub fn bytes_examined(&self) -> u64 {
        self.examined
    }

    /// `true` when the decoder holds part of a value (a later call must see the same buffer, appended to).
    pub fn is_mid_value(&self) -> bool {
        self.pos > 0
    }

    /// Decodes the next value from the front of `buf`.
    ///
    /// Returns `Ok(Some(value))` and removes that value's bytes from the front of `buf`; or `Ok(None)` when
    /// `buf` holds only part of a value (the decoder remembers how far it got, so the next call, after more
    /// bytes were appended, continues where this one stopped). Between calls, only append to `buf`.
    ///
    /// Cost: O(header bytes) per call; bulk payloads are never copied or scanned. A value is allocated
    /// only once all its bytes are in `buf`.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] when the bytes are not valid RESP or exceed the [`Limits`]. Errors are sticky: every
    /// later call returns the same error, and the connection must be discarded.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Value>, DecodeError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if buf.len() < self.pos {
            return Err(self.fail(DecodeError::BufferShrunk));
        }
        if buf.len() < self.need {
            return Ok(None);
        }
        match self.scan(buf) {
            Ok(Some(end)) => {
                let frozen = buf.split_to(end).freeze();
                let built = build(&frozen, &self.tokens);
                self.reset_scan();
                match built {
                    Ok(v) => Ok(Some(v)),
                    Err(e) => Err(self.fail(e)),
                }
            }
            Ok(None) => Ok(None),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn fail(&mut self, e: DecodeError) -> DecodeError {
        self.error = Some(e.clone());
        e
    }

    fn reset_scan(&mut self) {
        self.tokens.clear();
        if self.tokens.capacity() > 1 << 16 {
            self.tokens.shrink_to(1 << 16); // don't keep a huge reply's worth of tokens forever
        }
        self.stack.clear();
        self.pos = 0;
        self.need = 0;
        self.searched = 0;
    }

    /// The scan pass: validates frames from `self.pos` on; returns the end of the top-level value once it
    /// is entirely in `buf`.
    fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, DecodeError> {
        loop {
            let step = match self.stack.last() {
                Some(Open::StreamedString { .. }) => {
                    parse_header(buf, self.pos, &self.limits, &mut self.searched, &mut self.examined, true)?
                }
                _ => {
                    parse_header(buf, self.pos, &self.limits, &mut self.searched, &mut self.examined, false)?
                }
            };
            let (header, next) = match step {
                Step::Done(h, next) => (h, next),
                Step::NeedUntil(n) => {
                    self.need = n;
                    return Ok(None);
                }
            };
            let at = self.pos;
            self.pos = next;
            self.searched = next;
            self.tokens.push(header.clone());
            let complete = match header {
                Header::Chunk(range) => {
                    let Some(Open::StreamedString { total }) = self.stack.last_mut() else {
                        return Err(DecodeError::Unexpected { what: "string chunk `;`", offset: at });
                    };
                    if range.is_empty() {
                        self.stack.pop();
                        self.element_done()?
                    } else {
                        *total += range.len() as u64;
                        if *total > self.limits.max_bulk_len as u64 {
                            return Err(DecodeError::TooLong {
                                len: *total,
                                limit: self.limits.max_bulk_len,
                            });
                        }
                        false
                    }
                }
                Header::End => match self.stack.last() {
                    Some(Open::Streamed { pairs, seen }) => {
                        if *pairs && seen % 2 == 1 {
                            return Err(DecodeError::Unexpected {
                                what: "end of map after a key",
                                offset: at,
                            });
                        }
                        self.stack.pop();
                        self.element_done()?
                    }
                    _ => return Err(DecodeError::Unexpected { what: "end marker `.`", offset: at }),
                },
                Header::Aggregate(agg, n) => {
                    let children = match agg {
                        Agg::Map => n.checked_mul(2),
                        Agg::Attribute => n.checked_mul(2).and_then(|c| c.checked_add(1)),
                        _ => Some(n),
                    };
                    match children {
                        Some(c) if n <= self.limits.max_elements && c > 0 => {
                            self.open(Open::Counted(c))?;
                            false
                        }
                        Some(0) => self.element_done()?,
                        _ => {
                            return Err(DecodeError::TooManyElements {
                                count: n,
                                limit: self.limits.max_elements,
                            })
                        }
                    }
                }
                Header::StreamedAggregate(agg) => {
                    self.open(Open::Streamed { pairs: agg == Agg::Map, seen: 0 })?;
                    false
                }
                Header::StreamedString => {
                    self.open(Open::StreamedString { total: 0 })?;
                    false
                }
                _ => self.element_done()?,
            };
            if complete {
                return Ok(Some(self.pos));
            }
        }
    }

    fn open(&mut self, open: Open) -> Result<(), DecodeError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(DecodeError::TooDeep { limit: self.limits.max_depth });
        }
        self.stack.push(open);
        Ok(())
    }

    /// One frame finished: count it against the aggregates it closes. `true` when the top level is done.
    fn element_done(&mut self) -> Result<bool, DecodeError> {
        loop {
            match self.stack.last_mut() {
                None => return Ok(true),
                Some(Open::Counted(n)) => {
                    *n -= 1;
                    if *n > 0 {
                        return Ok(false);
                    }
                    self.stack.pop();
                }
                Some(Open::Streamed { pairs, seen }) => {
                    *seen += 1;
                    let count = if *pairs { *seen / 2 } else { *seen };
                    if count > self.limits.max_elements {
                        return Err(DecodeError::TooManyElements { count, limit: self.limits.max_elements });
                    }
                    return Ok(false);
                }
                // Only chunks may follow `$?`, and they are handled before this is called.
                Some(Open::StreamedString { .. }) => {
                    return Err(DecodeError::Unexpected { what: "frame inside a streamed string", offset: 0 })
                }
            }
        }
    }
}

/// A short, lossy rendering of peer bytes for error messages.
fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(32)]).into_owned()
}

/// Parses one header at `pos`. `searched` remembers how far the current line was searched for its CR, so a
/// long line arriving in pieces is searched once. With `chunk`, only a `;` chunk header is valid.
fn parse_header(
    buf: &[u8],
    pos: usize,
    limits: &Limits,
    searched: &mut usize,
    examined: &mut u64,
    chunk: bool,
) -> Result<Step, DecodeError> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(Step::NeedUntil(pos + 1));
    };
    let numeric = matches!(kind, b'$' | b'*' | b'%' | b'~' | b'>' | b'|' | b'!' | b'=' | b';' | b':');
    if !matches!(kind, b'+' | b'-' | b'_' | b',' | b'#' | b'(' | b'.') && !numeric {
        return Err(DecodeError::UnknownType { byte: kind, offset: pos });
    }
    if chunk != (kind == b';') {
        let what = if chunk { "frame inside a streamed string" } else { "string chunk `;`" };
        return Err(DecodeError::Unexpected { what, offset: pos });
    }
    // Fast path for the frames that dominate real replies: `$<len>`, `*<len>`, `:<n>` with plain digits.
    // Anything else (signs, `?`, a header not complete yet, malformed input) takes the general path below.
    if matches!(kind, b'$' | b'*' | b':') {
        if let Some((n, cr)) = fast_digits(buf, pos + 1) {
            *examined += (cr + 2 - pos) as u64;
            let next = cr + 2;
            match kind {
                b'*' if n <= i64::MAX as u64 => {
                    return Ok(Step::Done(Header::Aggregate(Agg::Array, n), next))
                }
                b':' if n <= i64::MAX as u64 => return Ok(Step::Done(Header::Integer(n as i64), next)),
                b'$' if n <= limits.max_bulk_len as u64 => {
                    let end = next + n as usize;
                    if buf.len() < end + 2 {
                        return Ok(Step::NeedUntil(end + 2));
                    }
                    if &buf[end..end + 2] == b"\r\n" {
                        *examined += 2;
                        return Ok(Step::Done(Header::Bulk(next..end), end + 2));
                    }
                }
                _ => {}
            }
        }
    }
    // Find the CR that ends the line, resuming where the last call stopped. The search never looks past the
    // longest line allowed (21 bytes for a number, `max_bulk_len` for text), so an overlong line gets the same
    // verdict however its bytes were cut into reads. Numeric lines are short, so a plain loop beats memchr's
    // setup; other lines may be long and use memchr.
    let start = pos + 1;
    let max_line = if numeric { 21 } else { limits.max_bulk_len };
    let window_end = buf.len().min(start.saturating_add(max_line).saturating_add(1));
    let from = (*searched).max(start).min(window_end);
    let window = &buf[from..window_end];
    let found = if numeric {
        window.iter().position(|&c| c == b'\r' || c == b'\n')
    } else {
        memchr::memchr2(b'\r', b'\n', window)
    };
    let Some(found) = found else {
        *examined += (window_end - from) as u64;
        *searched = window_end;
        let line_len = buf.len() - start;
        if line_len > max_line && numeric {
            return Err(DecodeError::InvalidLength { text: show(&buf[start..window_end]), offset: pos });
        }
        if line_len > max_line {
            return Err(DecodeError::TooLong { len: line_len as u64, limit: limits.max_bulk_len });
        }
        return Ok(Step::NeedUntil(buf.len() + 1));
    };
    // Within the window, so the line is no longer than `max_line`.
    let cr = from + found;
    *examined += (found + 1) as u64;
    *searched = cr;
    if buf[cr] == b'\n' {
        return Err(DecodeError::MissingCrlf { offset: cr });
    }
    match buf.get(cr + 1) {
        None => return Ok(Step::NeedUntil(cr + 2)),
        Some(b'\n') => {}
        Some(_) => return Err(DecodeError::MissingCrlf { offset: cr }),
    }
    let line = start..cr;
    let text = &buf[line.clone()];
    let next = cr + 2;
    let scalar_err = |kind: &'static str| DecodeError::InvalidScalar { kind, text: show(text), offset: pos };
    let header = match kind {
        b'+' => Header::Simple(line),
        b'-' => Header::Error(line),
        b':' => Header::Integer(parse_i64(text).ok_or_else(|| scalar_err("integer"))?),
        b'_' if text.is_empty() => Header::Null,
        b'_' => return Err(scalar_err("null")),
        b'.' if text.is_empty() => Header::End,
        b'.' => return Err(scalar_err("end marker")),
        b'#' => match text {
            b"t" => Header::Boolean(true),
            b"f" => Header::Boolean(false),
            _ => return Err(scalar_err("boolean")),
        },
        b',' => Header::Double(parse_double(text).ok_or_else(|| scalar_err("double"))?),
        b'(' => {
            let digits = text.strip_prefix(b"-").unwrap_or(text);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(scalar_err("big number"));
            }
            Header::BigNumber(line)
        }
        _ => {
            // Length-prefixed: blobs and aggregates.
            if text == b"?" {
                let header = match kind {
                    b'$' => Header::StreamedString,
                    b'*' => Header::StreamedAggregate(Agg::Array),
                    b'%' => Header::StreamedAggregate(Agg::Map),
                    b'~' => Header::StreamedAggregate(Agg::Set),
                    _ => return Err(DecodeError::InvalidLength { text: show(text), offset: pos }),
                };
                return Ok(Step::Done(header, next));
            }
            if text == b"-1" && matches!(kind, b'$' | b'*') {
                return Ok(Step::Done(Header::Null, next));
            }
            let Some(n) = parse_len(text) else {
                return Err(DecodeError::InvalidLength { text: show(text), offset: pos });
            };
            let agg = match kind {
                b'*' => Some(Agg::Array),
                b'%' => Some(Agg::Map),
                b'~' => Some(Agg::Set),
                b'>' => Some(Agg::Push),
                b'|' => Some(Agg::Attribute),
                _ => None,
            };
            if let Some(agg) = agg {
                return Ok(Step::Done(Header::Aggregate(agg, n), next));
            }
            if n > limits.max_bulk_len as u64 {
                return Err(DecodeError::TooLong { len: n, limit: limits.max_bulk_len });
            }
            let n = n as usize;
            if kind == b';' && n == 0 {
                // The last chunk of a streamed string, `;0\r\n`, has no payload section.
                return Ok(Step::Done(Header::Chunk(next..next), next));
            }
            let end = next + n;
            if buf.len() < end + 2 {
                return Ok(Step::NeedUntil(end + 2));
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(DecodeError::MissingCrlf { offset: end });
            }
            *examined += 2;
            let payload = next..end;
            let header = match kind {
                b'$' => Header::Bulk(payload),
                b'!' => Header::BlobError(payload),
                b';' => Header::Chunk(payload),
                _ => {
                    // `=`: verbatim string, `xxx:` then the text.
                    if n < 4 || buf[next + 3] != b':' {
                        return Err(DecodeError::Unexpected {
                            what: "verbatim string without `xxx:`",
                            offset: pos,
                        });
                    }
                    Header::Verbatim(payload)
                }
            };
            return Ok(Step::Done(header, end + 2));
        }
    };
    Ok(Step::Done(header, next))
}

/// Up to 19 plain digits starting at `start` and followed by CRLF: the value and the CR's index.
#[inline]
fn fast_digits(buf: &[u8], start: usize) -> Option<(u64, usize)> {
    let window = buf.get(start..buf.len().min(start + 21))?;
    let mut n: u64 = 0;
    for (i, &c) in window.iter().enumerate() {
        if c.is_ascii_digit() && i < 19 {
            n = n * 10 + u64::from(c - b'0');
        } else if c == b'\r' && i > 0 && window.get(i + 1) == Some(&b'\n') {
            return Some((n, start + i));
        } else {
            return None;
        }
    }
    None
}

/// A non-negative decimal length: digits only, no sign, fits in i64.
fn parse_len(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in text {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    (n <= i64::MAX as u64).then_some(n)
}

/// A signed 64-bit decimal with an optional sign, overflow checked.
fn parse_i64(text: &[u8]) -> Option<i64> {
    let (neg, digits) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut n: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        let d = i64::from(b - b'0');
        n = n.checked_mul(10)?;
        n = if neg { n.checked_sub(d)? } else { n.checked_add(d)? };
    }
    Some(n)
}

/// A RESP3 double: `inf`, `-inf`, `nan`, or a decimal with an optional exponent.
fn parse_double(text: &[u8]) -> Option<f64> {
    match text {
        b"inf" | b"+inf" => return Some(f64::INFINITY),
        b"-inf" => return Some(f64::NEG_INFINITY),
        b"nan" | b"-nan" => return Some(f64::NAN),
        _ => {}
    }
    // Only digits, sign, point and exponent: Rust's parser would also accept "infinity" and "NaN".
    if text.is_empty() || !text.iter().all(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// An aggregate the build pass is filling.
enum Frame {
    List { agg: Agg, items: Vec<Value>, remaining: Option<u64> },
    Map { pairs: Vec<(Value, Value)>, key: Option<Value>, remaining: Option<u64> },
    Attribute { pairs: Vec<(Value, Value)>, key: Option<Value>, remaining: u64 },
}

impl Frame {
    fn new(agg: Agg, n: Option<u64>) -> Frame {
        // `n` was validated by the scan pass: its elements are in the buffer, so this allocation is bounded
        // by bytes that arrived, not by a declared length.
        let cap = n.unwrap_or(0) as usize;
        match agg {
            Agg::Map => Frame::Map { pairs: Vec::with_capacity(cap), key: None, remaining: n },
            Agg::Attribute => {
                Frame::Attribute { pairs: Vec::with_capacity(cap), key: None, remaining: n.unwrap_or(0) }
            }
            _ => Frame::List { agg, items: Vec::with_capacity(cap), remaining: n },
        }
    }

    /// Adds a child; returns the finished aggregate when that was its last child.
    fn push(&mut self, v: Value) -> Option<Value> {
        match self {
            Frame::List { agg, items, remaining } => {
                items.push(v);
                match remaining {
                    Some(r) => {
                        *r -= 1;
                        (*r == 0).then(|| list(*agg, std::mem::take(items)))
                    }
                    None => None,
                }
            }
            Frame::Map { pairs, key, remaining } => {
                match key.take() {
                    None => *key = Some(v),
                    Some(k) => {
                        pairs.push((k, v));
                        if let Some(r) = remaining {
                            *r -= 1;
                            if *r == 0 {
                                return Some(Value::Map(std::mem::take(pairs)));
                            }
                        }
                    }
                }
                None
            }
            Frame::Attribute { pairs, key, remaining } => {
                if *remaining == 0 {
                    return Some(Value::Attribute { attributes: std::mem::take(pairs), value: Box::new(v) });
                }
                match key.take() {
                    None => *key = Some(v),
                    Some(k) => {
                        pairs.push((k, v));
                        *remaining -= 1;
                    }
                }
                None
            }
        }
    }

    /// Closes a streamed aggregate at its `.`.
    fn finish(self) -> Value {
        match self {
            Frame::List { agg, items, .. } => list(agg, items),
            Frame::Map { pairs, .. } => Value::Map(pairs),
            Frame::Attribute { pairs, .. } => Value::Map(pairs),
        }
    }
}

fn list(agg: Agg, items: Vec<Value>) -> Value {
    match agg {
        Agg::Set => Value::Set(items),
        Agg::Push => Value::Push(items),
        _ => Value::Array(items),
    }
}

/// The build pass: walks the tokens the scan pass recorded for one complete value in `data`.
fn build(data: &Bytes, tokens: &[Header]) -> Result<Value, DecodeError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut tokens = tokens.iter().cloned();
    // The scan pass validated every token; running out here would mean the buffer changed under us.
    let mut next = || tokens.next().ok_or(DecodeError::BufferShrunk);
    loop {
        let mut value = match next()? {
            Header::Simple(r) => Value::SimpleString(data.slice(r)),
            Header::Error(r) | Header::BlobError(r) => Value::Error(data.slice(r)),
            Header::Integer(i) => Value::Integer(i),
            Header::Bulk(r) => Value::BulkString(data.slice(r)),
            Header::Verbatim(r) => {
                let p = &data[r.clone()];
                Value::VerbatimString { format: [p[0], p[1], p[2]], text: data.slice(r.start + 4..r.end) }
            }
            Header::Null => Value::Null,
            Header::Double(d) => Value::Double(d),
            Header::Boolean(b) => Value::Boolean(b),
            Header::BigNumber(r) => Value::BigNumber(data.slice(r)),
            Header::Aggregate(agg, n) => {
                if n == 0 && agg != Agg::Attribute {
                    match agg {
                        Agg::Map => Value::Map(Vec::new()),
                        _ => list(agg, Vec::new()),
                    }
                } else {
                    stack.push(Frame::new(agg, Some(n)));
                    continue;
                }
            }
            Header::StreamedAggregate(agg) => {
                stack.push(Frame::new(agg, None));
                continue;
            }
            Header::StreamedString => {
                let mut joined = BytesMut::new();
                loop {
                    match next()? {
                        Header::Chunk(r) if r.is_empty() => break,
                        Header::Chunk(r) => joined.extend_from_slice(&data[r]),
                        _ => {
                            return Err(DecodeError::Unexpected {
                                what: "frame inside a streamed string",
                                offset: 0,
                            })
                        }
                    }
                }
                Value::BulkString(joined.freeze())
            }
            Header::End => match stack.pop() {
                Some(frame) => frame.finish(),
                None => return Err(DecodeError::Unexpected { what: "end marker `.`", offset: 0 }),
            },
            Header::Chunk(_) => return Err(DecodeError::Unexpected { what: "string chunk `;`", offset: 0 }),
        };
        loop {
            let Some(frame) = stack.last_mut() else {
                return Ok(value);
            };
            match frame.push(value) {
                Some(done) => {
                    stack.pop();
                    value = done;
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
#[path = "decoder_tests.rs"]
mod tests;
