//! Error types for the whole crate.
//!
//! Two families, following h11: the **local** side misused the API (`Usage`, `Config`, `Conversion`) and
//! the connection stays usable; the **remote** side broke the protocol or the connection's state is in
//! doubt (`Decode`, `Protocol`, `Poisoned`, `Io`, `Closed`) and the connection is **fatal**: it must be
//! discarded, never reused. [`Error::is_fatal`] tells the two apart. Server error replies (`-ERR ...`) are
//! ordinary values delivered to the request that caused them; converting such a value into a Rust type
//! gives [`Error::Server`].

use crate::resp::{DecodeError, Value};
use bytes::Bytes;

/// Every error redwire returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server sent bytes that are not valid RESP. Fatal.
    #[error("protocol error: {0}")]
    Decode(#[from] DecodeError),
    /// The server sent valid RESP that does not fit the conversation (a reply nobody asked for, a
    /// transaction reply of the wrong shape). Fatal.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A request's deadline passed before its reply arrived. Late replies could be matched to the wrong
    /// request, so the connection is poisoned: every later call on it returns this error. Fatal.
    #[error("connection poisoned: {0}")]
    Poisoned(String),
    /// The connection was closed (by the server, by the user, or after a fatal error). Fatal.
    #[error("connection closed: {0}")]
    Closed(String),
    /// An I/O error from a runtime adapter. Fatal for the connection it happened on.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The handshake (HELLO, AUTH, SELECT, CLIENT SETNAME) failed; the message says which step and why.
    #[error("handshake failed at {step}: {message}")]
    Handshake {
        /// The command that failed (`HELLO`, `AUTH`, `SELECT`, `CLIENT SETNAME`).
        step: &'static str,
        /// The server's error text.
        message: String,
    },
    /// Local misuse of the API; the connection stays usable. The message says what to do instead.
    #[error("usage error: {0}")]
    Usage(String),
    /// A configuration or URL that cannot be used; the message names the bad part.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The server answered with an error reply (`-ERR ...`, `-WRONGTYPE ...`).
    #[error("server error: {}", String::from_utf8_lossy(.0))]
    Server(Bytes),
    /// A transaction was aborted because a WATCHed key changed (EXEC returned nil). Retry it.
    #[error("transaction aborted: a watched key was modified")]
    Watch,
    /// A transaction was aborted by the server (EXECABORT); holds the errors given while queueing.
    #[error("transaction discarded by the server (EXECABORT): {0:?}")]
    ExecAbort(Vec<Value>),
    /// A reply could not be converted into the requested Rust type.
    #[error("cannot convert reply: expected {expected}, got {got}")]
    Conversion {
        /// What the conversion expected.
        expected: String,
        /// A short description of what arrived.
        got: String,
    },
    /// A request's response timeout passed (the connection it was on is poisoned).
    #[error("timed out: {0}")]
    Timeout(String),
    /// A connection pool had no free connection within its checkout timeout.
    #[error("connection pool exhausted: {0}")]
    PoolExhausted(String),
}

impl Error {
    /// `true` when the connection this error came from must be discarded: decode, protocol, poisoned,
    /// closed, timeout and I/O errors. Usage, configuration, conversion, server, watch and EXECABORT errors
    /// leave the connection usable.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::Decode(_)
                | Error::Protocol(_)
                | Error::Poisoned(_)
                | Error::Closed(_)
                | Error::Io(_)
                | Error::Handshake { .. }
                | Error::Timeout(_)
        )
    }

    /// The server error code (`ERR`, `WRONGTYPE`, `NOSCRIPT`, `LOADING`, ...) when this is a server error.
    pub fn server_code(&self) -> Option<&str> {
        match self {
            Error::Server(b) => {
                let end = memchr::memchr(b' ', b).unwrap_or(b.len());
                std::str::from_utf8(&b[..end]).ok()
            }
            _ => None,
        }
    }
}

/// `Result<T, redwire::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
