//! A parser other than redwire's Decoder plugged into a Connection through `ReplyParser`.

use bytes::BytesMut;
use redwire::resp::{DecodeError, Decoder, ReplyParser, Value};
use redwire::{Cmd, Config, Connection, Event};
use std::time::Instant;

/// Delegates to the Decoder and counts the replies it produced.
struct Counting {
    inner: Decoder,
    parsed: usize,
}

impl ReplyParser for Counting {
    type Output = Value;
    type Error = DecodeError;
    fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Value>, DecodeError> {
        let v = self.inner.decode(buf)?;
        self.parsed += v.is_some() as usize;
        Ok(v)
    }
}

#[test]
fn a_plugged_parser_parses_every_reply() {
    let config = Config::tcp("127.0.0.1", 6379).with_protocol(redwire::config::Protocol::Resp2);
    let mut conn = Connection::with_parser(config, Counting { inner: Decoder::new(), parsed: 0 });
    assert!(matches!(conn.poll_event(), Ok(Some(Event::Ready))));
    let id = conn.send(&Cmd::new("GET").arg("k"), Instant::now()).unwrap();
    let out = conn.poll_transmit().expect("the command is written");
    assert_eq!(&out[..], b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    conn.handle_input(b"$2\r\nhi\r\n");
    match conn.poll_event() {
        Ok(Some(Event::Reply { id: got, value, .. })) => {
            assert_eq!(got, id);
            assert_eq!(value, Value::BulkString("hi".into()));
        }
        other => panic!("{other:?}"),
    }
    assert!(format!("{conn:?}").contains("Connection"));
}

/// A parser that rejects everything: its error is fatal and sticky for the connection.
struct Refusing;
impl ReplyParser for Refusing {
    type Output = Value;
    type Error = DecodeError;
    fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Value>, DecodeError> {
        if buf.is_empty() {
            return Ok(None);
        }
        Err(DecodeError::Unexpected { what: "anything", offset: 0 })
    }
}

#[test]
fn a_plugged_parser_error_is_fatal() {
    let config = Config::tcp("127.0.0.1", 6379).with_protocol(redwire::config::Protocol::Resp2);
    let mut conn = Connection::with_parser(config, Refusing);
    assert!(matches!(conn.poll_event(), Ok(Some(Event::Ready))));
    conn.send(&Cmd::new("PING"), Instant::now()).unwrap();
    conn.handle_input(b"+PONG\r\n");
    let e = conn.poll_event().unwrap_err();
    assert!(e.is_fatal(), "{e}");
    assert!(conn.is_fatal());
    assert!(conn.send(&Cmd::new("PING"), Instant::now()).is_err());
}
