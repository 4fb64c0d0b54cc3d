//! [`refuse_on_shared`]: the one rule for which commands a shared connection (a pooled one, or the async
//! client's multiplexed one) must not run, and what to use instead. Every runtime's client, pipeline
//! and transaction asks here; none keeps a list of its own. It is public for whoever pools
//! [`Connection`](crate::Connection)s of their own (a mio event loop, another runtime).
//!
//! The reasons come from the command table (`excluded`); this file adds the fast path that skips the
//! table for ordinary commands, and the hint naming the API to use instead.

use super::info::info_for;
use super::COMMANDS;
use crate::{Cmd, Error, Result};

/// `Err(Error::Usage)` when `cmd` would change a shared connection for whoever uses it next (`SELECT`,
/// `AUTH`, `CLIENT SETNAME`, `CLIENT TRACKING`, ...), hold it in a mode (`WATCH`, `MULTI`, `SUBSCRIBE`,
/// `MONITOR`) or close it (`QUIT`, `RESET`); the message gives the table's reason and what to use
/// instead. `Ok` for every other command, in a few comparisons for almost all of them.
///
/// ```
/// use redwire::cmd::{self, refuse_on_shared};
/// use redwire::{Cmd, Error};
///
/// assert!(refuse_on_shared(&cmd::get("k")).is_ok());
/// let refused = refuse_on_shared(&Cmd::new("SELECT").arg(2));
/// assert!(matches!(refused, Err(Error::Usage(m)) if m.contains("Config::with_db")));
/// ```
///
/// # Errors
/// [`Error::Usage`] for a refused command, as above.
pub fn refuse_on_shared(cmd: &Cmd) -> Result<()> {
    if !may_be_excluded(cmd.name()) {
        return Ok(());
    }
    let Some(info) = info_for(cmd) else { return Ok(()) };
    let Some(reason) = info.excluded else { return Ok(()) };
    let instead = match info.name {
        "watch" | "unwatch" | "multi" | "exec" | "discard" => {
            "use client.transaction(&keys, |tx| ...) (WATCH with retries) or an atomic client.pipeline()"
        }
        "subscribe" | "psubscribe" | "ssubscribe" | "unsubscribe" | "punsubscribe" | "sunsubscribe" => {
            "use client.pubsub()"
        }
        "select" => {
            "put the database in the URL (redis://host/2) or Config::with_db, and make a client for it"
        }
        "auth" | "hello" | "client|setname" | "client|setinfo" => {
            "set credentials, protocol and client name in the URL or Config, and make a client with it"
        }
        "client|tracking" | "client|caching" => {
            "use Config::with_tracking, and receive invalidations with the client's push handler"
        }
        "quit" | "reset" => "drop the client: its connections close with it",
        _ => "redwire's clients offer no dedicated connection for it",
    };
    Err(Error::Usage(format!(
        "{} cannot run on a client's shared or pooled connections: {reason}; {instead}",
        info.display_name()
    )))
}

/// `false` when no entry the table excludes (`CommandInfo::excluded`: commands a pooled or shared
/// connection must not run) has `name`'s first word (up to a space or `|`) as its name or container;
/// `true` means "look it up" with [`info_for`]. Runtimes call it on every command, so a (length, first
/// letter) bitmap answers first: GET, SET and almost every other command pass without a comparison.
fn may_be_excluded(name: &[u8]) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's answer, without the shortcut.
    fn excluded_by_table(cmd: &Cmd) -> bool {
        info_for(cmd).is_some_and(|info| info.excluded.is_some())
    }

    #[test]
    fn the_shortcut_never_lets_an_excluded_command_through() {
        let mut excluded = 0;
        for info in COMMANDS {
            let (top, sub) = match info.name.split_once('|') {
                Some((top, sub)) => (top, Some(sub)),
                None => (info.name, None),
            };
            let mut forms = Vec::new();
            for case in [str::to_ascii_lowercase, str::to_ascii_uppercase] {
                let mut split = Cmd::new(case(top));
                if let Some(sub) = sub {
                    split = split.arg(case(sub));
                    forms.push(Cmd::new(format!("{} {}", case(top), case(sub))));
                    forms.push(Cmd::new(case(info.name)));
                }
                forms.push(split.arg("x"));
            }
            for form in &forms {
                let table = excluded_by_table(form);
                assert_eq!(refuse_on_shared(form).is_err(), table, "{form:?}");
                excluded += usize::from(table);
            }
        }
        assert!(excluded > 20, "the table excludes commands: {excluded} forms refused");
        assert!(!may_be_excluded(b"SET") && !may_be_excluded(b"get") && may_be_excluded(b"Client"));
        assert!(refuse_on_shared(&Cmd::new("no-such-command")).is_ok());
    }

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

    #[test]
    fn refusals_give_the_reason_and_what_to_use_instead() {
        let usage = |cmd: Cmd| match refuse_on_shared(&cmd) {
            Err(Error::Usage(m)) => m,
            other => panic!("{cmd:?} gave {other:?}"),
        };
        let m = usage(Cmd::new("select").arg(2));
        assert!(m.starts_with("SELECT cannot run") && m.contains("Config::with_db"), "{m}");
        let m = usage(Cmd::new("client").arg("setname").arg("x"));
        assert!(m.starts_with("CLIENT SETNAME cannot run"), "{m}");
        let m = usage(Cmd::new("CLIENT").arg("TRACKING").arg("ON"));
        assert!(m.contains("Config::with_tracking") && m.contains("push handler"), "{m}");
        let m = usage(Cmd::new("WATCH").arg("k"));
        assert!(m.contains("client.transaction"), "{m}");
        assert!(refuse_on_shared(&Cmd::new("CLIENT").arg("ID")).is_ok());
        assert!(refuse_on_shared(&Cmd::new("GET").arg("k")).is_ok());
    }
}
