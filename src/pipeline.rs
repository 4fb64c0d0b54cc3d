//! [`Pipeline`]: a list of commands sent in one write and answered by one event, optionally wrapped in
//! `MULTI`/`EXEC`. Plain data; [`Connection::send_pipeline`](crate::Connection::send_pipeline) sends it.

use crate::Cmd;

/// Commands sent together and answered together.
///
/// A plain pipeline is answered by one [`Event::Pipeline`](crate::Event::Pipeline) holding a reply per
/// command. An atomic pipeline is sent as `MULTI`, the commands, `EXEC`, and answered by one
/// [`Event::Transaction`](crate::Event::Transaction).
///
/// ```
/// use redwire::{Cmd, Pipeline};
///
/// let mut pipe = Pipeline::new();
/// pipe.add(Cmd::new("SET").arg("k").arg(1)).add(Cmd::new("INCR").arg("k"));
/// assert_eq!(pipe.len(), 2);
/// assert!(!pipe.is_atomic());
///
/// let tx = Pipeline::transaction().cmd(Cmd::new("INCR").arg("a")).cmd(Cmd::new("INCR").arg("b"));
/// assert!(tx.is_atomic());
/// assert_eq!(tx.cmds()[1].arg_at(1), Some(&b"b"[..]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "a pipeline does nothing until it is sent"]
pub struct Pipeline {
    cmds: Vec<Cmd>,
    atomic: bool,
}

impl Pipeline {
    /// An empty, non-atomic pipeline.
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// An empty atomic pipeline (a transaction).
    pub fn transaction() -> Pipeline {
        Pipeline { cmds: Vec::new(), atomic: true }
    }

    /// An empty pipeline with room for `n` commands.
    pub fn with_capacity(n: usize) -> Pipeline {
        Pipeline { cmds: Vec::with_capacity(n), atomic: false }
    }

    /// Makes the pipeline atomic (`MULTI`/`EXEC`) or not.
    pub fn atomic(mut self, atomic: bool) -> Pipeline {
        self.atomic = atomic;
        self
    }

    /// Sets atomicity in place.
    pub fn set_atomic(&mut self, atomic: bool) -> &mut Pipeline {
        self.atomic = atomic;
        self
    }

    /// Appends a command, builder style.
    pub fn cmd(mut self, cmd: Cmd) -> Pipeline {
        self.cmds.push(cmd);
        self
    }

    /// Appends a command in place.
    pub fn add(&mut self, cmd: Cmd) -> &mut Pipeline {
        self.cmds.push(cmd);
        self
    }

    /// `true` when sent as `MULTI` ... `EXEC`.
    pub fn is_atomic(&self) -> bool {
        self.atomic
    }

    /// The commands, in order.
    pub fn cmds(&self) -> &[Cmd] {
        &self.cmds
    }

    /// The number of commands.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    /// `true` when there is no command.
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// Removes every command, keeping the allocation and the atomic flag.
    pub fn clear(&mut self) {
        self.cmds.clear();
    }
}

impl Extend<Cmd> for Pipeline {
    fn extend<I: IntoIterator<Item = Cmd>>(&mut self, iter: I) {
        self.cmds.extend(iter);
    }
}

impl FromIterator<Cmd> for Pipeline {
    fn from_iter<I: IntoIterator<Item = Cmd>>(iter: I) -> Pipeline {
        Pipeline { cmds: iter.into_iter().collect(), atomic: false }
    }
}
