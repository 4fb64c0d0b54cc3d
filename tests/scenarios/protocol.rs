//! Reliability scenarios on a healthy server (issue #9): errors inside a big pipeline, a blocking command
//! longer than the response timeout and one abandoned mid-wait, client-side caching invalidations under
//! pipelined load, and a `LOADING` error.

use super::*;
use crate::support::Server;
use redwire::config::Tracking;
use redwire::error::ServerErrorKind;
use redwire::resp::Value;
use redwire::{Cmd, Config, Error};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The error replies a slot may hold, by what the command did wrong.
fn is_error(v: &Value, code: &str) -> bool {
    matches!(v, Value::Error(e) if e.starts_with(code.as_bytes()))
}

/// Errors of every kind scattered through 300-command pipelines (plain, and atomic where only run-time
/// errors are possible): every slot holds its own reply, and the connection stays in step for the
/// pipelines and commands after it.
pub fn errors_inside_a_big_pipeline_keep_every_slot_in_step<R: Runtime>(url: &str, _server: &mut Server) {
    let c = R::connect(url).unwrap();
    exec::<R>(&c, &["SET", "text", "not a number"]);
    for atomic in [false, true] {
        // Per slot: the error code it must hold, or the echo it must return.
        let mut cmds = Vec::new();
        let mut expected: Vec<Result<&str, String>> = Vec::new();
        for i in 0..300 {
            let tag = format!("slot-{i}");
            let (words, expect): (Vec<&str>, _) = match i % 7 {
                1 => (vec!["LPUSH", "text", "x"], Ok("WRONGTYPE")),
                3 => (vec!["INCR", "text"], Ok("ERR")),
                // Refused while queueing inside MULTI (EXECABORT), so only in the plain pipeline.
                5 if !atomic => (vec!["NO-SUCH-COMMAND", &tag], Ok("ERR")),
                6 if !atomic => (vec!["GET"], Ok("ERR")),
                _ => (vec!["ECHO", &tag], Err(tag.clone())),
            };
            cmds.push(cmd(&words));
            expected.push(expect);
        }
        let replies = R::pipeline(&c, cmds, atomic).unwrap();
        assert_eq!(replies.len(), expected.len(), "[{}] atomic={atomic}", R::NAME);
        for (i, (reply, expect)) in replies.iter().zip(&expected).enumerate() {
            let ok = match expect {
                Ok(code) => is_error(reply, code),
                Err(echo) => *reply == bulk(echo),
            };
            assert!(ok, "[{}] atomic={atomic}: slot {i} holds {reply:?}, expected {expect:?}", R::NAME);
        }
        // In step afterwards: a pipeline of unique echoes, then single commands.
        let echoes: Vec<Cmd> = (0..100).map(|i| cmd(&["ECHO", &format!("after-{i}")])).collect();
        let replies = R::pipeline(&c, echoes, false).unwrap();
        assert_eq!(replies, (0..100).map(|i| bulk(&format!("after-{i}"))).collect::<Vec<_>>());
        assert_eq!(exec::<R>(&c, &["GET", "text"]), bulk("not a number"));
    }
}

/// `BLPOP k 3` with a 1 s response timeout returns nil after about 3 s (its own timeout, not the response
/// timeout). A `BLPOP` abandoned mid-wait closes its connection, so the server stops waiting for it and a
/// later `RPUSH` leaves the element in the list rather than handing it to a caller who is gone.
pub fn a_blocking_command_longer_than_the_response_timeout_and_one_abandoned<R: Runtime>(
    url: &str,
    server: &mut Server,
) {
    let c = R::connect(&format!("{url}&response_timeout=1s")).unwrap();
    let t0 = Instant::now();
    assert_eq!(exec::<R>(&c, &["BLPOP", "nothing", "3"]), Value::Null);
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(2900) && took < Duration::from_secs(6), "[{}] {took:?}", R::NAME);

    let mut raw = server.raw();
    match R::exec_abandoned(&c, cmd(&["BLPOP", "jobs", "0"]), Duration::from_millis(300)) {
        Some(Ok(None)) => {}
        None => {
            // A blocking call cannot be abandoned: it returns only with its reply or its timeout.
            assert_eq!(R::NAME, "blocking", "only the blocking runtime may lack a way to abandon a call");
            return;
        }
        other => panic!("[{}] the abandoned BLPOP answered {other:?}", R::NAME),
    }
    // The server unblocks a client whose connection closed.
    let started = Instant::now();
    loop {
        if raw.info_number("clients", "blocked_clients") == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "[{}] the abandoned BLPOP still blocks", R::NAME);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(exec::<R>(&c, &["RPUSH", "jobs", "job-1"]), Value::Integer(1));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(exec::<R>(&c, &["LRANGE", "jobs", "0", "-1"]), Value::Array(vec![bulk("job-1")]));
    // The client is fine: a blocking command that does get an element.
    assert_eq!(exec::<R>(&c, &["BLPOP", "jobs", "1"]), Value::Array(vec![bulk("jobs"), bulk("job-1")]));
}

/// The value every `GET cache:i` may return: some generation's `gen-G:cache:i`.
fn cache_value(generation: usize, i: usize) -> String {
    format!("gen-{generation}:cache:{i}")
}

/// Client-side caching on while pipelines of 1 000 GETs run and another client rewrites those keys:
/// every reply is its own key's value, and the invalidations reach only the push handler (RESP3), or only
/// the pub/sub connection the tracking redirects to (RESP2), never a reply.
pub fn tracking_invalidations_reach_only_the_push_handler<R: Runtime>(url: &str, server: &mut Server) {
    const KEYS: usize = 1000;
    let writer = R::connect(url).unwrap();
    let seed: Vec<Cmd> =
        (0..KEYS).map(|i| cmd(&["SET", &format!("cache:{i}"), &cache_value(0, i)])).collect();
    R::pipeline(&writer, seed, false).unwrap();

    // RESP2 can only redirect invalidations to a connection subscribed to __redis__:invalidate.
    let mut sink = None;
    let mut tracking = Tracking::new();
    if !resp3(url) {
        let mut p = R::pubsub(&writer).unwrap();
        R::subscribe(&mut p, &["__redis__:invalidate"], &[], &[]).unwrap();
        tracking = tracking.redirect(pubsub_client_id(server));
        sink = Some(p);
    }
    let pushes: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = pushes.clone();
    let config = Config::from_url(url).unwrap().with_tracking(tracking);
    let tracked = R::connect_with(config, Some(Arc::new(move |v| log.lock().unwrap().push(v)))).unwrap();

    let gets = || (0..KEYS).map(|i| cmd(&["GET", &format!("cache:{i}")])).collect::<Vec<_>>();
    let rewriter = {
        let writer = writer.clone();
        std::thread::spawn(move || {
            for generation in 1..=5 {
                let sets = (0..KEYS)
                    .map(|i| cmd(&["SET", &format!("cache:{i}"), &cache_value(generation, i)]))
                    .collect();
                R::pipeline(&writer, sets, false).unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let mut rounds = 0;
    while !rewriter.is_finished() || rounds < 3 {
        let replies = R::pipeline(&tracked, gets(), false).unwrap();
        assert_eq!(replies.len(), KEYS);
        for (i, reply) in replies.iter().enumerate() {
            let ok = (0..=5).any(|g| *reply == bulk(&cache_value(g, i)));
            assert!(ok, "[{}] GET cache:{i} answered {reply:?}", R::NAME);
        }
        rounds += 1;
    }
    rewriter.join().unwrap();
    // One more write to a key the tracked client read, then a command that reads the invalidation first.
    exec::<R>(&writer, &["SET", "cache:0", &cache_value(6, 0)]);
    assert_eq!(exec::<R>(&tracked, &["GET", "cache:0"]), bulk(&cache_value(6, 0)));

    let pushes = std::mem::take(&mut *pushes.lock().unwrap());
    match sink {
        None => {
            assert!(!pushes.is_empty(), "[{}] no invalidation reached the push handler", R::NAME);
            for push in &pushes {
                let Value::Push(items) = push else { panic!("[{}] the handler got {push:?}", R::NAME) };
                assert_eq!(items.first(), Some(&bulk("invalidate")), "{push:?}");
                let keys = match items.get(1) {
                    Some(Value::Array(keys)) => keys,
                    other => panic!("[{}] invalidate without keys: {other:?}", R::NAME),
                };
                for key in keys {
                    let Value::BulkString(k) = key else { panic!("{key:?}") };
                    assert!(k.starts_with(b"cache:"), "[{}] invalidated {key:?}", R::NAME);
                }
            }
        }
        Some(mut sink) => {
            assert!(pushes.is_empty(), "[{}] RESP2 pushes reached the handler: {pushes:?}", R::NAME);
            let first = R::next_message(&mut sink, Duration::from_secs(5)).unwrap();
            let (channel, _, _) = first.unwrap_or_else(|| panic!("[{}] no invalidation message", R::NAME));
            assert_eq!(channel, "__redis__:invalidate");
        }
    }
}

/// The id of the server's only pub/sub client, from `CLIENT LIST TYPE pubsub`.
fn pubsub_client_id(server: &Server) -> u64 {
    let mut raw = server.raw();
    let list = match raw.cmd_str(&["CLIENT", "LIST", "TYPE", "pubsub"]) {
        Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("CLIENT LIST answered {other:?}"),
    };
    let ids: Vec<u64> = list
        .lines()
        .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")).and_then(|id| id.parse().ok()))
        .collect();
    assert_eq!(ids.len(), 1, "one pub/sub client expected: {list}");
    ids[0]
}

/// `-LOADING` (the server loading its dataset) is a typed, transient server error, alone and inside
/// pipelines; the connection stays in step.
pub fn a_loading_error_is_typed_and_the_connection_stays_in_step<R: Runtime>(
    url: &str,
    _server: &mut Server,
) {
    let c = R::connect(url).unwrap();
    exec::<R>(&c, &["SET", "k", "v"]);
    let loading = cmd(&["DEBUG", "ERROR", "LOADING Redis is loading the dataset in memory"]);
    match R::exec(&c, loading.clone()) {
        Err(e @ Error::Server(_)) => {
            assert_eq!(e.server_kind(), Some(ServerErrorKind::Loading), "{e}");
            assert!(e.server_kind().is_some_and(ServerErrorKind::is_transient));
            assert!(!e.is_fatal());
        }
        other => panic!("[{}] DEBUG ERROR answered {other:?}", R::NAME),
    }
    assert_eq!(exec::<R>(&c, &["GET", "k"]), bulk("v"));
    for atomic in [false, true] {
        let replies = R::pipeline(&c, vec![cmd(&["GET", "k"]), loading.clone(), cmd(&["INCR", "n"])], atomic);
        let replies = replies.unwrap();
        assert_eq!(replies[0], bulk("v"));
        assert!(is_error(&replies[1], "LOADING"), "[{}] atomic={atomic}: {replies:?}", R::NAME);
        assert!(matches!(replies[2], Value::Integer(_)), "{replies:?}");
    }
    assert_eq!(exec::<R>(&c, &["INCR", "n"]), Value::Integer(3));
}
