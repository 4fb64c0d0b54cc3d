//! [`Config`]: where to connect and how to set the connection up (address, database, credentials,
//! protocol, client name, timeouts, decoder limits), built with setters or parsed from a URL.
//!
//! This file holds plain data and its builder; URL parsing lives in `src/url.rs`. Nothing here touches the
//! network: runtimes read [`Config::addr`] and the timeouts, [`Connection`](crate::Connection) reads the rest.

use crate::resp::Limits;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Address {
    /// A TCP host (name or IP address, IPv6 without brackets) and port.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A unix domain socket path.
    Unix(PathBuf),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Address::Tcp { host, port } => write!(f, "{host}:{port}"),
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// The RESP version a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Protocol {
    /// RESP2: every server speaks it; pub/sub needs a connection of its own.
    Resp2,
    /// RESP3 (Redis 6+), negotiated with `HELLO 3`: typed replies and push frames, so pub/sub messages and
    /// invalidations can arrive on a connection that also runs ordinary commands.
    Resp3,
}

impl Protocol {
    /// The protocol's number as `HELLO` spells it: 2 or 3.
    pub fn version(self) -> u8 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// How to reach a server and set a connection up.
///
/// The defaults are `127.0.0.1:6379`, database 0, no credentials, RESP3 (falling back to RESP2 when the
/// server does not know `HELLO`), no client name, a 10 s connect timeout and no response timeout.
///
/// ```
/// use redwire::config::{Address, Protocol};
/// use redwire::Config;
/// use std::time::Duration;
///
/// let config = Config::from_url("redis://app:s3cr%40t@cache.local:6380/2?protocol=2&response_timeout=250ms")?;
/// assert_eq!(config.addr(), &Address::Tcp { host: "cache.local".into(), port: 6380 });
/// assert_eq!((config.username(), config.password()), (Some("app"), Some("s3cr@t")));
/// assert_eq!(config.db(), 2);
/// assert_eq!(config.protocol(), Protocol::Resp2);
/// assert_eq!(config.response_timeout(), Some(Duration::from_millis(250)));
///
/// let same = Config::tcp("cache.local", 6380)
///     .with_credentials("app", "s3cr@t")
///     .with_db(2)
///     .with_protocol(Protocol::Resp2)
///     .with_response_timeout(Duration::from_millis(250));
/// assert_eq!(config, same);
/// # Ok::<(), redwire::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub struct Config {
    pub(crate) addr: Address,
    pub(crate) db: u32,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) protocol: Protocol,
    pub(crate) client_name: Option<String>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) response_timeout: Option<Duration>,
    pub(crate) limits: Limits,
    pub(crate) tracking: Option<Tracking>,
}

impl Default for Config {
    fn default() -> Config {
        Config::tcp("127.0.0.1", 6379)
    }
}

impl Config {
    /// A configuration with every default but the address.
    pub fn new(addr: Address) -> Config {
        Config {
            addr,
            db: 0,
            username: None,
            password: None,
            protocol: Protocol::Resp3,
            client_name: None,
            connect_timeout: Some(Duration::from_secs(10)),
            response_timeout: None,
            limits: Limits::default(),
            tracking: None,
        }
    }

    /// A configuration for a TCP server.
    pub fn tcp(host: impl Into<String>, port: u16) -> Config {
        Config::new(Address::Tcp { host: host.into(), port })
    }

    /// A configuration for a server on a unix domain socket.
    pub fn unix(path: impl Into<PathBuf>) -> Config {
        Config::new(Address::Unix(path.into()))
    }

    /// Parses a URL.
    ///
    /// Accepted forms:
    /// - `redis://[user[:password]@]host[:port][/db][?params]` (IPv6 hosts in brackets, port 6379 when
    ///   omitted, host `127.0.0.1` when empty);
    /// - `redis+unix:///path/to/socket[?params]` (also spelled `unix://`), with the database in `db=`.
    ///
    /// A user given without a password authenticates with an empty password (what an ACL user with
    /// `nopass` expects). User and password are percent-decoded (`%40` for `@`, `%3A` for `:`), as are the path and parameter
    /// values. Parameters: `db`, `protocol` (`2` or `3`), `client_name`, `connect_timeout`,
    /// `response_timeout`. A timeout is a number with an optional unit: `5s`, `250ms`, `1.5` (seconds when
    /// no unit is given); `0` means no timeout.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) naming the part that is wrong (scheme, port, database,
    /// parameter, percent escape, ...). Passwords are never echoed in the message.
    pub fn from_url(url: &str) -> crate::Result<Config> {
        crate::url::parse(url)
    }

    /// Sets the address.
    pub fn with_addr(mut self, addr: Address) -> Config {
        self.addr = addr;
        self
    }

    /// Sets the database selected at handshake (`SELECT`, skipped for 0).
    pub fn with_db(mut self, db: u32) -> Config {
        self.db = db;
        self
    }

    /// Sets a password for the `default` user (`AUTH password`).
    pub fn with_password(mut self, password: impl Into<String>) -> Config {
        self.password = Some(password.into());
        self
    }

    /// Sets an ACL user and its password (`AUTH user password`, or `HELLO 3 AUTH user password`).
    pub fn with_credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Config {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }

    /// Sets the protocol to ask for. With [`Protocol::Resp3`] a server that rejects `HELLO` (Redis < 6)
    /// is spoken to in RESP2 instead; [`Connection::protocol`](crate::Connection::protocol) says which.
    pub fn with_protocol(mut self, protocol: Protocol) -> Config {
        self.protocol = protocol;
        self
    }

    /// Sets the client name (`CLIENT SETNAME`, or `SETNAME` inside `HELLO`). Redis refuses names with
    /// spaces or newlines; such a name makes the handshake fail.
    pub fn with_client_name(mut self, name: impl Into<String>) -> Config {
        self.client_name = Some(name.into());
        self
    }

    /// Sets how long a runtime may take to connect and complete the handshake (`None`: no limit).
    pub fn with_connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Config {
        self.connect_timeout = timeout.into();
        self
    }

    /// Sets how long a request may wait for its reply (`None`: no limit). Blocking commands get their own
    /// timeout plus this one; see [`Connection`](crate::Connection#deadlines).
    pub fn with_response_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Config {
        self.response_timeout = timeout.into();
        self
    }

    /// Sets the decoder's limits on what the server may send.
    pub fn with_limits(mut self, limits: Limits) -> Config {
        self.limits = limits;
        self
    }

    /// Turns on server-assisted client-side caching on every connection made from this configuration:
    /// the handshake sends `CLIENT TRACKING ON` with `tracking`'s options, and the server then sends an
    /// `invalidate` push whenever a key the connection read (or, in broadcast mode, any key under a
    /// tracked prefix) changes. Receive them with a runtime's push handler (for example
    /// [`PoolBuilder::push_handler`](crate::blocking::PoolBuilder::push_handler) in the blocking client);
    /// they never reach the replies of requests.
    ///
    /// Over RESP3 the invalidations arrive on the tracked connection itself. Over RESP2 the server can
    /// only send them to another connection, subscribed to `__redis__:invalidate`, named with
    /// [`Tracking::redirect`]; without it the handshake fails with [`Error::Handshake`](crate::Error).
    ///
    /// ```
    /// use redwire::config::Tracking;
    /// use redwire::Config;
    ///
    /// let config = Config::from_url("redis://127.0.0.1:6379?protocol=3")?
    ///     .with_tracking(Tracking::new().bcast().prefix("user:").noloop());
    /// assert!(config.tracking().is_some_and(|t| t.is_bcast()));
    /// # Ok::<(), redwire::Error>(())
    /// ```
    pub fn with_tracking(mut self, tracking: impl Into<Option<Tracking>>) -> Config {
        self.tracking = tracking.into();
        self
    }

    /// The server address.
    pub fn addr(&self) -> &Address {
        &self.addr
    }

    /// The database selected at handshake.
    pub fn db(&self) -> u32 {
        self.db
    }

    /// The ACL user name, if any.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The password, if any.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The protocol asked for.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The client name, if any.
    pub fn client_name(&self) -> Option<&str> {
        self.client_name.as_deref()
    }

    /// The connect (and handshake) timeout, applied by runtimes.
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// The per-request response timeout.
    pub fn response_timeout(&self) -> Option<Duration> {
        self.response_timeout
    }

    /// The decoder limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The client-side caching options set with [`with_tracking`](Config::with_tracking), if any.
    pub fn tracking(&self) -> Option<&Tracking> {
        self.tracking.as_ref()
    }
}

/// The options of `CLIENT TRACKING ON`, for [`Config::with_tracking`]. Without any, the server tracks the
/// keys each connection reads and invalidates them when they change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[must_use]
pub struct Tracking {
    pub(crate) redirect: Option<u64>,
    pub(crate) prefixes: Vec<String>,
    pub(crate) bcast: bool,
    pub(crate) optin: bool,
    pub(crate) optout: bool,
    pub(crate) noloop: bool,
}

impl Tracking {
    /// Default tracking: the keys each connection reads.
    pub fn new() -> Tracking {
        Tracking::default()
    }

    /// `REDIRECT id`: send the invalidations to the connection with this client id (`CLIENT ID`), which
    /// must be subscribed to `__redis__:invalidate` (RESP2) or read pushes (RESP3). Needed over RESP2.
    pub fn redirect(mut self, client_id: u64) -> Tracking {
        self.redirect = Some(client_id);
        self
    }

    /// `PREFIX prefix` (broadcast mode only; may be given several times): track only keys starting so.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Tracking {
        self.prefixes.push(prefix.into());
        self
    }

    /// `BCAST`: invalidate every key (under the prefixes) that changes, whether this connection read it
    /// or not.
    pub fn bcast(mut self) -> Tracking {
        self.bcast = true;
        self
    }

    /// `OPTIN`: track only the keys of the command after a `CLIENT CACHING yes`.
    pub fn optin(mut self) -> Tracking {
        self.optin = true;
        self
    }

    /// `OPTOUT`: track every key read except after a `CLIENT CACHING no`.
    pub fn optout(mut self) -> Tracking {
        self.optout = true;
        self
    }

    /// `NOLOOP`: no invalidations for keys this connection changed itself.
    pub fn noloop(mut self) -> Tracking {
        self.noloop = true;
        self
    }

    /// `true` in broadcast mode.
    pub fn is_bcast(&self) -> bool {
        self.bcast
    }

    /// The client id invalidations are redirected to, if any.
    pub fn redirect_id(&self) -> Option<u64> {
        self.redirect
    }
}

impl std::str::FromStr for Config {
    type Err = crate::Error;

    fn from_str(url: &str) -> crate::Result<Config> {
        Config::from_url(url)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("db", &self.db)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("protocol", &self.protocol)
            .field("client_name", &self.client_name)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("limits", &self.limits)
            .field("tracking", &self.tracking)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let text = format!("{:?}", Config::default().with_password("hunter2"));
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }

    #[test]
    fn addresses_display_like_socket_addresses() {
        assert_eq!(Config::default().addr().to_string(), "127.0.0.1:6379");
        assert_eq!(Address::Tcp { host: "::1".into(), port: 7 }.to_string(), "[::1]:7");
        assert_eq!(Config::unix("/tmp/r.sock").addr().to_string(), "unix:/tmp/r.sock");
    }
}
