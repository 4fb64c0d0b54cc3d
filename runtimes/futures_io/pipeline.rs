//! [`Pipeline`]: commands queued with the generated [`PipelineCommands`] methods and sent together on a
//! client's shared connection — atomic (`MULTI`/`EXEC`) by default, as in the blocking runtime. A plain
//! pipeline holding a blocking command runs on a dedicated connection instead.

use super::client::{driver_gone, event_value, Client};
use super::driver::Payload;
use super::{oneshot, Rt};
use crate::cmd::{block_time, Block, PipelineCommands};
use crate::resp::Value;
use crate::{Cmd, Error, FromValue, Result};

/// Commands sent in one write and answered together; made by [`Client::pipeline`].
///
/// Atomic by default: the commands run inside `MULTI`/`EXEC`, and a command that fails at run time has
/// its error in its slot. [`transaction(false)`](Self::transaction) sends them as a plain pipeline.
#[must_use = "a pipeline does nothing until executed"]
pub struct Pipeline<'a, R: Rt> {
    client: &'a Client<R>,
    inner: crate::Pipeline,
}

impl<'a, R: Rt> Pipeline<'a, R> {
    pub(super) fn new(client: &'a Client<R>) -> Self {
        Pipeline { client, inner: crate::Pipeline::transaction() }
    }

    /// Wraps the commands in `MULTI`/`EXEC` (`true`, the default) or sends them as a plain batch.
    pub fn transaction(mut self, atomic: bool) -> Self {
        self.inner.set_atomic(atomic);
        self
    }

    /// `true` when the commands will run inside `MULTI`/`EXEC`.
    pub fn is_atomic(&self) -> bool {
        self.inner.is_atomic()
    }

    /// Drops every queued command.
    pub fn clear(&mut self) {
        self.inner.clear();
    }

    /// The number of commands queued.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// `true` when no command is queued.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Sends the queued commands and converts their replies, as one array, into `T`: a tuple, a
    /// `Vec<T>`, `Vec<Result<T>>` to keep per-command errors, or `()`. The pipeline is emptied (its
    /// atomic setting kept), ready for new commands.
    ///
    /// # Errors
    /// [`Error::Usage`] for a command that cannot run on a shared connection; [`Error::ExecAbort`] when
    /// the server refused a command while queueing a transaction; a conversion error (including
    /// [`Error::Server`] for a command's error reply, unless `T` keeps it); the connection's error when
    /// it died.
    pub async fn execute<T: FromValue>(&mut self) -> Result<T> {
        T::from_value(Value::Array(self.execute_raw().await?))
    }

    /// Like [`execute`](Self::execute), but returns the raw replies, server errors kept in their slots
    /// as [`Value::Error`].
    ///
    /// # Errors
    /// As [`execute`](Self::execute), without the conversion errors.
    pub async fn execute_raw(&mut self) -> Result<Vec<Value>> {
        let fresh = crate::Pipeline::new().atomic(self.inner.is_atomic());
        let pipeline = std::mem::replace(&mut self.inner, fresh);
        for cmd in pipeline.cmds() {
            crate::cmd::refuse_on_shared(cmd)?;
        }
        let blocks = !pipeline.is_atomic() && pipeline.cmds().iter().any(|c| block_time(c) != Block::No);
        let value = if blocks {
            let mut lease = self.client.pool().checkout().await?;
            event_value(lease.request(|conn, now| conn.send_pipeline(&pipeline, now), |_| {}).await?)?
        } else {
            let rx = self.client.submit(Payload::Pipeline(pipeline));
            match rx.await {
                Ok(answer) => event_value(answer?)?,
                Err(oneshot::Canceled) => return Err(driver_gone()),
            }
        };
        match value {
            Value::Array(values) => Ok(values),
            other => Err(Error::Protocol(format!("a pipeline was answered by {other:?}"))),
        }
    }
}

impl<R: Rt> std::fmt::Debug for Pipeline<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("atomic", &self.is_atomic())
            .field("cmds", &self.inner.cmds())
            .finish()
    }
}

impl<R: Rt> PipelineCommands for Pipeline<'_, R> {
    fn queue(&mut self, cmd: impl Into<Cmd>) -> &mut Self {
        self.inner.add(cmd.into());
        self
    }
}
