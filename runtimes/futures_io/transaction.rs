//! WATCH transactions, shaped like the blocking runtime's: [`Client::transaction`] takes a dedicated
//! connection, WATCHes the keys, and runs the body with a [`Transaction`] handle — reads run at once on
//! the watched connection, commands queued with [`Transaction::multi`] run in `MULTI`/`EXEC` — and starts
//! over when a watched key changed. A connection left watching (the body failed, a read was cancelled)
//! is closed, never pooled.

use super::client::{event_value, Client};
use super::pool::Lease;
use super::Rt;
use crate::cmd::{Commands, PipelineCommands};
use crate::{Cmd, Error, Event, FromValue, Pipeline, Result, ToArgs};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

/// How many times [`Client::transaction`] runs its body before giving up with [`Error::Watch`].
pub const DEFAULT_MAX_ATTEMPTS: u32 = 100;

/// A committed transaction: the `EXEC` replies and how many attempts it took.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Committed<T> {
    /// The `EXEC` replies, converted.
    pub value: T,
    /// How many times the body ran; `attempts - 1` retries.
    pub attempts: u32,
}

struct State<R: Rt> {
    /// The watched connection; `None` while a read is using it (or after a read was dropped).
    lease: Option<Lease<R>>,
    /// The commands for `MULTI`/`EXEC`.
    queued: Pipeline,
}

/// The body's handle on a WATCHed connection: every command method (from [`Commands`]) runs at once on
/// that connection; [`multi`](Self::multi) queues commands for `MULTI`/`EXEC`. Cheap to clone (the body
/// may move it into its future); reads must be awaited one at a time.
pub struct Transaction<R: Rt> {
    state: Arc<Mutex<State<R>>>,
}

impl<R: Rt> Clone for Transaction<R> {
    fn clone(&self) -> Self {
        Transaction { state: self.state.clone() }
    }
}

impl<R: Rt> std::fmt::Debug for Transaction<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction").field("queued", &self.lock().queued.len()).finish_non_exhaustive()
    }
}

/// The commands queued for `MULTI`/`EXEC`, from [`Transaction::multi`]: chain [`PipelineCommands`]
/// methods on it within one statement (it holds a lock; do not keep it across an `.await`).
pub struct Multi<'a, R: Rt>(MutexGuard<'a, State<R>>);

impl<R: Rt> PipelineCommands for Multi<'_, R> {
    fn queue(&mut self, cmd: impl Into<Cmd>) -> &mut Self {
        self.0.queued.add(cmd.into());
        self
    }
}

impl<R: Rt> Transaction<R> {
    fn new(lease: Lease<R>) -> Transaction<R> {
        Transaction {
            state: Arc::new(Mutex::new(State { lease: Some(lease), queued: Pipeline::transaction() })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<R>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(&self) -> Result<Lease<R>> {
        self.lock().lease.take().ok_or_else(busy)
    }

    /// The queue of commands to run in `MULTI`/`EXEC` when the body returns:
    /// `tx.multi().set("k", 1).incr("n");`.
    pub fn multi(&self) -> Multi<'_, R> {
        Multi(self.lock())
    }

    /// Runs any command on the watched connection at once and converts its reply.
    ///
    /// # Errors
    /// [`Error::Usage`] for a command refused on pooled connections (`MULTI`, `WATCH`, ...) or when
    /// another read is in progress; otherwise as [`Client::exec`].
    pub async fn exec<T: FromValue>(&self, cmd: impl Into<Cmd>) -> Result<T> {
        let cmd = cmd.into();
        crate::cmd::refuse_on_shared(&cmd)?;
        let mut lease = self.take()?;
        // A read dropped before completing drops the lease with it: the connection is closed.
        let answer = lease.request(|conn, now| conn.send(&cmd, now), |_| {}).await;
        self.lock().lease = Some(lease);
        T::from_value(event_value(answer?)?)
    }
}

fn busy() -> Error {
    Error::Usage(
        "the watched connection is busy or gone: await each read inside a transaction before the next, \
         and do not drop a read before it completes (that closes the connection)"
            .into(),
    )
}

impl<R: Rt> Commands for Transaction<R> {
    type Reply<'a, T: FromValue> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

    fn run<T: FromValue>(&self, cmd: impl Into<Cmd>) -> Self::Reply<'_, T> {
        let cmd = cmd.into();
        Box::pin(async move { self.exec(cmd).await })
    }
}

impl<R: Rt> Client<R> {
    /// An optimistic transaction on `keys`: `WATCH keys` on a dedicated connection, run `body` (its reads
    /// run at once on the watched connection; the commands it queues with [`Transaction::multi`] run in
    /// `MULTI`/`EXEC`), and when a watched key changed before `EXEC`, do it all again, up to
    /// [`DEFAULT_MAX_ATTEMPTS`] times. Returns the `EXEC` replies converted into `T`.
    ///
    /// ```no_run
    /// # async fn demo(client: redwire::smol::Client) -> redwire::Result<()> {
    /// use redwire::cmd::{Commands, PipelineCommands};
    /// // A client-side INCR: read, compute, write, atomically with respect to "seq".
    /// let ((), new): ((), i64) = client
    ///     .transaction(&["seq"], |tx| async move {
    ///         let current: Option<i64> = tx.get("seq").await?;
    ///         tx.multi().set("seq", current.unwrap_or(0) + 1).get("seq");
    ///         Ok(())
    ///     })
    ///     .await?;
    /// # let _ = new;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Watch`] when every attempt was aborted; the body's error (nothing is committed, the
    /// connection is closed); [`Error::ExecAbort`] when the server refused a queued command; connection
    /// errors (never retried: an `EXEC` that may have run is not sent again); a conversion error.
    pub async fn transaction<T, F, Fut>(&self, keys: impl ToArgs, body: F) -> Result<T>
    where
        T: FromValue,
        F: FnMut(Transaction<R>) -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        Ok(self.transaction_with(keys, DEFAULT_MAX_ATTEMPTS, body).await?.value)
    }

    /// [`transaction`](Self::transaction) with a limit on attempts (0 counts as 1), also reporting how
    /// many were made.
    ///
    /// # Errors
    /// As [`transaction`](Self::transaction); [`Error::Watch`] after `max_attempts` aborted attempts.
    pub async fn transaction_with<T, F, Fut>(
        &self,
        keys: impl ToArgs,
        max_attempts: u32,
        mut body: F,
    ) -> Result<Committed<T>>
    where
        T: FromValue,
        F: FnMut(Transaction<R>) -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        let watch = Cmd::new("WATCH").arg(keys);
        let mut lease = self.pool().checkout().await?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            if watch.arg_count() > 1 {
                event_value(lease.request(|conn, now| conn.send(&watch, now), |_| {}).await?)?;
            }
            let tx = Transaction::new(lease);
            body(tx.clone()).await?;
            let (watched, queued) = {
                let mut state = tx.lock();
                (state.lease.take(), std::mem::replace(&mut state.queued, Pipeline::transaction()))
            };
            lease = watched.ok_or_else(busy)?;
            for cmd in queued.cmds() {
                crate::cmd::refuse_on_shared(cmd)?;
            }
            let event = lease.request(|conn, now| conn.send_transaction(queued.cmds(), now), |_| {}).await?;
            match event {
                Event::Transaction { result: Err(Error::Watch), .. } if attempts < max_attempts.max(1) => {}
                event => {
                    return T::from_value(event_value(event)?).map(|value| Committed { value, attempts })
                }
            }
        }
    }
}
