//! Reads a pub/sub frame (a RESP3 push, or a RESP2 array in subscribed mode): a message, or a subscription
//! confirmation. Shape checks only; what the frame means to the connection is decided in
//! `src/connection.rs`.

use crate::event::{Message, MessageKind, SubscriptionKind};
use crate::resp::Value;
use bytes::Bytes;

/// A recognised pub/sub frame.
#[derive(Debug)]
pub(crate) enum Frame {
    Message(Message),
    Confirmation { kind: SubscriptionKind, channel: Option<Bytes>, count: i64 },
}

fn text(v: &Value) -> Option<&Bytes> {
    match v {
        Value::BulkString(b) | Value::SimpleString(b) => Some(b),
        _ => None,
    }
}

fn into_text(v: Option<Value>) -> Option<Bytes> {
    match v {
        Some(Value::BulkString(b) | Value::SimpleString(b)) => Some(b),
        _ => None,
    }
}

/// Parses `items` as a pub/sub frame, or gives them back untouched.
pub(crate) fn parse(items: Vec<Value>) -> Result<Frame, Vec<Value>> {
    let Some(name) = items.first().and_then(text) else { return Err(items) };
    let is = |word: &str| name.eq_ignore_ascii_case(word.as_bytes());
    let strings = |range: std::ops::Range<usize>| items[range].iter().all(|v| text(v).is_some());
    let message_kind = if is("message") && items.len() == 3 && strings(1..2) {
        Some(MessageKind::Message)
    } else if is("smessage") && items.len() == 3 && strings(1..2) {
        Some(MessageKind::SMessage)
    } else if is("pmessage") && items.len() == 4 && strings(1..3) {
        Some(MessageKind::PMessage)
    } else {
        None
    };
    if let Some(kind) = message_kind {
        let mut it = items.into_iter().skip(1);
        let pattern = if kind == MessageKind::PMessage { into_text(it.next()) } else { None };
        let channel = into_text(it.next()).unwrap_or_default();
        let payload = it.next().unwrap_or(Value::Null);
        return Ok(Frame::Message(Message { kind, channel, pattern, payload }));
    }
    let confirmation = SubscriptionKind::from_name(name).filter(|_| {
        items.len() == 3
            && (text(&items[1]).is_some() || items[1].is_null())
            && matches!(items[2], Value::Integer(_))
    });
    match confirmation {
        Some(kind) => {
            let mut it = items.into_iter().skip(1);
            let channel = into_text(it.next());
            let count = match it.next() {
                Some(Value::Integer(n)) => n,
                _ => 0,
            };
            Ok(Frame::Confirmation { kind, channel, count })
        }
        None => Err(items),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static str) -> Value {
        Value::BulkString(Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn messages_and_confirmations() {
        match parse(vec![b("pmessage"), b("n*"), b("news"), b("hi")]) {
            Ok(Frame::Message(m)) => {
                assert_eq!(
                    (m.kind, &m.channel[..], m.pattern.as_deref()),
                    (MessageKind::PMessage, &b"news"[..], Some(&b"n*"[..]))
                );
                assert_eq!(m.payload, b("hi"));
            }
            other => panic!("{other:?}"),
        }
        match parse(vec![b("unsubscribe"), Value::Null, Value::Integer(0)]) {
            Ok(Frame::Confirmation { kind, channel, count }) => {
                assert_eq!((kind, channel, count), (SubscriptionKind::Unsubscribe, None, 0))
            }
            other => panic!("{other:?}"),
        }
        // Invalidation messages redirected in RESP2 carry an array payload.
        assert!(matches!(
            parse(vec![b("message"), b("__redis__:invalidate"), Value::Array(vec![b("k")])]),
            Ok(Frame::Message(_))
        ));
    }

    #[test]
    fn anything_else_is_given_back() {
        for items in [
            vec![b("pong"), b("")],
            vec![b("invalidate"), Value::Array(vec![])],
            vec![b("message"), b("only-two")],
            vec![b("subscribe"), b("ch"), b("not-a-count")],
            vec![Value::Integer(1), b("x"), b("y")],
            vec![],
        ] {
            let copy = items.clone();
            assert_eq!(parse(items).unwrap_err(), copy);
        }
    }
}
