// The async runtimes' own tests, written once and included by `tests/async_smol.rs` and
// `tests/async_std.rs`, each of which defines a module `rt` with: `Client`, `PubSub`, `PubSubEvent` (the
// runtime's aliases), `block_on`, `spawn` (returns an awaitable handle), `sleep` and `timeout`.
// Every test runs against a real server from `tests/support`.

use redwire::cmd::{Commands, PipelineCommands};
use redwire::resp::Value;
use redwire::{Cmd, Config, Error};
use std::time::Duration;
use support::fault::{Delay, Direction::ToClient, FaultProxy, Split};
use support::{RawClient, Server};

fn client(url: &str) -> rt::Client {
    rt::Client::open(url).expect("a valid URL")
}

/// Kills every normal client connection except the caller's own (the shared connection under test).
fn kill_normal_clients(raw: &mut RawClient) -> i64 {
    match raw.cmd(&[b"CLIENT", b"KILL", b"TYPE", b"normal", b"SKIPME", b"yes"]) {
        Value::Integer(n) => n,
        other => panic!("CLIENT KILL answered {other:?}"),
    }
}

/// The client and every future it returns can move between threads (checked at compile time).
#[allow(dead_code)]
fn futures_are_send(client: &rt::Client) {
    fn send<T: Send>(_: &T) {}
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<rt::Client>();
    send(&client.get::<String>("k"));
    send(&client.blpop::<Option<(String, String)>>("q", 0));
    send(&client.pipeline().execute::<()>());
    send(&client.pubsub());
    send(&client.sscan_iter::<String>("s"));
    let script = redwire::cmd::Script::new("return 1");
    let call = script.call();
    send(&client.invoke::<i64>(&call));
    send(&client.transaction::<(), _, _>("k", |tx| async move {
        let _: Option<String> = tx.get("k").await?;
        Ok(())
    }));
}

#[test]
fn thousand_tasks_times_hundred_incr_is_exactly_100_000() {
    let server = Server::start();
    let client = client(&server.url());
    let total: i64 = rt::block_on(async {
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let c = client.clone();
                rt::spawn(async move {
                    for _ in 0..100 {
                        c.incr::<i64>("counter").await.expect("INCR");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await;
        }
        client.get("counter").await.expect("GET")
    });
    assert_eq!(total, 100_000);
}

#[test]
fn many_tasks_get_back_what_they_set_over_tcp_and_unix_resp2_and_resp3() {
    let server = Server::start();
    for url in [
        format!("{}?protocol=2", server.url()),
        format!("{}?protocol=3", server.unix_url()),
        format!("{}?protocol=3", server.url()),
    ] {
        let client = client(&url);
        rt::block_on(async {
            let tasks: Vec<_> = (0..1000)
                .map(|i| {
                    let c = client.clone();
                    rt::spawn(async move {
                        let (k, v) = (format!("k{i}"), format!("value-{i}-{}", "x".repeat(i % 50)));
                        c.set::<()>(&k, &v).await.expect("SET");
                        let got: String = c.get(&k).await.expect("GET");
                        assert_eq!(got, v, "task {i} got someone else's reply");
                    })
                })
                .collect();
            for t in tasks {
                t.await;
            }
        });
    }
}

#[test]
fn cancelled_requests_never_desynchronise_the_shared_connection() {
    let server = Server::start();
    // Replies in random pieces of 1 to 7 bytes, each after a random pause of up to 300 µs.
    let proxy = FaultProxy::with_seed(server.addr(), 0x9E37_79B9_7F4A_7C15);
    proxy.split(ToClient, Split::UpTo(7)).delay(ToClient, Delay::UpTo(Duration::from_micros(300)));
    let client = client(&proxy.url());
    let mut rng = support::rng::Rng::new(0x5eed);
    let (answered, cancelled) = rt::block_on(async {
        let (mut answered, mut cancelled) = (0, 0);
        // 1 000 requests, each cancelled after a random wait (0 to 3 ms) unless answered first; a check
        // request after every 50 must get its own reply.
        for round in 0..20u64 {
            let tasks: Vec<_> = (0..50u64)
                .map(|i| {
                    let c = client.clone();
                    let wait = Duration::from_micros(rng.below(3000));
                    rt::spawn(async move {
                        let payload = format!("echo-{round}-{i}");
                        let reply = rt::timeout(wait, c.exec::<String>(Cmd::new("ECHO").arg(&payload))).await;
                        match reply {
                            Some(got) => {
                                assert_eq!(got.expect("ECHO"), payload);
                                true
                            }
                            None => false,
                        }
                    })
                })
                .collect();
            for t in tasks {
                if t.await {
                    answered += 1
                } else {
                    cancelled += 1
                }
            }
            let check = format!("check-{round}");
            let got: String = client.exec(Cmd::new("ECHO").arg(&check)).await.expect("check ECHO");
            assert_eq!(got, check);
        }
        (answered, cancelled)
    });
    assert_eq!(answered + cancelled, 1000);
    assert!(cancelled > 100, "the proxy should delay enough replies to cancel many ({cancelled} cancelled)");
    // The shared connection survived every cancellation: still one connection, still in sync.
    assert!(client.is_connected());
}

#[test]
fn client_kill_under_load_fails_in_flight_requests_and_later_ones_succeed() {
    let server = Server::start();
    let client = client(&server.url());
    let mut raw = server.raw();
    const TASKS: usize = 50;
    const EACH: usize = 2000;
    let failures = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let running = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(TASKS));
    let (ok, failed) = rt::block_on(async {
        client.ping::<String>().await.expect("first PING connects");
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let (c, failures, running) = (client.clone(), failures.clone(), running.clone());
                rt::spawn(async move {
                    let (mut ok, mut failed) = (0usize, Vec::new());
                    for i in 0..EACH {
                        let payload = format!("t{t}-{i}");
                        match c.exec::<String>(Cmd::new("ECHO").arg(&payload)).await {
                            Ok(got) => {
                                assert_eq!(got, payload, "a request got someone else's reply");
                                ok += 1;
                            }
                            Err(e) => {
                                failures.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                failed.push(e);
                            }
                        }
                    }
                    running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    (ok, failed)
                })
            })
            .collect();
        // Kill the shared connection until a kill lands while requests are in flight.
        let mut killed = 0;
        while failures.load(std::sync::atomic::Ordering::SeqCst) == 0
            && running.load(std::sync::atomic::Ordering::SeqCst) > 0
        {
            rt::sleep(Duration::from_millis(5)).await;
            killed += kill_normal_clients(&mut raw);
        }
        assert!(killed >= 1, "CLIENT KILL found no connection to kill");
        let (mut ok, mut failed) = (0, Vec::new());
        for t in tasks {
            let (o, f) = t.await;
            ok += o;
            failed.extend(f);
        }
        // After the kills, the client reconnects.
        let after: String = client.exec(Cmd::new("ECHO").arg("after")).await.expect("a later request");
        assert_eq!(after, "after");
        (ok, failed)
    });
    assert!(!failed.is_empty(), "killing the connection under load should fail some requests");
    for e in &failed {
        assert!(
            e.is_fatal() && matches!(e, Error::Closed(_) | Error::Io(_)),
            "in-flight requests fail with a connection error, got {e:?}"
        );
    }
    assert_eq!(ok + failed.len(), TASKS * EACH);
}

#[test]
fn blocking_commands_run_on_a_dedicated_connection_and_never_stall_the_shared_one() {
    let server = Server::start();
    let client = client(&format!("{}?response_timeout=2s", server.url()));
    rt::block_on(async {
        let c = client.clone();
        let popped = rt::spawn(async move { c.blpop::<Option<(String, String)>>("queue", 0).await });
        // The shared connection keeps answering while BLPOP blocks (longer than the response timeout).
        for i in 0..30 {
            let n: i64 = client.incr("ticks").await.expect("INCR while BLPOP blocks");
            assert_eq!(n, i + 1);
            rt::sleep(Duration::from_millis(100)).await;
        }
        let _: i64 = client.lpush("queue", "job").await.expect("LPUSH");
        let got = popped.await.expect("BLPOP");
        assert_eq!(got, Some(("queue".to_string(), "job".to_string())));
        // A blocking command with a timeout gives nil when nothing comes.
        let none: Option<(String, String)> = client.brpop("empty", 0.1).await.expect("BRPOP");
        assert_eq!(none, None);
    });
}

#[test]
fn pipelines_are_atomic_by_default_and_plain_on_request() {
    let server = Server::start();
    let client = client(&server.url());
    rt::block_on(async {
        let ((), n, s): ((), i64, String) =
            client.pipeline().set("p", 41).incr("p").get("p").execute().await.expect("atomic pipeline");
        assert_eq!((n, s.as_str()), (42, "42"));

        // A run-time error stays in its slot, inside a transaction and in a plain pipeline.
        let _: () = client.set("text", "abc").await.unwrap();
        for atomic in [true, false] {
            let values =
                client.pipeline().transaction(atomic).incr("text").get("text").execute_raw().await.unwrap();
            assert!(matches!(&values[0], Value::Error(e) if e.starts_with(b"ERR")), "{values:?}");
            assert_eq!(values[1], Value::BulkString("abc".into()));
        }
        // A queue-time error aborts a transaction.
        let err = client.pipeline().queue(Cmd::new("SET").arg("only-key")).execute::<()>().await.unwrap_err();
        assert!(matches!(err, Error::ExecAbort(_)), "{err:?}");
        // A plain pipeline with a blocking command runs on a dedicated connection.
        let _: i64 = client.rpush("jobs", "a").await.unwrap();
        let (popped, len): (Option<(String, String)>, i64) =
            client.pipeline().transaction(false).blpop("jobs", 1).llen("jobs").execute().await.unwrap();
        assert_eq!((popped, len), (Some(("jobs".into(), "a".into())), 0));
        // Commands that change per-connection state are refused, nothing is sent.
        let err = client.pipeline().queue(Cmd::new("SELECT").arg(1)).execute::<()>().await.unwrap_err();
        assert!(matches!(&err, Error::Usage(m) if m.contains("Config::db")), "{err}");
        let err = client.exec::<()>(Cmd::new("SUBSCRIBE").arg("c")).await.unwrap_err();
        assert!(matches!(&err, Error::Usage(m) if m.contains("pub/sub")), "{err}");
    });
}

#[test]
fn watch_transactions_from_many_tasks_add_up_and_retry() {
    let server = Server::start();
    let client = client(&server.url());
    let attempts = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    rt::block_on(async {
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let c = client.clone();
                let attempts = attempts.clone();
                rt::spawn(async move {
                    for _ in 0..10 {
                        let attempts = attempts.clone();
                        // 20 tasks on one key: under load a task can lose the race more than the default
                        // 100 times, so allow many attempts; the exact total below is what is checked.
                        let ((),): ((),) = c
                            .transaction_with(&["balance"], 10_000, move |tx| {
                                attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                async move {
                                    let now = tx.get::<Option<i64>>("balance").await?.unwrap_or(0);
                                    tx.multi().set("balance", now + 1);
                                    Ok(())
                                }
                            })
                            .await
                            .expect("transaction")
                            .value;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await;
        }
        let balance: i64 = client.get("balance").await.unwrap();
        assert_eq!(balance, 200);

        // A body error commits nothing.
        let err = client
            .transaction::<(), _, _>(&["balance"], |tx| async move {
                tx.multi().set("balance", -1);
                Err(Error::Usage("changed my mind".into()))
            })
            .await
            .unwrap_err();
        assert!(matches!(&err, Error::Usage(m) if m == "changed my mind"));
        // A watched key changed by someone else every time: gives up after the given attempts.
        let runs = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let (c, counted) = (client.clone(), runs.clone());
        let err = client
            .transaction_with::<(), _, _>(&["balance"], 3, |tx| {
                let c = c.clone();
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move {
                    let _: Option<i64> = tx.get("balance").await?;
                    let _: i64 = c.incr("balance").await?;
                    tx.multi().set("balance", 0);
                    Ok(())
                }
            })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Watch), "{err:?}");
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 3);
        // A commit reports its attempts; a read while another is in flight is refused.
        let committed = client
            .transaction_with::<(i64,), _, _>(&["balance"], 5, |tx| {
                async move {
                    // The first read blocks for 100 ms, so the second surely finds the connection busy.
                    let a = tx.blpop::<Option<(String, String)>>("nothing", 0.1);
                    let (a, b) = join2(a, tx.get::<Option<i64>>("balance")).await;
                    assert_eq!(a.expect("the first read runs"), None);
                    assert!(matches!(b, Err(Error::Usage(_))), "the concurrent read is refused: {b:?}");
                    tx.multi().incr("balance");
                    Ok(())
                }
            })
            .await
            .unwrap();
        assert_eq!((committed.value, committed.attempts), ((204,), 1));
        let balance: i64 = client.get("balance").await.unwrap();
        assert_eq!(balance, 204);
    });
    assert!(attempts.load(std::sync::atomic::Ordering::SeqCst) >= 200);
}

#[test]
fn response_timeout_fails_the_request_and_the_next_one_reconnects() {
    let server = Server::start();
    let client = client(&format!("{}?response_timeout=200ms", server.url()));
    let mut raw = server.raw();
    rt::block_on(async {
        client.set::<()>("k", "v").await.unwrap();
        raw.cmd(&[b"CLIENT", b"PAUSE", b"700", b"ALL"]);
        let err = client.get::<String>("k").await.unwrap_err();
        assert!(matches!(&err, Error::Timeout(m) if m.contains("response timeout")), "{err:?}");
        // At once: the timed-out connection is already closed, the paused server answers a new one.
        let v: String = client.get("k").await.expect("a new connection after the timeout");
        assert_eq!(v, "v");
    });
}

#[test]
fn connection_errors_are_clear_and_the_client_recovers_after_a_restart() {
    let mut server = Server::start();
    let client = client(&format!("{}?connect_timeout=1s", server.url()));
    rt::block_on(async {
        client.set::<()>("k", "v").await.unwrap();
    });
    server.kill();
    rt::block_on(async {
        let err = client.get::<String>("k").await.unwrap_err();
        assert!(err.is_fatal(), "{err:?}");
    });
    server.restart();
    rt::block_on(async {
        // The first attempts may meet the backoff or a connection opened before the restart.
        let mut last = None;
        for _ in 0..20 {
            match client.set::<()>("k", "again").await {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
            rt::sleep(Duration::from_millis(100)).await;
        }
        assert!(last.is_none(), "no recovery after the restart: {last:?}");
        let v: String = client.get("k").await.unwrap();
        assert_eq!(v, "again");
    });
}

#[test]
fn pubsub_stream_subscribes_while_streaming_and_resubscribes_after_a_kill() {
    let server = Server::start();
    for protocol in [2, 3] {
        let client = client(&format!("{}?protocol={protocol}", server.url()));
        let mut raw = server.raw();
        rt::block_on(async {
            let mut ps = client.pubsub().await.expect("pubsub connection");
            ps.subscribe("news").await.unwrap();
            let publish = |channel: &str, msg: &str| {
                let c = client.clone();
                let (channel, msg) = (channel.to_string(), msg.to_string());
                async move { c.publish::<i64>(channel, msg).await.unwrap() }
            };
            assert_eq!(publish("news", "one").await, 1);
            let m = next_message(&mut ps).await;
            assert_eq!((m.channel.as_ref(), &m.payload), (&b"news"[..], &Value::BulkString("one".into())));

            // Subscribe while messages are flowing: the one published before is still delivered first.
            assert_eq!(publish("news", "two").await, 1);
            ps.psubscribe("alerts.*").await.unwrap();
            ps.ssubscribe("shard").await.unwrap();
            assert_eq!(next_message(&mut ps).await.payload, Value::BulkString("two".into()));
            assert_eq!(publish("alerts.fire", "three").await, 1);
            let m = next_message(&mut ps).await;
            assert_eq!(m.pattern.as_deref(), Some(&b"alerts.*"[..]));
            let spublished: i64 = client.exec(Cmd::new("SPUBLISH").arg("shard").arg("four")).await.unwrap();
            assert_eq!(spublished, 1);
            assert_eq!(next_message(&mut ps).await.payload, Value::BulkString("four".into()));

            // Kill the pub/sub connection: the stream reconnects, says so, and every subscription is back.
            let killed = raw.cmd(&[b"CLIENT", b"KILL", b"TYPE", b"pubsub"]);
            assert!(matches!(killed, Value::Integer(n) if n >= 1), "{killed:?}");
            match rt::timeout(Duration::from_secs(5), ps.next()).await.expect("an event after the kill") {
                Ok(rt::PubSubEvent::Reconnected { cause }) => assert!(cause.is_fatal(), "{cause:?}"),
                other => panic!("expected the reconnect notice, got {other:?}"),
            }
            assert_eq!(publish("news", "five").await, 1);
            assert_eq!(next_message(&mut ps).await.payload, Value::BulkString("five".into()));
            assert_eq!(publish("alerts.flood", "six").await, 1);
            assert_eq!(next_message(&mut ps).await.payload, Value::BulkString("six".into()));
            let spublished: i64 = client.exec(Cmd::new("SPUBLISH").arg("shard").arg("seven")).await.unwrap();
            assert_eq!(spublished, 1);
            assert_eq!(next_message(&mut ps).await.payload, Value::BulkString("seven".into()));

            // Unsubscribing stops delivery; the stream reads nothing more.
            ps.unsubscribe("news").await.unwrap();
            assert_eq!(publish("news", "eight").await, 0);
            assert!(ps.is_subscribed());
            ps.punsubscribe(&[] as &[&str]).await.unwrap();
            assert_eq!(publish("alerts.x", "nine").await, 0);
            assert!(rt::timeout(Duration::from_millis(100), ps.next()).await.is_none());
            assert!(ps.get_message(Duration::from_millis(50)).await.unwrap().is_none());
            ps.sunsubscribe("shard").await.unwrap();
            assert!(!ps.is_subscribed());
        });
    }
}

#[test]
fn pubsub_is_a_futures_stream() {
    let server = Server::start();
    let client = client(&server.url());
    rt::block_on(async {
        let mut ps = client.pubsub().await.unwrap();
        ps.subscribe(["a", "b"]).await.unwrap();
        for (ch, msg) in [("a", "1"), ("b", "2"), ("a", "3")] {
            let _: i64 = client.publish(ch, msg).await.unwrap();
        }
        let mut got = Vec::new();
        while got.len() < 3 {
            let item = std::future::poll_fn(|cx| futures_core::Stream::poll_next(std::pin::Pin::new(&mut ps), cx))
                .await
                .expect("the stream never ends");
            if let Ok(rt::PubSubEvent::Message(m)) = item {
                got.push(String::from_utf8(m.channel.to_vec()).unwrap());
            }
        }
        assert_eq!(got, ["a", "b", "a"]);
    });
}

/// Polls two futures together in one task.
async fn join2<A: std::future::Future, B: std::future::Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (Box::pin(a), Box::pin(b));
    let (mut out_a, mut out_b) = (None, None);
    std::future::poll_fn(|cx| {
        if out_a.is_none() {
            if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) {
                out_a = Some(v);
            }
        }
        if out_b.is_none() {
            if let std::task::Poll::Ready(v) = b.as_mut().poll(cx) {
                out_b = Some(v);
            }
        }
        if out_a.is_some() && out_b.is_some() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    (out_a.expect("done"), out_b.expect("done"))
}

async fn next_message(ps: &mut rt::PubSub) -> redwire::event::Message {
    match rt::timeout(Duration::from_secs(5), ps.next()).await.expect("a message within 5 s") {
        Ok(rt::PubSubEvent::Message(m)) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[test]
fn a_dropped_client_closes_its_connections() {
    let server = Server::start();
    let mut raw = server.raw();
    // Connections are told apart by name: the harness may still have a probe connection open.
    let count = |raw: &mut RawClient| match raw.cmd(&[b"CLIENT", b"LIST", b"TYPE", b"normal"]) {
        Value::BulkString(list) => list.split(|b| *b == b'\n').filter(|l| l.windows(12).any(|w| w == b"name=dropped")).count(),
        other => panic!("CLIENT LIST answered {other:?}"),
    };
    let client = rt::Client::new(Config::tcp("127.0.0.1", server.port()).with_client_name("dropped"));
    rt::block_on(async {
        let _: String = client.ping().await.unwrap();
        let _: Option<(String, String)> = client.blpop("nothing", 0.01).await.unwrap();
    });
    assert_eq!(count(&mut raw), 2, "the shared connection and one pooled dedicated one");
    drop(client);
    let mut now = count(&mut raw);
    for _ in 0..50 {
        if now == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        now = count(&mut raw);
    }
    assert_eq!(now, 0, "dropping the client closes the shared and pooled connections");
}

#[test]
fn a_cancelled_blocking_command_closes_its_dedicated_connection() {
    let server = Server::start();
    let mut raw = server.raw();
    let named = |raw: &mut RawClient| match raw.cmd(&[b"CLIENT", b"LIST", b"TYPE", b"normal"]) {
        Value::BulkString(list) => {
            list.split(|b| *b == b'\n').filter(|l| l.windows(11).any(|w| w == b"name=cancel")).count()
        }
        other => panic!("CLIENT LIST answered {other:?}"),
    };
    let client = rt::Client::new(Config::tcp("127.0.0.1", server.port()).with_client_name("cancel"));
    rt::block_on(async {
        let blocked = rt::timeout(Duration::from_millis(100), client.blpop::<Option<(String, String)>>("q", 0));
        assert!(blocked.await.is_none(), "BLPOP on an empty list blocks until cancelled");
    });
    // Its connection was in flight: closed, not pooled (so it cannot swallow the next push).
    let mut open = named(&mut raw);
    for _ in 0..50 {
        if open == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        open = named(&mut raw);
    }
    assert_eq!(open, 0, "the cancelled BLPOP's connection is closed");
    rt::block_on(async {
        let _: i64 = client.rpush("q", "job").await.unwrap();
        let got: Option<(String, String)> = client.blpop("q", 1).await.unwrap();
        assert_eq!(got, Some(("q".into(), "job".into())));
    });
    assert_eq!(named(&mut raw), 2, "the shared connection and one pooled dedicated one");
}

#[test]
fn connect_timeout_bounds_connect_and_handshake() {
    // A listener that never accepts: the kernel completes the TCP handshake, nobody answers HELLO.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let client = client(&format!("redis://127.0.0.1:{port}?connect_timeout=200ms"));
    rt::block_on(async {
        let started = std::time::Instant::now();
        let err = client.ping::<String>().await.unwrap_err();
        assert!(matches!(&err, Error::Timeout(m) if m.contains("connect timeout")), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        // Dedicated connections obey it too.
        let err = client.blpop::<Option<(String, String)>>("q", 0).await.unwrap_err();
        assert!(matches!(&err, Error::Timeout(_)), "{err:?}");
        let err = client.pubsub().await.unwrap_err();
        assert!(matches!(&err, Error::Timeout(_)), "{err:?}");
    });
    drop(silent);
}

#[test]
fn scan_streams_and_scripts() {
    let server = Server::start();
    let client = client(&server.url());
    rt::block_on(async {
        let members: Vec<String> = (0..500).map(|i| format!("m{i}")).collect();
        let _: i64 = client.sadd("set", &members).await.unwrap();
        let mut seen = std::collections::BTreeSet::new();
        let mut scan = client.sscan_iter::<String>("set").unwrap();
        while let Some(m) = scan.next().await {
            seen.insert(m.unwrap());
        }
        assert_eq!(seen, members.iter().cloned().collect());
        // As a futures Stream: HSCAN pairs.
        let _: i64 = client.hset("h", [("a", "1"), ("b", "2")]).await.unwrap();
        let mut pairs = Vec::new();
        let mut scan = client.hscan_iter::<(String, i64)>("h").unwrap();
        while let Some(item) =
            std::future::poll_fn(|cx| futures_core::Stream::poll_next(std::pin::Pin::new(&mut scan), cx)).await
        {
            pairs.push(item.unwrap());
        }
        pairs.sort();
        assert_eq!(pairs, [("a".to_string(), 1), ("b".to_string(), 2)]);
        // A scan of the wrong type ends after its error.
        let mut scan = client.zscan_iter::<(String, f64)>("h").unwrap();
        assert!(matches!(scan.next().await, Some(Err(Error::Server(_)))));
        assert!(scan.next().await.is_none());
        assert!(matches!(client.scan_iter::<String>(Cmd::new("GET").arg("k")), Err(Error::Usage(_))));

        // EVALSHA falls back to EVAL on NOSCRIPT, then the script is cached.
        let _: () = client.exec(Cmd::new("SCRIPT").arg("FLUSH")).await.unwrap();
        let add = redwire::cmd::Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
        let n: i64 = client.invoke(&add.call().key("counter").arg(5)).await.unwrap();
        assert_eq!(n, 5);
        let cached: Vec<bool> = client.exec(Cmd::new("SCRIPT").arg("EXISTS").arg(add.sha1())).await.unwrap();
        assert_eq!(cached, [true]);
        let n: i64 = client.invoke(&add.call().key("counter").arg(2)).await.unwrap();
        assert_eq!(n, 7);
        let failing = redwire::cmd::Script::new("return redis.call('INCR', KEYS[1])");
        let _: () = client.set("text", "abc").await.unwrap();
        assert!(matches!(client.invoke::<i64>(&failing.call().key("text")).await, Err(Error::Server(_))));
    });
}

#[test]
fn pubsub_control_changes_subscriptions_from_another_task_while_one_reads() {
    let server = Server::start();
    for protocol in [2, 3] {
        let client = client(&format!("{}?protocol={protocol}", server.url()));
        rt::block_on(async {
            let mut ps = client.pubsub().await.unwrap();
            ps.subscribe("first").await.unwrap();
            let control = ps.control();
            let publisher = client.clone();
            let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let finishing = finished.clone();
            // The reader only reads; the other task subscribes, publishes, unsubscribes.
            let other = rt::spawn(async move {
                control.subscribe(["second", "third"]).await.unwrap();
                control.psubscribe("p.*").await.unwrap();
                for (ch, msg) in [("first", "1"), ("second", "2"), ("third", "3"), ("p.x", "4")] {
                    let n: i64 = publisher.publish(ch, msg).await.unwrap();
                    assert_eq!(n, 1, "{ch}");
                }
                control.unsubscribe(["first", "second"]).await.unwrap();
                let n: i64 = publisher.publish("first", "unheard").await.unwrap();
                assert_eq!(n, 0);
                let n: i64 = publisher.publish("third", "5").await.unwrap();
                assert_eq!(n, 1);
                let err = control.subscribe(&[] as &[&str]).await.unwrap_err();
                assert!(matches!(err, Error::Usage(_)), "SUBSCRIBE without a channel: {err:?}");
                finishing.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            let mut got = Vec::new();
            while got.len() < 5 {
                match rt::timeout(Duration::from_secs(5), ps.next()).await.expect("a message within 5 s") {
                    Ok(rt::PubSubEvent::Message(m)) => got.push(m.payload),
                    other => panic!("expected a message, got {other:?}"),
                }
            }
            let expected: Vec<Value> = ["1", "2", "3", "4", "5"].iter().map(|s| Value::BulkString((*s).into())).collect();
            assert_eq!(got, expected);
            // The other task's last change (refused) completes while the stream is read.
            while !finished.load(std::sync::atomic::Ordering::SeqCst) {
                assert!(rt::timeout(Duration::from_millis(20), ps.next()).await.is_none());
            }
            other.await;
            // A handle whose PubSub is gone fails instead of waiting forever.
            let control = ps.control();
            drop(ps);
            assert!(matches!(control.subscribe("late").await, Err(Error::Closed(_))));
        });
    }
    // A change the server refuses (an ACL user may not read that channel) fails alone.
    server.raw().cmd(&[b"ACL", b"SETUSER", b"limited", b"on", b"nopass", b"resetchannels", b"&allowed", b"+@all"]);
    let limited = client(&format!("redis://limited@127.0.0.1:{}", server.port()));
    rt::block_on(async {
        let mut ps = limited.pubsub().await.unwrap();
        let err = ps.subscribe("forbidden").await.unwrap_err();
        assert!(matches!(&err, Error::Server(e) if e.starts_with(b"NOPERM")), "{err:?}");
        ps.subscribe("allowed").await.unwrap();
        let n: i64 = limited.publish("allowed", "ok").await.unwrap();
        assert_eq!(n, 1);
        assert_eq!(next_message(&mut ps).await.payload, Value::BulkString("ok".into()));
    });
}

/// Publishes once on each of the subscriptions `pubsub_resubscribes_after_a_server_restart` makes; every
/// message arrives, exactly once.
async fn check_delivery(ps: &mut rt::PubSub, raw: &mut RawClient, round: &str) {
    let sends = [("PUBLISH", "news"), ("PUBLISH", "weather"), ("PUBLISH", "alerts:disk"), ("SPUBLISH", "shard")];
    for (command, channel) in sends {
        assert_eq!(raw.cmd_str(&[command, channel, round]), Value::Integer(1), "{command} {channel}");
    }
    let mut got = Vec::new();
    for _ in 0..4 {
        let m = next_message(ps).await;
        got.push((String::from_utf8_lossy(&m.channel).into_owned(), m.payload));
    }
    let round = Value::BulkString(round.to_string().into());
    let want = ["news", "weather", "alerts:disk", "shard"].map(|c| (c.to_string(), round.clone()));
    assert_eq!(got, want);
    assert!(ps.get_message(Duration::from_millis(50)).await.unwrap().is_none(), "a message came twice");
}

#[test]
fn pubsub_resubscribes_after_a_server_restart() {
    for (unix, protocol) in [(false, 2), (false, 3), (true, 2), (true, 3)] {
        let mut server = Server::start();
        let base = if unix { server.unix_url() } else { server.url() };
        let client = client(&format!("{base}?protocol={protocol}&connect_timeout=1s"));
        let mut ps = rt::block_on(client.pubsub()).unwrap();
        rt::block_on(async {
            ps.subscribe(["news", "weather"]).await.unwrap();
            ps.psubscribe("alerts:*").await.unwrap();
            ps.ssubscribe("shard").await.unwrap();
            check_delivery(&mut ps, &mut server.raw(), "before").await;
        });

        server.kill();
        rt::block_on(async {
            // While the server is down, reads fail (a refused reconnect) or time out, within their timeout.
            let mut refused = 0;
            for _ in 0..4 {
                let started = std::time::Instant::now();
                match ps.get_message(Duration::from_millis(300)).await {
                    Err(e) => {
                        assert!(e.is_fatal(), "{e:?}");
                        refused += 1;
                    }
                    Ok(None) => {}
                    Ok(Some(event)) => panic!("nothing can arrive from a dead server: {event:?}"),
                }
                assert!(started.elapsed() < Duration::from_millis(1300), "{:?}", started.elapsed());
            }
            assert!(refused >= 1, "the first read after the kill tries to reconnect at once");
            assert!(ps.is_subscribed(), "the subscriptions wait to be restored");
        });

        server.restart();
        let mut raw = server.raw();
        assert_eq!(raw.cmd_str(&["PUBLISH", "news", "in the gap"]), Value::Integer(0));
        rt::block_on(async {
            match ps.get_message(Duration::from_secs(5)).await {
                Ok(Some(rt::PubSubEvent::Reconnected { cause })) => assert!(cause.is_fatal(), "{cause:?}"),
                other => panic!("expected the reconnect notice, got {other:?}"),
            }
            pubsub_common::assert_subscribed(&mut raw, &["news", "weather"], 1, &["shard"]);
            check_delivery(&mut ps, &mut raw, "after").await;
        });
    }
}

/// A publisher floods 200 000 messages of 1 KiB while the consumer sleeps a millisecond between reads.
fn slow_consumer(buffer: redwire::inbox::PubSubBuffer, protocol: u8) {
    use pubsub_common::{flood, OmemSampler, Tally, FLOOD_MESSAGES, PAYLOAD};
    let server = Server::start();
    let client = client(&format!("{}?protocol={protocol}", server.url()));
    rt::block_on(async {
        let mut ps = client.pubsub().await.unwrap();
        ps.set_buffer(buffer).unwrap();
        ps.subscribe("flood").await.unwrap();
        let omem = OmemSampler::start(server.addr());
        let started = std::time::Instant::now();
        let publisher = flood(server.addr(), "flood", FLOOD_MESSAGES, PAYLOAD);
        let mut tally = Tally::default();
        loop {
            let flooding = !publisher.is_finished();
            match ps.get_message(Duration::from_millis(if flooding { 50 } else { 300 })).await {
                Ok(None) if !flooding => break,
                Ok(None) => {}
                Ok(Some(event)) => tally.record(Ok(event)),
                Err(e) => tally.record(Err(e)),
            }
            if flooding {
                rt::sleep(Duration::from_millis(1)).await;
            }
        }
        let published = publisher.join().unwrap();
        let peak_omem = omem.stop();
        let stats = ps.buffer_stats();
        eprintln!(
            "{:?} RESP{protocol}: {published} published in {:?}; received {}, dropped {}; peak buffered {} \
             messages / {} bytes (limits {} / {}); server output buffer peak {peak_omem} bytes; {tally:?}",
            buffer.on_overflow(),
            started.elapsed(),
            tally.received,
            stats.dropped,
            stats.peak_messages,
            stats.peak_bytes,
            buffer.max_messages(),
            buffer.max_bytes()
        );
        tally.check(stats, published, buffer);
        // The connection is kept and still delivers.
        let mut last = format!("{published:08}");
        last.extend(std::iter::repeat('.').take(PAYLOAD - last.len()));
        assert_eq!(client.publish::<i64>("flood", last).await.unwrap(), 1);
        tally.record(Ok(rt::timeout(Duration::from_secs(5), ps.next()).await.expect("a message").unwrap()));
        assert_eq!(tally.last, Some(published));
    });
}

#[test]
fn pubsub_slow_consumer_gets_one_error_per_overflow_by_default() {
    // The byte limit binds first: 256 KiB hold about 250 messages of 1 KiB.
    slow_consumer(redwire::inbox::PubSubBuffer::default().with_max_bytes(256 * 1024), 3);
}

#[test]
fn pubsub_slow_consumer_drops_the_oldest_with_a_count() {
    use redwire::inbox::{Overflow, PubSubBuffer};
    slow_consumer(PubSubBuffer::default().with_max_messages(500).with_overflow(Overflow::DropOldest), 2);
}

#[test]
fn pubsub_slow_consumer_drops_the_newest_with_a_count() {
    use redwire::inbox::{Overflow, PubSubBuffer};
    slow_consumer(PubSubBuffer::default().with_max_bytes(300 * 1024).with_overflow(Overflow::DropNewest), 3);
}

#[test]
fn pubsub_pushes_reach_the_push_handler() {
    use redwire::config::Tracking;
    use std::sync::{Arc, Mutex};
    let server = Server::start();
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = seen.clone();
    let config = Config::from_url(&format!("{}?protocol=3", server.url()))
        .unwrap()
        .with_tracking(Tracking::new().bcast().prefix("k:"));
    let client = rt::Client::with_push_handler(config, move |v| log.lock().unwrap().push(v));
    rt::block_on(async {
        let mut ps = client.pubsub().await.unwrap();
        ps.subscribe("ch").await.unwrap();
        // A message, an invalidation and a message, read together: the push goes to the handler.
        let mut raw = server.raw();
        assert_eq!(raw.cmd_str(&["PUBLISH", "ch", "one"]), Value::Integer(1));
        assert_eq!(raw.cmd_str(&["SET", "k:1", "v"]), Value::SimpleString("OK".into()));
        assert_eq!(raw.cmd_str(&["PUBLISH", "ch", "two"]), Value::Integer(1));
        assert_eq!(next_message(&mut ps).await.payload, Value::BulkString("one".into()));
        assert_eq!(next_message(&mut ps).await.payload, Value::BulkString("two".into()));
    });
    let invalidate = Value::Push(vec![
        Value::BulkString("invalidate".into()),
        Value::Array(vec![Value::BulkString("k:1".into())]),
    ]);
    assert_eq!(*seen.lock().unwrap(), vec![invalidate]);
}
