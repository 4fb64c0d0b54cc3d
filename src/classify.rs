//! Recognises the commands a connection must treat specially: blocking commands and their timeouts,
//! subscription commands, MULTI/EXEC/WATCH, SELECT, QUIT, RESET, and the commands that break
//! one-request-one-reply (refused).
//!
//! Pure functions of a [`Cmd`]'s arguments: no connection state here (that is `src/state.rs`).

use crate::cmd::blocking::{block_time_by, timeout_arg_upper};
use crate::cmd::Block;
use crate::event::SubscriptionKind;
use crate::Cmd;
use std::time::Duration;

/// What a command means to the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// One request, one reply, nothing to track.
    Plain,
    /// A command that may block server-side for the given time (`None`: forever, timeout 0).
    Blocking(Option<Duration>),
    Watch,
    Unwatch,
    Multi,
    Exec,
    Discard,
    /// `SELECT`, with the index when it parses.
    Select(Option<u32>),
    /// A subscription command and how many channels or patterns it names.
    PubSub(SubscriptionKind, usize),
    Ping,
    Quit,
    Reset,
    /// A command redwire refuses, with the reason shown to the user.
    Refused(&'static str),
}

impl Class {
    /// May be sent while a RESP2 connection is in subscribed mode.
    pub(crate) fn allowed_when_subscribed(self) -> bool {
        matches!(self, Class::PubSub(..) | Class::Ping | Class::Quit | Class::Reset)
    }
}

/// Classifies `cmd` by its name (ASCII case-insensitive) and, where needed, its arguments.
pub(crate) fn classify(cmd: &Cmd) -> Class {
    let name = cmd.name();
    let mut upper = [0u8; 12];
    if name.len() > upper.len() {
        return Class::Plain;
    }
    for (u, b) in upper.iter_mut().zip(name) {
        *u = b.to_ascii_uppercase();
    }
    let pubsub = |kind| Class::PubSub(kind, cmd.arg_count() - 1);
    match &upper[..name.len()] {
        b"WATCH" => Class::Watch,
        b"UNWATCH" => Class::Unwatch,
        b"MULTI" => Class::Multi,
        b"EXEC" => Class::Exec,
        b"DISCARD" => Class::Discard,
        b"SELECT" => Class::Select(cmd.arg_at(1).and_then(|a| std::str::from_utf8(a).ok()?.parse().ok())),
        b"SUBSCRIBE" => pubsub(SubscriptionKind::Subscribe),
        b"UNSUBSCRIBE" => pubsub(SubscriptionKind::Unsubscribe),
        b"PSUBSCRIBE" => pubsub(SubscriptionKind::PSubscribe),
        b"PUNSUBSCRIBE" => pubsub(SubscriptionKind::PUnsubscribe),
        b"SSUBSCRIBE" => pubsub(SubscriptionKind::SSubscribe),
        b"SUNSUBSCRIBE" => pubsub(SubscriptionKind::SUnsubscribe),
        b"PING" => Class::Ping,
        b"QUIT" => Class::Quit,
        b"RESET" => Class::Reset,
        b"MONITOR" => Class::Refused(
            "MONITOR streams every command the server runs instead of one reply per request; \
             run it on a raw socket (redis-cli monitor)",
        ),
        b"SYNC" | b"PSYNC" => {
            Class::Refused("SYNC/PSYNC start a replication stream, which a client connection cannot carry")
        }
        b"HELLO" if cmd.arg_count() > 1 => Class::Refused(
            "HELLO with arguments changes the protocol and credentials under the connection; \
             set them in Config (protocol, credentials, client name) instead",
        ),
        b"CLIENT" => client_subcommand(cmd),
        upper => match timeout_arg_upper(upper) {
            Some(rule) => match block_time_by(cmd, rule) {
                Block::No => Class::Plain,
                Block::Forever => Class::Blocking(None),
                Block::For(d) => Class::Blocking(Some(d)),
            },
            None => Class::Plain,
        },
    }
}

fn client_subcommand(cmd: &Cmd) -> Class {
    let is = |i: usize, word: &str| cmd.arg_at(i).is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()));
    if is(1, "REPLY") && (is(2, "OFF") || is(2, "SKIP")) {
        return Class::Refused(
            "CLIENT REPLY OFF/SKIP makes the server skip replies, so replies could no longer be matched \
             to requests; use a pipeline and ignore the replies you do not need",
        );
    }
    Class::Plain
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(args: &[&str]) -> Class {
        let mut cmd = Cmd::new(args[0]);
        for a in &args[1..] {
            cmd.add_arg(*a);
        }
        classify(&cmd)
    }

    fn secs(s: f64) -> Class {
        Class::Blocking(Some(Duration::from_secs_f64(s)))
    }

    #[test]
    fn blocking_timeouts_come_from_the_right_argument() {
        assert_eq!(class(&["blpop", "a", "b", "1.5"]), secs(1.5));
        assert_eq!(class(&["BRPOP", "a", "0"]), Class::Blocking(None));
        assert_eq!(class(&["BRPOPLPUSH", "a", "b", "2"]), secs(2.0));
        assert_eq!(class(&["BLMOVE", "a", "b", "LEFT", "RIGHT", "0.25"]), secs(0.25));
        assert_eq!(class(&["BZPOPMIN", "z", "3"]), secs(3.0));
        assert_eq!(class(&["BZPOPMAX", "z", "0"]), Class::Blocking(None));
        assert_eq!(class(&["BLMPOP", "4", "2", "a", "b", "LEFT", "COUNT", "9"]), secs(4.0));
        assert_eq!(class(&["BZMPOP", "0.5", "1", "z", "MIN"]), secs(0.5));
        assert_eq!(class(&["WAIT", "1", "100"]), secs(0.1));
        assert_eq!(class(&["WAIT", "1", "0"]), Class::Blocking(None));
        assert_eq!(class(&["WAITAOF", "1", "0", "250"]), secs(0.25));
        assert_eq!(class(&["XREAD", "COUNT", "2", "BLOCK", "1500", "STREAMS", "s", "$"]), secs(1.5));
        assert_eq!(class(&["XREAD", "block", "0", "STREAMS", "s", "$"]), Class::Blocking(None));
        assert_eq!(class(&["XREAD", "STREAMS", "BLOCK", "0"]), Class::Plain);
        assert_eq!(
            class(&["XREADGROUP", "GROUP", "BLOCK", "COUNT", "BLOCK", "20", "NOACK", "STREAMS", "s", ">"]),
            secs(0.02)
        );
        assert_eq!(class(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]), Class::Plain);
        // The server rejects these at once: no block time. (The rules live in `cmd::block_time`.)
        assert_eq!(class(&["BLPOP", "a", "soon"]), Class::Plain);
        assert_eq!(class(&["BLPOP", "a", "-1"]), Class::Plain);
        assert_eq!(class(&["BLPOP"]), Class::Plain);
        assert_eq!(class(&["WAIT", "1", "1.5"]), Class::Plain);
    }

    #[test]
    fn special_commands() {
        assert_eq!(class(&["watch", "k"]), Class::Watch);
        assert_eq!(class(&["Multi"]), Class::Multi);
        assert_eq!(class(&["SELECT", "3"]), Class::Select(Some(3)));
        assert_eq!(class(&["SELECT", "x"]), Class::Select(None));
        assert_eq!(class(&["SUBSCRIBE", "a", "b"]), Class::PubSub(SubscriptionKind::Subscribe, 2));
        assert_eq!(class(&["punsubscribe"]), Class::PubSub(SubscriptionKind::PUnsubscribe, 0));
        assert_eq!(class(&["SUNSUBSCRIBE", "s"]), Class::PubSub(SubscriptionKind::SUnsubscribe, 1));
        assert!(matches!(class(&["MONITOR"]), Class::Refused(_)));
        assert!(matches!(class(&["client", "reply", "skip"]), Class::Refused(_)));
        assert!(matches!(class(&["CLIENT", "REPLY", "OFF"]), Class::Refused(_)));
        assert_eq!(class(&["CLIENT", "REPLY", "ON"]), Class::Plain);
        assert!(matches!(class(&["HELLO", "2"]), Class::Refused(_)));
        assert_eq!(class(&["HELLO"]), Class::Plain);
        assert_eq!(class(&["GET", "k"]), Class::Plain);
        assert_eq!(class(&["AVERYLONGCOMMANDNAME"]), Class::Plain);
    }
}
