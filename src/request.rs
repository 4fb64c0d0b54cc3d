//! One entry of the FIFO of requests in flight, and how replies fold into it: a command takes one reply,
//! a pipeline N, a transaction `+OK`, N `+QUEUED` and the `EXEC` reply, a subscription command one
//! confirmation per channel.
//!
//! Only folding: which frame reaches which entry is decided in `src/connection.rs`.

use crate::classify::Class;
use crate::event::{Attributes, Event, RequestId, SubscriptionKind};
use crate::handshake::Step;
use crate::resp::Value;
use crate::Error;
use bytes::Bytes;
use std::time::Instant;

/// When a request stops being answerable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// No deadline, and no effect on the requests behind (handshake steps; no response timeout).
    Free,
    /// The reply must arrive by then.
    At(Instant),
    /// No deadline: a blocking command with timeout 0, or a request queued behind one.
    Forever,
}

impl Deadline {
    /// The later of two deadlines: a reply cannot come before the replies sent ahead of it.
    pub(crate) fn max(self, other: Deadline) -> Deadline {
        match (self, other) {
            (Deadline::Forever, _) | (_, Deadline::Forever) => Deadline::Forever,
            (Deadline::At(a), Deadline::At(b)) => Deadline::At(a.max(b)),
            (Deadline::Free, d) | (d, Deadline::Free) => d,
        }
    }
}

/// What an entry is waiting for.
#[derive(Debug)]
pub(crate) enum Pending {
    /// A handshake step; `ignore` once a fallback made its answer moot.
    Handshake { step: Step, ignore: bool },
    /// One command.
    Single { class: Class },
    /// A plain pipeline.
    Pipeline { expected: usize, values: Vec<Value>, attributes: Vec<(usize, Attributes)> },
    /// `MULTI`, `commands` commands, `EXEC`.
    Transaction { commands: usize, seen: usize, multi_error: Option<Bytes>, queue_errors: Vec<Value> },
    /// A subscription command: `remaining` confirmations, or `None` for "unsubscribe from all" (done when
    /// the server confirms the last one, or says there was none).
    PubSub { kind: SubscriptionKind, remaining: Option<usize> },
}

/// A request in flight.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) id: RequestId,
    pub(crate) deadline: Deadline,
    pub(crate) pending: Pending,
}

/// The result of giving an entry one reply.
pub(crate) enum Fold {
    /// The entry wants more replies.
    More,
    /// The entry is complete.
    Done(Event),
    /// The reply does not fit: the conversation is out of step.
    Broken(String),
}

impl Entry {
    pub(crate) fn is_user(&self) -> bool {
        !matches!(self.pending, Pending::Handshake { .. })
    }

    /// Folds one reply (not a push, not a confirmation) into a pipeline or a transaction.
    pub(crate) fn fold(&mut self, value: Value, attribute: Option<Attributes>) -> Fold {
        let id = self.id;
        match &mut self.pending {
            Pending::Pipeline { expected, values, attributes } => {
                if let Some(a) = attribute {
                    attributes.push((values.len(), a));
                }
                values.push(value);
                if values.len() < *expected {
                    return Fold::More;
                }
                let values = std::mem::take(values);
                let attributes = std::mem::take(attributes);
                Fold::Done(Event::Pipeline { id, values, attributes })
            }
            Pending::Transaction { commands, seen, multi_error, queue_errors } => {
                if *seen == 0 {
                    if let Value::Error(e) = &value {
                        *multi_error = Some(e.clone());
                    }
                    *seen = 1;
                    return Fold::More;
                }
                if *seen <= *commands {
                    *seen += 1;
                    match value {
                        Value::Error(_) => queue_errors.push(value),
                        Value::SimpleString(ref s) if &s[..] == b"QUEUED" => {}
                        // MULTI was refused: these are the commands' own replies, run one by one.
                        _ if multi_error.is_some() => {}
                        other => {
                            return Fold::Broken(format!(
                                "expected +QUEUED inside MULTI, got a {}",
                                other.kind()
                            ))
                        }
                    }
                    return Fold::More;
                }
                let result = match (multi_error.take(), value) {
                    (Some(e), _) => Err(Error::Server(e)),
                    (None, Value::Array(values)) if values.len() == *commands => Ok(values),
                    (None, Value::Array(values)) => {
                        return Fold::Broken(format!(
                            "EXEC answered {} replies for {} queued commands",
                            values.len(),
                            commands
                        ))
                    }
                    (None, Value::Null) => Err(Error::Watch),
                    (None, Value::Error(e)) if e.starts_with(b"EXECABORT") => {
                        Err(Error::ExecAbort(std::mem::take(queue_errors)))
                    }
                    (None, Value::Error(e)) => Err(Error::Server(e)),
                    (None, other) => return Fold::Broken(format!("EXEC answered a {}", other.kind())),
                };
                Fold::Done(Event::Transaction { id, result, attribute })
            }
            Pending::Single { .. } => Fold::Done(Event::Reply { id, value, attribute }),
            Pending::PubSub { .. } | Pending::Handshake { .. } => {
                Fold::Broken("internal: subscription and handshake replies are not folded".into())
            }
        }
    }
}
