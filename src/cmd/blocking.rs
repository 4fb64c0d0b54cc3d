//! [`block_time`]: how long a blocking command (BLPOP, XREAD BLOCK, WAIT, ...) may legitimately keep the
//! server silent, read from its own arguments, so the Connection can give it a deadline that a valid block
//! never trips. Pure function over a [`Cmd`]: no clock, no I/O.

use super::Cmd;
use std::time::Duration;

/// How long a command may block on the server before replying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Block {
    /// Replies without blocking (any non-blocking command; XREAD without BLOCK).
    No,
    /// May block without limit (a timeout of 0, or a timeout the server would reject anyway).
    Forever,
    /// Blocks at most this long.
    For(Duration),
}

fn arg_str(cmd: &Cmd, i: usize) -> Option<&str> {
    cmd.arg_at(i).and_then(|a| std::str::from_utf8(a).ok())
}

/// Where a blocking command keeps its timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeoutArg {
    /// The last argument, in (fractional) seconds: BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BZPOPMIN, BZPOPMAX.
    LastSeconds,
    /// The first argument, in seconds: BLMPOP, BZMPOP.
    FirstSeconds,
    /// The last argument, in integer milliseconds: WAIT, WAITAOF.
    LastMillis,
    /// The `BLOCK ms` option before `STREAMS`: XREAD, XREADGROUP.
    BlockOption,
}

/// The timeout rule of a blocking command, by name (ASCII case-insensitive); `None` for the others.
/// The Connection calls this on every command, so it is a plain match, not a table lookup.
pub(crate) fn timeout_arg(name: &[u8]) -> Option<TimeoutArg> {
    let mut upper = [0u8; 12];
    let upper = upper.get_mut(..name.len())?;
    for (u, b) in upper.iter_mut().zip(name) {
        *u = b.to_ascii_uppercase();
    }
    timeout_arg_upper(upper)
}

/// [`timeout_arg`] of a name already in upper case.
pub(crate) fn timeout_arg_upper(upper: &[u8]) -> Option<TimeoutArg> {
    Some(match upper {
        b"BLPOP" | b"BRPOP" | b"BRPOPLPUSH" | b"BLMOVE" | b"BZPOPMIN" | b"BZPOPMAX" => {
            TimeoutArg::LastSeconds
        }
        b"BLMPOP" | b"BZMPOP" => TimeoutArg::FirstSeconds,
        b"WAIT" | b"WAITAOF" => TimeoutArg::LastMillis,
        b"XREAD" | b"XREADGROUP" => TimeoutArg::BlockOption,
        _ => return None,
    })
}

/// A timeout the server will accept: 0 blocks forever; text it rejects (garbage, negative, `inf`) comes
/// back as an error at once, so it does not block at all.
fn seconds(s: Option<&str>) -> Block {
    match s.and_then(|s| s.trim().parse::<f64>().ok()) {
        Some(0.0) => Block::Forever,
        Some(t) if t > 0.0 => Duration::try_from_secs_f64(t).map_or(Block::No, Block::For),
        _ => Block::No,
    }
}

fn millis(s: Option<&str>) -> Block {
    match s.and_then(|s| s.parse::<u64>().ok()) {
        Some(0) => Block::Forever,
        Some(ms) => Block::For(Duration::from_millis(ms)),
        None => Block::No,
    }
}

/// `XREAD [COUNT n] [BLOCK ms] STREAMS ...` and `XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] [CLAIM t]
/// STREAMS ...`: walks the options, so a group, consumer or stream named `BLOCK` is never taken for it.
fn block_option(cmd: &Cmd) -> Block {
    let mut args = cmd.args().skip(1);
    while let Some(arg) = args.next() {
        let is = |word: &str| arg.eq_ignore_ascii_case(word.as_bytes());
        if is("STREAMS") {
            break;
        } else if is("BLOCK") {
            return millis(args.next().and_then(|a| std::str::from_utf8(a).ok()));
        } else if is("GROUP") {
            args.next();
            args.next();
        } else if is("COUNT") || is("CLAIM") {
            args.next();
        }
    }
    Block::No
}

/// How long `cmd` blocks under the given rule.
pub(crate) fn block_time_by(cmd: &Cmd, rule: TimeoutArg) -> Block {
    let last = cmd.arg_count().saturating_sub(1);
    match rule {
        _ if cmd.arg_count() < 2 => Block::No,
        TimeoutArg::LastSeconds => seconds(arg_str(cmd, last)),
        TimeoutArg::FirstSeconds => seconds(arg_str(cmd, 1)),
        TimeoutArg::LastMillis => millis(arg_str(cmd, last)),
        TimeoutArg::BlockOption => block_option(cmd),
    }
}

/// How long `cmd` may block, from its timeout argument: seconds for BLPOP, BRPOP, BRPOPLPUSH, BLMOVE,
/// BZPOPMIN, BZPOPMAX, BLMPOP and BZMPOP; milliseconds for `XREAD`/`XREADGROUP ... BLOCK ms`, WAIT and
/// WAITAOF. A timeout of 0 blocks forever; one the server rejects does not block. O(number of arguments).
///
/// ```
/// use redwire::cmd::{self, block_time, Block};
/// use std::time::Duration;
///
/// assert_eq!(block_time(&cmd::blpop("q", 1.5)), Block::For(Duration::from_millis(1500)));
/// assert_eq!(block_time(&cmd::blpop("q", 0)), Block::Forever);
/// assert_eq!(block_time(&cmd::xread("s", "$").block(250).into()), Block::For(Duration::from_millis(250)));
/// assert_eq!(block_time(&cmd::xread("s", "$").into()), Block::No);
/// assert_eq!(block_time(&cmd::get("k")), Block::No);
/// ```
pub fn block_time(cmd: &Cmd) -> Block {
    match timeout_arg(cmd.name()) {
        Some(rule) => block_time_by(cmd, rule),
        None => Block::No,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{self, MinMax, Side, COMMANDS};

    #[test]
    fn every_blocking_command_has_a_rule() {
        let examples: Vec<(&str, Cmd)> = vec![
            ("blpop", cmd::blpop(["a", "b"], 2)),
            ("brpop", cmd::brpop("a", 0.5)),
            ("brpoplpush", cmd::brpoplpush("a", "b", 2)),
            ("blmove", cmd::blmove("a", "b", Side::Left, Side::Right, 2)),
            ("blmpop", cmd::blmpop(2, 1, "a", Side::Left).count(3).into()),
            ("bzpopmin", cmd::bzpopmin("z", 2)),
            ("bzpopmax", cmd::bzpopmax("z", 2)),
            ("bzmpop", cmd::bzmpop(2, 1, "z", MinMax::Min).into()),
            ("wait", cmd::wait(1, 2000)),
            ("waitaof", cmd::waitaof(1, 0, 2000)),
            ("xread", cmd::xread("s", "$").block(2000).count(1).into()),
            ("xreadgroup", cmd::xreadgroup("g", "c", "s", ">").block(2000).into()),
        ];
        for info in COMMANDS.iter().filter(|c| c.is_blocking()) {
            assert!(
                timeout_arg(info.name.as_bytes()).is_some(),
                "{} blocks: give it a TimeoutArg",
                info.name
            );
            let (_, example) = examples
                .iter()
                .find(|(n, _)| *n == info.name)
                .unwrap_or_else(|| panic!("{} blocks: add it to block_time and this test", info.name));
            let want = if info.name == "brpop" { Duration::from_millis(500) } else { Duration::from_secs(2) };
            assert_eq!(block_time(example), Block::For(want), "{}", info.name);
        }
    }

    #[test]
    fn every_timeout_rule_names_a_blocking_command() {
        for name in ["blpop", "brpop", "brpoplpush", "blmove", "bzpopmin", "bzpopmax", "blmpop", "bzmpop"]
            .into_iter()
            .chain(["wait", "waitaof", "xread", "xreadgroup"])
        {
            assert!(timeout_arg(name.as_bytes()).is_some(), "{name}");
            let info = crate::cmd::lookup(name).unwrap_or_else(|| panic!("{name} is not in the table"));
            // WAIT blocks only on some servers; the table flags a command blocking if any server does.
            assert!(info.is_blocking(), "{name} has a timeout rule but the table says it never blocks");
        }
        assert_eq!(timeout_arg(b"GET"), None);
        assert_eq!(timeout_arg(b"AVERYLONGCOMMANDNAME"), None);
    }

    #[test]
    fn zero_blocks_forever_and_rejected_timeouts_do_not_block() {
        assert_eq!(block_time(&cmd::brpop("a", 0)), Block::Forever);
        assert_eq!(block_time(&cmd::wait(1, 0)), Block::Forever);
        // The server rejects these timeouts at once, so they never block.
        assert_eq!(block_time(&cmd::blpop("a", "soon")), Block::No);
        assert_eq!(block_time(&cmd::blpop("a", -1)), Block::No);
        assert_eq!(block_time(&cmd::blpop("a", f64::INFINITY)), Block::No);
        assert_eq!(block_time(&Cmd::new("WAIT").arg(1).arg("1.5")), Block::No);
        assert_eq!(block_time(&Cmd::new("BLPOP")), Block::No);
        // A group named BLOCK is not the option.
        assert_eq!(
            block_time(
                &Cmd::new("XREADGROUP")
                    .arg(["GROUP", "BLOCK", "COUNT", "BLOCK", "20", "NOACK", "STREAMS"])
                    .arg(["s", ">"])
            ),
            Block::For(Duration::from_millis(20))
        );
        // A stream named BLOCK after STREAMS is a key, not the option.
        assert_eq!(block_time(&cmd::xread(["BLOCK", "x"], ["0", "0"]).into()), Block::No);
        assert_eq!(
            block_time(&Cmd::new("xread").arg("block").arg(5).arg("streams").arg("s").arg(0)),
            Block::For(Duration::from_millis(5))
        );
    }
}
