//! One thread, one `mio::Poll`, 101 redwire connections: 100 workers each running rounds of pipelines,
//! and a pub/sub subscriber receiving what the workers publish.
//!
//! ```text
//! cargo run --features mio --example mio_loop                                # starts a throwaway redis-server
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --features mio --example mio_loop # or uses yours (keys: redwire:mio_loop:*)
//! ```
//!
//! Each connection is registered with its own `Token`; readiness events go to the connection they name,
//! and each turn of the loop sleeps no longer than the earliest deadline of any connection.

use mio::{Events, Poll, Token};
use redwire::mio::Connection;
use redwire::resp::Value;
use redwire::{Cmd, Config, Event, Pipeline};
use std::time::{Duration, Instant};

#[path = "support/throwaway.rs"]
mod throwaway;
use throwaway::Throwaway;

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

const WORKERS: usize = 100;
const ROUNDS: usize = 50;
const SUBSCRIBER: Token = Token(WORKERS);
const CHANNEL: &str = "redwire:mio_loop:events";
const COUNTER: &str = "redwire:mio_loop:counter";

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mio_loop failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A worker's pipeline: 10 commands, one of them a PUBLISH the subscriber receives.
fn round(worker: usize, round: usize) -> Pipeline {
    let key = format!("redwire:mio_loop:w{worker}");
    Pipeline::with_capacity(10)
        .cmd(Cmd::new("INCR").arg(COUNTER))
        .cmd(Cmd::new("SET").arg(key.as_str()).arg(round))
        .cmd(Cmd::new("GET").arg(key.as_str()))
        .cmd(Cmd::new("RPUSH").arg(format!("{key}:list")).arg(round))
        .cmd(Cmd::new("LLEN").arg(format!("{key}:list")))
        .cmd(Cmd::new("HSET").arg(format!("{key}:hash")).arg("round").arg(round))
        .cmd(Cmd::new("HGET").arg(format!("{key}:hash")).arg("round"))
        .cmd(Cmd::new("EXPIRE").arg(key.as_str()).arg(60))
        .cmd(Cmd::new("PING"))
        .cmd(Cmd::new("PUBLISH").arg(CHANNEL).arg(format!("w{worker} r{round}")))
}

fn run() -> Result<()> {
    let (config, _server) = match std::env::var("REDIS_URL") {
        Ok(url) => (Config::from_url(&url)?, None),
        Err(_) => {
            let server = Throwaway::start(&["--maxclients", "1000"])?;
            println!(
                "(a throwaway {} on {}, pid {}; killed at the end)",
                server.name,
                server.addr,
                server.pid()
            );
            (Config::tcp("127.0.0.1", server.addr.port()), Some(server))
        }
    };
    let config = config.with_response_timeout(Duration::from_secs(10));

    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let start = Instant::now();
    let mut conns = Vec::with_capacity(WORKERS + 1);
    for i in 0..=WORKERS {
        let mut conn = Connection::connect(config.clone(), start)?;
        conn.register(poll.registry(), Token(i))?;
        conns.push(conn);
    }
    // The counter is reset before the subscription, on the same connection, so before any worker starts.
    conns[SUBSCRIBER.0].send(&Cmd::new("DEL").arg(COUNTER), start)?;
    conns[SUBSCRIBER.0].send(&Cmd::new("SUBSCRIBE").arg(CHANNEL), start)?;

    let mut rounds_done = [0usize; WORKERS];
    let (mut pipelines, mut commands, mut messages, mut polls) = (0usize, 0usize, 0usize, 0usize);
    let mut touched = Vec::with_capacity(WORKERS + 1);
    let expected_messages = WORKERS * ROUNDS;
    while messages < expected_messages || rounds_done.iter().any(|&r| r < ROUNDS) {
        // Sleep until a socket is ready, but no longer than the earliest deadline.
        let now = Instant::now();
        let timeout = conns.iter().filter_map(Connection::poll_timeout).min();
        poll.poll(&mut events, timeout.map(|at| at.saturating_duration_since(now)))?;
        polls += 1;
        touched.clear();
        for event in &events {
            conns[event.token().0].handle_readiness(event);
            touched.push(event.token().0);
        }
        let now = Instant::now();
        for (i, conn) in conns.iter_mut().enumerate() {
            if conn.poll_timeout().is_some_and(|at| at <= now) {
                conn.handle_timeout(now);
                touched.push(i);
            }
        }
        for &i in &touched {
            while let Some(event) = conns[i].poll_event()? {
                match event {
                    // The subscription is confirmed: start every worker (their requests may still wait
                    // behind their own handshakes; they go out, in order, once each completes).
                    Event::Subscription { done: true, .. } if i == SUBSCRIBER.0 => {
                        for (w, conn) in conns[..WORKERS].iter_mut().enumerate() {
                            conn.send_pipeline(&round(w, 0), now)?;
                        }
                    }
                    Event::Message(_) => messages += 1,
                    Event::Pipeline { values, .. } => {
                        if let Some(err) = values.iter().find(|v| matches!(v, Value::Error(_))) {
                            return Err(format!("worker {i}: {err:?}").into());
                        }
                        pipelines += 1;
                        commands += values.len();
                        rounds_done[i] += 1;
                        if rounds_done[i] < ROUNDS {
                            conns[i].send_pipeline(&round(i, rounds_done[i]), now)?;
                        }
                    }
                    Event::TimedOut { id } => {
                        return Err(format!("connection {i}: request {id} timed out").into())
                    }
                    Event::Ready | Event::Reply { .. } | Event::Subscription { .. } => {}
                    other => println!("connection {i}: {other:?}"),
                }
            }
        }
    }
    let elapsed = start.elapsed();

    // Check the work with one more request, and clean up.
    let check = &mut conns[0];
    let id = check.send(&Cmd::new("GET").arg(COUNTER), Instant::now())?;
    let counter = wait_reply(&mut poll, &mut events, check, id)?;
    let mut del = Cmd::new("DEL").arg(COUNTER);
    for w in 0..WORKERS {
        let key = format!("redwire:mio_loop:w{w}");
        del.add_arg(format!("{key}:list")).add_arg(format!("{key}:hash")).add_arg(key);
    }
    let id = check.send(&del, Instant::now())?;
    wait_reply(&mut poll, &mut events, check, id)?;

    let stats = conns.iter().map(Connection::stats).fold((0, 0, 0, 0), |acc, s| {
        (acc.0 + s.reads, acc.1 + s.writes, acc.2 + s.bytes_read, acc.3 + s.bytes_written)
    });
    println!("one thread, one mio::Poll, {} connections ({WORKERS} workers + 1 subscriber)", conns.len());
    println!("  pipelines:  {pipelines} ({ROUNDS} rounds x {WORKERS} workers, 10 commands each)");
    println!("  commands:   {commands}");
    println!("  messages:   {messages} received by the subscriber (expected {expected_messages})");
    println!("  counter:    {counter:?} (expected {})", WORKERS * ROUNDS);
    println!(
        "  socket I/O: {} reads, {} writes, {} B in, {} B out, in {polls} polls",
        stats.0, stats.1, stats.2, stats.3
    );
    println!("  elapsed:    {elapsed:.2?} ({:.0} commands/s)", commands as f64 / elapsed.as_secs_f64());
    if counter != Value::BulkString((WORKERS * ROUNDS).to_string().into()) || messages != expected_messages {
        return Err("the counts do not match".into());
    }
    Ok(())
}

/// Runs the loop for one connection until the reply to `id` arrives (used once the workers are done).
fn wait_reply(
    poll: &mut Poll,
    events: &mut Events,
    conn: &mut Connection,
    id: redwire::RequestId,
) -> Result<Value> {
    let token = conn.token().ok_or("not registered")?;
    loop {
        while let Some(event) = conn.poll_event()? {
            if let Event::Reply { id: got, value, .. } = event {
                if got == id {
                    return Ok(value);
                }
            }
        }
        poll.poll(events, Some(Duration::from_secs(10)))?;
        for event in events.iter().filter(|e| e.token() == token) {
            conn.handle_readiness(event);
        }
        conn.handle_timeout(Instant::now());
    }
}
