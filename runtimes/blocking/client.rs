//! [`Client`]: the blocking, pooled, thread-safe client: every command as a method (through the generated
//! [`Commands`] trait), raw commands with [`Client::exec`], and the entry points to pipelines,
//! transactions, pub/sub, SCAN iterators and scripts.
//!
//! Each call checks a connection out of the pool, runs one request on it and gives it back. Nothing here
//! decides anything about the protocol; commands a pooled connection must not run are refused by asking
//! the command table ([`cmd::info_for`]).

use super::pipeline::Pipeline;
use super::pool::{Pool, Pooled};
use super::pubsub::PubSub;
use super::transaction::{Committed, Transaction, DEFAULT_MAX_ATTEMPTS};
use crate::cmd::{self, Commands, ScanState, ScriptCall};
use crate::resp::Value;
use crate::{Cmd, Config, Error, FromValue, Result, ToArgs};
use std::collections::VecDeque;

/// A blocking Redis client: `Send + Sync + Clone`, backed by a connection [`Pool`].
///
/// Clones share the pool, so one `Client` can be handed to every thread. Every command is a method
/// (see [`Commands`]): `client.get::<Option<String>>("key")`. Options go through the command builders:
/// `client.run(cmd::set("k", "v").ex(10).nx())`.
///
/// ```no_run
/// use redwire::blocking::Client;
/// use redwire::cmd::{self, Commands};
///
/// let client = Client::open("redis://127.0.0.1:6379/0?response_timeout=2s")?;
/// let _: () = client.set("greeting", "hello")?;
/// let greeting: Option<String> = client.get("greeting")?;
/// assert_eq!(greeting.as_deref(), Some("hello"));
/// let fresh: bool = client.run(cmd::set("lock", "me").nx().ex(30))?;
/// let n: i64 = client.incr("visits")?;
///
/// // Threads share one client (and its pool).
/// let handles: Vec<_> = (0..4)
///     .map(|_| {
///         let client = client.clone();
///         std::thread::spawn(move || client.incr::<i64>("visits"))
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap()?;
/// }
/// # let _ = (fresh, n);
/// # Ok::<(), redwire::Error>(())
/// ```
///
/// # Commands a pooled client refuses
/// Commands that would change a connection for whoever uses it next (`SELECT`, `AUTH`, `CLIENT SETNAME`,
/// `CLIENT TRACKING`, ...), that hold a connection in a mode (`WATCH`, `MULTI`, `SUBSCRIBE`, `MONITOR`) or
/// close it (`QUIT`, `RESET`) are refused with [`Error::Usage`] saying what to use instead:
/// [`transaction`](Client::transaction), [`pipeline`](Client::pipeline), [`pubsub`](Client::pubsub), or
/// the [`Config`].
#[derive(Clone, Debug)]
pub struct Client {
    pool: Pool,
}

impl Client {
    /// Connects to the server a URL names (`redis://[user:pass@]host[:port][/db][?params]` or
    /// `redis+unix:///path.sock?db=1`; see [`Config::from_url`]) with a default pool, and checks the
    /// connection works.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad URL; the connection or handshake error ([`Error::Io`],
    /// [`Error::Handshake`], [`Error::Timeout`]) when the server cannot be reached.
    pub fn open(url: &str) -> Result<Client> {
        Client::new(Config::from_url(url)?)
    }

    /// Like [`open`](Client::open), from a [`Config`].
    ///
    /// # Errors
    /// The connection or handshake error when the first connection cannot be made.
    pub fn new(config: Config) -> Result<Client> {
        let client = Client::with_pool(Pool::new(config));
        drop(client.pool.checkout()?);
        Ok(client)
    }

    /// A client over an existing pool (shared with other clients, or built with [`Pool::builder`]).
    /// Connects lazily, at the first command.
    pub fn with_pool(pool: Pool) -> Client {
        Client { pool }
    }

    /// The pool this client draws connections from.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The configuration connections are made from.
    pub fn config(&self) -> &Config {
        self.pool.config()
    }

    /// Runs one raw command and returns its reply as a [`Value`].
    ///
    /// ```no_run
    /// # let client = redwire::blocking::Client::open("redis://127.0.0.1")?;
    /// use redwire::{resp::Value, Cmd};
    /// let reply = client.exec(&Cmd::new("OBJECT").arg("ENCODING").arg("greeting"))?;
    /// assert!(matches!(reply, Value::BulkString(_)));
    /// # Ok::<(), redwire::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Server`] for an error reply; [`Error::Usage`] for a command a pooled client refuses (see
    /// the type's docs); [`Error::PoolExhausted`] when no connection came free in time; the connection's
    /// error ([`Error::Io`], [`Error::Timeout`], ...) when the request failed (it is never re-sent).
    pub fn exec(&self, cmd: &Cmd) -> Result<Value> {
        Value::from_value(self.request(cmd)?)
    }

    /// A pipeline (atomic, `MULTI`/`EXEC`, unless [`Pipeline::transaction`]`(false)`): queue commands
    /// with chained methods, then [`execute`](Pipeline::execute).
    pub fn pipeline(&self) -> Pipeline {
        Pipeline::new(self.clone())
    }

    /// Runs `f` as an optimistic transaction on `keys`: `WATCH keys`, call `f` (its reads run at once, on
    /// the watched connection; the commands it queues with [`Transaction::multi`] run in `MULTI`/`EXEC`),
    /// and when a watched key changed before `EXEC`, do it all again, up to
    /// [`DEFAULT_MAX_ATTEMPTS`](super::DEFAULT_MAX_ATTEMPTS) times. Returns the `EXEC` replies as `T`.
    ///
    /// ```no_run
    /// # let client = redwire::blocking::Client::open("redis://127.0.0.1")?;
    /// use redwire::cmd::{Commands, PipelineCommands};
    /// // A client-side INCR: read, compute, write, atomically with respect to "seq".
    /// let (_, new): ((), i64) = client.transaction(&["seq"], |tx| {
    ///     let current: Option<i64> = tx.get("seq")?;
    ///     tx.multi().set("seq", current.unwrap_or(0) + 1).get("seq");
    ///     Ok(())
    /// })?;
    /// # let _ = new;
    /// # Ok::<(), redwire::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Watch`] when every attempt was aborted; an error `f` returned (the keys are unwatched);
    /// [`Error::ExecAbort`] when the server refused a queued command; connection errors (never retried:
    /// an `EXEC` that may have run is not sent again).
    pub fn transaction<T: FromValue>(
        &self,
        keys: impl ToArgs,
        f: impl FnMut(&mut Transaction) -> Result<()>,
    ) -> Result<T> {
        self.transaction_with(keys, DEFAULT_MAX_ATTEMPTS, f).map(|c| c.value)
    }

    /// [`transaction`](Client::transaction) with a limit on attempts (0 counts as 1), also reporting how
    /// many were made.
    ///
    /// # Errors
    /// As [`transaction`](Client::transaction); [`Error::Watch`] after `max_attempts` aborted attempts.
    pub fn transaction_with<T: FromValue>(
        &self,
        keys: impl ToArgs,
        max_attempts: u32,
        mut f: impl FnMut(&mut Transaction) -> Result<()>,
    ) -> Result<Committed<T>> {
        let keys = Cmd::new("WATCH").arg(keys);
        let mut tx = Transaction::new(self.pool.checkout()?);
        let mut attempts = 0;
        loop {
            attempts += 1;
            if keys.arg_count() > 1 {
                tx.send_watch(&keys)?;
            }
            f(&mut tx)?;
            match tx.execute::<T>() {
                Err(Error::Watch) if attempts < max_attempts => continue,
                result => return result.map(|value| Committed { value, attempts }),
            }
        }
    }

    /// Starts the manual optimistic-transaction flow: `WATCH keys` on a connection of its own, which the
    /// returned [`Transaction`] holds until it is dropped (or [`reset`](Transaction::reset)).
    ///
    /// # Errors
    /// [`Error::PoolExhausted`], or the error of the `WATCH` command.
    pub fn watch(&self, keys: impl ToArgs) -> Result<Transaction> {
        let mut tx = Transaction::new(self.pool.checkout()?);
        tx.watch(keys)?;
        Ok(tx)
    }

    /// A pub/sub connection of its own (not taken from the pool's maximum; closed when dropped).
    ///
    /// # Errors
    /// The connection or handshake error.
    pub fn pubsub(&self) -> Result<PubSub> {
        Ok(PubSub::new(self.pool.open()?, self.pool.clone()))
    }

    /// Iterates over a `SCAN`, `SSCAN`, `HSCAN` or `ZSCAN` command's items, fetching page after page
    /// (each page is one request on a pooled connection). For HSCAN and ZSCAN use a pair for `T`.
    ///
    /// ```no_run
    /// # let client = redwire::blocking::Client::open("redis://127.0.0.1")?;
    /// use redwire::cmd;
    /// for key in client.scan_iter::<String>(cmd::scan(0).match_("user:*").count(500))? {
    ///     println!("{}", key?);
    /// }
    /// # Ok::<(), redwire::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Usage`] when `cmd` is not one of the four scan commands. Each item is a `Result`: a failed
    /// page ends the iteration after its error.
    pub fn scan_iter<T: FromValue>(&self, cmd: impl Into<Cmd>) -> Result<ScanIter<T>> {
        Ok(ScanIter { client: self.clone(), state: ScanState::new(cmd)?, page: VecDeque::new(), done: false })
    }

    /// The members of the set at `key`, page by page (`SSCAN`).
    ///
    /// # Errors
    /// Never at creation; each item is a `Result`.
    pub fn sscan_iter<T: FromValue>(&self, key: impl ToArgs) -> Result<ScanIter<T>> {
        self.scan_iter(cmd::sscan(key, 0))
    }

    /// The fields and values of the hash at `key`, page by page (`HSCAN`); `T` is a pair.
    ///
    /// # Errors
    /// Never at creation; each item is a `Result`.
    pub fn hscan_iter<T: FromValue>(&self, key: impl ToArgs) -> Result<ScanIter<T>> {
        self.scan_iter(cmd::hscan(key, 0))
    }

    /// The members and scores of the sorted set at `key`, page by page (`ZSCAN`); `T` is a pair.
    ///
    /// # Errors
    /// Never at creation; each item is a `Result`.
    pub fn zscan_iter<T: FromValue>(&self, key: impl ToArgs) -> Result<ScanIter<T>> {
        self.scan_iter(cmd::zscan(key, 0))
    }

    /// Runs a script call: `EVALSHA` first, and `EVAL` (which also caches the script) when the server
    /// answers `NOSCRIPT`.
    ///
    /// ```no_run
    /// # let client = redwire::blocking::Client::open("redis://127.0.0.1")?;
    /// use redwire::cmd::Script;
    /// let add = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    /// let n: i64 = client.invoke(&add.call().key("counter").arg(5))?;
    /// # let _ = n;
    /// # Ok::<(), redwire::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Server`] when the script fails; otherwise as [`exec`](Client::exec).
    pub fn invoke<T: FromValue>(&self, call: &ScriptCall<'_>) -> Result<T> {
        let mut reply = self.request(&call.evalsha())?;
        if let Some(eval) = call.fallback(&reply) {
            reply = self.request(&eval)?;
        }
        T::from_value(reply)
    }

    /// One command on a pooled connection; the raw reply (server errors as `Value::Error`).
    pub(crate) fn request(&self, cmd: &Cmd) -> Result<Value> {
        refuse_excluded(cmd)?;
        let mut conn: Pooled = self.pool.checkout()?;
        conn.request(cmd)
    }
}

impl Commands for Client {
    type Reply<'a, T: FromValue> = Result<T>;

    /// Runs any command (a [`Cmd`] or a builder) and converts its reply into `T`.
    fn run<T: FromValue>(&self, cmd: impl Into<Cmd>) -> Result<T> {
        T::from_value(self.request(&cmd.into())?)
    }
}

/// [`Error::Usage`] for a command a pooled connection must not run, saying what to use instead.
pub(crate) fn refuse_excluded(cmd: &Cmd) -> Result<()> {
    if !cmd::may_be_excluded(cmd.name()) {
        return Ok(());
    }
    let Some(info) = cmd::info_for(cmd) else { return Ok(()) };
    let Some(reason) = info.excluded else { return Ok(()) };
    let name = info.name;
    let instead = match name {
        "watch" | "unwatch" | "multi" | "exec" | "discard" => {
            "use client.transaction(&keys, |tx| ...), client.watch(&keys), or client.pipeline() (atomic)"
        }
        "subscribe" | "psubscribe" | "ssubscribe" | "unsubscribe" | "punsubscribe" | "sunsubscribe" => {
            "use client.pubsub()"
        }
        "select" => {
            "put the database in the URL (redis://host/2) or Config::with_db, and make a Client for it"
        }
        "auth" | "hello" | "client|setname" | "client|setinfo" => {
            "set credentials, protocol and client name in the URL or Config, and make a Client with it"
        }
        "quit" | "reset" => "drop the Client: its pool closes the connections",
        _ => "the blocking client has no dedicated-connection API for it",
    };
    Err(Error::Usage(format!("{} cannot run on a pooled Client: {reason}; {instead}", info.display_name())))
}

/// An iterator over the items of a SCAN-family command, from [`Client::scan_iter`].
///
/// Yields `Result<T>`; after an error it ends. Items may repeat if the collection changes while it is
/// scanned (the server's SCAN guarantee).
#[derive(Debug)]
#[must_use = "iterators do nothing unless iterated"]
pub struct ScanIter<T> {
    client: Client,
    state: ScanState,
    page: VecDeque<T>,
    done: bool,
}

impl<T: FromValue> Iterator for ScanIter<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        loop {
            if let Some(item) = self.page.pop_front() {
                return Some(Ok(item));
            }
            if self.done {
                return None;
            }
            let Some(cmd) = self.state.next_cmd() else {
                self.done = true;
                return None;
            };
            match self.client.request(&cmd).and_then(|reply| self.state.handle_reply(reply)) {
                Ok(items) => self.page.extend(items),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's answer, without the shortcut.
    fn excluded_by_table(cmd: &Cmd) -> bool {
        cmd::info_for(cmd).is_some_and(|info| info.excluded.is_some())
    }

    #[test]
    fn the_shortcut_never_lets_an_excluded_command_through() {
        let mut excluded = 0;
        for info in cmd::COMMANDS {
            let (top, sub) = match info.name.split_once('|') {
                Some((top, sub)) => (top, Some(sub)),
                None => (info.name, None),
            };
            let mut forms = Vec::new();
            for case in [str::to_ascii_lowercase, str::to_ascii_uppercase] {
                let mut split = Cmd::new(case(top));
                if let Some(sub) = sub {
                    split = split.arg(case(sub));
                    forms.push(Cmd::new(format!("{} {}", case(top), case(sub))));
                    forms.push(Cmd::new(case(info.name)));
                }
                forms.push(split.arg("x"));
            }
            for form in &forms {
                let table = excluded_by_table(form);
                assert_eq!(refuse_excluded(form).is_err(), table, "{form:?}");
                excluded += usize::from(table);
            }
        }
        assert!(excluded > 20, "the table excludes commands: {excluded} forms refused");
        assert!(!cmd::may_be_excluded(b"SET") && !cmd::may_be_excluded(b"get"));
        assert!(cmd::may_be_excluded(b"Client") && cmd::may_be_excluded(b"client setname"));
    }
}
