//! Reliability scenarios against servers that refuse or do not exist (issue #9): a wrong password, a
//! database that does not exist, nothing listening, a host that does not resolve; and (with the scripted
//! fake server) replies no real server sends.

use super::*;
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
