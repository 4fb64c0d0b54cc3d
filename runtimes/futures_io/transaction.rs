//! WATCH transactions: [`Client::transaction`] takes a dedicated connection, WATCHes the keys, lets the
//! body read through a [`Watched`] handle, then sends the body's commands in `MULTI`/`EXEC` and retries
//! from the start when a watched key changed. A connection left watching (the body failed, a read was
//! cancelled) is closed, never pooled.

use super::client::{event_value, Client};
use super::pool::Lease;
use super::{refuse_excluded, Rt};
use crate::cmd::Commands;
use crate::{Cmd, Error, Event, FromValue, Pipeline, Result, ToArgs};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// The body's view of a WATCHed connection: every command method (from [`Commands`]) runs at once on
/// that connection and returns its reply. Cheap to clone; reads must be awaited one at a time.
pub struct Watched<R: Rt> {
    slot: Arc<Mutex<Option<Lease<R>>>>,
}

impl<R: Rt> Clone for Watched<R> {
    fn clone(&self) -> Self {
        Watched { slot: self.slot.clone() }
    }
}

impl<R: Rt> std::fmt::Debug for Watched<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched").finish_non_exhaustive()
    }
}

impl<R: Rt> Watched<R> {
    fn take(&self) -> Result<Lease<R>> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).take().ok_or_else(|| {
            Error::Usage(
                "the watched connection is busy or gone: await each read inside a transaction before the \
                 next, and do not drop a read before it completes (that closes the connection)"
                    .into(),
            )
        })
    }

    fn put(&self, lease: Lease<R>) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(lease);
    }

    /// Runs any command on the watched connection and converts its reply.
    ///
    /// # Errors
    /// [`Error::Usage`] for a command refused on pooled connections (`MULTI`, `WATCH`, ...) or when
    /// another read is in progress; otherwise as [`Client::exec`].
    pub async fn exec<T: FromValue>(&self, cmd: impl Into<Cmd>) -> Result<T> {
        let cmd = cmd.into();
        refuse_excluded(&cmd)?;
        let mut lease = self.take()?;
        // A read dropped before completing drops the lease with it: the connection is closed.
        let answer = lease.request(|conn, now| conn.send(&cmd, now), |_| {}).await;
        self.put(lease);
        T::from_value(event_value(answer?)?)
    }
}

impl<R: Rt> Commands for Watched<R> {
    type Reply<'a, T: FromValue> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

    fn run<T: FromValue>(&self, cmd: impl Into<Cmd>) -> Self::Reply<'_, T> {
        let cmd = cmd.into();
        Box::pin(async move { self.exec(cmd).await })
    }
}

impl<R: Rt> Client<R> {
    /// A WATCH transaction, retried until it commits: WATCHes `keys` on a dedicated connection, runs
    /// `body` (which reads through the [`Watched`] handle and returns the commands to commit), sends them
    /// in `MULTI`/`EXEC`, and starts over when a watched key changed in between. Returns the `EXEC`
    /// replies converted into `T`.
    ///
    /// ```no_run
    /// # async fn demo(client: redwire::smol::Client) -> redwire::Result<()> {
    /// use redwire::cmd::{self, Commands};
    /// use redwire::Pipeline;
    ///
    /// let ((), balance): ((), i64) = client
    ///     .transaction(&["balance"], |tx| async move {
    ///         let now = tx.get::<Option<i64>>("balance").await?.unwrap_or(0);
    ///         Ok(Pipeline::new().cmd(cmd::set("balance", now + 10).into()).cmd(cmd::get("balance")))
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The body's error (nothing is committed); [`Error::ExecAbort`] when the server refused a queued
    /// command; the connection's error; a conversion error.
    pub async fn transaction<T, F, Fut>(&self, keys: impl ToArgs, body: F) -> Result<T>
    where
        T: FromValue,
        F: FnMut(Watched<R>) -> Fut,
        Fut: Future<Output = Result<Pipeline>>,
    {
        self.transaction_attempts(keys, u32::MAX, body).await
    }

    /// [`transaction`](Self::transaction) giving up after `max_attempts` runs of the body.
    ///
    /// # Errors
    /// [`Error::Watch`] when the last attempt was aborted by a watched key changing; otherwise as
    /// [`transaction`](Self::transaction).
    pub async fn transaction_attempts<T, F, Fut>(
        &self,
        keys: impl ToArgs,
        max_attempts: u32,
        mut body: F,
    ) -> Result<T>
    where
        T: FromValue,
        F: FnMut(Watched<R>) -> Fut,
        Fut: Future<Output = Result<Pipeline>>,
    {
        let watch = Cmd::new("WATCH").arg(keys);
        for _ in 0..max_attempts.max(1) {
            let mut lease = self.pool().checkout().await?;
            if watch.arg_count() > 1 {
                event_value(lease.request(|conn, now| conn.send(&watch, now), |_| {}).await?)?;
            }
            let watched = Watched { slot: Arc::new(Mutex::new(Some(lease))) };
            let pipeline = body(watched.clone()).await?;
            let mut lease = watched.take()?;
            for cmd in pipeline.cmds() {
                refuse_excluded(cmd)?;
            }
            let event =
                lease.request(|conn, now| conn.send_transaction(pipeline.cmds(), now), |_| {}).await?;
            match event {
                Event::Transaction { result: Err(Error::Watch), .. } => continue,
                event => return T::from_value(event_value(event)?),
            }
        }
        Err(Error::Watch)
    }
}
