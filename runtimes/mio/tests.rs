//! Unit tests of what the integration tests cannot reach on a host where every name has one address:
//! the fallback to the next resolved address when a connect is refused.

use super::Connection;
use crate::config::Protocol;
use crate::resp::Value;
use crate::{Cmd, Config, Event};
use mio::{Events, Poll, Token};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

#[test]
fn a_refused_address_falls_back_to_the_next_one() {
    let refused = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let good = listener.local_addr().unwrap();
    // A one-reply server: the test needs an address that accepts, nothing more.
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 64];
        while !seen.ends_with(b"PING\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        stream.write_all(b"+PONG\r\n").unwrap();
        let _ = stream.read(&mut buf); // hold the socket open until the client goes
    });

    let config = Config::tcp("127.0.0.1", refused.port()).with_protocol(Protocol::Resp2);
    let mut conn = Connection::connect_addrs(vec![refused, good], config, Instant::now()).unwrap();
    // On Linux a non-blocking connect to a closed loopback port is refused later, by a writable event:
    // the fallback under test happens inside `handle_readiness`.
    assert_eq!(conn.target, refused.to_string());
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(8);
    conn.register(poll.registry(), Token(3)).unwrap();
    let id = conn.send(&Cmd::new("PING"), Instant::now()).unwrap();
    let give_up = Instant::now() + Duration::from_secs(20);
    let reply = 'outer: loop {
        while let Some(event) = conn.poll_event().unwrap() {
            if let Event::Reply { id: got, value, .. } = event {
                assert_eq!(got, id);
                break 'outer value;
            }
        }
        assert!(Instant::now() < give_up, "no reply: {conn:?}");
        poll.poll(&mut events, Some(Duration::from_millis(200))).unwrap();
        for event in &events {
            assert_eq!(event.token(), Token(3));
            conn.handle_readiness(event);
        }
    };
    assert_eq!(reply, Value::SimpleString("PONG".into()));
    assert_eq!(conn.target, good.to_string());
    assert_eq!(conn.token(), Some(Token(3)));
    drop(conn);
    server.join().unwrap();
}
