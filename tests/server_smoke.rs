//! Smoke tests of the test harness (`tests/support/`) against a real server, driven by plain std sockets
//! and redwire's codec only: if these fail, every other integration test's failure is suspect.
//!
//! They check what the harness promises: the server answers over TCP and the unix socket, carries binary
//! and large values, is gone after `Server` is dropped (also when the test panics or the test process is
//! killed), restarts on the same port and socket, and reports its version.

mod support;

use bytes::BytesMut;
use redwire::resp::{encode_command, Decoder, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};
use support::{pid_alive, RawClient, Server, ServerOptions};

/// One command over any stream: encode it, write it, read until the decoder has one reply.
fn call(
    stream: &mut (impl Read + Write),
    decoder: &mut Decoder,
    buf: &mut BytesMut,
    args: &[&[u8]],
) -> Value {
    let mut out = BytesMut::new();
    encode_command(&mut out, args);
    stream.write_all(&out).expect("write a command");
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        if let Some(v) = decoder.decode(buf).expect("server replies are valid RESP") {
            return v;
        }
        let n = stream.read(&mut chunk).expect("read a reply");
        assert!(n > 0, "server closed the connection mid-reply");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A value with every byte, CRLFs, NULs and things that look like RESP headers.
fn binary_value() -> Vec<u8> {
    let mut v: Vec<u8> = (0..=255u8).collect();
    v.extend_from_slice(b"\r\n\0\0$5\r\n*-1\r\n\r\n\0");
    v.extend((0..=255u8).rev());
    v
}

fn ten_mib() -> Vec<u8> {
    (0..10 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect()
}

fn ok() -> Value {
    Value::SimpleString("OK".into())
}

fn ping(stream: &mut (impl Read + Write)) {
    let (mut d, mut buf) = (Decoder::new(), BytesMut::new());
    assert_eq!(call(stream, &mut d, &mut buf, &[b"PING"]), Value::SimpleString("PONG".into()));
    assert!(buf.is_empty(), "bytes left after one reply: {buf:?}");
}

fn binary_roundtrip(stream: &mut (impl Read + Write)) {
    let (mut d, mut buf) = (Decoder::new(), BytesMut::new());
    let (key, value) = (&b"key\r\n\0with\r\nbreaks"[..], binary_value());
    assert_eq!(call(stream, &mut d, &mut buf, &[b"SET", key, &value]), ok());
    assert_eq!(call(stream, &mut d, &mut buf, &[b"GET", key]), Value::BulkString(value.into()));
    assert_eq!(
        call(stream, &mut d, &mut buf, &[b"GET", b"key"]),
        Value::Null,
        "the key is binary, not 'key'"
    );
    assert_eq!(call(stream, &mut d, &mut buf, &[b"EXISTS", key]), Value::Integer(1));
}

fn large_roundtrip(stream: &mut (impl Read + Write)) {
    let (mut d, mut buf) = (Decoder::new(), BytesMut::new());
    let value = ten_mib();
    assert_eq!(call(stream, &mut d, &mut buf, &[b"SET", b"big", &value]), ok());
    assert_eq!(call(stream, &mut d, &mut buf, &[b"STRLEN", b"big"]), Value::Integer(10 * 1024 * 1024));
    let got = call(stream, &mut d, &mut buf, &[b"GET", b"big"]);
    let Value::BulkString(got) = got else { panic!("GET big returned {}", got.kind()) };
    assert!(got[..] == value[..], "10 MiB value came back different (len {})", got.len());
}

fn tcp(server: &Server) -> TcpStream {
    TcpStream::connect(server.addr()).expect("connect over TCP")
}

fn unix(server: &Server) -> UnixStream {
    UnixStream::connect(server.unix_path()).expect("connect over the unix socket")
}

#[test]
fn ping_over_tcp() {
    ping(&mut tcp(&Server::start()));
}

#[test]
fn ping_over_unix_socket() {
    ping(&mut unix(&Server::start()));
}

#[test]
fn binary_values_over_tcp() {
    binary_roundtrip(&mut tcp(&Server::start()));
}

#[test]
fn binary_values_over_unix_socket() {
    binary_roundtrip(&mut unix(&Server::start()));
}

#[test]
fn ten_mib_value_over_tcp() {
    large_roundtrip(&mut tcp(&Server::start()));
}

#[test]
fn ten_mib_value_over_unix_socket() {
    large_roundtrip(&mut unix(&Server::start()));
}

#[test]
fn both_transports_reach_the_same_server() {
    let server = Server::start();
    let (mut t, mut u) = (RawClient::connect(server.addr()), RawClient::connect_unix(server.unix_path()));
    assert_eq!(t.cmd(&[b"SET", b"shared", b"1"]), ok());
    assert_eq!(u.cmd(&[b"GET", b"shared"]), Value::BulkString("1".into()));
    assert!(server.url().ends_with(&format!(":{}", server.port())), "{}", server.url());
    assert_eq!(server.unix_url(), format!("redis+unix://{}", server.unix_path().display()));
}

#[test]
fn raw_client_pipelines_in_order() {
    let server = Server::start();
    let mut c = server.raw();
    for _ in 0..3 {
        c.send(&[b"INCR", b"n"]);
    }
    c.send(&[b"GET", b"n"]);
    let replies: Vec<Value> = (0..4).map(|_| c.read()).collect();
    let expected = [Value::Integer(1), Value::Integer(2), Value::Integer(3), Value::BulkString("3".into())];
    assert_eq!(replies, expected);
}

#[test]
fn persistence_is_off_and_debug_is_on() {
    let server = Server::start();
    let mut c = server.raw();
    let save = c.cmd_str(&["CONFIG", "GET", "save"]);
    let appendonly = c.cmd_str(&["CONFIG", "GET", "appendonly"]);
    let pair = |v: Value| match v {
        Value::Array(items) | Value::Set(items) => items,
        Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        other => panic!("CONFIG GET returned {other:?}"),
    };
    assert_eq!(pair(save)[1], Value::BulkString("".into()));
    assert_eq!(pair(appendonly)[1], Value::BulkString("no".into()));
    if server.is_valkey() || server.version().0 >= 7 {
        assert_eq!(c.cmd_str(&["DEBUG", "SLEEP", "0"]), ok());
    }
}

#[test]
fn version_matches_info_server() {
    let server = Server::start();
    let Value::BulkString(info) = server.raw().cmd_str(&["INFO", "server"]) else { panic!("INFO is a bulk") };
    let info = String::from_utf8_lossy(&info).into_owned();
    let field = |name: &str| info.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string());
    let (a, b, c) = server.version();
    assert_eq!(field("redis_version:"), Some(format!("{a}.{b}.{c}")));
    assert_eq!(server.is_valkey(), field("valkey_version:").is_some());
    let valkey = server.valkey_version().map(|(a, b, c)| format!("{a}.{b}.{c}"));
    assert_eq!(valkey, field("valkey_version:"));
    assert_eq!(field("process_id:"), Some(server.pid().to_string()));
}

#[test]
fn extra_args_reach_the_server() {
    let opts = ServerOptions { args: vec!["--requirepass".into(), "s3cret".into()], ..Default::default() };
    let server = Server::start_with(opts);
    let mut c = server.raw();
    let refused = c.cmd(&[b"PING"]);
    assert!(refused.as_error().is_some_and(|e| e.starts_with(b"NOAUTH")), "PING without AUTH: {refused:?}");
    assert_eq!(c.cmd(&[b"AUTH", b"s3cret"]), ok());
    assert_eq!(c.cmd(&[b"PING"]), Value::SimpleString("PONG".into()));
    assert!(server.version().0 >= 2, "version read with AUTH: {:?}", server.version());
}

#[test]
fn tcp_only_server() {
    let server = Server::start_with(ServerOptions { unix: false, ..Default::default() });
    ping(&mut tcp(&server));
    let no_socket = std::panic::catch_unwind(|| server.unix_path().to_path_buf());
    assert!(no_socket.is_err(), "unix_path() must refuse on a server started with unix: false");
}

#[test]
fn dropped_server_is_gone() {
    let server = Server::start();
    let (pid, addr, sock) = (server.pid(), server.addr(), server.unix_path().to_path_buf());
    assert!(pid_alive(pid));
    drop(server);
    assert!(!pid_alive(pid), "server pid {pid} still runs after drop");
    assert!(TcpStream::connect(addr).is_err(), "something still listens on {addr}");
    assert!(!sock.exists(), "unix socket {} left behind", sock.display());
}

#[test]
fn panicking_test_still_stops_its_server() {
    let pid = std::sync::Mutex::new(None);
    let result = std::panic::catch_unwind(|| {
        let server = Server::start();
        *pid.lock().unwrap() = Some(server.pid());
        panic!("deliberate panic while a server runs (expected by this test)");
    });
    assert!(result.is_err());
    let pid = pid.lock().unwrap().expect("the server started before the panic");
    assert!(!pid_alive(pid), "server pid {pid} survived a panicking test");
}

/// The test process dies without unwinding (SIGKILL): the watchdog must stop its server.
#[test]
fn killed_test_process_still_stops_its_server() {
    const CHILD: &str = "REDWIRE_SMOKE_KILLED_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let server = Server::start();
        println!("\nSERVER_PID={}", server.pid());
        println!("SERVER_SOCKET={}", server.unix_path().display());
        std::io::stdout().flush().unwrap();
        let me = std::process::id().to_string();
        let _ = std::process::Command::new("kill").args(["-9", &me]).status();
        std::thread::sleep(Duration::from_secs(60));
        unreachable!("kill -9 {me} did not kill the test process");
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", "killed_test_process_still_stops_its_server", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("re-run this test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let printed = |key: &str| stdout.lines().find_map(|l| l.split(key).nth(1)).map(|v| v.trim().to_string());
    let socket = std::path::PathBuf::from(printed("SERVER_SOCKET=").expect("child printed its socket path"));
    let pid: u32 = printed("SERVER_PID=").and_then(|p| p.parse().ok()).unwrap_or_else(|| {
        panic!("child printed no pid; stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr))
    });
    assert!(!out.status.success(), "the child test process should have been killed");
    let deadline = Instant::now() + Duration::from_secs(10);
    let dir = socket.parent().expect("the socket is in the server's temp dir");
    while (pid_alive(pid) || dir.exists()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!pid_alive(pid), "server pid {pid} outlived its killed test process by 10 s");
    assert!(!dir.exists(), "temp dir {} outlived its killed test process by 10 s", dir.display());
}

#[test]
fn kill_then_restart_on_the_same_port_and_socket() {
    let mut server = Server::start();
    let (port, sock, old_pid) = (server.port(), server.unix_path().to_path_buf(), server.pid());
    assert_eq!(server.raw().cmd(&[b"SET", b"k", b"v"]), ok());
    server.kill();
    assert!(!pid_alive(old_pid), "kill() returned while pid {old_pid} still runs");
    assert!(RawClient::try_connect(server.addr()).is_err(), "killed server still accepts connections");
    server.restart();
    assert_ne!(server.pid(), old_pid);
    assert_eq!((server.port(), server.unix_path()), (port, &*sock));
    ping(&mut tcp(&server));
    ping(&mut unix(&server));
    assert_eq!(server.raw().cmd(&[b"GET", b"k"]), Value::Null, "persistence is off: data must not survive");
}

#[test]
fn parallel_servers_get_distinct_ports() {
    let servers: Vec<Server> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6).map(|_| s.spawn(Server::start)).collect();
        handles.into_iter().map(|h| h.join().expect("server start")).collect()
    });
    let mut ports: Vec<u16> = servers.iter().map(Server::port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), servers.len(), "two servers share a port: {ports:?}");
    for server in &servers {
        ping(&mut tcp(server));
    }
}

#[test]
fn restart_waits_while_another_process_holds_the_port() {
    let mut server = Server::start();
    server.kill();
    // Hold the port (listening, never answering) the way a foreign process would, then let go.
    let holder = std::net::TcpListener::bind(server.addr()).expect("the killed server's port is free");
    let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = released.clone();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(holder);
    });
    server.restart();
    assert!(released.load(std::sync::atomic::Ordering::SeqCst), "restart succeeded while the port was held");
    release.join().unwrap();
    ping(&mut tcp(&server));
    ping(&mut unix(&server));
}
