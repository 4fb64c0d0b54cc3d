//! [`block_time`]: how long a blocking command (BLPOP, XREAD BLOCK, WAIT, ...) may legitimately keep the
//! server silent, read from its own arguments, so the Connection can give it a deadline that a valid block
//! never trips. Pure function over a [`Cmd`]: no clock, no I/O.

use super::{info_for, Cmd};
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

fn seconds(s: Option<&str>) -> Block {
    match s.and_then(|s| s.parse::<f64>().ok()) {
        Some(t) if t > 0.0 && t.is_finite() => {
            Duration::try_from_secs_f64(t).map_or(Block::Forever, Block::For)
        }
        _ => Block::Forever,
    }
}

fn millis(s: Option<&str>) -> Block {
    match s.and_then(|s| s.parse::<u64>().ok()) {
        Some(0) | None => Block::Forever,
        Some(ms) => Block::For(Duration::from_millis(ms)),
    }
}

/// How long `cmd` may block, from its timeout argument: seconds for BLPOP, BRPOP, BRPOPLPUSH, BLMOVE,
/// BZPOPMIN, BZPOPMAX, BLMPOP and BZMPOP; milliseconds for `XREAD`/`XREADGROUP ... BLOCK ms`, WAIT and
/// WAITAOF. O(number of arguments).
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
    let Some(info) = info_for(cmd) else { return Block::No };
    if !info.is_blocking() {
        return Block::No;
    }
    let last = cmd.arg_count().saturating_sub(1);
    match info.name {
        "blmpop" | "bzmpop" => seconds(arg_str(cmd, 1)),
        "wait" | "waitaof" => millis(arg_str(cmd, last)),
        "xread" | "xreadgroup" => {
            // BLOCK comes before STREAMS; key names and ids after STREAMS are never options.
            let args: Vec<&[u8]> = cmd.args().collect();
            let end = args.iter().position(|a| a.eq_ignore_ascii_case(b"STREAMS")).unwrap_or(args.len());
            match args[..end].iter().position(|a| a.eq_ignore_ascii_case(b"BLOCK")) {
                Some(i) => millis(arg_str(cmd, i + 1)),
                None => Block::No,
            }
        }
        // BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BZPOPMIN, BZPOPMAX and any future blocking command whose
        // timeout is its last argument, in seconds.
        _ => seconds(arg_str(cmd, last)),
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
            let (_, example) = examples
                .iter()
                .find(|(n, _)| *n == info.name)
                .unwrap_or_else(|| panic!("{} blocks: add it to block_time and this test", info.name));
            let want = if info.name == "brpop" { Duration::from_millis(500) } else { Duration::from_secs(2) };
            assert_eq!(block_time(example), Block::For(want), "{}", info.name);
        }
    }

    #[test]
    fn zero_and_garbage_block_forever_options_do_not_confuse() {
        assert_eq!(block_time(&cmd::brpop("a", 0)), Block::Forever);
        assert_eq!(block_time(&cmd::wait(1, 0)), Block::Forever);
        assert_eq!(block_time(&cmd::blpop("a", "soon")), Block::Forever);
        assert_eq!(block_time(&cmd::blpop("a", f64::INFINITY)), Block::Forever);
        // A stream named BLOCK after STREAMS is a key, not the option.
        assert_eq!(block_time(&cmd::xread(["BLOCK", "x"], ["0", "0"]).into()), Block::No);
        assert_eq!(
            block_time(&Cmd::new("xread").arg("block").arg(5).arg("streams").arg("s").arg(0)),
            Block::For(Duration::from_millis(5))
        );
    }
}
