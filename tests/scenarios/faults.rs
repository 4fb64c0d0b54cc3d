//! Reliability scenarios with faults (issue #9): replies split into single bytes and stalled mid-frame by
//! the fault proxy, a connection cut inside MULTI/EXEC, the server killed in the middle of a pipeline,
//! restarted under idle pooled connections, and load with a `CLIENT KILL` every second.

use super::*;
use crate::support::fault::{Direction, FaultProxy, Split};
use crate::support::Server;
use redwire::resp::Value;
use redwire::{Cmd, Error};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A failure a dead connection may cause: the connection's error, never a wrong reply.
fn is_connection_error(e: &Error) -> bool {
    matches!(e, Error::Io(_) | Error::Closed(_)) && e.is_fatal()
}

/// The same work through a direct connection and through a proxy that writes every reply byte on its
/// own: commands of every reply shape, a big value, plain and atomic pipelines, a WATCH transaction and a
/// pub/sub message. The results are identical.
pub fn every_reply_split_into_single_bytes_changes_nothing<R: Runtime>(url: &str, server: &mut Server) {
    let proxy = FaultProxy::start(upstream(url, server));
    proxy.split(Direction::ToClient, Split::Bytes);
    let split_url = moved(url, &proxy.url(), &proxy.unix_url());
    let mut raw = server.raw();
    let work = |url: &str| -> Vec<Value> {
        let c = R::connect(url).unwrap();
        let mut out = Vec::new();
        let big: String = (0..20_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        for words in [
            &["SET", "k", "v"][..],
            &["GET", "k"],
            &["GET", "missing"],
            &["INCRBY", "n", "-7"],
            &["HSET", "h", "f1", "v1", "f2", "v2"],
            &["HGETALL", "h"],
            &["ZADD", "z", "1.5", "a", "2.25", "b"],
            &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
            &["SADD", "s", "x"],
            &["SMEMBERS", "s"],
            &["SET", "big", &big],
            &["GET", "big"],
            &["RPUSH", "l", "1", "2", "3", "4", "5"],
            &["LRANGE", "l", "0", "-1"],
            &["ECHO", "a\r\nb"],
        ] {
            out.push(R::exec(&c, cmd(words)).unwrap());
        }
        out.push(R::exec(&c, cmd(&["LPUSH", "k", "x"])).unwrap_or_else(|e| bulk(&format!("{e}"))));
        for atomic in [false, true] {
            let cmds = (0..50).map(|i| cmd(&["INCR", &format!("p{}", i % 5)])).collect();
            out.extend(R::pipeline(&c, cmds, atomic).unwrap());
        }
        let (values, _) = R::transaction(&c, &["k"], 3, &mut |read| {
            Ok(vec![cmd(&["APPEND", "k", &format!("{:?}", read(cmd(&["GET", "k"]))?)])])
        })
        .unwrap();
        out.extend(values);
        let mut p = R::pubsub(&c).unwrap();
        R::subscribe(&mut p, &["news"], &["n*"], &[]).unwrap();
        exec::<R>(&c, &["PUBLISH", "news", "split me"]);
        for _ in 0..2 {
            let (channel, pattern, payload) =
                R::next_message(&mut p, Duration::from_secs(5)).unwrap().unwrap();
            out.push(Value::Array(vec![
                bulk(&channel),
                bulk(&format!("{pattern:?}")),
                bulk(&String::from_utf8_lossy(&payload)),
            ]));
        }
        out
    };
    let direct = work(url);
    assert_eq!(raw.cmd_str(&["FLUSHALL"]), Value::SimpleString("OK".into()));
    let split = work(&split_url);
    assert_eq!(split, direct, "[{}] the split run differs", R::NAME);
    let stats = proxy.stats();
    assert!(stats.to_client.bytes > 20_000, "[{}] the work did not go through the proxy: {stats:?}", R::NAME);
    assert_eq!(stats.to_client.largest_write, 1, "[{}] {stats:?}", R::NAME);
    assert_eq!(stats.to_client.writes, stats.to_client.bytes, "[{}] {stats:?}", R::NAME);
}

/// A reply stalls halfway (`$4\r\nk`, then nothing past the response timeout, then `ey1\r\n`): that
/// request times out, and the next requests on the same client get their own replies, never the late one.
pub fn a_reply_stalled_mid_frame_times_out_and_the_next_request_gets_its_own<R: Runtime>(
    url: &str,
    server: &mut Server,
) {
    let proxy = FaultProxy::start(upstream(url, server));
    let c = R::connect(&format!("{}&response_timeout=500ms", moved(url, &proxy.url(), &proxy.unix_url())))
        .unwrap();
    exec::<R>(&c, &["SET", "k", "key1"]);
    exec::<R>(&c, &["SET", "other", "mine"]);
    proxy.pass_then_stall(Direction::ToClient, 5); // "$4\r\nk" passes, "ey1\r\n" is held
    let t0 = Instant::now();
    let late = R::exec(&c, cmd(&["GET", "k"]));
    assert!(matches!(late, Err(Error::Timeout(_))), "[{}] the stalled GET answered {late:?}", R::NAME);
    assert!(t0.elapsed() < Duration::from_secs(3), "[{}] {:?}", R::NAME, t0.elapsed());
    let stats =
        proxy.wait_until("5 bytes through, the rest held", Duration::from_secs(5), |s| s.to_client.held >= 5);
    assert!(stats.to_client.held >= 5, "{stats:?}");
    proxy.release(Direction::ToClient); // the late bytes reach the old connection, if it is still open
    for _ in 0..3 {
        assert_eq!(exec::<R>(&c, &["GET", "other"]), bulk("mine"), "[{}] a late reply leaked", R::NAME);
    }
    let replies = R::pipeline(&c, vec![cmd(&["GET", "other"]), cmd(&["GET", "k"])], false).unwrap();
    assert_eq!(replies, vec![bulk("mine"), bulk("key1")]);
}

/// The bytes of `MULTI`, for budgets of the proxy.
const MULTI_BYTES: u64 = b"*1\r\n$5\r\nMULTI\r\n".len() as u64;

/// A connection cut inside `MULTI`/`EXEC` never reports success: cut before `EXEC` reaches the server
/// (nothing commits), and cut after it, halfway through the `EXEC` reply (the server committed, the client
/// cannot know). The next users of the client's connections get plain replies (no `+QUEUED`, nothing
/// watched), and a transaction afterwards commits.
pub fn a_connection_cut_during_multi_exec_never_reports_success<R: Runtime>(url: &str, server: &mut Server) {
    let proxy = FaultProxy::start(upstream(url, server));
    let c =
        R::connect(&format!("{}&response_timeout=5s", moved(url, &proxy.url(), &proxy.unix_url()))).unwrap();
    let mut raw = server.raw();
    let set = cmd(&["SET", "acct", "200"]);
    let set_bytes = {
        let mut b = bytes::BytesMut::new();
        set.encode(&mut b);
        b.len() as u64
    };
    let next_users_see_a_clean_connection = || {
        for _ in 0..4 {
            assert_eq!(
                exec::<R>(&c, &["GET", "marker"]),
                bulk("m"),
                "[{}] a connection kept MULTI state",
                R::NAME
            );
            assert_eq!(exec::<R>(&c, &["BLPOP", "none", "0.01"]), Value::Null);
        }
    };
    assert_eq!(raw.cmd_str(&["SET", "marker", "m"]), Value::SimpleString("OK".into()));

    // Cuts: on the way to the server after MULTI and the SET (EXEC never arrives: nothing commits), and
    // on the way back inside the EXEC reply, after +OK, +QUEUED twice and 3 bytes of the array (the
    // server committed; the client must not say so).
    let cuts =
        [(Direction::ToServer, MULTI_BYTES + set_bytes, "100"), (Direction::ToClient, 5 + 9 + 9 + 3, "201")];
    for watched in [false, true] {
        for (direction, after, committed) in cuts {
            assert_eq!(raw.cmd_str(&["SET", "acct", "100"]), Value::SimpleString("OK".into()));
            let arm = || {
                proxy.cut_after(direction, after);
            };
            let queued = vec![set.clone(), cmd(&["INCR", "acct"])];
            let result = if watched {
                R::transaction(&c, &["acct"], 1, &mut |read| {
                    read(cmd(&["GET", "acct"]))?;
                    arm();
                    Ok(queued.clone())
                })
                .map(|(v, _)| v)
            } else {
                arm();
                R::pipeline(&c, queued, true)
            };
            let what = format!("[{}] watched={watched}, cut {direction:?} after {after} bytes", R::NAME);
            assert!(result.as_ref().is_err_and(is_connection_error), "{what}: {result:?}");
            assert_eq!(raw.cmd_str(&["GET", "acct"]), bulk(committed), "{what}");
            proxy.clear();
            next_users_see_a_clean_connection();
        }
    }
    // And a transaction commits through the same client afterwards.
    let (values, attempts) =
        R::transaction(&c, &["acct"], 3, &mut |_| Ok(vec![cmd(&["INCRBY", "acct", "10"])])).unwrap();
    assert_eq!((values, attempts), (vec![Value::Integer(211)], 1));
    assert!(proxy.stats().cuts >= 4, "{:?}", proxy.stats());
}

/// The server is SIGKILLed in the middle of a 10 000-command pipeline (while it sleeps in a `DEBUG SLEEP`
/// placed halfway): the pipeline fails with a connection error soon after, not at the response timeout
/// and not with a partial result; once the server is back the next command succeeds.
pub fn a_server_killed_mid_pipeline_fails_fast_and_the_client_recovers<R: Runtime>(
    url: &str,
    server: &mut Server,
) {
    let timeout = Duration::from_secs(5);
    let c = R::connect(&format!("{url}&response_timeout=5s")).unwrap();
    exec::<R>(&c, &["PING"]);
    let mut cmds: Vec<Cmd> = (0..5000).map(|_| cmd(&["INCR", "n"])).collect();
    cmds.push(cmd(&["DEBUG", "SLEEP", "3"]));
    cmds.extend((0..4999).map(|_| cmd(&["INCR", "n"])));
    let pid = server.pid();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let status = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -9 {pid} failed");
    });
    let t0 = Instant::now();
    let result = R::pipeline(&c, cmds, false);
    let took = t0.elapsed();
    killer.join().unwrap();
    match &result {
        Err(e) => assert!(is_connection_error(e), "[{}] the pipeline failed with {e:?}", R::NAME),
        Ok(replies) => panic!("[{}] the pipeline succeeded with {} replies", R::NAME, replies.len()),
    }
    assert!(took < timeout, "[{}] the error took {took:?}: the kill should be noticed at once", R::NAME);

    server.restart();
    assert_eq!(
        exec::<R>(&c, &["INCR", "n"]),
        Value::Integer(1),
        "[{}] a fresh server, a fresh counter",
        R::NAME
    );
}

/// Ten pooled connections made, left idle, then the server restarted: the next commands (writes on the
/// shared path, blocking commands on dedicated connections) succeed, or fail once with a connection
/// error; no `INCR` runs twice.
pub fn a_restart_under_idle_pooled_connections_never_sends_a_write_twice<R: Runtime>(
    url: &str,
    server: &mut Server,
) {
    let c = R::connect(&format!("{url}&response_timeout=2s")).unwrap();
    exec::<R>(&c, &["PING"]);
    // Ten blocking commands at once: each needs a connection of its own.
    let threads: Vec<_> = (0..10)
        .map(|i| {
            let c = c.clone();
            std::thread::spawn(move || R::exec(&c, cmd(&["BLPOP", &format!("idle:{i}"), "0.3"])))
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap(), Value::Null);
    }
    let mut raw = server.raw();
    let before = raw.info_number("clients", "connected_clients");
    assert!(before >= 3, "[{}] only {before} connections after ten parallel BLPOPs", R::NAME);
    drop(raw);

    server.restart(); // SIGKILL, then a new process on the same port and socket; the data is gone
    let (mut ok, mut failed) = (0u64, Vec::new());
    for i in 0..20 {
        let incr = R::exec(&c, cmd(&["INCR", "counter"]));
        let blpop = R::exec(&c, cmd(&["BLPOP", &format!("idle:{}", i % 10), "0.01"]));
        match incr {
            Ok(Value::Integer(_)) => ok += 1,
            Ok(other) => panic!("[{}] INCR answered {other:?}", R::NAME),
            Err(e) => failed.push(e),
        }
        match blpop {
            Ok(v) => assert_eq!(v, Value::Null),
            Err(e) => failed.push(e),
        }
    }
    assert!(failed.iter().all(is_connection_error), "[{}] {failed:?}", R::NAME);
    assert!(failed.len() <= 1, "[{}] more than one failure after the restart: {failed:?}", R::NAME);
    let mut raw = server.raw();
    let counter = match raw.cmd_str(&["GET", "counter"]) {
        Value::BulkString(b) => String::from_utf8_lossy(&b).parse::<u64>().unwrap(),
        other => panic!("GET counter answered {other:?}"),
    };
    let attempts = 20;
    assert!(
        ok <= counter && counter <= attempts,
        "[{}] {ok} INCRs succeeded, the counter is {counter}",
        R::NAME
    );
    assert_eq!(raw.calls("incr"), counter, "[{}] every INCR the server ran counted once", R::NAME);
}

/// How long the load scenario runs: `REDWIRE_LOAD_SECS` (default 30) over TCP in RESP3, a sixth of
/// that in the other three cells of the matrix (unix, RESP2), which differ from it only in transport and
/// framing — so the suite, run against two servers, stays within CI's time.
fn load_duration(url: &str) -> Duration {
    let secs = std::env::var("REDWIRE_LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(30.0);
    let full = Duration::from_secs_f64(secs);
    if !is_unix(url) && resp3(url) {
        full
    } else {
        // At least 3 s (two kills), unless the whole run was asked to be shorter.
        (full / 6).max(full.min(Duration::from_secs(3)))
    }
}

/// Most connections a client may hold during the load (the blocking pool's default maximum is 16; the
/// async client has one shared connection): well under one per worker.
const MAX_LOAD_CONNECTIONS: u64 = 24;

/// [`Runtime::LOAD_WORKERS`] workers run mixed commands, pipelines and transactions for 30 s (see
/// `load_duration`) while every normal connection is killed once a second: every reply matches its
/// request, the client recovers each time, and its connection count stays bounded.
pub fn load_with_client_kill_every_second<R: Runtime>(url: &str, server: &mut Server) {
    // In a process of its own: the async runtimes' executors are process-wide, and 1 000 busy tasks on
    // them would delay the other tests of this binary past their response timeouts.
    in_own_process(|| {
        load_with_client_kill_every_second_here::<R>(url, server);
        "done".into()
    });
}

fn load_with_client_kill_every_second_here<R: Runtime>(url: &str, server: &mut Server) {
    let duration = load_duration(url);
    let c = R::connect(&format!("{url}&response_timeout=5s")).unwrap();
    exec::<R>(&c, &["PING"]);
    let until = Instant::now() + duration;
    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let (stop, mut raw) = (stop.clone(), server.raw());
        std::thread::spawn(move || {
            let (mut kills, mut killed, mut most) = (0u64, 0i64, 0u64);
            let mut next_kill = Instant::now() + Duration::from_secs(1);
            while !stop.load(Ordering::SeqCst) {
                // The harness's own connection counts once.
                most = most.max(raw.info_number("clients", "connected_clients").saturating_sub(1));
                if Instant::now() >= next_kill {
                    match raw.cmd_str(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]) {
                        Value::Integer(n) => killed += n,
                        other => panic!("CLIENT KILL answered {other:?}"),
                    }
                    kills += 1;
                    next_kill += Duration::from_secs(1);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            (kills, killed, most)
        })
    };
    let report = R::load(&c, until);
    stop.store(true, Ordering::SeqCst);
    let (kills, killed, most) = killer.join().expect("the killer thread");
    eprintln!(
        "[{}] load for {duration:?}: {report}; {kills} CLIENT KILLs closed {killed} connections; at most \
         {most} connections",
        R::NAME
    );
    assert!(report.mismatches.is_empty(), "[{}] replies did not match their requests: {report}", R::NAME);
    assert!(report.ops >= 1000, "[{}] too little load to prove anything: {report}", R::NAME);
    assert!(kills + 1 >= duration.as_secs(), "[{}] only {kills} kills in {duration:?}", R::NAME);
    assert!(killed > 0, "[{}] CLIENT KILL never found a connection to kill", R::NAME);
    assert!(most <= MAX_LOAD_CONNECTIONS, "[{}] the client held {most} connections", R::NAME);
    // The client works after the last kill.
    let mut last = R::exec(&c, cmd(&["PING"]));
    if last.as_ref().is_err_and(is_connection_error) {
        last = R::exec(&c, cmd(&["PING"]));
    }
    assert_eq!(last.unwrap(), Value::SimpleString("PONG".into()));
}
