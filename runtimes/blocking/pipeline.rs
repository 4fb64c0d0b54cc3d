//! [`Pipeline`]: commands queued with chained methods and sent in one write on one pooled connection,
//! atomic (`MULTI`/`EXEC`) by default. Also [`Queue`], the list a [`Transaction`](super::Transaction)
//! queues into. The core's [`crate::Pipeline`] holds the commands and folds the replies.

use super::client::Client;
use crate::cmd::PipelineCommands;
use crate::pipeline::Pipeline as Batch;
use crate::resp::Value;
use crate::{Cmd, Error, Event, FromValue, Result};

/// Commands sent together and answered together, from [`Client::pipeline`].
///
/// Atomic by default: the commands run inside `MULTI`/`EXEC`, nothing else runs between them.
/// `.transaction(false)` only batches them (one write, one read of all replies). Queue commands with
/// the [`PipelineCommands`] methods, which chain; [`execute`](Pipeline::execute) sends them, converts the
/// replies and empties the pipeline for reuse.
///
/// ```no_run
/// # let client = redwire::blocking::Client::open("redis://127.0.0.1")?;
/// use redwire::cmd::PipelineCommands;
/// use redwire::resp::Value;
///
/// // Typed: one tuple element per command (a server error in any slot is raised).
/// let (ok, n, items): (bool, i64, Vec<String>) =
///     client.pipeline().set("k", "v").incr("n").lrange("list", 0, -1).execute()?;
///
/// // Every slot kept, server errors as values: `Vec<Result<Value>>` or `execute_raw`.
/// let replies: Vec<redwire::Result<Value>> =
///     client.pipeline().transaction(false).incr("n").incr("k").execute()?;
/// assert!(replies[0].is_ok() && replies[1].is_err()); // "k" holds a string, not a number
/// # let _ = (ok, n, items);
/// # Ok::<(), redwire::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a pipeline does nothing until execute() is called"]
pub struct Pipeline {
    client: Client,
    queue: Queue,
}

impl Pipeline {
    pub(crate) fn new(client: Client) -> Pipeline {
        Pipeline { client, queue: Queue::new() }
    }

    /// Atomic (`MULTI`/`EXEC`, the default) or a plain batch (`false`).
    pub fn transaction(mut self, atomic: bool) -> Pipeline {
        self.queue.batch.set_atomic(atomic);
        self
    }

    /// `true` when the commands will run inside `MULTI`/`EXEC`.
    pub fn is_atomic(&self) -> bool {
        self.queue.batch.is_atomic()
    }

    /// The number of queued commands.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// `true` when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Drops every queued command.
    pub fn clear(&mut self) {
        self.queue.clear();
    }

    /// Sends the queued commands and converts the replies, as one array with a slot per command, into
    /// `T`: a tuple, `Vec<X>`, or `Vec<Result<X>>` to keep every slot when some failed. The pipeline is
    /// empty afterwards, whatever the outcome.
    ///
    /// # Errors
    /// [`Error::Server`] when a slot holds an error reply and `T` does not keep errors; [`Error::ExecAbort`]
    /// when the server refused a command while queueing (atomic: nothing ran); [`Error::Conversion`];
    /// [`Error::Usage`] when a queued command cannot run on a pooled connection (nothing was sent);
    /// connection errors (never re-sent).
    pub fn execute<T: FromValue>(&mut self) -> Result<T> {
        T::from_value(Value::Array(self.execute_raw()?))
    }

    /// Sends the queued commands and returns a reply per command, server errors kept as
    /// [`Value::Error`] in their slots. The pipeline is empty afterwards.
    ///
    /// # Errors
    /// As [`execute`](Pipeline::execute), except that error replies are values.
    pub fn execute_raw(&mut self) -> Result<Vec<Value>> {
        let batch = self.queue.take()?;
        let mut conn = self.client.pool().checkout()?;
        match conn.call(|c, now| c.send_pipeline(&batch, now))? {
            Event::Pipeline { values, .. } => Ok(values),
            Event::Transaction { result, .. } => result,
            other => Err(conn.unexpected(&other)),
        }
    }
}

impl PipelineCommands for Pipeline {
    /// Queues any command (a [`Cmd`] or a builder).
    fn queue(&mut self, cmd: impl Into<Cmd>) -> &mut Pipeline {
        self.queue.queue(cmd);
        self
    }
}

/// Commands queued for a [`Transaction`](super::Transaction)'s `MULTI`/`EXEC` (from
/// [`Transaction::multi`](super::Transaction::multi)), or for a [`Pipeline`].
#[derive(Debug)]
pub struct Queue {
    batch: Batch,
    /// The first queued command a pooled connection must not run; reported at execute.
    refused: Option<Error>,
}

impl Queue {
    pub(crate) fn new() -> Queue {
        Queue { batch: Batch::transaction(), refused: None }
    }

    /// The number of queued commands.
    pub fn len(&self) -> usize {
        self.batch.len()
    }

    /// `true` when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    /// Drops every queued command.
    pub fn clear(&mut self) {
        self.batch.clear();
        self.refused = None;
    }

    /// The queued commands, leaving the queue empty (and atomic as it was); the first refusal if any.
    pub(crate) fn take(&mut self) -> Result<Batch> {
        let atomic = self.batch.is_atomic();
        let batch = std::mem::replace(&mut self.batch, Batch::new().atomic(atomic));
        match self.refused.take() {
            Some(e) => Err(e),
            None => Ok(batch),
        }
    }
}

impl PipelineCommands for Queue {
    /// Queues any command (a [`Cmd`] or a builder).
    fn queue(&mut self, cmd: impl Into<Cmd>) -> &mut Queue {
        let cmd = cmd.into();
        if self.refused.is_none() {
            if let Err(Error::Usage(m)) = crate::cmd::refuse_on_shared(&cmd) {
                self.refused = Some(Error::Usage(format!("command {} of the pipeline: {m}", self.len() + 1)));
            }
        }
        self.batch.add(cmd);
        self
    }
}
