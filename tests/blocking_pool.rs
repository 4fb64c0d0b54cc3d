//! The blocking runtime's pool against real servers, over TCP and unix sockets: the maximum holds under
//! 32 threads (its own counters and the server's `CLIENT LIST` agree), connections the server closed are
//! replaced at checkout without sending a command twice, a response timeout discards the connection, a
//! checkout gives up with `PoolExhausted`, idle connections are pinged, pools are shared, and connection
//! failures are reported.

mod blocking_common;
mod support;

use blocking_common::normal_clients;
use redwire::blocking::{Client, Pool};
use redwire::cmd::Commands;
use redwire::resp::Value;
use redwire::{Cmd, Config, Error};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use support::{Server, ServerOptions};

fn urls(server: &Server) -> [String; 2] {
    [server.url(), server.unix_url()]
}

fn pool(url: &str) -> redwire::blocking::PoolBuilder {
    Pool::builder(Config::from_url(url).unwrap())
}

#[test]
fn the_maximum_holds_under_32_threads() {
    let server = Server::start();
    for url in urls(&server) {
        let pool = pool(&url).max_size(4).checkout_timeout(Duration::from_secs(30)).build();
        let client = Client::with_pool(pool.clone());
        let done = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (pool, done, mut raw) = (pool.clone(), done.clone(), server.raw());
            std::thread::spawn(move || {
                let (mut most_open, mut most_clients) = (0, 0);
                while !done.load(Ordering::Relaxed) {
                    let stats = pool.stats();
                    most_open = most_open.max(stats.idle + stats.in_use);
                    most_clients = most_clients.max(normal_clients(&mut raw));
                    std::thread::sleep(Duration::from_millis(2));
                }
                (most_open, most_clients)
            })
        };
        let start = Arc::new(Barrier::new(32));
        let threads: Vec<_> = (0..32)
            .map(|_| {
                let (client, start) = (client.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    for _ in 0..100 {
                        client.incr::<i64>("counter").unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        done.store(true, Ordering::Relaxed);
        let (most_open, most_clients) = watcher.join().unwrap();
        let _: () = client.del("counter").unwrap(); // for the next transport
        let stats = pool.stats();
        println!("{url}: {stats:?}, most open {most_open}, most server clients {most_clients}");
        assert!(most_open <= 4 && most_clients <= 4, "{url}: {most_open} open, {most_clients} on the server");
        assert_eq!((stats.created, stats.discarded, stats.in_use, stats.idle), (4, 0, 0, 4), "{url}");
        assert_eq!(normal_clients(&mut server.raw()), 4);
    }
}

#[test]
fn a_connection_the_server_closed_is_replaced_before_a_command_is_written() {
    let server = Server::start();
    let mut raw = server.raw();
    let mut incrs = 0;
    for url in urls(&server) {
        let client = Client::open(&url).unwrap();
        let id: i64 = client.client_id().unwrap();
        assert_eq!(raw.cmd_str(&["CLIENT", "KILL", "ID", &id.to_string()]), Value::Integer(1));
        assert_eq!(client.incr::<i64>("counter").unwrap(), incrs + 1);
        incrs += 1;
        assert_eq!(raw.calls("incr"), incrs as u64, "the INCR ran exactly once");
        let stats = client.pool().stats();
        assert_eq!((stats.created, stats.discarded), (2, 1), "{url}: {stats:?}");

        // Several idle connections, all killed: each is found dead in turn, none gets a command.
        let held: Vec<_> = (0..3).map(|_| client.watch("x").unwrap()).collect();
        drop(held);
        assert_eq!(client.pool().stats().idle, 3);
        let killed = raw.cmd_str(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
        assert_eq!(killed, Value::Integer(3));
        assert_eq!(client.incr::<i64>("counter").unwrap(), incrs + 1);
        incrs += 1;
        assert_eq!(raw.calls("incr"), incrs as u64);
        let stats = client.pool().stats();
        assert_eq!((stats.discarded, stats.idle, stats.in_use), (4, 1, 0), "{url}: {stats:?}");
    }
}

#[test]
fn a_response_timeout_discards_the_connection_and_the_next_command_gets_its_own_value() {
    let server = Server::start();
    for url in urls(&server) {
        let client = Client::open(&format!("{url}?response_timeout=300ms")).unwrap();
        let _: () = client.set("k", &url).unwrap();
        let started = Instant::now();
        let err = client.exec(&Cmd::new("DEBUG").arg("SLEEP").arg(0.6)).unwrap_err();
        assert!(matches!(err, Error::Timeout(_)) && err.is_fatal(), "{err}");
        assert!(started.elapsed() < Duration::from_millis(600), "returned before the reply came");
        let stats = client.pool().stats();
        assert_eq!((stats.discarded, stats.in_use, stats.idle), (1, 0, 0), "{stats:?}");
        assert_eq!(client.get::<String>("k").unwrap(), url);
        assert_eq!(client.pool().stats().created, 2);
    }
}

#[test]
fn a_checkout_gives_up_with_pool_exhausted() {
    let server = Server::start();
    let pool = pool(&server.url()).max_size(1).checkout_timeout(Duration::from_millis(150)).build();
    let client = Client::with_pool(pool);
    let held = client.watch("k").unwrap(); // holds the only connection
    let started = Instant::now();
    let err = client.get::<Option<String>>("k").unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(
        matches!(&err, Error::PoolExhausted(m) if m.contains("all 1 are in use") && m.contains("max_size")),
        "{err}"
    );
    assert!(!err.is_fatal());

    // A waiting checkout takes the connection as soon as it comes back.
    let patient = Client::with_pool(Pool::builder(client.config().clone()).max_size(1).build());
    let holder = patient.watch("k").unwrap();
    let returner = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        drop(holder);
    });
    assert_eq!(patient.get::<Option<String>>("k").unwrap(), None);
    returner.join().unwrap();
    assert_eq!(patient.pool().stats().created, 1);
    drop(held);
    assert_eq!(client.get::<Option<String>>("k").unwrap(), None);
}

#[test]
fn idle_connections_are_pinged_past_the_threshold() {
    let server = Server::start();
    let mut raw = server.raw();
    let base = raw.calls("ping"); // the harness pinged the server while starting it
    let always = Client::with_pool(pool(&server.url()).health_check_after(Duration::ZERO).build());
    for _ in 0..3 {
        let _: i64 = always.incr("n").unwrap();
    }
    assert_eq!(raw.calls("ping") - base, 2, "the first checkout opened a connection; the next two pinged it");

    let later =
        Client::with_pool(pool(&server.unix_url()).health_check_after(Duration::from_millis(100)).build());
    let _: i64 = later.incr("n").unwrap();
    let _: i64 = later.incr("n").unwrap();
    assert_eq!(raw.calls("ping") - base, 2, "not idle long enough");
    std::thread::sleep(Duration::from_millis(150));
    let _: i64 = later.incr("n").unwrap();
    assert_eq!(raw.calls("ping") - base, 3);
    assert_eq!(later.pool().stats().discarded, 0);
}

#[test]
fn clients_share_a_pool() {
    let server = Server::start();
    let pool = pool(&server.url()).max_size(2).build();
    let (a, b) = (Client::with_pool(pool.clone()), Client::with_pool(pool.clone()));
    let _: () = a.set("shared", 1).unwrap();
    assert_eq!(b.incr::<i64>("shared").unwrap(), 2);
    let stats = pool.stats();
    assert_eq!((stats.created, stats.idle, stats.max_size), (1, 1, 2), "{stats:?}");
    let held = a.watch("x").unwrap();
    let _: i64 = b.incr("shared").unwrap();
    assert_eq!(pool.stats().created, 2);
    drop(held);
    pool.clear_idle();
    let stats = pool.stats();
    assert_eq!((stats.idle, stats.in_use, stats.discarded), (0, 0, 2), "{stats:?}");
    assert_eq!(b.get::<i64>("shared").unwrap(), 3);
}

#[test]
fn connection_failures_are_reported() {
    let server =
        Server::start_with(ServerOptions { args: vec!["--requirepass".into(), "pw".into()], unix: true });
    let port = server.port();
    let err = Client::open(&format!("redis://:wrong@127.0.0.1:{port}")).unwrap_err();
    assert!(matches!(err, Error::Handshake { .. }), "{err}");
    let client = Client::open(&format!("redis://:pw@127.0.0.1:{port}/3")).unwrap();
    let _: () = client.set("k", 1).unwrap();
    assert_eq!(
        client.exec(&Cmd::new("CLIENT").arg("INFO")).map(|v| format!("{v:?}").contains("db=3")).ok(),
        Some(true)
    );
    let err = Client::open(&format!("redis+unix://{}?db=1", server.unix_path().display())).unwrap_err();
    assert!(matches!(err, Error::Handshake { .. }), "no password: {err}");

    drop(server); // nothing listens there now
    let err = Client::open(&format!("redis://127.0.0.1:{port}")).unwrap_err();
    assert!(
        matches!(&err, Error::Io(e) if e.to_string().contains(&format!("cannot connect to 127.0.0.1:{port}"))),
        "{err}"
    );
    assert!(matches!(Client::open("redis://host:notaport"), Err(Error::Config(_))));
}
