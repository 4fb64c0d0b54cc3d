//! [`Parts`]: the engine behind the generated command builders (`cmd::set(..).ex(10).nx()`).
//!
//! A builder's methods may be called in any order, but Redis wants arguments in the order its docs give
//! (`XADD key [NOMKSTREAM] [MAXLEN ~ n] <id> field value ...`). Every write therefore carries a *position*
//! (the argument's pre-order index in the command's docs) and a *group* (the option it sets; setting it
//! again replaces the earlier value unless the option may repeat). Arguments are encoded once, in call
//! order, into one `Cmd`; only when the calls came out of order is the body reassembled, once, on
//! conversion. This file knows no command names: the generated code calls it.

use super::body::Body;
use super::{Cmd, ToArgs};

/// The group of required arguments written by constructors: never replaced.
const REQUIRED: u16 = u16::MAX;

/// One run of consecutive arguments written for one position.
#[derive(Debug, Clone, Copy)]
struct Seg {
    pos: u16,
    group: u16,
    dead: bool,
    start: usize,
    end: usize,
    argc: usize,
}

/// The segments of a [`Parts`]: inline while there are few (a builder's constructor writes one per
/// required argument, `SET key value` two), on the heap beyond. A `Vec` here was one allocation per
/// built command, a fifth of the client's CPU in a pipeline of 128 SETs.
#[derive(Debug, Clone)]
enum Segs {
    Inline { len: u8, segs: [Seg; INLINE_SEGS] },
    Heap(Vec<Seg>),
}

const INLINE_SEGS: usize = 4;
const NO_SEG: Seg = Seg { pos: 0, group: 0, dead: true, start: 0, end: 0, argc: 0 };

impl Segs {
    fn as_slice(&self) -> &[Seg] {
        match self {
            Segs::Inline { len, segs } => &segs[..usize::from(*len)],
            Segs::Heap(v) => v,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [Seg] {
        match self {
            Segs::Inline { len, segs } => &mut segs[..usize::from(*len)],
            Segs::Heap(v) => v,
        }
    }

    fn push(&mut self, seg: Seg) {
        match self {
            Segs::Inline { len, segs } if usize::from(*len) < INLINE_SEGS => {
                segs[usize::from(*len)] = seg;
                *len += 1;
            }
            Segs::Inline { segs, .. } => {
                let mut v = Vec::with_capacity(2 * INLINE_SEGS);
                v.extend_from_slice(segs);
                v.push(seg);
                *self = Segs::Heap(v);
            }
            Segs::Heap(v) => v.push(seg),
        }
    }
}

/// A command under construction whose arguments may arrive out of order. Used by generated builders.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct Parts {
    cmd: Cmd,
    head_len: usize,
    head_argc: usize,
    segs: Segs,
    group: u16,
    open: bool,
    max_pos: u16,
    reorder: bool,
}

impl Parts {
    /// Starts from a command holding only its name (and subcommand).
    pub fn new(cmd: Cmd) -> Parts {
        Parts {
            head_len: cmd.body.len(),
            head_argc: cmd.argc,
            cmd,
            segs: Segs::Inline { len: 0, segs: [NO_SEG; INLINE_SEGS] },
            group: REQUIRED,
            open: false,
            max_pos: 0,
            reorder: false,
        }
    }

    /// Starts writing option `group`; unless it may repeat (`append`), earlier writes of it are dropped.
    pub fn g(&mut self, group: u16, append: bool) -> &mut Parts {
        if !append {
            for seg in self.segs.as_mut_slice().iter_mut().filter(|s| s.group == group && !s.dead) {
                seg.dead = true;
                self.reorder = true;
            }
        }
        self.group = group;
        self.open = false;
        self
    }

    /// Writes a literal token at position `pos`.
    pub fn t(&mut self, pos: u16, token: &'static str) -> &mut Parts {
        self.at(pos);
        self.cmd.push_arg(token.as_bytes());
        self.close();
        self
    }

    /// Writes a value's arguments at position `pos`.
    pub fn v<T: ToArgs>(&mut self, pos: u16, value: T) -> &mut Parts {
        self.at(pos);
        value.write_args(&mut self.cmd);
        self.close();
        self
    }

    fn at(&mut self, pos: u16) {
        if self.open && self.segs.as_slice().last().is_some_and(|s| s.pos == pos) {
            return;
        }
        if pos < self.max_pos {
            self.reorder = true;
        }
        self.max_pos = self.max_pos.max(pos);
        let (start, argc) = (self.cmd.body.len(), self.cmd.argc);
        self.segs.push(Seg { pos, group: self.group, dead: false, start, end: start, argc });
        self.open = true;
    }

    fn close(&mut self) {
        if let Some(seg) = self.segs.as_mut_slice().last_mut() {
            seg.end = self.cmd.body.len();
        }
    }

    /// The finished command. O(1) when the arguments came in order; otherwise one copy of the body.
    pub fn finish(self) -> Cmd {
        if !self.reorder {
            return self.cmd;
        }
        // `argc` of a segment is the count before it; turn it into the count inside it.
        let total = self.cmd.argc;
        let mut segs = self.segs.as_slice().to_vec();
        for i in 0..segs.len() {
            let next = segs.get(i + 1).map_or(total, |s| s.argc);
            segs[i].argc = next - segs[i].argc;
        }
        segs.retain(|s| !s.dead);
        segs.sort_by_key(|s| s.pos); // stable: same position keeps call order
        let old = self.cmd.body.as_slice();
        let mut body = Body::with_capacity(old.len());
        body.extend(&[&old[..self.head_len]]);
        let mut argc = self.head_argc;
        for s in &segs {
            body.extend(&[&old[s.start..s.end]]);
            argc += s.argc;
        }
        // The name is the first argument, before every segment: it has not moved.
        Cmd { body, argc, name: self.cmd.name }
    }
}

/// Declares a generated builder type: a newtype over [`Parts`] that converts into a [`Cmd`].
macro_rules! builder {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        #[must_use = "a command builder does nothing until it is sent (or converted into a Cmd)"]
        pub struct $name(Parts);

        impl From<$name> for Cmd {
            fn from(b: $name) -> Cmd {
                b.0.finish()
            }
        }
    };
}
pub(crate) use builder;

/// Declares a generated enum of literal tokens (`Side::Left` writes `LEFT`), usable as an argument.
macro_rules! token_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $token:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $(#[doc = concat!("`", $token, "`")] $variant,)*
        }

        impl $name {
            /// The token as sent to the server.
            pub const fn token(self) -> &'static str {
                match self {
                    $($name::$variant => $token,)*
                }
            }
        }

        impl ToArgs for $name {
            fn write_args(&self, cmd: &mut Cmd) {
                cmd.push_arg(self.token().as_bytes())
            }
        }
    };
}
pub(crate) use token_enum;

/// A [`CommandFlags`](super::CommandFlags) constant from flag names: `fl!(WRITE DENYOOM)`.
macro_rules! fl {
    ($($flag:ident)*) => {
        super::CommandFlags(0 $(| super::CommandFlags::$flag.0)*)
    };
}
pub(crate) use fl;

#[cfg(test)]
mod tests {
    use super::*;

    fn words(cmd: &Cmd) -> Vec<String> {
        cmd.args().map(|a| String::from_utf8_lossy(a).into_owned()).collect()
    }

    #[test]
    fn in_order_writes_need_no_copy() {
        let mut p = Parts::new(Cmd::new("SET"));
        p.v(1, "k").v(2, "v");
        p.g(3, false).t(3, "NX");
        let cmd = p.finish();
        assert_eq!(words(&cmd), ["SET", "k", "v", "NX"]);
        assert_eq!(cmd.arg_count(), 4);
    }

    #[test]
    fn out_of_order_writes_are_sorted_and_groups_replace() {
        // XADD key [NOMKSTREAM] [trim: MAXLEN|MINID [=|~] threshold] id field value
        let mut p = Parts::new(Cmd::new("XADD"));
        p.v(1, "s").v(10, "*").v(11, [("f", "v")]);
        p.g(4, false).t(4, "MAXLEN").v(8, 10);
        p.g(5, false).t(5, "~");
        p.g(4, false).t(4, "MINID").v(8, "0-1"); // replaces MAXLEN 10
        p.g(2, false).t(2, "NOMKSTREAM");
        let cmd = p.finish();
        assert_eq!(words(&cmd), ["XADD", "s", "NOMKSTREAM", "MINID", "~", "0-1", "*", "f", "v"]);
        assert_eq!(cmd.arg_count(), 9);
    }

    #[test]
    fn segments_inline_and_spilled_give_the_same_command() {
        // SET key value [NX] [EX s]: few segments stay inline; a replaced option is dropped either way.
        let mut p = Parts::new(Cmd::new("SET"));
        p.v(1, "k").v(2, "v");
        p.g(5, false).t(5, "EX").v(5, 1);
        p.g(5, false).t(5, "EX").v(5, 2);
        p.g(3, false).t(3, "NX");
        assert!(matches!(p.segs, Segs::Heap(_)), "five segments spill");
        assert_eq!(words(&p.finish()), ["SET", "k", "v", "NX", "EX", "2"]);
        let mut p = Parts::new(Cmd::new("SET"));
        p.v(1, "k").v(2, "v");
        p.g(5, false).t(5, "EX").v(5, 1);
        p.g(3, false).t(3, "NX");
        assert!(matches!(p.segs, Segs::Inline { len: 4, .. }));
        assert_eq!(words(&p.finish()), ["SET", "k", "v", "NX", "EX", "1"]);
    }

    #[test]
    fn repeatable_groups_keep_call_order() {
        let mut p = Parts::new(Cmd::new("BITFIELD"));
        p.v(1, "k");
        p.g(2, true).t(2, "INCRBY").v(2, ("u8", 0, 1));
        p.g(2, true).t(2, "GET").v(2, ("u8", 0));
        p.g(2, true).t(2, "INCRBY").v(2, ("u8", 8, 2));
        let cmd = p.finish();
        assert_eq!(
            words(&cmd),
            ["BITFIELD", "k", "INCRBY", "u8", "0", "1", "GET", "u8", "0", "INCRBY", "u8", "8", "2"]
        );
    }
}
