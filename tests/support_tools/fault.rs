//! The fault proxy in front of a real server: every rule shown doing what it says, over TCP and unix
//! sockets on both sides, and its counters matching the bytes that really moved.

use crate::io::{read_exact, read_for, read_to_eof};
use crate::support::fault::{
    Delay, Direction::ToClient, Direction::ToServer, Endpoint, FaultProxy, Split, Stats,
};
use crate::support::{RawClient, Server};
use bytes::BytesMut;
use redwire::resp::{encode_command, Value};
use std::io::Write;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

fn bulk(bytes: &[u8]) -> Value {
    Value::BulkString(bytes.to_vec().into())
}

fn ok() -> Value {
    Value::SimpleString("OK".into())
}

fn encoded(args: &[&[u8]]) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_command(&mut out, args);
    out.to_vec()
}

/// Every byte value, CRLFs and things that look like RESP headers.
fn binary(len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
    v.extend_from_slice(b"\r\n$5\r\n*-1\r\n");
    v
}

/// A plain socket to the proxy, for tests that look at bytes as they arrive.
fn socket(proxy: &FaultProxy) -> TcpStream {
    let s = TcpStream::connect(proxy.addr()).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

#[test]
fn passes_bytes_through_unchanged_and_counts_them_exactly() {
    let server = Server::start();
    let proxy = FaultProxy::start(server.addr());
    let mut c = RawClient::connect(proxy.addr());
    let value = binary(3000);
    assert_eq!(c.cmd(&[b"SET", b"k", &value]), ok());
    assert_eq!(c.cmd(&[b"GET", b"k"]), bulk(&value));
    let sent = encoded(&[b"SET", b"k", &value]).len() + encoded(&[b"GET", b"k"]).len();
    let replied = b"+OK\r\n".len() + format!("${}\r\n", value.len()).len() + value.len() + 2;
    let stats = proxy.wait_until("both replies counted", WAIT, |s| s.to_client.bytes == replied as u64);
    assert_eq!(stats.to_server.bytes, sent as u64, "{stats:?}");
    assert_eq!((stats.accepted, stats.open, stats.cuts), (1, 1, 0), "{stats:?}");
    drop(c);
    proxy.wait_until("the connection's pumps to end", WAIT, |s| s.open == 0);
}

#[test]
fn listens_and_forwards_over_tcp_and_unix_alike() {
    let server = Server::start();
    for upstream in [Endpoint::from(server.addr()), Endpoint::from(server.unix_path())] {
        let proxy = FaultProxy::start(upstream.clone());
        assert_eq!(proxy.upstream(), &upstream);
        assert_eq!(proxy.url(), format!("redis://127.0.0.1:{}", proxy.addr().port()));
        assert_eq!(proxy.unix_url(), format!("redis+unix://{}", proxy.unix_path().display()));
        let mut over_tcp = RawClient::connect(proxy.addr());
        let mut over_unix = RawClient::connect_unix(proxy.unix_path());
        assert_eq!(over_tcp.cmd_str(&["SET", "via", "tcp"]), ok(), "{upstream}");
        assert_eq!(over_unix.cmd_str(&["GET", "via"]), bulk(b"tcp"), "{upstream}");
        // The server sees a unix client only when the proxy's upstream is the unix socket.
        let info = match over_unix.cmd_str(&["CLIENT", "INFO"]) {
            Value::BulkString(b) | Value::VerbatimString { text: b, .. } => {
                String::from_utf8(b.to_vec()).unwrap()
            }
            other => panic!("CLIENT INFO answered {other:?}"),
        };
        let unix_upstream = matches!(upstream, Endpoint::Unix(_));
        let flags =
            info.split_whitespace().find_map(|f| f.strip_prefix("flags=")).expect("CLIENT INFO has flags");
        assert_eq!(flags.contains('U'), unix_upstream, "{upstream}: {info}"); // U: a unix socket client
        assert_eq!(proxy.stats().accepted, 2);
    }
}

#[test]
fn split_bytes_writes_every_server_byte_alone() {
    let server = Server::start();
    let proxy = FaultProxy::start(server.addr());
    let mut c = RawClient::connect(proxy.addr());
    let value = binary(2000);
    assert_eq!(c.cmd(&[b"SET", b"big", &value]), ok());
    let before = proxy.stats();
    assert!(before.to_client.largest_write > 1, "unsplit replies go out whole: {before:?}");
    proxy.split(ToClient, Split::Bytes);
    assert_eq!(c.cmd(&[b"GET", b"big"]), bulk(&value));
    let after = proxy.stats();
    let bytes = after.to_client.bytes - before.to_client.bytes;
    assert!(bytes > 2000, "{after:?}");
    assert_eq!(after.to_client.writes - before.to_client.writes, bytes, "one write per byte: {after:?}");
    // Commands were not split: only the direction asked for.
    assert!(after.to_server.writes < 10 && after.to_server.largest_write > 2000, "{after:?}");

    // Commands split into single bytes still reach the server whole.
    proxy.split(ToServer, Split::Bytes);
    assert_eq!(c.cmd_str(&["SET", "k", "single bytes"]), ok());
    assert_eq!(c.cmd_str(&["GET", "k"]), bulk(b"single bytes"));
    assert_eq!(proxy.stats().to_server.largest_write, after.to_server.largest_write);
    let s = proxy.stats();
    assert_eq!(s.to_server.writes - after.to_server.writes, s.to_server.bytes - after.to_server.bytes);
}

#[test]
fn split_up_to_n_writes_pieces_of_one_to_n_bytes() {
    let server = Server::start();
    let proxy = FaultProxy::with_seed(server.addr(), 7);
    assert_eq!(proxy.seed(), 7);
    proxy.split(ToClient, Split::UpTo(5));
    let mut c = RawClient::connect(proxy.addr());
    let value = binary(4000);
    assert_eq!(c.cmd(&[b"SET", b"big", &value]), ok());
    assert_eq!(c.cmd(&[b"GET", b"big"]), bulk(&value));
    let s = proxy.stats().to_client;
    assert_eq!(s.largest_write, 5, "pieces of 1..=5, and in 4000 bytes some of 5: {s:?}");
    assert!(s.writes >= s.bytes / 5 && s.writes < s.bytes, "pieces of several sizes: {s:?}");
}

#[test]
fn delay_pauses_before_every_piece() {
    let server = Server::start();
    let proxy = FaultProxy::start(server.addr());
    let mut c = RawClient::connect(proxy.addr());
    assert_eq!(c.cmd_str(&["PING"]), Value::SimpleString("PONG".into()));
    proxy.split(ToClient, Split::Bytes).delay(ToClient, Delay::Fixed(Duration::from_millis(30)));
    let start = Instant::now();
    assert_eq!(c.cmd_str(&["PING"]), Value::SimpleString("PONG".into()));
    // "+PONG\r\n": 7 pieces, each after 30 ms.
    assert!(start.elapsed() >= Duration::from_millis(210), "{:?}", start.elapsed());
    proxy.clear();
    assert_eq!(c.cmd_str(&["PING"]), Value::SimpleString("PONG".into()));
}

#[test]
fn stall_holds_replies_until_released() {
    let server = Server::start();
    let proxy = FaultProxy::start(server.addr());
    let mut s = socket(&proxy);
    proxy.stall(ToClient);
    s.write_all(&encoded(&[b"PING"])).unwrap();
    let stats = proxy.wait_until("the PONG to be held", WAIT, |s| s.to_client.held == 7);
    assert_eq!((stats.to_server.bytes, stats.to_client.bytes), (14, 0), "{stats:?}");
    assert_eq!(read_for(&mut s, Duration::from_millis(300)), (vec![], false), "nothing passes a stall");
    proxy.release(ToClient);
    assert_eq!(read_exact(&mut s, 7), b"+PONG\r\n");
    assert_eq!(proxy.stats().to_client.held, 0);
}

#[test]
fn stall_to_server_holds_commands_until_released() {
    let server = Server::start();
    let proxy = FaultProxy::start(server.addr());
    let mut direct = server.raw();
    let mut s = socket(&proxy);
    proxy.stall(ToServer);
    let set = encoded(&[b"SET", b"held", b"v"]);
    s.write_all(&set).unwrap();
    proxy.wait_until("the SET to be held", WAIT, |s| s.to_server.held == set.len());
    assert_eq!(direct.cmd_str(&["EXISTS", "held"]), Value::Integer(0), "the server has not seen the SET");
    proxy.release(ToServer);
    assert_eq!(read_exact(&mut s, 5), b"+OK\r\n");
    assert_eq!(direct.cmd_str(&["GET", "held"]), bulk(b"v"));
}

#[test]
fn pass_then_stall_lets_exactly_n_bytes_through_then_holds_the_rest() {
    // Issue #9's "a reply stalls": `$4\r\nk` arrives, then a pause, then `ey1\r\n`.
    let server = Server::start();
    assert_eq!(server.raw().cmd_str(&["SET", "k", "key1"]), ok());
    let proxy = FaultProxy::start(server.unix_path());
    let mut s = UnixStream::connect(proxy.unix_path()).unwrap();
    proxy.pass_then_stall(ToClient, 5);
    s.write_all(&encoded(&[b"GET", b"k"])).unwrap();
    proxy.wait_until("5 bytes through, 5 held", WAIT, |s| s.to_client.bytes == 5 && s.to_client.held == 5);
    assert_eq!(read_for(&mut s, Duration::from_millis(300)), (b"$4\r\nk".to_vec(), false));
    assert_eq!(read_for(&mut s, Duration::from_millis(300)), (vec![], false), "still held");
    proxy.release(ToClient);
    assert_eq!(read_exact(&mut s, 5), b"ey1\r\n");
}

#[test]
fn cut_after_n_bytes_to_the_client_delivers_exactly_n_then_eof() {
    let server = Server::start();
    let value = binary(100);
    assert_eq!(server.raw().cmd(&[b"SET", b"k", &value]), ok());
    let proxy = FaultProxy::start(server.addr());
    proxy.split(ToClient, Split::UpTo(3)); // the cut lands inside a piece, not at a read boundary
    let mut s = socket(&proxy);
    proxy.cut_after(ToClient, 10);
    s.write_all(&encoded(&[b"GET", b"k"])).unwrap();
    let reply = [format!("${}\r\n", value.len()).as_bytes(), &value[..]].concat();
    assert_eq!(read_to_eof(&mut s, WAIT), reply[..10]);
    let stats = proxy.stats();
    assert_eq!((stats.cuts, stats.to_client.bytes), (1, 10), "{stats:?}");
    // One-shot: the next connection is left alone.
    assert_eq!(RawClient::connect(proxy.addr()).cmd(&[b"GET", b"k"]), bulk(&value));
    assert_eq!(proxy.stats().cuts, 1);
}

#[test]
fn cut_after_n_bytes_to_the_server_delivers_a_partial_command() {
    let server = Server::start();
    let proxy = FaultProxy::start(server.addr());
    let mut s = socket(&proxy);
    proxy.cut_after(ToServer, 10);
    s.write_all(&encoded(&[b"SET", b"cut", b"v"])).unwrap();
    assert_eq!(read_to_eof(&mut s, WAIT), b"", "the client reads EOF and no reply");
    assert_eq!(proxy.stats().to_server.bytes, 10);
    assert_eq!(server.raw().cmd_str(&["EXISTS", "cut"]), Value::Integer(0), "the server never ran it");
}

#[test]
fn cut_after_zero_cuts_before_the_next_byte() {
    let server = Server::start();
    let proxy = FaultProxy::start(server.addr());
    let mut s = socket(&proxy);
    proxy.cut_after(ToClient, 0);
    s.write_all(&encoded(&[b"PING"])).unwrap();
    assert_eq!(read_to_eof(&mut s, WAIT), b"");
    assert_eq!(proxy.stats().to_server.bytes, 14, "the command went through; its reply did not");
}

#[test]
fn cut_all_closes_every_open_connection_and_new_ones_work() {
    let server = Server::start();
    let proxy = FaultProxy::start(server.addr());
    let mut clients: Vec<RawClient> = (0..3).map(|_| RawClient::connect(proxy.addr())).collect();
    for c in &mut clients {
        assert_eq!(c.cmd_str(&["PING"]), Value::SimpleString("PONG".into()));
    }
    assert_eq!(proxy.cut_all(), 3);
    for c in &mut clients {
        let err = c.try_read().expect_err("a cut connection reads EOF");
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
    }
    assert_eq!(proxy.stats().cuts, 3);
    drop(clients);
    proxy.wait_until("every cut connection to end", WAIT, |s| s.open == 0);
    assert_eq!(RawClient::connect(proxy.addr()).cmd_str(&["PING"]), Value::SimpleString("PONG".into()));
    assert_eq!(proxy.cut_all(), 1);
}

#[test]
fn refuse_closes_new_connections_at_once() {
    let server = Server::start();
    let proxy = FaultProxy::start(server.addr());
    let mut open = RawClient::connect(proxy.addr());
    assert_eq!(open.cmd_str(&["PING"]), Value::SimpleString("PONG".into()));
    proxy.refuse(true);
    let mut refused = socket(&proxy);
    assert_eq!(read_to_eof(&mut refused, WAIT), b"");
    assert_eq!(open.cmd_str(&["PING"]), Value::SimpleString("PONG".into()), "open connections go on");
    proxy.refuse(false);
    assert_eq!(RawClient::connect(proxy.addr()).cmd_str(&["PING"]), Value::SimpleString("PONG".into()));
    let stats = proxy.stats();
    assert_eq!((stats.accepted, stats.refused), (3, 1), "{stats:?}");
}

#[test]
fn a_killed_server_reaches_the_client_as_eof_and_a_restart_serves_again() {
    let mut server = Server::start();
    let proxy = FaultProxy::start(server.addr());
    let mut c = RawClient::connect(proxy.addr());
    assert_eq!(c.cmd_str(&["PING"]), Value::SimpleString("PONG".into()));
    server.kill();
    assert!(c.try_read().is_err(), "the server's end reaches the client");
    let mut s = socket(&proxy);
    assert_eq!(read_to_eof(&mut s, WAIT), b"", "nothing to forward to: closed at once");
    assert_eq!(proxy.stats().upstream_failed, 1);
    server.restart();
    assert_eq!(RawClient::connect(proxy.addr()).cmd_str(&["PING"]), Value::SimpleString("PONG".into()));
}

#[test]
fn random_pieces_and_pauses_both_ways_never_change_or_reorder_a_byte() {
    let server = Server::start();
    let proxy = FaultProxy::start(server.addr());
    for d in [ToServer, ToClient] {
        proxy.split(d, Split::UpTo(3)).delay(d, Delay::UpTo(Duration::from_micros(100)));
    }
    let mut c = RawClient::connect_unix(proxy.unix_path());
    let payloads: Vec<Vec<u8>> =
        (0..300).map(|i| [format!("{i}:").as_bytes(), &binary(i % 40)].concat()).collect();
    for p in &payloads {
        c.send(&[b"ECHO", p]);
    }
    for p in &payloads {
        assert_eq!(c.read(), bulk(p), "seed {:#x}", proxy.seed());
    }
    let s: Stats = proxy.stats();
    assert!(s.to_server.largest_write <= 3 && s.to_client.largest_write <= 3, "{s:?}");
}

#[test]
fn wait_until_panics_naming_the_condition_and_the_seed() {
    let server = Server::start();
    let proxy = FaultProxy::with_seed(server.addr(), 0xabc);
    let handle = proxy.faults().clone();
    let panic = std::panic::catch_unwind(move || {
        handle.wait_until("a connection that never comes", Duration::from_millis(100), |s| s.accepted > 0);
    })
    .expect_err("wait_until must panic on timeout");
    let message = panic.downcast_ref::<String>().expect("a formatted message");
    assert!(message.contains("a connection that never comes") && message.contains("0xabc"), "{message}");
}

#[test]
fn dropping_the_proxy_ends_its_threads_and_closes_stalled_connections() {
    let server = Server::start();
    let proxy = FaultProxy::start(server.addr());
    let mut stalled = socket(&proxy);
    let mut idle = UnixStream::connect(proxy.unix_path()).unwrap();
    proxy.stall(ToClient).stall(ToServer);
    stalled.write_all(&encoded(&[b"PING"])).unwrap();
    proxy.wait_until("the PING to be held", WAIT, |s| s.to_server.held == 14 && s.open == 2);
    // Drop joins every thread the proxy started; a hang here is a leaked thread.
    let (done, dropped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(proxy);
        done.send(()).unwrap();
    });
    dropped.recv_timeout(WAIT).expect("dropping the proxy returns: every thread ended");
    assert_eq!(read_to_eof(&mut stalled, WAIT), b"");
    assert_eq!(read_to_eof(&mut idle, WAIT), b"");
}
