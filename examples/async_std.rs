//! The async client on async-std (discontinued upstream; prefer the smol example): many tasks sharing one connection, a pipeline, a WATCH transaction and a
//! pub/sub stream.
//!
//! ```text
//! cargo run --example async_std --features async-std                                # starts a throwaway redis-server
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example async_std --features async-std # or uses yours (keys: redwire:example:*)
//! ```

use redwire::async_std::{Client, PubSubEvent};
use redwire::cmd::{Commands, PipelineCommands};

#[path = "support/throwaway.rs"]
mod throwaway;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (url, _server) = match std::env::var("REDIS_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let server = throwaway::Throwaway::start(&[])?;
            println!(
                "(a throwaway {} on {}, pid {}; killed at the end)",
                server.name,
                server.addr,
                server.pid()
            );
            (format!("redis://{}", server.addr), Some(server))
        }
    };
    async_std::task::block_on(async {
        let client = Client::open(&url)?;
        let counter = "redwire:example:counter";
        let _: () = client.del(counter).await?;

        // 100 tasks, 10 INCRs each, all multiplexed on one connection and written in batches.
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let client = client.clone();
                async_std::task::spawn(async move {
                    for _ in 0..10 {
                        client.incr::<i64>(counter).await?;
                    }
                    Ok::<_, redwire::Error>(())
                })
            })
            .collect();
        for task in tasks {
            task.await?;
        }
        let total: i64 = client.get(counter).await?;
        println!("100 tasks x 10 INCR = {total}");

        // An explicit pipeline: atomic (MULTI/EXEC) unless told otherwise.
        let (len, items): (i64, Vec<String>) = client
            .pipeline()
            .rpush("redwire:example:list", ["a", "b", "c"])
            .lrange("redwire:example:list", 0, -1)
            .execute()
            .await?;
        println!("pipeline: {len} items {items:?}");

        // A WATCH transaction, retried if the key changes between the read and EXEC.
        let ((), doubled): ((), i64) = client
            .transaction(&[counter], |tx| async move {
                let now: i64 = tx.get(counter).await?;
                tx.multi().set(counter, now * 2).get(counter);
                Ok(())
            })
            .await?;
        println!("transaction: doubled to {doubled}");

        // Pub/sub as a stream on a connection of its own.
        let mut pubsub = client.pubsub().await?;
        pubsub.subscribe("redwire:example:news").await?;
        let _: i64 = client.publish("redwire:example:news", "hello").await?;
        if let PubSubEvent::Message(m) = pubsub.next().await? {
            println!("message on {:?}: {:?}", m.channel, m.payload);
        }
        let _: () = client.del(["redwire:example:counter", "redwire:example:list"]).await?;
        Ok::<_, redwire::Error>(())
    })?;
    Ok(())
}
