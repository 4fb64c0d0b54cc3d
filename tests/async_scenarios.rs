//! The shared runtime scenarios (`tests/scenarios/`) on the async clients: smol and async-std, each seen
//! through the synchronous [`scenarios::Runtime`] facade (every call `block_on`s inside).

mod scenarios;
mod support;

/// The facade over one async runtime's types, written once for both (the runtimes' types differ only by
/// their module).
#[allow(unused_macros)]
macro_rules! async_runtime {
    ($name:ident, $label:literal, $module:ident, $block_on:path) => {
        pub struct $name;

        impl $crate::scenarios::Runtime for $name {
            const NAME: &'static str = $label;
            type Client = redwire::$module::Client;
            type PubSub = redwire::$module::PubSub;

            fn connect(url: &str) -> redwire::Result<Self::Client> {
                redwire::$module::Client::open(url)
            }

            fn exec(c: &Self::Client, cmd: redwire::Cmd) -> redwire::Result<redwire::resp::Value> {
                $block_on(c.exec(cmd))
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

            fn subscribe(
                p: &mut Self::PubSub,
                channels: &[&str],
                patterns: &[&str],
                shard_channels: &[&str],
            ) -> redwire::Result<()> {
                $block_on(async {
                    if !channels.is_empty() {
                        p.subscribe(channels).await?;
                    }
                    if !patterns.is_empty() {
                        p.psubscribe(patterns).await?;
                    }
                    if !shard_channels.is_empty() {
                        p.ssubscribe(shard_channels).await?;
                    }
                    Ok(())
                })
            }

            fn unsubscribe(
                p: &mut Self::PubSub,
                channels: &[&str],
                patterns: &[&str],
                shard_channels: &[&str],
            ) -> redwire::Result<()> {
                $block_on(async {
                    if !channels.is_empty() {
                        p.unsubscribe(channels).await?;
                    }
                    if !patterns.is_empty() {
                        p.punsubscribe(patterns).await?;
                    }
                    if !shard_channels.is_empty() {
                        p.sunsubscribe(shard_channels).await?;
                    }
                    Ok(())
                })
            }

            fn next_message(
                p: &mut Self::PubSub,
                timeout: std::time::Duration,
            ) -> redwire::Result<Option<$crate::scenarios::Received>> {
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                $block_on(async {
                    let deadline = std::time::Instant::now() + timeout;
                    loop {
                        let left = deadline.saturating_duration_since(std::time::Instant::now());
                        let Some(event) = p.get_message(left).await? else { return Ok(None) };
                        match event {
                            redwire::$module::PubSubEvent::Message(m) => {
                                let payload = match m.payload {
                                    redwire::resp::Value::BulkString(b) => b.to_vec(),
                                    other => format!("{other:?}").into_bytes(),
                                };
                                return Ok(Some((text(&m.channel), m.pattern.as_deref().map(text), payload)));
                            }
                            _ => continue, // a reconnect notice: keep waiting for messages
                        }
                    }
                })
            }
        }
    };
}

#[cfg(feature = "smol")]
mod on_smol {
    async_runtime!(Smol, "smol", smol, smol::block_on);
    crate::scenarios!(crate::on_smol::Smol);
}

#[cfg(feature = "async-std")]
mod on_async_std {
    async_runtime!(AsyncStd, "async-std", async_std, async_std::task::block_on);
    crate::scenarios!(crate::on_async_std::AsyncStd);
}
