//! Transcript tests of the sans-IO `Connection`: commands in, bytes out; server bytes in, events out.
//!
//! Every transcript runs under every chunking of the server bytes (whole, byte at a time, every two-piece
//! cut, random pieces; through `handle_input` and through `read_buf`) and must give the same events.

mod connection_common;

use connection_common::*;
use redwire::config::Protocol;
use redwire::{Config, Error};
use std::time::Duration;

const HELLO_REPLY: &[u8] = b"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n";

fn r2() -> Config {
    Config::default().with_protocol(Protocol::Resp2)
}

fn r3() -> Config {
    Config::default()
}

/// Completes the plain `HELLO 3` handshake.
fn hello(d: &mut Driver) {
    assert_eq!(d.sent(), "HELLO 3");
    d.server(HELLO_REPLY);
    assert_eq!(d.events(), ["ready"]);
    assert_eq!(d.conn.protocol(), Protocol::Resp3);
}

/// A ready connection speaking `protocol`.
fn ready(d: &mut Driver, protocol: Protocol) {
    match protocol {
        Protocol::Resp3 => hello(d),
        _ => assert_eq!(d.events(), ["ready"]),
    }
}

fn usage(result: Result<redwire::RequestId, Error>) -> String {
    match result {
        Err(Error::Usage(m)) => m,
        other => panic!("expected a usage error, got {other:?}"),
    }
}

/// Runs `body` under every chunking; a failure names the chunking.
fn each_chunking(config: impl Fn() -> Config, body: impl Fn(&mut Driver)) {
    for chunking in chunkings() {
        let mut d = Driver::new(config(), chunking);
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&mut d)));
        if let Err(panic) = run {
            eprintln!("transcript failed under {chunking:?}");
            std::panic::resume_unwind(panic);
        }
    }
}

/// Runs `body` under both protocols and every chunking.
fn both(body: impl Fn(&mut Driver, Protocol)) {
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        each_chunking(
            || Config::default().with_protocol(protocol),
            |d| {
                ready(d, protocol);
                body(d, protocol)
            },
        );
    }
}

#[test]
fn a_connection_can_move_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<redwire::Connection>();
    assert_send_sync::<redwire::Event>();
    assert_send_sync::<redwire::Config>();
    let conn = redwire::Connection::new(r3().with_password("hunter2"));
    let debug = format!("{conn:?}");
    assert!(
        debug.contains("buffered_out: ") && !debug.contains("hunter2") && !debug.contains("HELLO"),
        "{debug}"
    );
}

// ---------------------------------------------------------------- handshake

#[test]
fn resp3_handshake_puts_auth_and_setname_in_hello_and_holds_requests() {
    let config = || r3().with_credentials("app", "pw").with_client_name("worker").with_db(3);
    each_chunking(config, |d| {
        assert!(!d.conn.is_ready());
        let get = d.send(&["GET", "k"]).unwrap();
        assert_eq!(
            d.sent(),
            "HELLO 3 AUTH app pw SETNAME worker | SELECT 3",
            "the GET waits for the handshake"
        );
        assert_eq!(d.conn.in_flight(), 1);
        assert!(!d.conn.is_reusable());
        d.server(HELLO_REPLY);
        assert!(d.events().is_empty());
        assert_eq!(d.sent(), "");
        d.server(b"+OK\r\n");
        assert_eq!(d.events(), ["ready"]);
        assert!(d.conn.is_ready());
        assert_eq!(d.sent(), "GET k");
        d.server(b"$1\r\nv\r\n");
        assert_eq!(d.events(), [format!("reply {get} \"v\"")]);
        assert_eq!((d.conn.protocol(), d.conn.db(), d.conn.in_flight()), (Protocol::Resp3, 3, 0));
        assert!(d.conn.is_reusable());
    });
}

#[test]
fn resp2_handshake_uses_auth_client_setname_select() {
    let config = || r2().with_credentials("app", "pw").with_client_name("worker").with_db(2);
    each_chunking(config, |d| {
        assert_eq!(d.sent(), "AUTH app pw | CLIENT SETNAME worker | SELECT 2");
        d.server(b"+OK\r\n+OK\r\n+OK\r\n");
        assert_eq!(d.events(), ["ready"]);
        assert_eq!(d.conn.protocol(), Protocol::Resp2);
    });
    each_chunking(
        || r2().with_password("pw"),
        |d| {
            assert_eq!(d.sent(), "AUTH pw");
            d.server(b"+OK\r\n");
            assert_eq!(d.events(), ["ready"]);
        },
    );
}

#[test]
fn resp2_without_anything_to_set_up_is_ready_at_once() {
    each_chunking(r2, |d| {
        assert!(d.conn.is_ready());
        assert_eq!(d.sent(), "");
        assert_eq!(d.events(), ["ready"]);
        assert!(d.conn.is_reusable());
    });
}

#[test]
fn hello_rejected_falls_back_to_resp2_and_redoes_every_step() {
    for rejection in [
        &b"-ERR unknown command 'HELLO', with args beginning with: '3' \r\n"[..],
        b"-NOPROTO unsupported protocol version\r\n",
    ] {
        each_chunking(
            || r3().with_password("pw").with_client_name("w").with_db(2),
            |d| {
                let get = d.send(&["GET", "k"]).unwrap();
                assert_eq!(d.sent(), "HELLO 3 AUTH default pw SETNAME w | SELECT 2");
                d.server(&concat(&[rejection, b"-NOAUTH Authentication required.\r\n"]));
                assert!(d.events().is_empty());
                assert_eq!(d.sent(), "AUTH pw | CLIENT SETNAME w | SELECT 2");
                d.server(b"+OK\r\n+OK\r\n+OK\r\n");
                assert_eq!(d.events(), ["ready"]);
                assert_eq!(d.conn.protocol(), Protocol::Resp2);
                assert_eq!(d.sent(), "GET k");
                d.server(b"$-1\r\n");
                assert_eq!(d.events(), [format!("reply {get} nil")]);
            },
        );
    }
}

#[test]
fn handshake_errors_say_which_step_and_are_sticky() {
    type Case = (fn() -> Config, &'static [u8], &'static str);
    let cases: [Case; 6] = [
        (
            || r3().with_password("bad"),
            b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
            "handshake failed at AUTH: wrong user name or password",
        ),
        (
            || r2().with_credentials("u", "bad"),
            b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
            "handshake failed at AUTH: wrong user name or password",
        ),
        (
            r3,
            b"-NOAUTH HELLO must be called with the client already authenticated\r\n",
            "handshake failed at AUTH: the server requires a password and none is configured",
        ),
        (
            || r2().with_db(1),
            b"-NOAUTH Authentication required.\r\n",
            "handshake failed at AUTH: the server requires a password and none is configured",
        ),
        (
            || r2().with_db(99),
            b"-ERR DB index is out of range\r\n",
            "handshake failed at SELECT: database 99 does not exist on this server",
        ),
        (
            || r2().with_client_name("a"),
            b"-ERR Client names cannot contain spaces\r\n",
            "handshake failed at CLIENT SETNAME",
        ),
    ];
    for (config, reply, want) in cases {
        each_chunking(config, |d| {
            d.sent();
            let early = d.send(&["GET", "k"]).unwrap();
            d.server(reply);
            let events = d.events();
            assert_eq!(events.len(), 1, "{events:?}");
            assert!(events[0].starts_with(&format!("error: {want}")), "{events:?} should start with {want}");
            assert!(!d.conn.is_ready() && d.conn.is_fatal() && !d.conn.is_reusable());
            // Sticky: every later call fails the same way, and the held request never goes out.
            let again = d.conn.poll_event().unwrap_err().to_string();
            assert_eq!(format!("error: {again}"), events[0]);
            let send = d.send(&["PING"]).unwrap_err();
            assert!(matches!(send, Error::Handshake { .. }), "{send:?}");
            assert_eq!(d.sent(), "");
            let _ = early;
        });
    }
}

// ---------------------------------------------------------------- requests

#[test]
fn single_commands_and_server_errors_are_replies() {
    both(|d, _| {
        let set = d.send(&["SET", "k", "v"]).unwrap();
        let bad = d.send(&["LPUSH", "k", "x"]).unwrap();
        let get = d.send(&["GET", "k"]).unwrap();
        assert_eq!(d.sent(), "SET k v | LPUSH k x | GET k", "all pending bytes come out as one chunk");
        assert_eq!(d.conn.in_flight(), 3);
        d.server(b"+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n$1\r\nv\r\n");
        assert_eq!(
            d.events(),
            [
                format!("reply {set} +OK"),
                format!("reply {bad} -WRONGTYPE Operation against a key holding the wrong kind of value"),
                format!("reply {get} \"v\""),
            ]
        );
        assert!(d.conn.is_reusable());
    });
}

#[test]
fn pipelines_give_one_event_with_errors_in_their_slots() {
    both(|d, protocol| {
        let before = d.send(&["PING"]).unwrap();
        let p = d.pipe(&[&["SET", "a", "1"], &["INCR", "nope", "x"], &["GET", "a"]]).unwrap();
        let after = d.send(&["PING"]).unwrap();
        assert_eq!(d.sent(), "PING | SET a 1 | INCR nope x | GET a | PING");
        assert_eq!(d.conn.in_flight(), 3);
        let nil: &[u8] = if protocol == Protocol::Resp3 { b"_\r\n" } else { b"$-1\r\n" };
        d.server(&concat(&[b"+PONG\r\n+OK\r\n-ERR wrong number of arguments\r\n", nil, b"+PONG\r\n"]));
        assert_eq!(
            d.events(),
            [
                format!("reply {before} +PONG"),
                format!("pipeline {p} [+OK, -ERR wrong number of arguments, nil]"),
                format!("reply {after} +PONG"),
            ]
        );
    });
}

#[test]
fn empty_pipeline_is_answered_at_once_and_empty_transaction_is_sent() {
    both(|d, _| {
        let p = d.pipe(&[]).unwrap();
        assert_eq!(d.sent(), "");
        assert_eq!(d.events(), [format!("pipeline {p} []")]);
        let t = d.tx(&[]).unwrap();
        assert_eq!(d.sent(), "MULTI | EXEC");
        d.server(b"+OK\r\n*0\r\n");
        assert_eq!(d.events(), [format!("tx {t} ok []")]);
    });
}

#[test]
fn transaction_commits_with_runtime_errors_in_their_slots() {
    both(|d, _| {
        let t = d.tx(&[&["INCR", "a"], &["LPUSH", "a", "x"], &["GET", "a"]]).unwrap();
        assert_eq!(d.sent(), "MULTI | INCR a | LPUSH a x | GET a | EXEC");
        d.server(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n:1\r\n-WRONGTYPE wrong kind\r\n$1\r\n1\r\n");
        assert_eq!(d.events(), [format!("tx {t} ok [:1, -WRONGTYPE wrong kind, \"1\"]")]);
        assert!(d.conn.is_reusable());
    });
}

#[test]
fn transaction_aborted_by_watch_is_a_watch_error() {
    both(|d, protocol| {
        let w = d.send(&["WATCH", "k"]).unwrap();
        assert!(d.conn.is_watching() && !d.conn.is_reusable());
        d.server(b"+OK\r\n");
        assert_eq!(d.events(), [format!("reply {w} +OK")]);
        assert!(!d.conn.is_reusable(), "a watching connection never goes back to a pool");
        let t = d.tx(&[&["SET", "k", "1"]]).unwrap();
        assert!(!d.conn.is_watching(), "EXEC unwatches whatever happens");
        assert_eq!(d.sent(), "WATCH k | MULTI | SET k 1 | EXEC");
        let nil: &[u8] = if protocol == Protocol::Resp3 { b"_\r\n" } else { b"*-1\r\n" };
        d.server(&concat(&[b"+OK\r\n+QUEUED\r\n", nil]));
        assert_eq!(d.events(), [format!("tx {t} watch")]);
        assert!(d.conn.is_reusable());
        let u = d.send(&["WATCH", "k"]).unwrap();
        let v = d.send(&["UNWATCH"]).unwrap();
        assert!(!d.conn.is_watching());
        d.server(b"+OK\r\n+OK\r\n");
        assert_eq!(d.events(), [format!("reply {u} +OK"), format!("reply {v} +OK")]);
    });
}

#[test]
fn execabort_reports_the_queue_time_errors() {
    both(|d, _| {
        let t = d.tx(&[&["SET", "k", "1"], &["NOSUCH"], &["GET"]]).unwrap();
        d.sent();
        d.server(b"+OK\r\n+QUEUED\r\n-ERR unknown command 'NOSUCH'\r\n-ERR wrong number of arguments for 'get' command\r\n-EXECABORT Transaction discarded because of previous errors.\r\n");
        assert_eq!(
            d.events(),
            [format!("tx {t} execabort [-ERR unknown command 'NOSUCH', -ERR wrong number of arguments for 'get' command]")]
        );
    });
}

#[test]
fn transaction_whose_multi_is_refused_reports_that_error() {
    both(|d, _| {
        let t = d.tx(&[&["GET", "a"]]).unwrap();
        d.sent();
        d.server(b"-NOAUTH Authentication required.\r\n-NOAUTH Authentication required.\r\n-ERR EXEC without MULTI\r\n");
        assert_eq!(d.events(), [format!("tx {t} server -NOAUTH Authentication required.")]);
        assert!(d.conn.is_reusable());
    });
}

#[test]
fn a_transaction_reply_of_the_wrong_shape_is_fatal() {
    both(|d, _| {
        d.tx(&[&["GET", "a"]]).unwrap();
        d.server(b"+OK\r\n:1\r\n");
        let events = d.events();
        assert_eq!(events.len(), 1);
        assert!(events[0].starts_with("error: protocol error: expected +QUEUED"), "{events:?}");
        assert!(d.conn.is_fatal());
        assert!(matches!(d.send(&["PING"]), Err(Error::Protocol(_))));
    });
    both(|d, _| {
        d.tx(&[&["GET", "a"]]).unwrap();
        d.server(b"+OK\r\n+QUEUED\r\n*2\r\n:1\r\n:2\r\n");
        assert_eq!(d.events(), ["error: protocol error: EXEC answered 2 replies for 1 queued commands"]);
    });
}

#[test]
fn multi_exec_sent_one_by_one_are_tracked() {
    both(|d, _| {
        assert!(usage(d.send(&["EXEC"])).contains("need a MULTI first"));
        assert!(usage(d.send(&["DISCARD"])).contains("need a MULTI first"));
        let m = d.send(&["MULTI"]).unwrap();
        assert!(d.conn.in_multi() && !d.conn.is_reusable());
        assert!(usage(d.send(&["MULTI"])).contains("cannot be nested"));
        assert!(usage(d.send(&["WATCH", "k"])).contains("WATCH inside MULTI"));
        assert!(usage(d.tx(&[&["GET", "k"]])).contains("cannot be nested"));
        assert!(usage(d.send(&["SUBSCRIBE", "c"])).contains("inside MULTI"));
        let g = d.send(&["GET", "k"]).unwrap();
        let b = d.send(&["BLPOP", "l", "0"]).unwrap();
        let p = d.pipe(&[&["INCR", "a"], &["INCR", "b"]]).unwrap();
        let e = d.send(&["EXEC"]).unwrap();
        assert!(!d.conn.in_multi());
        assert_eq!(d.sent(), "MULTI | GET k | BLPOP l 0 | INCR a | INCR b | EXEC");
        d.server(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*4\r\n$-1\r\n*-1\r\n:1\r\n:1\r\n");
        assert_eq!(
            d.events(),
            [
                format!("reply {m} +OK"),
                format!("reply {g} +QUEUED"),
                format!("reply {b} +QUEUED"),
                format!("pipeline {p} [+QUEUED, +QUEUED]"),
                format!("reply {e} [nil, nil, :1, :1]"),
            ]
        );
        assert!(d.conn.is_reusable());
        d.send(&["WATCH", "x"]).unwrap();
        d.send(&["MULTI"]).unwrap();
        d.send(&["DISCARD"]).unwrap();
        assert!(!d.conn.in_multi() && !d.conn.is_watching());
        d.server(b"+OK\r\n+OK\r\n+OK\r\n");
        assert_eq!(d.events().len(), 3);
        // A refused MULTI leaves MULTI mode.
        d.send(&["MULTI"]).unwrap();
        d.server(b"-ERR something refused it\r\n");
        assert_eq!(d.events().len(), 1);
        assert!(!d.conn.in_multi());
    });
}

#[test]
fn grouped_commands_that_cannot_be_grouped_are_refused() {
    both(|d, _| {
        for bad in [
            &["SUBSCRIBE", "c"][..],
            &["UNSUBSCRIBE"],
            &["MULTI"],
            &["EXEC"],
            &["QUIT"],
            &["RESET"],
            &["MONITOR"],
        ] {
            assert!(!usage(d.pipe(&[&["PING"], bad])).is_empty());
            assert!(!usage(d.tx(&[&["PING"], bad])).is_empty());
        }
        assert!(usage(d.tx(&[&["WATCH", "k"]])).contains("before"));
        assert_eq!(d.sent(), "", "nothing of a refused group is written");
        assert_eq!(d.conn.in_flight(), 0);
        assert!(d.conn.is_reusable(), "usage errors change nothing");
    });
}

#[test]
fn select_is_tracked_and_makes_the_connection_unfit_for_a_pool() {
    both(|d, _| {
        let s = d.send(&["SELECT", "5"]).unwrap();
        assert_eq!(d.conn.db(), 5);
        d.server(b"+OK\r\n");
        assert_eq!(d.events(), [format!("reply {s} +OK")]);
        assert!(!d.conn.is_reusable());
        d.pipe(&[&["SELECT", "0"]]).unwrap();
        d.server(b"+OK\r\n");
        d.events();
        assert_eq!(d.conn.db(), 0);
        assert!(d.conn.is_reusable());
    });
}

#[test]
fn refused_commands_send_nothing_and_leave_the_connection_usable() {
    both(|d, _| {
        for words in [
            &["MONITOR"][..],
            &["CLIENT", "REPLY", "OFF"],
            &["client", "reply", "skip"],
            &["SYNC"],
            &["PSYNC", "?", "-1"],
            &["HELLO", "2"],
        ] {
            let m = usage(d.send(words));
            assert!(!m.is_empty());
        }
        assert_eq!(d.sent(), "");
        let ok = d.send(&["CLIENT", "REPLY", "ON"]).unwrap();
        d.server(b"+OK\r\n");
        assert_eq!(d.events(), [format!("reply {ok} +OK")]);
    });
}

#[test]
fn quit_is_answered_then_everything_is_refused() {
    both(|d, _| {
        let q = d.send(&["QUIT"]).unwrap();
        assert!(d.conn.is_fatal() && !d.conn.is_reusable());
        assert!(matches!(d.send(&["PING"]), Err(Error::Closed(_))));
        assert_eq!(d.sent(), "QUIT");
        d.server(b"+OK\r\n");
        assert_eq!(d.events(), [format!("reply {q} +OK")]);
        d.conn.handle_eof();
        assert_eq!(d.events(), ["error: connection closed: the server closed the connection"]);
    });
}

#[test]
fn eof_with_requests_in_flight_is_fatal_after_the_buffered_replies() {
    both(|d, _| {
        let a = d.send(&["GET", "a"]).unwrap();
        d.send(&["GET", "b"]).unwrap();
        d.server(b"$1\r\n1\r\n$1\r\n");
        d.conn.handle_eof();
        assert_eq!(
            d.events(),
            [
                format!("reply {a} \"1\""),
                "error: connection closed: the server closed the connection with 1 request(s) unanswered"
                    .into()
            ]
        );
        assert!(d.conn.is_fatal());
    });
}

#[test]
fn garbage_and_unsolicited_replies_are_fatal_and_sticky() {
    both(|d, _| {
        d.send(&["GET", "a"]).unwrap();
        d.server(b"?what\r\n");
        let events = d.events();
        assert!(events[0].starts_with("error: protocol error"), "{events:?}");
        assert!(matches!(d.conn.poll_event(), Err(Error::Decode(_))));
        assert!(matches!(d.send(&["PING"]), Err(Error::Decode(_))));
        assert!(d.conn.poll_transmit().is_none());
    });
    both(|d, _| {
        d.server(b"+OK\r\n");
        assert_eq!(
            d.events(),
            ["error: protocol error: the server sent a reply (simple string) while no request was waiting"]
        );
    });
}

// ---------------------------------------------------------------- pub/sub, RESP2

#[test]
fn resp2_subscribed_mode() {
    each_chunking(r2, |d| {
        ready(d, Protocol::Resp2);
        let s = d.send(&["SUBSCRIBE", "a", "b"]).unwrap();
        assert!(d.conn.is_subscribed() && !d.conn.is_reusable());
        // Refused locally while subscribed; the connection stays usable.
        assert!(usage(d.send(&["GET", "k"])).contains("subscribed mode"));
        assert!(usage(d.tx(&[&["GET", "k"]])).contains("subscribed mode"));
        let p = d.send(&["PSUBSCRIBE", "n*"]).unwrap();
        let ping = d.send(&["PING"]).unwrap();
        assert_eq!(d.sent(), "SUBSCRIBE a b | PSUBSCRIBE n* | PING");
        d.server(&concat(&[
            &confirm('*', "subscribe", Some("a"), 1),
            &frame('*', &["message", "a", "early"]),
            &confirm('*', "subscribe", Some("b"), 2),
            &confirm('*', "psubscribe", Some("n*"), 3),
            &frame('*', &["pong", ""]),
            &frame('*', &["message", "b", "hello"]),
            &frame('*', &["pmessage", "n*", "news", "extra"]),
        ]));
        assert_eq!(
            d.events(),
            [
                format!("subscribe {s} a 1"),
                "message a \"early\"".into(),
                format!("subscribe {s} b 2 done"),
                format!("psubscribe {p} n* 3 done"),
                format!("reply {ping} [\"pong\", \"\"]"),
                "message b \"hello\"".into(),
                "pmessage n* news \"extra\"".into(),
            ]
        );
        assert_eq!(d.conn.in_flight(), 0);
        let mut subs: Vec<String> =
            d.conn.subscriptions().map(|(k, c)| format!("{} {}", k.as_str(), text(c))).collect();
        subs.sort();
        assert_eq!(subs, ["psubscribe n*", "subscribe a", "subscribe b"]);
        // Unsubscribing from all channels: one confirmation per channel, still subscribed to the pattern.
        let u = d.send(&["UNSUBSCRIBE"]).unwrap();
        d.server(&concat(&[
            &confirm('*', "unsubscribe", Some("b"), 2),
            &confirm('*', "unsubscribe", Some("a"), 1),
        ]));
        assert_eq!(d.events(), [format!("unsubscribe {u} b 2"), format!("unsubscribe {u} a 1 done")]);
        assert!(d.conn.is_subscribed());
        assert!(usage(d.send(&["GET", "k"])).contains("subscribed mode"));
        let pu = d.send(&["PUNSUBSCRIBE", "n*"]).unwrap();
        d.server(&confirm('*', "punsubscribe", Some("n*"), 0));
        assert_eq!(d.events(), [format!("punsubscribe {pu} n* 0 done")]);
        assert!(!d.conn.is_subscribed() && d.conn.is_reusable());
        // Out of subscribed mode: a reply shaped like a message is a reply.
        let l = d.send(&["LRANGE", "l", "0", "-1"]).unwrap();
        d.server(&frame('*', &["message", "x", "y"]));
        assert_eq!(d.events(), [format!("reply {l} [\"message\", \"x\", \"y\"]")]);
    });
}

#[test]
fn resp2_reply_to_a_command_sent_before_subscribing_is_not_a_message() {
    each_chunking(r2, |d| {
        ready(d, Protocol::Resp2);
        let l = d.send(&["LRANGE", "l", "0", "-1"]).unwrap();
        let s = d.send(&["SUBSCRIBE", "x"]).unwrap();
        d.server(&concat(&[&frame('*', &["message", "x", "y"]), &confirm('*', "subscribe", Some("x"), 1)]));
        assert_eq!(
            d.events(),
            [format!("reply {l} [\"message\", \"x\", \"y\"]"), format!("subscribe {s} x 1 done")]
        );
    });
}

#[test]
fn shard_channels_keep_resp2_subscribed_mode() {
    each_chunking(r2, |d| {
        ready(d, Protocol::Resp2);
        let s = d.send(&["SUBSCRIBE", "a"]).unwrap();
        let ss = d.send(&["SSUBSCRIBE", "s"]).unwrap();
        let u = d.send(&["UNSUBSCRIBE"]).unwrap();
        d.server(&concat(&[
            &confirm('*', "subscribe", Some("a"), 1),
            &confirm('*', "ssubscribe", Some("s"), 1),
            &confirm('*', "unsubscribe", Some("a"), 0),
            &frame('*', &["smessage", "s", "m"]),
        ]));
        assert_eq!(
            d.events(),
            [
                format!("subscribe {s} a 1 done"),
                format!("ssubscribe {ss} s 1 done"),
                format!("unsubscribe {u} a 0 done"),
                "smessage s \"m\"".into(),
            ]
        );
        assert!(d.conn.is_subscribed(), "the server keeps RESP2 subscribed mode for shard channels");
        assert!(usage(d.send(&["GET", "k"])).contains("subscribed mode"));
        let su = d.send(&["SUNSUBSCRIBE"]).unwrap();
        d.server(&confirm('*', "sunsubscribe", Some("s"), 0));
        assert_eq!(d.events(), [format!("sunsubscribe {su} s 0 done")]);
        assert!(!d.conn.is_subscribed());
        d.send(&["GET", "k"]).unwrap();
    });
}

#[test]
fn pubsub_edge_cases_under_both_protocols() {
    both(|d, protocol| {
        let kind = if protocol == Protocol::Resp3 { '>' } else { '*' };
        // Unsubscribing from nothing: one confirmation with a nil channel.
        let u = d.send(&["UNSUBSCRIBE"]).unwrap();
        d.server(&confirm(kind, "unsubscribe", None, 0));
        assert_eq!(d.events(), [format!("unsubscribe {u} nil 0 done")]);
        // The same channel twice: two confirmations.
        let s = d.send(&["SUBSCRIBE", "a", "a"]).unwrap();
        d.server(&concat(&[
            &confirm(kind, "subscribe", Some("a"), 1),
            &confirm(kind, "subscribe", Some("a"), 1),
        ]));
        assert_eq!(d.events(), [format!("subscribe {s} a 1"), format!("subscribe {s} a 1 done")]);
        // Unsubscribing from a channel never subscribed is still confirmed.
        let u = d.send(&["UNSUBSCRIBE", "zz", "a"]).unwrap();
        d.server(&concat(&[
            &confirm(kind, "unsubscribe", Some("zz"), 1),
            &confirm(kind, "unsubscribe", Some("a"), 0),
        ]));
        assert_eq!(d.events(), [format!("unsubscribe {u} zz 1"), format!("unsubscribe {u} a 0 done")]);
        assert!(!d.conn.is_subscribed());
        // A server-initiated sunsubscribe (slot moved) belongs to no request.
        let ss = d.send(&["SSUBSCRIBE", "s"]).unwrap();
        d.server(&concat(&[
            &confirm(kind, "ssubscribe", Some("s"), 1),
            &confirm(kind, "sunsubscribe", Some("s"), 0),
        ]));
        assert_eq!(d.events(), [format!("ssubscribe {ss} s 1 done"), "sunsubscribe - s 0".into()]);
        assert!(!d.conn.is_subscribed());
        // A subscription command refused by the server ends with an error reply.
        let e = d.send(&["SUBSCRIBE", "x", "y"]).unwrap();
        d.server(b"-NOPERM this user has no permissions to access the 'x' channel\r\n");
        assert_eq!(
            d.events(),
            [format!("reply {e} -NOPERM this user has no permissions to access the 'x' channel")]
        );
        assert!(!d.conn.is_subscribed() && d.conn.in_flight() == 0);
        assert!(usage(d.send(&["SUBSCRIBE"])).contains("at least one"));
    });
}

#[test]
fn a_subscribe_confirmation_nobody_asked_for_is_fatal() {
    both(|d, protocol| {
        let kind = if protocol == Protocol::Resp3 { '>' } else { '*' };
        let g = d.send(&["GET", "k"]).unwrap();
        d.server(&concat(&[&bulk("v"), &confirm(kind, "subscribe", Some("a"), 1)]));
        let events = d.events();
        assert_eq!(events[0], format!("reply {g} \"v\""));
        if protocol == Protocol::Resp3 {
            assert!(
                events[1].starts_with("error: protocol error: a `subscribe` confirmation arrived"),
                "{events:?}"
            );
        } else {
            // In RESP2 outside subscribed mode it is just an array nobody asked for.
            assert!(
                events[1].starts_with("error: protocol error: the server sent a reply (array)"),
                "{events:?}"
            );
        }
    });
}

// ---------------------------------------------------------------- pub/sub, RESP3

#[test]
fn resp3_subscribe_is_confirmed_by_pushes_only_and_commands_interleave() {
    each_chunking(r3, |d| {
        hello(d);
        let s = d.send(&["SUBSCRIBE", "a", "b", "c"]).unwrap();
        let g = d.send(&["GET", "k"]).unwrap();
        let p = d.send(&["PSUBSCRIBE", "n*"]).unwrap();
        let ping = d.send(&["PING"]).unwrap();
        assert_eq!(d.sent(), "SUBSCRIBE a b c | GET k | PSUBSCRIBE n* | PING");
        d.server(&concat(&[
            &confirm('>', "subscribe", Some("a"), 1),
            &confirm('>', "subscribe", Some("b"), 2),
            &frame('>', &["message", "a", "between confirmations"]),
            &confirm('>', "subscribe", Some("c"), 3),
            &frame('>', &["message", "b", "before the GET reply"]),
            &bulk("v"),
            &confirm('>', "psubscribe", Some("n*"), 4),
            &frame('>', &["pmessage", "n*", "news", "x"]),
            b"+PONG\r\n",
            &frame('>', &["invalidate", "k"]),
        ]));
        assert_eq!(
            d.events(),
            [
                format!("subscribe {s} a 1"),
                format!("subscribe {s} b 2"),
                "message a \"between confirmations\"".into(),
                format!("subscribe {s} c 3 done"),
                "message b \"before the GET reply\"".into(),
                format!("reply {g} \"v\""),
                format!("psubscribe {p} n* 4 done"),
                "pmessage n* news \"x\"".into(),
                format!("reply {ping} +PONG"),
                "push >[\"invalidate\", \"k\"]".into(),
            ]
        );
        assert!(d.conn.is_subscribed() && !d.conn.is_reusable());
        // Any command may be sent while subscribed, even a transaction.
        let t = d.tx(&[&["INCR", "n"]]).unwrap();
        d.server(&concat(&[
            b"+OK\r\n",
            &frame('>', &["message", "c", "mid-tx"]),
            b"+QUEUED\r\n*1\r\n:1\r\n",
        ]));
        assert_eq!(d.events(), ["message c \"mid-tx\"".to_string(), format!("tx {t} ok [:1]")]);
        let u = d.send(&["UNSUBSCRIBE"]).unwrap();
        let pu = d.send(&["PUNSUBSCRIBE"]).unwrap();
        d.server(&concat(&[
            &confirm('>', "unsubscribe", Some("c"), 3),
            &confirm('>', "unsubscribe", Some("a"), 2),
            &confirm('>', "unsubscribe", Some("b"), 1),
            &confirm('>', "punsubscribe", Some("n*"), 0),
        ]));
        assert_eq!(
            d.events(),
            [
                format!("unsubscribe {u} c 3"),
                format!("unsubscribe {u} a 2"),
                format!("unsubscribe {u} b 1 done"),
                format!("punsubscribe {pu} n* 0 done"),
            ]
        );
        assert!(!d.conn.is_subscribed() && d.conn.is_reusable());
    });
}

#[test]
fn resp3_pushes_never_land_inside_a_pipeline() {
    each_chunking(r3, |d| {
        hello(d);
        d.send(&["CLIENT", "TRACKING", "on"]).unwrap();
        let p = d.pipe(&[&["GET", "a"], &["GET", "b"]]).unwrap();
        d.server(&concat(&[
            b"+OK\r\n",
            &bulk("1"),
            &frame('>', &["invalidate", "a"]),
            b">2\r\n$10\r\ninvalidate\r\n_\r\n",
            &bulk("2"),
        ]));
        let events = d.events();
        assert_eq!(
            events[1..],
            [
                "push >[\"invalidate\", \"a\"]".to_string(),
                "push >[\"invalidate\", nil]".into(),
                format!("pipeline {p} [\"1\", \"2\"]")
            ]
        );
    });
}

#[test]
fn attributes_are_kept_beside_the_reply() {
    each_chunking(r3, |d| {
        hello(d);
        let g = d.send(&["GET", "k"]).unwrap();
        let p = d.pipe(&[&["GET", "a"], &["GET", "b"]]).unwrap();
        d.server(b"|1\r\n+key-popularity\r\n%1\r\n$1\r\nk\r\n,0.5\r\n$1\r\nv\r\n");
        d.server(b"$1\r\n1\r\n|1\r\n+ttl\r\n:9\r\n$1\r\n2\r\n");
        d.server(b"|1\r\n+trace\r\n:1\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
        assert_eq!(
            d.events(),
            [
                format!("reply {g} \"v\" attr={{+key-popularity: {{\"k\": ,0.5}}}}"),
                format!("pipeline {p} [\"1\", \"2\"] attr[1]={{+ttl: :9}}"),
                "push |{+trace: :1} >[\"invalidate\", [\"k\"]]".into(),
            ]
        );
    });
}

// ---------------------------------------------------------------- RESET

#[test]
fn reset_replays_the_handshake_and_clears_every_mode() {
    let config = || r3().with_password("pw").with_db(2);
    each_chunking(config, |d| {
        assert_eq!(d.sent(), "HELLO 3 AUTH default pw | SELECT 2");
        d.server(&concat(&[HELLO_REPLY, b"+OK\r\n"]));
        assert_eq!(d.events(), ["ready"]);
        let s = d.send(&["SUBSCRIBE", "a"]).unwrap();
        let w = d.send(&["WATCH", "k"]).unwrap();
        let m = d.send(&["MULTI"]).unwrap();
        let sel = d.send(&["SELECT", "7"]).unwrap();
        d.server(&concat(&[&confirm('>', "subscribe", Some("a"), 1), b"+OK\r\n+OK\r\n+QUEUED\r\n"]));
        assert_eq!(d.events().len(), 4);
        let _ = (s, w, m, sel);
        assert!(d.conn.is_subscribed() && d.conn.is_watching() && d.conn.in_multi() && d.conn.db() == 7);
        let r = d.send(&["RESET"]).unwrap();
        assert!(!d.conn.is_watching() && !d.conn.in_multi() && d.conn.db() == 2);
        let g = d.send(&["GET", "k"]).unwrap();
        assert_eq!(
            d.sent(),
            "SUBSCRIBE a | WATCH k | MULTI | SELECT 7 | RESET | HELLO 3 AUTH default pw | SELECT 2 | GET k"
        );
        d.server(b"+RESET\r\n");
        assert_eq!(d.events(), [format!("reply {r} +RESET")]);
        assert_eq!(d.conn.protocol(), Protocol::Resp2, "RESET puts the server back in RESP2 until HELLO");
        assert!(!d.conn.is_subscribed());
        d.server(&concat(&[HELLO_REPLY, b"+OK\r\n$-1\r\n"]));
        assert_eq!(d.events(), [format!("reply {g} nil")], "Ready is not emitted twice");
        assert_eq!(d.conn.protocol(), Protocol::Resp3);
        assert!(d.conn.is_reusable());
    });
}

#[test]
fn reset_leaves_resp2_subscribed_mode() {
    each_chunking(r2, |d| {
        ready(d, Protocol::Resp2);
        d.send(&["PSUBSCRIBE", "*"]).unwrap();
        d.server(&confirm('*', "psubscribe", Some("*"), 1));
        d.events();
        assert!(usage(d.send(&["RESET"]).and_then(|_| d.send(&["GET", "k"])))
            .contains("wait for the last confirmation"));
        d.server(&concat(&[&frame('*', &["pmessage", "*", "c", "late"]), b"+RESET\r\n"]));
        let events = d.events();
        assert_eq!(events[0], "pmessage * c \"late\"");
        assert!(events[1].ends_with("+RESET"));
        assert!(!d.conn.is_subscribed() && d.conn.is_reusable());
        d.send(&["GET", "k"]).unwrap();
    });
    each_chunking(r3, |d| {
        assert!(usage(d.send(&["RESET"])).contains("wait for Event::Ready"));
    });
}

// ---------------------------------------------------------------- deadlines

#[test]
fn a_passed_deadline_poisons_the_connection() {
    each_chunking(
        || r2().with_response_timeout(Duration::from_secs(1)),
        |d| {
            ready(d, Protocol::Resp2);
            assert_eq!(d.conn.poll_timeout(), None);
            let a = d.send(&["GET", "a"]).unwrap();
            assert_eq!(d.conn.poll_timeout(), Some(d.start + Duration::from_secs(1)));
            d.advance(Duration::from_millis(500));
            let b = d.send(&["GET", "b"]).unwrap();
            d.server(&bulk("1"));
            assert_eq!(d.events(), [format!("reply {a} \"1\"")]);
            assert_eq!(d.conn.poll_timeout(), Some(d.start + Duration::from_millis(1500)));
            d.advance(Duration::from_millis(999));
            assert!(d.events().is_empty() && !d.conn.is_poisoned());
            d.advance(Duration::from_millis(1));
            assert_eq!(
            d.events(),
            [format!("timeout {b}"), format!("error: connection poisoned: request {b} got no reply in time; replies still on their way could be matched to the wrong request, so this connection must be closed")]
        );
            assert!(d.conn.is_poisoned() && d.conn.is_fatal() && !d.conn.is_reusable());
            // The late reply is never delivered; every call fails.
            d.server(&bulk("2"));
            assert!(matches!(d.conn.poll_event(), Err(Error::Poisoned(_))));
            assert!(matches!(d.send(&["PING"]), Err(Error::Poisoned(_))));
            assert!(d.conn.poll_transmit().is_none());
            assert_eq!(d.conn.poll_timeout(), None);
        },
    );
}

#[test]
fn blocking_commands_get_their_own_timeout_plus_the_response_timeout() {
    let second = Duration::from_secs(1);
    each_chunking(
        || r3().with_response_timeout(Duration::from_secs(1)),
        |d| {
            hello(d);
            let t0 = d.now;
            let cases: [(&[&str], Option<Duration>); 9] = [
                (&["BLPOP", "l", "5"], Some(6 * second)),
                (&["BRPOP", "a", "b", "0.5"], Some(Duration::from_millis(1500))),
                (&["BLMOVE", "a", "b", "LEFT", "RIGHT", "2"], Some(3 * second)),
                (&["BZMPOP", "3", "1", "z", "MIN"], Some(4 * second)),
                (
                    &["XREAD", "COUNT", "1", "BLOCK", "1500", "STREAMS", "s", "$"],
                    Some(Duration::from_millis(2500)),
                ),
                (&["WAIT", "1", "250"], Some(Duration::from_millis(1250))),
                (&["WAITAOF", "1", "0", "4000"], Some(5 * second)),
                (&["BLPOP", "l", "0"], None),
                (&["GET", "k"], Some(second)),
            ];
            for (words, want) in cases {
                let id = d.send(words).unwrap();
                assert_eq!(d.conn.poll_timeout(), want.map(|w| t0 + w), "{words:?}");
                d.server(b"_\r\n");
                assert_eq!(d.events(), [format!("reply {id} nil")]);
            }
            // Behind a longer block, a request cannot be answered earlier.
            d.send(&["BLPOP", "l", "10"]).unwrap();
            d.send(&["GET", "k"]).unwrap();
            assert_eq!(d.conn.poll_timeout(), Some(t0 + 11 * second));
            d.server(b"_\r\n");
            d.events();
            assert_eq!(d.conn.poll_timeout(), Some(t0 + 11 * second));
            d.server(b"_\r\n");
            d.events();
            // Behind a block with no timeout, nothing times out; once it is answered, deadlines are back.
            d.send(&["BRPOP", "l", "0"]).unwrap();
            d.send(&["GET", "k"]).unwrap();
            assert_eq!(d.conn.poll_timeout(), None);
            d.advance(Duration::from_secs(3600));
            assert!(!d.conn.is_poisoned());
            d.server(b"_\r\n_\r\n");
            assert_eq!(d.events().len(), 2);
            let now = d.now;
            d.send(&["GET", "k"]).unwrap();
            assert_eq!(d.conn.poll_timeout(), Some(now + second));
            d.server(b"_\r\n");
            d.events();
            // A pipeline adds its blocks up; inside a transaction nothing blocks.
            d.pipe(&[&["BLPOP", "a", "2"], &["BRPOP", "b", "3"]]).unwrap();
            assert_eq!(d.conn.poll_timeout(), Some(now + 6 * second));
            d.server(b"_\r\n_\r\n");
            d.events();
            d.tx(&[&["BLPOP", "a", "100"]]).unwrap();
            assert_eq!(d.conn.poll_timeout(), Some(now + second));
            d.server(b"+OK\r\n+QUEUED\r\n*1\r\n_\r\n");
            assert_eq!(d.events().len(), 1);
            assert!(!d.conn.is_poisoned());
            // A timeout the server rejects at once gets the response timeout; one too long for the clock
            // means no deadline rather than a panic.
            d.send(&["BLPOP", "l", "1e300"]).unwrap();
            assert_eq!(d.conn.poll_timeout(), Some(now + second));
            d.server(b"-ERR timeout is out of range\r\n");
            d.events();
            d.send(&["BLPOP", "l", "1e19"]).unwrap();
            assert_eq!(d.conn.poll_timeout(), None);
        },
    );
}

#[test]
fn without_a_response_timeout_nothing_times_out() {
    both(|d, _| {
        d.send(&["GET", "k"]).unwrap();
        d.send(&["BLPOP", "l", "1"]).unwrap();
        assert_eq!(d.conn.poll_timeout(), None);
        d.advance(Duration::from_secs(86_400));
        assert!(d.events().is_empty() && !d.conn.is_poisoned());
    });
}

#[test]
fn requests_held_behind_the_handshake_carry_their_deadline() {
    each_chunking(
        || r3().with_response_timeout(Duration::from_secs(2)),
        |d| {
            let id = d.send(&["GET", "k"]).unwrap();
            assert_eq!(d.conn.poll_timeout(), Some(d.start + Duration::from_secs(2)));
            d.advance(Duration::from_secs(2));
            assert_eq!(d.events()[0], format!("timeout {id}"));
            assert!(d.conn.is_poisoned());
        },
    );
}
