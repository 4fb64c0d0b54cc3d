//! Commands: the [`Cmd`] builder, [`ToArgs`] for arguments, [`FromValue`] for replies, the generated typed
//! constructors and command table, and the sans-IO helpers for SCAN cursors and scripts.
//!
//! A `Cmd` holds its arguments already encoded as RESP bulk strings, so sending it is one copy. Nothing in
//! this module does I/O: the runtimes send the `Cmd`s it builds and hand back the replies.

pub(crate) mod blocking;
mod body;
mod builder;
mod from_value;
mod generated;
mod info;
mod scan;
mod script;
mod shared;
mod to_args;

pub use blocking::{block_time, Block};
#[doc(hidden)]
pub use builder::Parts;
pub use from_value::FromValue;
pub use generated::*;
pub use info::{info_for, lookup, ArgInfo, ArgKind, CommandFlags, CommandInfo};
pub use scan::ScanState;
pub use script::{Script, ScriptCall};
pub use shared::refuse_on_shared;
pub use to_args::ToArgs;

use crate::resp::encoder::{format_i64, format_u64, write_header};
use body::Body;
use bytes::{BufMut, BytesMut};

/// One Redis command: a name and its arguments.
///
/// ```
/// use redwire::Cmd;
/// let cmd = Cmd::new("SET").arg("key").arg(42);
/// assert_eq!(cmd.name(), b"SET");
/// assert_eq!(cmd.args().collect::<Vec<_>>(), vec![&b"SET"[..], b"key", b"42"]);
/// ```
#[derive(Clone, PartialEq, Eq)]
#[must_use = "a command does nothing until it is sent"]
pub struct Cmd {
    /// The arguments, each encoded as `$<len>\r\n<bytes>\r\n` (inline while short: building a small
    /// command allocates nothing).
    body: Body,
    argc: usize,
    /// Where the name (the first argument) lies in `body`: read on every send, so not parsed each time.
    name: (usize, usize),
}

impl Cmd {
    /// A command with its name as the first argument (`Cmd::new("GET")`, or `Cmd::new("CLIENT").arg("LIST")`).
    pub fn new(name: impl AsRef<[u8]>) -> Cmd {
        let mut cmd = Cmd::empty();
        cmd.push_arg(name.as_ref());
        cmd
    }

    /// Appends one or more arguments (a slice or a tuple gives several).
    pub fn arg<T: ToArgs>(mut self, arg: T) -> Cmd {
        arg.write_args(&mut self);
        self
    }

    /// Appends arguments in place.
    pub fn add_arg<T: ToArgs>(&mut self, arg: T) -> &mut Cmd {
        arg.write_args(self);
        self
    }

    /// Appends one raw argument. This is what every [`ToArgs`] implementation ends in.
    pub fn push_arg(&mut self, arg: &[u8]) {
        self.body.push_bulk(arg);
        if self.argc == 0 {
            let end = self.body.len() - 2;
            self.name = (end - arg.len(), end);
        }
        self.argc += 1;
    }

    /// Appends one integer argument, formatted without allocating.
    pub fn push_int(&mut self, n: i64) {
        let mut digits = [0u8; 21];
        self.push_arg(format_i64(n, &mut digits));
    }

    /// Appends one unsigned integer argument, formatted without allocating.
    pub fn push_uint(&mut self, n: u64) {
        let mut digits = [0u8; 21];
        self.push_arg(format_u64(n, &mut digits));
    }

    /// The number of arguments, the name included.
    pub fn arg_count(&self) -> usize {
        self.argc
    }

    /// The command name as given (the first argument).
    pub fn name(&self) -> &[u8] {
        &self.body.as_slice()[self.name.0..self.name.1]
    }

    /// Every argument, the name first.
    pub fn args(&self) -> Args<'_> {
        Args { rest: self.body.as_slice() }
    }

    /// The `i`th argument (0 is the name).
    pub fn arg_at(&self, i: usize) -> Option<&[u8]> {
        self.args().nth(i)
    }

    /// Appends the command's RESP encoding to `buf`: one header and one copy of the body.
    pub fn encode(&self, buf: &mut BytesMut) {
        buf.reserve(self.body.len() + 16);
        write_header(buf, b'*', self.argc as i64);
        buf.put_slice(self.body.as_slice());
    }

    /// The size of [`Cmd::encode`]'s output, give or take the array header.
    pub fn encoded_len(&self) -> usize {
        self.body.len() + 16
    }

    /// A command with no arguments at all, not even a name: scratch space for counting arguments.
    pub(crate) fn empty() -> Cmd {
        Cmd { body: Body::new(), argc: 0, name: (0, 0) }
    }

    /// Appends every argument of `other` (its name included) after this command's arguments.
    pub(crate) fn append(&mut self, other: &Cmd) {
        if self.argc == 0 {
            let at = self.body.len();
            self.name = (at + other.name.0, at + other.name.1);
        }
        self.body.extend(&[other.body.as_slice()]);
        self.argc += other.argc;
    }
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_list();
        for a in self.args() {
            list.entry(&String::from_utf8_lossy(a));
        }
        list.finish()
    }
}

/// Iterator over a [`Cmd`]'s arguments.
#[derive(Debug, Clone)]
pub struct Args<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        // The body is written only by `Cmd::push_arg`: `$<len>\r\n<bytes>\r\n`, so it parses by construction
        // (digits up to the `\r`). Read on every send (the name, for classification): no str parsing.
        let rest = self.rest.strip_prefix(b"$")?;
        let mut len = 0usize;
        let mut nl = 0;
        while let Some(&d) = rest.get(nl).filter(|&&d| d != b'\r') {
            len = len.checked_mul(10)?.checked_add(usize::from(d.wrapping_sub(b'0')))?;
            nl += 1;
        }
        let start = nl + 2;
        let arg = rest.get(start..start + len)?;
        self.rest = &rest[start + len + 2..];
        Some(arg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_encode_command() {
        let cmd = Cmd::new("SET").arg("k").arg(-12).arg(&b"a\r\nb"[..]);
        let mut a = BytesMut::new();
        cmd.encode(&mut a);
        let mut b = BytesMut::new();
        crate::resp::encode_command(&mut b, &[&b"SET"[..], b"k", b"-12", b"a\r\nb"]);
        assert_eq!(a, b);
        assert_eq!(cmd.arg_count(), 4);
        assert_eq!(cmd.arg_at(3), Some(&b"a\r\nb"[..]));
    }
}
