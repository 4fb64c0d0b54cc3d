//! [`Outage`]: what a reconnecting pub/sub reader keeps while it has no working connection — the commands
//! that restore its subscriptions, why the last connection ended, when the next attempt may start — plus
//! [`backoff`], the wait between failed attempts, and [`replicate`], a copy of an error for everyone who
//! shares its fate. Every runtime's `PubSub` (and the async client's driver) reconnects through these, so
//! they all reconnect the same way.
//!
//! No clock here: the time is an argument.

use crate::{Cmd, Connection, Error};
use std::io;
use std::time::{Duration, Instant};

/// How long to wait before reconnecting after `failures` failed attempts in a row: nothing for the
/// first, then 50 ms doubling up to 2 s.
pub(crate) fn backoff(failures: u32) -> Duration {
    match failures {
        0 => Duration::ZERO,
        n => Duration::from_millis(50u64 << (n - 1).min(6)).min(Duration::from_secs(2)),
    }
}

/// A copy of a fatal error, for every request that shares its fate. (`Error` holds an `io::Error`, which
/// is not `Clone`.)
pub(crate) fn replicate(e: &Error) -> Error {
    match e {
        Error::Io(io) => Error::Io(io::Error::new(io.kind(), io.to_string())),
        Error::Poisoned(m) => Error::Poisoned(m.clone()),
        Error::Closed(m) => Error::Closed(m.clone()),
        Error::Protocol(m) => Error::Protocol(m.clone()),
        Error::Decode(d) => Error::Decode(d.clone()),
        Error::Timeout(m) => Error::Timeout(m.clone()),
        Error::Handshake { step, message } => Error::Handshake { step, message: message.clone() },
        Error::Usage(m) => Error::Usage(m.clone()),
        Error::Config(m) => Error::Config(m.clone()),
        Error::Server(b) => Error::Server(b.clone()),
        other => Error::Closed(other.to_string()),
    }
}

/// A pub/sub connection that broke and is not back yet (the reconnect has not succeeded, or has not
/// finished restoring every subscription).
#[derive(Debug)]
pub(crate) struct Outage {
    /// `SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE` with what the broken connection had confirmed.
    restore: Vec<Cmd>,
    cause: Error,
    failures: u32,
    next_attempt: Option<Instant>,
}

impl Outage {
    /// `conn` broke because of `cause`: what it had subscribed is to be restored on the next connection.
    pub(crate) fn new(conn: &Connection, cause: Error) -> Outage {
        Outage { restore: conn.resubscribe_commands(), cause, failures: 0, next_attempt: None }
    }

    /// The commands a new connection must send (and see confirmed) before the outage is over.
    pub(crate) fn restore(&self) -> &[Cmd] {
        &self.restore
    }

    /// `true` when there is something to restore.
    pub(crate) fn is_subscribed(&self) -> bool {
        !self.restore.is_empty()
    }

    /// When the next attempt may start: `None` for at once (no attempt failed yet).
    pub(crate) fn next_attempt(&self) -> Option<Instant> {
        self.next_attempt
    }

    /// An attempt failed at `now` (connecting, the handshake, or restoring): the next one waits for
    /// [`backoff`].
    pub(crate) fn failed(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        self.next_attempt = now.checked_add(backoff(self.failures));
    }

    /// The outage is over: why it began, for [`PubSubEvent::Reconnected`](crate::event::PubSubEvent).
    pub(crate) fn into_cause(self) -> Error {
        self.cause
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Protocol;
    use crate::{Config, Event};

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::from_millis(50));
        assert_eq!(backoff(2), Duration::from_millis(100));
        assert_eq!(backoff(6), Duration::from_millis(1600));
        assert_eq!(backoff(7), Duration::from_secs(2));
        assert_eq!(backoff(u32::MAX), Duration::from_secs(2));
    }

    #[test]
    fn replicated_errors_keep_kind_and_message() {
        let e = Error::Io(io::Error::new(io::ErrorKind::ConnectionReset, "reset by peer"));
        let copy = replicate(&e);
        assert!(matches!(&copy, Error::Io(io) if io.kind() == io::ErrorKind::ConnectionReset));
        assert_eq!(copy.to_string(), e.to_string());
        let e = Error::Closed("the server closed the connection".into());
        assert_eq!(replicate(&e).to_string(), e.to_string());
        assert!(matches!(replicate(&Error::Server("NOPERM x".into())), Error::Server(b) if b == "NOPERM x"));
        assert!(replicate(&Error::Watch).is_fatal());
    }

    #[test]
    fn an_outage_restores_what_the_dead_connection_had_confirmed_and_backs_off() {
        let mut conn = Connection::new(Config::default().with_protocol(Protocol::Resp2));
        let now = Instant::now();
        for cmd in [Cmd::new("SUBSCRIBE").arg(["b", "a"]), Cmd::new("SSUBSCRIBE").arg("s")] {
            conn.send(&cmd, now).unwrap();
        }
        conn.send(&Cmd::new("PSUBSCRIBE").arg("p*"), now).unwrap(); // never confirmed
        conn.handle_input(
            b"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:2\r\n\
              *3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n",
        );
        conn.handle_eof();
        while let Ok(Some(event)) = conn.poll_event() {
            assert!(matches!(event, Event::Ready | Event::Subscription { .. }), "{event:?}");
        }
        let mut outage = Outage::new(&conn, Error::Closed("gone".into()));
        let names: Vec<Vec<&[u8]>> = outage.restore().iter().map(|c| c.args().collect()).collect();
        assert_eq!(names, [vec![&b"SUBSCRIBE"[..], b"a", b"b"], vec![&b"SSUBSCRIBE"[..], b"s"]]);
        assert!(outage.is_subscribed());
        assert_eq!(outage.next_attempt(), None, "the first attempt starts at once");
        outage.failed(now);
        assert_eq!(outage.next_attempt(), Some(now + backoff(1)));
        outage.failed(now);
        assert_eq!(outage.next_attempt(), Some(now + backoff(2)));
        assert!(matches!(outage.into_cause(), Error::Closed(m) if m == "gone"));
    }
}
