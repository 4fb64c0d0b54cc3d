//! The shared runtime scenarios (`tests/scenarios/`) on the async clients: smol and async-std, each seen
//! through the synchronous [`scenarios::Runtime`] facade (every call `block_on`s inside).
#![cfg(any(feature = "smol", feature = "async-std"))]

mod scenarios;
mod support;

/// The facade over one async runtime's types, written once for both (the runtimes' types differ only by
/// their module).
#[allow(unused_macros)]
macro_rules! async_runtime {
    ($name:ident, $label:literal, $module:ident, $block_on:path, $spawn:path, $sleep:path) => {
        pub struct $name;

        impl $crate::scenarios::Runtime for $name {
            const NAME: &'static str = $label;
            const LOAD_WORKERS: usize = 1000;
            type Client = redwire::$module::Client;
            type PubSub = redwire::$module::PubSub;

            fn connect(url: &str) -> redwire::Result<Self::Client> {
                redwire::$module::Client::open(url)
            }

            fn connect_with(
                config: redwire::Config,
                on_push: Option<$crate::scenarios::PushFn>,
            ) -> redwire::Result<Self::Client> {
                Ok(match on_push {
                    Some(handler) => redwire::$module::Client::with_push_handler(config, move |v| handler(v)),
                    None => redwire::$module::Client::new(config),
                })
            }

            fn exec(c: &Self::Client, cmd: redwire::Cmd) -> redwire::Result<redwire::resp::Value> {
                $block_on(c.exec(cmd))
            }

            fn exec_abandoned(
                c: &Self::Client,
                cmd: redwire::Cmd,
                after: std::time::Duration,
            ) -> Option<redwire::Result<Option<redwire::resp::Value>>> {
                use std::future::Future;
                use std::task::Poll;
                Some($block_on(async {
                    let mut reply = std::pin::pin!(c.exec::<redwire::resp::Value>(cmd));
                    let mut timer = std::pin::pin!($sleep(after));
                    let first = std::future::poll_fn(|cx| {
                        if let Poll::Ready(v) = reply.as_mut().poll(cx) {
                            return Poll::Ready(Some(v));
                        }
                        timer.as_mut().poll(cx).map(|_| None)
                    })
                    .await;
                    first.transpose() // the reply future is dropped here: the call is abandoned
                }))
            }

            fn pipeline(
                c: &Self::Client,
                cmds: Vec<redwire::Cmd>,
                atomic: bool,
            ) -> redwire::Result<Vec<redwire::resp::Value>> {
                use redwire::cmd::PipelineCommands;
                $block_on(async {
                    let mut p = c.pipeline().transaction(atomic);
                    for cmd in cmds {
                        p.queue(cmd);
                    }
                    p.execute_raw().await
                })
            }

            fn transaction(
                c: &Self::Client,
                keys: &[&str],
                max_attempts: u32,
                body: &mut $crate::scenarios::TxBody<'_>,
            ) -> redwire::Result<(Vec<redwire::resp::Value>, u32)> {
                use redwire::cmd::PipelineCommands;
                use redwire::resp::Value;
                let committed = $block_on(c.transaction_with::<Vec<redwire::Result<Value>>, _, _>(
                    keys,
                    max_attempts,
                    |tx| {
                        // The scenario's body is synchronous: its reads block on the watched connection,
                        // which is driven inline by the read's own future (a nested block_on).
                        let cmds = body(&mut |cmd| $block_on(tx.exec::<Value>(cmd)));
                        async move {
                            for cmd in cmds? {
                                tx.multi().queue(cmd);
                            }
                            Ok(())
                        }
                    },
                ))?;
                let (values, attempts) = (committed.value, committed.attempts);
                let values = values
                    .into_iter()
                    .map(|v| match v {
                        Ok(v) => Ok(v),
                        Err(redwire::Error::Server(e)) => Ok(Value::Error(e)),
                        Err(e) => Err(e),
                    })
                    .collect::<redwire::Result<Vec<Value>>>()?;
                Ok((values, attempts))
            }

            fn pubsub(c: &Self::Client) -> redwire::Result<Self::PubSub> {
                $block_on(c.pubsub())
            }

            fn change(p: &mut Self::PubSub, command: &str, names: &[&str]) -> redwire::Result<()> {
                $block_on(async {
                    match command {
                        "SUBSCRIBE" => p.subscribe(names).await,
                        "PSUBSCRIBE" => p.psubscribe(names).await,
                        "SSUBSCRIBE" => p.ssubscribe(names).await,
                        "UNSUBSCRIBE" => p.unsubscribe(names).await,
                        "PUNSUBSCRIBE" => p.punsubscribe(names).await,
                        "SUNSUBSCRIBE" => p.sunsubscribe(names).await,
                        other => panic!("not a subscription command: {other}"),
                    }
                })
            }

            fn next_event(
                p: &mut Self::PubSub,
                timeout: std::time::Duration,
            ) -> redwire::Result<Option<$crate::scenarios::PubSubItem>> {
                use $crate::scenarios::PubSubItem;
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                let Some(event) = $block_on(p.get_message(timeout))? else { return Ok(None) };
                Ok(Some(match event {
                    redwire::$module::PubSubEvent::Message(m) => {
                        let payload = match m.payload {
                            redwire::resp::Value::BulkString(b) => b.to_vec(),
                            other => format!("{other:?}").into_bytes(),
                        };
                        PubSubItem::Message((text(&m.channel), m.pattern.as_deref().map(text), payload))
                    }
                    redwire::$module::PubSubEvent::Reconnected { cause } => {
                        PubSubItem::Reconnected(cause.to_string())
                    }
                    redwire::$module::PubSubEvent::Lagged { dropped } => PubSubItem::Lagged(dropped),
                    other => panic!("an event the scenarios do not know: {other:?}"),
                }))
            }

            fn set_buffer(p: &mut Self::PubSub, buffer: redwire::inbox::PubSubBuffer) -> redwire::Result<()> {
                p.set_buffer(buffer)
            }

            fn buffer_stats(p: &Self::PubSub) -> redwire::inbox::BufferStats {
                p.buffer_stats()
            }

            /// One task per worker on the runtime's executor, each awaiting its own commands.
            fn load(c: &Self::Client, until: std::time::Instant) -> $crate::scenarios::load::Report {
                use redwire::cmd::PipelineCommands;
                use $crate::scenarios::load::{Op, Report, Worker};
                let tasks: Vec<_> = (0..Self::LOAD_WORKERS)
                    .map(|id| {
                        let c = c.clone();
                        $spawn(async move {
                            let mut worker = Worker::new(id);
                            let mut report = Report::default();
                            while std::time::Instant::now() < until {
                                let replies = match worker.next_op() {
                                    Op::Single(cmd) => {
                                        c.exec::<redwire::resp::Value>(cmd).await.map(|v| vec![v])
                                    }
                                    Op::Pipeline { cmds, atomic } => {
                                        let mut p = c.pipeline().transaction(atomic);
                                        for cmd in cmds {
                                            p.queue(cmd);
                                        }
                                        p.execute_raw().await
                                    }
                                };
                                report.add(worker.check(replies));
                            }
                            report
                        })
                    })
                    .collect();
                $block_on(async {
                    let mut total = Report::default();
                    for t in tasks {
                        total.merge(t.await);
                    }
                    total
                })
            }
        }
    };
}

#[cfg(feature = "smol")]
mod on_smol {
    async_runtime!(Smol, "smol", smol, smol::block_on, smol::spawn, smol::Timer::after);
    crate::scenarios!(crate::on_smol::Smol);
}

#[cfg(feature = "async-std")]
mod on_async_std {
    async_runtime!(
        AsyncStd,
        "async-std",
        async_std,
        async_std::task::block_on,
        async_std::task::spawn,
        async_std::task::sleep
    );
    crate::scenarios!(crate::on_async_std::AsyncStd);
}
