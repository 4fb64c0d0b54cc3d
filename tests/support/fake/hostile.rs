//! Replies no real server sends, and the scripts that deliver them (issue #9, scenarios 7 and 8): a
//! declared 4 GiB bulk with ten bytes behind it, 100 000 nested `*1\r\n`, malformed frames, a reply too
//! many, a FIN after two of three pipelined replies.
//!
//! Bytes and [`Script`]s only; what a client must do with them is the scenarios' business.

use super::Script;
use std::time::Duration;

/// A bulk string declaring 4 GiB (2^32 bytes) with ten bytes behind it: a client that allocates by the
/// declared length grows by 4 GiB; one that does not, by a few bytes.
pub const HUGE_BULK: &[u8] = b"$4294967296\r\n0123456789";

/// The nesting depth of issue #9's stack-overflow case.
pub const DEEP: usize = 100_000;

/// `*1\r\n` `depth` times (no innermost value: the frame never completes); a recursive decoder overflows
/// its stack long before the end.
pub fn nested_arrays(depth: usize) -> Vec<u8> {
    b"*1\r\n".repeat(depth)
}

/// An error where an array was expected: well-formed RESP, wrong for a request that needs an array.
pub const ERROR_FOR_ARRAY: &[u8] = b"-ERR not an array\r\n";

/// Frames that are invalid RESP2/RESP3 whatever follows them, each with what is wrong. A client must
/// reject each with a protocol error (not wait for more bytes, not panic).
pub const MALFORMED: &[(&str, &[u8])] = &[
    ("an unknown type byte", b"?what\r\n"),
    ("a bulk length that is not a number", b"$abc\r\n"),
    ("a bulk length below -1", b"$-2\r\n"),
    ("a bulk length that overflows i64", b"$99999999999999999999\r\n"),
    ("an empty bulk length", b"$\r\n"),
    ("a bulk string not followed by CRLF", b"$3\r\nabcXY"),
    ("an array count that is not a number", b"*x\r\n"),
    ("an integer that is not a number", b":12a\r\n"),
    ("an empty integer", b":\r\n"),
    ("a RESP3 boolean that is neither t nor f", b"#x\r\n"),
    ("a RESP3 double that is not a number", b",abc\r\n"),
    ("a RESP3 map count that is not a number", b"%x\r\n"),
    ("a bad frame inside an array", b"*2\r\n:1\r\n?\r\n"),
];

/// How long the scripts below keep a connection open after the hostile reply, waiting for the client to
/// close it.
pub const HOLD: Duration = Duration::from_secs(10);

/// Answers the handshake, answers the first command with `reply`, then holds the connection open (up to
/// [`HOLD`]) until the client closes it: for a reply the client must refuse by itself.
pub fn after_handshake(reply: impl AsRef<[u8]>) -> Script {
    Script::new().handshake().answer(reply).hold(HOLD)
}

/// Answers the handshake, answers the first command with `reply` followed at once by `extra`, which no
/// command asked for, then holds the connection open (up to [`HOLD`]).
pub fn reply_too_many(reply: &[u8], extra: &[u8]) -> Script {
    Script::new().handshake().answer([reply, extra].concat()).hold(HOLD)
}

/// Answers the handshake, waits for three commands (a pipeline), sends the first two replies and a FIN.
pub fn fin_after_two_of_three(first: &[u8], second: &[u8]) -> Script {
    Script::new().handshake().read(3).reply([first, second].concat()).close()
}
