//! Failures through `redwire::mio::Connection`: a server closing the socket mid-reply (a scripted fake
//! server, the one fault a real server will not produce on demand), a response deadline passing during
//! `DEBUG SLEEP` on a real server, a refused TCP connect, a missing unix socket, and a handshake or a TCP
//! connect that never completes within the connect timeout.

mod mio_common;
mod support;

use mio_common::{bulk, cmd, Loop};
use redwire::config::Protocol;
use redwire::mio::Connection;
use redwire::{Config, Error, Event, Pipeline};
use std::net::{Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};
use support::fake::{FakeServer, Script};
use support::{Server, TempDir};

fn assert_closed_unanswered(result: Result<Event, Error>) {
    match result {
        Err(Error::Closed(message)) => assert!(message.contains("1 request(s) unanswered"), "{message}"),
        other => panic!("expected Error::Closed and no half reply, got {other:?}"),
    }
}

#[test]
fn a_server_closing_mid_reply_over_tcp_gives_closed_and_no_half_reply() {
    // RESP2, database 0, no credentials: no handshake, the GET is the first thing the server reads.
    let fake = FakeServer::start(Script::new().read(1).reply(b"$10\r\nhello").close());
    let mut lp = Loop::new();
    let c = lp.connect(Config::tcp("127.0.0.1", fake.port()).with_protocol(Protocol::Resp2));
    lp.ready(c);
    let id = lp.send(c, &["GET", "half"]);
    assert_closed_unanswered(lp.wait(c, id));
    assert!(lp.take_stash(c).is_empty(), "nothing else may have been delivered");
    assert!(lp.conn(c).is_fatal());
    // Sticky: the next poll and the next send fail the same way.
    assert!(matches!(lp.conn(c).poll_event(), Err(Error::Closed(_))));
    assert!(matches!(lp.conn(c).send(&cmd(&["PING"]), Instant::now()), Err(Error::Closed(_))));
    assert_eq!(fake.join()[0].raw, b"*2\r\n$3\r\nGET\r\n$4\r\nhalf\r\n");
}

#[test]
fn a_server_closing_mid_pipeline_over_unix_gives_closed_and_no_partial_pipeline() {
    // Both ECHOs read; the first reply whole, the second cut inside an array.
    let fake =
        FakeServer::start(Script::new().read(2).reply(b"$1\r\na\r\n*2\r\n$1\r\nb\r\n$3\r\nxy").close());
    let mut lp = Loop::new();
    let c = lp.connect(Config::unix(fake.unix_path()).with_protocol(Protocol::Resp2));
    lp.ready(c);
    let pipe: Pipeline = [cmd(&["ECHO", "a"]), cmd(&["ECHO", "b"])].into_iter().collect();
    let id = lp.conn(c).send_pipeline(&pipe, Instant::now()).unwrap();
    assert_closed_unanswered(lp.wait(c, id));
    assert!(lp.take_stash(c).is_empty());
    fake.join();
}

#[test]
fn a_response_deadline_passing_during_debug_sleep_poisons_the_connection() {
    let server = Server::start();
    for url in [format!("{}?protocol=3", server.url()), format!("{}?protocol=2", server.unix_url())] {
        let mut lp = Loop::new();
        let c = lp.connect_url(&format!("{url}&response_timeout=150ms"));
        lp.ready(c);
        assert_eq!(lp.call(c, &["SET", "mio:sleepy", "v"]), redwire::resp::Value::SimpleString("OK".into()));
        assert!(lp.conn(c).poll_timeout().is_none(), "no request in flight, no deadline");
        let slow = lp.send(c, &["DEBUG", "SLEEP", "1"]);
        let behind = lp.send(c, &["GET", "mio:sleepy"]);
        assert!(lp.conn(c).poll_timeout().is_some());
        // The loop sleeps until the deadline, then `handle_timeout` reports it.
        match lp.next(c) {
            Ok(Event::TimedOut { id }) => assert_eq!(id, slow, "{url}"),
            other => panic!("{url}: expected TimedOut, got {other:?}"),
        }
        assert!(lp.conn(c).core().is_poisoned() && lp.conn(c).is_fatal());
        assert!(matches!(lp.next(c), Err(Error::Poisoned(_))), "{url}");
        assert!(matches!(lp.conn(c).send(&cmd(&["PING"]), Instant::now()), Err(Error::Poisoned(_))));
        assert!(lp.conn(c).poll_timeout().is_none());
        // The late replies are never delivered, not even to the request behind.
        lp.turn(Duration::from_millis(1200));
        assert!(lp.take_stash(c).iter().all(|e| e.id() != Some(behind) && e.id() != Some(slow)));
        // The server is fine: a fresh connection works.
        let fresh = lp.connect_url(&url);
        assert_eq!(lp.call(fresh, &["GET", "mio:sleepy"]), bulk("v"));
    }
}

#[test]
fn a_refused_tcp_connect_is_an_io_error_naming_the_address() {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
    let mut lp = Loop::new();
    let c = lp.connect(Config::tcp("127.0.0.1", port));
    match lp.next(c) {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
            assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
        }
        other => panic!("expected a refused connect, got {other:?}"),
    }
    assert!(lp.conn(c).is_fatal() && !lp.conn(c).is_connected());
    assert!(matches!(lp.conn(c).send(&cmd(&["PING"]), Instant::now()), Err(Error::Io(_))));
}

#[test]
fn a_missing_unix_socket_fails_at_connect() {
    let dir = TempDir::new();
    match Connection::connect(Config::unix(dir.0.join("fake.sock")), Instant::now()) {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
            assert!(e.to_string().contains("fake.sock"), "{e}");
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn a_handshake_never_answered_times_out_at_the_connect_timeout() {
    // The kernel completes the TCP handshake into the backlog; nobody ever reads the HELLO.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Config::tcp("127.0.0.1", port).with_connect_timeout(Duration::from_millis(200));
    let mut lp = Loop::new();
    let c = lp.connect(config);
    let id = lp.send(c, &["PING"]);
    assert!(lp.conn(c).poll_timeout().is_some(), "the connect deadline is exposed");
    match lp.next(c) {
        Err(Error::Timeout(message)) => assert!(message.contains("handshake"), "{message}"),
        other => panic!("expected a connect timeout, got {other:?}"),
    }
    assert!(lp.conn(c).is_connected() && !lp.conn(c).core().is_ready() && lp.conn(c).is_fatal());
    assert!(lp.take_stash(c).iter().all(|e| e.id() != Some(id)));
    drop(listener);
}

#[test]
fn a_tcp_connect_that_never_completes_times_out_even_without_a_handshake() {
    // A listener whose accept queue is full drops further SYNs: the next connect stays in progress (the
    // kernel would retry the SYN for minutes). The first probe that does not connect within 100 ms
    // proves the queue full.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    loop {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(stream) => queued.push(stream),
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
                break;
            }
        }
        assert!(queued.len() < 10_000, "the accept queue never filled");
    }
    // RESP2, database 0, no credentials: no handshake, so the core is ready before the socket connects;
    // the connect itself must still be bounded by the connect timeout.
    let config = Config::tcp("127.0.0.1", addr.port())
        .with_protocol(Protocol::Resp2)
        .with_connect_timeout(Duration::from_millis(200));
    let mut lp = Loop::new();
    let c = lp.connect(config);
    let id = lp.send(c, &["PING"]);
    assert!(lp.conn(c).poll_timeout().is_some(), "the connect deadline is exposed");
    let t0 = Instant::now();
    match lp.wait(c, id) {
        Err(Error::Timeout(message)) => assert!(message.contains("connecting to"), "{message}"),
        other => panic!("expected a connect timeout, got {other:?}"),
    }
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert!(!lp.conn(c).is_connected() && lp.conn(c).is_fatal());
    drop(queued);
}
