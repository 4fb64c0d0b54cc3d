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
use bytes::{Buf, Bytes, BytesMut};
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
    /// Maximum number of elements of one aggregate; a map or an attribute counts its pairs (default 2^32).
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

impl Header {
    /// A frame that is a whole value by itself (a string or scalar; not an aggregate, stream or marker).
    #[inline]
    fn is_leaf(&self) -> bool {
        !matches!(
            self,
            Header::Aggregate(..)
                | Header::StreamedAggregate(_)
                | Header::StreamedString
                | Header::Chunk(_)
                | Header::End
        )
    }
}

/// Result of parsing one header at a position.
enum Step {
    /// A complete header, and the position just after it (after its payload, for blobs).
    Done(Header, usize),
    /// Not enough bytes: nothing can change until the buffer is at least this long.
    NeedUntil(usize),
}

/// What the scan pass found.
enum Scanned {
    /// The value is not entirely in the buffer yet.
    Incomplete,
    /// A top-level string or scalar, ending at this position; no tokens were recorded for it.
    Leaf(Header, usize),
    /// An aggregate (possibly empty), ending at this position, its tokens recorded.
    Aggregate(usize),
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
    /// The build pass's working memory, kept (empty) between values to reuse its allocations.
    build: BuildStack,
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

    /// At least how many more bytes must be appended to the buffer (now `buffered` bytes long) before
    /// the value at its front is complete: exact for a top-level string whose header has arrived (a
    /// 1 MiB bulk string after its first read), 0 when unknown (nothing started, an aggregate in
    /// progress, or an error). A hint for sizing the next read; never a reason to allocate that much
    /// up front, since the length is the peer's claim.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use redwire::resp::Decoder;
    /// let mut decoder = Decoder::new();
    /// let mut buf = BytesMut::from(&b"$10\r\nhel"[..]);
    /// assert_eq!(decoder.decode(&mut buf).unwrap(), None);
    /// assert_eq!(decoder.bytes_needed(buf.len()), 9); // "lo world" is 7 more bytes, then \r\n
    /// ```
    pub fn bytes_needed(&self, buffered: usize) -> usize {
        if self.stack.is_empty() && self.error.is_none() {
            self.need.saturating_sub(buffered)
        } else {
            0
        }
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
    #[inline]
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Value>, DecodeError> {
        // The most common replies first: nothing half-read and the next value a complete `+` status, `:`
        // integer or `$` bulk string written plainly, built straight from the buffer (no tokens, no build
        // pass). Anything else, including every error, takes the general path.
        if self.pos == 0 && buf.len() >= self.need && self.error.is_none() {
            if let Some(value) = fast_leaf(buf, &self.limits, &mut self.examined) {
                self.need = 0;
                self.searched = 0;
                return Ok(Some(value));
            }
        }
        self.decode_general(buf)
    }

    /// [`Decoder::decode`] for everything its fast path does not take.
    #[inline(never)]
    fn decode_general(&mut self, buf: &mut BytesMut) -> Result<Option<Value>, DecodeError> {
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
            Ok(Scanned::Leaf(header, end)) => {
                // A top-level string or scalar: no tokens were recorded and nothing needs building.
                self.pos = 0;
                self.need = 0;
                self.searched = 0;
                Ok(Some(take_leaf(buf, header, end)))
            }
            Ok(Scanned::Aggregate(end)) => {
                let frozen = buf.split_to(end).freeze();
                let built = build(&frozen, &self.tokens, &mut self.build);
                self.reset_scan();
                match built {
                    Ok(v) => Ok(Some(v)),
                    Err(e) => {
                        self.build.clear();
                        Err(self.fail(e))
                    }
                }
            }
            Ok(Scanned::Incomplete) => Ok(None),
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

    /// The scan pass: validates frames from `self.pos` on; says where the top-level value ends once it is
    /// entirely in `buf`.
    #[inline]
    fn scan(&mut self, buf: &[u8]) -> Result<Scanned, DecodeError> {
        loop {
            // The hot case first: inside a counted aggregate, plain frames (strings, integers, nulls, arrays of
            // known length) need only a header, a token and the counts kept. Anything else, and anything at
            // a limit, takes the general path below, which also reports every error.
            while let Some(Open::Counted(left)) = self.stack.last_mut() {
                // Leaves while more than one child remains (LRANGE, MGET): a header, a token, a count.
                let mut pos = self.pos;
                while *left > 1 {
                    match fast_header(buf, pos, &self.limits, &mut self.examined) {
                        Some(Step::Done(header, next)) if header.is_leaf() => {
                            self.tokens.push(header);
                            *left -= 1;
                            pos = next;
                        }
                        _ => break,
                    }
                }
                self.pos = pos;
                // Then one frame: an array opening, or the last child closing aggregates.
                let Some(Step::Done(header, next)) = fast_header(buf, pos, &self.limits, &mut self.examined)
                else {
                    break;
                };
                if let Header::Aggregate(_, n) = header {
                    // `fast_header` only returns arrays; an empty one is counted like a leaf below.
                    if n > self.limits.max_elements || self.stack.len() >= self.limits.max_depth {
                        break;
                    }
                    if n > 0 {
                        self.tokens.push(header);
                        self.pos = next;
                        self.stack.push(Open::Counted(n));
                        continue;
                    }
                }
                self.tokens.push(header);
                self.pos = next;
                if self.element_done()? {
                    self.searched = next;
                    return Ok(Scanned::Aggregate(next));
                }
            }
            self.searched = self.searched.max(self.pos);
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
                    return Ok(Scanned::Incomplete);
                }
            };
            if self.stack.is_empty() && header.is_leaf() {
                return Ok(Scanned::Leaf(header, next));
            }
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
                return Ok(Scanned::Aggregate(self.pos));
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
    #[inline]
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
///
/// The frames that dominate real replies (`$<len>`, `*<len>`, `:<n>` with plain digits, complete) are parsed
/// here, inlined into the scan loop; everything else (signs, `?`, other types, a header not complete yet,
/// malformed input) takes [`parse_header_slow`].
#[inline(always)]
fn parse_header(
    buf: &[u8],
    pos: usize,
    limits: &Limits,
    searched: &mut usize,
    examined: &mut u64,
    chunk: bool,
) -> Result<Step, DecodeError> {
    if !chunk {
        if let Some(step) = fast_header(buf, pos, limits, examined) {
            return Ok(step);
        }
    }
    parse_header_slow(buf, pos, limits, searched, examined, chunk)
}

/// The fast path of [`parse_header`]: a short `+` status (`+OK`, `+QUEUED`), or `$<len>`, `*<len>`, `:<n>`
/// with plain digits, the header complete. `None` sends the frame to [`parse_header_slow`], which decides
/// everything this does not (including every error).
#[inline(always)]
fn fast_header(buf: &[u8], pos: usize, limits: &Limits, examined: &mut u64) -> Option<Step> {
    let kind = *buf.get(pos)?;
    if kind == b'+' {
        // The CRLF within 16 bytes, no bare `\n` before it.
        let start = pos + 1;
        let window = buf.get(start..buf.len().min(start + 16))?;
        let i = window.iter().position(|&c| c == b'\r' || c == b'\n')?;
        if window[i] == b'\r' && buf.get(start + i + 1) == Some(&b'\n') && i <= limits.max_bulk_len {
            *examined += (i + 3) as u64;
            return Some(Step::Done(Header::Simple(start..start + i), start + i + 2));
        }
        return None;
    }
    if !matches!(kind, b'$' | b'*' | b':') {
        return None;
    }
    if buf.get(pos + 1) == Some(&b'-') {
        // RESP2 nulls `$-1` and `*-1`, and negative integers (down to -i64::MAX; i64::MIN goes the slow way).
        if kind != b':' {
            return (buf.get(pos + 2..pos + 5)? == b"1\r\n").then(|| {
                *examined += 5;
                Step::Done(Header::Null, pos + 5)
            });
        }
        let (n, cr) = fast_digits(buf, pos + 2)?;
        let n = i64::try_from(n).ok()?;
        *examined += (cr + 2 - pos) as u64;
        return Some(Step::Done(Header::Integer(-n), cr + 2));
    }
    let (n, cr) = fast_digits(buf, pos + 1)?;
    let next = cr + 2;
    match kind {
        b'$' if n <= limits.max_bulk_len as u64 => {
            let end = next + n as usize;
            if buf.len() < end + 2 {
                *examined += (next - pos) as u64;
                return Some(Step::NeedUntil(end + 2));
            }
            if &buf[end..end + 2] != b"\r\n" {
                return None;
            }
            *examined += (next - pos + 2) as u64;
            Some(Step::Done(Header::Bulk(next..end), end + 2))
        }
        b':' if n <= i64::MAX as u64 => {
            *examined += (next - pos) as u64;
            Some(Step::Done(Header::Integer(n as i64), next))
        }
        b'*' if n <= i64::MAX as u64 => {
            *examined += (next - pos) as u64;
            Some(Step::Done(Header::Aggregate(Agg::Array, n), next))
        }
        _ => None,
    }
}

/// [`parse_header`] for every frame its fast path does not take.
#[inline(never)]
fn parse_header_slow(
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
    // Find the CR that ends the line, resuming where the last call stopped. The search never looks past the
    // longest line allowed (21 bytes for a number, `max_bulk_len` for text), so an overlong line gets the same
    // verdict however its bytes were cut into reads. Numeric lines are short, so a plain loop beats memchr's
    // setup; text lines are mostly short (`+OK`) but may be long: a plain loop over their first 32 bytes,
    // then memchr.
    let start = pos + 1;
    let max_line = if numeric { 21 } else { limits.max_bulk_len };
    let window_end = buf.len().min(start.saturating_add(max_line).saturating_add(1));
    let from = (*searched).max(start).min(window_end);
    let window = &buf[from..window_end];
    let is_eol = |&c: &u8| c == b'\r' || c == b'\n';
    let found = if numeric {
        window.iter().position(is_eol)
    } else {
        let quick = window.len().min(32);
        window[..quick]
            .iter()
            .position(is_eol)
            .or_else(|| memchr::memchr2(b'\r', b'\n', &window[quick..]).map(|i| i + quick))
    };
    let Some(found) = found else {
        *examined += (window_end - from) as u64;
        *searched = window_end;
        let line_len = buf.len() - start;
        if line_len > max_line && numeric {
            return Err(DecodeError::InvalidLength { text: show(&buf[start..window_end]), offset: pos });
        }
        if line_len > max_line {
            // The length reached when the limit was crossed (one past it), the same however the bytes arrived.
            return Err(DecodeError::TooLong {
                len: (window_end - start) as u64,
                limit: limits.max_bulk_len,
            });
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

/// An aggregate the build pass is filling: its children so far are `values[start..]`.
#[derive(Debug, Clone, Copy)]
struct Frame {
    agg: Agg,
    /// Children still expected (a map counts keys and values, an attribute also the value it annotates), or
    /// [`STREAMED`] for an aggregate that ends at `.`.
    remaining: u64,
    start: usize,
}

/// [`Frame::remaining`] of a streamed aggregate.
const STREAMED: u64 = u64::MAX;

/// The build pass's working memory, kept (empty) in the decoder between values so that it is allocated once.
#[derive(Debug, Default)]
struct BuildStack {
    frames: Vec<Frame>,
    /// The children of every open aggregate, innermost last.
    values: Vec<Value>,
}

impl BuildStack {
    fn clear(&mut self) {
        self.frames.clear();
        self.values.clear();
        if self.values.capacity() > 1 << 16 {
            self.values.shrink_to(1 << 16); // don't keep a huge reply's worth of room forever
        }
    }

    /// Closes `frame`, whose children are all in `values`: the aggregate, in one allocation of its size.
    fn close(&mut self, frame: Frame) -> Value {
        match frame.agg {
            Agg::Map => Value::Map(pairs(&mut self.values.drain(frame.start..))),
            Agg::Attribute => {
                let mut items = self.values.drain(frame.start..);
                let value = Box::new(items.next_back().unwrap_or(Value::Null)); // scan counted it: never None
                Value::Attribute { attributes: pairs(&mut items), value }
            }
            // One allocation of exactly the children's number, filled by one memcpy.
            agg => list(agg, self.values.split_off(frame.start)),
        }
    }
}

/// Keys and values, alternating, as pairs (an odd last one, which the scan pass never lets through, is
/// dropped).
fn pairs(items: &mut impl ExactSizeIterator<Item = Value>) -> Vec<(Value, Value)> {
    let mut out = Vec::with_capacity(items.len() / 2);
    while let (Some(k), Some(v)) = (items.next(), items.next()) {
        out.push((k, v));
    }
    out
}

fn list(agg: Agg, items: Vec<Value>) -> Value {
    match agg {
        Agg::Set => Value::Set(items),
        Agg::Push => Value::Push(items),
        _ => Value::Array(items),
    }
}

/// A string or scalar token as a value; a string's payload is a slice of `data` (no copy).
#[inline(always)]
fn leaf(data: &Bytes, header: &Header) -> Value {
    match header {
        Header::Simple(r) => Value::SimpleString(data.slice(r.clone())),
        Header::Error(r) | Header::BlobError(r) => Value::Error(data.slice(r.clone())),
        Header::Integer(i) => Value::Integer(*i),
        Header::Bulk(r) => Value::BulkString(data.slice(r.clone())),
        Header::Verbatim(r) => {
            let p = &data[r.clone()];
            Value::VerbatimString { format: [p[0], p[1], p[2]], text: data.slice(r.start + 4..r.end) }
        }
        Header::Null => Value::Null,
        Header::Double(d) => Value::Double(*d),
        Header::Boolean(b) => Value::Boolean(*b),
        Header::BigNumber(r) => Value::BigNumber(data.slice(r.clone())),
        _ => unreachable!("leaf() is only called on headers for which is_leaf() holds"),
    }
}

/// The fast path of [`Decoder::decode`]: a complete top-level `+` status, `:` integer or `$` bulk string at
/// the front of `buf`, split off it. `None` (nothing consumed) for anything else.
#[inline(always)]
fn fast_leaf(buf: &mut BytesMut, limits: &Limits, examined: &mut u64) -> Option<Value> {
    match fast_header(buf, 0, limits, examined)? {
        Step::Done(Header::Integer(i), next) => {
            buf.advance(next);
            Some(Value::Integer(i))
        }
        Step::Done(Header::Bulk(r), next) => Some(Value::BulkString(payload(buf, next, r))),
        Step::Done(Header::Simple(r), next) => Some(Value::SimpleString(status(buf, next, r))),
        _ => None,
    }
}

/// The bytes `r` of the value that ends at `end`, split off the front of `buf`: one reference to the
/// buffer, no copy.
#[inline(always)]
fn payload(buf: &mut BytesMut, end: usize, r: Range<usize>) -> Bytes {
    let mut raw = buf.split_to(end).freeze();
    raw.truncate(r.end);
    raw.advance(r.start);
    raw
}

/// Like [`payload`], for a simple string: the statuses servers send most (`OK`, `QUEUED`, `PONG`) are
/// returned as static `Bytes`, equal in every way, without taking a reference to the buffer.
#[inline(always)]
fn status(buf: &mut BytesMut, end: usize, r: Range<usize>) -> Bytes {
    let known: Option<&'static [u8]> = match &buf[r.clone()] {
        b"OK" => Some(b"OK"),
        b"QUEUED" => Some(b"QUEUED"),
        b"PONG" => Some(b"PONG"),
        _ => None,
    };
    match known {
        Some(s) => {
            buf.advance(end);
            Bytes::from_static(s)
        }
        None => payload(buf, end, r),
    }
}

/// [`leaf`], appended to `out`: each kind is written straight into its slot (building a `Value` first and
/// then moving it costs a store-to-load stall per value, measurably).
#[inline(always)]
fn push_leaf(data: &Bytes, header: &Header, out: &mut Vec<Value>) {
    match header {
        Header::Bulk(r) => out.push(Value::BulkString(data.slice(r.clone()))),
        Header::Integer(i) => out.push(Value::Integer(*i)),
        Header::Simple(r) => out.push(Value::SimpleString(data.slice(r.clone()))),
        Header::Null => out.push(Value::Null),
        other => out.push(leaf(data, other)),
    }
}

/// A top-level string or scalar that ends at `end`, split off the front of `buf`. A string's payload
/// becomes the value's `Bytes` directly (one reference to the buffer, not a slice of a frozen copy); a
/// scalar takes no reference at all.
#[inline(always)]
fn take_leaf(buf: &mut BytesMut, header: Header, end: usize) -> Value {
    let scalar = match header {
        Header::Simple(r) => return Value::SimpleString(status(buf, end, r)),
        Header::Bulk(r) => return Value::BulkString(payload(buf, end, r)),
        Header::Error(r) | Header::BlobError(r) => return Value::Error(payload(buf, end, r)),
        Header::BigNumber(r) => return Value::BigNumber(payload(buf, end, r)),
        Header::Verbatim(r) => {
            let mut text = payload(buf, end, r);
            let format = [text[0], text[1], text[2]];
            text.advance(4);
            return Value::VerbatimString { format, text };
        }
        Header::Integer(i) => Value::Integer(i),
        Header::Double(d) => Value::Double(d),
        Header::Boolean(b) => Value::Boolean(b),
        Header::Null => Value::Null,
        _ => unreachable!("scan() returns Scanned::Leaf only for headers for which is_leaf() holds"),
    };
    buf.advance(end);
    scalar
}

/// A counted aggregate whose children are all strings or scalars, built in one go: no frame, one
/// allocation of exactly its size. Returns the value and the number of child tokens it used, or `None`
/// when a child is itself an aggregate (then only the leading leaf children were looked at, so every token
/// is checked at most once over the whole build).
#[inline]
fn flat(data: &Bytes, agg: Agg, n: u64, rest: &[Header]) -> Option<(Value, usize)> {
    let children = match agg {
        Agg::Map => n.checked_mul(2)?,
        Agg::Attribute => return None,
        _ => n,
    };
    let kids = rest.get(..usize::try_from(children).ok()?)?;
    if !kids.iter().all(Header::is_leaf) {
        return None;
    }
    let value = match agg {
        Agg::Map => {
            Value::Map(kids.chunks_exact(2).map(|kv| (leaf(data, &kv[0]), leaf(data, &kv[1]))).collect())
        }
        _ => list(agg, kids.iter().map(|h| leaf(data, h)).collect()),
    };
    Some((value, kids.len()))
}

/// The build pass: walks the tokens the scan pass recorded for one complete value in `data`. `stack` is
/// the decoder's working memory, empty on entry and on success.
fn build(data: &Bytes, tokens: &[Header], stack: &mut BuildStack) -> Result<Value, DecodeError> {
    stack.clear();
    let mut i = 0;
    // The scan pass validated every token; running out here would mean the buffer changed under us.
    let next = |i: &mut usize| {
        let t = tokens.get(*i).ok_or(DecodeError::BufferShrunk);
        *i += 1;
        t
    };
    loop {
        // Each step appends one complete value to `stack.values` (or opens an aggregate and continues).
        match next(&mut i)? {
            &Header::Aggregate(agg, n) => {
                if n == 0 && agg != Agg::Attribute {
                    stack.values.push(match agg {
                        Agg::Map => Value::Map(Vec::new()),
                        _ => list(agg, Vec::new()),
                    });
                } else if let Some((value, used)) = flat(data, agg, n, &tokens[i..]) {
                    i += used;
                    stack.values.push(value);
                } else {
                    // The scan pass checked these against the limits (no overflow).
                    let remaining = match agg {
                        Agg::Map => n * 2,
                        Agg::Attribute => n * 2 + 1,
                        _ => n,
                    };
                    stack.frames.push(Frame { agg, remaining, start: stack.values.len() });
                    continue;
                }
            }
            &Header::StreamedAggregate(agg) => {
                stack.frames.push(Frame { agg, remaining: STREAMED, start: stack.values.len() });
                continue;
            }
            Header::StreamedString => {
                let mut joined = BytesMut::new();
                loop {
                    match next(&mut i)? {
                        Header::Chunk(r) if r.is_empty() => break,
                        Header::Chunk(r) => joined.extend_from_slice(&data[r.clone()]),
                        _ => {
                            return Err(DecodeError::Unexpected {
                                what: "frame inside a streamed string",
                                offset: 0,
                            })
                        }
                    }
                }
                stack.values.push(Value::BulkString(joined.freeze()));
            }
            Header::End => match stack.frames.pop() {
                Some(frame) => {
                    let value = stack.close(frame);
                    stack.values.push(value);
                }
                None => return Err(DecodeError::Unexpected { what: "end marker `.`", offset: 0 }),
            },
            Header::Chunk(_) => return Err(DecodeError::Unexpected { what: "string chunk `;`", offset: 0 }),
            header => push_leaf(data, header, &mut stack.values),
        }
        // Count the new value against the innermost open aggregate, closing every aggregate it completes.
        loop {
            let Some(top) = stack.frames.last_mut() else {
                // No aggregate open: the new value is the whole reply.
                return stack.values.pop().ok_or(DecodeError::BufferShrunk);
            };
            if top.remaining == STREAMED {
                break;
            }
            top.remaining -= 1;
            if top.remaining > 0 {
                break;
            }
            let frame = *top;
            stack.frames.pop();
            let value = stack.close(frame);
            stack.values.push(value);
        }
    }
}

#[cfg(test)]
#[path = "decoder_tests.rs"]
mod tests;
