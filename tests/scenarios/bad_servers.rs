//! Reliability scenarios against servers that refuse or do not exist (issue #9): a wrong password, a
//! database that does not exist, nothing listening, a host that does not resolve; and (with the scripted
//! fake server) replies no real server sends.

use super::*;
use crate::support::fake::{self, hostile, FakeServer, Script};
use crate::support::{Server, ServerOptions};
use redwire::config::Address;
use redwire::error::ServerErrorKind;
use redwire::resp::Value;
use redwire::{Config, Error};
use std::time::{Duration, Instant};

/// The connect timeout the bad-parameter scenario allows.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects and runs `PING` (runtimes that connect lazily fail at the first command); returns the error
/// and how long it took.
fn fail_to_connect<R: Runtime>(config: Config) -> (Error, Duration) {
    let what = format!("{config:?}");
    let t0 = Instant::now();
    let result = R::connect_with(config, None).and_then(|c| R::exec(&c, cmd(&["PING"])));
    let took = t0.elapsed();
    match result {
        Err(e) => {
            assert!(
                took < CONNECT_TIMEOUT + Duration::from_secs(1),
                "[{}] {what}: the error took {took:?}: {e}",
                R::NAME
            );
            (e, took)
        }
        Ok(v) => panic!("[{}] {what}: connected and PING answered {v:?}", R::NAME),
    }
}

/// A wrong password, an unknown database, nothing listening and an unresolvable host each fail with a
/// clear, typed error within the connect timeout.
pub fn bad_connect_parameters_fail_clearly_within_the_connect_timeout<R: Runtime>(
    url: &str,
    _server: &mut Server,
) {
    let base = Config::from_url(url).unwrap().with_connect_timeout(CONNECT_TIMEOUT);
    let unix = matches!(base.addr(), Address::Unix(_));

    // A server that wants a password, reached the same way as the scenario's server.
    let guarded = Server::start_with(ServerOptions {
        args: vec!["--requirepass".into(), "right".into()],
        ..ServerOptions::default()
    });
    let addr = if unix {
        Address::Unix(guarded.unix_path().to_path_buf())
    } else {
        Address::Tcp { host: "127.0.0.1".into(), port: guarded.port() }
    };
    let (e, _) = fail_to_connect::<R>(base.clone().with_addr(addr.clone()).with_password("wrong"));
    match &e {
        Error::Handshake { step: "AUTH", message } => {
            assert!(message.contains("wrong user name or password"), "[{}] {message}", R::NAME)
        }
        other => panic!("[{}] wrong password gave {other:?}", R::NAME),
    }
    // No password at all: RESP3's HELLO is refused, or (RESP2 has no handshake to fail) the first command.
    let (e, _) = fail_to_connect::<R>(base.clone().with_addr(addr.clone()));
    let clear = match &e {
        Error::Handshake { step: "AUTH", message } => message.contains("none is configured"),
        Error::Server(_) => e.server_kind() == Some(ServerErrorKind::NoAuth),
        _ => false,
    };
    assert!(clear, "[{}] no password gave {e:?}", R::NAME);
    // The right password works, so the failures above were the password's.
    let c = R::connect_with(base.clone().with_addr(addr).with_password("right"), None).unwrap();
    assert_eq!(exec::<R>(&c, &["PING"]), Value::SimpleString("PONG".into()));

    let (e, _) = fail_to_connect::<R>(base.clone().with_db(99));
    match &e {
        Error::Handshake { step: "SELECT", message } => {
            assert!(message.contains("database 99 does not exist"), "[{}] {message}", R::NAME)
        }
        other => panic!("[{}] db 99 gave {other:?}", R::NAME),
    }

    // Nothing listening: a port nobody holds, or a socket path that does not exist.
    let nowhere = if unix {
        Address::Unix(std::env::temp_dir().join(format!("redwire-no-such-{}.sock", std::process::id())))
    } else {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Address::Tcp { host: "127.0.0.1".into(), port }
    };
    let (e, _) = fail_to_connect::<R>(base.clone().with_addr(nowhere.clone()));
    match &e {
        Error::Io(io) => {
            let kind =
                if unix { std::io::ErrorKind::NotFound } else { std::io::ErrorKind::ConnectionRefused };
            assert_eq!(io.kind(), kind, "[{}] {io}", R::NAME);
        }
        other => panic!("[{}] nothing listening gave {other:?}", R::NAME),
    }
    let shown = match &nowhere {
        Address::Unix(path) => path.display().to_string(),
        Address::Tcp { port, .. } => port.to_string(),
        _ => unreachable!("built above"),
    };
    assert!(e.to_string().contains(&shown), "[{}] the error does not name {shown}: {e}", R::NAME);

    // A host that cannot resolve (RFC 6761 reserves .invalid), whatever the transport under test.
    let unresolvable = Address::Tcp { host: "no-such-host.invalid".into(), port: 6379 };
    let (e, _) = fail_to_connect::<R>(base.with_addr(unresolvable));
    assert!(matches!(&e, Error::Io(_)), "[{}] an unresolvable host gave {e:?}", R::NAME);
    assert!(
        e.to_string().contains("no-such-host.invalid"),
        "[{}] the error does not name the host: {e}",
        R::NAME
    );
}

/// A client for `fake`, over the scenario's transport and protocol, with a response timeout.
fn fake_client<R: Runtime>(url: &str, fake: &FakeServer) -> R::Client {
    R::connect(&format!("{}&response_timeout=2s", moved(url, &fake.url(), &fake.unix_url()))).unwrap()
}

/// `true` for the errors a peer breaking the protocol gives: typed, and fatal for the connection.
fn is_protocol_error(e: &Error) -> bool {
    matches!(e, Error::Decode(_) | Error::Protocol(_)) && e.is_fatal()
}

/// The client closed this connection: a FIN, or the server's read or write failing because the peer is
/// gone (closing a socket with unread bytes resets it; a unix socket's writer then gets a broken pipe).
fn closed_by_client(r: &fake::Received) -> bool {
    r.client_closed
        || matches!(&r.end, fake::End::Io { error, .. } if error.contains("reset") || error.contains("Broken pipe"))
}

/// The fake server's second connection answers `PING`: the client opened a new connection after the
/// first one broke. Unless the server closed the first one itself, the client must close it too (a
/// connection in doubt is never kept, let alone reused).
fn recovers_on_a_new_connection<R: Runtime>(
    c: &R::Client,
    fake: &FakeServer,
    what: &str,
    server_closed: bool,
) {
    assert_eq!(exec::<R>(c, &["PING"]), Value::SimpleString("PONG".into()), "[{}] after {what}", R::NAME);
    let received = fake.wait_until(
        &format!("[{}] after {what}: the client closes the bad connection", R::NAME),
        Duration::from_secs(5),
        |r| r.len() >= 2 && (server_closed || closed_by_client(&r[0])),
    );
    assert_eq!(received[1].count("PING"), 1, "[{}] after {what}: {received:?}", R::NAME);
    assert_eq!(received[0].count("PING"), 0, "[{}] after {what}: the broken connection was reused", R::NAME);
}

/// A script answering the handshake and one `PING` with `+PONG`, then closing when the client does.
fn healthy() -> Script {
    Script::new().handshake().answer(b"+PONG\r\n").hold(hostile::HOLD)
}

/// Malformed frames, a declared 4 GiB bulk, a reply nobody asked for and a FIN after two of three
/// pipelined replies, each from a scripted fake server: a typed protocol error (or, for the FIN, a
/// connection error; for the extra reply, the right reply and then a dead connection), never a panic,
/// never a partial result; the broken connection is closed and never used again.
pub fn malformed_replies_are_protocol_errors_and_the_connection_is_never_reused<R: Runtime>(
    url: &str,
    _server: &mut Server,
) {
    let mut bad: Vec<(String, Vec<u8>)> =
        hostile::MALFORMED.iter().map(|(what, bytes)| (what.to_string(), bytes.to_vec())).collect();
    bad.push(("a bulk declaring 4 GiB with ten bytes behind it".into(), hostile::HUGE_BULK.to_vec()));
    for (what, bytes) in bad {
        let fake = FakeServer::start_each([hostile::after_handshake(&bytes), healthy()]);
        let c = fake_client::<R>(url, &fake);
        match R::exec(&c, cmd(&["GET", "k"])) {
            Err(e) => assert!(is_protocol_error(&e), "[{}] {what}: {e:?}", R::NAME),
            Ok(v) => panic!("[{}] {what}: answered {v:?}", R::NAME),
        }
        recovers_on_a_new_connection::<R>(&c, &fake, &what, false);
    }

    // A reply too many: the request gets its own reply; the extra one kills that connection.
    let fake =
        FakeServer::start_each([hostile::reply_too_many(b"$2\r\nv1\r\n", b"$5\r\nextra\r\n"), healthy()]);
    let c = fake_client::<R>(url, &fake);
    assert_eq!(exec::<R>(&c, &["GET", "k"]), bulk("v1"));
    // The next command may be the one that finds the connection dead; it is never answered "extra".
    match R::exec(&c, cmd(&["PING"])) {
        Ok(v) => assert_eq!(v, Value::SimpleString("PONG".into()), "[{}] an unasked reply leaked", R::NAME),
        Err(e) => assert!(is_protocol_error(&e) || e.is_fatal(), "[{}] {e:?}", R::NAME),
    }
    let received =
        fake.wait_until("the client closed the connection that sent too much", Duration::from_secs(5), |r| {
            !r.is_empty() && r[0].client_closed
        });
    assert_eq!(received[0].count("PING"), 0, "[{}] the connection that sent too much was reused", R::NAME);

    // A FIN after two of three pipelined replies: the pipeline fails whole.
    let fake = FakeServer::start_each([hostile::fin_after_two_of_three(b"+OK\r\n", b":2\r\n"), healthy()]);
    let c = fake_client::<R>(url, &fake);
    let cmds = vec![cmd(&["SET", "a", "1"]), cmd(&["INCR", "b"]), cmd(&["GET", "a"])];
    match R::pipeline(&c, cmds, false) {
        Err(e) => assert!(matches!(e, Error::Closed(_) | Error::Io(_)), "[{}] {e:?}", R::NAME),
        Ok(v) => panic!("[{}] a pipeline missing a reply succeeded: {v:?}", R::NAME),
    }
    recovers_on_a_new_connection::<R>(&c, &fake, "a FIN mid-pipeline", true);
    assert_eq!(fake::count(&fake.received(), "SET"), 1, "[{}] the write was sent again", R::NAME);
}

/// 100 000 nested `*1\r\n`: a protocol error (too deep), no stack overflow, and a new connection after.
pub fn a_hundred_thousand_nested_arrays_are_a_protocol_error<R: Runtime>(url: &str, _server: &mut Server) {
    let fake =
        FakeServer::start_each([hostile::after_handshake(hostile::nested_arrays(hostile::DEEP)), healthy()]);
    let c = fake_client::<R>(url, &fake);
    match R::exec(&c, cmd(&["GET", "deep"])) {
        Err(e) => assert!(is_protocol_error(&e) && e.to_string().contains("deep"), "[{}] {e:?}", R::NAME),
        Ok(v) => panic!("[{}] answered {v:?}", R::NAME),
    }
    recovers_on_a_new_connection::<R>(&c, &fake, "100 000 nested arrays", false);
}

/// `kB` of a `/proc/self/status` field (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// A bulk declaring 4 GiB (over the decoder's 512 MiB limit: refused at once) and one declaring 500 MiB
/// (allowed: the client waits for it), each with ten bytes behind it: the first is a protocol error, the
/// second times out, and the process's peak memory grows by at most a few MiB.
pub fn declared_huge_bulks_never_grow_memory_by_their_length<R: Runtime>(url: &str, _server: &mut Server) {
    const LIMIT_KIB: u64 = 8 * 1024;
    let growth = in_own_process(|| {
        let before = status_kib("VmRSS");
        let fake = FakeServer::start_each([hostile::after_handshake(hostile::HUGE_BULK), healthy()]);
        let c = fake_client::<R>(url, &fake);
        match R::exec(&c, cmd(&["GET", "huge"])) {
            Err(e) => assert!(is_protocol_error(&e), "[{}] {e:?}", R::NAME),
            Ok(v) => panic!("[{}] answered {v:?}", R::NAME),
        }
        recovers_on_a_new_connection::<R>(&c, &fake, "a 4 GiB bulk", false);

        let fake = FakeServer::start_each([hostile::after_handshake(b"$524288000\r\n0123456789"), healthy()]);
        let c = fake_client::<R>(url, &fake);
        match R::exec(&c, cmd(&["GET", "big"])) {
            Err(e) => assert!(matches!(e, Error::Timeout(_)), "[{}] {e:?}", R::NAME),
            Ok(v) => panic!("[{}] answered {v:?}", R::NAME),
        }
        recovers_on_a_new_connection::<R>(&c, &fake, "a 500 MiB bulk that never came", false);
        status_kib("VmHWM").saturating_sub(before).to_string()
    });
    let Some(growth) = growth else { return }; // the child process: the parent checks
    let growth: u64 = growth.parse().expect("a number of KiB");
    eprintln!("[{}] peak memory grew by {growth} KiB", R::NAME);
    assert!(growth <= LIMIT_KIB, "[{}] peak memory grew by {growth} KiB (limit {LIMIT_KIB} KiB)", R::NAME);
}
