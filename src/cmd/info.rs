//! The shape of the generated command table ([`COMMANDS`](super::COMMANDS)) and lookups into it.
//!
//! The table itself is data written by `examples/generate_commands.rs` from the servers' `COMMAND DOCS` and
//! `COMMAND INFO`; this file only declares its types and searches it. The Connection asks it whether a
//! command blocks; tests compare it with what a running server reports.

use super::{Cmd, COMMANDS};

/// Command flags from `COMMAND INFO` (`write`, `readonly`, `blocking`, ...), as a bit set.
///
/// ```
/// use redwire::cmd::{lookup, CommandFlags};
/// let blpop = lookup("blpop").unwrap();
/// assert!(blpop.flags.contains(CommandFlags::BLOCKING | CommandFlags::WRITE));
/// assert!(lookup("GET").unwrap().flags.contains(CommandFlags::READONLY));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CommandFlags(pub u32);

macro_rules! flags {
    ($($(#[$doc:meta])* $name:ident = $bit:literal, $text:literal;)*) => {
        impl CommandFlags {
            $($(#[$doc])* pub const $name: CommandFlags = CommandFlags(1 << $bit);)*

            /// Every flag with the name `COMMAND INFO` gives it.
            pub const ALL: &'static [(&'static str, CommandFlags)] = &[$(($text, CommandFlags::$name)),*];
        }
    };
}

flags! {
    /// May modify data.
    WRITE = 0, "write";
    /// Only reads data.
    READONLY = 1, "readonly";
    /// May use more memory: refused when `maxmemory` is reached.
    DENYOOM = 2, "denyoom";
    /// Administrative command.
    ADMIN = 3, "admin";
    /// Pub/sub related.
    PUBSUB = 4, "pubsub";
    /// Not allowed from scripts.
    NOSCRIPT = 5, "noscript";
    /// May block the connection until data arrives or a timeout passes.
    BLOCKING = 6, "blocking";
    /// Allowed while the database is loading.
    LOADING = 7, "loading";
    /// Allowed on a replica with stale data.
    STALE = 8, "stale";
    /// Not shown in MONITOR.
    SKIP_MONITOR = 9, "skip_monitor";
    /// Not logged in the slow log.
    SKIP_SLOWLOG = 10, "skip_slowlog";
    /// Not logged in the command log (Valkey).
    SKIP_COMMANDLOG = 11, "skip_commandlog";
    /// O(1) or O(log N) and never delays the server.
    FAST = 12, "fast";
    /// Allowed before authentication.
    NO_AUTH = 13, "no_auth";
    /// Key positions depend on the arguments.
    MOVABLEKEYS = 14, "movablekeys";
    /// Allowed while the server is busy running a script.
    ALLOW_BUSY = 15, "allow_busy";
    /// Not allowed inside MULTI.
    NO_MULTI = 16, "no_multi";
    /// Refused while a replica loads its data set asynchronously.
    NO_ASYNC_LOADING = 17, "no_async_loading";
    /// May have no key arguments at all.
    NO_MANDATORY_KEYS = 18, "no_mandatory_keys";
    /// Allowed on an importing slot with ASKING.
    ASKING = 19, "asking";
    /// May replicate although it is not a write.
    MAY_REPLICATE = 20, "may_replicate";
    /// Implemented by a module.
    MODULE = 21, "module";
    /// Allowed in Sentinel mode.
    SENTINEL = 22, "sentinel";
    /// Sentinel-only.
    ONLY_SENTINEL = 23, "only_sentinel";
}

impl CommandFlags {
    /// `true` when every flag in `other` is set.
    pub const fn contains(self, other: CommandFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flag called `name` in `COMMAND INFO`, if redwire knows it.
    pub fn from_name(name: &str) -> Option<CommandFlags> {
        CommandFlags::ALL.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|&(_, f)| f)
    }

    /// The names of the flags that are set.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        CommandFlags::ALL.iter().filter(move |(_, f)| self.contains(*f)).map(|&(n, _)| n)
    }
}

impl std::ops::BitOr for CommandFlags {
    type Output = CommandFlags;
    fn bitor(self, rhs: CommandFlags) -> CommandFlags {
        CommandFlags(self.0 | rhs.0)
    }
}

/// The type of one documented argument (`COMMAND DOCS` `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ArgKind {
    /// A key name.
    Key,
    /// A string.
    String,
    /// An integer.
    Integer,
    /// A double.
    Double,
    /// A glob-style pattern.
    Pattern,
    /// A Unix timestamp.
    UnixTime,
    /// A literal token alone (`NX`).
    PureToken,
    /// Exactly one of the nested arguments.
    OneOf,
    /// All the nested arguments, in order.
    Block,
}

/// One documented argument of a command, with its nested arguments for `oneof` and `block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArgInfo {
    /// The argument's name in the docs (`key`, `expiration`).
    pub name: &'static str,
    /// Its type.
    pub kind: ArgKind,
    /// The literal token written before it (`EX`), if any.
    pub token: Option<&'static str>,
    /// May be left out.
    pub optional: bool,
    /// May be repeated (`key [key ...]`).
    pub multiple: bool,
    /// When repeated, the token is repeated too (`GET p [GET p ...]`).
    pub multiple_token: bool,
    /// The server version that added this argument, when it came after the command.
    pub since: Option<&'static str>,
    /// Nested arguments (`oneof` alternatives, `block` members).
    pub args: &'static [ArgInfo],
}

/// One command or subcommand of the table: everything `COMMAND DOCS` and `COMMAND INFO` say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandInfo {
    /// Lowercase name as `COMMAND INFO` gives it: `get`, or `config|get` for a subcommand.
    pub name: &'static str,
    /// For a subcommand, its container (`config`).
    pub container: Option<&'static str>,
    /// The docs' group (`string`, `server`, ...).
    pub group: &'static str,
    /// The version that introduced the command (of the server whose docs were used).
    pub since: &'static str,
    /// The servers the generator saw it on (labels from [`SERVERS`](super::SERVERS), e.g. `"redis 7.0.15"`).
    pub servers: &'static [&'static str],
    /// One line from the docs.
    pub summary: &'static str,
    /// `COMMAND INFO` flags.
    pub flags: CommandFlags,
    /// Arity: the exact argument count (name included) when positive, a minimum when negative.
    pub arity: i16,
    /// Position of the first key (0 when the command takes none).
    pub first_key: i16,
    /// Position of the last key (negative counts from the end).
    pub last_key: i16,
    /// Step between keys.
    pub key_step: i16,
    /// The documented arguments.
    pub args: &'static [ArgInfo],
    /// Set when the command is not offered on pooled clients, with the reason.
    pub excluded: Option<&'static str>,
    /// Set when the docs mark the command deprecated, with the version.
    pub deprecated_since: Option<&'static str>,
}

impl CommandInfo {
    /// May block the connection (BLPOP, XREAD, WAIT, ...).
    pub const fn is_blocking(&self) -> bool {
        self.flags.contains(CommandFlags::BLOCKING)
    }

    /// Only reads data.
    pub const fn is_readonly(&self) -> bool {
        self.flags.contains(CommandFlags::READONLY)
    }

    /// May modify data.
    pub const fn is_write(&self) -> bool {
        self.flags.contains(CommandFlags::WRITE)
    }

    /// The name as it is sent: `GET`, `CONFIG GET`.
    pub fn display_name(&self) -> String {
        self.name.replace('|', " ").to_ascii_uppercase()
    }
}

/// Builds an [`ArgInfo`] in the generated table: flags are 1 optional, 2 multiple, 4 multiple_token.
pub(crate) const fn a(
    name: &'static str,
    kind: ArgKind,
    token: Option<&'static str>,
    flags: u8,
    since: Option<&'static str>,
    args: &'static [ArgInfo],
) -> ArgInfo {
    ArgInfo {
        name,
        kind,
        token,
        optional: flags & 1 != 0,
        multiple: flags & 2 != 0,
        multiple_token: flags & 4 != 0,
        since,
        args,
    }
}

/// Builds a [`CommandInfo`] in the generated table.
#[allow(clippy::too_many_arguments)]
pub(crate) const fn c(
    name: &'static str,
    container: Option<&'static str>,
    group: &'static str,
    since: &'static str,
    servers: &'static [&'static str],
    summary: &'static str,
    flags: CommandFlags,
    arity: i16,
    keys: (i16, i16, i16),
    args: &'static [ArgInfo],
    excluded: Option<&'static str>,
    deprecated_since: Option<&'static str>,
) -> CommandInfo {
    CommandInfo {
        name,
        container,
        group,
        since,
        servers,
        summary,
        flags,
        arity,
        first_key: keys.0,
        last_key: keys.1,
        key_step: keys.2,
        args,
        excluded,
        deprecated_since,
    }
}

/// Looks a command up by name, ignoring case: `"get"`, `"GET"`, `"config get"` or `"CONFIG|GET"`.
/// O(log n).
///
/// ```
/// let info = redwire::cmd::lookup("Config Get").unwrap();
/// assert_eq!(info.name, "config|get");
/// assert_eq!(info.container, Some("config"));
/// assert!(redwire::cmd::lookup("select").unwrap().excluded.is_some());
/// assert!(redwire::cmd::lookup("no-such-command").is_none());
/// ```
pub fn lookup(name: &str) -> Option<&'static CommandInfo> {
    let mut buf = [0u8; 64];
    let key = buf.get_mut(..name.len())?;
    for (dst, src) in key.iter_mut().zip(name.bytes()) {
        *dst = if src == b' ' { b'|' } else { src.to_ascii_lowercase() };
    }
    let key = std::str::from_utf8(key).ok()?;
    COMMANDS.binary_search_by(|c| c.name.cmp(key)).ok().map(|i| &COMMANDS[i])
}

/// `false` when no entry the table excludes (`CommandInfo::excluded`: commands a pooled or shared
/// connection must not run) has `name`'s first word (up to a space or `|`) as its name or container;
/// `true` means "look it up" with [`info_for`]. Runtimes call it on every command, so a (length, first
/// letter) bitmap answers first: GET, SET and almost every other command pass without a comparison.
#[cfg_attr(not(any(feature = "blocking", feature = "smol", feature = "async-std")), allow(dead_code))]
pub(crate) fn may_be_excluded(name: &[u8]) -> bool {
    struct FirstWords {
        words: Vec<&'static str>,
        /// Bit `letter % 32` of `by_len[len.min(15)]` is set when a word of that length starts with it.
        by_len: [u32; 16],
    }
    static FIRST_WORDS: std::sync::OnceLock<FirstWords> = std::sync::OnceLock::new();
    let bit = |word: &[u8]| word.first().map_or(0, |&c| 1u32 << (c.to_ascii_uppercase() % 32));
    let first_words = FIRST_WORDS.get_or_init(|| {
        let mut words: Vec<&str> =
            COMMANDS.iter().filter(|c| c.excluded.is_some()).map(|c| c.container.unwrap_or(c.name)).collect();
        words.sort_unstable();
        words.dedup();
        let mut by_len = [0u32; 16];
        words.iter().for_each(|w| by_len[w.len().min(15)] |= bit(w.as_bytes()));
        FirstWords { words, by_len }
    });
    let first = name.split(|&b| b == b' ' || b == b'|').next().unwrap_or(name);
    if first_words.by_len[first.len().min(15)] & bit(first) == 0 {
        return false;
    }
    first_words.words.iter().any(|w| w.len() == first.len() && w.as_bytes().eq_ignore_ascii_case(first))
}

/// The table entry for a built command: its name, or its container and subcommand (`CLIENT LIST`).
///
/// ```
/// use redwire::cmd;
/// assert_eq!(cmd::info_for(&cmd::client_list().into()).unwrap().name, "client|list");
/// assert!(cmd::info_for(&cmd::blpop("q", 0).into()).unwrap().is_blocking());
/// ```
pub fn info_for(cmd: &Cmd) -> Option<&'static CommandInfo> {
    let name = std::str::from_utf8(cmd.name()).ok()?;
    let top = lookup(name)?;
    if let Some(sub) = cmd.arg_at(1).and_then(|s| std::str::from_utf8(s).ok()) {
        let mut buf = [0u8; 64];
        let full = top.name.len() + 1 + sub.len();
        if let Some(key) = buf.get_mut(..full) {
            key[..top.name.len()].copy_from_slice(top.name.as_bytes());
            key[top.name.len()] = b'|';
            key[top.name.len() + 1..].copy_from_slice(sub.as_bytes());
            if let Some(info) = std::str::from_utf8(key).ok().and_then(lookup) {
                return Some(info);
            }
        }
    }
    Some(top)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_excluded_entry_may_be_excluded_and_plain_commands_pass() {
        for info in COMMANDS.iter().filter(|c| c.excluded.is_some()) {
            let spaced = info.name.replace('|', " ");
            for name in [info.name.to_string(), spaced.clone(), spaced.to_uppercase()] {
                assert!(may_be_excluded(name.as_bytes()), "{name}");
            }
        }
        for name in ["GET", "set", "HGETALL", "lrange", "CLIENTS", "xadd", ""] {
            assert!(!may_be_excluded(name.as_bytes()), "{name}");
        }
    }
}
