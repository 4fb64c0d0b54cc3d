//! The shared scenarios (tests/scenarios/) run by the blocking runtime, over TCP and unix sockets, in RESP2
//! and RESP3. This file only adapts `redwire::blocking` to the `Runtime` facade.

mod scenarios;
mod support;

use redwire::blocking::{Client, Pool, PubSub, PubSubEvent};
use redwire::cmd::PipelineCommands;
use redwire::inbox::{BufferStats, PubSubBuffer};
use redwire::resp::Value;
use redwire::{Cmd, Config, Error, Result};
use scenarios::{PubSubItem, PushFn, TxBody};
use std::time::Duration;

struct Blocking;

impl scenarios::Runtime for Blocking {
    const NAME: &'static str = "blocking";
    const LOAD_WORKERS: usize = 64;
    type Client = Client;
    type PubSub = PubSub;

    fn connect(url: &str) -> Result<Client> {
        Client::open(url)
    }

    fn connect_with(config: Config, on_push: Option<PushFn>) -> Result<Client> {
        let mut pool = Pool::builder(config);
        if let Some(handler) = on_push {
            pool = pool.push_handler(move |v| handler(v));
        }
        let client = Client::with_pool(pool.build());
        client.exec(&Cmd::new("PING"))?; // connect now, as Client::open does
        Ok(client)
    }

    fn exec(c: &Client, cmd: Cmd) -> Result<Value> {
        c.exec(&cmd)
    }

    fn exec_abandoned(_: &Client, _: Cmd, _: Duration) -> Option<Result<Option<Value>>> {
        None // a blocking call returns only with its reply or its timeout
    }

    fn pipeline(c: &Client, cmds: Vec<Cmd>, atomic: bool) -> Result<Vec<Value>> {
        let mut pipe = c.pipeline().transaction(atomic);
        for cmd in cmds {
            pipe.queue(cmd);
        }
        pipe.execute_raw()
    }

    fn transaction(
        c: &Client,
        keys: &[&str],
        max_attempts: u32,
        body: &mut TxBody<'_>,
    ) -> Result<(Vec<Value>, u32)> {
        let done = c.transaction_with::<Vec<Result<Value>>>(keys, max_attempts, |tx| {
            let cmds = body(&mut |cmd| tx.exec(&cmd))?;
            for cmd in cmds {
                tx.multi().queue(cmd);
            }
            Ok(())
        })?;
        let values = done
            .value
            .into_iter()
            .map(|slot| match slot {
                Ok(v) => Ok(v),
                Err(Error::Server(e)) => Ok(Value::Error(e)),
                Err(e) => Err(e),
            })
            .collect::<Result<Vec<Value>>>()?;
        Ok((values, done.attempts))
    }

    fn pubsub(c: &Client) -> Result<PubSub> {
        c.pubsub()
    }

    fn change(p: &mut PubSub, command: &str, names: &[&str]) -> Result<()> {
        match command {
            "SUBSCRIBE" => p.subscribe(names),
            "PSUBSCRIBE" => p.psubscribe(names),
            "SSUBSCRIBE" => p.ssubscribe(names),
            "UNSUBSCRIBE" => p.unsubscribe(names),
            "PUNSUBSCRIBE" => p.punsubscribe(names),
            "SUNSUBSCRIBE" => p.sunsubscribe(names),
            other => panic!("not a subscription command: {other}"),
        }
    }

    fn next_event(p: &mut PubSub, timeout: Duration) -> Result<Option<PubSubItem>> {
        let Some(event) = p.get_message(timeout)? else { return Ok(None) };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Ok(Some(match event {
            PubSubEvent::Message(m) => {
                let payload = match m.payload {
                    Value::BulkString(b) => b.to_vec(),
                    other => format!("{other:?}").into_bytes(),
                };
                PubSubItem::Message((text(&m.channel), m.pattern.as_deref().map(text), payload))
            }
            PubSubEvent::Reconnected { cause } => PubSubItem::Reconnected(cause.to_string()),
            PubSubEvent::Lagged { dropped } => PubSubItem::Lagged(dropped),
            other => panic!("an event the scenarios do not know: {other:?}"),
        }))
    }

    fn set_buffer(p: &mut PubSub, buffer: PubSubBuffer) -> Result<()> {
        p.set_buffer(buffer)
    }

    fn buffer_stats(p: &PubSub) -> BufferStats {
        p.buffer_stats()
    }
}

scenarios!(Blocking);
