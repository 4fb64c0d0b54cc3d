//! Every mode transition of a connection, in one place. Nothing else changes these fields.
//!
//! | mode              | entered when                          | left when                                  | user requests                         | server frames go to                  |
//! |-------------------|---------------------------------------|--------------------------------------------|---------------------------------------|--------------------------------------|
//! | handshake         | `Connection::new`                     | last handshake reply is a success → ready  | held; written once the handshake ends | the handshake steps                  |
//! | normal (RESP2)    | handshake done with protocol 2        | a subscription command is sent             | any (the usage checks below aside)    | the FIFO head                        |
//! | subscribed (RESP2)| a subscription command is sent        | no subscription confirmed, none in flight  | only (P\|S)(UN)SUBSCRIBE, PING, QUIT, RESET; else `Usage` | pub/sub arrays → events; others → head |
//! | RESP3 push        | `HELLO 3` answered                    | `RESET` answered (RESP2 until re-`HELLO`)  | any                                   | pushes → events; others → FIFO head  |
//! | closing           | `QUIT` sent                           | never                                      | refused with `Closed`                 | the FIFO head                        |
//! | failed            | decode or protocol error, handshake refused, deadline passed (poisoned), server closed | never | refused with the sticky error | nowhere: no more decoding |
//!
//! Flags orthogonal to the modes, all projected at send time (what the server will believe once it has
//! read everything sent so far):
//! - watching: `WATCH` sent; cleared by `UNWATCH`, `EXEC`, `DISCARD`, a transaction, `RESET`;
//! - in MULTI: `MULTI` sent; cleared by `EXEC`, `DISCARD`, `RESET`, or `MULTI` answered with an error;
//! - database: `SELECT n` sent; back to the configured one by `RESET` (the handshake runs again).
//!
//! Subscriptions are tracked per channel from the confirmations the server sends, so they are what the
//! server has, not what was asked.

use crate::classify::Class;
use crate::config::Protocol;
use crate::event::SubscriptionKind;
use crate::resp::{DecodeError, Value};
use crate::Error;
use bytes::Bytes;
use std::collections::HashSet;

/// Why a connection can no longer be used. Sticky: every later call reports it again.
#[derive(Debug, Clone)]
pub(crate) enum Fatal {
    Decode(DecodeError),
    Protocol(String),
    Poisoned(String),
    Handshake { step: &'static str, message: String },
    Closed(String),
}

impl Fatal {
    pub(crate) fn error(&self) -> Error {
        match self {
            Fatal::Decode(e) => Error::Decode(e.clone()),
            Fatal::Protocol(m) => Error::Protocol(m.clone()),
            Fatal::Poisoned(m) => Error::Poisoned(m.clone()),
            Fatal::Handshake { step, message } => Error::Handshake { step, message: message.clone() },
            Fatal::Closed(m) => Error::Closed(m.clone()),
        }
    }
}

/// Where a command is being sent from: alone, inside a plain pipeline, or inside a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ctx {
    Single,
    Pipeline,
    Transaction,
}

/// The channels, patterns and shard channels the server has confirmed.
#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    pub(crate) channels: HashSet<Bytes>,
    pub(crate) patterns: HashSet<Bytes>,
    pub(crate) shard_channels: HashSet<Bytes>,
}

impl Subscriptions {
    pub(crate) fn set(&self, kind: SubscriptionKind) -> &HashSet<Bytes> {
        match kind {
            SubscriptionKind::Subscribe | SubscriptionKind::Unsubscribe => &self.channels,
            SubscriptionKind::PSubscribe | SubscriptionKind::PUnsubscribe => &self.patterns,
            _ => &self.shard_channels,
        }
    }

    fn set_mut(&mut self, kind: SubscriptionKind) -> &mut HashSet<Bytes> {
        match kind {
            SubscriptionKind::Subscribe | SubscriptionKind::Unsubscribe => &mut self.channels,
            SubscriptionKind::PSubscribe | SubscriptionKind::PUnsubscribe => &mut self.patterns,
            _ => &mut self.shard_channels,
        }
    }

    fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.patterns.is_empty() && self.shard_channels.is_empty()
    }
}

/// The connection's modes and flags (see the table at the top of this file).
#[derive(Debug)]
pub(crate) struct State {
    /// The protocol the server speaks right now.
    pub(crate) protocol: Protocol,
    /// The protocol the handshake aims for (the configured one, or RESP2 after a fallback).
    pub(crate) target: Protocol,
    /// The initial handshake completed.
    pub(crate) ready: bool,
    pub(crate) fatal: Option<Fatal>,
    pub(crate) quit_sent: bool,
    pub(crate) subs: Subscriptions,
    /// Subscription commands sent and not fully confirmed yet.
    pub(crate) pubsub_in_flight: usize,
    pub(crate) watching: bool,
    pub(crate) in_multi: bool,
    pub(crate) db: u32,
    configured_db: u32,
}

impl State {
    pub(crate) fn new(target: Protocol, db: u32) -> State {
        State {
            protocol: Protocol::Resp2,
            target,
            ready: false,
            fatal: None,
            quit_sent: false,
            subs: Subscriptions::default(),
            pubsub_in_flight: 0,
            watching: false,
            in_multi: false,
            db,
            configured_db: db,
        }
    }

    /// The server is (or will be, once it reads what was sent) in subscribed mode.
    pub(crate) fn is_subscribed(&self) -> bool {
        !self.subs.is_empty() || self.pubsub_in_flight > 0
    }

    /// RESP2 subscribed mode: the server answers pub/sub arrays and refuses most commands.
    fn resp2_subscribed(&self) -> bool {
        let protocol = if self.ready { self.protocol } else { self.target };
        protocol == Protocol::Resp2 && self.is_subscribed()
    }

    /// Whether a RESP2 array is to be read as pub/sub traffic rather than a reply (`head_is_pubsub`: the
    /// oldest request in flight is a subscription command).
    pub(crate) fn pubsub_arrays_expected(&self, head_is_pubsub: bool) -> bool {
        self.protocol == Protocol::Resp2 && (head_is_pubsub || !self.subs.is_empty())
    }

    /// The error every call returns once the connection is dead, if it is.
    pub(crate) fn check_alive(&self) -> Result<(), Error> {
        if let Some(fatal) = &self.fatal {
            return Err(fatal.error());
        }
        if self.quit_sent {
            return Err(Error::Closed("QUIT was sent on this connection; open a new one".into()));
        }
        Ok(())
    }

    /// Checks that `class` may be sent now from `ctx`. A refusal is a usage error: nothing changes.
    pub(crate) fn admit(&self, class: Class, ctx: Ctx) -> Result<(), Error> {
        self.check_alive()?;
        let usage = |m: String| Err(Error::Usage(m));
        if let Class::Refused(reason) = class {
            return usage(reason.into());
        }
        if self.resp2_subscribed() && !class.allowed_when_subscribed() {
            return usage(
                "this RESP2 connection is in subscribed mode: only (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, \
                 QUIT and RESET may be sent; unsubscribe from everything and wait for the last confirmation, \
                 use another connection, or use RESP3"
                    .into(),
            );
        }
        let inside = if ctx == Ctx::Pipeline { "a pipeline" } else { "a transaction" };
        let grouped = ctx != Ctx::Single;
        match class {
            Class::PubSub(..) if grouped => {
                usage(format!("subscription commands cannot be sent inside {inside}; send them on their own"))
            }
            Class::Multi | Class::Exec | Class::Discard if grouped => usage(format!(
                "MULTI, EXEC and DISCARD cannot be sent inside {inside}; use an atomic pipeline \
                 (Pipeline::transaction) or send them on their own"
            )),
            Class::Quit | Class::Reset if grouped => {
                usage(format!("QUIT and RESET cannot be sent inside {inside}; send them on their own"))
            }
            Class::Watch if ctx == Ctx::Transaction => {
                usage("WATCH inside a transaction is refused by the server; send WATCH before it".into())
            }
            Class::Watch if self.in_multi => {
                usage("WATCH inside MULTI is not allowed; send it before MULTI".into())
            }
            Class::Multi if self.in_multi => {
                usage("MULTI calls cannot be nested; send EXEC or DISCARD first".into())
            }
            Class::Exec | Class::Discard if !self.in_multi => {
                usage("EXEC and DISCARD need a MULTI first (or use send_transaction)".into())
            }
            Class::PubSub(..) if self.in_multi => {
                usage("subscription commands cannot run inside MULTI; send EXEC or DISCARD first".into())
            }
            Class::PubSub(kind, 0) if kind.is_subscribe() => {
                usage(format!("{} needs at least one channel or pattern", kind.as_str().to_uppercase()))
            }
            Class::Reset if !self.ready => {
                usage("RESET during the handshake would undo it; wait for Event::Ready".into())
            }
            _ => Ok(()),
        }
    }

    /// Send-time transitions of a command that was admitted.
    pub(crate) fn on_send(&mut self, class: Class) {
        match class {
            Class::Watch => self.watching = true,
            Class::Unwatch => self.watching = false,
            Class::Multi => self.in_multi = true,
            Class::Exec | Class::Discard => {
                self.in_multi = false;
                self.watching = false;
            }
            Class::Select(Some(db)) => self.db = db,
            Class::PubSub(..) => self.pubsub_in_flight += 1,
            Class::Quit => self.quit_sent = true,
            Class::Reset => {
                self.watching = false;
                self.in_multi = false;
                self.db = self.configured_db;
            }
            _ => {}
        }
    }

    /// Send-time transition of a whole transaction (EXEC unwatches everything, whatever the outcome).
    pub(crate) fn on_send_transaction(&mut self) {
        self.watching = false;
    }

    /// Reply-time transitions of a single command.
    pub(crate) fn on_reply(&mut self, class: Class, reply: &Value) {
        match (class, reply) {
            (Class::Multi, Value::Error(_)) => self.in_multi = false,
            (Class::Reset, Value::Error(_)) => {}
            (Class::Reset, _) => {
                // The server dropped its subscriptions and went back to RESP2; the handshake queued
                // behind RESET restores the rest.
                self.subs = Subscriptions::default();
                self.protocol = Protocol::Resp2;
            }
            _ => {}
        }
    }

    /// A confirmation arrived: the server now has (or no longer has) `channel`.
    pub(crate) fn on_confirmation(&mut self, kind: SubscriptionKind, channel: Option<&Bytes>) {
        let Some(channel) = channel else { return };
        let set = self.subs.set_mut(kind);
        if kind.is_subscribe() {
            set.insert(channel.clone());
        } else {
            set.remove(channel);
        }
    }

    /// A subscription command got its last confirmation, or an error.
    pub(crate) fn on_pubsub_done(&mut self) {
        self.pubsub_in_flight = self.pubsub_in_flight.saturating_sub(1);
    }

    /// The initial handshake completed.
    pub(crate) fn on_ready(&mut self) {
        self.ready = true;
    }

    /// `HELLO` succeeded: the server speaks `protocol` from its next reply on.
    pub(crate) fn on_hello(&mut self, protocol: Protocol) {
        self.protocol = protocol;
    }

    /// `HELLO` was refused as unknown: go on in RESP2.
    pub(crate) fn on_fallback(&mut self) {
        self.target = Protocol::Resp2;
    }

    /// The connection is dead; the first reason sticks.
    pub(crate) fn fail(&mut self, fatal: Fatal) {
        if self.fatal.is_none() {
            self.fatal = Some(fatal);
        }
    }

    /// May go back to a pool: nothing server-side differs from a fresh connection.
    pub(crate) fn is_clean(&self) -> bool {
        self.ready
            && self.fatal.is_none()
            && !self.quit_sent
            && !self.is_subscribed()
            && !self.watching
            && !self.in_multi
            && self.db == self.configured_db
    }
}
