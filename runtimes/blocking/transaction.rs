//! [`Transaction`]: the WATCH flow on one connection held from the pool: watch keys, read them at once
//! (immediate mode, through [`Commands`]), queue writes with [`Transaction::multi`], and
//! [`execute`](Transaction::execute) them in `MULTI`/`EXEC`. Dropping it unwatches (or discards the
//! connection). The retry loop around it is [`Client::transaction`](super::Client::transaction).

use super::pipeline::Queue;
use super::pool::Pooled;
use crate::cmd::Commands;
use crate::resp::Value;
use crate::{Cmd, Event, FromValue, Result, ToArgs};
use std::cell::RefCell;
use std::time::Duration;

/// How many times [`Client::transaction`](super::Client::transaction) runs its closure before giving up
/// with [`Error::Watch`](crate::Error::Watch).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 100;

/// How long dropping a watching `Transaction` waits for `UNWATCH` when no response timeout is configured;
/// past it the connection is closed instead.
const UNWATCH_WAIT: Duration = Duration::from_secs(1);

/// What [`Client::transaction_with`](super::Client::transaction_with) returns: the `EXEC` replies and
/// the number of attempts (1 when no watched key changed).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Committed<T> {
    /// The `EXEC` replies, converted.
    pub value: T,
    /// How many times the closure ran; `attempts - 1` retries.
    pub attempts: u32,
}

/// An optimistic transaction on one connection, from [`Client::watch`](super::Client::watch) or inside
/// [`Client::transaction`](super::Client::transaction).
///
/// Commands run through its [`Commands`] methods are sent at once (immediate mode: read the watched keys
/// and decide). Commands queued on [`multi`](Transaction::multi) wait for
/// [`execute`](Transaction::execute), which sends `MULTI`, them and `EXEC` in one write; when a watched
/// key changed meanwhile, nothing runs and `execute` returns [`Error::Watch`](crate::Error::Watch).
/// `EXEC` unwatches every key: call [`watch`](Transaction::watch) again to retry on the same connection.
///
/// Dropping it sends `UNWATCH` if keys are still watched (or closes the connection when that fails) and
/// gives the connection back to the pool.
///
/// ```no_run
/// # let client = redwire::blocking::Client::open("redis://127.0.0.1")?;
/// use redwire::cmd::{Commands, PipelineCommands};
/// use redwire::Error;
///
/// let mut tx = client.watch("balance")?;
/// loop {
///     let balance: i64 = tx.get::<Option<i64>>("balance")?.unwrap_or(0);
///     tx.multi().set("balance", balance - 10).rpush("log", "withdrew 10");
///     match tx.execute::<()>() {
///         Err(Error::Watch) => tx.watch("balance")?, // someone else wrote it: read again
///         other => break other?,
///     }
/// }
/// tx.reset(); // or just drop it
/// # Ok::<(), redwire::Error>(())
/// ```
#[derive(Debug)]
pub struct Transaction {
    /// `Commands::run` takes `&self`; the connection is only borrowed for one request at a time.
    conn: RefCell<Pooled>,
    queue: Queue,
}

impl Transaction {
    pub(crate) fn new(conn: Pooled) -> Transaction {
        Transaction { conn: RefCell::new(conn), queue: Queue::new() }
    }

    /// `WATCH keys` (adds to the keys already watched).
    ///
    /// # Errors
    /// [`Error::Usage`](crate::Error::Usage) after [`multi`](Transaction::multi) queued commands (WATCH
    /// must come before them); the server's or the connection's error.
    pub fn watch(&mut self, keys: impl ToArgs) -> Result<()> {
        self.send_watch(&Cmd::new("WATCH").arg(keys))
    }

    pub(crate) fn send_watch(&mut self, watch: &Cmd) -> Result<()> {
        if !self.queue.is_empty() {
            return Err(crate::Error::Usage(
                "WATCH after commands were queued with multi(): watch the keys first, or execute() the queued \
                 commands"
                    .into(),
            ));
        }
        <()>::from_value(self.conn.get_mut().request(watch)?)
    }

    /// `UNWATCH`: forget every watched key (the connection stays with this transaction).
    ///
    /// # Errors
    /// The server's or the connection's error.
    pub fn unwatch(&mut self) -> Result<()> {
        <()>::from_value(self.conn.get_mut().request(&Cmd::new("UNWATCH"))?)
    }

    /// `true` while keys are watched (until `EXEC`, `UNWATCH` or a failed attempt's end).
    pub fn is_watching(&self) -> bool {
        self.conn.borrow().conn.is_watching()
    }

    /// The commands to run in `MULTI`/`EXEC`: queue with chained [`PipelineCommands`](crate::cmd::PipelineCommands)
    /// methods. Immediate commands may still be sent meanwhile; the queue goes out at
    /// [`execute`](Transaction::execute).
    pub fn multi(&mut self) -> &mut Queue {
        &mut self.queue
    }

    /// Runs one raw command at once (immediate mode) and returns its reply.
    ///
    /// # Errors
    /// [`Error::Server`](crate::Error::Server) for an error reply; [`Error::Usage`](crate::Error::Usage)
    /// for a command refused on pooled connections (use [`watch`](Transaction::watch),
    /// [`multi`](Transaction::multi) and [`execute`](Transaction::execute) for the transaction commands);
    /// the connection's error.
    pub fn exec(&self, cmd: &Cmd) -> Result<Value> {
        Value::from_value(self.request(cmd)?)
    }

    /// Sends `MULTI`, the queued commands and `EXEC`, and converts the replies (one array slot per
    /// command) into `T`. The queue is empty afterwards and no key is watched any more.
    ///
    /// # Errors
    /// [`Error::Watch`](crate::Error::Watch) when a watched key changed (nothing ran);
    /// [`Error::ExecAbort`](crate::Error::ExecAbort) when the server refused a queued command;
    /// [`Error::Server`](crate::Error::Server) for an error in a slot when `T` does not keep errors;
    /// the connection's error.
    pub fn execute<T: FromValue>(&mut self) -> Result<T> {
        T::from_value(Value::Array(self.execute_raw()?))
    }

    /// Like [`execute`](Transaction::execute), keeping error replies as values in their slots.
    ///
    /// # Errors
    /// As [`execute`](Transaction::execute), except that error replies are values.
    pub fn execute_raw(&mut self) -> Result<Vec<Value>> {
        let batch = match self.queue.take() {
            Ok(batch) => batch,
            Err(e) => {
                self.unwatch_or_discard();
                return Err(e);
            }
        };
        let conn = self.conn.get_mut();
        match conn.call(|c, now| c.send_transaction(batch.cmds(), now))? {
            Event::Transaction { result, .. } => result,
            other => Err(conn.unexpected(&other)),
        }
    }

    /// Ends the transaction: unwatches and gives the connection back to the pool. Dropping does the same.
    pub fn reset(self) {
        drop(self);
    }

    fn unwatch_or_discard(&mut self) {
        let conn = self.conn.get_mut();
        let within = conn.pool().config().response_timeout().unwrap_or(UNWATCH_WAIT);
        conn.unwatch(within);
    }

    /// One command at once on the held connection; the raw reply.
    fn request(&self, cmd: &Cmd) -> Result<Value> {
        crate::cmd::refuse_on_shared(cmd)?;
        self.conn.borrow_mut().request(cmd)
    }
}

impl Commands for Transaction {
    type Reply<'a, T: FromValue> = Result<T>;

    /// Runs any command at once on the watched connection and converts its reply.
    fn run<T: FromValue>(&self, cmd: impl Into<Cmd>) -> Result<T> {
        T::from_value(self.request(&cmd.into())?)
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        self.queue.clear();
        self.unwatch_or_discard();
    }
}
