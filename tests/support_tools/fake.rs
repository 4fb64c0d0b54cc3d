//! The fake server against plain sockets and `RawClient`: each step does what it says, what the client
//! sent is recorded exactly, nothing waits unbounded, and the hostile payloads are what they claim.

use crate::io::{read_exact, read_for, read_to_eof};
use crate::support::fake::{count, hostile, Command, End, FakeServer, Script, Via};
use crate::support::{RawClient, Server};
use bytes::BytesMut;
use redwire::resp::{encode_command, Decoder, Value};
use std::io::Write;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

fn encoded(args: &[&str]) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_command(&mut out, args);
    out.to_vec()
}

fn words(c: &Command) -> Vec<String> {
    c.words()
}

fn simple(s: &str) -> Value {
    Value::SimpleString(s.as_bytes().to_vec().into())
}

#[test]
fn records_what_the_client_sent_and_answers_each_command() {
    let fake = FakeServer::start(Script::new().answer("+PONG\r\n").answer("$1\r\nv\r\n").close());
    let mut c = RawClient::connect(fake.addr());
    assert_eq!(c.cmd_str(&["PING"]), simple("PONG"));
    assert_eq!(c.cmd_str(&["GET", "k"]), Value::BulkString("v".into()));
    let eof = c.try_read().expect_err("the script ends with a FIN");
    assert_eq!(eof.kind(), std::io::ErrorKind::UnexpectedEof);
    let received = fake.join();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!((r.index, r.via, &r.end), (0, Via::Tcp, &End::Done));
    assert_eq!(r.raw, [encoded(&["PING"]), encoded(&["GET", "k"])].concat());
    assert_eq!(r.commands.iter().map(words).collect::<Vec<_>>(), [vec!["PING"], vec!["GET", "k"]]);
    assert_eq!((r.count("GET"), r.count("get"), r.count("SET")), (1, 1, 0));
    assert_eq!(r.names(), ["PING", "GET"]);
}

#[test]
fn parses_pipelined_commands_split_across_reads_and_inline_commands() {
    let fake = FakeServer::start(Script::new().read(4).reply("+A\r\n+B\r\n+C\r\n+D\r\n"));
    let mut s = UnixStream::connect(fake.unix_path()).unwrap();
    let binary = "a\r\n$3\r\n*1\r\n";
    let bytes = [encoded(&["SET", "k", binary]), encoded(&["GET", "k"]), encoded(&["DEL", "k"])].concat();
    for b in &bytes {
        s.write_all(std::slice::from_ref(b)).unwrap(); // one byte at a time
    }
    s.write_all(b"PING  extra\r\n").unwrap();
    assert_eq!(read_to_eof(&mut s, WAIT), b"+A\r\n+B\r\n+C\r\n+D\r\n");
    let r = &fake.join()[0];
    assert_eq!(r.via, Via::Unix);
    let got: Vec<Vec<String>> = r.commands.iter().map(words).collect();
    assert_eq!(got, [vec!["SET", "k", binary], vec!["GET", "k"], vec!["DEL", "k"], vec!["PING", "extra"]]);
    assert_eq!(r.end, End::Done);
}

#[test]
fn answers_the_handshake_like_a_real_server() {
    let fake = FakeServer::start(Script::new().handshake().answer("$5\r\nfirst\r\n"));
    let mut c = RawClient::connect(fake.addr());
    let hello = c.cmd_str(&["HELLO", "3", "AUTH", "default", "pw", "SETNAME", "me"]);
    let Value::Map(fields) = &hello else { panic!("HELLO 3 answered {hello:?}") };
    let field = |name: &str| {
        fields.iter().find(|(k, _)| k == &Value::BulkString(name.to_owned().into())).map(|f| &f.1)
    };
    assert_eq!(field("proto"), Some(&Value::Integer(3)));
    assert_eq!(field("id"), Some(&Value::Integer(1)));
    assert_eq!(c.cmd_str(&["SELECT", "2"]), simple("OK"));
    assert_eq!(c.cmd_str(&["CLIENT", "SETNAME", "x"]), simple("OK"));
    let Value::Array(resp2) = c.cmd_str(&["HELLO", "2"]) else { panic!("HELLO 2 is a flat array") };
    assert_eq!(resp2.len(), 2 * fields.len());
    assert!(matches!(c.cmd_str(&["HELLO", "4"]), Value::Error(e) if e.starts_with(b"NOPROTO")));
    assert_eq!(
        c.cmd_str(&["GET", "k"]),
        Value::BulkString("first".into()),
        "the first other command is read"
    );
    let r = &fake.join()[0];
    assert_eq!(r.names(), ["HELLO", "SELECT", "CLIENT", "HELLO", "HELLO", "GET"]);
    assert_eq!(r.end, End::Done);

    // The same field names a real server sends (Valkey adds some of its own).
    let server = Server::start();
    let real = server.raw().cmd_str(&["HELLO", "3"]);
    let Value::Map(real) = real else { panic!("a real HELLO 3 answered {real:?}") };
    for (key, _) in fields {
        assert!(real.iter().any(|(k, _)| k == key), "{key:?} is not in a real server's HELLO: {real:?}");
    }
}

#[test]
fn a_handshake_without_hello_answers_like_redis_5() {
    let fake = FakeServer::start(Script::new().handshake_without_hello().answer("+PONG\r\n"));
    let mut c = RawClient::connect(fake.addr());
    let hello = c.cmd_str(&["HELLO", "3"]);
    assert!(matches!(&hello, Value::Error(e) if e.starts_with(b"ERR unknown command")), "{hello:?}");
    assert_eq!(c.cmd_str(&["AUTH", "pw"]), simple("OK"));
    assert_eq!(c.cmd_str(&["PING"]), simple("PONG"));
    assert_eq!(fake.join()[0].names(), ["HELLO", "AUTH", "PING"]);
}

#[cfg(feature = "blocking")]
#[test]
fn the_handshake_satisfies_redwire_in_resp3_and_resp2() {
    for (query, handshake) in [("/2?protocol=3", vec!["HELLO", "SELECT"]), ("/0?protocol=2", vec![])] {
        let fake = FakeServer::start(Script::new().handshake().answer("$5\r\nhello\r\n").hold(WAIT));
        let client = redwire::blocking::Client::open(&format!("{}{query}", fake.url())).unwrap();
        let got = client.exec(&redwire::Cmd::new("GET").arg("k")).unwrap();
        assert_eq!(got, Value::BulkString("hello".into()), "{query}");
        drop(client);
        let r = &fake.join()[0];
        let mut names = handshake.clone();
        names.push("GET");
        assert_eq!(r.names(), names, "{query}");
        assert!(r.client_closed, "dropping the client closes its connection ({query})");
    }
}

#[test]
fn close_sends_a_fin_after_a_partial_reply() {
    let fake = FakeServer::start(Script::new().answer("$10\r\nhel").close());
    let mut s = TcpStream::connect(fake.addr()).unwrap();
    s.write_all(&encoded(&["GET", "k"])).unwrap();
    assert_eq!(read_to_eof(&mut s, WAIT), b"$10\r\nhel");
    assert_eq!(fake.join()[0].end, End::Done);
}

#[test]
fn hold_keeps_the_connection_open_without_answering_for_its_time() {
    let fake = FakeServer::start(Script::new().read(1).hold(Duration::from_millis(600)));
    let mut s = TcpStream::connect(fake.addr()).unwrap();
    let start = Instant::now();
    s.write_all(&encoded(&["PING"])).unwrap();
    assert_eq!(read_for(&mut s, Duration::from_millis(300)), (vec![], false), "open and silent");
    s.write_all(&encoded(&["ECHO", "during the hold"])).unwrap();
    assert_eq!(read_to_eof(&mut s, WAIT), b"");
    assert!(start.elapsed() >= Duration::from_millis(600), "{:?}", start.elapsed());
    let r = &fake.join()[0];
    assert_eq!((r.names(), &r.end, r.client_closed), (vec!["PING".into(), "ECHO".into()], &End::Done, false));
}

#[test]
fn hold_ends_early_when_the_client_closes() {
    let fake = FakeServer::start(Script::new().read(1).hold(Duration::from_secs(60)));
    let start = Instant::now();
    let mut c = RawClient::connect(fake.addr());
    c.send(&[b"PING"]);
    fake.wait_until("the PING", WAIT, |r| r.first().is_some_and(|r| r.commands.len() == 1));
    drop(c);
    let r = &fake.join()[0];
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "the hold ended with the client: {:?}",
        start.elapsed()
    );
    assert_eq!((&r.end, r.client_closed), (&End::Done, true));
}

#[test]
fn a_command_that_never_completes_times_out() {
    let fake =
        FakeServer::start(Script::new().read(1).reply("+never\r\n").timeout(Duration::from_millis(200)));
    let mut s = TcpStream::connect(fake.addr()).unwrap();
    s.write_all(b"*1\r\n$4\r\nPI").unwrap();
    let r = &fake.join()[0];
    assert_eq!(r.end, End::TimedOut { step: 0 });
    assert_eq!((r.raw.as_slice(), r.commands.len()), (&b"*1\r\n$4\r\nPI"[..], 0));
    assert_eq!(read_to_eof(&mut s, WAIT), b"", "the reply step never ran; the FIN came");
}

#[test]
fn a_client_closing_early_ends_the_script_there() {
    let fake = FakeServer::start(Script::new().answer("+OK\r\n").read(2).reply("+never\r\n"));
    let mut c = RawClient::connect(fake.addr());
    assert_eq!(c.cmd_str(&["SET", "a", "1"]), simple("OK"));
    c.send(&[b"SET", b"b", b"2"]);
    drop(c);
    let r = &fake.join()[0];
    assert_eq!((&r.end, r.client_closed, r.count("SET")), (&End::ClientClosed { step: 2 }, true, 2));
}

#[test]
fn bytes_that_are_not_a_command_end_the_script_as_bad_input() {
    for garbage in [&b"*x\r\n"[..], b"*1\r\n:5\r\n", b"*1\r\n$3\r\nabcXY"] {
        let fake = FakeServer::start(Script::new().read(1).reply("+never\r\n"));
        let mut s = TcpStream::connect(fake.addr()).unwrap();
        s.write_all(garbage).unwrap();
        assert_eq!(read_to_eof(&mut s, WAIT), b"");
        let r = &fake.join()[0];
        assert!(matches!(&r.end, End::BadInput { step: 0, .. }), "{garbage:?}: {:?}", r.end);
        assert_eq!(r.raw, garbage);
    }
}

#[test]
fn start_each_runs_one_script_per_connection_and_closes_extra_ones() {
    let fake =
        FakeServer::start_each([Script::new().answer("+first\r\n"), Script::new().answer("+second\r\n")]);
    assert_eq!(RawClient::connect(fake.addr()).cmd_str(&["PING"]), simple("first"));
    assert_eq!(RawClient::connect_unix(fake.unix_path()).cmd_str(&["PING"]), simple("second"));
    let mut third = TcpStream::connect(fake.addr()).unwrap();
    assert_eq!(read_to_eof(&mut third, WAIT), b"");
    let received = fake.join();
    let ends: Vec<_> = received.iter().map(|r| (r.via, r.end.clone())).collect();
    assert_eq!(ends, [(Via::Tcp, End::Done), (Via::Unix, End::Done), (Via::Tcp, End::NoScript)]);
    assert_eq!(count(&received, "PING"), 2);
}

/// `url()` and `unix_url()` have the shape `Server::url()` and `Server::unix_url()` have.
#[test]
fn urls_look_like_a_real_servers() {
    let fake = FakeServer::start(Script::new());
    assert_eq!(fake.url(), format!("redis://127.0.0.1:{}", fake.port()));
    assert_eq!(fake.unix_url(), format!("redis+unix://{}", fake.unix_path().display()));
    assert!(fake.unix_path().ends_with("fake.sock"));
}

#[test]
fn reply_slowly_writes_pieces_with_pauses_between() {
    let fake =
        FakeServer::start(Script::new().read(1).reply_slowly("+PONG\r\n", 2, Duration::from_millis(60)));
    let mut s = TcpStream::connect(fake.addr()).unwrap();
    let start = Instant::now();
    s.write_all(&encoded(&["PING"])).unwrap();
    let first = read_exact(&mut s, 2);
    let (rest, _) = read_for(&mut s, Duration::from_millis(30));
    assert_eq!(first, b"+P");
    assert!(rest.len() < 5, "the rest comes later: {rest:?}");
    let all = [first, rest, read_to_eof(&mut s, WAIT)].concat();
    assert_eq!(all, b"+PONG\r\n");
    assert!(start.elapsed() >= Duration::from_millis(180), "3 pauses of 60 ms: {:?}", start.elapsed());
}

#[test]
fn wait_until_sees_running_scripts_and_panics_on_timeout() {
    let fake = FakeServer::start(Script::new().read(2));
    let mut c = RawClient::connect(fake.addr());
    c.send(&[b"PING"]);
    let now = fake.wait_until("one command", WAIT, |r| r.first().is_some_and(|r| r.commands.len() == 1));
    assert_eq!(now[0].end, End::Running { step: 0 });
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        fake.wait_until("a second command", Duration::from_millis(100), |r| r[0].commands.len() == 2)
    }))
    .expect_err("wait_until panics on timeout");
    let message = panic.downcast_ref::<String>().expect("a formatted message");
    assert!(message.contains("a second command") && message.contains("PING"), "{message}");
}

#[test]
fn dropping_the_server_ends_every_connection_and_thread() {
    let fake = FakeServer::start(Script::new().read(1).hold(Duration::from_secs(60)));
    let mut held = TcpStream::connect(fake.addr()).unwrap();
    held.write_all(&encoded(&["PING"])).unwrap();
    let mut waiting = UnixStream::connect(fake.unix_path()).unwrap(); // its script waits in read(1)
                                                                      // The two listeners accept on threads of their own: either connection may be the first.
    fake.wait_until("both connections", WAIT, |r| r.len() == 2 && r.iter().any(|r| r.commands.len() == 1));
    let (done, dropped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(fake);
        done.send(()).unwrap();
    });
    dropped.recv_timeout(WAIT).expect("dropping the fake server returns: every thread ended");
    assert_eq!(read_to_eof(&mut held, WAIT), b"");
    assert_eq!(read_to_eof(&mut waiting, WAIT), b"");
}

#[test]
fn hostile_payloads_are_what_they_claim() {
    assert!(hostile::HUGE_BULK.starts_with(b"$4294967296\r\n"));
    assert_eq!(hostile::HUGE_BULK.len() - b"$4294967296\r\n".len(), 10);
    let deep = hostile::nested_arrays(hostile::DEEP);
    assert_eq!(deep.len(), 4 * 100_000);
    assert!(deep.chunks(4).all(|c| c == b"*1\r\n"));
    // Rejected by a decoder (redwire's, default limits), not "need more bytes", not a value.
    for (what, bytes) in hostile::MALFORMED.iter().chain([&("100 000 nested arrays", &deep[..])]) {
        let result = Decoder::new().decode(&mut BytesMut::from(*bytes));
        assert!(result.is_err(), "{what}: {:?} decoded as {result:?}", bytes.escape_ascii().to_string());
    }
    let huge = Decoder::new().decode(&mut BytesMut::from(hostile::HUGE_BULK));
    assert!(!matches!(huge, Ok(Some(_))), "{huge:?}");
    let error = Decoder::new().decode(&mut BytesMut::from(hostile::ERROR_FOR_ARRAY));
    assert!(matches!(error, Ok(Some(Value::Error(_)))), "well-formed, just not an array: {error:?}");
}

#[test]
fn hostile_scripts_deliver_exactly_their_bytes() {
    let fake = FakeServer::start(hostile::fin_after_two_of_three(b"+one\r\n", b"+two\r\n"));
    let mut c = RawClient::connect(fake.addr());
    for _ in 0..3 {
        c.send(&[b"PING"]);
    }
    assert_eq!((c.read(), c.read()), (simple("one"), simple("two")));
    assert_eq!(c.try_read().expect_err("FIN before the third").kind(), std::io::ErrorKind::UnexpectedEof);
    assert_eq!(fake.join()[0].count("PING"), 3);

    let fake = FakeServer::start(hostile::reply_too_many(b"+PONG\r\n", b"+EXTRA\r\n"));
    let mut c = RawClient::connect(fake.addr());
    assert_eq!(c.cmd_str(&["PING"]), simple("PONG"));
    assert_eq!(c.read(), simple("EXTRA"), "a reply no command asked for");
    drop(c);
    assert!(fake.join()[0].client_closed);

    let fake = FakeServer::start(hostile::after_handshake(hostile::HUGE_BULK));
    let mut s = TcpStream::connect(fake.addr()).unwrap();
    s.write_all(&[encoded(&["HELLO", "3"]), encoded(&["GET", "k"])].concat()).unwrap();
    let (got, eof) = read_for(&mut s, Duration::from_millis(500));
    assert!(
        got.ends_with(hostile::HUGE_BULK) && got.starts_with(b"%7\r\n") && !eof,
        "{:?}",
        got.escape_ascii().to_string()
    );
}
