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
    /// A pub/sub reader's buffer was full and messages were dropped (the overflow policy
    /// [`Overflow::Error`](crate::inbox::Overflow::Error), the default). Not fatal: the connection and its
    /// subscriptions are kept, and reading goes on with the messages that arrived after the loss.
    #[error(
        "pub/sub buffer overflow: {dropped} message(s) dropped because the buffer (at most {max_messages} \
         messages, {max_bytes} bytes) was full; consume faster, raise the limits \
         (PubSubBuffer::with_max_messages, with_max_bytes), or choose Overflow::DropOldest or \
         Overflow::DropNewest to drop with a count (PubSubEvent::Lagged) instead of this error"
    )]
    PubSubOverflow {
        /// How many messages were dropped at this point of the stream.
        dropped: u64,
        /// The buffer's message limit when the error was handed out.
        max_messages: usize,
        /// The buffer's byte limit when the error was handed out.
        max_bytes: usize,
    },
}

impl Error {
    /// `true` when the connection this error came from must be discarded: decode, protocol, poisoned,
    /// closed, timeout and I/O errors. Usage, configuration, conversion, server, watch, EXECABORT and pub/sub
    /// overflow errors leave the connection usable.
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
            Error::Server(b) => std::str::from_utf8(code_of(b)).ok(),
            _ => None,
        }
    }

    /// The kind of a server error, read from its code; `None` when this is not [`Error::Server`].
    ///
    /// ```
    /// use redwire::error::ServerErrorKind;
    /// use redwire::Error;
    ///
    /// let e = Error::Server("LOADING Redis is loading the dataset in memory".into());
    /// assert_eq!(e.server_kind(), Some(ServerErrorKind::Loading));
    /// assert!(e.server_kind().is_some_and(ServerErrorKind::is_transient)); // worth a retry, later
    /// assert_eq!(Error::Watch.server_kind(), None);
    /// ```
    pub fn server_kind(&self) -> Option<ServerErrorKind> {
        match self {
            Error::Server(b) => Some(ServerErrorKind::from_code(code_of(b))),
            _ => None,
        }
    }
}

/// The first word of an error reply: its code.
fn code_of(text: &[u8]) -> &[u8] {
    &text[..memchr::memchr(b' ', text).unwrap_or(text.len())]
}

/// What an error reply means, from its code (the first word: `-WRONGTYPE Operation against a key ...`).
///
/// The codes a client can act on get a variant of their own; anything else (a module's or a script's own
/// code) is [`Other`](ServerErrorKind::Other), and [`Error::server_code`] still gives its text. Codes are
/// matched exactly, as servers send them (upper case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerErrorKind {
    /// `ERR`: the generic error (wrong arguments, unknown command, a value out of range, ...).
    Generic,
    /// `WRONGTYPE`: the key holds another type of value.
    WrongType,
    /// `NOSCRIPT`: `EVALSHA` of a script the server does not have (send `EVAL`).
    NoScript,
    /// `LOADING`: the server is loading its dataset into memory and refuses commands until it is done.
    /// Transient.
    Loading,
    /// `BUSY`: a script or function is running too long (`SCRIPT KILL`, `FUNCTION KILL`, or wait).
    /// Transient.
    Busy,
    /// `BUSYKEY`: the target key exists (`RESTORE`, `COPY`, `MIGRATE` without `REPLACE`).
    BusyKey,
    /// `BUSYGROUP`: a stream consumer group of that name exists.
    BusyGroup,
    /// `NOGROUP`: no such stream key or consumer group.
    NoGroup,
    /// `READONLY`: a write sent to a read-only replica.
    ReadOnly,
    /// `MASTERDOWN`: a replica lost its master and `replica-serve-stale-data` is off. Transient.
    MasterDown,
    /// `NOREPLICAS`: not enough good replicas for `min-replicas-to-write`. Transient.
    NoReplicas,
    /// `OOM`: the command would use more memory than `maxmemory` allows.
    OutOfMemory,
    /// `NOAUTH`: authentication is required.
    NoAuth,
    /// `WRONGPASS`: wrong user name or password, or the user is disabled.
    WrongPass,
    /// `NOPERM`: the user's ACL does not allow the command or the key.
    NoPerm,
    /// `EXECABORT`: a transaction was discarded because a queued command was refused.
    ExecAbort,
    /// `MOVED`: (Redis Cluster) the key's slot is served by another node.
    Moved,
    /// `ASK`: (Redis Cluster) the key's slot is migrating; ask the named node once.
    Ask,
    /// `TRYAGAIN`: (Redis Cluster) a multi-key command during a slot migration. Transient.
    TryAgain,
    /// `CLUSTERDOWN`: (Redis Cluster) the cluster cannot serve the slot now. Transient.
    ClusterDown,
    /// `CROSSSLOT`: (Redis Cluster) the keys of one command hash to different slots.
    CrossSlot,
    /// Any other code.
    Other,
}

impl ServerErrorKind {
    /// The kind for an error code (`b"WRONGTYPE"`); [`Other`](ServerErrorKind::Other) for codes without a
    /// variant.
    pub fn from_code(code: &[u8]) -> ServerErrorKind {
        use ServerErrorKind::*;
        match code {
            b"ERR" => Generic,
            b"WRONGTYPE" => WrongType,
            b"NOSCRIPT" => NoScript,
            b"LOADING" => Loading,
            b"BUSY" => Busy,
            b"BUSYKEY" => BusyKey,
            b"BUSYGROUP" => BusyGroup,
            b"NOGROUP" => NoGroup,
            b"READONLY" => ReadOnly,
            b"MASTERDOWN" => MasterDown,
            b"NOREPLICAS" => NoReplicas,
            b"OOM" => OutOfMemory,
            b"NOAUTH" => NoAuth,
            b"WRONGPASS" => WrongPass,
            b"NOPERM" => NoPerm,
            b"EXECABORT" => ExecAbort,
            b"MOVED" => Moved,
            b"ASK" => Ask,
            b"TRYAGAIN" => TryAgain,
            b"CLUSTERDOWN" => ClusterDown,
            b"CROSSSLOT" => CrossSlot,
            _ => Other,
        }
    }

    /// `true` for refusals that say "not now" rather than "never": the same command may succeed later on
    /// the same connection (`LOADING`, `BUSY`, `MASTERDOWN`, `NOREPLICAS`, `TRYAGAIN`, `CLUSTERDOWN`).
    /// redwire never retries by itself: whether a command may run twice is the caller's decision.
    pub fn is_transient(self) -> bool {
        use ServerErrorKind::*;
        matches!(self, Loading | Busy | MasterDown | NoReplicas | TryAgain | ClusterDown)
    }
}

/// `Result<T, redwire::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_kinds_come_from_the_code_alone() {
        let kind = |text: &'static str| Error::Server(text.into()).server_kind();
        assert_eq!(
            kind("WRONGTYPE Operation against a key holding the wrong kind of value"),
            Some(ServerErrorKind::WrongType)
        );
        assert_eq!(kind("ERR unknown command 'FOO'"), Some(ServerErrorKind::Generic));
        assert_eq!(kind("LOADING"), Some(ServerErrorKind::Loading));
        assert_eq!(kind("MOVED 3999 127.0.0.1:6381"), Some(ServerErrorKind::Moved));
        // The code is the first word only, matched exactly.
        assert_eq!(kind("ERRORS are not ERR"), Some(ServerErrorKind::Other));
        assert_eq!(kind("loading lower case"), Some(ServerErrorKind::Other));
        assert_eq!(kind(""), Some(ServerErrorKind::Other));
        assert_eq!(Error::Server("MYMODULE custom".into()).server_code(), Some("MYMODULE"));
        assert_eq!(Error::Usage("x".into()).server_kind(), None);
        let transient: Vec<_> = ["LOADING", "BUSY", "MASTERDOWN", "NOREPLICAS", "TRYAGAIN", "CLUSTERDOWN"]
            .iter()
            .map(|c| ServerErrorKind::from_code(c.as_bytes()))
            .collect();
        assert!(transient.iter().all(|k| k.is_transient()), "{transient:?}");
        assert!(!ServerErrorKind::WrongType.is_transient() && !ServerErrorKind::Other.is_transient());
    }
}
