//! A tour of redwire's blocking client against a real server — the README's first command:
//!
//! ```text
//! bash .ci/setup && cargo run --example tour               # starts a throwaway redis-server
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example tour # or uses yours (keys: redwire:tour:*)
//! ```
//!
//! Commands with typed replies, a pipeline, a WATCH transaction retried under contention, pub/sub between
//! threads, the same reply in RESP2 and RESP3, and client-side caching's invalidations. `redwire::blocking::Client` drives the sans-IO core
//! over std sockets with a connection pool; this file only owns the throwaway server.

use redwire::blocking::{Client, Pool, PubSubEvent};
use redwire::cmd::{self, Commands, PipelineCommands};
use redwire::config::Tracking;
use redwire::resp::Value;
use redwire::{Cmd, Config, Error, FromValue};
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[path = "support/throwaway.rs"]
mod throwaway;
use throwaway::Throwaway;

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

const KEYS: &[&str] = &[
    "redwire:tour:greeting",
    "redwire:tour:bin",
    "redwire:tour:visits",
    "redwire:tour:user",
    "redwire:tour:scores",
    "redwire:tour:list",
    "redwire:tour:seq",
];

fn main() -> std::process::ExitCode {
    match tour() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tour failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn tour() -> Result<()> {
    // The server (if we start one) is a local: dropped, and so killed, on return, on `?` and on panic.
    let (url, server) = match std::env::var("REDIS_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let server = Throwaway::start(&[])?;
            (format!("redis://{}", server.addr), Some(server))
        }
    };
    let client = Client::open(&with_param(&url, "response_timeout", "2s"))?;
    println!("redwire tour: a pooled blocking client on {}", client.config().addr());
    if let Some(server) = &server {
        println!(
            "(a throwaway {} started for this tour, pid {}; it is killed at the end)",
            server.name,
            server.pid()
        );
    }
    let _: () = client.del(KEYS)?;

    section("1. Commands are methods; the reply type is yours to choose");
    let _: () = client.set(KEYS[0], "hello")?;
    let greeting: Option<String> = client.get(KEYS[0])?;
    println!("   SET/GET                 -> {greeting:?}");
    let missing: Option<String> = client.get("redwire:tour:missing")?;
    println!("   GET of a missing key    -> {missing:?}");
    let _: () = client.set(KEYS[1], &b"bytes\r\n\0are fine"[..])?;
    let bin: Vec<u8> = client.get(KEYS[1])?;
    println!("   binary-safe value       -> \"{}\" ({} bytes)", bin.escape_ascii(), bin.len());
    let visits: i64 = client.incr(KEYS[2])?;
    println!("   INCR                    -> {visits}");
    let _: () = client.hset(KEYS[3], [("name", "Ada"), ("lang", "Rust")])?;
    let user: HashMap<String, String> = client.hgetall(KEYS[3])?;
    println!("   HGETALL as a HashMap    -> {user:?}");
    let fresh: bool = client.run(cmd::set(KEYS[0], "again").nx().ex(60))?;
    println!("   SET NX EX (a builder)   -> {fresh} (the key exists)");
    match client.lpush::<i64>(KEYS[0], "x") {
        Err(e @ Error::Server(_)) => {
            println!("   LPUSH on a string       -> Err({e}), code {:?}", e.server_code())
        }
        other => println!("   LPUSH on a string       -> {other:?}"),
    }
    match client.exec(&Cmd::new("SELECT").arg(1)) {
        Err(e) => println!("   SELECT on a pooled client -> {e}"),
        Ok(v) => println!("   SELECT -> {v:?}"),
    }

    section("2. A pipeline: one write, one read, atomic (MULTI/EXEC) unless .transaction(false)");
    let (n, len, items): (i64, usize, Vec<String>) =
        client.pipeline().incr(KEYS[2]).rpush(KEYS[5], ["a", "b", "c"]).lrange(KEYS[5], 0, -1).execute()?;
    println!("   INCR, RPUSH, LRANGE     -> ({n}, {len}, {items:?})");
    let slots: Vec<redwire::Result<i64>> =
        client.pipeline().transaction(false).incr(KEYS[2]).incr(KEYS[0]).incr(KEYS[2]).execute()?;
    println!("   an error in slot 2 keeps slots 1 and 3:");
    for (i, slot) in slots.iter().enumerate() {
        println!("     {}: {slot:?}", i + 1);
    }

    section("3. WATCH: a client-side INCR from 4 threads, retried when another thread got there first");
    let started = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || -> redwire::Result<u32> {
                let mut retries = 0;
                for _ in 0..250 {
                    let done = client.transaction_with::<()>(KEYS[6], 1000, |tx| {
                        let current: Option<i64> = tx.get(KEYS[6])?; // runs now, on the watched connection
                        tx.multi().set(KEYS[6], current.unwrap_or(0) + 1); // runs at EXEC
                        Ok(())
                    })?;
                    retries += done.attempts - 1;
                }
                Ok(retries)
            })
        })
        .collect();
    let mut retries = 0;
    for t in threads {
        retries += t.join().map_err(|_| "a thread panicked")??;
    }
    let seq: i64 = client.get(KEYS[6])?;
    println!("   4 x 250 increments -> {seq} in {:?}, after {retries} retries", started.elapsed());

    section("4. Pub/sub between threads: a dedicated connection, patterns included");
    let mut sub = client.pubsub()?;
    sub.subscribe("redwire:tour:news")?;
    sub.psubscribe("redwire:tour:alerts:*")?;
    let publisher = client.clone();
    let thread = std::thread::spawn(move || -> redwire::Result<()> {
        let _: i64 = publisher.publish("redwire:tour:news", "redwire 0.1 is out")?;
        let _: i64 = publisher.publish("redwire:tour:alerts:disk", "90% full")?;
        Ok(())
    });
    for _ in 0..2 {
        match sub.get_message(Duration::from_secs(5))? {
            Some(PubSubEvent::Message(m)) => println!(
                "   {:<25} {:<32} {:?}",
                String::from_utf8_lossy(&m.channel),
                m.pattern.map(|p| format!("(via {})", String::from_utf8_lossy(&p))).unwrap_or_default(),
                String::from_utf8_lossy(&Vec::<u8>::from_value(m.payload)?)
            ),
            Some(other) => println!("   {other:?}"), // a reconnect or lag notice
            None => println!("   no message within 5 s"),
        }
    }
    thread.join().map_err(|_| "the publisher panicked")??;
    drop(sub);

    section("5. RESP2 and RESP3 shape replies differently; the Rust type stays the same");
    let _: () = client.zadd(KEYS[4], [(1.5, "ada"), (2.0, "grace")])?;
    for protocol in [2, 3] {
        let c = Client::open(&with_param(&url, "protocol", &protocol.to_string()))?;
        let raw = c.exec(&Cmd::new("ZSCORE").arg(KEYS[4]).arg("ada"))?;
        let hash = c.exec(&Cmd::new("HGETALL").arg(KEYS[3]))?;
        let typed: f64 = c.zscore(KEYS[4], "ada")?;
        println!("   RESP{protocol}: ZSCORE is {}, HGETALL is {}; as f64: {typed}", kind(&raw), kind(&hash));
    }

    section("6. Client-side caching: the server says when a value you read changes");
    let (tx, invalidations) = std::sync::mpsc::channel();
    let config = Config::from_url(&with_param(&url, "protocol", "3"))?.with_tracking(Tracking::new());
    let cached =
        Client::with_pool(Pool::builder(config).push_handler(move |push| drop(tx.send(push))).build());
    let greeting: String = cached.get(KEYS[0])?; // the server tracks this key for `cached` now
    let _: () = client.set(KEYS[0], "hello again")?; // another client changes it
    let _: String = cached.get(KEYS[0])?; // the invalidation is read before this reply
    for push in invalidations.try_iter() {
        println!("   read {greeting:?}, then the push handler got {push:?}");
    }

    section("Cleaning up");
    let removed: i64 = client.del(KEYS)?;
    println!("   DEL {} keys -> {removed}", KEYS.len());
    println!("   pool: {:?}", client.pool().stats());
    println!("\nDone.");
    Ok(())
}

/// `url` with the query parameter `key=value` added, unless the URL already sets `key`.
fn with_param(url: &str, key: &str, value: &str) -> String {
    if url.contains(&format!("{key}=")) {
        return url.to_string();
    }
    format!("{url}{}{key}={value}", if url.contains('?') { '&' } else { '?' })
}

fn section(title: &str) {
    println!("\n{title}");
}

fn kind(v: &Value) -> String {
    match v {
        Value::BulkString(b) => format!("a bulk string {:?}", String::from_utf8_lossy(b)),
        Value::Double(d) => format!("a double {d}"),
        Value::Map(m) => format!("a map of {} entries", m.len()),
        Value::Array(a) => format!("a flat array of {} elements", a.len()),
        other => other.kind().to_string(),
    }
}
